//! Sparkplug B (Eclipse Sparkplug 3.0.0): the payload as generated from
//! `proto/sparkplug_b.proto` ([`proto`]), the conversion of metric values to and from it
//! ([`codec`]) and topics ([`topic`]), shared by the host side (a `sparkplug` connection,
//! [`host`] and [`link`]) and the gateway's edge node ([`edge`]). [`host`] and [`edge`] are pure
//! (no I/O, time injected); [`link`] runs the host side over MQTT.

pub mod codec;
pub mod command;
pub mod edge;
pub mod host;
pub mod link;
pub mod mqtt;
pub mod outcome;
#[allow(clippy::all, missing_docs)]
pub mod proto;
pub mod topic;

/// A time as Sparkplug writes it: milliseconds since the epoch, UTC (0 before it).
pub fn millis(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// One MQTT message to publish: topic, payload, QoS (0 or 1) and the retain flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}

/// The largest MQTT packet this program sends or accepts (a large NBIRTH is tens of kB; a
/// broker limits what it forwards itself).
pub const MAX_PACKET: usize = 4 << 20;
