//! What several commands need: the async runtime, a layout loaded for running, and the default
//! places of the PKI folder, the audit log and the PIN lockouts.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::layout::{self, Layout};
use crate::paths;

/// The runtime a command's async work runs on (two worker threads).
pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("starting the runtime")
}

/// A layout to run: its warnings go to the log; any error stops the command before anything
/// talks to a device.
pub(super) fn load(path: &Path) -> Result<Layout> {
    match layout::load(path) {
        Ok(l) => {
            for w in &l.warnings {
                tracing::warn!("{w}");
            }
            Ok(l)
        }
        Err(e) => bail!("the layout has problems; nothing was started\n{e}"),
    }
}

/// Where a plant that serves others (`serve`, `gateway`) keeps its records: the audit log and the
/// journal given, or their defaults for `layout`; the lockouts beside them.
pub(super) fn plant_options(
    layout: &Path,
    audit: Option<PathBuf>,
    journal: Option<PathBuf>,
    drivers: crate::driver::spawn::DriverOptions,
) -> crate::plant::runtime::PlantOptions {
    crate::plant::runtime::PlantOptions {
        audit_path: audit.unwrap_or_else(default_audit_path),
        journal_path: journal.unwrap_or_else(|| journal_path(layout)),
        lockouts_path: default_lockouts_path(),
        drivers,
    }
}

/// SIGTERM, SIGINT and SIGHUP, caught from the moment they are installed: before a start message
/// says how to stop the program, so that a signal sent on seeing it is never the default action
/// (which would end the process without its goodbyes).
pub(super) struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs the handlers (inside the runtime).
    pub(super) fn install() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("signal handler")?,
            int: signal(SignalKind::interrupt()).context("signal handler")?,
            hup: signal(SignalKind::hangup()).context("signal handler")?,
        })
    }

    /// Waits for one and says which came.
    pub(super) async fn wait(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}

/// The PKI folder of OPC UA connections to real servers.
pub(super) fn pki_dir() -> PathBuf {
    paths::data_dir().join("pki")
}

/// `audit.jsonl` in the state folder.
pub(super) fn default_audit_path() -> PathBuf {
    paths::state_dir().join("audit.jsonl")
}

/// `alarms/<layout file name>.jsonl` in the state folder: one journal per layout, so the alarm
/// keys in it are the layout's.
pub(super) fn journal_path(layout: &Path) -> PathBuf {
    let stem = layout.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "layout".into());
    paths::state_dir().join("alarms").join(format!("{stem}.jsonl"))
}

/// This installation's key for signed Sparkplug commands (`command.key` in the state folder).
pub(super) fn command_key_path() -> PathBuf {
    crate::driver::sparkplug::command::key_path()
}

/// `lockouts.json` in the state folder: the PIN lockouts of every user, next to the audit log.
pub(super) fn default_lockouts_path() -> PathBuf {
    paths::state_dir().join("lockouts.json")
}

/// What `ttyhmi demo` and `ttyhmi sim` say in a build without the simulated plant (the Debian
/// package leaves it out: a plant's console has no use for it, and it is 12 of the binary's 29 MB).
#[cfg(not(feature = "sim"))]
pub(super) fn without_simulator(command: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "`ttyhmi {command}` needs the simulated plant, which this build of ttyhmi leaves out (the Debian package \
         does). Build one with it from the source: `cargo install --path .` (the `sim` feature is on by default)"
    )
}
