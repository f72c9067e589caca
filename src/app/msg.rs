//! Messages into `update`, and the effects it asks the runtime to carry out.

use crossterm::event::KeyEvent;

use crate::driver::DriverEvent;

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
}

impl From<DriverEvent> for Msg {
    fn from(e: DriverEvent) -> Self {
        Msg::Driver(e)
    }
}

/// What `update` asks the runtime to do. Only the runtime performs I/O.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Quit,
}
