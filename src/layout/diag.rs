//! Diagnostics: what is wrong, where (file:line:column) and what to do.

use std::fmt;

use super::de::DeError;
use super::node::Loc;
use crate::sanitize::clean;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The layout cannot be used: nothing is started.
    Error,
    /// The layout is used as written, but what is written is probably not what was meant (a
    /// PDU address that looks like a Modicon number). `check` prints it and still exits 0; the
    /// console logs it.
    Warning,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub file: String,
    /// Line 0 means the whole file (it could not be read or parsed at all).
    pub loc: Loc,
    pub severity: Severity,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error of `file` at `loc`.
    pub fn error(file: &str, loc: Loc, message: impl Into<String>, hint: Option<String>) -> Self {
        Diagnostic { file: file.to_string(), loc, severity: Severity::Error, message: message.into(), hint }
    }

    /// A warning of `file` at `loc`.
    pub fn warning(file: &str, loc: Loc, message: impl Into<String>, hint: Option<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(file, loc, message, hint) }
    }

    pub fn from_de(file: &str, e: DeError) -> Self {
        Diagnostic::error(file, e.loc.unwrap_or_default(), e.message, e.hint)
    }
}

/// Printed as `file:line:col: error: message` and an indented hint. The file name, the message
/// and the hint may quote the file (keys, values) or its path: control, bidirectional and
/// invisible characters in them are shown escaped, never sent to the terminal.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (file, message) = (clean(&self.file), clean(&self.message));
        let severity = self.severity.name();
        if self.loc.line == 0 {
            write!(f, "{file}: {severity}: {message}")?;
        } else {
            write!(f, "{file}:{}:{}: {severity}: {message}", self.loc.line, self.loc.col)?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {}", clean(h))?;
        }
        Ok(())
    }
}

/// Every problem found in a layout file: its errors (at least one) and its warnings, in the
/// order they stand in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct LayoutError {
    pub diagnostics: Vec<Diagnostic>,
}

impl LayoutError {
    /// The errors, without the warnings.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Error)
    }
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
