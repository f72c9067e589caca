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
use ttyhmi::layout::{self, ConnectionKind, Layout, duration::parse_duration};
use ttyhmi::{auth, paths, sim, timefmt};

/// The built-in demo layout, so `ttyhmi demo` works from any folder.
const DEMO_LAYOUT: &str = include_str!("../layouts/demo.yaml");

#[derive(Parser)]
#[command(name = "ttyhmi", version, about = "Terminal SCADA operator console for Modbus TCP devices")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the console on a layout file.
    Run {
        layout: PathBuf,
        /// Monitoring only: nothing can be written to any device.
        #[arg(long)]
        read_only: bool,
        /// No colour (also when the NO_COLOR environment variable is set).
        #[arg(long)]
        no_color: bool,
    },
    /// Start the simulated plant on loopback and run the console on it (layouts/demo.yaml).
    Demo {
        #[arg(long)]
        read_only: bool,
        #[arg(long)]
        no_color: bool,
    },
    /// Run the simulated plant alone, for other consoles and tools; stops on Ctrl-C.
    Sim {
        /// Modbus TCP port (0 picks a free one; it is printed).
        #[arg(long, default_value_t = 5020)]
        modbus_port: u16,
        /// Address to listen on. The simulator has no access control: keep it on loopback.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
    },
    /// Check layout files; print every problem; exit 1 if any file has one.
    Check {
        #[arg(required = true)]
        layouts: Vec<PathBuf>,
    },
    /// Poll a layout's tags without a terminal UI: one line per value change, a summary at the end.
    Watch {
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
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s)
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
        Command::Schema => {
            print!("{}", layout::schema::json_schema());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { layout, read_only, no_color } => {
            let l = load(&layout)?;
            let opts = ConsoleOptions { read_only, user: auth::current_user(), color: color(no_color), utc_offset };
            runtime()?.block_on(run_console(l, opts)).context("console")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { read_only, no_color } => {
            let opts = ConsoleOptions { read_only, user: auth::current_user(), color: color(no_color), utc_offset };
            runtime()?.block_on(async {
                let plant =
                    sim::start(SocketAddr::from(([127, 0, 0, 1], 0))).await.context("starting the simulated plant")?;
                let mut l = layout::parse(DEMO_LAYOUT, "layouts/demo.yaml").context("the built-in demo layout")?;
                point_at(&mut l, plant.modbus_addr);
                let r = run_console(l, opts).await;
                plant.stop().await;
                r.context("console")
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sim { modbus_port, bind } => {
            runtime()?.block_on(async {
                let plant = sim::start(SocketAddr::new(bind, modbus_port)).await.with_context(|| {
                    format!("cannot listen on {bind}:{modbus_port}; is another simulator running? try --modbus-port 0")
                })?;
                println!("simulated plant: Modbus TCP on {} (unit 1); Ctrl-C stops", plant.modbus_addr);
                tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
                plant.stop().await;
                println!("stopped");
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Watch { layout, json, duration, poll } => {
            let l = load(&layout)?;
            let opts = WatchOptions { json, duration, poll };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
            runtime()?.block_on(run_watch(&l, opts, &mut out)).context("watch")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Points every Modbus connection of the layout at `addr` (the demo's simulated plant).
fn point_at(l: &mut Layout, addr: SocketAddr) {
    for c in &mut l.connections {
        if let ConnectionKind::ModbusTcp(m) = &mut c.kind {
            m.host = addr.ip().to_string();
            m.port = addr.port();
        }
    }
}

fn load(path: &Path) -> Result<Layout> {
    match layout::load(path) {
        Ok(l) => Ok(l),
        Err(e) => bail!("the layout has problems; nothing was started\n{e}"),
    }
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut failed = 0;
    for f in files {
        match layout::load(f) {
            Ok(l) => println!(
                "{}: ok ({} connections, {} tags, {} screens)",
                f.display(),
                l.connections.len(),
                l.tags.len(),
                l.screens.len()
            ),
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
fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::EnvFilter;
    let dir = paths::state_dir();
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::daily(&dir, "ttyhmi.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env("TTYHMI_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_writer(writer).with_ansi(false).with_env_filter(filter).try_init().ok()?;
    Some(guard)
}
