//! The hub: one plant runtime and every session on it, in one task. Plant outcomes are applied
//! and told to every session; a session's keys go through its own `update`; its effects become
//! plant commands. Each session is drawn on its own screen, at most every [`FRAME`] and only
//! when something it shows changed. Bursts are drained before drawing. Front ends reach the hub
//! through one channel of [`ToHub`]: keys for a session, a new session (an SSH channel, an
//! attach socket), a session whose terminal went away, who is connected, and the server's stop.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};

use crate::plant::runtime::{Outcome, PlantRuntime};
use crate::plant::{Plant, PlantEvent, SessionId, SessionInfo};
use crate::session::msg::{Effect, Msg};
use crate::session::state::{Person, Session};
use crate::session::update::update;

/// Shortest time between two frames of one session.
pub const FRAME: Duration = Duration::from_millis(50);
/// Messages handled before a draw gets its turn.
pub const BURST: usize = 4096;

/// Where a session is shown: a terminal, an SSH channel, a test buffer. The hub draws each frame
/// itself and hands it over; a screen never makes the hub wait (one that cannot keep up keeps
/// the newest frame only, see [`super::mailbox`]).
pub trait Screen: Send {
    /// Its size now, in cells.
    fn size(&mut self) -> io::Result<Rect>;
    /// Takes a frame to show, without waiting. Err: the screen is gone.
    fn show(&mut self, frame: Buffer) -> io::Result<()>;
    /// Rings the bell, without waiting.
    fn bell(&mut self) -> io::Result<()>;
    /// A buffer the screen is done with, to draw the next frame in (saves making one per frame).
    fn spare(&mut self) -> Option<Buffer> {
        None
    }
    /// The session ends (why): a remote terminal is told so before its connection closes.
    fn end(&mut self, _why: &str) {}
}

/// What front ends tell the hub.
pub enum ToHub {
    /// A message for one session (a key, a resize).
    Msg(SessionId, Msg),
    /// A new session.
    Join(Box<Join>),
    /// A session's terminal went away (a closed channel, a dropped connection): the session
    /// ends; a dialog it had open goes with it and nothing is written.
    Leave(SessionId, String),
    /// Who is connected (for `ttyhmi sessions`).
    List(oneshot::Sender<Vec<SessionInfo>>),
    /// The server stops: every session is told why and ends, then the plant.
    Shutdown(String),
}

/// A session to start: who, from where, on which screen; its id goes back on `reply`.
pub struct Join {
    pub person: Person,
    /// Where the person connects from (`10.0.0.5:52144`, `local socket`).
    pub from: String,
    pub screen: Box<dyn Screen>,
    pub reply: oneshot::Sender<SessionId>,
}

/// Where a session's frames are drawn: a frame is rendered straight into a buffer of its own,
/// which is handed over whole (no copy, no diff here: the screen's writer diffs it against what
/// its terminal last received).
pub struct Canvas(Terminal<TestBackend>);

impl Default for Canvas {
    fn default() -> Self {
        // An off-screen terminal cannot fail (its errors are `Infallible`).
        match Terminal::new(TestBackend::new(1, 1)) {
            Ok(t) => Canvas(t),
            Err(e) => match e {},
        }
    }
}

impl Canvas {
    /// Draws `session` over `plant` into a frame of `area`'s size (in `spare`, cleared, when it
    /// is a buffer of that size).
    pub fn frame(&mut self, session: &Session, plant: &Plant, area: Rect, spare: Option<Buffer>) -> Buffer {
        let area = Rect::new(0, 0, area.width.max(1), area.height.max(1));
        if self.0.get_frame().area() != area {
            self.0.backend_mut().resize(area.width, area.height);
            if let Err(e) = self.0.resize(area) {
                match e {}
            }
        }
        *self.0.current_buffer_mut() = match spare {
            Some(mut b) if b.area == area => {
                b.reset();
                b
            }
            _ => Buffer::empty(area),
        };
        crate::ui::render(session, plant, &mut self.0.get_frame());
        std::mem::take(self.0.current_buffer_mut())
    }
}

struct Slot {
    session: Session,
    canvas: Canvas,
    screen: Box<dyn Screen>,
    last_draw: Option<Instant>,
    /// The last key: idle sessions may be logged out.
    last_input: Instant,
    /// Why the session ends, once it does.
    stop: Option<String>,
}

pub struct Hub {
    runtime: PlantRuntime,
    slots: Vec<Slot>,
    next_id: u64,
    /// Where trend exports go.
    export_dir: PathBuf,
    /// Stop when the last session has gone (a console); a server keeps running.
    stop_when_empty: bool,
    /// Log a session out after this long without a key (off by default).
    idle_logout: Option<Duration>,
    /// Why the hub stops, once it does.
    shutdown: Option<String>,
}

