//! Sparkplug B (Eclipse Sparkplug 3.0.0): the payload as generated from
//! `proto/sparkplug_b.proto` ([`proto`]) and the conversion of metric values to and from it
//! ([`codec`]), shared by the host side (a `sparkplug` connection) and the gateway.

pub mod codec;
pub mod link;
#[allow(clippy::all, missing_docs)]
pub mod proto;
