//! A driver's answer to a write that did not succeed, typed by what the device may hold now:
//! nothing was sent, the device refused, the outcome is unknown, or the connection was lost after
//! the write went out. Each case says in words what happened; no logic reads the words.

use crate::tag::Reason;

/// Why a write did not complete.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WriteError {
    /// Nothing reached the device: it holds what it held.
    #[error("not written: {0}")]
    NotSent(#[from] NotSent),
    /// The device (or server) received the write and answered no.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// The write went out and no usable answer came: the value may or may not have been written.
    #[error("{0}")]
    OutcomeUnknown(#[from] Unknown),
    /// The connection broke during the write, after it was sent.
    #[error("not confirmed, the connection broke: {0}")]
    ConnectionLost(String),
}

/// Why nothing was sent.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NotSent {
    /// Writes are never queued while a connection is down.
    #[error("connection `{0}` is down")]
    ConnectionDown(String),
    /// The command is older than the current connection: writes are never carried across a
    /// reconnect.
    #[error("the connection was re-established since the request; try again")]
    Reconnected,
    /// This console has no way to write (read-only).
    #[error("this console cannot write (read-only)")]
    ReadOnly,
    /// One write per connection at a time.
    #[error("another write to this connection is still in progress")]
    Busy,
    /// The connection's driver is not running.
    #[error("the connection's driver is not running")]
    DriverGone,
    #[error("the tag is not on this connection")]
    NotOnConnection,
    /// The plan was made for another tag definition or connection option: the driver does not
    /// encode the value again, it refuses.
    #[error("the write plan no longer matches the tag ({0}); open the write dialog again")]
    PlanMismatch(String),
    /// The value does not fit (a tool that plans at the driver: `opcua::write::write_value`).
    #[error("{0}")]
    Unfit(#[from] super::plan::PlanError),
    /// A step before the write failed (the read of a read-modify-write, resolving the node,
    /// reading its DataType, a line that was never quiet), in words.
    #[error("{0}")]
    Before(String),
}

/// The device's (or server's) no.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// A Modbus exception response.
    #[error("the device refused: exception {0:02} ({name})", name = Reason::exception_name(*.0))]
    Exception(u8),
    /// An OPC UA status code for the write, by its symbolic name (`Bad_OutOfRange`).
    #[error("the server refused the write: {0}")]
    Status(String),
    /// A Sparkplug gateway's refusal (its checks, or the device behind it), in its words.
    #[error("the gateway refused the write: {0}")]
    Gateway(String),
}

/// Why the outcome is unknown.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Unknown {
    /// No answer (in words: `no answer within 300ms`).
    #[error("{0}: the value may or may not have been written")]
    NoAnswer(String),
    /// A damaged answer; the line itself is fine.
    #[error("the answer was damaged ({0}): the value may or may not have been written")]
    Damaged(String),
    /// The line was dropped after the request went out (never quiet), in words.
    #[error("not confirmed: {0}; the value may or may not have been written")]
    Dropped(String),
    /// The driver ended without answering.
    #[error("no answer: the driver stopped; the value may or may not have been written")]
    DriverStopped,
}
