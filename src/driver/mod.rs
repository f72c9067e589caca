//! Drivers.
pub mod modbus;
