//! Fuzz target: the attach socket's frame decoder on random bytes and on valid frames damaged by
//! [`mutated`], delivered whole and cut into random pieces (moved here from the unit tests and
//! extended, so it also runs in the long mode).
//!
//! Properties: no panic; a frame longer than the limit is refused before anything is allocated
//! for it; the frames (and the error, if any) do not depend on where the stream was cut.

use std::pin::Pin;
use std::task::{Context, Poll};

use proptest::prelude::*;
use tokio::io::{AsyncRead, ReadBuf};

use super::protocol::{Frame, MAX_FROM_CLIENT, read_frame};
use crate::fuzzing::mutated;

/// A stream that delivers its bytes in pieces ending at `cuts`.
struct Pieces {
    bytes: Vec<u8>,
    at: usize,
    cuts: Vec<usize>,
}

impl AsyncRead for Pieces {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let at = self.at;
        let end = self.cuts.iter().copied().find(|&c| c > at).unwrap_or(self.bytes.len()).min(self.bytes.len());
        let n = (end - at).min(buf.remaining());
        buf.put_slice(&self.bytes[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

/// Every frame read from `bytes` cut at `cuts`, and how it ended (the error's text, if one).
fn frames(bytes: &[u8], cuts: Vec<usize>, max: usize) -> (Vec<Frame>, Option<String>) {
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => return (Vec::new(), Some(format!("no runtime: {e}"))),
    };
    rt.block_on(async {
        let mut r = Pieces { bytes: bytes.to_vec(), at: 0, cuts };
        let mut out = Vec::new();
        loop {
            match read_frame(&mut r, max).await {
                Ok(Some(f)) => out.push(f),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    })
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (any::<u16>(), any::<u16>(), any::<bool>(), "[ -~]{0,20}")
            .prop_map(|(cols, rows, no_color, term)| Frame::Hello { cols, rows, no_color, term }),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Frame::Input),
        (any::<u16>(), any::<u16>()).prop_map(|(cols, rows)| Frame::Size { cols, rows }),
        Just(Frame::List),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Frame::Output),
        ".{0,20}".prop_map(Frame::Sessions),
    ]
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        mutated(proptest::collection::vec(frame(), 0..6).prop_map(|fs| fs.iter().flat_map(Frame::encode).collect())),
    ]
}

fn check(bytes: Vec<u8>, raw: Vec<usize>, max: usize) -> Result<(), TestCaseError> {
    let mut cuts: Vec<usize> = raw.into_iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let whole = frames(&bytes, Vec::new(), max);
    let cut = frames(&bytes, cuts, max);
    prop_assert_eq!(&whole, &cut, "cut into pieces, the stream reads otherwise");
    // A frame read is one that fits the limit (texts are read lossily, so only raw bytes are
    // compared).
    for f in &whole.0 {
        if let Frame::Input(b) | Frame::Output(b) = f {
            prop_assert!(b.len() <= max, "a frame over the limit: {} bytes", b.len());
        }
    }
    Ok(())
}

crate::fuzz_target!(
    attach_frames,
    (stream(), proptest::collection::vec(any::<usize>(), 0..20), prop::sample::select(vec![64usize, MAX_FROM_CLIENT])),
    |(bytes, raw, max): (Vec<u8>, Vec<usize>, usize)| check(bytes, raw, max)
);

// Valid frames back to back read back exactly, however the stream is cut.
crate::fuzz_target!(
    attach_valid_frames,
    (proptest::collection::vec(frame(), 0..6), proptest::collection::vec(any::<usize>(), 0..20)),
    |(fs, raw): (Vec<Frame>, Vec<usize>)| {
        let bytes: Vec<u8> = fs.iter().flat_map(Frame::encode).collect();
        let mut cuts: Vec<usize> = raw.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        prop_assert_eq!(frames(&bytes, cuts, MAX_FROM_CLIENT), (fs, None));
        Ok(())
    }
);
