//! From the YAML node tree to a typed [`Layout`], collecting every problem on the way.

use std::collections::HashSet;
use std::time::Duration;

use super::address;
pub use super::address::parse_modicon;
use super::alarms;
use super::ctx::{Ctx, entries, key_text};
use super::de::{Sp, from_node};
use super::diag::Diagnostic;
use super::history;
use super::model::*;
use super::node::{Loc, Node, NodeKind};
use super::nodeid::NodeRef;
use super::panels;
use super::raw::*;
use super::suggest::did_you_mean;

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && s.len() <= 64
}

/// The top-level sections of a layout, as written.
#[derive(Default)]
struct Sections<'n> {
    title: Option<String>,
    connections: Option<&'n Node>,
    tags: Option<&'n Node>,
    screens: Option<&'n Node>,
    alarms: Option<&'n Node>,
    alarm_options: Option<&'n Node>,
    history: Option<&'n Node>,
}

/// The connections of a layout, and the names written (valid or not).
struct Connections {
    valid: Vec<Connection>,
    declared: HashSet<String>,
    /// Connections declared with an `opcua` key, valid or not (their tags are checked as OPC UA).
    declared_ua: HashSet<String>,
}

/// The tags of a layout, and the names written (valid or not).
struct Tags {
    valid: Vec<Tag>,
    declared: HashSet<String>,
    /// The connections written tags read from, valid or not (a comms alarm needs tags).
    sources: HashSet<String>,
}

/// Validates a parsed document. `default_title` is used when the layout has no `title`.
pub fn build(root: &Node, file: &str, default_title: &str) -> Result<Layout, Vec<Diagnostic>> {
    let mut cx = Ctx::new(file);
    let Some(top) = sections(&mut cx, root) else { return Err(cx.diags) };
    let conns = connections(&mut cx, root, top.connections);
    let tags = tags(&mut cx, root, top.tags, &conns);

    // Screens, and the memory their history may take.
    let history = history::settings(&mut cx, top.history);
    let refs = panels::Refs { tags: &tags.valid, declared: &tags.declared, history: history.keep };
    let placed = panels::screens(&mut cx, top.screens, &refs);
    history::check_budget(&mut cx, &history, &placed);
    let mut screens: Vec<Screen> = placed.into_iter().map(|(s, _)| s).collect();

    // Alarms.
    let known = alarms::Known {
        tags: &tags.valid,
        conns: &conns.valid,
        declared_tags: &tags.declared,
        declared_conns: &conns.declared,
        sources: &tags.sources,
    };
    let alarms = alarms::alarms(&mut cx, top.alarms, &known);
    let alarm_options = alarms::alarm_options(&mut cx, top.alarm_options);
    alarms::ensure_alarms_screen(&mut screens, &alarms);

    if cx.diags.is_empty() {
        Ok(Layout {
            title: top.title.unwrap_or_else(|| default_title.to_string()),
            connections: conns.valid,
            tags: tags.valid,
            screens,
            alarms,
            alarm_options,
            history: history.keep.unwrap_or(DEFAULT_HISTORY),
            history_budget: history.budget.unwrap_or(DEFAULT_HISTORY_BUDGET),
            warnings: sorted(cx.warnings),
        }
        .with_safe_texts())
    } else {
        let mut all = cx.diags;
        all.extend(cx.warnings);
        Err(sorted(all))
    }
}

/// The top-level keys of the document; `None` (reported) when it is not a mapping.
fn sections<'n>(cx: &mut Ctx, root: &'n Node) -> Option<Sections<'n>> {
    let top = match &root.kind {
        NodeKind::Map(e) => e.as_slice(),
        NodeKind::Null => {
            cx.err(
                Loc::default(),
                "the layout file is empty",
                Some("start from layouts/demo.yaml or the example in README.md".into()),
            );
            return None;
        }
        other => {
            cx.err(
                root.loc,
                format!("a layout is a mapping of title, connections, tags and screens, found {}", other.describe()),
                None,
            );
            return None;
        }
    };
    let mut s = Sections::default();
    for (k, v) in top {
        let key = key_text(k);
        match key.as_str() {
            "title" => match from_node::<String>(v) {
                Ok(t) => s.title = Some(t),
                Err(e) => cx.de(e),
            },
            "connections" => s.connections = Some(v),
            "tags" => s.tags = Some(v),
            "screens" => s.screens = Some(v),
            "alarms" => s.alarms = Some(v),
            "alarm_options" => s.alarm_options = Some(v),
            "history" => s.history = Some(v),
            _ => {
                let hint = match did_you_mean(&key, TOP_LEVEL.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("allowed here: {}", TOP_LEVEL.join(", ")),
                };
                cx.err(k.loc, format!("unknown field `{key}`"), Some(hint));
            }
        }
    }
    Some(s)
}

