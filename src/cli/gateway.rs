//! `ttyhmi gateway`: the layout's PLCs published to an MQTT broker as a Sparkplug B edge node;
//! `ttyhmi key`: this installation's command key, for the gateway's consoles file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::common::{StopSignals, command_key_path, load, pki_dir, plant_options, runtime};
use crate::audit::Actor;
use crate::driver::spawn::DriverOptions;
use crate::gateway::run::GatewayOptions;
use crate::layout::ConnectionKind;
use crate::paths;

#[derive(clap::Args)]
#[command(after_help = "Example: ttyhmi gateway /etc/ttyhmi/boiler.yaml --consoles /etc/ttyhmi/consoles.yaml")]
pub(super) struct GatewayArgs {
    /// The layout file (YAML) with a `publish: { sparkplug: {...} }` block.
    layout: PathBuf,
    /// The consoles whose signed commands are taken: `name: { key: "ttyhmi-ed25519 …", max_role: operator }`
    /// (without it, every command is refused).
    #[arg(long, value_name = "PATH")]
    consoles: Option<PathBuf>,
    /// The audit log (default: audit.jsonl in the state folder).
    #[arg(long, value_name = "PATH")]
    audit: Option<PathBuf>,
    /// The alarm journal (default: alarms/<layout name>.jsonl in the state folder).
    #[arg(long, value_name = "PATH")]
    journal: Option<PathBuf>,
}

pub(super) fn gateway(args: GatewayArgs) -> Result<ExitCode> {
    let layout = load(&args.layout)?;
    let Some(spec) = layout.publish.clone() else {
        bail!(
            "{}: the layout has no publish block; add publish: {{ sparkplug: {{ host: 127.0.0.1, port: 1883, group: Plant, node: Boiler1 }} }}",
            args.layout.display()
        );
    };
    if let Some(c) = layout.connections.iter().find(|c| matches!(c.kind, ConnectionKind::Sparkplug(_))) {
        bail!(
            "connection `{}` reads a broker; a gateway publishes PLCs it polls itself: remove it from this layout",
            c.name
        );
    }
    let uid = nix::unistd::getuid().as_raw();
    let consoles = match &args.consoles {
        Some(p) => Some(
            crate::gateway::consoles::load_trusted(p, uid)
                .with_context(|| format!("the consoles file {}", p.display()))?,
        ),
        None => None,
    };
    let state = paths::state_dir();
    let opts = GatewayOptions {
        plant: plant_options(
            &args.layout,
            args.audit,
            args.journal,
            DriverOptions { poll_override: None, pki: pki_dir(), writable: consoles.is_some(), command_key: None },
        ),
        consoles,
        bd_seq_path: state.join(format!("sparkplug-{}-{}.bdseq", spec.group, spec.node)),
        actor: own_actor(),
    };
    let text = format!(
        "ttyhmi gateway: publishing {} as Sparkplug B edge node {}/{} on {}\n  devices    {}\n  consoles   {}\n  audit log  {}\nStop it with Ctrl-C or SIGTERM: NDEATH is published, then it disconnects.",
        args.layout.display(),
        spec.group,
        spec.node,
        spec.broker.endpoint(),
        layout.connections.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
        args.consoles.as_ref().map_or("none: every command is refused".into(), |p| p.display().to_string()),
        opts.plant.audit_path.display(),
    );
    let rt = runtime()?;
    rt.block_on(async move {
        let mut signals = StopSignals::install()?;
        tracing::info!("{text}");
        say!("{text}");
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let run = tokio::spawn(crate::gateway::run::run(Arc::new(layout), spec, opts, stop));
        let why = signals.wait().await;
        let _ = stop_tx.send(true);
        run.await.context("the gateway task")??;
        say!("ttyhmi gateway: stopped ({why})");
        Ok(ExitCode::SUCCESS)
    })
}

/// The account a gateway runs as, for its start and stop records.
pub(super) fn own_actor() -> Actor {
    let (user, host) = (crate::auth::current_user(), crate::auth::host_name());
    Actor { user, host, ssh_client: None, role: "gateway".into(), session: None, via: None }
}

#[derive(clap::Args)]
#[command(after_help = "Example: ttyhmi key   (paste the line into the gateway's consoles file)")]
pub(super) struct KeyArgs {
    /// The key file (default: command_key in the state folder, made on first use).
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
}

/// Prints the public half of the command key on one line (for a gateway's consoles file).
pub(super) fn key(args: KeyArgs) -> Result<ExitCode> {
    let path = args.file.unwrap_or_else(command_key_path);
    let (key, created) =
        crate::driver::sparkplug::command::load_or_create_key(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    if created {
        eprintln!("made a new command key in {}", path.display());
    }
    say!("{}", crate::driver::sparkplug::command::public_line(&key.verifying_key()));
    Ok(ExitCode::SUCCESS)
}
