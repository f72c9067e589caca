//! ttyhmi: a terminal SCADA operator console.
//!
//! See DESIGN.md for the data flow and the module boundaries; each module's doc says what it owns.
//!
//! A layout is loaded and checked before anything talks to a device:
//!
//! ```
//! let src = "
//! connections:
//!   plc1: { modbus_tcp: { host: 127.0.0.1, port: 502, unit: 1 } }
//! tags:
//!   P_101: { source: plc1, holding: 1, type: f32, units: bar }
//! ";
//! let layout = ttyhmi::layout::parse(src, "example.yaml").unwrap();
//! assert_eq!(layout.tags[0].name, "P_101");
//!
//! // Problems come with file:line:column and a hint.
//! let err = ttyhmi::layout::parse("connections: {}\ntags:\n  X: { source: plc9, holding: 0 }\n", "bad.yaml").unwrap_err();
//! assert!(err.to_string().starts_with("bad.yaml:3:16: error: tag `X` reads from connection `plc9`, which is not defined"));
//! ```
#![forbid(unsafe_code)]

pub mod alarm;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod console;
pub mod driver;
pub mod files;
pub mod front;
#[cfg(test)]
pub mod fuzzing;
pub mod gateway;
pub mod layout;
pub mod paths;
pub mod plant;
pub mod sanitize;
pub mod session;
/// The simulated plant (`ttyhmi demo`, `ttyhmi sim`, and the tests' servers): only with the
/// `sim` feature, on by default and off in the Debian package.
#[cfg(feature = "sim")]
pub mod sim;
pub mod tag;
pub mod timefmt;
pub mod ui;
pub mod yaml;
