//! The plant runtime: owns the drivers, the writer thread (audit log and alarm journal) and the
//! [`Plant`]. Whoever runs the loop (a console, a console server, `watch`) feeds it what arrives
//! on its channel ([`Outcome`]) and the commands of its sessions; what `apply` says goes back
//! out as [`PlantEvent`]s.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::command::{Command, SessionId, WriteOrder};
use super::records::Records;
use super::{Input, Plant, PlantEffect, PlantEvent, apply};
use crate::audit::{Action, Actor, AuditLog, RecordInput};
use crate::driver::{DriverEvent, NotSent, Requester, Unknown, WriteCommand, WriteDone, WriteError, WritePlan};
use crate::layout::{ConnId, ConnectionKind, Layout};
use crate::tag::{TagId, Value};

pub use crate::driver::spawn::DriverOptions;

/// The drivers of a layout, running: one task per connection, their events sent on the
/// channel they were started with.
pub struct DriverSet {
    tasks: Vec<JoinHandle<()>>,
    writers: HashMap<ConnId, mpsc::Sender<WriteCommand>>,
    stop: watch::Sender<bool>,
}

impl DriverSet {
    pub fn start<M: From<DriverEvent> + Send + 'static>(
        layout: &Layout,
        tx: &mpsc::Sender<M>,
        opts: &DriverOptions,
    ) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let d = crate::driver::spawn::spawn(layout, tx, &stop_rx, opts);
        DriverSet { tasks: d.tasks, writers: d.writers, stop }
    }

    /// How many connections run.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Tells every driver to stop (each reports `Stopped` when it has).
    pub fn signal_stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops the drivers and waits for them (a second each at most).
    pub async fn stop(self, wait: Duration) {
        self.signal_stop();
        for t in self.tasks {
            let _ = tokio::time::timeout(wait, t).await;
        }
    }
}

/// How long a write may wait for the device's answer.
const WRITE_ANSWER: Duration = Duration::from_secs(30);

/// Where the plant keeps its records, and how its drivers run.
#[derive(Clone, Debug)]
pub struct PlantOptions {
    /// Where audit records go.
    pub audit_path: PathBuf,
    /// The alarm journal: read at start to restore alarm states, appended to as they change.
    pub journal_path: PathBuf,
    /// The PIN lockouts of every user: read at start, replaced whenever they change.
    pub lockouts_path: PathBuf,
    pub drivers: DriverOptions,
}

/// What arrives on the plant's channel: driver events, records on disk, write answers.
#[derive(Debug)]
pub enum Outcome {
    /// Apply to the plant.
    Input(Input),
    /// A session's write was answered (or could not be sent).
    WriteDone { to: SessionId, tag: TagId, requested: Value, result: Result<WriteDone, WriteError> },
}

impl From<DriverEvent> for Outcome {
    fn from(e: DriverEvent) -> Self {
        Outcome::Input(Input::Driver(e))
    }
}

pub struct PlantRuntime {
    pub plant: Plant,
    /// Said to every session when it starts (what the start-up found: a damaged journal).
    pub notes: Vec<String>,
    records: Records,
    drivers: DriverSet,
    tx: mpsc::Sender<Outcome>,
    lockouts_path: PathBuf,
}

