//! When to ask an edge node for a rebirth: at most one request per cooldown window (the cooldown
//! times a jitter factor in [1, 1.5), so consoles that saw the same gap do not ask in step); a
//! reason that comes up inside the window is remembered and asked for at its end, unless a birth
//! arrived meanwhile.

use std::time::{Duration, Instant, SystemTime};

use prost::Message;

use crate::driver::sparkplug::Publish;
use crate::driver::sparkplug::codec::DataType;
use crate::driver::sparkplug::proto::{Payload, payload::Metric, payload::metric::Value as Wire};
use crate::driver::sparkplug::topic::{MsgType, Topic};

/// The metric of a rebirth request (Sparkplug 3.0.0, 6.4.x "Node Control/Rebirth").
pub const REBIRTH_METRIC: &str = "Node Control/Rebirth";

#[derive(Debug)]
pub(super) struct Rebirth {
    cooldown: Duration,
    rng: u64,
    /// No request before this instant (the end of the last request's window).
    window_end: Option<Instant>,
    /// A reason waiting for its turn, and the earliest instant it may go.
    pending: Option<(String, Instant)>,
    /// Requests sent, the last one's reason, and whether one went since the last birth.
    pub sent: u64,
    pub last_reason: Option<String>,
    pub since_birth: bool,
}

impl Rebirth {
    pub fn new(cooldown: Duration, seed: u64) -> Rebirth {
        // splitmix64 of the seed: any seed (0 too) gives a non-zero xorshift state.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let rng = (z ^ (z >> 31)) | 1;
        Rebirth { cooldown, rng, window_end: None, pending: None, sent: 0, last_reason: None, since_birth: false }
    }

    /// The next jitter factor, in [1, 1.5) (xorshift64).
    pub fn jitter(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        1.0 + (x >> 11) as f64 / (1u64 << 53) as f64 * 0.5
    }

    /// Asks for a rebirth for `reason`, not before `at`. Of two reasons waiting, the one that
    /// may go first stays (with its words): one request says why it went.
    pub fn want(&mut self, reason: String, at: Instant) {
        match &self.pending {
            Some((_, t)) if *t <= at => {}
            _ => self.pending = Some((reason, at)),
        }
    }

    /// When the waiting request may go.
    pub fn due(&self) -> Option<Instant> {
        let (_, at) = self.pending.as_ref()?;
        Some(match self.window_end {
            Some(end) => end.max(*at),
            None => *at,
        })
    }

    /// The reason waiting, if any.
    pub fn pending(&self) -> Option<&str> {
        self.pending.as_ref().map(|(r, _)| r.as_str())
    }

    /// The request due at `now`, if one is: its reason. Starts a new cooldown window.
    pub fn poll(&mut self, now: Instant) -> Option<String> {
        if self.due()? > now {
            return None;
        }
        let (reason, _) = self.pending.take()?;
        let window = Duration::try_from_secs_f64(self.cooldown.as_secs_f64() * self.jitter()).unwrap_or(self.cooldown);
        self.window_end = Some(now.checked_add(window).unwrap_or(now));
        self.sent += 1;
        self.last_reason = Some(reason.clone());
        self.since_birth = true;
        Some(reason)
    }

    /// A birth arrived: nothing waits any more (the cooldown window still runs).
    pub fn birth(&mut self) {
        self.pending = None;
        self.since_birth = false;
    }

    /// Forgets the waiting reason (the node died, or the broker is gone).
    pub fn cancel(&mut self) {
        self.pending = None;
    }
}

/// The NCMD that asks edge node `group/node` for a rebirth.
pub fn rebirth_request(group: &str, node: &str, wall: SystemTime) -> Publish {
    let ts = crate::driver::sparkplug::millis(wall);
    let payload = Payload {
        timestamp: Some(ts),
        metrics: vec![Metric {
            name: Some(REBIRTH_METRIC.into()),
            timestamp: Some(ts),
            datatype: Some(DataType::Boolean as u32),
            value: Some(Wire::BooleanValue(true)),
            ..Metric::default()
        }],
        ..Payload::default()
    };
    Publish {
        topic: Topic::new(group, MsgType::NCmd, node, None).to_string(),
        payload: payload.encode_to_vec(),
        qos: 0,
        retain: false,
    }
}
