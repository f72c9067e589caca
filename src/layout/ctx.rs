//! The diagnostics of a layout file collected while it is checked ([`Ctx`]), and small helpers
//! every section of the check uses.

use std::time::Duration;

use super::de::{DeError, Sp};
use super::diag::Diagnostic;
use super::duration::Dur;
use super::node::{Loc, Node, NodeKind};

const MIN_PERIOD: Duration = Duration::from_millis(10);

/// The diagnostics of one file, collected while it is checked.
pub(super) struct Ctx<'f> {
    file: &'f str,
    /// The errors found so far (a section compares its length before and after to know whether
    /// it had any).
    pub(super) diags: Vec<Diagnostic>,
    /// The warnings found so far.
    pub(super) warnings: Vec<Diagnostic>,
}

impl<'f> Ctx<'f> {
    pub(super) fn new(file: &'f str) -> Self {
        Ctx { file, diags: Vec::new(), warnings: Vec::new() }
    }

    pub(super) fn err(&mut self, loc: Loc, message: impl Into<String>, hint: Option<String>) {
        self.diags.push(Diagnostic::error(self.file, loc, message, hint));
    }

    pub(super) fn warn(&mut self, loc: Loc, message: impl Into<String>, hint: Option<String>) {
        self.warnings.push(Diagnostic::warning(self.file, loc, message, hint));
    }

    pub(super) fn de(&mut self, e: DeError) {
        self.diags.push(Diagnostic::from_de(self.file, e));
    }

    /// An integer in `lo..=hi`, or a diagnostic naming `what`.
    pub(super) fn int<T: TryFrom<i64>>(
        &mut self,
        v: &Sp<i64>,
        lo: i64,
        hi: i64,
        what: &str,
        hint: Option<&str>,
    ) -> Option<T> {
        if v.value < lo || v.value > hi {
            self.err(v.loc, format!("{what} {} is out of range {lo}..{hi}", v.value), hint.map(str::to_string));
            return None;
        }
        T::try_from(v.value).ok()
    }

    pub(super) fn period(&mut self, v: &Sp<Dur>, what: &str) -> Option<Duration> {
        if v.value.0 < MIN_PERIOD {
            self.err(v.loc, format!("{what} of {:?} is too short", v.value.0), Some("use at least 10ms".into()));
            return None;
        }
        Some(v.value.0)
    }
}

pub(super) fn key_text(k: &Node) -> String {
    k.kind.scalar_text().unwrap_or_else(|| k.kind.describe())
}

pub(super) fn entries(n: &Node) -> Result<&[(Node, Node)], DeError> {
    match &n.kind {
        NodeKind::Map(e) => Ok(e),
        NodeKind::Null => Ok(&[]),
        other => Err(DeError {
            loc: Some(n.loc),
            message: format!("expected a mapping, found {}", other.describe()),
            hint: None,
        }),
    }
}
