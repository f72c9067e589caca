//! Property-based fuzzing of everything that takes outside input (tests only).
//!
//! Every target runs twice: a quick pass in `cargo test` ([`QUICK`] cases) and a long one,
//! ignored by default, for a soak of millions of cases:
//!
//! ```text
//! cargo test --profile fuzz -- --ignored fuzz --nocapture      # FUZZ_CASES each, default 1,000,000
//! FUZZ_CASES=50000 cargo test --profile fuzz --lib -- --ignored fuzz --nocapture
//! ```
//!
//! The long pass prints each target's cases per second. A failure panics with the smallest
//! input proptest could shrink it to.
//!
//! A target is declared with [`fuzz_target!`](crate::fuzz_target): a name, a proptest strategy
//! and a check `Fn(value) -> Result<(), TestCaseError>` (a panic inside is a failure too).

use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Cases per target in `cargo test`.
pub const QUICK: u32 = 256;
/// Cases per target in the long pass when `FUZZ_CASES` is not set.
pub const LONG: u32 = 1_000_000;

/// Runs `check` on `cases` values from `strategy` (`long`: `FUZZ_CASES` of them, and the rate
/// printed). Panics with the shrunk input on the first failure.
pub fn run<S>(name: &str, long: bool, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let cases =
        if long { std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(LONG) } else { QUICK };
    let config = Config {
        cases,
        failure_persistence: None,
        // Random inputs rarely repeat a rejection; do not give up on a target that filters.
        max_global_rejects: cases.saturating_mul(4),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let start = Instant::now();
    let result = runner.run(&strategy, check);
    if long {
        let secs = start.elapsed().as_secs_f64();
        println!("fuzz {name}: {cases} cases in {secs:.1} s ({:.0} cases/s)", f64::from(cases) / secs.max(1e-9));
    }
    if let Err(e) = result {
        panic!("fuzz target {name} failed: {e}");
    }
}

/// A valid input with random damage: bytes flipped, inserted, removed, the end cut off or
/// garbage appended (structure-aware fuzzing: most inputs get past the first checks).
pub fn mutated(valid: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (valid, prop::collection::vec((any::<u8>(), any::<prop::sample::Index>(), any::<u8>()), 0..6)).prop_map(
        |(mut bytes, edits)| {
            for (kind, at, b) in edits {
                let i = if bytes.is_empty() { 0 } else { at.index(bytes.len()) };
                match kind % 5 {
                    0 if !bytes.is_empty() => bytes[i] ^= b.max(1),
                    1 => bytes.insert(i, b),
                    2 if !bytes.is_empty() => {
                        bytes.remove(i);
                    }
                    3 => bytes.truncate(i),
                    _ => bytes.extend(std::iter::repeat_n(b, usize::from(b % 16))),
                }
            }
            bytes
        },
    )
}

/// Declares a fuzz target as a module `NAME` with two tests, `quick` (in `cargo test`) and
/// `long` (ignored: `cargo test --profile fuzz -- --ignored fuzz`). Put targets in a module named
/// `fuzz` so the filter finds them.
///
/// ```ignore
/// fuzz_target!(tcp_answer, proptest::collection::vec(any::<u8>(), 0..300), |bytes| {
///     let _ = decode(&bytes); // must not panic
///     Ok(())
/// });
/// ```
#[macro_export]
macro_rules! fuzz_target {
    ($name:ident, $strategy:expr, $check:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn quick() {
                $crate::fuzzing::run(module_path!(), false, $strategy, $check)
            }

            #[test]
            #[ignore = "long fuzzing: cargo test --profile fuzz -- --ignored fuzz --nocapture"]
            fn long() {
                $crate::fuzzing::run(module_path!(), true, $strategy, $check)
            }
        }
    };
}

#[cfg(test)]
mod fuzz {
    use super::*;

    // The harness itself: a mutation never panics and keeps within a bounded growth.
    crate::fuzz_target!(mutations, mutated(prop::collection::vec(any::<u8>(), 0..64)), |bytes: Vec<u8>| {
        prop_assert!(bytes.len() <= 64 + 6 * 15 + 6);
        Ok(())
    });

    #[test]
    #[should_panic(expected = "fuzz target")]
    fn a_failing_check_fails_the_test() {
        run("always fails", false, any::<u8>(), |b| {
            prop_assert_eq!(b, b.wrapping_add(1));
            Ok(())
        });
    }
}