impl Hub {
    pub fn new(runtime: PlantRuntime, export_dir: PathBuf, stop_when_empty: bool) -> Hub {
        Hub { runtime, slots: Vec::new(), next_id: 1, export_dir, stop_when_empty, idle_logout: None, shutdown: None }
    }

    /// Sessions without a key for `after` are logged out.
    pub fn idle_logout(mut self, after: Option<Duration>) -> Hub {
        self.idle_logout = after;
        self
    }

    /// The plant as it is now.
    pub fn plant(&self) -> &Plant {
        &self.runtime.plant
    }

    /// A new session for `person`, drawn on `screen`; its start goes on record.
    pub async fn add(&mut self, mut person: Person, from: String, screen: Box<dyn Screen>) -> SessionId {
        let id = SessionId(self.next_id);
        self.next_id += 1;
        // A server's sessions are numbered in its records; a console of its own has one.
        if person.actor.via.is_some() {
            person.actor.session = Some(id.0);
        }
        self.runtime.session_started(&person.actor, person.read_only).await;
        let now = SystemTime::now();
        let info = SessionInfo {
            id,
            user: person.actor.user.clone(),
            role: if person.read_only { "viewer (read-only)".into() } else { person.identity.role.as_str().into() },
            from,
            via: person.actor.via.clone(),
            since: now,
        };
        let mut session = Session::new(id, &self.runtime.plant, person, now);
        for note in self.runtime.notes.clone() {
            update(&mut session, &self.runtime.plant, Msg::Note(note), now);
        }
        let last_input = Instant::now();
        self.slots.push(Slot { session, canvas: Canvas::default(), screen, last_draw: None, last_input, stop: None });
        self.runtime.plant.sessions.push(info);
        self.tell(vec![PlantEvent::Sessions], now);
        id
    }

    /// Runs until every session has ended (a console), or until the server is told to stop
    /// (or `inputs` closes).
    pub async fn run(
        mut self,
        mut outcomes: mpsc::Receiver<Outcome>,
        mut inputs: mpsc::Receiver<ToHub>,
    ) -> io::Result<()> {
        let mut next_tick = next_second();
        loop {
            self.draw();
            self.end_stopped().await;
            if (self.slots.is_empty() && self.stop_when_empty) || self.shutdown.is_some() {
                break;
            }
            let deadline = self.slots.iter().filter(|s| s.session.dirty).map(|s| s.next_frame()).min();
            tokio::select! {
                o = outcomes.recv() => match o {
                    Some(o) => self.outcome(o),
                    None => break,
                },
                m = inputs.recv() => match m {
                    Some(m) => self.heard(m).await,
                    None => break,
                },
                _ = sleep_until(next_tick) => {
                    next_tick = next_second();
                    self.tick();
                }
                _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => continue,
            }
            // Drain the burst before drawing.
            for _ in 0..BURST {
                match outcomes.try_recv() {
                    Ok(o) => self.outcome(o),
                    Err(_) => match inputs.try_recv() {
                        Ok(m) => self.heard(m).await,
                        Err(_) => break,
                    },
                }
            }
        }
        let why = match self.shutdown.take() {
            Some(why) => why,
            None if self.stop_when_empty => "the console's input ended".into(),
            None => "the console server stopped".into(),
        };
        for slot in &mut self.slots {
            slot.stop.get_or_insert_with(|| why.clone());
        }
        self.end_stopped().await;
        self.runtime.stop().await;
        Ok(())
    }

    /// What a front end says.
    async fn heard(&mut self, m: ToHub) {
        match m {
            ToHub::Msg(id, m) => {
                if matches!(m, Msg::Key(_))
                    && let Some(slot) = self.slots.iter_mut().find(|s| s.session.id == id)
                {
                    slot.last_input = Instant::now();
                }
                self.deliver(id, m)
            }
            ToHub::Join(join) => {
                let Join { person, from, screen, reply } = *join;
                let id = self.add(person, from, screen).await;
                if reply.send(id).is_err() {
                    // The front end went away while the session started.
                    self.leave(id, "the connection closed while the session started".into());
                }
            }
            ToHub::Leave(id, why) => self.leave(id, why),
            ToHub::List(reply) => {
                let _ = reply.send(self.runtime.plant.sessions.clone());
            }
            ToHub::Shutdown(why) => self.shutdown = Some(why),
        }
    }

    fn leave(&mut self, id: SessionId, why: String) {
        if let Some(slot) = self.slots.iter_mut().find(|s| s.session.id == id) {
            slot.stop.get_or_insert(why);
        }
    }

