//! `ttyhmi sim`: the simulated plant alone, until Ctrl-C. The command exists in every build; the
//! plant only with the `sim` feature (on by default, off in the Debian package).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::layout;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  ttyhmi sim --modbus-port 5020 --opcua-port 4840\n  ttyhmi sim --rtu /dev/pts/7 --baud 9600 --parity none --rtu-units 1,2"
)]
#[cfg_attr(not(feature = "sim"), allow(dead_code))]
pub(super) struct SimArgs {
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
#[cfg_attr(not(feature = "sim"), allow(dead_code))]
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

#[cfg(not(feature = "sim"))]
pub(super) fn sim(_: SimArgs) -> Result<ExitCode> {
    Err(super::common::without_simulator("sim"))
}

#[cfg(feature = "sim")]
pub(super) fn sim(args: SimArgs) -> Result<ExitCode> {
    use std::net::SocketAddr;

    use anyhow::Context;

    use super::common::runtime;
    use crate::{paths, sim};

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
