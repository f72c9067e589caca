//! The `connections:` section: each connection's name, its one protocol, the fields that do not
//! apply to it (see [`super::fields`]) and the settings every protocol has. A protocol's own
//! settings are checked in [`modbus`], [`opcua`] and [`sparkplug`].

mod modbus;
mod opcua;
pub(super) mod sparkplug;

use std::collections::HashSet;
use std::time::Duration;

use super::ctx::{Ctx, key_text, valid_name};
use super::de::{Sp, from_node};
use super::fields::{self, Protocol};
use super::model::*;
use super::node::{Loc, Node, NodeKind};
use super::raw::*;

pub(super) use modbus::{SERIAL_UNITS, byte_order};

/// The connections of a layout, and the names written (valid or not).
pub(super) struct Connections {
    pub(super) valid: Vec<Connection>,
    pub(super) declared: HashSet<String>,
    /// Connections declared with an `opcua` key, valid or not (their tags are checked as OPC UA).
    pub(super) declared_ua: HashSet<String>,
    /// Connections declared with a `sparkplug` key, valid or not (their tags are checked as
    /// Sparkplug metrics).
    pub(super) declared_sp: HashSet<String>,
}

/// The `connections:` section.
pub(super) fn connections(cx: &mut Ctx, root: &Node, node: Option<&Node>) -> Connections {
    let mut out = Connections {
        valid: Vec::new(),
        declared: HashSet::new(),
        declared_ua: HashSet::new(),
        declared_sp: HashSet::new(),
    };
    let hint = "add connections: { plc1: { modbus_tcp: { host: 127.0.0.1, port: 502, unit: 1 } } }";
    let Some(list) = cx.section(root, node, "connections", hint) else { return out };
    for (k, v) in list {
        let name = key_text(k);
        out.declared.insert(name.clone());
        if let NodeKind::Map(fields) = &v.kind {
            let has = |key: &str| fields.iter().any(|(f, _)| f.kind.scalar_text().as_deref() == Some(key));
            if has("opcua") {
                out.declared_ua.insert(name.clone());
            } else if has("sparkplug") && !["modbus_tcp", "modbus_rtu_over_tcp", "modbus_rtu"].into_iter().any(has) {
                out.declared_sp.insert(name.clone());
            }
        }
        if !valid_name(&name) {
            cx.err(
                k.loc,
                format!("connection name `{name}` is not valid"),
                Some("use letters, digits and `_`, starting with a letter".into()),
            );
            continue;
        }
        match from_node::<RawConnection>(v) {
            Ok(raw) => out.valid.extend(connection(cx, name, k.loc, raw)),
            Err(e) => cx.de(e),
        }
    }
    out
}

/// The protocol key of a connection.
enum Link<'a> {
    /// `modbus_tcp`, `modbus_rtu_over_tcp` or `modbus_rtu`.
    Modbus(modbus::Link<'a>),
    /// `opcua`
    OpcUa(&'a Sp<RawOpcUa>),
    /// `sparkplug`
    Sparkplug(&'a Sp<RawSparkplug>),
}

fn connection(cx: &mut Ctx, name: String, loc: Loc, raw: RawConnection) -> Option<Connection> {
    let before = cx.diags.len();
    let timeout = match &raw.timeout {
        // A Sparkplug write goes through the broker and the gateway (which audits, writes and
        // reads back) before its result comes back.
        None if raw.sparkplug.is_some() => Some(sparkplug::DEFAULT_TIMEOUT),
        None => Some(Duration::from_secs(1)),
        Some(t) if t.value.0 > Duration::from_secs(60) => {
            cx.err(
                t.loc,
                "timeout is longer than 60s",
                Some("a device that takes longer than a minute is not answering".into()),
            );
            None
        }
        Some(t) => cx.period(t, "timeout"),
    };
    let link = link(cx, &name, loc, &raw)?;
    let kind = match link {
        Link::Modbus(link) => {
            fields::check_connection(cx, link.protocol(), &name, &raw);
            modbus::connection(cx, link, &raw)
        }
        Link::OpcUa(ua) => {
            fields::check_connection(cx, Protocol::OpcUa, &name, &raw);
            opcua::connection(cx, &name, ua, &raw)
        }
        Link::Sparkplug(sp) => {
            fields::check_connection(cx, Protocol::Sparkplug, &name, &raw);
            sparkplug::connection(cx, sp)
        }
    };
    let poll = raw.poll.as_ref().map_or(Some(Duration::from_secs(1)), |p| cx.period(p, "poll"));
    if cx.diags.len() > before {
        return None;
    }
    Some(Connection { name, kind: kind?, timeout: timeout?, poll: poll? })
}

/// The one protocol key of a connection; `None` (reported) when it names none or several.
fn link<'r>(cx: &mut Ctx, name: &str, loc: Loc, raw: &'r RawConnection) -> Option<Link<'r>> {
    let protocols = [
        raw.modbus_tcp.as_ref().map(|p| p.loc),
        raw.modbus_rtu_over_tcp.as_ref().map(|p| p.loc),
        raw.modbus_rtu.as_ref().map(|p| p.loc),
        raw.opcua.as_ref().map(|p| p.loc),
        raw.sparkplug.as_ref().map(|p| p.loc),
    ];
    if let Some(second) = protocols.iter().flatten().nth(1) {
        cx.err(
            *second,
            format!("connection `{name}` names two protocols"),
            Some("one connection is one device: split it in two".into()),
        );
        return None;
    }
    match (&raw.modbus_tcp, &raw.modbus_rtu_over_tcp, &raw.modbus_rtu, &raw.opcua, &raw.sparkplug) {
        (Some(tcp), ..) => Some(Link::Modbus(modbus::Link::Tcp(tcp))),
        (_, Some(tcp), ..) => Some(Link::Modbus(modbus::Link::RtuOverTcp(tcp))),
        (_, _, Some(serial), ..) => Some(Link::Modbus(modbus::Link::Serial(serial))),
        (_, _, _, Some(ua), _) => Some(Link::OpcUa(ua)),
        (.., Some(sp)) => Some(Link::Sparkplug(sp)),
        (None, None, None, None, None) => {
            cx.err(
                loc,
                format!("connection `{name}` names no protocol"),
                Some("add modbus_tcp: { host: 127.0.0.1, port: 502, unit: 1 }, modbus_rtu: { port: /dev/ttyUSB0, baud: 19200 }, modbus_rtu_over_tcp: { host, port, unit }, opcua: { endpoint: opc.tcp://host:4840 } or sparkplug: { host, group, node, host_id }".into()),
            );
            None
        }
    }
}

/// The defaults a connection of `protocol` has, to check the tags of a connection that has
/// errors itself.
pub(super) fn default_connection(name: &str, protocol: Protocol) -> Connection {
    let kind = if protocol == Protocol::Sparkplug {
        ConnectionKind::Sparkplug(sparkplug::placeholder())
    } else if protocol == Protocol::OpcUa {
        ConnectionKind::OpcUa(OpcUaConn {
            endpoint: String::new(),
            security: UaSecurity::None,
            user: UaUser::Anonymous,
            publishing_interval: Duration::from_millis(500),
            accept_host_name_mismatch: false,
        })
    } else {
        ConnectionKind::Modbus(Modbus {
            link: ModbusLink::Tcp { host: String::new(), port: 502 },
            unit: 1,
            byte_order: ByteOrder::Abcd,
            max_registers: 125,
            max_bits: 2000,
            max_gap: 16,
            mask_write: true,
        })
    };
    Connection { name: name.to_string(), kind, timeout: Duration::from_secs(1), poll: Duration::from_secs(1) }
}
