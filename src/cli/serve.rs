//! `ttyhmi serve`: one plant core for many operators, over SSH and the local attach socket.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::common::{StopSignals, command_key_path, load, pki_dir, plant_options, runtime};
use crate::driver::spawn::DriverOptions;
use crate::front::attach::default_socket;
use crate::front::gate::Gate;
use crate::front::server::{ServeOptions, Server};
use crate::{auth, paths};

#[derive(clap::Args)]
#[command(
    after_help = "Example: ttyhmi serve /etc/ttyhmi/boiler.yaml --ssh 0.0.0.0:2222 --users /etc/ttyhmi/users.yaml"
)]
pub(super) struct ServeArgs {
    /// The layout file (YAML): connections, tags, screens, alarms.
    layout: PathBuf,
    /// Listen for SSH logins on ADDR:PORT (public keys from the users file only).
    #[arg(long, value_name = "ADDR:PORT")]
    ssh: Option<SocketAddr>,
    /// The SSH host key (default: ssh_host_ed25519_key in the state folder, made on first start).
    #[arg(long, value_name = "PATH")]
    host_key: Option<PathBuf>,
    /// The users file: roles, PINs and SSH keys (default /etc/ttyhmi/users.yaml).
    #[arg(long, value_name = "PATH")]
    users: Option<PathBuf>,
    /// The audit log (default: audit.jsonl in the state folder).
    #[arg(long, value_name = "PATH")]
    audit: Option<PathBuf>,
    /// The alarm journal (default: alarms/<layout name>.jsonl in the state folder).
    #[arg(long, value_name = "PATH")]
    journal: Option<PathBuf>,
    /// The attach socket (default /run/ttyhmi/console.sock if /run/ttyhmi exists, else
    /// console.sock in the state folder).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// No attach socket: SSH only.
    #[arg(long, conflicts_with = "socket")]
    no_socket: bool,
    /// Log a session out after this long without a key: 30s, 15m, 8h (default: never).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    idle_logout: Option<Duration>,
    /// Monitoring only: no session can write to any device.
    #[arg(long)]
    read_only: bool,
}

pub(super) fn serve(args: ServeArgs, utc_offset: time::UtcOffset) -> Result<ExitCode> {
    if args.ssh.is_none() && args.no_socket {
        bail!("nothing to serve on: give --ssh ADDR:PORT, or drop --no-socket");
    }
    let layout = load(&args.layout)?;
    let users = auth::locate(args.users.as_deref()).roles;
    let process_uid = nix::unistd::getuid().as_raw();
    let host = crate::auth::host_name();
    let state = paths::state_dir();
    let opts = ServeOptions {
        ssh: args.ssh,
        host_key: args.host_key.unwrap_or_else(|| state.join("ssh_host_ed25519_key")),
        socket: if args.no_socket { None } else { Some(args.socket.unwrap_or_else(default_socket)) },
        gate: Gate { users: users.clone(), process_uid, host, read_only: args.read_only, utc_offset },
        plant: plant_options(
            &args.layout,
            args.audit,
            args.journal,
            DriverOptions {
                poll_override: None,
                pki: pki_dir(),
                writable: !args.read_only,
                command_key: Some(command_key_path()),
            },
        ),
        export_dir: state.join("exports"),
        idle_logout: args.idle_logout,
    };
    let rt = runtime()?;
    rt.block_on(async move {
        let summary = summary(&args.layout, &opts, users.as_deref(), process_uid);
        let server = Server::start(layout, opts).await.context("the console server did not start")?;
        let signals = StopSignals::install()?;
        let text = started(&server, &summary);
        tracing::info!("{text}");
        say!("{text}");
        let why = until_stopped(server, signals).await?;
        say!("ttyhmi serve: stopped ({why})");
        Ok(ExitCode::SUCCESS)
    })
}

/// What the start message says besides the listeners.
fn summary(layout: &std::path::Path, opts: &ServeOptions, users: Option<&std::path::Path>, uid: u32) -> String {
    let users = match users {
        None => "none (every SSH login is refused; the attach socket gives viewers)".to_string(),
        Some(p) => match auth::load_trusted(p, None, uid) {
            Ok(_) => p.display().to_string(),
            Err(e) => format!("{}: NOT TRUSTED, SSH logins are refused and everyone is a viewer: {e}", p.display()),
        },
    };
    format!(
        "  layout     {}\n  users      {users}\n  audit log  {}\n  journal    {}\n  log        {}",
        layout.display(),
        opts.plant.audit_path.display(),
        opts.plant.journal_path.display(),
        paths::state_dir().join("ttyhmi.log.<date>").display()
    )
}

fn started(server: &Server, summary: &str) -> String {
    let mut s = String::from("ttyhmi serve: the console server is running\n");
    if let (Some(addr), Some((fp, new))) = (server.ssh_addr, &server.host_key) {
        let new = if *new { " (new key, made just now)" } else { "" };
        s.push_str(&format!("  SSH        {addr}, host key ED25519 {fp}{new}\n"));
    }
    if let Some(p) = &server.socket {
        s.push_str(&format!("  socket     {} (ttyhmi attach {})\n", p.display(), p.display()));
    }
    s.push_str(summary);
    s.push_str("\nStop it with Ctrl-C or SIGTERM: every session is told, then the plant stops.");
    s
}

/// Runs until SIGTERM, SIGINT or SIGHUP; then stops every session and the plant.
async fn until_stopped(mut server: Server, mut signals: StopSignals) -> Result<String> {
    let name = tokio::select! {
        n = signals.wait() => n,
        r = server.wait_failed() => {
            r.context("the console server failed")?;
            return Ok("its plant stopped".into());
        }
    };
    tracing::info!("{name}: the console server stops");
    server.stop(&format!("the console server is stopping ({name})")).await.context("stopping")?;
    Ok(name.into())
}

/// `30s`, `15m`, `8h`, `1h30m`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(format!("`{s}`: use a number and s, m or h (30s, 15m, 8h)")),
        };
        let n: u64 = num.parse().map_err(|_| format!("`{s}`: a number must come before `{c}`"))?;
        total = total.saturating_add(n.saturating_mul(unit));
        num.clear();
    }
    if !num.is_empty() || total == 0 {
        return Err(format!("`{s}`: give a duration above zero with its unit (30s, 15m, 8h)"));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        for bad in ["", "15", "m", "0s", "5d", "-1m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
