//! The application: [`state::State`], [`msg::Msg`] and [`msg::Effect`], the pure
//! [`update::update`], and the runtime loops that wire drivers, the clock and the terminal
//! ([`runtime`]) or standard output ([`watch`]).

pub mod alarms;
pub mod msg;
pub mod restore;
pub mod runtime;
pub mod state;
pub mod trend;
pub mod update;
pub mod watch;
pub mod write;
