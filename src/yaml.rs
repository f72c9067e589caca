//! Reading YAML text with the project's limits, and the YAML library's errors in the project's
//! words.
//!
//! serde-saphyr's messages are written for the programmer who calls it: a duplicate key says
//! "set DuplicateKeyPolicy in Options if acceptable", a file past its limits says
//! "budget breached: Nodes { nodes: 250001 }". [`explain`] turns every error it can give into
//! what is wrong, where (line and column) and what to do, with no option or type names of the
//! library. The limits named in those messages are the ones [`options`] sets, so a file read with
//! other options must not be explained with these words. Layouts and the users file are read
//! with it; nothing here depends on the rest of the crate.

use serde_saphyr::Error;
use serde_saphyr::budget::BudgetBreach;

/// Deepest nesting of lists and mappings. A layout nests at most about ten levels; parsing recurses once
/// a level, so this also keeps the stack small (a debug build needs about 40 KiB a level).
pub const MAX_DEPTH: usize = 24;
/// Most values (scalars, lists and mappings, counting those aliases repeat) in one file: about
/// twenty thousand tags.
pub const MAX_NODES: usize = 250_000;
/// Most YAML elements aliases may repeat in one file: a layout that reuses an anchored block of
/// settings a hundred times repeats a few thousand; an alias bomb (ten levels of ten aliases
/// stand for 10^10 values) is stopped long before it costs memory or time.
const MAX_ALIAS_EVENTS: usize = 100_000;
/// Most parser events (a value, or the end of a list or mapping) in one file.
const MAX_EVENTS: usize = 4 * MAX_NODES;

/// The hint of a syntax error.
pub const SYNTAX_HINT: &str = "fix the YAML syntax here first; other checks run once it parses";

/// The options every file a person writes is read with: YAML 1.2 booleans (`yes` is text), the
/// limits above, alias expansion bounded, and numbers with leading zeros kept as the text
/// written (`00001` is not the number 1).
pub fn options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
        leading_zero_numbers_as_strings: true,
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_nodes: MAX_NODES,
            max_events: MAX_EVENTS,
        },
    };
    options.alias_limits.max_total_replayed_events = MAX_ALIAS_EVENTS;
    options.alias_limits.max_replay_stack_depth = MAX_DEPTH;
    options
}

/// A YAML error as a user reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlProblem {
    /// Where: 1-based line and column; 0 when the library does not say.
    pub line: u64,
    pub col: u64,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: String,
}

/// serde-saphyr's error in the project's words: what, where and what to do.
pub fn explain(e: &Error) -> YamlProblem {
    let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
    let (message, hint) = words(e);
    // The library quotes the file (an unknown key, a value, a tag): whoever wrote it, its text
    // reaches a terminal only with its control and bidi characters made visible.
    let message = crate::sanitize::clean(&message).into_owned();
    YamlProblem { line, col, message, hint: hint.to_string() }
}

const ALIAS_HINT: &str = "write the values out, or repeat each anchor (`&name`) only a few times with `*name`";
const SIZE_HINT: &str = "is this the right file? a layout of thousands of tags (or a users file) stays far below this";

/// What is wrong and what to do, for each error the library can give.
fn words(e: &Error) -> (String, &'static str) {
    match e {
        Error::WithSnippet { error, .. } | Error::AliasError { error, .. } => words(error),
        Error::DuplicateMappingKey { key: Some(k), .. } => (
            format!("`{k}` is written twice in the same mapping"),
            "keep one of them: YAML keys are unique, a second one would silently replace the first",
        ),
        Error::DuplicateMappingKey { key: None, .. } => (
            "a key is written twice in the same mapping".into(),
            "keep one of them: YAML keys are unique, a second one would silently replace the first",
        ),
        Error::Budget { breach, .. } => limit_words(breach),
        Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. }
        | Error::AliasReplayCounterOverflow { .. } => {
            ("aliases (`*name`) here repeat their anchors into too many values".into(), ALIAS_HINT)
        }
        Error::RecursiveReferencesRequireWeakTypes { .. } => {
            ("an alias (`*name`) is used inside its own anchor (`&name`)".into(), "write the value out")
        }
        Error::UnknownAnchor { .. } => (
            "this alias (`*name`) names no anchor (`&name`) defined before it".into(),
            "define the anchor first, or write the value out",
        ),
        Error::MultipleDocuments { .. } => (
            "the file holds more than one YAML document (a `---` line after the first)".into(),
            "one file is one document: remove the `---` and what follows, or split it into two files",
        ),
        Error::Eof { .. } => {
            ("the file ends in the middle of a value".into(), "close the open bracket, brace or quote")
        }
        Error::MergeKeyNotAllowed { .. } | Error::MergeValueNotMapOrSeqOfMaps { .. } => (
            "a merge key (`<<`) needs a mapping or a list of mappings".into(),
            "write `<<: *name` with an anchored mapping, or write the keys out",
        ),
        Error::InvalidUtf8Input => ("the file is not UTF-8 text".into(), "save it as UTF-8"),
        Error::UnsupportedTag { tag, .. } | Error::TaggedStructFieldName { tag, .. } => {
            (format!("the YAML tag `{tag}` is not supported"), "remove it: write plain values")
        }
        Error::InvalidBinaryBase64 { .. } | Error::BinaryNotUtf8 { .. } => {
            ("this `!!binary` value is not text".into(), "remove the `!!binary` tag")
        }
        Error::IndentationError { actual, .. } => (
            format!("the indentation here ({actual} spaces) does not line up"),
            "indent the entries of one list or mapping by the same number of spaces",
        ),
        Error::NullIntoString { .. } | Error::InvalidCharNull { .. } => {
            ("expected text, found nothing".into(), "write a value after the colon")
        }
        Error::InvalidBooleanStrict { .. } => {
            ("expected true or false".into(), "YAML 1.2 booleans are only `true` and `false`")
        }
        Error::SerdeUnknownField { field, expected, .. } => {
            (format!("unknown field `{field}` (allowed here: {})", expected.join(", ")), "remove it, or fix its name")
        }
        Error::SerdeMissingField { field, .. } => (format!("missing field `{field}`"), "add it"),
        Error::SerdeUnknownVariant { variant, expected, .. } => {
            (format!("unknown value `{variant}` (allowed: {})", expected.join(", ")), "write one of the allowed values")
        }
        Error::SerdeInvalidType { unexpected, expected, .. }
        | Error::SerdeInvalidValue { unexpected, expected, .. } => {
            (format!("expected {expected}, found {unexpected}"), "fix the value here")
        }
        Error::IOError { cause } => (format!("the file could not be read: {cause}"), "check the file"),
        // Syntax errors of the parser ("did not find expected ',' or ']'") and texts of our own
        // visitors are already about the file; anything else the library may add is shown only
        // when it names none of its own options or types.
        other => (library_text(other), SYNTAX_HINT),
    }
}

