//! `ttyhmi ports`: the serial ports, with what the system knows of them.

use std::process::ExitCode;

use anyhow::Result;

pub(super) fn ports() -> Result<ExitCode> {
    let ports = crate::driver::modbus::serial::list().map_err(anyhow::Error::msg)?;
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
