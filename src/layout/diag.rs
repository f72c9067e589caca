//! Diagnostics: what is wrong, where (file:line:column) and what to do.

use std::fmt;

use super::de::DeError;
use super::node::Loc;
use crate::sanitize::clean;

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub file: String,
    /// Line 0 means the whole file (it could not be read or parsed at all).
    pub loc: Loc,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn from_de(file: &str, e: DeError) -> Self {
        Diagnostic { file: file.to_string(), loc: e.loc.unwrap_or_default(), message: e.message, hint: e.hint }
    }
}

/// Printed as `file:line:col: error: message` and an indented hint. The file name, the message
/// and the hint may quote the file (keys, values) or its path: control, bidirectional and
/// invisible characters in them are shown escaped, never sent to the terminal.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (file, message) = (clean(&self.file), clean(&self.message));
        if self.loc.line == 0 {
            write!(f, "{file}: error: {message}")?;
        } else {
            write!(f, "{file}:{}:{}: error: {message}", self.loc.line, self.loc.col)?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {}", clean(h))?;
        }
        Ok(())
    }
}

/// Every problem found in a layout file.
#[derive(Clone, Debug, PartialEq)]
pub struct LayoutError {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        let n = self.diagnostics.len();
        if n > 1 {
            write!(f, "\n{n} problems")?;
        }
        Ok(())
    }
}

impl std::error::Error for LayoutError {}
