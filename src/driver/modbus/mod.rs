//! Modbus: TCP, RTU on serial lines, RTU over TCP.
pub mod codec;
pub mod planner;
pub mod poller;
pub mod rtu;
pub mod rtu_link;
pub mod serial;

#[cfg(test)]
pub(crate) mod fuzz;
