//! The settings of a Modbus connection: how the device is reached (TCP, RTU over TCP, a serial
//! line), its unit id, byte order and request sizes.

use std::time::Duration;

use crate::layout::ctx::Ctx;
use crate::layout::de::Sp;
use crate::layout::duration::Dur;
use crate::layout::fields::Protocol;
use crate::layout::model::*;
use crate::layout::raw::*;
use crate::layout::suggest::did_you_mean;

/// The protocol key of a Modbus connection.
pub(super) enum Link<'a> {
    /// `modbus_tcp`
    Tcp(&'a Sp<RawModbusTcp>),
    /// `modbus_rtu_over_tcp`
    RtuOverTcp(&'a Sp<RawModbusTcp>),
    /// `modbus_rtu`
    Serial(&'a Sp<RawSerial>),
}

impl Link<'_> {
    pub(super) fn protocol(&self) -> Protocol {
        match self {
            Link::Tcp(_) => Protocol::ModbusTcp,
            Link::RtuOverTcp(_) => Protocol::ModbusRtuOverTcp,
            Link::Serial(_) => Protocol::ModbusRtu,
        }
    }
}

/// The unit ids a serial device answers as (also behind a gateway), and why.
pub(in crate::layout) const SERIAL_UNITS: &str =
    "serial devices answer as units 1..247 (0 is broadcast: writes only, never answered)";

pub(super) fn connection(cx: &mut Ctx, link: Link<'_>, raw: &RawConnection) -> Option<ConnectionKind> {
    let serial_units = !matches!(link, Link::Tcp(_));
    let inner_unit = match link {
        Link::Tcp(tcp) | Link::RtuOverTcp(tcp) => tcp.unit.as_ref(),
        Link::Serial(_) => None,
    };
    if let (Some(inner), Some(outer)) = (inner_unit, &raw.unit) {
        cx.err(
            outer.loc,
            format!("unit given twice (here and at line {})", inner.loc.line),
            Some("keep one of them".into()),
        );
    }
    let unit = inner_unit.or(raw.unit.as_ref()).map_or(Some(1), |u| match serial_units {
        false => cx.int(
            u,
            0,
            255,
            "unit id",
            Some("Modbus TCP unit ids are 0..255 (gateways use 1..247 for serial devices)"),
        ),
        true => cx.int(u, 1, 247, "unit id", Some(SERIAL_UNITS)),
    });
    let link = match link {
        Link::Tcp(tcp) => tcp_link(cx, tcp).map(|(host, port)| ModbusLink::Tcp { host, port }),
        Link::RtuOverTcp(tcp) => tcp_link(cx, tcp).map(|(host, port)| ModbusLink::RtuOverTcp { host, port }),
        Link::Serial(serial) => serial_line(cx, serial, raw.turnaround.as_ref()).map(ModbusLink::Serial),
    };
    let max_registers = raw.max_registers.as_ref().map_or(Some(125), |v| {
        cx.int(v, 1, 125, "max_registers", Some("Modbus allows at most 125 registers per read request"))
    });
    let max_bits = raw.max_bits.as_ref().map_or(Some(2000), |v| {
        cx.int(v, 1, 2000, "max_bits", Some("Modbus allows at most 2000 coils or discrete inputs per read request"))
    });
    let max_gap = raw.max_gap.as_ref().map_or(Some(16), |v| cx.int(v, 0, 125, "max_gap", None));
    Some(ConnectionKind::Modbus(Modbus {
        link: link?,
        unit: unit?,
        byte_order: raw.byte_order.as_ref().map(|b| byte_order(b.value)).unwrap_or_default(),
        max_registers: max_registers?,
        max_bits: max_bits?,
        max_gap: max_gap?,
        mask_write: raw.mask_write.as_ref().is_none_or(|m| m.value),
    }))
}

/// The host and port of a TCP link.
fn tcp_link(cx: &mut Ctx, tcp: &Sp<RawModbusTcp>) -> Option<(String, u16)> {
    if tcp.host.trim().is_empty() {
        cx.err(tcp.host.loc, "host is empty", Some("write a host name or IP address".into()));
    }
    let port = tcp.port.as_ref().map_or(Some(502), |p| cx.int(p, 1, 65535, "port", None));
    let host = tcp.value.host.value.trim().to_string();
    port.map(|port| (host, port))
}

/// Baud rates serial ports and Modbus devices use (POSIX speeds, the old PC ones and the common
/// higher ones). Anything else is far likelier a typo (96000, 19201) than a device's speed.
const BAUDS: [u32; 29] = [
    110, 150, 300, 600, 1200, 1800, 2400, 4800, 7200, 9600, 14400, 19200, 28800, 31250, 38400, 56000, 57600, 76800,
    115200, 128000, 153600, 230400, 250000, 256000, 460800, 500000, 921600, 1000000, 2000000,
];

fn serial_line(cx: &mut Ctx, raw: &Sp<RawSerial>, turnaround: Option<&Sp<Dur>>) -> Option<SerialLine> {
    let before = cx.diags.len();
    let port = raw.port.value.trim();
    if port.is_empty() {
        cx.err(
            raw.port.loc,
            "port is empty",
            Some("write the serial device, e.g. /dev/ttyUSB0 (`ttyhmi ports` lists them)".into()),
        );
    }
    let baud = baud(cx, raw.baud.as_ref());
    let parity = parity(cx, raw.parity.as_ref());
    let data_bits = match &raw.data_bits {
        Some(d) if d.value != 8 => {
            let hint = "Modbus RTU frames are 8 data bits (7 is Modbus ASCII, which the console does not speak)";
            cx.err(d.loc, format!("data_bits {} does not carry Modbus RTU", d.value), Some(hint.into()));
            None
        }
        _ => Some(8),
    };
    let stop_bits = raw.stop_bits.as_ref().map_or(Some(1), |d| cx.int(d, 1, 2, "stop_bits", Some("use 1 or 2")));
    let turnaround = match turnaround {
        None => Some(Duration::from_millis(20)),
        Some(t) if t.value.0 > Duration::from_secs(10) => {
            cx.err(
                t.loc,
                "turnaround is longer than 10s",
                Some("a few milliseconds to a few hundred are usual".into()),
            );
            None
        }
        Some(t) => Some(t.value.0),
    };
    if cx.diags.len() > before {
        return None;
    }
    Some(SerialLine {
        port: std::path::PathBuf::from(port),
        baud,
        parity,
        data_bits: data_bits?,
        stop_bits: stop_bits?,
        turnaround: turnaround?,
    })
}

/// A serial line's `baud` (default 19200); 0 (reported) when it is not a line speed.
fn baud(cx: &mut Ctx, b: Option<&Sp<i64>>) -> u32 {
    let Some(b) = b else { return 19_200 };
    match u32::try_from(b.value) {
        Ok(v) if BAUDS.contains(&v) => v,
        _ => {
            let list = BAUDS.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
            cx.err(b.loc, format!("baud {} is not a serial line speed", b.value), Some(format!("use one of {list}")));
            0
        }
    }
}

/// A serial line's `parity` (default even, as the Modbus serial line specification says).
fn parity(cx: &mut Ctx, p: Option<&Sp<String>>) -> Parity {
    match p.map(|p| (p.value.trim().to_ascii_lowercase(), p.loc)) {
        None => Parity::Even,
        Some((p, _)) if p == "none" => Parity::None,
        Some((p, _)) if p == "even" => Parity::Even,
        Some((p, _)) if p == "odd" => Parity::Odd,
        Some((p, loc)) => {
            let hint = did_you_mean(&p, ["none", "even", "odd"]).map_or_else(
                || "write none, even or odd".to_string(),
                |s| format!("did you mean `{s}`? (none, even or odd)"),
            );
            cx.err(loc, format!("parity `{p}` is not known"), Some(hint));
            Parity::Even
        }
    }
}

/// The byte order written, in the model's terms.
pub(in crate::layout) fn byte_order(b: RawByteOrder) -> ByteOrder {
    match b {
        RawByteOrder::ABCD => ByteOrder::Abcd,
        RawByteOrder::CDAB => ByteOrder::Cdab,
        RawByteOrder::BADC => ByteOrder::Badc,
        RawByteOrder::DCBA => ByteOrder::Dcba,
    }
}
