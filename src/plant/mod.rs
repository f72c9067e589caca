//! The plant core: one per process, whatever the number of sessions. [`Plant`] holds what every
//! session sees the same — tag values, alarm states, history, connection views, raw words for
//! diagnostics — and changes only through the pure [`apply`]. Sessions read it; they change it
//! only through a [`Command`] that the runtime ([`runtime`]) puts on record first.

pub mod apply;
pub mod command;
pub mod lockouts;
pub mod records;
pub mod restore;
pub mod runtime;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

/// What sessions read of connections, and the plant's write vocabulary: the plan confirmed and
/// sent (made by [`write_plan`]), and the answer.
pub use crate::driver::plan::plan as write_plan;
pub use crate::driver::{
    ConnDiagnostics, ConnStats, ConnectionState, DriverEvent, NotSent, Refusal, UaType, Unknown, WriteDone, WriteError,
    WritePlan,
};
pub use apply::{Input, PlantEffect, PlantEvent, apply};
pub use command::{AlarmAction, Command, SessionId, SessionInfo, WriteOrder};

use crate::alarm::AlarmEngine;
use crate::layout::{ConnId, Layout, Table, TagSource};
use crate::tag::history::History;
use crate::tag::{TagId, TagStore};

/// A connection as the plant knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnView {
    pub state: ConnectionState,
    pub stats: ConnStats,
    /// What the driver last reported for the diagnostics view (read plan, items, facts).
    pub diag: ConnDiagnostics,
    /// Scans per second between the last two statistics reports.
    pub scan_rate: f64,
}

/// Latest raw words per read block: (connection, unit, table, start) → words.
pub type RawKey = (ConnId, u8, Table, u16);

#[derive(Clone, Debug)]
pub struct Plant {
    pub layout: Arc<Layout>,
    pub store: TagStore,
    pub conns: Vec<ConnView>,
    pub raw: HashMap<RawKey, Vec<u16>>,
    /// OPC UA: each node's DataType as its server declares it (or why a write cannot use it):
    /// write plans need it.
    pub data_types: HashMap<TagId, Result<crate::driver::WireType, String>>,
    /// Every alarm of the layout and its state.
    pub alarms: AlarmEngine,
    /// Recent values of the tags trends, bars and sparklines show.
    pub history: History,
    /// Why the audit log cannot be written, if so: no write and no alarm operation then, in
    /// any session.
    pub audit_broken: Option<String>,
    /// Who is connected to this plant (a console server's sessions), oldest first.
    pub sessions: Vec<SessionInfo>,
    /// Wrong PINs and locks per user, shared by every session of that user (changed by
    /// [`Input::Pin`], kept in a file across a restart).
    pub lockouts: crate::auth::Lockouts,
}

impl Plant {
    pub fn new(layout: Arc<Layout>, now: SystemTime) -> Plant {
        let conns = layout
            .connections
            .iter()
            .map(|_| ConnView {
                state: ConnectionState::Connecting,
                stats: ConnStats::default(),
                diag: ConnDiagnostics::default(),
                scan_rate: 0.0,
            })
            .collect();
        Plant {
            store: TagStore::new(layout.tags.len(), now),
            conns,
            raw: HashMap::new(),
            data_types: HashMap::new(),
            alarms: AlarmEngine::new(layout.alarms.clone()).with_max_shelve(layout.alarm_options.max_shelve),
            history: History::new(layout.tags.len(), &layout.history_tags(), layout.history, now),
            audit_broken: None,
            sessions: Vec::new(),
            lockouts: crate::auth::Lockouts::default(),
            layout,
        }
    }

    /// The raw words of a tag, from the last block read that holds it.
    pub fn raw_words(&self, id: TagId) -> Option<Vec<u16>> {
        let t = self.layout.tag(id);
        let TagSource::Modbus(p) = t.source else { return None };
        let n = p.count();
        self.raw.iter().find_map(|(&(conn, unit, table, start), words)| {
            let end = start as u32 + words.len() as u32;
            (conn == t.conn
                && unit == p.unit
                && table == p.table
                && p.address >= start
                && p.address as u32 + n as u32 <= end)
                .then(|| words[(p.address - start) as usize..(p.address - start + n) as usize].to_vec())
        })
    }

    /// Whether the connection of `conn` is up.
    pub fn connected(&self, conn: ConnId) -> bool {
        self.conns.get(conn.index()).is_some_and(|c| c.state.is_connected())
    }
}

/// How long a shelve lasts, in words: `for 30m`, `one-shot`.
pub fn shelve_text(how: crate::alarm::Shelve) -> String {
    match how {
        crate::alarm::Shelve::For(d) => format!("for {}", crate::layout::duration::format_duration(d)),
        crate::alarm::Shelve::OneShot => "one-shot".into(),
    }
}
