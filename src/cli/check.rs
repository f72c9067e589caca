//! `ttyhmi check`: layout files checked without starting anything.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::layout;

#[derive(clap::Args)]
#[command(after_help = "Example: ttyhmi check /etc/ttyhmi/*.yaml")]
pub(super) struct CheckArgs {
    /// The layout files to check.
    #[arg(required = true)]
    layouts: Vec<PathBuf>,
}

/// Every problem of every file on standard error (errors and warnings, in file order), an `ok`
/// line on standard output for each file that can be used; exit 1 if any file has an error
/// (warnings alone do not fail).
pub(super) fn check(args: CheckArgs) -> Result<ExitCode> {
    let files = &args.layouts;
    let mut failed = 0;
    for f in files {
        match layout::load(f) {
            Ok(l) => {
                for w in &l.warnings {
                    eprintln!("{w}");
                }
                let warnings = match l.warnings.len() {
                    0 => String::new(),
                    1 => ", 1 warning".into(),
                    n => format!(", {n} warnings"),
                };
                let history = match l.history_worst_case_bytes() {
                    0 => String::new(),
                    bytes => format!(
                        ", history up to {} of {}",
                        layout::size::format_size(bytes),
                        layout::size::format_size(l.history_budget)
                    ),
                };
                println!(
                    "{}: ok ({} connections, {} tags, {} screens{history}){warnings}",
                    crate::sanitize::clean(&f.display().to_string()),
                    l.connections.len(),
                    l.tags.len(),
                    l.screens.len()
                );
                for line in sparkplug_lines(&l) {
                    println!("  {}", crate::sanitize::clean(&line));
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("{e}");
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} layout files have problems", files.len());
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// What a layout reads from and publishes to MQTT brokers, one line each: its Sparkplug
/// connections (the edge node each reads, as which host application) and its `publish:` block
/// (the edge node `ttyhmi gateway` runs).
fn sparkplug_lines(l: &layout::Layout) -> Vec<String> {
    let login = |b: &layout::MqttBroker| b.login.as_ref().map_or(String::new(), |m| format!("user {}, ", m.username));
    let mut lines = Vec::new();
    for (i, c) in l.connections.iter().enumerate() {
        if let layout::ConnectionKind::Sparkplug(sp) = &c.kind {
            let metrics = l.tags_of(layout::ConnId(i as u16)).count();
            lines.push(format!(
                "{}: reads Sparkplug edge node {}/{} as host application {} from {} ({}{metrics} metrics)",
                c.name,
                sp.group,
                sp.node,
                sp.host_id,
                sp.broker.endpoint(),
                login(&sp.broker),
            ));
        }
    }
    if let Some(p) = &l.publish {
        let devices = l.connections.iter().filter(|c| !matches!(c.kind, layout::ConnectionKind::Sparkplug(_))).count();
        let metrics = l.tags.iter().filter(|t| !matches!(t.source, layout::TagSource::Sparkplug(_))).count();
        lines.push(format!(
            "publish: `ttyhmi gateway` publishes Sparkplug edge node {}/{} to {} ({}{devices} devices, {metrics} metrics)",
            p.group,
            p.node,
            p.broker.endpoint(),
            login(&p.broker)
        ));
    }
    lines
}
