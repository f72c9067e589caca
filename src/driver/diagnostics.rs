//! What a connection's driver shows in the diagnostics view, whatever its protocol: the requests
//! of one scan (a driver that polls), how the device took each tag (a driver that subscribes),
//! and facts about the connection in words. The console stores the latest report of each
//! connection and draws it; it never needs to know which protocol sent it.

use std::time::Duration;

use crate::layout::Table;
use crate::tag::TagId;

/// A driver's report for the diagnostics view. A report is whole: it replaces the connection's
/// previous one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnDiagnostics {
    /// The read requests of one scan, in plan order (a driver that polls; empty otherwise).
    pub plan: Vec<BlockInfo>,
    /// How the device took each tag it was asked for (OPC UA: the monitored items as the server
    /// revised them).
    pub items: Vec<ItemInfo>,
    /// Facts about the connection, e.g. the publishing interval as the server revised it.
    pub facts: Vec<Fact>,
}

impl ConnDiagnostics {
    /// How the device took `tag`, if the report says.
    pub fn item(&self, tag: TagId) -> Option<&ItemInfo> {
        self.items.iter().find(|i| i.tag == tag)
    }
}

/// One planned read request.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockInfo {
    pub unit: u8,
    pub table: Table,
    pub start: u16,
    pub count: u16,
    pub poll: Duration,
    pub tags: usize,
}

/// How the device took one tag: its status and the sampling and queue it granted.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemInfo {
    pub tag: TagId,
    /// `Good`, or why the device refused it (`Bad_NodeIdUnknown`, …; untrusted text).
    pub status: String,
    pub revised_sampling: Duration,
    pub revised_queue: u32,
}

/// A fact about a connection, shown as `label  value` (the value may hold untrusted text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

impl Fact {
    pub fn new(label: &str, value: String) -> Fact {
        Fact { label: label.to_string(), value }
    }
}
