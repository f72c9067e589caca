//! What sessions ask of the plant. Every command carries who asks (the [`Actor`] its audit
//! records name) and the session to answer; the runtime puts its records on disk before it
//! acts, and does nothing when they cannot be written.

use std::time::SystemTime;

use crate::alarm::{AlarmId, Shelve};
use crate::audit::{Actor, RecordInput};

/// One session of the plant (a terminal, an SSH channel): where answers go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// A session as the server lists it (the diagnostics view, `ttyhmi sessions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: SessionId,
    pub user: String,
    pub role: String,
    /// Where from: a client address, `local socket`, `this terminal`.
    pub from: String,
    /// How the user was identified (`key SHA256:…`, `uid 1001`), when a server did.
    pub via: Option<String>,
    pub since: std::time::SystemTime,
}

/// An operator's alarm operation, applied once its audit records are on disk.
#[derive(Clone, Debug, PartialEq)]
pub enum AlarmAction {
    Acknowledge(Vec<AlarmId>),
    Shelve { id: AlarmId, how: Shelve, reason: String },
    Unshelve(AlarmId),
    OutOfService { id: AlarmId, reason: String },
    ReturnToService(AlarmId),
}

/// A confirmed write: exactly what goes on the wire, with the audit record of its attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteOrder {
    pub plan: crate::driver::WritePlan,
    pub audit: RecordInput,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Put the attempt on record, then — only if that succeeded — send the write; its result
    /// goes back to `from`.
    Write { from: SessionId, actor: Actor, order: Box<WriteOrder> },
    /// Put the records on disk, then — only if that succeeded — apply the operation.
    Alarm { from: SessionId, actor: Actor, action: AlarmAction, audit: Vec<RecordInput> },
    /// Put a record on disk: a denial, a write's result.
    Record { from: SessionId, record: Box<RecordInput> },
    /// A PIN `user` entered at `at` was right or wrong: counted in the plant's lockouts at once
    /// (whether or not its records can be written: a lockout never waits for the disk), and
    /// its records — the PIN failure, the lockout it caused — put on disk.
    Pin { from: SessionId, user: String, ok: bool, at: SystemTime, audit: Vec<RecordInput> },
}

impl Command {
    /// The session that asked.
    pub fn from(&self) -> SessionId {
        match self {
            Command::Write { from, .. }
            | Command::Alarm { from, .. }
            | Command::Record { from, .. }
            | Command::Pin { from, .. } => *from,
        }
    }

    /// Whether this command would change something on a device.
    pub fn is_write(&self) -> bool {
        matches!(self, Command::Write { .. })
    }
}
