//! Modbus.
pub mod codec;
pub mod planner;
pub mod poller;
