//! One session on its own plant, stepped purely: plant inputs go through `plant::apply`, what it
//! tells goes to the session, the session's commands come back as effects (with alarm
//! operations applied at once, as if their records were on disk). No I/O, no clock. This is
//! the hub of `ttyhmi run` without its runtime: tests, benches and tools drive the whole
//! console with it, deterministically.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::SystemTime;

use crossterm::event::KeyEvent;

use crate::alarm::Transition;
use crate::audit::RecordInput;
use crate::driver::{DriverEvent, WriteDone, WriteError};
use crate::layout::Layout;
use crate::plant::{AlarmAction, Command, Input, Plant, PlantEffect, SessionId, WriteOrder, apply};
use crate::session::msg::{Effect as SessionEffect, Msg as SessionMsg};
use crate::session::state::{Person, Session};
use crate::tag::{TagId, Value};

/// A session and its plant.
#[derive(Clone, Debug)]
pub struct Console {
    pub plant: Plant,
    pub session: Session,
}

impl Deref for Console {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

impl DerefMut for Console {
    fn deref_mut(&mut self) -> &mut Session {
        &mut self.session
    }
}

/// What reaches the console: the session's own messages and the plant's inputs.
#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Resize,
    Tick,
    Signal(&'static str),
    Driver(DriverEvent),
    WriteDone {
        tag: TagId,
        requested: Value,
        result: Result<WriteDone, WriteError>,
    },
    /// The audit log could not be written.
    AuditFailed(String),
    Exported(Result<String, String>),
    /// The alarm journal cannot be written.
    JournalFailed(String),
    /// An alarm operation is on record: apply it.
    Alarm(AlarmAction),
}

impl From<DriverEvent> for Msg {
    fn from(e: DriverEvent) -> Self {
        Msg::Driver(e)
    }
}

/// What the console asks of the outside world.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Quit(String),
    /// An audit record (a denial, a PIN failure, a write result).
    Audit(RecordInput),
    /// A write, with the audit record of its attempt.
    Write(WriteOrder),
    /// Alarm transitions for the journal.
    Journal(Vec<Transition>),
    Bell,
    Export {
        name: String,
        contents: String,
        rows: usize,
    },
    /// An alarm operation, with its audit records (apply it with [`Msg::Alarm`]).
    AlarmAction(AlarmOrder),
}

/// An operator's alarm operation with its audit records.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmOrder {
    pub action: AlarmAction,
    pub audit: Vec<RecordInput>,
}

impl Console {
    /// A viewer `user` (read-only or not) on a new plant of `layout`.
    pub fn new(layout: Arc<Layout>, user: String, read_only: bool, now: SystemTime) -> Console {
        Console::with(layout, Person::viewer(&user, read_only), now)
    }

    /// `person` on a new plant of `layout`.
    pub fn with(layout: Arc<Layout>, person: Person, now: SystemTime) -> Console {
        let plant = Plant::new(layout, now);
        let session = Session::new(SessionId(1), &plant, person, now);
        Console { plant, session }
    }

    /// The same console with `person` at it instead (a new session; the plant stays).
    pub fn as_person(self, person: Person) -> Console {
        let session = Session::new(self.session.id, &self.plant, person, self.session.now);
        Console { plant: self.plant, session }
    }

    /// The same console with the person's role changed (a new session; the plant stays).
    pub fn with_role(self, role: crate::auth::Role) -> Console {
        let mut person = Person::viewer(&self.session.identity.user, self.session.read_only);
        person.identity = crate::auth::Identity { role, ..self.session.identity.clone() };
        person.actor.role = role.as_str().to_string();
        person.color = self.session.color;
        self.as_person(person)
    }

    /// One message through the plant and the session; the effects in order.
    pub fn update(&mut self, msg: Msg, now: SystemTime) -> Vec<Effect> {
        let input = match msg {
            Msg::Driver(e) => Input::Driver(e),
            Msg::AuditFailed(why) => Input::AuditFailed(why),
            Msg::JournalFailed(why) => Input::JournalFailed(why),
            Msg::Alarm(action) => {
                Input::OnRecord { from: self.session.id, user: self.session.identity.user.clone(), action }
            }
            Msg::Tick => {
                let mut effects = self.plant_input(Input::Tick, now);
                effects.extend(self.session_msg(SessionMsg::Tick, now));
                return effects;
            }
            Msg::Key(k) => return self.session_msg(SessionMsg::Key(k), now),
            Msg::Resize => return self.session_msg(SessionMsg::Resize, now),
            Msg::Signal(s) => return self.session_msg(SessionMsg::Signal(s), now),
            Msg::Exported(r) => return self.session_msg(SessionMsg::Exported(r), now),
            Msg::WriteDone { tag, requested, result } => {
                return self.session_msg(SessionMsg::WriteDone { tag, requested, result }, now);
            }
        };
        self.plant_input(input, now)
    }

    fn plant_input(&mut self, input: Input, now: SystemTime) -> Vec<Effect> {
        let mut effects = Vec::new();
        for e in apply(&mut self.plant, input, now) {
            match e {
                PlantEffect::Journal(ts) => effects.push(Effect::Journal(ts)),
                PlantEffect::Event(e) => effects.extend(self.session_msg(SessionMsg::Plant(e), now)),
                // The console keeps the lockouts in its plant only.
                PlantEffect::SaveLockouts(_) => {}
            }
        }
        effects
    }

    fn session_msg(&mut self, msg: SessionMsg, now: SystemTime) -> Vec<Effect> {
        let effects = crate::session::update::update(&mut self.session, &self.plant, msg, now);
        effects.into_iter().flat_map(|e| self.effect(e)).collect()
    }

    /// What a session's effect becomes. A PIN result is counted in the plant at once (as the
    /// runtime does) and leaves only its audit records; the lockouts are not saved anywhere.
    fn effect(&mut self, e: SessionEffect) -> Vec<Effect> {
        let one = match e {
            SessionEffect::Quit(why) => Effect::Quit(why),
            SessionEffect::Bell => Effect::Bell,
            SessionEffect::Export { name, contents, rows } => Effect::Export { name, contents, rows },
            SessionEffect::Command(Command::Record { record, .. }) => Effect::Audit(*record),
            SessionEffect::Command(Command::Write { order, .. }) => Effect::Write(*order),
            SessionEffect::Command(Command::Alarm { action, audit, .. }) => {
                Effect::AlarmAction(AlarmOrder { action, audit })
            }
            SessionEffect::Command(Command::Pin { user, ok, at, audit, .. }) => {
                let _ = apply(&mut self.plant, Input::Pin { user, ok }, at);
                return audit.into_iter().map(Effect::Audit).collect();
            }
        };
        vec![one]
    }

    /// Carries out a command of another session on this console's plant (two sessions of one
    /// plant, in tests): what the console does with its own session's commands.
    pub fn command(&mut self, cmd: Command) -> Vec<Effect> {
        self.effect(SessionEffect::Command(cmd))
    }
}

/// `update` as a free function, for tests written against it.
pub fn update(console: &mut Console, msg: Msg, now: SystemTime) -> Vec<Effect> {
    console.update(msg, now)
}

#[cfg(test)]
mod fuzz;
