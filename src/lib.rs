//! ttyhmi: a terminal SCADA operator console.
//!
//! See DESIGN.md for the data flow and the module boundaries; each module's doc says what it owns.
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod driver;
pub mod layout;
pub mod paths;
pub mod sim;
pub mod tag;
pub mod timefmt;
pub mod ui;
