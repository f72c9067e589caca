//! Messages into `update`, and the effects it asks the runtime to carry out.

use crossterm::event::KeyEvent;

use crate::audit::RecordInput;
use crate::driver::{DriverEvent, WriteDone, WriteError, WritePlan};
use crate::tag::{TagId, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    /// The terminal was resized.
    Resize,
    Driver(DriverEvent),
    /// The clock ticked (once a second): ages and the clock on screen move on.
    Tick,
    /// SIGTERM, SIGHUP or SIGINT: leave cleanly.
    Signal(&'static str),
    /// A write was answered (or could not be sent).
    WriteDone {
        tag: TagId,
        requested: Value,
        result: Result<WriteDone, WriteError>,
    },
    /// The audit log could not be written: writing stops.
    AuditFailed(String),
    /// A trend export was written (what to say), or why not.
    Exported(Result<String, String>),
    /// The alarm journal cannot be written (its records wait in memory).
    JournalFailed(String),
    /// An alarm operation is on record in the audit log: apply it.
    Alarm(super::alarms::AlarmAction),
}

impl From<DriverEvent> for Msg {
    fn from(e: DriverEvent) -> Self {
        Msg::Driver(e)
    }
}

/// What `update` asks the runtime to do. Only the runtime performs I/O.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Leave the console; why (`q`, `Ctrl-C`, `SIGHUP`, `terminal lost`) goes into the
    /// console-stop audit record.
    Quit(String),
    /// Append to the audit log (fsync'd).
    Audit(RecordInput),
    /// Append the attempt to the audit log, then — only if that succeeded — send the write.
    Write(WriteOrder),
    /// Append these alarm transitions to the journal (fsync'd per batch).
    Journal(Vec<crate::alarm::Transition>),
    /// Ring the terminal bell.
    Bell,
    /// Write a trend export file `name` in the export folder.
    Export { name: String, contents: String, rows: usize },
    /// Append the audit records, then — only if that succeeded — apply the alarm operation.
    AlarmAction(AlarmOrder),
}

/// An operator's alarm operation with its audit records.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmOrder {
    pub action: super::alarms::AlarmAction,
    pub audit: Vec<RecordInput>,
}

/// A confirmed write, with the audit record of its attempt. The plan is the one the operator
/// confirmed; it goes to the driver unchanged (its tag, connection and the value the device will
/// hold are in it).
#[derive(Clone, Debug, PartialEq)]
pub struct WriteOrder {
    pub plan: WritePlan,
    pub audit: RecordInput,
}
