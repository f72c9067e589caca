//! Serial ports: opening one with a layout's settings, and listing them (`ttyhmi ports`).
//!
//! Built on tokio-serial without its `libudev` feature: nothing to install to build, and the
//! list comes from `/sys/class/tty` on Linux (with the USB vendor and product where the kernel
//! tells them).

use tokio_serial::{
    ClearBuffer, DataBits, FlowControl, SerialPort, SerialPortBuilderExt, SerialPortType, SerialStream, StopBits,
};

use crate::layout::{Parity, SerialLine};

/// Opens the port for exclusive use, in raw mode with the line's settings. The error says what
/// went wrong and what to do, in words.
pub fn open(line: &SerialLine) -> Result<SerialStream, String> {
    let path = line.port.display().to_string();
    let parity = match line.parity {
        Parity::None => tokio_serial::Parity::None,
        Parity::Even => tokio_serial::Parity::Even,
        Parity::Odd => tokio_serial::Parity::Odd,
    };
    let stop_bits = if line.stop_bits == 2 { StopBits::Two } else { StopBits::One };
    // (Windows names ports `COM3`, which are not files.)
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        match std::fs::metadata(&line.port) {
            Err(_) => {
                return Err(format!(
                    "serial port {path} does not exist (adapter unplugged? `ttyhmi ports` lists the ports)"
                ));
            }
            Ok(m) if !m.file_type().is_char_device() => return Err(not_a_port(&path)),
            Ok(_) => {}
        }
    }
    let stream = tokio_serial::new(&path, line.baud)
        .parity(parity)
        .data_bits(DataBits::Eight)
        .stop_bits(stop_bits)
        .flow_control(FlowControl::None)
        .open_native_async()
        .map_err(|e| open_error(&path, &e))?;
    // Bytes the port holds from before it was opened (noise, another program's traffic) are
    // stale: a port reopened after a flood starts clean. A port that cannot be cleared still
    // works: the first request's purge drops them.
    if let Err(e) = stream.clear(ClearBuffer::Input) {
        tracing::debug!(port = %path, error = %e, "serial: clearing the input buffer failed");
    }
    Ok(stream)
}

fn open_error(path: &str, e: &tokio_serial::Error) -> String {
    use std::io::ErrorKind as Io;
    use tokio_serial::ErrorKind as K;
    match e.kind {
        K::Io(Io::NotFound) => {
            format!("serial port {path} does not exist (adapter unplugged? `ttyhmi ports` lists the ports)")
        }
        K::Io(Io::PermissionDenied) => format!(
            "no permission to open serial port {path} (on Linux, add your account to the group owning it, often `dialout`, and log in again)"
        ),
        K::NoDevice => format!("serial port {path} is busy: another program has it open ({})", e.description),
        K::InvalidInput => format!("serial port {path} refused the settings: {}", e.description),
        // ENOTTY: a device, but not a terminal.
        _ if e.description.contains("typewriter") || e.description.contains("ioctl") => not_a_port(path),
        _ => format!("cannot open serial port {path}: {}", e.description),
    }
}

fn not_a_port(path: &str) -> String {
    format!("{path} is not a serial port (`ttyhmi ports` lists the ports)")
}

/// One serial port the system knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortInfo {
    pub path: String,
    /// `usb 0403:6001 FTDI FT232R USB UART (serial A50285BI)`, `pci`, `bluetooth`, or empty.
    pub detail: String,
}

/// The serial ports of this machine, sorted by path.
pub fn list() -> Result<Vec<PortInfo>, String> {
    // serialport's sysfs scan panics when /sys/class/tty is missing (containers, non-Linux).
    #[cfg(target_os = "linux")]
    if !std::path::Path::new("/sys/class/tty").is_dir() {
        return Err("/sys/class/tty is missing: this system does not list its serial ports".into());
    }
    let mut ports: Vec<PortInfo> = tokio_serial::available_ports()
        .map_err(|e| format!("cannot list serial ports: {e}"))?
        .into_iter()
        .map(|p| PortInfo { path: p.port_name, detail: describe(&p.port_type) })
        .collect();
    ports.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(ports)
}

fn describe(t: &SerialPortType) -> String {
    match t {
        SerialPortType::UsbPort(u) => {
            let mut s = format!("usb {:04x}:{:04x}", u.vid, u.pid);
            for part in [&u.manufacturer, &u.product].into_iter().flatten() {
                s.push(' ');
                s.push_str(part);
            }
            if let Some(serial) = &u.serial_number {
                s.push_str(&format!(" (serial {serial})"));
            }
            s
        }
        SerialPortType::PciPort => "pci".into(),
        SerialPortType::BluetoothPort => "bluetooth".into(),
        SerialPortType::Unknown => String::new(),
    }
}
