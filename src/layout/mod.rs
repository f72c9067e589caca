//! Layout files: the YAML format ([`raw`]), its validation ([`validate`]) into a typed model
//! ([`model`]), and diagnostics with file:line:column and a hint ([`diag`]). Which connection
//! and tag fields apply to which protocol is one table (`fields`).
//!
//! Loading collects every problem of a file, not only the first: the text is parsed once into a
//! located node tree ([`node`]), and each connection, tag and screen is then deserialized and
//! checked on its own ([`de`]), and so is each panel of a screen. Alarm rules are checked against
//! the tags and connections.

mod address;
mod alarms;
mod connections;
mod ctx;
pub mod de;
pub mod diag;
pub mod duration;
mod fields;
mod history;
pub mod model;
pub mod node;
pub mod nodeid;
mod panels;
mod publish;
pub mod raw;
pub mod schema;
pub mod size;
pub mod suggest;
mod tags;
pub mod validate;
mod value_kind;

use std::path::Path;

use crate::files::FileError;

pub use diag::{Diagnostic, LayoutError, Severity};
pub use model::*;
pub use node::Loc;

/// Largest layout file read, to keep a mistaken path (a log, a disk image) from eating memory.
const MAX_LAYOUT_BYTES: u64 = 16 * 1024 * 1024;

/// Parses and validates layout text. `file` names it in diagnostics.
pub fn parse(src: &str, file: &str) -> Result<Layout, LayoutError> {
    let root = node::parse_yaml(src).map_err(|e| {
        let p = crate::yaml::explain(&e);
        let loc =
            Loc { line: u32::try_from(p.line).unwrap_or(u32::MAX), col: u32::try_from(p.col).unwrap_or(u32::MAX) };
        LayoutError { diagnostics: vec![Diagnostic::error(file, loc, p.message, Some(p.hint))] }
    })?;
    let stem = Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or("ttyhmi");
    validate::build(&root, file, stem).map_err(|diagnostics| LayoutError { diagnostics })
}

/// Reads, parses and validates a layout file. Only a regular file is read (a FIFO, a device or a
/// folder is refused at once, without blocking), and at most 16 MiB of it.
pub fn load(path: &Path) -> Result<Layout, LayoutError> {
    let file = path.display().to_string();
    let fail = |message: String, hint: &str| LayoutError {
        diagnostics: vec![Diagnostic::error(&file, Loc::default(), message, Some(hint.to_string()))],
    };
    let bytes = crate::files::read_regular(path, MAX_LAYOUT_BYTES).map_err(|e| {
        let hint = match &e {
            FileError::Io(_) => "check the path and its permissions",
            FileError::NotRegular { .. } => "name the layout's .yaml file",
            FileError::TooLarge { .. } => "is this the right file? layouts are at most 16 MiB",
        };
        let message = match &e {
            // FileError's own text already asks whether this is the right file.
            FileError::TooLarge { size, .. } => format!("the file is larger than 16 MiB ({size} bytes or more)"),
            other => format!("cannot read the layout file: {other}"),
        };
        fail(message, hint)
    })?;
    let src = String::from_utf8(bytes).map_err(|e| {
        fail(
            format!("the file is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()),
            "save it as UTF-8",
        )
    })?;
    parse(&src, &file)
}

#[cfg(test)]
mod fuzz;