/// What exceeding one of the limits of [`options`] means.
fn limit_words(breach: &BudgetBreach) -> (String, &'static str) {
    match breach {
        BudgetBreach::Depth { .. } => (
            format!("values are nested more than {MAX_DEPTH} levels deep here"),
            "a layout nests a few levels: look for an unclosed `[` or `{`, or indentation that runs away",
        ),
        BudgetBreach::Nodes { .. } => (format!("the file has more than {MAX_NODES} values"), SIZE_HINT),
        BudgetBreach::Events { .. } => (format!("the file has more than {MAX_EVENTS} YAML elements"), SIZE_HINT),
        BudgetBreach::ScalarBytes { .. } | BudgetBreach::InputBytes { .. } => {
            ("the text of the file is too large for a layout".into(), SIZE_HINT)
        }
        BudgetBreach::Documents { .. } => (
            "the file holds too many YAML documents (`---` lines)".into(),
            "a layout is one document: remove the `---` lines",
        ),
        BudgetBreach::Aliases { .. }
        | BudgetBreach::Anchors { .. }
        | BudgetBreach::AliasAnchorRatio { .. }
        | BudgetBreach::RecordedAnchorEvents { .. }
        | BudgetBreach::RecordedAnchorBytes { .. }
        | BudgetBreach::MergeKeys { .. } => {
            ("aliases (`*name`) here repeat their anchors into too many values".into(), ALIAS_HINT)
        }
        BudgetBreach::SequenceUnbalanced => ("a list or mapping ends here that never began".into(), SYNTAX_HINT),
        _ => ("the file is too large or too deeply nested to be read".into(), SIZE_HINT),
    }
}

/// Words of the library's options and types, never shown to a user.
const LIBRARY_WORDS: &[&str] =
    &["Options", "Policy", "budget", "Budget", "Option<", "String", "Cow<", "&str", "serde", "saphyr", "internal"];

/// The library's text for an error, without its location suffix, or a plain "cannot be read"
/// when it speaks of the library rather than the file.
fn library_text(e: &Error) -> String {
    let text = e.without_snippet().to_string();
    let text = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => &text,
    };
    if text.is_empty() || LIBRARY_WORDS.iter().any(|w| text.contains(w)) {
        "the YAML here cannot be read".into()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(src: &str) -> YamlProblem {
        let e = serde_saphyr::from_str_with_options::<serde_json::Value>(src, options())
            .err()
            .unwrap_or_else(|| panic!("{src:?} parses"));
        explain(&e)
    }

    #[test]
    fn every_problem_is_placed_and_in_our_words() {
        for (src, says) in [
            ("a: 1\na: 2\n", "`a` is written twice"),
            ("a: *nothing\n", "names no anchor"),
            ("a: 1\n---\nb: 2\n", "more than one YAML document"),
            ("a: [1, 2\n", ""),
            ("a: \"open\n", ""),
        ] {
            let p = problem(src);
            assert!(p.line > 0, "{src:?}: {p:?}");
            assert!(p.message.contains(says), "{src:?}: {p:?}");
            for w in LIBRARY_WORDS {
                assert!(!p.message.contains(w) && !p.hint.contains(w), "{src:?}: {p:?}");
            }
        }
    }

    #[test]
    fn leading_zeros_keep_the_text_as_written() {
        let v: serde_json::Value = serde_saphyr::from_str_with_options("a: 00001\nb: 7\n", options()).unwrap();
        assert_eq!(v["a"], "00001");
        assert_eq!(v["b"], 7);
    }
}

/// Test-only: YAML text damaged the way people and attackers damage it (structure-aware fuzzing
/// of the files read with [`options`]).
#[cfg(test)]
pub(crate) mod fuzz;
