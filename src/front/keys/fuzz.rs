//! Fuzz targets: the key parser on random bytes, on every known sequence back to back damaged by
//! [`mutated`], and on printable text, each cut into random chunks (moved here from the unit
//! tests and extended, so they also run in the long mode).
//!
//! Properties: no panic; at most [`MAX_SEQUENCE`] bytes wait between chunks; the keys do not
//! depend on where the input was cut (except after a chunk ending in ESC, which is the Esc key);
//! a paste never gives a control key.

use crossterm::event::KeyCode;
use proptest::prelude::*;

use super::tests::{back_to_back, c, chunked, cuts, whole};
use super::*;
use crate::fuzzing::mutated;

fn check_chunks(bytes: &[u8], raw: Vec<usize>) -> Result<(), TestCaseError> {
    let cuts = cuts(bytes.len(), raw);
    let (keys, most) = chunked(bytes, &cuts);
    prop_assert!(most <= MAX_SEQUENCE, "{} bytes waited", most);
    // Only a chunk that ends in ESC can change the keys (a lone ESC there is Esc).
    if cuts.iter().all(|&c| c == 0 || bytes[c - 1] != ESC) {
        prop_assert_eq!(keys, whole(bytes));
    }
    Ok(())
}

fn raw_cuts() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(any::<usize>(), 0..40)
}

crate::fuzz_target!(
    keys_random_bytes,
    (proptest::collection::vec(prop_oneof![any::<u8>(), Just(ESC), Just(b'['), Just(b'~')], 0..400), raw_cuts()),
    |(bytes, raw): (Vec<u8>, Vec<usize>)| check_chunks(&bytes, raw)
);

crate::fuzz_target!(keys_mutated_sequences, (mutated(Just(back_to_back().0)), raw_cuts()), |(bytes, raw): (
    Vec<u8>,
    Vec<usize>
)| check_chunks(
    &bytes, raw
));

crate::fuzz_target!(keys_printable_text, ("[ -~]{0,300}", raw_cuts()), |(text, raw): (String, Vec<usize>)| {
    let (keys, most) = chunked(text.as_bytes(), &cuts(text.len(), raw));
    prop_assert_eq!(most, 0);
    prop_assert_eq!(keys, text.chars().map(c).collect::<Vec<_>>());
    Ok(())
});

// Inside a bracketed paste, whatever is pasted gives characters only: no Enter, Esc, arrow or
// control key (a pasted newline never confirms a write).
crate::fuzz_target!(keys_paste_gives_text_only, (mutated(Just(back_to_back().0)), raw_cuts()), |(body, raw): (
    Vec<u8>,
    Vec<usize>
)| {
    // The paste's end marker cannot be inside it.
    let body: Vec<u8> = if body.windows(5).any(|w| w == b"[201~") { Vec::new() } else { body };
    let mut bytes = b"\x1b[200~".to_vec();
    bytes.extend(&body);
    // Cut anywhere after the paste's start marker (a lone ESC before it is the Esc key).
    let at: Vec<usize> = cuts(body.len(), raw).into_iter().map(|c| c + 6).collect();
    let (keys, _) = chunked(&bytes, &at);
    for k in keys {
        prop_assert!(matches!(k.code, KeyCode::Char(ch) if !ch.is_control()), "a paste gave {:?}", k);
    }
    Ok(())
});
