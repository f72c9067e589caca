//! The tag model: values, their quality, samples, the latest-value store and the bounded history
//! of trended tags ([`history`]).
//!
//! Everything here is plain data with no I/O. Quality travels with every value: a tag with no
//! data is a `Sample` whose quality is `Bad(NotConnected)`, never an absence.

pub mod history;
mod quality;
mod store;
mod value;

pub use quality::{Quality, Reason};
pub use store::{TagStore, effective_quality};
pub use value::Value;

use std::time::SystemTime;

/// Dense index of a tag in the loaded layout (`0..layout.tags.len()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagId(pub u32);

impl TagId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One observation of a tag.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The last value read, if any was ever read. Kept when quality turns Bad, so the operator
    /// still sees the last known value, marked as such.
    pub value: Option<Value>,
    pub quality: Quality,
    /// When the device says the value was taken (OPC UA source timestamp); `None` when the
    /// protocol has none (Modbus).
    pub source_ts: Option<SystemTime>,
    /// When the server says it last saw the value (OPC UA server timestamp); `None` otherwise.
    pub server_ts: Option<SystemTime>,
    /// When the console received it.
    pub recv_ts: SystemTime,
}

impl Sample {
    pub fn good(value: Value, recv_ts: SystemTime) -> Self {
        Sample { value: Some(value), quality: Quality::Good, source_ts: None, server_ts: None, recv_ts }
    }

    /// A Bad sample without a value (the store keeps the last one visible).
    pub fn bad(reason: Reason, recv_ts: SystemTime) -> Self {
        Sample { value: None, quality: Quality::Bad(reason), source_ts: None, server_ts: None, recv_ts }
    }

    /// A stale mark without a value (the store keeps the last one): its source says the value
    /// may no longer hold (a Sparkplug node or device died, the broker is gone).
    pub fn stale(source_ts: Option<SystemTime>, recv_ts: SystemTime) -> Self {
        Sample { value: None, quality: Quality::Uncertain(Reason::Stale), source_ts, server_ts: None, recv_ts }
    }

    /// The initial sample of every tag: nothing received yet.
    pub fn no_data(now: SystemTime) -> Self {
        Sample {
            value: None,
            quality: Quality::Bad(Reason::NotConnected),
            source_ts: None,
            server_ts: None,
            recv_ts: now,
        }
    }
}
