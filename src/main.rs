//! The `ttyhmi` command line: the binary edge, where errors become messages and exit codes.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use ttyhmi::app::runtime::{ConsoleOptions, run_console};
use ttyhmi::app::watch::{WatchOptions, run_watch};
use ttyhmi::driver::opcua::UaJob;
use ttyhmi::driver::opcua::browse::{BrowseOptions, browse};
use ttyhmi::driver::opcua::pki as opcua_pki;
use ttyhmi::driver::spawn::DriverOptions;
use ttyhmi::layout::nodeid::NodeRef;
use ttyhmi::layout::{
    self, ConnId, ConnectionKind, Layout, OpcUaConn, SecretSource, UaMode, UaPolicy, UaSecurity, UaUser,
    duration::parse_duration,
};
use ttyhmi::{auth, paths, sim, timefmt};

/// Prints a line to standard output, ignoring a closed pipe (a reader that took only the first
/// line must not bring the simulator down).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($t)*);
        let _ = out.flush();
    }};
}

/// The built-in demo layout, so `ttyhmi demo` works from any folder.
const DEMO_LAYOUT: &str = include_str!("../layouts/demo.yaml");

#[derive(Parser)]
#[command(name = "ttyhmi", version, about = "Terminal SCADA operator console for Modbus TCP devices")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain and the head file; report the first break. Exit 1 if broken.
    Verify {
        /// The audit log (default: audit.jsonl in the state folder).
        path: Option<PathBuf>,
    },
    /// Print the last records readably.
    Tail {
        /// The audit log (default: audit.jsonl in the state folder).
        path: Option<PathBuf>,
        /// How many records to print.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Run the console on a layout file.
    Run {
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
    },
    /// Set a user's role and PIN in the users file (the PIN is asked twice, not shown); run as root.
    Passwd {
        /// The account name, as the console knows it (the OS login).
        user: String,
        /// Also set the user's role: viewer, operator, engineer or admin.
        #[arg(long, value_parser = role_arg)]
        role: Option<auth::Role>,
        /// Set only the role (with --role): ask for no PIN, keep the user's PIN as it is.
        #[arg(long, requires = "role")]
        role_only: bool,
        /// The users file to change (default /etc/ttyhmi/users.yaml).
        #[arg(long, value_name = "PATH")]
        users: Option<PathBuf>,
    },
    /// Show who you are to the console, your role, where the role comes from, and how to get one.
    Whoami {
        /// The users file roles come from (default /etc/ttyhmi/users.yaml), as for `run`.
        #[arg(long, value_name = "PATH")]
        users: Option<PathBuf>,
    },
    /// The audit log: check its chain, or show its last records.
    Audit {
        #[command(subcommand)]
        what: AuditCommand,
    },
    /// Start the simulated plant on loopback and run the console on it (layouts/demo.yaml).
    Demo {
        /// Monitoring only: nothing can be written, not even to the simulated plant.
        #[arg(long)]
        read_only: bool,
        /// No colour (also when the NO_COLOR environment variable is set).
        #[arg(long)]
        no_color: bool,
    },
    /// Run the simulated plant alone, for other consoles and tools; stops on Ctrl-C.
    Sim(SimArgs),
    /// Check layout files; print every problem; exit 1 if any file has one.
    Check {
        /// The layout files to check.
        #[arg(required = true)]
        layouts: Vec<PathBuf>,
    },
    /// Poll a layout's tags without a terminal UI: one line per value change, a summary at the end.
    Watch {
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
    },
    /// Print the JSON schema of the layout format.
    Schema,
    /// List the serial ports of this machine (path, USB vendor:product), to find the adapter.
    Ports,
    /// Walk an OPC UA server's address space; print connections + tags ready to paste into a layout.
    Browse(BrowseArgs),
    /// Trust an OPC UA server's certificate after showing it: without CERT, list the rejected ones.
    Trust {
        /// A rejected certificate: its file (path or name in the rejected folder) or the start of
        /// its SHA-1 thumbprint, as the connection's message prints it.
        cert: Option<PathBuf>,
        /// Trust it without asking (needed without a terminal).
        #[arg(long)]
        yes: bool,
    },
}

