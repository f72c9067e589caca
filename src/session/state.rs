//! A session's state: one person at one terminal — who they are, what they look at, what they
//! have open. Everything the plant holds (values, alarms, history) is read from the [`Plant`].

use std::sync::Arc;
use std::time::SystemTime;

use super::views::{AlarmDialog, AlarmView, TrendView, WriteDialog};
use crate::audit::Actor;
use crate::auth::Identity;
use crate::layout::{Layout, Panel};
use crate::plant::{Plant, SessionId};
use crate::tag::TagId;

/// A line for the operator: a write result, a denial.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub text: String,
    /// Shown as abnormal.
    pub bad: bool,
    pub at: SystemTime,
    /// It says the alarm journal cannot be written (said once, until something else is said).
    pub journal: bool,
}

/// What is drawn over the screen and takes the keys: at most one thing at a time.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Overlay {
    #[default]
    None,
    Help {
        /// Lines the help is scrolled down by.
        scroll: u16,
    },
    /// The filter is being typed.
    Filter,
    /// The write dialog.
    Write(WriteDialog),
    /// The shelve / out-of-service dialog.
    Alarm(AlarmDialog),
    /// "Quit the console? y/n".
    Quit,
}

/// Why this session cannot write (nor shelve, nor take out of service, nor — read-only — even
/// acknowledge).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteLock {
    /// `--read-only`: no write can be built at all.
    ReadOnly,
    /// The person's role is viewer; `hint` says how to get one.
    Viewer { user: String, hint: String },
    /// The users file was refused (why, and how to get a role).
    UsersFileRefused(String),
    /// The audit log cannot be written (why).
    AuditBroken(String),
}

impl std::fmt::Display for WriteLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteLock::ReadOnly => f.write_str("read-only"),
            WriteLock::Viewer { user, hint } => write!(f, "{user} is a viewer{hint}"),
            WriteLock::UsersFileRefused(why) => f.write_str(why),
            WriteLock::AuditBroken(why) => write!(f, "the audit log cannot be written ({why})"),
        }
    }
}

/// Who the session is for and how it is shown: set once, when it starts.
#[derive(Clone, Debug)]
pub struct Person {
    pub identity: Identity,
    /// Who audit records name (user, host, SSH client, role).
    pub actor: Actor,
    pub read_only: bool,
    /// Colour on (off with NO_COLOR or `--no-color`); every colour cue also has a glyph or text.
    pub color: bool,
    /// Offset of local time, for the clock on screen.
    pub utc_offset: time::UtcOffset,
    /// `ttyhmi demo`: the demo PIN, shown in the status bar.
    pub demo_pin: Option<String>,
}

impl Person {
    /// A viewer named `user`, in colour, on UTC: for tests and tools.
    pub fn viewer(user: &str, read_only: bool) -> Person {
        Person {
            identity: Identity {
                user: user.to_string(),
                role: crate::auth::Role::Viewer,
                source: crate::auth::RoleSource::NoUsersFile,
                pin_hash: None,
            },
            actor: Actor {
                user: user.to_string(),
                host: String::new(),
                ssh_client: None,
                role: "viewer".into(),
                session: None,
                via: None,
            },
            read_only,
            color: true,
            utc_offset: time::UtcOffset::UTC,
            demo_pin: None,
        }
    }

    /// The same person with another identity (the actor's user and role follow).
    pub fn with_identity(mut self, identity: Identity) -> Person {
        self.actor.user = identity.user.clone();
        self.actor.role = identity.role.as_str().to_string();
        self.identity = identity;
        self
    }
}

#[derive(Clone, Debug)]
pub struct Session {
    pub id: SessionId,
    pub layout: Arc<Layout>,
    /// The layout screen shown (and whose selection the diagnostics view describes).
    pub screen: usize,
    /// The diagnostics view (connections, read plan, the selected tag's registers) is shown.
    pub diagnostics: bool,
    /// Index of the selected row among the visible rows of the current screen.
    pub selected: usize,
    pub filter: String,
    pub overlay: Overlay,
    pub read_only: bool,
    /// Offset of local time, for the clock on screen (found once at start-up).
    pub utc_offset: time::UtcOffset,
    pub color: bool,
    /// Time of the last message handled (injected, never read from the clock here).
    pub now: SystemTime,
    /// Who is at the console, and the role they have.
    pub identity: Identity,
    /// Who audit records name (user, host, SSH client, role).
    pub actor: Actor,
    /// Why this person can never write in this session (read-only, viewer, refused users
    /// file), if so. The plant's audit log may lock writing too: see [`Session::write_lock`].
    pub lock: Option<WriteLock>,
    /// The message line (write results, denials).
    pub message: Option<Message>,
    /// The alarm list's place and the bell.
    pub alarm_view: AlarmView,
    /// The time window of the current screen's trends.
    pub trend: TrendView,
    /// `ttyhmi demo`: the demo PIN, shown in the status bar.
    pub demo_pin: Option<String>,
    /// Something visible changed since the last draw.
    pub dirty: bool,
    pub quit: bool,
}

