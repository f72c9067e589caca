//! Modbus.
