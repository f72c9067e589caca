//! The JSON schema of the layout format, generated from [`super::raw`]. `assets/layout.schema.json`
//! holds it for editors; a test keeps the file in sync.

/// The schema as pretty JSON with a trailing newline.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(super::raw::RawLayout);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}
