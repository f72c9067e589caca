//! Modbus.
pub mod codec;
