//! Fuzzing the gateway's consoles file (see `crate::fuzzing`): random text and valid files
//! damaged line by line and byte by byte. A file is read, or refused with its place, in clean
//! text; what is read holds only host ids a Sparkplug topic can carry.

use proptest::prelude::*;

use super::*;
use crate::driver::sparkplug::command::public_line;
use crate::yaml::fuzz::{mutated_bytes, mutated_text, yamlish};

fn line(n: u8) -> String {
    public_line(&ed25519_dalek::SigningKey::from_bytes(&[n; 32]).verifying_key())
}

fn seeds() -> Vec<String> {
    vec![
        format!(
            "control-room-1: {{ key: \"{}\", max_role: operator }}\nlaptop-7:       {{ key: \"{}\", max_role: viewer }}\n",
            line(1),
            line(2)
        ),
        format!(
            "# consoles\nroom:\n  key: {}\n  max_role: engineer\nother:\n  key: \"{}\"\n  max_role: admin\n",
            line(3),
            line(4)
        ),
    ]
}

fn check(src: &str) -> Result<(), TestCaseError> {
    match parse(src, Path::new("consoles.yaml")) {
        Ok(c) => {
            for (host, _) in c.iter() {
                prop_assert!(!host.is_empty(), "an empty host id");
                prop_assert!(!host.chars().any(|c| matches!(c, '/' | '+' | '#') || c.is_control()), "{host:?}");
            }
        }
        Err(e) => {
            let shown = e.to_string();
            if let ConsolesError::Syntax { line, col, .. } = &e {
                prop_assert!(*line >= 1 && *col >= 1, "no place: {shown}");
                prop_assert!(shown.starts_with(&format!("consoles.yaml:{line}:{col}: ")), "{shown}");
            }
            prop_assert!(!shown.chars().any(crate::sanitize::is_unsafe), "unsafe text: {shown:?}");
        }
    }
    Ok(())
}

crate::fuzz_target!(consoles_random_text, yamlish(), |src: String| check(&src));

crate::fuzz_target!(consoles_edited, mutated_text(seeds(), 6), |src: String| check(&src));

crate::fuzz_target!(consoles_damaged, mutated_bytes(seeds()), |src: String| check(&src));
