//! Drivers: talk to devices, never to the terminal. A driver task reads its connection's tags and
//! sends [`DriverEvent`]s into the application's bounded channel; it never prints.
//!
//! Every protocol runs under one [`supervisor`]: the protocol code ([`supervisor::Driver`])
//! connects, reads or subscribes and writes; the supervisor does the rest (reconnects with
//! backoff, Bad marking, write refusal while down, statistics, shutdown, panic restart).
//! [`spawn`] starts the drivers of a layout.

pub mod backoff;
pub mod diagnostics;
pub mod modbus;
pub mod plan;
pub mod reply;
pub mod secret;
pub mod sparkplug;
pub mod spawn;
pub mod stats;
pub mod supervisor;

use crate::layout::{ConnId, Table};
use crate::tag::{Sample, TagId};
pub use diagnostics::{BlockInfo, ConnDiagnostics, Fact, ItemInfo};
pub use plan::{PlanError, UaType, WireType, WritePlan};
pub use reply::{NotSent, Refusal, Unknown, WriteError};
pub use stats::{ConnStats, Histogram};

/// What a driver tells the application.
#[derive(Clone, Debug, PartialEq)]
pub enum DriverEvent {
    /// New samples of some of the connection's tags (one read's worth), with the raw words read.
    Samples { conn: ConnId, samples: Vec<(TagId, Sample)>, raw: Option<RawBlock> },
    /// A read returned exactly what was last delivered: these tags are unchanged and current as
    /// of `recv_ts`.
    Fresh { conn: ConnId, tags: std::sync::Arc<[TagId]>, recv_ts: std::time::SystemTime },
    /// The connection changed state.
    State { conn: ConnId, state: ConnectionState },
    /// Statistics, about once a second and when the driver stops.
    Stats { conn: ConnId, stats: Box<ConnStats> },
    /// What the diagnostics view shows of the connection (the read plan, when made and whenever
    /// a block is split; the monitored items as the server revised them, …): replaces the last.
    Diagnostics { conn: ConnId, diag: ConnDiagnostics },
    /// OPC UA and Sparkplug, when writes are possible: each node's DataType as the server declares it, or each metric's datatype as born (or why
    /// it has none a write can use), read when the connection subscribes. Write plans need it.
    DataTypes { conn: ConnId, types: Vec<(TagId, Result<WireType, String>)> },
    /// Values from a device's history (Sparkplug `is_historical`): for history and trends only,
    /// never the live value or alarm evaluation.
    Historical { conn: ConnId, samples: Vec<(TagId, Sample)> },
}

/// A write to one tag, sent to the driver task of its connection. Only the console's runtime
/// holds the senders, and only when writing is allowed at all: in read-only mode no driver has a
/// write inbox, so no write can reach a device.
#[derive(Debug)]
pub struct WriteCommand {
    /// What goes on the wire, as the operator confirmed it (the value checked against the tag's
    /// limits by the caller). The driver sends exactly this, or refuses it.
    pub plan: WritePlan,
    /// When the console sent it: a command older than the driver's current connection is
    /// refused (writes are never queued across a reconnect).
    pub sent_at: std::time::Instant,
    /// Who asked: a write through a broker names (and signs) them; other drivers ignore it.
    pub by: Requester,
    pub reply: tokio::sync::oneshot::Sender<Result<WriteDone, WriteError>>,
}

/// The person a write is for, as the audit log names them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requester {
    pub user: String,
    pub role: String,
}

/// A write the device accepted, and what it holds now.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteDone {
    /// The value as the device will hold it (after scaling and encoding).
    pub expected: crate::tag::Value,
    /// The value read back after the write.
    pub readback: Option<crate::tag::Value>,
    /// How it was written, e.g. `FC16 holding 50+2`.
    pub how: String,
}

impl WriteDone {
    /// `plan` was carried out; `readback` is what the device reads now.
    pub fn of(plan: &WritePlan, readback: Option<crate::tag::Value>) -> WriteDone {
        WriteDone { expected: plan.expected().clone(), readback, how: plan.how() }
    }

    /// The readback confirms the write.
    pub fn confirmed(&self) -> bool {
        self.readback.as_ref() == Some(&self.expected)
    }
}

/// A driver's write inbox, shared with the supervisor that restarts it after a panic.
pub type WriteInbox = std::sync::Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<WriteCommand>>>;

/// The words of one block as the device sent them (bits as 0/1), for the diagnostics view.
#[derive(Clone, Debug, PartialEq)]
pub struct RawBlock {
    pub unit: u8,
    pub table: Table,
    pub start: u16,
    pub words: Vec<u16>,
}

#[cfg(test)]
mod tests {
    use super::io_words;
    use std::io::{Error, ErrorKind};

    #[test]
    fn io_errors_read_as_words() {
        assert_eq!(io_words(&Error::from(ErrorKind::ConnectionRefused)), "connection refused");
        assert_eq!(io_words(&Error::from(ErrorKind::TimedOut)), "timeout");
        assert_eq!(io_words(&Error::from_raw_os_error(113)), "host unreachable");
        assert_eq!(io_words(&Error::other("odd")), "odd");
        assert!(!io_words(&Error::from_raw_os_error(95)).contains("os error"));
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    Connecting,
    Connected,
    /// Lost or refused; `reason` says why, in words for the operator.
    Disconnected {
        reason: String,
        retry_in: std::time::Duration,
    },
    /// The driver stopped (shutdown).
    Stopped,
}

/// An I/O error in the operator's words: `connection refused`, `host unreachable`, … (the OS's
/// text without its error number when there is no better word).
pub fn io_words(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let words = match e.kind() {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset by the device",
        K::ConnectionAborted => "connection aborted",
        K::TimedOut => "timeout",
        K::HostUnreachable => "host unreachable",
        K::NetworkUnreachable => "network unreachable",
        K::NetworkDown => "network down",
        K::AddrNotAvailable => "address not available",
        K::PermissionDenied => "permission denied",
        K::BrokenPipe => "connection closed by the device",
        K::UnexpectedEof => "connection closed by the device",
        K::NotConnected => "not connected",
        _ => {
            let text = e.to_string();
            return match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
        }
    };
    words.to_string()
}

impl ConnectionState {
    pub fn is_connected(&self) -> bool {
        matches!(self, ConnectionState::Connected)
    }
}
pub mod opcua;
