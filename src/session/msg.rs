//! Messages into `update`, and the effects it asks the runtime to carry out.

use crossterm::event::KeyEvent;

use crate::audit::RecordInput;
use crate::plant::{Command, PlantEvent};
use crate::plant::{WriteDone, WriteError};
use crate::tag::{TagId, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    /// The terminal was resized.
    Resize,
    /// Something changed in the plant.
    Plant(PlantEvent),
    /// The clock ticked (once a second): ages and the clock on screen move on.
    Tick,
    /// SIGTERM, SIGHUP or SIGINT: leave cleanly.
    Signal(&'static str),
    /// This session's write was answered (or could not be sent).
    WriteDone {
        tag: TagId,
        requested: Value,
        result: Result<WriteDone, WriteError>,
    },
    /// A trend export was written (what to say), or why not.
    Exported(Result<String, String>),
    /// Said when the session starts (what the plant's start-up found: a damaged journal).
    Note(String),
}

/// What `update` asks the runtime to do. Only the runtime performs I/O.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Leave the console; why (`q`, `Ctrl-C`, `SIGHUP`, `terminal lost`) goes into the
    /// console-stop audit record.
    Quit(String),
    /// Ask the plant: a write, an alarm operation, an audit record. Each carries its audit
    /// records; the plant puts them on disk before it acts.
    Command(Command),
    /// Ring the terminal bell.
    Bell,
    /// Write a trend export file `name` in the export folder.
    Export { name: String, contents: String, rows: usize },
}

impl Effect {
    /// An audit record from `session` (a denial, a PIN failure, a write result).
    pub fn record(session: &super::state::Session, record: RecordInput) -> Effect {
        Effect::Command(Command::Record { from: session.id, record: Box::new(record) })
    }
}