impl Session {
    /// A session for `person` on `plant`, built in one step: why writing is locked follows from
    /// who they are.
    pub fn new(id: SessionId, plant: &Plant, person: Person, now: SystemTime) -> Session {
        let lock = lock_of(&person);
        let mut s = Session {
            id,
            layout: plant.layout.clone(),
            screen: 0,
            diagnostics: false,
            selected: 0,
            filter: String::new(),
            overlay: Overlay::None,
            read_only: person.read_only,
            utc_offset: person.utc_offset,
            color: person.color,
            now,
            identity: person.identity,
            actor: person.actor,
            lock,
            message: None,
            alarm_view: Default::default(),
            trend: Default::default(),
            demo_pin: person.demo_pin,
            dirty: true,
            quit: false,
        };
        // Alarms still waiting for an acknowledge (restored from the journal) sound the bell.
        s.alarm_view.horn = s.bell_waiting(plant);
        s
    }

    /// Whether the bell has something to ring for: an active alarm of a bell priority nobody
    /// acknowledged, on a console that can acknowledge it (a returned-to-normal alarm waits
    /// quietly on the list; a viewer's or read-only console never rings).
    pub fn bell_waiting(&self, plant: &Plant) -> bool {
        let bell = &plant.layout.alarm_options.bell;
        self.can_acknowledge()
            && plant
                .alarms
                .alarms()
                .iter()
                .any(|a| a.state() == crate::alarm::AlarmState::Unacknowledged && bell.contains(&a.rule.priority))
    }

    /// Whether this session may acknowledge alarms at all (not read-only, operator or above).
    pub fn can_acknowledge(&self) -> bool {
        !self.read_only && self.identity.role.at_least(crate::auth::Role::Operator)
    }

    /// Why no write is possible at all in this session now, if so.
    pub fn write_lock(&self, plant: &Plant) -> Option<WriteLock> {
        self.lock.clone().or_else(|| plant.audit_broken.clone().map(WriteLock::AuditBroken))
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

    /// Shows a message on the message line.
    pub fn say(&mut self, text: String, bad: bool, now: SystemTime) {
        self.message = Some(Message { text, bad, at: now, journal: false });
        self.dirty = true;
    }

    /// The open write dialog, if any.
    pub fn write_dialog(&self) -> Option<&WriteDialog> {
        match &self.overlay {
            Overlay::Write(d) => Some(d),
            _ => None,
        }
    }

    /// The open shelve / out-of-service dialog, if any.
    pub fn alarm_dialog(&self) -> Option<&AlarmDialog> {
        match &self.overlay {
            Overlay::Alarm(d) => Some(d),
            _ => None,
        }
    }

    /// The filter is being typed.
    pub fn filter_editing(&self) -> bool {
        matches!(self.overlay, Overlay::Filter)
    }

    /// The help is shown.
    pub fn help(&self) -> bool {
        matches!(self.overlay, Overlay::Help { .. })
    }
}

/// Why `person` can never write, if so: read-only, a refused users file (with how to get a
/// role), a viewer (with how to get a role).
fn lock_of(person: &Person) -> Option<WriteLock> {
    if person.read_only {
        return Some(WriteLock::ReadOnly);
    }
    let hint = crate::auth::role_hint(&person.identity).map(|h| format!("; to get a role, {h}")).unwrap_or_default();
    if let Some(warning) = person.identity.warning() {
        return Some(WriteLock::UsersFileRefused(format!("{warning}{hint}")));
    }
    (!person.identity.role.at_least(crate::auth::Role::Operator))
        .then(|| WriteLock::Viewer { user: person.identity.user.clone(), hint })
}
