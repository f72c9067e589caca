//! Fuzzing the layout loader: random YAML-ish text, and the shipped and example layouts damaged
//! line by line and byte by byte (see `crate::fuzzing`). A layout either loads or is refused with
//! diagnostics that name the file, a line and a column, in clean text; never a panic, and alias
//! bombs and deep nesting are refused within the YAML limits.

use proptest::prelude::*;

use super::*;
use crate::yaml::fuzz::{bomb, mutated_bytes, mutated_text, yamlish};

const FILE: &str = "fuzz.yaml";

/// Valid layouts of every protocol and feature, and a few invalid ones that get far.
fn seeds() -> Vec<String> {
    [
        include_str!("../../layouts/boiler-house.yaml"),
        include_str!("../../layouts/demo.yaml"),
        include_str!("../../layouts/serial-bus.yaml"),
        include_str!("../../layouts/sparkplug-console.yaml"),
        include_str!("../../tests/fixtures/alarms_example.yaml"),
        include_str!("../../tests/fixtures/issue_example.yaml"),
        include_str!("../../tests/fixtures/opcua_example.yaml"),
        include_str!("../../tests/fixtures/sparkplug_example.yaml"),
        include_str!("../../tests/fixtures/trends_example.yaml"),
        include_str!("../../tests/fixtures/invalid/all_problems_at_once.yaml"),
        include_str!("../../tests/fixtures/invalid/alarm_all_problems_at_once.yaml"),
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// The property of every outcome: a layout, or diagnostics with at least one error, each naming
/// the file and a place inside it, and printing no control or bidi character but the line
/// breaks the format puts between a message and its hint.
fn check(src: &str) -> Result<(), TestCaseError> {
    // Lines as YAML counts them: a lone CR breaks a line too.
    let breaks = src.matches('\n').count() + src.matches('\r').count() - src.matches("\r\n").count();
    let lines = u32::try_from(breaks + 1).unwrap_or(u32::MAX);
    match parse(src, FILE) {
        Ok(layout) => {
            // Deterministic: the same text gives the same layout.
            prop_assert_eq!(Ok(layout), parse(src, FILE));
        }
        Err(e) => {
            prop_assert!(e.errors().next().is_some(), "refused without an error: {e}");
            for d in &e.diagnostics {
                prop_assert_eq!(&d.file, FILE);
                // Line 0 is the whole file: only an empty one is refused as a whole.
                let whole = d.loc.line == 0 && d.message == "the layout file is empty";
                if whole {
                    continue;
                }
                prop_assert!(d.loc.line >= 1, "no line: {d}\n--- input:\n{src}");
                prop_assert!(d.loc.line <= lines.saturating_add(1), "line {} of {lines}: {d}", d.loc.line);
                prop_assert!(d.loc.col >= 1, "no column: {d}");
                let shown = d.to_string();
                prop_assert!(shown.starts_with(&format!("{FILE}:{}:{}: ", d.loc.line, d.loc.col)), "{shown}");
                for part in shown.split("\n  hint: ") {
                    prop_assert!(!part.chars().any(crate::sanitize::is_unsafe), "unsafe text: {part:?}");
                }
            }
        }
    }
    Ok(())
}

crate::fuzz_target!(random_text, yamlish(), |src: String| check(&src));

crate::fuzz_target!(layouts_edited, mutated_text(seeds(), 6), |src: String| check(&src));

crate::fuzz_target!(layouts_damaged, mutated_bytes(seeds()), |src: String| check(&src));

crate::fuzz_target!(alias_bombs, (prop::sample::select(seeds()), 2usize..=5, 2usize..=8), |(seed, levels, width): (
    String,
    usize,
    usize
)| {
    // A bomb at the top level of a real layout, up to 8^5 values expanded: below the limit
    // it is read (and refused as unknown keys), past it refused as a bomb. Bombs of 10^10
    // (each 0.6 s in a debug build, bounded by the alias limit) are the unit test below.
    let src = format!("{seed}\n{}\n", bomb(levels, width).join("\n"));
    check(&src)
});

#[test]
fn a_billion_laughs_is_refused_with_its_place() {
    let src = format!("{}\n", bomb(10, 10).join("\n"));
    let e = parse(&src, FILE).expect_err("an alias bomb");
    let d = e.errors().next().expect("an error");
    assert!(d.loc.line >= 1, "{d}");
    assert!(d.message.contains("alias"), "{d}");
}

#[test]
fn nesting_deeper_than_the_limit_is_refused_with_its_place() {
    let n = 10_000;
    let src = format!("deep: {}1{}\n", "[".repeat(n), "]".repeat(n));
    let e = parse(&src, FILE).expect_err("too deep");
    assert!(e.errors().next().is_some_and(|d| d.loc.line == 1), "{e}");
}
