//! The console's runtime loop: one task owns the terminal; keys, drivers and the clock send
//! messages into one bounded channel; bursts are drained before drawing; drawing happens at most
//! every [`FRAME`] and only when something visible changed.

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};

use super::drivers;
use std::collections::HashMap;

use tokio::sync::oneshot;

use super::msg::{Effect, Msg, WriteOrder};
use super::state::State;
use super::update::update;
use crate::alarm::Transition;
use crate::alarm::journal::Journal;
use crate::audit::{Action, Actor, AuditLog, RecordInput};
use crate::auth::Role;
use crate::driver::{NotSent, Unknown, WriteCommand};
use crate::layout::ConnId;
use crate::layout::Layout;
use crate::ui::{self, terminal::TerminalGuard};

/// Shortest time between two frames.
pub const FRAME: Duration = Duration::from_millis(50);
/// Messages handled before a draw gets its turn.
const BURST: usize = 4096;

pub struct ConsoleOptions {
    pub read_only: bool,
    pub user: String,
    /// Who the user is and their role (from the users file, or the demo's operator).
    pub identity: crate::auth::Identity,
    /// Where audit records go.
    pub audit_path: std::path::PathBuf,
    /// The alarm journal: read at start to restore alarm states, appended to as they change.
    pub journal_path: std::path::PathBuf,
    /// Where trend exports go.
    pub export_dir: std::path::PathBuf,
    /// `ttyhmi demo`: the demo PIN, shown in the status bar.
    pub demo_pin: Option<String>,
    pub color: bool,
    pub utc_offset: time::UtcOffset,
    pub drivers: drivers::DriverOptions,
}

/// Runs the console until the user quits or a signal arrives.
pub async fn run_console(layout: Layout, opts: ConsoleOptions) -> io::Result<()> {
    let layout = Arc::new(layout);
    let (tx, mut rx) = mpsc::channel::<Msg>(BURST);
    let (stop_tx, stop_rx) = watch::channel(false);
    let drivers = drivers::spawn(&layout, &tx, &stop_rx, &opts.drivers);
    let tasks = drivers.tasks;
    let tx_for_writes = tx.clone();
    spawn_input(tx.clone());
    spawn_clock(tx.clone());
    spawn_signals(tx.clone());
    drop(tx);

    let mut state = initial_state(layout.clone(), &opts);
    let audit = open_audit(&mut state, opts.read_only, &opts.audit_path);
    let mut journal = super::restore::open_journal(&mut state, &opts.journal_path, &opts.audit_path);
    let mut io = Io {
        audit,
        writers: drivers.writers,
        replies: tx_for_writes,
        unjournaled: Vec::new(),
        export_dir: opts.export_dir.clone(),
        guard: TerminalGuard::enter()?,
    };
    let mut last_draw = Instant::now() - FRAME;
    // Why the console stops, for its console-stop audit record.
    let mut stopped_by = String::from("the console's input ended");
    'outer: loop {
        if state.dirty && last_draw.elapsed() >= FRAME {
            // A terminal that cannot be drawn on is gone (an SSH connection dropped): stop, and
            // still put the stop on record.
            if let Err(e) = io.guard.terminal().and_then(|t| t.draw(|f| ui::render(&state, f)).map(|_| ())) {
                stopped_by = format!("terminal lost: {e}");
                break 'outer;
            }
            state.dirty = false;
            last_draw = Instant::now();
        }
        let deadline = state.dirty.then_some(last_draw + FRAME);
        let first = tokio::select! {
            m = rx.recv() => m,
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => continue,
        };
        let Some(first) = first else { break };
        let mut next = Some(first);
        let mut handled = 0;
        while let Some(msg) = next {
            let mut queue = std::collections::VecDeque::from([msg]);
            while let Some(m) = queue.pop_front() {
                for effect in update(&mut state, m, SystemTime::now()) {
                    match io.carry_out(effect) {
                        Ok(Some(back)) => queue.push_back(back),
                        Ok(None) => {}
                        Err(why) => {
                            stopped_by = why;
                            break 'outer;
                        }
                    }
                }
            }
            handled += 1;
            next = if handled < BURST { rx.try_recv().ok() } else { None };
        }
        // One fsync for the whole burst; a failed batch is kept and tried again.
        if let Err(e) = flush_journal(&mut journal, &opts.journal_path, &mut io.unjournaled) {
            update(&mut state, Msg::JournalFailed(e), SystemTime::now());
        }
    }
    let _ = flush_journal(&mut journal, &opts.journal_path, &mut io.unjournaled);
    // On record before the terminal is given back: nothing that happens to a terminal that is
    // gone may cost the record.
    tracing::info!("console stopped: {stopped_by}");
    let stop = RecordInput::new(SystemTime::now(), &state.actor, Action::ConsoleStop).result(stopped_by);
    let _ = append(&mut io.audit, stop);
    drop(io);
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
    }
    Ok(())
}

