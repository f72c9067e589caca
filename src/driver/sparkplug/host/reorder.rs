//! The resequencer (Sparkplug 3.0.0, 5.9 "Host Application Message Ordering"): one `seq` per
//! edge node across NBIRTH, DBIRTH, NDATA, DDATA and DDEATH, 0..=255 and wrapping. A message
//! ahead of the one expected is held (bounded in count and bytes) until the gap heals or the
//! reorder timeout passes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::driver::sparkplug::topic::Topic;

/// At most this many messages held (a gap of more than half the sequence space is not a gap).
pub(super) const MAX_HELD: usize = 127;
/// At most this many payload bytes held.
pub(super) const MAX_HELD_BYTES: usize = 16 << 20;

/// A message received ahead of its turn, as received (decoded again when its turn comes).
#[derive(Debug)]
pub(super) struct Held {
    pub topic: Topic,
    pub bytes: Vec<u8>,
}

/// What to do with a message of a given `seq`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Its turn: apply it, then `advance`.
    Apply,
    /// Ahead of its turn: held.
    Held,
    /// Behind (already applied, or a duplicate of one held): drop it.
    Late,
    /// Ahead, but the buffer is full: the gap cannot heal here.
    Full,
}

#[derive(Debug, Default)]
pub(super) struct Reorder {
    expected: u8,
    held: BTreeMap<u8, Held>,
    bytes: usize,
    deadline: Option<Instant>,
}

impl Reorder {
    /// A new session: `seq` is the birth's; nothing held.
    pub fn reset(&mut self, seq: u8) {
        self.clear();
        self.expected = seq.wrapping_add(1);
    }

    /// Forgets everything held.
    pub fn clear(&mut self) {
        self.held.clear();
        self.bytes = 0;
        self.deadline = None;
    }

    pub fn expected(&self) -> u8 {
        self.expected
    }

    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// The payload bytes held.
    #[cfg(test)]
    pub fn held_bytes(&self) -> usize {
        self.bytes
    }

    /// The lowest seq held (for messages that say what the gap was).
    pub fn first_held(&self) -> Option<u8> {
        self.held.keys().min_by_key(|s| s.wrapping_sub(self.expected)).copied()
    }

    pub fn offer(&mut self, seq: u8, topic: &Topic, bytes: &[u8], now: Instant, timeout: Duration) -> Verdict {
        let ahead = seq.wrapping_sub(self.expected);
        if ahead == 0 {
            return Verdict::Apply;
        }
        if ahead >= 128 || self.held.contains_key(&seq) {
            return Verdict::Late;
        }
        if self.held.len() >= MAX_HELD || self.bytes.saturating_add(bytes.len()) > MAX_HELD_BYTES {
            return Verdict::Full;
        }
        self.bytes += bytes.len();
        self.held.insert(seq, Held { topic: topic.clone(), bytes: bytes.to_vec() });
        // tck-id-operational-behavior-host-reordering-start: the window starts at the first
        // message out of order, and is not extended by later ones.
        self.deadline.get_or_insert(now.checked_add(timeout).unwrap_or(now));
        Verdict::Held
    }

    /// The message in its turn was applied.
    pub fn advance(&mut self) {
        self.expected = self.expected.wrapping_add(1);
    }

    /// The held message whose turn it is now, if any.
    pub fn take_next(&mut self) -> Option<Held> {
        let h = self.held.remove(&self.expected)?;
        self.bytes = self.bytes.saturating_sub(h.bytes.len());
        if self.held.is_empty() {
            // tck-id-operational-behavior-host-reordering-success: the gap healed in time.
            self.deadline = None;
        }
        Some(h)
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the reorder timeout passed with messages still held.
    pub fn expired(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d) && !self.held.is_empty()
    }
}