fn role_arg(s: &str) -> Result<auth::Role, String> {
    s.parse().map_err(|e: auth::UnknownRole| e.to_string())
}

#[derive(clap::Args)]
struct SimArgs {
    /// Modbus TCP port (0 picks a free one; it is printed).
    #[arg(long, default_value_t = 5020)]
    modbus_port: u16,
    /// OPC UA port (0 picks a free one; it is printed).
    #[arg(long, default_value_t = 4840)]
    opcua_port: u16,
    /// OPC UA load variables (Plant.Load.V0000…), each changing every 100 ms.
    #[arg(long, default_value_t = 1000)]
    opcua_load: usize,
    /// Also serve Modbus RTU over TCP (as a serial gateway would) on this port (0 picks one).
    #[arg(long)]
    rtu_over_tcp_port: Option<u16>,
    /// Also serve Modbus RTU on this serial port or pseudo-terminal (e.g. /dev/ttyUSB1, or one
    /// end of `socat -d -d pty,raw,echo=0 pty,raw,echo=0`).
    #[arg(long, value_name = "PATH")]
    rtu: Option<PathBuf>,
    /// Serial speed for --rtu.
    #[arg(long, default_value_t = 19200, requires = "rtu")]
    baud: u32,
    /// Serial parity for --rtu: none, even or odd.
    #[arg(long, default_value = "even", value_parser = parity_arg, requires = "rtu")]
    parity: layout::Parity,
    /// Units on the --rtu bus, e.g. 1,2,7 or 1-10 (default 1-247); requests to others go unanswered.
    #[arg(long, default_value = "1-247", value_parser = units_arg, requires = "rtu")]
    rtu_units: Units,
    /// Address to listen on. The simulator has no access control: keep it on loopback.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
}

#[derive(clap::Args)]
struct BrowseArgs {
    /// The server, e.g. opc.tcp://127.0.0.1:4840
    endpoint: String,
    /// Start here (a NodeId, e.g. "ns=2;s=Plant"); default the Objects folder.
    #[arg(long)]
    root: Option<String>,
    /// Levels below the root to walk.
    #[arg(long, default_value_t = 6)]
    depth: usize,
    /// `none`, or POLICY/MODE such as Basic256Sha256/SignAndEncrypt (the default).
    #[arg(long, default_value = "Basic256Sha256/SignAndEncrypt")]
    security: String,
    /// User name (with --password-file or --password-env); default anonymous.
    #[arg(long)]
    user: Option<String>,
    /// A file holding the user's password (only its first line is used).
    #[arg(long, value_name = "PATH")]
    password_file: Option<PathBuf>,
    /// An environment variable holding the user's password.
    #[arg(long, value_name = "NAME")]
    password_env: Option<String>,
    /// Name of the connection in the output.
    #[arg(long, default_value = "ua1")]
    name: String,
    /// Accept the server's (trusted) certificate although it does not name the endpoint's host,
    /// as the layout key `accept_host_name_mismatch: true` does (written into the output).
    #[arg(long)]
    accept_host_name_mismatch: bool,
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

fn parity_arg(s: &str) -> Result<layout::Parity, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "none" | "n" => Ok(layout::Parity::None),
        "even" | "e" => Ok(layout::Parity::Even),
        "odd" | "o" => Ok(layout::Parity::Odd),
        other => Err(format!("parity `{other}` is not known: write none, even or odd")),
    }
}

/// Unit ids of a bus, and how they were written.
#[derive(Clone, Debug)]
struct Units(Vec<u8>, String);

