//! `ttyhmi demo`: the simulated plant on loopback, and the console on it as the demo's operator.
//! The command exists in every build; its plant only with the `sim` feature (on by default, off
//! in the Debian package), and without it the command says so.

#[cfg(feature = "sim")]
mod start;
#[cfg(feature = "sim")]
pub(super) use start::demo;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  ttyhmi demo             (the operator's PIN is shown on the screen)\n  ttyhmi demo --mqtt      (the same plant through a Sparkplug B gateway and broker)"
)]
#[cfg_attr(not(feature = "sim"), allow(dead_code))]
pub(super) struct DemoArgs {
    /// Monitoring only: nothing can be written, not even to the simulated plant.
    #[arg(long)]
    read_only: bool,
    /// No colour (also when the NO_COLOR environment variable is set).
    #[arg(long)]
    no_color: bool,
    /// Through MQTT: an in-process broker, a Sparkplug B gateway polling the simulated plant, and
    /// the console reading the broker (layouts/sparkplug-console.yaml).
    #[arg(long)]
    mqtt: bool,
}

#[cfg(not(feature = "sim"))]
pub(super) fn demo(_: DemoArgs, _: time::UtcOffset) -> anyhow::Result<std::process::ExitCode> {
    Err(super::common::without_simulator("demo"))
}
