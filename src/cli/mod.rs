//! The `ttyhmi` command line: the binary edge, where errors become messages and exit codes. One
//! file per command; `main.rs` only parses the arguments and calls [`dispatch`]. Nothing else in
//! the crate depends on this module (tests/boundaries.rs checks it).

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

mod attach;
mod audit;
mod browse;
mod check;
mod common;
mod console;
mod demo;
mod docs;
mod gateway;
mod logging;
mod ports;
mod run;
mod schema;
mod serve;
mod sim;
mod trust;
mod users;
mod watch;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

pub use logging::init_logging;

/// The command line.
#[derive(Parser)]
#[command(
    name = "ttyhmi",
    version,
    about = "Terminal SCADA operator console for Modbus (TCP, RTU), OPC UA and Sparkplug B (MQTT)",
    after_help = "Start with:\n  ttyhmi demo                 the console on a built-in simulated plant\n  ttyhmi check plant.yaml     check a layout\n  ttyhmi run plant.yaml       the console on your plant\n\n`ttyhmi COMMAND --help` shows a command's options; `ttyhmi man` the whole manual."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the console on a layout file.
    Run(run::RunArgs),
    /// Run one console server for many operators: one plant, a session per SSH login or attach.
    Serve(serve::ServeArgs),
    /// Connect this terminal to a running console server through its local socket.
    Attach(attach::AttachArgs),
    /// List who is connected to a running console server (from its local socket).
    #[command(after_help = "Example: ttyhmi sessions /run/ttyhmi/console.sock")]
    Sessions(attach::AttachArgs),
    /// Set a user's role and PIN in the users file (the PIN is asked twice, not shown); run as root.
    Passwd(users::PasswdArgs),
    /// Show who you are to the console, your role, where the role comes from, and how to get one.
    Whoami(users::WhoamiArgs),
    /// The audit log: check its chain, or show its last records.
    Audit {
        #[command(subcommand)]
        what: audit::AuditCommand,
    },
    /// Publish a layout's PLCs to an MQTT broker as a Sparkplug B edge node (the `publish:` block).
    Gateway(gateway::GatewayArgs),
    /// Print this installation's command key (public half, one line) for a gateway's consoles file.
    Key(gateway::KeyArgs),
    /// Start the simulated plant on loopback and run the console on it (layouts/demo.yaml).
    Demo(demo::DemoArgs),
    /// Run the simulated plant alone, for other consoles and tools; stops on Ctrl-C.
    Sim(sim::SimArgs),
    /// Check layout files; print every problem; exit 1 if any file has one.
    Check(check::CheckArgs),
    /// Poll a layout's tags without a terminal UI: one line per value change, a summary at the end.
    Watch(watch::WatchArgs),
    /// Print the JSON schema of the layout format.
    Schema,
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Print the manual page (roff), with every subcommand and option.
    Man,
    /// List the serial ports of this machine (path, USB vendor:product), to find the adapter.
    Ports,
    /// Walk an OPC UA server's address space; print connections + tags ready to paste into a layout.
    Browse(browse::BrowseArgs),
    /// Trust an OPC UA server's certificate after showing it: without CERT, list the rejected ones.
    Trust(trust::TrustArgs),
}

/// Runs the command. `utc_offset` is the local time's, read before any thread started.
pub fn dispatch(cli: Cli, utc_offset: time::UtcOffset) -> Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(args, utc_offset),
        Command::Serve(args) => serve::serve(args, utc_offset),
        Command::Attach(args) => attach::attach(args),
        Command::Sessions(args) => attach::sessions(args),
        Command::Passwd(args) => users::passwd(args),
        Command::Whoami(args) => users::whoami(args),
        Command::Audit { what } => audit::audit(what),
        Command::Gateway(args) => gateway::gateway(args),
        Command::Key(args) => gateway::key(args),
        Command::Demo(args) => demo::demo(args, utc_offset),
        Command::Sim(args) => sim::sim(args),
        Command::Check(args) => check::check(args),
        Command::Watch(args) => watch::watch(args),
        Command::Schema => schema::schema(),
        Command::Completions(args) => docs::completions(args),
        Command::Man => docs::man(),
        Command::Ports => ports::ports(),
        Command::Browse(args) => browse::browse(args),
        Command::Trust(args) => trust::trust(args),
    }
}