/// The entries of a section every layout needs, or `None` (reported) when it is missing or is
/// not a mapping.
fn section<'n>(
    cx: &mut Ctx,
    root: &Node,
    node: Option<&'n Node>,
    name: &str,
    hint: &str,
) -> Option<&'n [(Node, Node)]> {
    match node.map(entries) {
        None => {
            cx.err(root.loc, format!("missing `{name}`"), Some(hint.into()));
            None
        }
        Some(Err(e)) => {
            cx.de(e);
            None
        }
        Some(Ok(list)) => Some(list),
    }
}

/// The `connections:` section.
fn connections(cx: &mut Ctx, root: &Node, node: Option<&Node>) -> Connections {
    let mut out = Connections { valid: Vec::new(), declared: HashSet::new(), declared_ua: HashSet::new() };
    let hint = "add connections: { plc1: { modbus_tcp: { host: 127.0.0.1, port: 502, unit: 1 } } }";
    let Some(list) = section(cx, root, node, "connections", hint) else { return out };
    for (k, v) in list {
        let name = key_text(k);
        out.declared.insert(name.clone());
        if let NodeKind::Map(fields) = &v.kind
            && fields.iter().any(|(f, _)| f.kind.scalar_text().as_deref() == Some("opcua"))
        {
            out.declared_ua.insert(name.clone());
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

/// The `tags:` section.
fn tags(cx: &mut Ctx, root: &Node, node: Option<&Node>, conns: &Connections) -> Tags {
    let mut out = Tags { valid: Vec::new(), declared: HashSet::new(), sources: HashSet::new() };
    let hint = "add tags: { P_101: { source: plc1, holding: 0, type: f32 } }";
    let Some(list) = section(cx, root, node, "tags", hint) else { return out };
    for (k, v) in list {
        let name = key_text(k);
        out.declared.insert(name.clone());
        out.sources.extend(source_of(v));
        if !valid_name(&name) {
            cx.err(
                k.loc,
                format!("tag name `{name}` is not valid"),
                Some(
                    "use letters, digits, `_`, `-` and `.`, starting with a letter or `_`, at most 64 characters"
                        .into(),
                ),
            );
            continue;
        }
        match from_node::<RawTag>(v) {
            Ok(raw) => {
                out.valid.extend(tag(cx, Sp::new(name, k.loc), raw, &conns.valid, &conns.declared, &conns.declared_ua))
            }
            Err(e) => cx.de(e),
        }
    }
    out
}

/// Diagnostics in the order they stand in the file; at one place, errors first (the sort is stable).
fn sorted(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diags.sort_by_key(|d| (d.loc, d.severity));
    diags
}

/// The `source:` written in a tag, even when the tag has errors.
fn source_of(tag: &Node) -> Option<String> {
    let NodeKind::Map(fields) = &tag.kind else { return None };
    fields
        .iter()
        .find(|(k, _)| k.kind.scalar_text().as_deref() == Some("source"))
        .and_then(|(_, v)| v.kind.scalar_text())
}

fn connection(cx: &mut Ctx, name: String, loc: Loc, raw: RawConnection) -> Option<Connection> {
    let before = cx.diags.len();
    let timeout = match &raw.timeout {
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
    let protocols = [
        raw.modbus_tcp.as_ref().map(|p| p.loc),
        raw.modbus_rtu_over_tcp.as_ref().map(|p| p.loc),
        raw.modbus_rtu.as_ref().map(|p| p.loc),
        raw.opcua.as_ref().map(|p| p.loc),
    ];
    if let Some(second) = protocols.iter().flatten().nth(1) {
        cx.err(
            *second,
            format!("connection `{name}` names two protocols"),
            Some("one connection is one device: split it in two".into()),
        );
        return None;
    }
    let kind = match (&raw.modbus_tcp, &raw.modbus_rtu_over_tcp, &raw.modbus_rtu, &raw.opcua) {
        (Some(tcp), ..) => modbus_connection(cx, Link::Tcp(tcp, false), &raw),
        (_, Some(tcp), ..) => modbus_connection(cx, Link::Tcp(tcp, true), &raw),
        (_, _, Some(serial), _) => modbus_connection(cx, Link::Serial(serial), &raw),
        (.., Some(ua)) => ua_connection(cx, &name, ua, &raw),
        (None, None, None, None) => {
            cx.err(
                loc,
                format!("connection `{name}` names no protocol"),
                Some("add modbus_tcp: { host: 127.0.0.1, port: 502, unit: 1 }, modbus_rtu: { port: /dev/ttyUSB0, baud: 19200 }, modbus_rtu_over_tcp: { host, port, unit } or opcua: { endpoint: opc.tcp://host:4840 }".into()),
            );
            return None;
        }
    };
    let poll = raw.poll.as_ref().map_or(Some(Duration::from_secs(1)), |p| cx.period(p, "poll"));
    if cx.diags.len() > before {
        return None;
    }
    Some(Connection { name, kind: kind?, timeout: timeout?, poll: poll? })
}

/// The protocol key of a Modbus connection.
enum Link<'a> {
    /// `modbus_tcp` (false) or `modbus_rtu_over_tcp` (true).
    Tcp(&'a Sp<RawModbusTcp>, bool),
    Serial(&'a Sp<RawSerial>),
}

const SERIAL_UNITS: &str = "serial devices answer as units 1..247 (0 is broadcast: writes only, never answered)";

fn modbus_connection(cx: &mut Ctx, link: Link<'_>, raw: &RawConnection) -> Option<ConnectionKind> {
    if let Some(p) = &raw.publishing_interval {
        cx.err(p.loc, "`publishing_interval` applies to OPC UA connections", Some("use `poll:` for Modbus".into()));
    }
    let serial_units = !matches!(link, Link::Tcp(_, false));
    let inner_unit = match link {
        Link::Tcp(tcp, _) => tcp.unit.as_ref(),
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
        Link::Tcp(tcp, rtu_over_tcp) => {
            if let Some(t) = &raw.turnaround {
                cx.err(t.loc, "`turnaround` applies to serial lines (`modbus_rtu`)", Some("remove it".into()));
            }
            if tcp.host.trim().is_empty() {
                cx.err(tcp.host.loc, "host is empty", Some("write a host name or IP address".into()));
            }
            let port = tcp.port.as_ref().map_or(Some(502), |p| cx.int(p, 1, 65535, "port", None));
            let host = tcp.value.host.value.trim().to_string();
            port.map(|port| match rtu_over_tcp {
                true => ModbusLink::RtuOverTcp { host, port },
                false => ModbusLink::Tcp { host, port },
            })
        }
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

/// Baud rates serial ports and Modbus devices use (POSIX speeds, the old PC ones and the common
/// higher ones). Anything else is far likelier a typo (96000, 19201) than a device's speed.
const BAUDS: [u32; 29] = [
    110, 150, 300, 600, 1200, 1800, 2400, 4800, 7200, 9600, 14400, 19200, 28800, 31250, 38400, 56000, 57600, 76800,
    115200, 128000, 153600, 230400, 250000, 256000, 460800, 500000, 921600, 1000000, 2000000,
];

fn serial_line(cx: &mut Ctx, raw: &Sp<RawSerial>, turnaround: Option<&Sp<super::duration::Dur>>) -> Option<SerialLine> {
    let before = cx.diags.len();
    let port = raw.port.value.trim();
    if port.is_empty() {
        cx.err(
            raw.port.loc,
            "port is empty",
            Some("write the serial device, e.g. /dev/ttyUSB0 (`ttyhmi ports` lists them)".into()),
        );
    }
    let baud = match &raw.baud {
        None => 19_200,
        Some(b) => match u32::try_from(b.value) {
            Ok(v) if BAUDS.contains(&v) => v,
            _ => {
                let list = BAUDS.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
                cx.err(
                    b.loc,
                    format!("baud {} is not a serial line speed", b.value),
                    Some(format!("use one of {list}")),
                );
                0
            }
        },
    };
    let parity = match raw.parity.as_ref().map(|p| (p.value.trim().to_ascii_lowercase(), p.loc)) {
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
    };
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

fn ua_connection(cx: &mut Ctx, name: &str, ua: &Sp<RawOpcUa>, raw: &RawConnection) -> Option<ConnectionKind> {
    let before = cx.diags.len();
    let modbus_only = [
        ("byte_order", raw.byte_order.as_ref().map(|v| v.loc)),
        ("max_registers", raw.max_registers.as_ref().map(|v| v.loc)),
        ("max_bits", raw.max_bits.as_ref().map(|v| v.loc)),
        ("max_gap", raw.max_gap.as_ref().map(|v| v.loc)),
        ("mask_write", raw.mask_write.as_ref().map(|v| v.loc)),
        ("unit", raw.unit.as_ref().map(|v| v.loc)),
        ("turnaround", raw.turnaround.as_ref().map(|v| v.loc)),
        ("poll", raw.poll.as_ref().map(|v| v.loc)),
    ];
    for (field, loc) in modbus_only {
        if let Some(loc) = loc {
            let hint = if field == "poll" { "OPC UA subscribes: use publishing_interval" } else { "remove it" };
            cx.err(loc, format!("`{field}` applies to Modbus connections; `{name}` is OPC UA"), Some(hint.into()));
        }
    }
    let endpoint = ua.endpoint.value.trim().to_string();
    let host = endpoint.strip_prefix("opc.tcp://").map(|r| r.split(['/', ':']).next().unwrap_or(""));
    if !matches!(host, Some(h) if !h.is_empty()) {
        cx.err(
            ua.endpoint.loc,
            format!("`{endpoint}` is not an OPC UA endpoint"),
            Some("write opc.tcp://host:4840".into()),
        );
    }
    let security = match &ua.security {
        // Secure unless the layout says otherwise.
        None => Some(UaSecurity::Secure { policy: UaPolicy::Basic256Sha256, mode: UaMode::SignAndEncrypt }),
        Some(s) => ua_security(cx, s),
    };
    let user = match &ua.user {
        None => Some(UaUser::Anonymous),
        Some(u) => ua_user(cx, u),
    };
    let publishing_interval = raw
        .publishing_interval
        .as_ref()
        .map_or(Some(Duration::from_millis(500)), |p| cx.period(p, "publishing_interval"));
    let accept_host_name_mismatch = ua.accept_host_name_mismatch.as_ref().is_some_and(|a| a.value);
    if let Some(a) = &ua.accept_host_name_mismatch
        && a.value
        && security == Some(UaSecurity::None)
    {
        cx.err(
            a.loc,
            format!("`accept_host_name_mismatch` applies to secure connections; `{name}` has security: none"),
            Some("remove it: with security none no certificate is checked".into()),
        );
    }
    if cx.diags.len() > before {
        return None;
    }
    Some(ConnectionKind::OpcUa(OpcUaConn {
        endpoint,
        security: security?,
        user: user?,
        publishing_interval: publishing_interval?,
        accept_host_name_mismatch,
    }))
}

const POLICIES: [&str; 3] = ["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"];
const MODES: [&str; 2] = ["Sign", "SignAndEncrypt"];

fn ua_security(cx: &mut Ctx, s: &Sp<RawSecurity>) -> Option<UaSecurity> {
    match &s.value {
        RawSecurity::Named(n) if n == "none" => Some(UaSecurity::None),
        RawSecurity::Named(n) => {
            cx.err(
                s.loc,
                format!("security `{n}` is not known"),
                Some("write `none`, or `{ policy: Basic256Sha256, mode: SignAndEncrypt }`".into()),
            );
            None
        }
        RawSecurity::Policy { policy, mode, unknown } => {
            for k in unknown {
                cx.err(k.loc, format!("unknown field `{}`", k.value), Some("allowed here: policy, mode".into()));
            }
            let policy = match policy {
                None => {
                    cx.err(s.loc, "security needs a `policy`", Some(format!("one of {}", POLICIES.join(", "))));
                    None
                }
                Some(p) => match p.value.as_str() {
                    "Basic256Sha256" => Some(UaPolicy::Basic256Sha256),
                    "Aes128_Sha256_RsaOaep" => Some(UaPolicy::Aes128Sha256RsaOaep),
                    "Aes256_Sha256_RsaPss" => Some(UaPolicy::Aes256Sha256RsaPss),
                    other => {
                        let hint = match did_you_mean(other, POLICIES) {
                            Some(m) => format!("did you mean `{m}`?"),
                            None if ["Basic128Rsa15", "Basic256"].contains(&other) => {
                                "this policy is deprecated and insecure; use Basic256Sha256".into()
                            }
                            None => format!("one of {}", POLICIES.join(", ")),
                        };
                        cx.err(p.loc, format!("security policy `{other}` is not supported"), Some(hint));
                        None
                    }
                },
            };
            let mode = match mode {
                None => {
                    cx.err(s.loc, "security needs a `mode`", Some("Sign or SignAndEncrypt".into()));
                    None
                }
                Some(m) => match m.value.as_str() {
                    "Sign" => Some(UaMode::Sign),
                    "SignAndEncrypt" => Some(UaMode::SignAndEncrypt),
                    other => {
                        let hint = did_you_mean(other, MODES)
                            .map_or("Sign or SignAndEncrypt".to_string(), |m| format!("did you mean `{m}`?"));
                        cx.err(m.loc, format!("security mode `{other}` is not known"), Some(hint));
                        None
                    }
                },
            };
            Some(UaSecurity::Secure { policy: policy?, mode: mode? })
        }
    }
}

fn ua_user(cx: &mut Ctx, u: &Sp<RawUser>) -> Option<UaUser> {
    if let Some(p) = &u.password {
        cx.err(
            p.loc,
            "a password never stands in the layout",
            Some("put it in a file (password_file:) or an environment variable (password_env:)".into()),
        );
        return None;
    }
    match (&u.username, &u.certificate) {
        (Some(_), Some(c)) => {
            cx.err(c.loc, "a user is either a username or a certificate", None);
            None
        }
        (None, None) => {
            cx.err(u.loc, "user needs a `username` (with password_file or password_env) or a `certificate`", None);
            None
        }
        (None, Some(c)) => {
            for f in [&u.password_file, &u.password_env].into_iter().flatten() {
                cx.err(f.loc, "a certificate user has no password", Some("remove it".into()));
            }
            Some(UaUser::Certificate { cert: c.cert.value.clone().into(), key: c.key.value.clone().into() })
        }
        (Some(name), None) => {
            let password = match (&u.password_file, &u.password_env) {
                (Some(f), None) => SecretSource::File(f.value.clone().into()),
                (None, Some(e)) => SecretSource::Env(e.value.clone()),
                (Some(_), Some(e)) => {
                    cx.err(e.loc, "give the password one way: password_file or password_env", None);
                    return None;
                }
                (None, None) => {
                    cx.err(u.loc, "a username needs password_file or password_env", None);
                    return None;
                }
            };
            if name.value.is_empty() {
                cx.err(name.loc, "the username is empty", None);
                return None;
            }
            Some(UaUser::UserName { username: name.value.clone(), password })
        }
    }
}

/// The defaults a connection has, to check the tags of a connection that has errors itself.
fn default_connection(name: &str, opcua: bool) -> Connection {
    let kind = if opcua {
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

fn byte_order(b: RawByteOrder) -> ByteOrder {
    match b {
        RawByteOrder::ABCD => ByteOrder::Abcd,
        RawByteOrder::CDAB => ByteOrder::Cdab,
        RawByteOrder::BADC => ByteOrder::Badc,
        RawByteOrder::DCBA => ByteOrder::Dcba,
    }
}

fn data_type(t: RawType, length: u16) -> DataType {
    match t {
        RawType::Bool => DataType::Bool,
        RawType::U16 => DataType::U16,
        RawType::I16 => DataType::I16,
        RawType::U32 => DataType::U32,
        RawType::I32 => DataType::I32,
        RawType::U64 => DataType::U64,
        RawType::I64 => DataType::I64,
        RawType::F32 => DataType::F32,
        RawType::F64 => DataType::F64,
        RawType::Bcd16 => DataType::Bcd16,
        RawType::Bcd32 => DataType::Bcd32,
        RawType::String => DataType::String { chars: length },
    }
}

fn tag(
    cx: &mut Ctx,
    name: Sp<String>,
    raw: RawTag,
    conns: &[Connection],
    declared: &HashSet<String>,
    declared_ua: &HashSet<String>,
) -> Option<Tag> {
    // A tag of a connection that has errors of its own is still checked, against defaults.
    let fallback;
    let (conn_idx, conn) = match conns.iter().position(|c| c.name == *raw.source.value) {
        Some(i) => (Some(i), &conns[i]),
        None if declared.contains(&*raw.source.value) => {
            fallback = default_connection(&raw.source, declared_ua.contains(&*raw.source.value));
            (None, &fallback)
        }
        None => {
            let mut names: Vec<&str> = declared.iter().map(String::as_str).collect();
            names.sort_unstable();
            let hint = match did_you_mean(&raw.source, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if names.is_empty() => "define it under connections:".into(),
                None => format!("defined connections: {}", names.join(", ")),
            };
            cx.err(
                raw.source.loc,
                format!("tag `{}` reads from connection `{}`, which is not defined", *name, *raw.source),
                Some(hint),
            );
            return None;
        }
    };
    let before = cx.diags.len();
    let decimals = raw.decimals.as_ref().and_then(|d| cx.int::<u8>(d, 0, 12, "decimals", None));
    let (source, poll) = match &conn.kind {
        ConnectionKind::Modbus(mb) => {
            let point = modbus_point(cx, &name, &raw, conn, mb);
            let poll = raw.poll.as_ref().map_or(Some(conn.poll), |p| cx.period(p, "poll"));
            (point.map(TagSource::Modbus), poll)
        }
        ConnectionKind::OpcUa(ua) => {
            let point = ua_point(cx, &name, &raw);
            // Subscriptions send changes only; the driver confirms unchanged values at least
            // once per publishing interval or second, so staleness is judged on that.
            (point.map(TagSource::OpcUa), Some(ua.publishing_interval.max(Duration::from_secs(1))))
        }
    };
    let write = raw.write.as_ref().and_then(|w| write_spec(cx, w, source.as_ref()));
    if cx.diags.len() > before {
        return None;
    }
    Some(Tag {
        write,
        name: name.value,
        description: raw.description.unwrap_or_default(),
        units: raw.units.unwrap_or_default(),
        decimals,
        conn: ConnId(conn_idx? as u16),
        poll: poll?,
        on_text: raw.on_text.map(|t| t.value),
        off_text: raw.off_text.map(|t| t.value),
        source: source?,
    })
}

/// The `write:` block of a tag.
fn write_spec(cx: &mut Ctx, w: &Sp<RawWrite>, source: Option<&TagSource>) -> Option<WriteSpec> {
    let before = cx.diags.len();
    let role = match w.role.value.parse::<crate::auth::Role>() {
        Ok(crate::auth::Role::Viewer) => {
            cx.err(w.role.loc, "viewers never write", Some("the lowest role that may write is operator".into()));
            None
        }
        Ok(r) => Some(r),
        Err(_) => {
            cx.err(
                w.role.loc,
                format!("unknown role `{}`", w.role.value),
                Some(format!("one of {}", crate::auth::Role::names())),
            );
            None
        }
    };
    let boolean = match source {
        Some(TagSource::Modbus(p)) => {
            if matches!(p.table, Table::Input | Table::Discrete) {
                cx.err(
                    w.loc,
                    format!("a {} is read-only by nature and cannot be written", p.table.name()),
                    Some("remove write, or use a coil or holding register".into()),
                );
            }
            if matches!(p.ty, DataType::String { .. }) {
                cx.err(w.loc, "writing strings is not supported", Some("remove write".into()));
            }
            p.ty == DataType::Bool
        }
        _ => false,
    };
    for (name, v) in [("min", &w.min), ("max", &w.max), ("max_step", &w.max_step)] {
        if let Some(v) = v {
            if boolean {
                cx.err(v.loc, format!("`{name}` does not apply to a boolean"), Some(format!("remove {name}")));
            } else if !v.value.is_finite() {
                cx.err(v.loc, format!("`{name}` must be a finite number"), None);
            }
        }
    }
    if let (Some(lo), Some(hi)) = (&w.min, &w.max)
        && lo.value > hi.value
    {
        cx.err(hi.loc, format!("max {} is below min {}", hi.value, lo.value), None);
    }
    if let Some(s) = &w.max_step
        && s.value <= 0.0
    {
        cx.err(s.loc, "max_step must be more than 0", None);
    }
    if cx.diags.len() > before {
        return None;
    }
    Some(WriteSpec {
        role: role?,
        min: w.min.as_ref().map(|v| v.value),
        max: w.max.as_ref().map(|v| v.value),
        max_step: w.max_step.as_ref().map(|v| v.value),
    })
}

/// The value type of a Modbus tag in `table` (with its string length): a diagnostic when the
/// type, `bit` and `length` written do not go together.
fn value_type(cx: &mut Ctx, name: &Sp<String>, raw: &RawTag, table: Table) -> DataType {
    let length = match (&raw.length, raw.ty.as_ref().map(|t| t.value)) {
        (Some(l), Some(RawType::String)) => cx.int::<u16>(
            l,
            1,
            250,
            "string length",
            Some("a string of up to 250 characters fits in the 125 registers of one request"),
        ),
        (Some(l), _) => {
            cx.err(l.loc, "`length` applies to strings only", Some("add type: string, or remove length".into()));
            None
        }
        (None, Some(RawType::String)) => {
            cx.err(
                raw.ty.as_ref().map_or(name.loc, |t| t.loc),
                "a string needs `length` (characters)",
                Some("add length: 20".into()),
            );
            None
        }
        (None, _) => Some(0),
    };
    match (&raw.ty, table.is_bits(), &raw.bit) {
        (None, true, _) | (None, false, Some(_)) => DataType::Bool,
        (None, false, None) => DataType::U16,
        (Some(t), true, _) if t.value != RawType::Bool => {
            cx.err(
                t.loc,
                format!(
                    "a {} holds one boolean; `type: {}` is not possible",
                    table.name(),
                    data_type(t.value, 0).name()
                ),
                Some("remove type, or read a register (holding/input)".into()),
            );
            DataType::Bool
        }
        (Some(t), false, Some(_)) if t.value != RawType::Bool => {
            cx.err(t.loc, "a `bit` of a register is a boolean", Some("remove type, or remove bit".into()));
            DataType::Bool
        }
        (Some(t), false, None) if t.value == RawType::Bool => {
            cx.err(
                t.loc,
                "a register is not a boolean",
                Some("add bit: 0..15 to read one bit of it, or choose a numeric type".into()),
            );
            DataType::Bool
        }
        (Some(t), _, _) => data_type(t.value, length.unwrap_or(1)),
    }
}

/// A tag's `scale:`, which numbers only have.
fn scale(cx: &mut Ctx, s: &Sp<RawScale>, ty: DataType) -> Option<Scale> {
    if matches!(ty, DataType::Bool | DataType::String { .. }) {
        cx.err(s.loc, format!("a {} cannot be scaled", ty.name()), Some("remove scale".into()));
        return None;
    }
    let sc = Scale { raw: s.value.raw, eu: s.value.eu };
    if sc.raw.iter().chain(sc.eu.iter()).any(|v| !v.is_finite()) {
        cx.err(s.loc, "scale values must be finite numbers", None);
    } else if sc.raw[0] == sc.raw[1] || sc.eu[0] == sc.eu[1] {
        cx.err(
            s.loc,
            "scale needs two different raw values and two different eu values",
            Some("e.g. scale: { raw: [0, 1000], eu: [0, 100] }".into()),
        );
    }
    Some(sc)
}

/// The Modbus part of a tag: table, address, type and how the registers are read.
fn modbus_point(cx: &mut Ctx, name: &Sp<String>, raw: &RawTag, conn: &Connection, mb: &Modbus) -> Option<ModbusPoint> {
    let before = cx.diags.len();
    for (field, v) in [
        ("node", raw.node.as_ref().map(|n| n.loc)),
        ("sampling", raw.sampling.as_ref().map(|n| n.loc)),
        ("deadband", raw.deadband.as_ref().map(|n| n.loc)),
        ("queue_size", raw.queue_size.as_ref().map(|n| n.loc)),
    ] {
        if let Some(loc) = v {
            cx.err(
                loc,
                format!("`{field}` applies to OPC UA tags; connection `{}` is Modbus", conn.name),
                Some(format!("remove {field}")),
            );
        }
    }

    // Where: exactly one table and address.
    let (table, addr_loc, address) = address::place(cx, name, raw)?;

    // What: type, bit, length.
    let ty = value_type(cx, name, raw, table);
    let bit = match &raw.bit {
        None => None,
        Some(b) if table.is_bits() => {
            cx.err(
                b.loc,
                format!("`bit` applies to registers; a {} is already one bit", table.name()),
                Some("remove bit".into()),
            );
            None
        }
        Some(b) => cx.int::<u8>(b, 0, 15, "bit", Some("registers have bits 0 (least significant) to 15")),
    };
    let order = match &raw.byte_order {
        Some(o) if ty.registers() < 2 || matches!(ty, DataType::String { .. }) => {
            cx.err(
                o.loc,
                format!("byte_order applies to 32- and 64-bit values, not {}", ty.name()),
                Some("remove byte_order; strings and 16-bit values are never reordered".into()),
            );
            mb.byte_order
        }
        Some(o) => byte_order(o.value),
        None => mb.byte_order,
    };

    // Fits in the table and in one request.
    let count = if table.is_bits() { 1 } else { ty.registers() as u32 };
    if let Some(a) = address
        && a as u32 + count > 65536
    {
        cx.err(
            addr_loc,
            format!("address {a} + {count} registers runs past the end of the {} table", table.name()),
            Some(format!("{} needs {count} registers; the last address is 65535", ty.name())),
        );
    }
    if !table.is_bits() && count > mb.max_registers as u32 {
        cx.err(
            raw.length.as_ref().map_or(addr_loc, |l| l.loc),
            format!(
                "{} needs {count} registers, more than max_registers {} of connection `{}`",
                ty.name(),
                mb.max_registers,
                conn.name
            ),
            Some("shorten the value or raise max_registers (up to 125)".into()),
        );
    }

    // How it is shown.
    let scale = raw.scale.as_ref().and_then(|s| scale(cx, s, ty));
    let unit = raw.unit.as_ref().map_or(Some(mb.unit), |u| match mb.link {
        ModbusLink::Tcp { .. } => cx.int(u, 0, 255, "unit id", None),
        ModbusLink::RtuOverTcp { .. } | ModbusLink::Serial(_) => cx.int(u, 1, 247, "unit id", Some(SERIAL_UNITS)),
    });
    for t in [&raw.on_text, &raw.off_text].into_iter().flatten() {
        if ty != DataType::Bool {
            cx.err(
                t.loc,
                "on_text and off_text apply to booleans only",
                Some("remove them, or read a coil, discrete input or bit".into()),
            );
        }
    }
    if cx.diags.len() > before {
        return None;
    }
    Some(ModbusPoint { unit: unit?, table, address: address?, ty, order, bit, scale })
}

/// The OPC UA part of a tag: the node and how it is monitored. The value type comes from the
/// server.
fn ua_point(cx: &mut Ctx, name: &Sp<String>, raw: &RawTag) -> Option<UaPoint> {
    let before = cx.diags.len();
    let modbus_only: [(&str, Option<Loc>); 11] = [
        ("coil", raw.coil.as_ref().map(|v| v.loc)),
        ("discrete", raw.discrete.as_ref().map(|v| v.loc)),
        ("input", raw.input.as_ref().map(|v| v.loc)),
        ("holding", raw.holding.as_ref().map(|v| v.loc)),
        ("modicon", raw.modicon.as_ref().map(|v| v.loc)),
        ("type", raw.ty.as_ref().map(|v| v.loc)),
        ("byte_order", raw.byte_order.as_ref().map(|v| v.loc)),
        ("bit", raw.bit.as_ref().map(|v| v.loc)),
        ("length", raw.length.as_ref().map(|v| v.loc)),
        ("scale", raw.scale.as_ref().map(|v| v.loc)),
        ("unit", raw.unit.as_ref().map(|v| v.loc)),
    ];
    for (field, loc) in modbus_only {
        if let Some(loc) = loc {
            let hint = if field == "type" {
                "the server says the type; remove it"
            } else {
                "remove it; OPC UA tags name a `node`"
            };
            cx.err(loc, format!("`{field}` applies to Modbus tags, not OPC UA"), Some(hint.into()));
        }
    }
    if let Some(p) = &raw.poll {
        cx.err(p.loc, "OPC UA tags are not polled", Some("use `sampling:` for the sampling interval".into()));
    }
    let Some(node) = &raw.node else {
        cx.err(
            name.loc,
            format!("tag `{}` names no node", **name),
            Some("add node: \"ns=2;s=Plant.Tank1.Level\"".into()),
        );
        return None;
    };
    let node = match NodeRef::parse(&node.value) {
        Ok(n) => Some(n),
        Err(e) => {
            cx.err(node.loc, e, None);
            None
        }
    };
    let sampling = raw.sampling.as_ref().and_then(|s| cx.period(s, "sampling"));
    let deadband = match &raw.deadband {
        None => None,
        Some(d) => match (d.value.absolute, d.value.percent) {
            (Some(a), None) if a.is_finite() && a >= 0.0 => Some(Deadband::Absolute(a)),
            (None, Some(p)) if p.is_finite() && (0.0..=100.0).contains(&p) => Some(Deadband::Percent(p)),
            (Some(_), Some(_)) | (None, None) => {
                cx.err(
                    d.loc,
                    "a deadband is either `absolute` or `percent`",
                    Some("e.g. deadband: { absolute: 0.5 }".into()),
                );
                None
            }
            _ => {
                cx.err(d.loc, "a deadband is a number ≥ 0 (percent: 0..100)", None);
                None
            }
        },
    };
    let queue_size = raw.queue_size.as_ref().map_or(Some(1), |q| cx.int(q, 1, 10_000, "queue_size", None));
    if cx.diags.len() > before {
        return None;
    }
    Some(UaPoint { node: node?, sampling, deadband, queue_size: queue_size? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("P_101"));
        assert!(valid_name("_x.y-z"));
        assert!(!valid_name("1abc"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(""));
    }
}
