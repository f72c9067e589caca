//! `ttyhmi run`: the console on a layout file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::common::{default_audit_path, default_lockouts_path, journal_path, load, pki_dir, runtime};
use super::console::Console;
use crate::auth;
use crate::front::local::run_console;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  ttyhmi run layouts/boiler.yaml\n  ttyhmi run --read-only --no-color /etc/ttyhmi/boiler.yaml\n  ttyhmi run plant.yaml --users ./users.yaml --audit ./audit.jsonl"
)]
pub(super) struct RunArgs {
    /// The layout file (YAML): connections, tags, screens, alarms.
    layout: PathBuf,
    /// Monitoring only: nothing can be written to any device.
    #[arg(long)]
    read_only: bool,
    /// No colour (also when the NO_COLOR environment variable is set).
    #[arg(long)]
    no_color: bool,
    /// The users file roles come from (default /etc/ttyhmi/users.yaml); it must be owned by root.
    #[arg(long, value_name = "PATH")]
    users: Option<PathBuf>,
    /// The audit log (default: audit.jsonl in the state folder).
    #[arg(long)]
    audit: Option<PathBuf>,
    /// The alarm journal (default: alarms/<layout name>.jsonl in the state folder).
    #[arg(long)]
    journal: Option<PathBuf>,
}

pub(super) fn run(args: RunArgs, utc_offset: time::UtcOffset) -> Result<ExitCode> {
    let RunArgs { layout, read_only, no_color, users, audit, journal } = args;
    let l = load(&layout)?;
    let console = Console {
        identity: auth::identify(users.as_deref()),
        read_only,
        no_color,
        utc_offset,
        audit_path: audit.unwrap_or_else(default_audit_path),
        journal_path: journal.unwrap_or_else(|| journal_path(&layout)),
        lockouts_path: default_lockouts_path(),
        pki: pki_dir(),
        demo_pin: None,
        command_key: super::common::command_key_path(),
    };
    runtime()?.block_on(run_console(l, console.options())).context("console")?;
    Ok(ExitCode::SUCCESS)
}
