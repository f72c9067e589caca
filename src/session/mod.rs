//! Sessions: one person at one terminal. [`state::Session`] is everything that is theirs alone
//! (identity, role, screen, selection, filter, the one open [`state::Overlay`]; PIN lockouts
//! are the user's and live in the plant);
//! [`update::update`] changes it, purely, reading the [`crate::plant::Plant`] and asking it for
//! changes only through plant commands ([`msg::Effect::Command`]).

pub mod alarms;
pub mod help;
pub mod keymap;
pub mod msg;
pub mod state;
pub mod trend;
pub mod update;
pub mod views;
pub mod write;