/// What carries out `update`'s effects: the audit log, the drivers' write inboxes, the alarm
/// transitions waiting for the journal, the export folder, the terminal.
struct Io {
    audit: Option<AuditLog>,
    writers: HashMap<ConnId, mpsc::Sender<WriteCommand>>,
    /// Where write results come back.
    replies: mpsc::Sender<Msg>,
    unjournaled: Vec<Transition>,
    export_dir: std::path::PathBuf,
    guard: TerminalGuard,
}

impl Io {
    /// Carries out one effect: the message it leads to, if any, or why the console stops.
    fn carry_out(&mut self, effect: Effect) -> Result<Option<Msg>, String> {
        Ok(match effect {
            Effect::Quit(why) => return Err(why),
            Effect::Audit(r) => append(&mut self.audit, r).err().map(Msg::AuditFailed),
            Effect::Write(order) => send_write(&mut self.audit, &self.writers, &self.replies, order),
            Effect::Journal(ts) => {
                self.unjournaled.extend(ts);
                None
            }
            Effect::Export { name, contents, rows } => {
                Some(Msg::Exported(export(&self.export_dir, &name, &contents, rows)))
            }
            Effect::Bell => {
                use std::io::Write;
                let rang = self.guard.terminal().and_then(|t| {
                    let out = t.backend_mut();
                    out.write_all(b"\x07").and_then(|()| out.flush())
                });
                rang.map_err(|e| format!("terminal lost: {e}"))?;
                None
            }
            Effect::AlarmAction(order) => {
                let on_record = order.audit.into_iter().try_for_each(|r| append(&mut self.audit, r));
                Some(match on_record {
                    Ok(()) => Msg::Alarm(order.action),
                    Err(e) => Msg::AuditFailed(e),
                })
            }
        })
    }
}

/// The console's state at start: who is at it, and why writing is off if it is (read-only, a
/// viewer — with how to get a role —, a users file that was refused).
fn initial_state(layout: Arc<Layout>, opts: &ConsoleOptions) -> State {
    let mut state = State::new(layout, opts.user.clone(), opts.read_only, SystemTime::now());
    state.color = opts.color;
    state.utc_offset = opts.utc_offset;
    state.demo_pin = opts.demo_pin.clone();
    state.identity = opts.identity.clone();
    let host = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    state.actor = Actor {
        user: state.identity.user.clone(),
        host,
        ssh_client: crate::audit::ssh_client_from_env(),
        role: state.identity.role.as_str().to_string(),
    };
    let hint = crate::auth::role_hint(&state.identity).map(|h| format!("; to get a role, {h}")).unwrap_or_default();
    if let Some(warning) = state.identity.warning() {
        // The users file was refused: say why on screen.
        state.writes_disabled.get_or_insert(format!("{warning}{hint}"));
    }
    if state.writes_disabled.is_none() && !state.identity.role.at_least(Role::Operator) {
        state.writes_disabled = Some(format!("{} is a viewer{hint}", state.identity.user));
    }
    state
}

/// Opens the audit log and puts the start on record (with the exceptions the layout makes to
/// security: an OPC UA connection that accepts a certificate not naming its host). Without an
/// audit log there are no writes and no alarm operations (fail secure).
fn open_audit(state: &mut State, read_only: bool, path: &std::path::Path) -> Option<AuditLog> {
    let mut audit = match AuditLog::open(path) {
        Ok(a) => a,
        Err(e) => {
            state.writes_disabled.get_or_insert(format!("the audit log cannot be opened: {e}"));
            state.audit_broken = Some(format!("it cannot be opened: {e}"));
            tracing::error!("audit log: {e}");
            return None;
        }
    };
    let now = SystemTime::now();
    let exceptions: Vec<String> = state
        .layout
        .connections
        .iter()
        .filter(|c| matches!(&c.kind, crate::layout::ConnectionKind::OpcUa(u) if u.accept_host_name_mismatch))
        .map(|c| format!("{}: accept_host_name_mismatch (a server certificate that does not name the host)", c.name))
        .collect();
    let mut start = RecordInput::new(now, &state.actor, Action::ConsoleStart);
    if !exceptions.is_empty() {
        start = start.result(exceptions.join("; "));
    }
    let mut first = vec![start];
    if read_only {
        first.push(RecordInput::new(now, &state.actor, Action::ReadOnlyStart));
        tracing::info!("console started read-only");
    }
    for r in first {
        if let Err(e) = audit.append(r) {
            state.writes_disabled.get_or_insert(format!("the audit log cannot be written: {e}"));
            state.audit_broken.get_or_insert(e.to_string());
        }
    }
    Some(audit)
}

