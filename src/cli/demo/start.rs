//! `ttyhmi demo` (built with the `sim` feature): the simulated plant on loopback, and the console
//! on it as the demo's operator.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::DemoArgs;
use crate::cli::common::runtime;
use crate::cli::console::Console;
use crate::driver::opcua::pki as opcua_pki;
use crate::front::local::run_console;
use crate::layout::{self, ConnectionKind, Layout, SecretSource, UaUser};
use crate::{auth, paths, sim};

/// The built-in demo layout, so `ttyhmi demo` works from any folder.
const DEMO_LAYOUT: &str = include_str!("../../../layouts/demo.yaml");

/// The PIN of the demo's operator.
const DEMO_PIN: &str = "1234";

pub(in crate::cli) fn demo(args: DemoArgs, utc_offset: time::UtcOffset) -> Result<ExitCode> {
    // The demo trusts the simulator's certificate in a PKI folder of its own, never in
    // the one used for real servers.
    let pki = paths::data_dir().join("pki-demo");
    let _ = std::fs::remove_dir_all(pki.join("trusted"));
    // The demo's user is an operator with a demo PIN (shown in the status bar), so the whole
    // write flow can be tried at once — against the simulated plant only.
    let user = auth::current_user();
    let identity = auth::Identity::demo(&user, DEMO_PIN).map_err(anyhow::Error::msg)?;
    // The demo keeps its records apart from a real plant's: its own audit log, and an
    // alarm journal of its own that starts fresh (the simulated plant starts cold, so
    // alarms of an earlier demo must not come back).
    let demo_dir = paths::state_dir().join("demo");
    let demo_journal = demo_dir.join("alarms.jsonl");
    match std::fs::remove_file(&demo_journal) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            bail!("cannot start the demo's alarm journal afresh ({}): {e}", demo_journal.display())
        }
        _ => {}
    }
    let opts = Console {
        identity,
        read_only: args.read_only,
        no_color: args.no_color,
        utc_offset,
        audit_path: demo_dir.join("audit.jsonl"),
        journal_path: demo_journal,
        // Kept like the demo's audit log: a lockout is the person's, not the simulated plant's.
        lockouts_path: demo_dir.join("lockouts.json"),
        pki: pki.clone(),
        demo_pin: Some(DEMO_PIN.to_string()),
        command_key: demo_dir.join(crate::driver::sparkplug::command::KEY_FILE),
    }
    .options();
    runtime()?.block_on(async {
        let sim_opts = sim::SimOptions {
            opcua_port: Some(0),
            // The load variables are for benchmarks, not for the demo.
            opcua_load_items: 0,
            opcua_pki: paths::data_dir().join("sim-pki"),
            ..Default::default()
        };
        let plant = sim::start_with(SocketAddr::from(([127, 0, 0, 1], 0)), sim_opts.clone())
            .await
            .context("starting the simulated plant")?;
        let mut l = layout::parse(DEMO_LAYOUT, "layouts/demo.yaml").context("the built-in demo layout")?;
        if let Some(cert) = plant.opcua_certificate_path() {
            opcua_pki::install_trusted(&pki, &cert).map_err(anyhow::Error::msg)?;
        }
        let password = paths::state_dir().join("demo-opcua.pass");
        write_private(&password, &sim_opts.opcua_password)?;
        point_at(&mut l, plant.modbus_addr, plant.opcua_url(), &password);
        let mut gateway = None;
        if args.mqtt {
            let (console, stop) = mqtt::start(l, &demo_dir, &pki)?;
            l = console;
            gateway = Some(stop);
        }
        let r = run_console(l, opts).await;
        if let Some((stop, task)) = gateway {
            let _ = stop.send(true);
            let _ = task.await;
        }
        plant.stop().await;
        r.context("console")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `demo --mqtt`: the broker and the gateway, and the console's layout pointed at them.
mod mqtt {
    use std::net::SocketAddr;
    use std::path::Path;
    use std::sync::Arc;

    use anyhow::{Context, Result};
    use tokio::sync::watch;
    use tokio::task::JoinHandle;

    use crate::driver::spawn::DriverOptions;
    use crate::gateway::run::{GatewayOptions, run};
    use crate::layout::{self, ConnectionKind, Layout};
    use crate::plant::runtime::PlantOptions;
    use crate::sim;

    /// The console's side of the MQTT demo.
    const CONSOLE_LAYOUT: &str = include_str!("../../../layouts/sparkplug-console.yaml");

    /// The demo's gateway: how to stop it, and its task.
    pub(super) type Running = (watch::Sender<bool>, JoinHandle<()>);

    /// Starts the broker and a gateway publishing `plant` (the demo layout pointed at the
    /// simulator); returns the console's layout and how to stop the gateway.
    pub(super) fn start(plant: Layout, demo_dir: &Path, pki: &Path) -> Result<(Layout, Running)> {
        let broker = sim::broker::start(SocketAddr::from(([127, 0, 0, 1], 0))).context("starting the MQTT broker")?;
        let mut plant = plant;
        let mut spec = plant.publish.clone().context("the demo layout has no publish block")?;
        spec.broker.host = broker.ip().to_string();
        spec.broker.port = broker.port();
        plant.publish = Some(spec.clone());
        // The demo console's key is the one trusted, up to engineer.
        let key_path = demo_dir.join(crate::driver::sparkplug::command::KEY_FILE);
        let (key, _) =
            crate::driver::sparkplug::command::load_or_create_key(&key_path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let consoles = demo_dir.join("consoles.yaml");
        let line = crate::driver::sparkplug::command::public_line(&key.verifying_key());
        crate::files::write_atomic(
            &consoles,
            &format!("demo-console: {{ key: \"{line}\", max_role: engineer }}\n"),
            0o600,
            None,
        )
        .context("writing the demo's consoles file")?;
        let uid = nix::unistd::getuid().as_raw();
        let consoles = crate::gateway::consoles::load_trusted(&consoles, uid).map_err(|e| anyhow::anyhow!("{e}"))?;
        let opts = GatewayOptions {
            plant: PlantOptions {
                audit_path: demo_dir.join("gateway-audit.jsonl"),
                journal_path: demo_dir.join("gateway-alarms.jsonl"),
                lockouts_path: demo_dir.join("gateway-lockouts.json"),
                drivers: DriverOptions { pki: pki.to_path_buf(), writable: true, ..Default::default() },
            },
            consoles: Some(consoles),
            bd_seq_path: demo_dir.join("gateway.bdseq"),
            actor: crate::cli::gateway::own_actor(),
        };
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            if let Err(e) = run(Arc::new(plant), spec, opts, rx).await {
                tracing::error!("the demo gateway stopped: {e}");
            }
        });
        let mut console = layout::parse(CONSOLE_LAYOUT, "layouts/sparkplug-console.yaml")
            .context("the MQTT demo's console layout")?;
        for c in &mut console.connections {
            if let ConnectionKind::Sparkplug(sp) = &mut c.kind {
                sp.broker.host = broker.ip().to_string();
                sp.broker.port = broker.port();
                sp.host_id = "demo-console".into();
            }
        }
        Ok((console, (stop, task)))
    }
}

/// Points every connection of the layout at the demo's simulated plant.
fn point_at(l: &mut Layout, modbus: SocketAddr, opcua: Option<String>, password: &Path) {
    for c in &mut l.connections {
        match &mut c.kind {
            ConnectionKind::Modbus(m) => {
                m.link = layout::ModbusLink::Tcp { host: modbus.ip().to_string(), port: modbus.port() };
            }
            ConnectionKind::OpcUa(u) => {
                if let Some(url) = &opcua {
                    u.endpoint = url.clone();
                }
                if let UaUser::UserName { password: p, .. } = &mut u.user {
                    *p = SecretSource::File(password.to_path_buf());
                }
            }
            // Read through a broker, not from the simulated plant.
            ConnectionKind::Sparkplug(_) => {}
        }
    }
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path).with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
