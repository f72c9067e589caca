//! The local terminal: `ttyhmi run` and `ttyhmi demo` are one plant and one session on the
//! terminal the console was started in. Keys come from an input thread, signals (SIGTERM,
//! SIGHUP, SIGINT) end the session cleanly, and the terminal guard gives the terminal back on
//! every way out.

use std::io;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::hub::{BURST, Hub, Screen};
use super::terminal::TerminalGuard;
use crate::audit::Actor;
use crate::layout::Layout;
use crate::plant::runtime::DriverOptions;
use crate::plant::runtime::{PlantOptions, PlantRuntime};
use crate::plant::{Plant, SessionId};
use crate::session::msg::Msg;
use crate::session::state::{Person, Session};

pub struct ConsoleOptions {
    pub read_only: bool,
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
    pub drivers: DriverOptions,
}

/// The local terminal as a hub screen.
struct Local(TerminalGuard);

impl Screen for Local {
    fn draw(&mut self, session: &Session, plant: &Plant) -> io::Result<()> {
        self.0.terminal()?.draw(|f| crate::ui::render(session, plant, f)).map(|_| ())
    }

    fn bell(&mut self) -> io::Result<()> {
        use std::io::Write;
        let out = self.0.terminal()?.backend_mut();
        out.write_all(b"\x07").and_then(|()| out.flush())
    }
}

/// Runs the console until the user quits or a signal arrives.
pub async fn run_console(layout: Layout, opts: ConsoleOptions) -> io::Result<()> {
    let layout = Arc::new(layout);
    let (tx, outcomes) = mpsc::channel(BURST);
    let plant_opts = PlantOptions {
        audit_path: opts.audit_path.clone(),
        journal_path: opts.journal_path.clone(),
        drivers: opts.drivers.clone(),
    };
    let runtime = PlantRuntime::start(layout, &plant_opts, tx)?;
    let mut hub = Hub::new(runtime, opts.export_dir.clone(), true);
    let guard = TerminalGuard::enter()?;
    let id = hub.add(person(&opts), Box::new(Local(guard))).await;
    let (keys, inputs) = mpsc::channel(BURST);
    spawn_input(id, keys.clone());
    spawn_signals(id, keys);
    hub.run(outcomes, inputs).await
}

/// Who sits at this terminal.
fn person(opts: &ConsoleOptions) -> Person {
    let host = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    let actor = Actor {
        user: opts.identity.user.clone(),
        host,
        ssh_client: crate::audit::ssh_client_from_env(),
        role: opts.identity.role.as_str().to_string(),
    };
    Person {
        identity: opts.identity.clone(),
        actor,
        read_only: opts.read_only,
        color: opts.color,
        utc_offset: opts.utc_offset,
        demo_pin: opts.demo_pin.clone(),
    }
}

/// Terminal events on a thread of their own (crossterm's read blocks).
fn spawn_input(id: SessionId, tx: mpsc::Sender<(SessionId, Msg)>) {
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
                if tx.blocking_send((id, msg)).is_err() || lost {
                    break;
                }
            }
        })
        .map(|_| ())
        .unwrap_or_else(|e| tracing::error!("cannot start the input thread: {e}"));
}

/// SIGTERM, SIGHUP (the SSH connection dropped) and SIGINT end the console cleanly.
fn spawn_signals(id: SessionId, tx: mpsc::Sender<(SessionId, Msg)>) {
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
        let _ = tx.send((id, Msg::Signal(name))).await;
    });
}
