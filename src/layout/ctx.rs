//! The diagnostics of a layout file collected while it is checked ([`Ctx`]), and small helpers
//! every section of the check uses.

use std::time::Duration;

use super::de::{DeError, Sp};
use super::diag::Diagnostic;
use super::duration::{Dur, format_duration};
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

    /// A duration in `lo..=hi`, or a diagnostic naming `what`.
    pub(super) fn within(
        &mut self,
        d: &Sp<Dur>,
        what: &str,
        (lo, hi): (Duration, Duration),
        hint: &str,
    ) -> Option<Duration> {
        let v = d.value.0;
        let (side, bound) = match v {
            v if v < lo => ("shorter", lo),
            v if v > hi => ("longer", hi),
            v => return Some(v),
        };
        let shown = if v.is_zero() { "0s".into() } else { format_duration(v) };
        let message = format!("{what} of {shown} is {side} than {}", format_duration(bound));
        self.err(d.loc, message, Some(hint.into()));
        None
    }

    /// The entries of a section every layout needs, or `None` (reported) when it is missing or
    /// is not a mapping.
    pub(super) fn section<'n>(
        &mut self,
        root: &Node,
        node: Option<&'n Node>,
        name: &str,
        hint: &str,
    ) -> Option<&'n [(Node, Node)]> {
        match node.map(entries) {
            None => {
                self.err(root.loc, format!("missing `{name}`"), Some(hint.into()));
                None
            }
            Some(Err(e)) => {
                self.de(e);
                None
            }
            Some(Ok(list)) => Some(list),
        }
    }
}

/// Whether `s` may name a connection or a tag: a letter or `_`, then letters, digits, `_`, `-`
/// and `.`; at most 64 characters.
pub(super) fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && s.len() <= 64
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("P_101"));
        assert!(valid_name("_x.y-z"));
        assert!(!valid_name("1abc"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(""));
    }
}
