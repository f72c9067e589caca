//! The console's state: everything `update` changes and `render` reads.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use crate::driver::{BlockInfo, ConnStats, ConnectionState};
use crate::layout::{ConnId, Layout, Panel, Table, TagSource};
use crate::tag::{TagId, TagStore};

/// A connection as the console knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnView {
    pub state: ConnectionState,
    pub stats: ConnStats,
    pub plan: Vec<BlockInfo>,
    /// Scans per second between the last two statistics reports.
    pub scan_rate: f64,
    /// OPC UA: the publishing interval as the server revised it.
    pub publishing_interval: Option<std::time::Duration>,
}

/// A line for the operator: a write result, a denial.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub text: String,
    /// Shown as abnormal.
    pub bad: bool,
    pub at: SystemTime,
}

/// Latest raw words per read block: (connection, unit, table, start) → words.
pub type RawKey = (ConnId, u8, Table, u16);

#[derive(Clone, Debug)]
pub struct State {
    pub layout: Arc<Layout>,
    pub store: TagStore,
    pub conns: Vec<ConnView>,
    pub raw: HashMap<RawKey, Vec<u16>>,
    /// OPC UA monitored items as the servers revised them, by tag.
    pub ua_items: HashMap<TagId, crate::driver::UaItemInfo>,
    /// OPC UA nodes' DataTypes as the servers declare them (or why a write cannot use one), by
    /// tag: what write plans are made for.
    pub data_types: HashMap<TagId, Result<crate::driver::UaType, String>>,
    /// The layout screen shown (and whose selection the diagnostics view describes).
    pub screen: usize,
    /// The diagnostics view (connections, read plan, the selected tag's registers) is shown.
    pub diagnostics: bool,
    pub help: bool,
    /// Lines the help is scrolled down by.
    pub help_scroll: u16,
    /// Index of the selected row among the visible rows of the current screen.
    pub selected: usize,
    pub filter: String,
    pub filter_editing: bool,
    pub read_only: bool,
    /// The OS account running the console.
    pub user: String,
    /// Offset of local time, for the clock on screen (found once at start-up).
    pub utc_offset: time::UtcOffset,
    /// Colour on (off with NO_COLOR or `--no-color`); every colour cue also has a glyph or text.
    pub color: bool,
    /// Time of the last message handled (injected, never read from the clock here).
    pub now: SystemTime,
    /// Who is at the console, and the role they have.
    pub identity: crate::auth::Identity,
    /// Who audit records name (user, host, SSH client, role).
    pub actor: crate::audit::Actor,
    /// Wrong PINs and the lockout they cause.
    pub pin_guard: crate::auth::PinGuard,
    /// Why no write is possible at all (read-only, viewer, audit log failure), if so.
    pub writes_disabled: Option<String>,
    /// The write dialog, when open.
    pub dialog: Option<super::write::Dialog>,
    /// The message line (write results, denials).
    pub message: Option<Message>,
    /// Every alarm of the layout and its state.
    pub alarms: crate::alarm::AlarmEngine,
    /// The alarm list, its dialog and the bell.
    pub alarm_view: super::alarms::AlarmView,
    /// Recent values of the tags trends, bars and sparklines show.
    pub history: crate::tag::history::History,
    /// The time window of the current screen's trends.
    pub trend: super::trend::TrendView,
    /// Why the audit log cannot be written, if so: no write and no alarm operation then.
    pub audit_broken: Option<String>,
    /// `ttyhmi demo`: the demo PIN, shown in the status bar.
    pub demo_pin: Option<String>,
    /// Something visible changed since the last draw.
    pub dirty: bool,
    /// "Quit the console? y/n" is asked.
    pub confirm_quit: bool,
    pub quit: bool,
}

impl State {
    pub fn new(layout: Arc<Layout>, user: String, read_only: bool, now: SystemTime) -> Self {
        let conns = layout
            .connections
            .iter()
            .map(|_| ConnView {
                state: ConnectionState::Connecting,
                stats: ConnStats::default(),
                plan: Vec::new(),
                scan_rate: 0.0,
                publishing_interval: None,
            })
            .collect();
        State {
            store: TagStore::new(layout.tags.len(), now),
            conns,
            raw: HashMap::new(),
            ua_items: HashMap::new(),
            data_types: HashMap::new(),
            screen: 0,
            diagnostics: false,
            help: false,
            help_scroll: 0,
            selected: 0,
            filter: String::new(),
            filter_editing: false,
            read_only,
            user: user.clone(),
            utc_offset: time::UtcOffset::UTC,
            color: true,
            now,
            identity: crate::auth::Identity {
                user: user.clone(),
                role: crate::auth::Role::Viewer,
                source: crate::auth::RoleSource::NoUsersFile,
                pin_hash: None,
            },
            actor: crate::audit::Actor {
                user: user.clone(),
                host: String::new(),
                ssh_client: None,
                role: "viewer".into(),
            },
            pin_guard: crate::auth::PinGuard::default(),
            writes_disabled: if read_only { Some("read-only".into()) } else { None },
            dialog: None,
            message: None,
            alarms: crate::alarm::AlarmEngine::new(layout.alarms.clone())
                .with_max_shelve(layout.alarm_options.max_shelve),
            alarm_view: Default::default(),
            history: crate::tag::history::History::new(layout.tags.len(), &layout.history_tags(), layout.history, now),
            trend: Default::default(),
            audit_broken: None,
            demo_pin: None,
            dirty: true,
            confirm_quit: false,
            quit: false,
            layout,
        }
    }

    /// The rows of each panel of the current screen after the filter, as (panel index, tags).
    pub fn visible_panels(&self) -> Vec<(usize, Vec<TagId>)> {
        let Some(s) = self.layout.screens.get(self.screen) else { return Vec::new() };
        let needle = self.filter.to_lowercase();
        s.panels
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p {
                Panel::Grid(g) => {
                    let tags = g
                        .tags
                        .iter()
                        .copied()
                        .filter(|&id| {
                            needle.is_empty() || {
                                let t = self.layout.tag(id);
                                t.name.to_lowercase().contains(&needle)
                                    || t.description.to_lowercase().contains(&needle)
                            }
                        })
                        .collect();
                    Some((i, tags))
                }
                Panel::Alarms(_) | Panel::Trend(_) | Panel::Bar(_) => None,
            })
            .collect()
    }

    /// Every visible row of the current screen, in order.
    pub fn visible_rows(&self) -> Vec<TagId> {
        self.visible_panels().into_iter().flat_map(|(_, t)| t).collect()
    }

    /// The tag under the cursor, if the screen has any rows.
    pub fn selected_tag(&self) -> Option<TagId> {
        let rows = self.visible_rows();
        rows.get(self.selected.min(rows.len().saturating_sub(1))).copied()
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
}
