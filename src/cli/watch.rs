//! `ttyhmi watch`: a layout's tags polled without a terminal UI.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use super::common::{load, pki_dir, runtime};
use crate::driver::spawn::DriverOptions;
use crate::front::watch::{WatchOptions, run_watch};
use crate::layout::duration::parse_duration;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  ttyhmi watch plant.yaml --for 1m\n  ttyhmi watch plant.yaml --json | jq .")]
pub(super) struct WatchArgs {
    /// The layout file whose tags are polled.
    layout: PathBuf,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Stop after this long (e.g. 10s, 2m); default: until Ctrl-C.
    #[arg(long = "for", value_parser = duration_arg)]
    duration: Option<Duration>,
    /// Poll every tag at this period instead of the layout's; 0s polls back to back (for measuring).
    #[arg(long, value_parser = duration_or_zero)]
    poll: Option<Duration>,
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

fn duration_or_zero(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" { Ok(Duration::ZERO) } else { parse_duration(s) }
}

pub(super) fn watch(args: WatchArgs) -> Result<ExitCode> {
    let WatchArgs { layout, json, duration, poll } = args;
    let l = load(&layout)?;
    let opts = WatchOptions {
        json,
        duration,
        drivers: DriverOptions { poll_override: poll, pki: pki_dir(), writable: false, command_key: None },
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    runtime()?.block_on(run_watch(&l, opts, &mut out)).context("watch")?;
    Ok(ExitCode::SUCCESS)
}