/// Appends what is waiting (one fsync); on failure keeps it for the next try, bounded so a
/// journal that stays broken cannot eat the memory. A journal that could not be opened is
/// opened again first.
fn flush_journal(
    journal: &mut Option<Journal>,
    path: &std::path::Path,
    waiting: &mut Vec<Transition>,
) -> Result<(), String> {
    if waiting.is_empty() {
        return Ok(());
    }
    let result = match journal {
        Some(j) => j.append(waiting),
        None => Journal::open(path).and_then(|mut j| {
            j.append(waiting)?;
            *journal = Some(j);
            Ok(())
        }),
    };
    match result {
        Ok(()) => {
            waiting.clear();
            Ok(())
        }
        Err(e) => {
            if waiting.len() > MAX_UNJOURNALED {
                let drop = waiting.len() - MAX_UNJOURNALED;
                tracing::error!("alarm journal: {drop} transitions dropped from memory after it failed: {e}");
                waiting.drain(..drop);
            }
            Err(e.to_string())
        }
    }
}

/// Writes a trend export; says where, or why not.
fn export(dir: &std::path::Path, name: &str, contents: &str, rows: usize) -> Result<String, String> {
    let path = dir.join(name);
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, contents))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(format!("exported {rows} rows to {}", path.display()))
}

/// Transitions kept in memory while the journal cannot be written.
const MAX_UNJOURNALED: usize = 100_000;

/// Appends a record (fsync'd). Without an audit log nothing can be recorded, and writing is
/// already disabled.
fn append(audit: &mut Option<AuditLog>, r: RecordInput) -> Result<(), String> {
    match audit {
        Some(a) => a.append(r).map(|_| ()).map_err(|e| e.to_string()),
        None => Err("there is no audit log".into()),
    }
}

/// Records the attempt, then sends the write; returns the message to feed back when it could
/// not be sent. Nothing is sent unless the attempt is on record.
fn send_write(
    audit: &mut Option<AuditLog>,
    writers: &HashMap<ConnId, mpsc::Sender<WriteCommand>>,
    tx: &mpsc::Sender<Msg>,
    order: WriteOrder,
) -> Option<Msg> {
    let WriteOrder { plan, audit: record } = order;
    if let Err(e) = append(audit, record) {
        return Some(Msg::AuditFailed(e));
    }
    let (tag, value) = (plan.tag(), plan.expected().clone());
    let fail = |why: NotSent| Msg::WriteDone { tag, requested: value.clone(), result: Err(why.into()) };
    let Some(writer) = writers.get(&plan.conn()) else {
        return Some(fail(NotSent::ReadOnly));
    };
    let (reply, rx) = oneshot::channel();
    let cmd = WriteCommand { plan, sent_at: std::time::Instant::now(), reply };
    match writer.try_send(cmd) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => return Some(fail(NotSent::Busy)),
        Err(mpsc::error::TrySendError::Closed(_)) => return Some(fail(NotSent::DriverGone)),
    }
    let tx = tx.clone();
    tokio::spawn(async move {
        let result = match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Unknown::DriverStopped.into()),
            Err(_) => Err(Unknown::NoAnswer("no answer within 30 s".into()).into()),
        };
        let _ = tx.send(Msg::WriteDone { tag, requested: value, result }).await;
    });
    None
}

/// Terminal events on a thread of their own (crossterm's read blocks).
fn spawn_input(tx: mpsc::Sender<Msg>) {
    std::thread::Builder::new()
        .name("input".into())
        .spawn(move || {
            loop {
                let msg = match crossterm::event::read() {
                    Ok(crossterm::event::Event::Key(k)) => Msg::Key(k),
                    Ok(crossterm::event::Event::Resize(..)) => Msg::Resize,
                    Ok(_) => continue,
                    // The terminal is gone (SSH dropped): leave.
                    Err(_) => Msg::Signal("terminal lost"),
                };
                let lost = matches!(msg, Msg::Signal(_));
                if tx.blocking_send(msg).is_err() || lost {
                    break;
                }
            }
        })
        .map(|_| ())
        .unwrap_or_else(|e| tracing::error!("cannot start the input thread: {e}"));
}

/// One tick a second, aligned to the second so the clock moves on time.
fn spawn_clock(tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        loop {
            let now = SystemTime::now();
            let into = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
            let wait = Duration::from_nanos(1_000_000_000 - into as u64 % 1_000_000_000);
            tokio::time::sleep(wait).await;
            if tx.send(Msg::Tick).await.is_err() {
                break;
            }
        }
    });
}

/// SIGTERM, SIGHUP (the SSH connection dropped) and SIGINT end the console cleanly.
fn spawn_signals(tx: mpsc::Sender<Msg>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup), Ok(mut int)) =
            (signal(SignalKind::terminate()), signal(SignalKind::hangup()), signal(SignalKind::interrupt()))
        else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = hup.recv() => "SIGHUP",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!("{name}: leaving");
        let _ = tx.send(Msg::Signal(name)).await;
    });
}
