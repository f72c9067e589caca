//! The console's runtime loop: one task owns the terminal; keys, drivers and the clock send
//! messages into one bounded channel; bursts are drained before drawing; drawing happens at most
//! every [`FRAME`] and only when something visible changed.

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};

use super::drivers;
use super::msg::{Effect, Msg};
use super::state::State;
use super::update::update;
use crate::layout::Layout;
use crate::ui::{self, terminal::TerminalGuard};

/// Shortest time between two frames.
pub const FRAME: Duration = Duration::from_millis(50);
/// Messages handled before a draw gets its turn.
const BURST: usize = 4096;

pub struct ConsoleOptions {
    pub read_only: bool,
    pub user: String,
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
    spawn_input(tx.clone());
    spawn_clock(tx.clone());
    spawn_signals(tx.clone());
    drop(tx);

    let mut state = State::new(layout.clone(), opts.user, opts.read_only, SystemTime::now());
    state.color = opts.color;
    state.utc_offset = opts.utc_offset;
    if opts.read_only {
        tracing::info!("console started read-only");
    }

    let mut guard = TerminalGuard::enter()?;
    let mut last_draw = Instant::now() - FRAME;
    'outer: loop {
        if state.dirty && last_draw.elapsed() >= FRAME {
            guard.terminal.draw(|f| ui::render(&state, f))?;
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
            let effects = update(&mut state, msg, SystemTime::now());
            if effects.contains(&Effect::Quit) {
                break 'outer;
            }
            handled += 1;
            next = if handled < BURST { rx.try_recv().ok() } else { None };
        }
    }
    drop(guard);
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
    }
    Ok(())
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
