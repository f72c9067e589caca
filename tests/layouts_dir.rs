//! Every layout in `layouts/` is valid, and the JSON schema in `assets/` matches the code.

use std::path::Path;

use ttyhmi::layout;

#[test]
fn every_layout_in_layouts_is_valid() {
    let mut n = 0;
    let mut problems = Vec::new();
    for entry in std::fs::read_dir("layouts").unwrap() {
        let path = entry.unwrap().path();
        if !matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            continue;
        }
        n += 1;
        if let Err(e) = layout::load(&path) {
            problems.push(e.to_string());
        }
    }
    assert!(n >= 2, "layouts/ should hold the demo and at least one more example");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_command_agrees() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ttyhmi"))
        .args(["check", "layouts/demo.yaml", "layouts/boiler-house.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ttyhmi"))
        .args(["check", "layouts/demo.yaml", "tests/fixtures/invalid/unknown_field.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown_field.yaml:6:37: error: unknown field `holdng`"), "{err}");
    assert!(err.contains("did you mean `holding`?"), "{err}");
}

#[test]
fn the_schema_in_assets_is_current() {
    let path = Path::new("assets/layout.schema.json");
    let current = layout::schema::json_schema();
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    if on_disk != current {
        if std::env::var_os("TTYHMI_UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &current).unwrap();
        } else {
            panic!(
                "assets/layout.schema.json is out of date: run `TTYHMI_UPDATE_SCHEMA=1 cargo test --test layouts_dir` (or `cargo run -- schema > assets/layout.schema.json`)"
            );
        }
    }
    // The schema knows every top-level key the validator accepts.
    let v: serde_json::Value = serde_json::from_str(&current).unwrap();
    let props = v["properties"].as_object().unwrap();
    let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut top = layout::raw::TOP_LEVEL.to_vec();
    top.sort_unstable();
    assert_eq!(keys, top);
}