    /// The clock ticked: the plant's alarm delays and shelves, then every session; idle sessions
    /// are logged out.
    fn tick(&mut self) {
        if let Some(after) = self.idle_logout {
            let now = Instant::now();
            for slot in self.slots.iter_mut().filter(|s| now.duration_since(s.last_input) >= after) {
                slot.stop.get_or_insert_with(|| format!("logged out after {} without a key", idle_words(after)));
            }
        }
        let now = SystemTime::now();
        let events = self.runtime.apply(crate::plant::Input::Tick, now);
        self.tell(events, now);
        for i in 0..self.slots.len() {
            self.step(i, Msg::Tick, now);
        }
    }

    fn outcome(&mut self, o: Outcome) {
        let now = SystemTime::now();
        match o {
            Outcome::Input(input) => {
                let events = self.runtime.apply(input, now);
                self.tell(events, now);
            }
            Outcome::WriteDone { to, tag, requested, result } => {
                self.deliver(to, Msg::WriteDone { tag, requested, result })
            }
        }
    }

    /// Every session hears every plant event (answers are for the one they name).
    fn tell(&mut self, events: Vec<PlantEvent>, now: SystemTime) {
        for e in events {
            for i in 0..self.slots.len() {
                self.step(i, Msg::Plant(e.clone()), now);
            }
        }
    }

    fn deliver(&mut self, id: SessionId, m: Msg) {
        if let Some(i) = self.slots.iter().position(|s| s.session.id == id) {
            self.step(i, m, SystemTime::now());
        }
    }

    /// One message through a session's `update`, and the effects it leads to.
    fn step(&mut self, i: usize, m: Msg, now: SystemTime) {
        let mut queue = VecDeque::from([m]);
        while let Some(m) = queue.pop_front() {
            let Some(slot) = self.slots.get_mut(i) else { return };
            if slot.stop.is_some() {
                return;
            }
            for effect in update(&mut slot.session, &self.runtime.plant, m, now) {
                match effect {
                    Effect::Quit(why) => slot.stop = Some(why),
                    Effect::Command(cmd) => self.runtime.command(cmd),
                    Effect::Bell => {
                        if let Err(e) = slot.screen.bell() {
                            slot.stop = Some(format!("terminal lost: {e}"));
                        }
                    }
                    Effect::Export { name, contents, rows } => {
                        queue.push_back(Msg::Exported(export(&self.export_dir, &name, &contents, rows)));
                    }
                }
            }
        }
    }

    /// Draws every session that changed and whose frame interval has passed. A screen that
    /// cannot be drawn on is gone (an SSH connection dropped): its session ends.
    fn draw(&mut self) {
        let plant = &self.runtime.plant;
        for slot in self.slots.iter_mut().filter(|s| s.session.dirty && s.stop.is_none()) {
            if slot.next_frame() > Instant::now() {
                continue;
            }
            let shown = slot.screen.size().and_then(|area| {
                let spare = slot.screen.spare();
                slot.screen.show(slot.canvas.frame(&slot.session, plant, area, spare))
            });
            match shown {
                Ok(()) => {
                    slot.session.dirty = false;
                    slot.last_draw = Some(Instant::now());
                }
                Err(e) => slot.stop = Some(format!("terminal lost: {e}")),
            }
        }
    }

    fn first_stopped(&self) -> Option<usize> {
        self.slots.iter().position(|s| s.stop.is_some())
    }

    /// Ends the sessions that stopped: on record before their screens are given back.
    async fn end_stopped(&mut self) {
        while let Some(i) = self.first_stopped() {
            let mut slot = self.slots.remove(i);
            let why = slot.stop.take().unwrap_or_default();
            tracing::info!("session {} of {} ended: {why}", slot.session.id.0, slot.session.actor.user);
            self.runtime.session_stopped(&slot.session.actor, why.clone()).await;
            slot.screen.end(&why);
            drop(slot.screen);
            let id = slot.session.id;
            self.runtime.plant.sessions.retain(|s| s.id != id);
            self.tell(vec![PlantEvent::Sessions], SystemTime::now());
        }
    }
}

impl Slot {
    fn next_frame(&self) -> Instant {
        self.last_draw.map_or_else(Instant::now, |t| t + FRAME)
    }
}

/// "15 min", "1 h 30 min", "45 s".
fn idle_words(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, _) => format!("{m} min"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// The next whole second: the clock on screen moves on time.
fn next_second() -> Instant {
    let into = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    Instant::now() + Duration::from_nanos(1_000_000_000 - into as u64 % 1_000_000_000)
}

/// Writes a trend export; says where, or why not.
fn export(dir: &std::path::Path, name: &str, contents: &str, rows: usize) -> Result<String, String> {
    let path = dir.join(name);
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, contents))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(format!("exported {rows} rows to {}", path.display()))
}