fn units_arg(s: &str) -> Result<Units, String> {
    let mut units = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let unit = |t: &str| match t.trim().parse::<u8>() {
            Ok(u @ 1..=247) => Ok(u),
            _ => Err(format!("unit `{t}` is not 1..247 (0 is broadcast: never answered)")),
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (unit(a)?, unit(b)?);
                if a > b {
                    return Err(format!("`{part}`: write the lower unit first"));
                }
                units.extend(a..=b);
            }
            None => units.push(unit(part)?),
        }
    }
    if units.is_empty() {
        return Err("name at least one unit, e.g. 1,2 or 1-10".into());
    }
    Ok(Units(units, s.trim().to_string()))
}

fn duration_or_zero(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" { Ok(Duration::ZERO) } else { parse_duration(s) }
}

fn main() -> ExitCode {
    // The local offset must be read before any thread starts.
    let utc_offset = timefmt::local_offset();
    let cli = Cli::parse();
    let _log = init_logging();
    match real_main(cli, utc_offset) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ttyhmi: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli, utc_offset: time::UtcOffset) -> Result<ExitCode> {
    let color = |no_color: bool| !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    match cli.command {
        Command::Check { layouts } => Ok(check(&layouts)),
        Command::Ports => ports_command(),
        Command::Schema => {
            print!("{}", layout::schema::json_schema());
            Ok(ExitCode::SUCCESS)
        }
        Command::Trust { cert, yes } => trust(cert.as_deref(), yes),
        Command::Browse(args) => browse_command(args),
        Command::Passwd { user, role, role_only, users } => passwd(&user, role, role_only, users.as_deref()),
        Command::Whoami { users } => {
            let id = auth::identify(users.as_deref());
            say!("{}", auth::describe(&id));
            if let Some(hint) = auth::role_hint(&id) {
                say!("to get a role: {hint}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { what } => audit_command(what),
        Command::Run { layout, read_only, no_color, users, audit, journal } => {
            let l = load(&layout)?;
            let identity = auth::identify(users.as_deref());
            let user = identity.user.clone();
            // Structurally: a viewer's or a read-only console's drivers get no write inbox.
            let writable = !read_only && identity.role.at_least(auth::Role::Operator);
            let opts = ConsoleOptions {
                read_only,
                user,
                identity,
                audit_path: audit.unwrap_or_else(default_audit_path),
                journal_path: journal.unwrap_or_else(|| journal_path(&layout)),
                export_dir: paths::state_dir().join("exports"),
                demo_pin: None,
                color: color(no_color),
                utc_offset,
                drivers: DriverOptions { poll_override: None, pki: pki_dir(), writable },
            };
            runtime()?.block_on(run_console(l, opts)).context("console")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { read_only, no_color } => demo_command(read_only, color(no_color), utc_offset),
        Command::Sim(args) => sim_command(args),
        Command::Watch { layout, json, duration, poll } => {
            let l = load(&layout)?;
            let opts = WatchOptions {
                json,
                duration,
                drivers: DriverOptions { poll_override: poll, pki: pki_dir(), writable: false },
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
            runtime()?.block_on(run_watch(&l, opts, &mut out)).context("watch")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `ttyhmi ports`: the serial ports, with what the system knows of them.
fn ports_command() -> Result<ExitCode> {
    let ports = ttyhmi::driver::modbus::serial::list().map_err(anyhow::Error::msg)?;
    if ports.is_empty() {
        say!("no serial ports found (is the USB adapter plugged in? see `dmesg` for what the kernel made of it)");
        return Ok(ExitCode::SUCCESS);
    }
    let width = ports.iter().map(|p| p.path.len()).max().unwrap_or(0);
    for p in ports {
        if p.detail.is_empty() {
            say!("{}", p.path);
        } else {
            say!("{:width$}  {}", p.path, p.detail);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `ttyhmi demo`: the simulated plant on loopback, and the console on it as the demo's operator.
fn demo_command(read_only: bool, color: bool, utc_offset: time::UtcOffset) -> Result<ExitCode> {
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
    let opts = ConsoleOptions {
        read_only,
        user,
        identity,
        audit_path: demo_dir.join("audit.jsonl"),
        journal_path: demo_journal,
        export_dir: paths::state_dir().join("exports"),
        demo_pin: Some(DEMO_PIN.to_string()),
        color,
        utc_offset,
        drivers: DriverOptions { poll_override: None, pki: pki.clone(), writable: !read_only },
    };
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
        let r = run_console(l, opts).await;
        plant.stop().await;
        r.context("console")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `ttyhmi sim`: the simulated plant alone, until Ctrl-C.
fn sim_command(args: SimArgs) -> Result<ExitCode> {
    let SimArgs { modbus_port, opcua_port, opcua_load, rtu_over_tcp_port, rtu, baud, parity, rtu_units, bind } = args;
    runtime()?.block_on(async {
        let rtu_serial = rtu.map(|path| sim::SerialSim { path, baud, parity, units: rtu_units.0.clone() });
        let opts = sim::SimOptions {
            opcua_port: Some(opcua_port),
            rtu_over_tcp: rtu_over_tcp_port.map(|p| SocketAddr::new(bind, p)),
            rtu_serial: rtu_serial.clone(),
            opcua_load_items: opcua_load,
            opcua_pki: paths::data_dir().join("sim-pki"),
            ..Default::default()
        };
        let plant = sim::start_with(SocketAddr::new(bind, modbus_port), opts.clone())
            .await
            .context("cannot start the simulated plant")?;
        say!("simulated plant: Modbus TCP on {} (unit 1); Ctrl-C stops", plant.modbus_addr);
        if let Some(a) = plant.rtu_over_tcp_addr {
            say!("simulated plant: Modbus RTU over TCP on {a} (unit 1)");
        }
        if let Some(s) = &rtu_serial {
            say!(
                "simulated plant: Modbus RTU on {} at {} baud, parity {}, units {}",
                s.path.display(),
                s.baud,
                s.parity.name(),
                rtu_units.1
            );
        }
        if let Some(url) = plant.opcua_url() {
            say!(
                "OPC UA on {url} (namespace {}): security None with anonymous; Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss with user {} / password {}",
                sim::opcua_server::NAMESPACE_URI,
                sim::opcua_server::USERNAME,
                opts.opcua_password
            );
            if let Some(cert) = plant.opcua_certificate_path() {
                say!("  server certificate: {} (trust it: ttyhmi trust {})", cert.display(), cert.display());
            }
        }
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
        plant.stop().await;
        say!("stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
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

/// `none` or `Policy/Mode`.
fn parse_security(s: &str) -> Result<UaSecurity> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(UaSecurity::None);
    }
    let (p, m) =
        s.split_once('/').context("--security is `none` or POLICY/MODE, e.g. Basic256Sha256/SignAndEncrypt")?;
    let policy = match p {
        "Basic256Sha256" => UaPolicy::Basic256Sha256,
        "Aes128_Sha256_RsaOaep" => UaPolicy::Aes128Sha256RsaOaep,
        "Aes256_Sha256_RsaPss" => UaPolicy::Aes256Sha256RsaPss,
        _ => bail!("unknown policy `{p}`: Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss"),
    };
    let mode = match m {
        "Sign" => UaMode::Sign,
        "SignAndEncrypt" => UaMode::SignAndEncrypt,
        _ => bail!("unknown mode `{m}`: Sign or SignAndEncrypt"),
    };
    Ok(UaSecurity::Secure { policy, mode })
}

/// The PIN of the demo's operator.
const DEMO_PIN: &str = "1234";

/// `alarms/<layout file name>.jsonl` in the state folder: one journal per layout, so the alarm
/// keys in it are the layout's.
fn journal_path(layout: &Path) -> PathBuf {
    let stem = layout.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "layout".into());
    paths::state_dir().join("alarms").join(format!("{stem}.jsonl"))
}

fn default_audit_path() -> PathBuf {
    paths::state_dir().join("audit.jsonl")
}

/// `ttyhmi passwd USER [--role ROLE] [--role-only] [--users PATH]`: checks that the file can be
/// changed before asking for anything, shows the role before and after, and says when the result
/// still gives no role.
fn passwd(user: &str, role: Option<auth::Role>, role_only: bool, users: Option<&Path>) -> Result<ExitCode> {
    let file = auth::passwd_target(users);
    let shown = file.display();
    let before = auth::prepare_edit(&file, user, role).map_err(anyhow::Error::msg)?;
    let (was, whence) = match &before {
        Some(f) if f.users.get(user).is_some_and(|e| e.role.is_some()) => (f.role_of(user), "its entry"),
        Some(f) => (f.role_of(user), "default_role"),
        None => (auth::Role::Viewer, "the file does not exist yet"),
    };
    say!("{user}: {was} in {shown} ({whence})");
    let pin_hash = match role_only {
        true => None,
        false => {
            let pin = auth::prompt_new_pin(user).map_err(anyhow::Error::msg)?;
            Some(auth::hash_pin(&pin).map_err(anyhow::Error::msg)?)
        }
    };
    let change = auth::UserChange { role, pin_hash };
    auth::set_user(&file, user, &change).map_err(anyhow::Error::msg)?;
    let now = role.unwrap_or(was);
    let pin = if change.pin_hash.is_some() { "PIN set" } else { "PIN unchanged" };
    match role {
        Some(r) if r != was => say!("{user}: now {r} (was {was}); {pin} in {shown}"),
        _ => say!("{user}: still {now}; {pin} in {shown}"),
    }
    if now == auth::Role::Viewer {
        say!(
            "{user} is a viewer and cannot write: give a role with `{} --role-only`",
            auth::passwd_command(user, Some(auth::Role::Operator), Some(&file))
        );
    }
    if let Err(e) = auth::load(&file) {
        say!("note: until this is fixed, the file gives nobody a role: {e}");
    }
    passwd_ownership_note(&file);
    Ok(ExitCode::SUCCESS)
}

/// Roles come only from a file owned by root (or by a console's service account, for others):
/// says so when the file just written is owned by someone else.
fn passwd_ownership_note(file: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(file) else { return };
    if meta.uid() != 0 {
        say!(
            "note: {} is owned by uid {}, not root: at a console run by that account it can only lower that \
             account's own role; roles come from a users file owned by root (or, for other people, by the service \
             account their console runs as)",
            file.display(),
            meta.uid()
        );
    }
}

fn audit_command(what: AuditCommand) -> Result<ExitCode> {
    match what {
        AuditCommand::Verify { path } => {
            let path = path.unwrap_or_else(default_audit_path);
            let report = ttyhmi::audit::verify(&path).map_err(anyhow::Error::msg)?;
            println!("{report}");
            Ok(if report.is_intact() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        AuditCommand::Tail { path, lines } => {
            let path = path.unwrap_or_else(default_audit_path);
            for l in ttyhmi::audit::tail(&path, lines).map_err(anyhow::Error::msg)? {
                println!("{l}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The PKI folder of OPC UA connections to real servers.
fn pki_dir() -> PathBuf {
    paths::data_dir().join("pki")
}

/// `ttyhmi browse`: the layout block for a server's address space, on standard output.
fn browse_command(a: BrowseArgs) -> Result<ExitCode> {
    let security = parse_security(&a.security)?;
    if a.accept_host_name_mismatch && security == UaSecurity::None {
        bail!(
            "--accept-host-name-mismatch applies to secure connections: with --security none no certificate is checked"
        );
    }
    let user = match (a.user, a.password_file, a.password_env) {
        (None, None, None) => UaUser::Anonymous,
        (Some(u), Some(f), None) => UaUser::UserName { username: u, password: SecretSource::File(f) },
        (Some(u), None, Some(e)) => UaUser::UserName { username: u, password: SecretSource::Env(e) },
        _ => bail!("--user needs exactly one of --password-file or --password-env (and they need --user)"),
    };
    let root = a.root.map(|r| NodeRef::parse(&r)).transpose().map_err(anyhow::Error::msg)?;
    let job = UaJob {
        conn: ConnId(0),
        name: a.name.clone(),
        ua: OpcUaConn {
            endpoint: a.endpoint,
            security,
            user,
            publishing_interval: Duration::from_millis(500),
            accept_host_name_mismatch: a.accept_host_name_mismatch,
        },
        timeout: Duration::from_secs(5),
        points: Vec::new(),
        pki: pki_dir(),
    };
    let opts = BrowseOptions { job, root, depth: a.depth, connection_name: a.name };
    let yaml = runtime()?.block_on(browse(&opts)).map_err(anyhow::Error::msg)?;
    print!("{yaml}");
    Ok(ExitCode::SUCCESS)
}

/// `ttyhmi trust`: lists the rejected server certificates, or shows one and trusts it once the
/// user confirms (or with `--yes`). Everything from a certificate is shown sanitized.
fn trust(cert: Option<&Path>, yes: bool) -> Result<ExitCode> {
    use std::io::IsTerminal as _;
    use ttyhmi::sanitize::clean;
    let pki = pki_dir();
    let now = std::time::SystemTime::now();
    let shown = |p: &Path| clean(&p.display().to_string()).into_owned();
    let Some(cert) = cert else {
        let list = opcua_pki::rejected(&pki);
        if list.is_empty() {
            say!("no rejected server certificates in {}", shown(&pki.join("rejected")));
            return Ok(ExitCode::SUCCESS);
        }
        say!("rejected server certificates (newest first); trust one with `ttyhmi trust SHA-1` after checking it:");
        for f in list {
            say!("\n{}", shown(&f));
            match opcua_pki::read_summary(&f) {
                Ok((s, _)) => print!("{}", opcua_pki::describe(&s, now)),
                Err(e) => say!("  not readable as a certificate: {e}"),
            }
        }
        return Ok(ExitCode::SUCCESS);
    };
    let file = opcua_pki::find(&pki, cert).map_err(anyhow::Error::msg)?;
    let (summary, _) = opcua_pki::read_summary(&file).map_err(anyhow::Error::msg)?;
    say!("{}", shown(&file));
    print!("{}", opcua_pki::describe(&summary, now));
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "not trusted: nobody can confirm without a terminal; check the certificate above, then run again with --yes"
            );
        }
        print!("Trust this certificate? [y/N] ");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).context("reading the answer")?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            say!("not trusted");
            return Ok(ExitCode::FAILURE);
        }
    }
    let dst = opcua_pki::trust(&pki, &file).map_err(anyhow::Error::msg)?;
    say!("trusted: {}", shown(&dst));
    Ok(ExitCode::SUCCESS)
}

fn load(path: &Path) -> Result<Layout> {
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

/// `ttyhmi check`: every problem of every file on standard error (errors and warnings, in file
/// order), an `ok` line on standard output for each file that can be used; exit 1 if any file has
/// an error (warnings alone do not fail).
fn check(files: &[PathBuf]) -> ExitCode {
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
                    ttyhmi::sanitize::clean(&f.display().to_string()),
                    l.connections.len(),
                    l.tags.len(),
                    l.screens.len()
                );
            }
            Err(e) => {
                failed += 1;
                eprintln!("{e}");
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} layout files have problems", files.len());
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("starting the runtime")
}

/// Logs go to a file in the state folder, never to the terminal. Returns the guard that flushes it.
///
/// A state folder that cannot be written costs the log, never the command (`rolling::daily`
/// panics then; the builder says so instead).
fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::EnvFilter;
    let dir = paths::state_dir();
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::RollingFileAppender::builder()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("ttyhmi.log")
        .build(&dir)
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env("TTYHMI_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_writer(writer).with_ansi(false).with_env_filter(filter).try_init().ok()?;
    Some(guard)
}