impl PlantRuntime {
    /// Opens the audit log and the alarm journal (restoring alarm states), and starts the
    /// drivers. What happens is reported on `tx`.
    pub fn start(layout: Arc<Layout>, opts: &PlantOptions, tx: mpsc::Sender<Outcome>) -> std::io::Result<Self> {
        let now = SystemTime::now();
        let mut plant = Plant::new(layout.clone(), now);
        let audit = match AuditLog::open(&opts.audit_path) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::error!("audit log: {e}");
                plant.audit_broken = Some(format!("it cannot be opened: {e}"));
                None
            }
        };
        let (journal, restored) = super::restore::open_journal(&mut plant, &opts.journal_path, &opts.audit_path);
        let lockouts = super::lockouts::load(&opts.lockouts_path, now);
        plant.lockouts = lockouts.lockouts;
        let notes: Vec<String> = restored.note.into_iter().chain(lockouts.note).collect();
        let report_tx = tx.clone();
        // Never waits: the writer must not block on a full channel while the loop that drains
        // it waits for the writer (a failure not said now is said with the next batch).
        let report = Box::new(move |why: String| {
            let _ = report_tx.try_send(Outcome::Input(Input::JournalFailed(why)));
        });
        let records = Records::start(audit, journal, opts.journal_path.clone(), report)?;
        if let Some(why) = restored.journal_failed {
            // Said in every session once it is there (the plant's first input).
            let _ = tx.try_send(Outcome::Input(Input::JournalFailed(why)));
        }
        let drivers = DriverSet::start(&layout, &tx, &opts.drivers);
        Ok(PlantRuntime { plant, notes, records, drivers, tx, lockouts_path: opts.lockouts_path.clone() })
    }

    /// Puts a session's start on record (with the exceptions the layout makes to security: an
    /// OPC UA connection that accepts a certificate not naming its host). Without an audit log
    /// there are no writes and no alarm operations (fail secure).
    pub async fn session_started(&mut self, actor: &Actor, read_only: bool) {
        let now = SystemTime::now();
        let exceptions: Vec<String> = self
            .plant
            .layout
            .connections
            .iter()
            .filter(|c| matches!(&c.kind, ConnectionKind::OpcUa(u) if u.accept_host_name_mismatch))
            .map(|c| {
                format!("{}: accept_host_name_mismatch (a server certificate that does not name the host)", c.name)
            })
            .collect();
        let mut start = RecordInput::new(now, actor, Action::ConsoleStart);
        if !exceptions.is_empty() {
            start = start.result(exceptions.join("; "));
        }
        let mut first = vec![start];
        if read_only {
            first.push(RecordInput::new(now, actor, Action::ReadOnlyStart));
            tracing::info!("console started read-only");
        }
        if self.plant.audit_broken.is_some() {
            return;
        }
        if let Err(e) = answer(self.records.append(first)).await {
            self.plant.audit_broken = Some(e);
        }
    }

    /// Puts a session's end on record, and waits until it is on disk.
    pub async fn session_stopped(&mut self, actor: &Actor, why: String) {
        tracing::info!("console stopped: {why}");
        let stop = RecordInput::new(SystemTime::now(), actor, Action::ConsoleStop).result(why);
        let _ = answer(self.records.append(vec![stop])).await;
    }

    /// Applies an input; journals what must be journalled and returns what sessions hear.
    pub fn apply(&mut self, input: Input, now: SystemTime) -> Vec<PlantEvent> {
        let mut events = Vec::new();
        for effect in apply(&mut self.plant, input, now) {
            match effect {
                PlantEffect::Journal(ts) => self.records.journal(ts),
                PlantEffect::Event(e) => events.push(e),
                PlantEffect::SaveLockouts(text) => self.records.lockouts(self.lockouts_path.clone(), text),
            }
        }
        events
    }

    /// Carries out a session's command: its records go on disk first; only then is the write
    /// sent or the alarm operation applied (it comes back on the channel as an input). A PIN
    /// result is the exception: it is counted at once, before this returns, so the next
    /// message of any session sees it; a lockout does not wait for the disk.
    pub fn command(&mut self, cmd: Command) {
        let tx = self.tx.clone();
        match cmd {
            Command::Record { record, .. } => self.record(vec![*record]),
            Command::Pin { user, ok, at, audit, .. } => {
                if !audit.is_empty() {
                    self.record(audit);
                }
                // Counted whatever becomes of the records; it tells no session anything (each
                // reads the lockouts from the plant).
                let _ = self.apply(Input::Pin { user, ok }, at);
            }
            Command::Alarm { from, actor, action, audit } => {
                let on_disk = self.records.append(audit);
                tokio::spawn(async move {
                    let input = match answer(on_disk).await {
                        Ok(()) => Input::OnRecord { from, user: actor.user, action },
                        Err(e) => Input::AuditFailed(e),
                    };
                    let _ = tx.send(Outcome::Input(input)).await;
                });
            }
            Command::Write { from, order, actor } => {
                self.write(from, *order, Requester { user: actor.user, role: actor.role })
            }
        }
    }

    /// Puts records on disk; the audit log failing disables writing in every session.
    fn record(&self, records: Vec<RecordInput>) {
        drop(self.put_on_record(records)); // nobody waits: a failure reaches the plant anyway
    }

    /// Puts `records` on disk; the receiver hears when that is over. A failure is told to the
    /// plant first (as for any record), so whoever waits can answer knowing the plant knows.
    pub fn put_on_record(&self, records: Vec<RecordInput>) -> oneshot::Receiver<()> {
        let on_disk = self.records.append(records);
        let tx = self.tx.clone();
        let (done, over) = oneshot::channel();
        tokio::spawn(async move {
            if let Err(e) = answer(on_disk).await {
                let _ = tx.send(Outcome::Input(Input::AuditFailed(e))).await;
            }
            let _ = done.send(());
        });
        over
    }

    /// Records the attempt, then sends the write; the answer comes back on the channel. Nothing
    /// is sent unless the attempt is on record.
    fn write(&mut self, from: SessionId, order: WriteOrder, by: Requester) {
        let WriteOrder { plan, audit } = order;
        let on_disk = self.records.append(vec![audit]);
        let writer = self.drivers.writers.get(&plan.conn()).cloned();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(on_disk).await {
                let _ = tx.send(Outcome::Input(Input::AuditFailed(e))).await;
                return;
            }
            let (tag, requested) = (plan.tag(), plan.expected().clone());
            let result = send(writer, plan, by).await;
            let _ = tx.send(Outcome::WriteDone { to: from, tag, requested, result }).await;
        });
    }

    /// Stops the drivers and the writer thread, once what is queued is on disk.
    pub async fn stop(self) {
        self.drivers.stop(Duration::from_secs(1)).await;
        self.records.finish().await;
    }
}

/// Sends a write plan to its connection's driver and waits for the answer.
async fn send(
    writer: Option<mpsc::Sender<WriteCommand>>,
    plan: WritePlan,
    by: Requester,
) -> Result<WriteDone, WriteError> {
    let Some(writer) = writer else { return Err(NotSent::ReadOnly.into()) };
    let (reply, rx) = oneshot::channel();
    let cmd = WriteCommand { plan, sent_at: std::time::Instant::now(), by, reply };
    match writer.try_send(cmd) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => return Err(NotSent::Busy.into()),
        Err(mpsc::error::TrySendError::Closed(_)) => return Err(NotSent::DriverGone.into()),
    }
    match tokio::time::timeout(WRITE_ANSWER, rx).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err(Unknown::DriverStopped.into()),
        Err(_) => Err(Unknown::NoAnswer("no answer within 30 s".into()).into()),
    }
}

/// The writer thread's answer; a thread that stopped answers nothing.
async fn answer(rx: oneshot::Receiver<Result<(), String>>) -> Result<(), String> {
    rx.await.unwrap_or_else(|_| Err("the audit writer stopped".into()))
}
