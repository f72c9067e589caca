//! The local terminal: `ttyhmi run` and `ttyhmi demo` are one plant and one session on the
//! terminal the console was started in. Keys come from an input thread, signals (SIGTERM,
//! SIGHUP, SIGINT) end the session cleanly, and the terminal guard gives the terminal back on
//! every way out.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use tokio::sync::mpsc;

use super::hub::{BURST, Hub, Screen, ToHub};
use super::mailbox::Mailbox;
use super::terminal::TerminalGuard;
use crate::audit::Actor;
use crate::layout::Layout;
use crate::plant::SessionId;
use crate::plant::runtime::DriverOptions;
use crate::plant::runtime::{PlantOptions, PlantRuntime};
use crate::session::msg::Msg;
use crate::session::state::Person;

pub struct ConsoleOptions {
    pub read_only: bool,
    /// Who the user is and their role (from the users file, or the demo's operator).
    pub identity: crate::auth::Identity,
    /// Where audit records go.
    pub audit_path: std::path::PathBuf,
    /// The alarm journal: read at start to restore alarm states, appended to as they change.
    pub journal_path: std::path::PathBuf,
    /// The PIN lockouts (see [`PlantOptions::lockouts_path`]).
    pub lockouts_path: std::path::PathBuf,
    /// Where trend exports go.
    pub export_dir: std::path::PathBuf,
    /// `ttyhmi demo`: the demo PIN, shown in the status bar.
    pub demo_pin: Option<String>,
    pub color: bool,
    pub utc_offset: time::UtcOffset,
    pub drivers: DriverOptions,
}

/// The local terminal as a hub screen: frames go through a mailbox to a writer thread that owns
/// the terminal, so a terminal that blocks (a stalled SSH link) never holds up the plant.
struct Local {
    mailbox: Arc<Mailbox<Buffer>>,
    /// The writer says here that it has ended (and the terminal is given back).
    ended: std::sync::mpsc::Receiver<()>,
}

impl Local {
    fn start(guard: TerminalGuard) -> io::Result<Local> {
        let mailbox = Arc::new(Mailbox::default());
        let (done, ended) = std::sync::mpsc::channel();
        let m = mailbox.clone();
        std::thread::Builder::new().name("terminal".into()).spawn(move || {
            write_frames(guard, &m);
            let _ = done.send(());
        })?;
        Ok(Local { mailbox, ended })
    }
}

impl Screen for Local {
    fn size(&mut self) -> io::Result<Rect> {
        let (w, h) = crossterm::terminal::size()?;
        Ok(Rect::new(0, 0, w, h))
    }

    fn show(&mut self, frame: Buffer) -> io::Result<()> {
        self.mailbox.post(frame).map_err(io::Error::other)
    }

    fn bell(&mut self) -> io::Result<()> {
        self.mailbox.bell().map_err(io::Error::other)
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.mailbox.close();
        // The writer sends what waits and gives the terminal back; one that is stuck on a
        // terminal that does not take bytes any more is not waited for long.
        if self.ended.recv_timeout(Duration::from_secs(1)).is_err() {
            super::terminal::restore();
        }
    }
}

/// The writer thread: draws each frame it takes (ratatui sends only the cells that changed) and
/// rings the bell; ends when the mailbox is closed, or when the terminal fails (said in the
/// mailbox, so the session ends).
fn write_frames(mut guard: TerminalGuard, mailbox: &Mailbox<Buffer>) {
    while let Some(post) = mailbox.take(Duration::from_secs(1)) {
        let written = guard.terminal().and_then(|t| {
            if let Some(frame) = &post.frame {
                t.draw(|f| super::ansi::copy(frame, f.buffer_mut()))?;
            }
            if post.bells > 0 {
                use std::io::Write;
                let out = t.backend_mut();
                out.write_all(b"\x07").and_then(|()| out.flush())?;
            }
            Ok(())
        });
        if let Err(e) = written {
            mailbox.fail(e.to_string());
            return;
        }
    }
}

/// Runs the console until the user quits or a signal arrives.
pub async fn run_console(layout: Layout, opts: ConsoleOptions) -> io::Result<()> {
    let layout = Arc::new(layout);
    let (tx, outcomes) = mpsc::channel(BURST);
    let plant_opts = PlantOptions {
        audit_path: opts.audit_path.clone(),
        journal_path: opts.journal_path.clone(),
        lockouts_path: opts.lockouts_path.clone(),
        drivers: opts.drivers.clone(),
    };
    let runtime = PlantRuntime::start(layout, &plant_opts, tx)?;
    let mut hub = Hub::new(runtime, opts.export_dir.clone(), true);
    let screen = Local::start(TerminalGuard::enter()?)?;
    let id = hub.add(person(&opts), "this terminal".into(), Box::new(screen)).await;
    let (keys, inputs) = mpsc::channel(BURST);
    spawn_input(id, keys.clone());
    spawn_signals(id, keys);
    hub.run(outcomes, inputs).await
}

/// Who sits at this terminal.
fn person(opts: &ConsoleOptions) -> Person {
    let host = crate::auth::host_name();
    let actor = Actor {
        user: opts.identity.user.clone(),
        host,
        ssh_client: crate::audit::ssh_client_from_env(),
        role: opts.identity.role.as_str().to_string(),
        session: None,
        via: None,
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
fn spawn_input(id: SessionId, tx: mpsc::Sender<ToHub>) {
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
                if tx.blocking_send(ToHub::Msg(id, msg)).is_err() || lost {
                    break;
                }
            }
        })
        .map(|_| ())
        .unwrap_or_else(|e| tracing::error!("cannot start the input thread: {e}"));
}

/// SIGTERM, SIGHUP (the SSH connection dropped) and SIGINT end the console cleanly.
fn spawn_signals(id: SessionId, tx: mpsc::Sender<ToHub>) {
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
        let _ = tx.send(ToHub::Msg(id, Msg::Signal(name))).await;
    });
}
