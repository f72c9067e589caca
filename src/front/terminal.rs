//! The terminal guard: raw mode and the alternate screen while the console runs, restored on
//! every way out — normal exit, error (Drop), panic (a chained hook restores, then the previous
//! hook prints). Signals (SIGTERM, SIGHUP) are turned into a clean exit by the runtime.

use std::io::{self, Stdout};
use std::sync::Once;

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

pub struct TerminalGuard {
    /// Always `Some` until the guard is dropped.
    terminal: Option<Term>,
}

impl TerminalGuard {
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        let mut out = io::stdout();
        if let Err(e) = execute!(out, EnterAlternateScreen, Hide) {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(out)) {
            Ok(terminal) => Ok(TerminalGuard { terminal: Some(terminal) }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl TerminalGuard {
    /// The terminal to draw on.
    pub fn terminal(&mut self) -> io::Result<&mut Term> {
        self.terminal.as_mut().ok_or_else(|| io::Error::other("the terminal was given back"))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if let Some(mut t) = self.terminal.take() {
            // ratatui shows the cursor when its terminal is dropped and, if it cannot, prints to a
            // standard error that is gone too and panics: a terminal that is gone (the SSH
            // connection dropped) is let go of without that.
            if t.show_cursor().is_err() {
                std::mem::forget(t);
            }
        }
        restore();
    }
}

/// Puts the terminal back as it was. Safe to call more than once, and when the terminal is gone
/// (SIGHUP): errors are ignored.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
