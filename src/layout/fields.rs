//! Which fields of a connection and of a tag apply to which protocol: one table for each, read by
//! the checks that report a field written where it does not apply (`poll` on an OPC UA
//! connection, `node` on a Modbus tag, `turnaround` on a TCP link, …).

use super::ctx::Ctx;
use super::de::Sp;
use super::model::{ConnectionKind, ModbusLink};
use super::node::Loc;
use super::raw::{RawConnection, RawTag};

/// What a connection speaks, as far as its fields and its tags' fields differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Protocol {
    /// `modbus_tcp`
    ModbusTcp,
    /// `modbus_rtu_over_tcp`
    ModbusRtuOverTcp,
    /// `modbus_rtu`: a serial line.
    ModbusRtu,
    /// `opcua`
    OpcUa,
    /// `sparkplug`
    Sparkplug,
}

impl Protocol {
    /// The protocol of a checked connection.
    pub(super) fn of(kind: &ConnectionKind) -> Protocol {
        match kind {
            ConnectionKind::Modbus(m) => match m.link {
                ModbusLink::Tcp { .. } => Protocol::ModbusTcp,
                ModbusLink::RtuOverTcp { .. } => Protocol::ModbusRtuOverTcp,
                ModbusLink::Serial(_) => Protocol::ModbusRtu,
            },
            ConnectionKind::OpcUa(_) => Protocol::OpcUa,
            ConnectionKind::Sparkplug(_) => Protocol::Sparkplug,
        }
    }

    fn is_modbus(self) -> bool {
        !matches!(self, Protocol::OpcUa | Protocol::Sparkplug)
    }
}

/// The protocols a field applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Applies {
    /// Every protocol.
    All,
    /// Modbus TCP, Modbus RTU over TCP and Modbus RTU.
    Modbus,
    /// Modbus RTU on a serial line only.
    Serial,
    /// OPC UA only.
    OpcUa,
    /// Sparkplug B only.
    Sparkplug,
}

impl Applies {
    pub(super) fn to(self, p: Protocol) -> bool {
        match self {
            Applies::All => true,
            Applies::Modbus => p.is_modbus(),
            Applies::Serial => p == Protocol::ModbusRtu,
            Applies::OpcUa => p == Protocol::OpcUa,
            Applies::Sparkplug => p == Protocol::Sparkplug,
        }
    }

    /// The tags this kind of field is for, for people.
    fn tags(self) -> &'static str {
        match self {
            Applies::All | Applies::Modbus | Applies::Serial => "Modbus tags",
            Applies::OpcUa => "OPC UA tags",
            Applies::Sparkplug => "Sparkplug tags",
        }
    }
}

/// One field of a connection (`R` = [`RawConnection`]) or of a tag ([`RawTag`]).
pub(super) struct Field<R> {
    /// As written in the layout.
    pub(super) name: &'static str,
    pub(super) applies: Applies,
    /// Where the field is written, if it is (fields that apply everywhere are not looked at).
    at: fn(&R) -> Option<Loc>,
    /// What to say instead of the usual message, where it does not apply.
    message: Option<&'static str>,
    /// What to do instead of removing it, where it does not apply.
    hint: Option<&'static str>,
    /// What to say instead, on a Sparkplug connection (`message` and `hint` are for the others).
    sp_message: Option<&'static str>,
    /// What to do instead, on a Sparkplug connection.
    sp_hint: Option<&'static str>,
}

fn at<T>(v: &Option<Sp<T>>) -> Option<Loc> {
    v.as_ref().map(|v| v.loc)
}

const fn field<R>(name: &'static str, applies: Applies, at: fn(&R) -> Option<Loc>) -> Field<R> {
    Field { name, applies, at, message: None, hint: None, sp_message: None, sp_hint: None }
}

/// A field every protocol has: never reported as misplaced.
const fn everywhere<R>(name: &'static str) -> Field<R> {
    field(name, Applies::All, |_| None)
}

/// The fields of a connection beside its protocol key (`modbus_tcp`, `modbus_rtu_over_tcp`,
/// `modbus_rtu`, `opcua`, `sparkplug`: exactly one of them), in the order of the layout format.
/// A Sparkplug connection's own settings are all inside its `sparkplug:` block.
pub(super) static CONNECTION_FIELDS: [Field<RawConnection>; 10] = [
    field("unit", Applies::Modbus, |r| at(&r.unit)),
    field("turnaround", Applies::Serial, |r| at(&r.turnaround)),
    Field {
        hint: Some("use `poll:` for Modbus"),
        sp_hint: Some("remove it"),
        ..field("publishing_interval", Applies::OpcUa, |r| at(&r.publishing_interval))
    },
    field("byte_order", Applies::Modbus, |r| at(&r.byte_order)),
    field("max_registers", Applies::Modbus, |r| at(&r.max_registers)),
    field("max_bits", Applies::Modbus, |r| at(&r.max_bits)),
    field("max_gap", Applies::Modbus, |r| at(&r.max_gap)),
    field("mask_write", Applies::Modbus, |r| at(&r.mask_write)),
    everywhere("timeout"),
    Field {
        hint: Some("OPC UA subscribes: use publishing_interval"),
        sp_hint: Some("remove it: a Sparkplug edge node reports by exception"),
        ..field("poll", Applies::Modbus, |r| at(&r.poll))
    },
];

/// The fields of a tag, in the order of the layout format.
pub(super) static TAG_FIELDS: [Field<RawTag>; 25] = [
    everywhere("source"),
    field("coil", Applies::Modbus, |r| at(&r.coil)),
    field("discrete", Applies::Modbus, |r| at(&r.discrete)),
    field("input", Applies::Modbus, |r| at(&r.input)),
    field("holding", Applies::Modbus, |r| at(&r.holding)),
    field("modicon", Applies::Modbus, |r| at(&r.modicon)),
    Field {
        hint: Some("the server says the type; remove it"),
        sp_hint: Some("the edge node's birth says the type; remove it"),
        ..field("type", Applies::Modbus, |r| at(&r.ty))
    },
    field("byte_order", Applies::Modbus, |r| at(&r.byte_order)),
    field("bit", Applies::Modbus, |r| at(&r.bit)),
    field("length", Applies::Modbus, |r| at(&r.length)),
    field("scale", Applies::Modbus, |r| at(&r.scale)),
    field("unit", Applies::Modbus, |r| at(&r.unit)),
    everywhere("units"),
    everywhere("decimals"),
    everywhere("description"),
    Field {
        message: Some("OPC UA tags are not polled"),
        hint: Some("use `sampling:` for the sampling interval"),
        sp_message: Some("Sparkplug tags are not polled: the edge node reports by exception"),
        sp_hint: Some("remove poll"),
        ..field("poll", Applies::Modbus, |r| at(&r.poll))
    },
    everywhere("on_text"),
    everywhere("off_text"),
    field("node", Applies::OpcUa, |r| at(&r.node)),
    field("sampling", Applies::OpcUa, |r| at(&r.sampling)),
    field("deadband", Applies::OpcUa, |r| at(&r.deadband)),
    field("queue_size", Applies::OpcUa, |r| at(&r.queue_size)),
    field("device", Applies::Sparkplug, |r| at(&r.device)),
    field("metric", Applies::Sparkplug, |r| at(&r.metric)),
    everywhere("write"),
];

/// The fields of `table` written in `raw` that do not apply to `protocol`, and where.
fn misplaced<'t, R>(table: &'t [Field<R>], protocol: Protocol, raw: &R) -> impl Iterator<Item = (&'t Field<R>, Loc)> {
    table.iter().filter(move |f| !f.applies.to(protocol)).filter_map(move |f| Some((f, (f.at)(raw)?)))
}

/// Reports each field of connection `name` that does not apply to its protocol.
pub(super) fn check_connection(cx: &mut Ctx, protocol: Protocol, name: &str, raw: &RawConnection) {
    for (f, loc) in misplaced(&CONNECTION_FIELDS, protocol, raw) {
        // Named by the family the connection is not in, or, within Modbus, by the link it needs.
        let what = match f.applies {
            Applies::Serial if protocol.is_modbus() => "serial lines (`modbus_rtu`)",
            Applies::OpcUa => "OPC UA connections",
            Applies::Sparkplug => "Sparkplug connections",
            Applies::All | Applies::Modbus | Applies::Serial => "Modbus connections",
        };
        let (message, hint) = match protocol {
            Protocol::OpcUa => (format!("`{}` applies to {what}; `{name}` is OPC UA", f.name), f.hint),
            Protocol::Sparkplug => (
                format!("`{}` applies to {what}; `{name}` is Sparkplug (its settings go inside `sparkplug:`)", f.name),
                f.sp_hint,
            ),
            _ => (format!("`{}` applies to {what}", f.name), f.hint),
        };
        let message =
            if protocol == Protocol::Sparkplug { f.sp_message } else { f.message }.map_or(message, str::to_string);
        cx.err(loc, message, Some(hint.unwrap_or("remove it").into()));
    }
}

/// Reports each field of a tag of connection `conn` that does not apply to the connection's
/// protocol.
pub(super) fn check_tag(cx: &mut Ctx, protocol: Protocol, conn: &str, raw: &RawTag) {
    for (f, loc) in misplaced(&TAG_FIELDS, protocol, raw) {
        let (message, hint) = match protocol {
            Protocol::OpcUa => (
                format!("`{}` applies to {}, not OPC UA", f.name, f.applies.tags()),
                "remove it; OPC UA tags name a `node`".to_string(),
            ),
            Protocol::Sparkplug => (
                format!("`{}` applies to {}, not Sparkplug", f.name, f.applies.tags()),
                "remove it; Sparkplug tags name a `metric` (and the `device` it belongs to)".to_string(),
            ),
            _ => (
                format!("`{}` applies to {}; connection `{conn}` is Modbus", f.name, f.applies.tags()),
                format!("remove {}", f.name),
            ),
        };
        let (own_message, own_hint) =
            if protocol == Protocol::Sparkplug { (f.sp_message, f.sp_hint) } else { (f.message, f.hint) };
        cx.err(loc, own_message.map_or(message, str::to_string), Some(own_hint.map_or(hint, str::to_string)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::parse;
    use crate::layout::raw::RawLayout;

    /// The fields the layout format (its JSON schema) gives an object, sorted.
    fn schema_fields(definition: &str) -> Vec<String> {
        let schema = serde_json::to_value(schemars::schema_for!(RawLayout)).unwrap();
        let props = schema["$defs"][definition]["properties"].as_object().cloned();
        let mut names: Vec<String> =
            props.unwrap_or_else(|| panic!("{definition}: {schema}")).into_iter().map(|(k, _)| k).collect();
        names.sort();
        names
    }

    fn sorted(names: impl Iterator<Item = &'static str>) -> Vec<String> {
        let mut names: Vec<String> = names.map(String::from).collect();
        names.sort();
        names
    }

    #[test]
    fn every_field_of_the_format_is_in_a_table() {
        let protocol_keys = ["modbus_tcp", "modbus_rtu_over_tcp", "modbus_rtu", "opcua", "sparkplug"];
        let conn = CONNECTION_FIELDS.iter().map(|f| f.name).chain(protocol_keys);
        assert_eq!(sorted(conn), schema_fields("Connection"));
        assert_eq!(sorted(TAG_FIELDS.iter().map(|f| f.name)), schema_fields("Tag"));
    }

    #[test]
    fn which_protocols_each_kind_of_field_applies_to() {
        use Protocol::*;
        let all = [ModbusTcp, ModbusRtuOverTcp, ModbusRtu, OpcUa, Sparkplug];
        let to = |a: Applies| all.into_iter().filter(|p| a.to(*p)).collect::<Vec<_>>();
        assert_eq!(to(Applies::All), all);
        assert_eq!(to(Applies::Modbus), [ModbusTcp, ModbusRtuOverTcp, ModbusRtu]);
        assert_eq!(to(Applies::Serial), [ModbusRtu]);
        assert_eq!(to(Applies::OpcUa), [OpcUa]);
        assert_eq!(to(Applies::Sparkplug), [Sparkplug]);
    }

    /// What the layout format documents (README, the schema's descriptions), written out apart
    /// from the tables so that a changed table fails here.
    fn documented(field: &str) -> Applies {
        match field {
            "turnaround" => Applies::Serial,
            "publishing_interval" | "node" | "sampling" | "deadband" | "queue_size" => Applies::OpcUa,
            "device" | "metric" => Applies::Sparkplug,
            "unit" | "byte_order" | "max_registers" | "max_bits" | "max_gap" | "mask_write" | "poll" | "coil"
            | "discrete" | "input" | "holding" | "modicon" | "type" | "bit" | "length" | "scale" => Applies::Modbus,
            _ => Applies::All,
        }
    }

    const PROTOCOLS: [(Protocol, &str); 5] = [
        (Protocol::ModbusTcp, "modbus_tcp: { host: h }"),
        (Protocol::ModbusRtuOverTcp, "modbus_rtu_over_tcp: { host: h }"),
        (Protocol::ModbusRtu, "modbus_rtu: { port: /dev/ttyUSB0 }"),
        (Protocol::OpcUa, "opcua: { endpoint: \"opc.tcp://h:4840\", security: none }"),
        (Protocol::Sparkplug, "sparkplug: { host: h, group: G, node: N, host_id: H }"),
    ];

    /// A value each field accepts on a protocol it applies to.
    fn sample(field: &str) -> &'static str {
        match field {
            "coil" | "discrete" | "input" | "holding" | "unit" | "bit" | "length" | "decimals" => "1",
            "max_registers" | "max_bits" | "max_gap" | "queue_size" => "2",
            "modicon" => "\"40001\"",
            "type" => "u32",
            "byte_order" => "CDAB",
            "scale" => "{ raw: [0, 1], eu: [0, 2] }",
            "mask_write" => "false",
            "node" => "\"ns=2;s=X\"",
            "device" => "Pump1",
            "metric" => "Level",
            "deadband" => "{ absolute: 1 }",
            "turnaround" | "publishing_interval" | "timeout" | "poll" | "sampling" => "1s",
            other => panic!("no sample for `{other}`"),
        }
    }

    /// Whether `message` says that `field` applies to another protocol (not, say, that `length`
    /// applies to strings only).
    fn about_protocol(message: &str, field: &str) -> bool {
        ["Modbus", "OPC UA", "serial lines", "Sparkplug"]
            .iter()
            .any(|p| message.starts_with(&format!("`{field}` applies to {p}")))
    }

    /// The messages at `line` of the layout's problems.
    fn messages_at(src: &str, line: u32) -> Vec<String> {
        let diags = parse(src, "f.yaml").map_or_else(|e| e.diagnostics, |l| l.warnings);
        diags.into_iter().filter(|d| d.loc.line == line).map(|d| d.message).collect()
    }

    #[test]
    fn a_connection_field_is_reported_exactly_where_it_does_not_apply() {
        for (protocol, key) in PROTOCOLS {
            for f in &CONNECTION_FIELDS {
                if documented(f.name) == Applies::All {
                    continue;
                }
                let src = format!("connections:\n  c:\n    {key}\n    {}: {}\ntags: {{}}\n", f.name, sample(f.name));
                let got = messages_at(&src, 4);
                let want = !documented(f.name).to(protocol);
                let says = |m: &String| about_protocol(m, f.name);
                assert_eq!(got.iter().any(says), want, "{protocol:?} {}: {got:?}", f.name);
            }
        }
    }

    #[test]
    fn a_tag_field_is_reported_exactly_where_it_does_not_apply() {
        for (protocol, key) in PROTOCOLS {
            let place = match protocol {
                Protocol::OpcUa => "node: \"ns=2;s=A\"",
                Protocol::Sparkplug => "metric: A",
                _ => "holding: 0",
            };
            for f in &TAG_FIELDS {
                if documented(f.name) == Applies::All {
                    continue;
                }
                let place = if ["coil", "discrete", "input", "holding", "modicon", "node", "metric"].contains(&f.name) {
                    ""
                } else {
                    place
                };
                let src = format!(
                    "connections:\n  c: {{ {key} }}\ntags:\n  T:\n    source: c\n    {}: {}\n    {place}\n",
                    f.name,
                    sample(f.name)
                );
                let got = messages_at(&src, 6);
                let want = !documented(f.name).to(protocol);
                let own = if protocol == Protocol::Sparkplug { f.sp_message } else { f.message };
                let says = |m: &String| about_protocol(m, f.name) || own.is_some_and(|s| m == s);
                assert_eq!(got.iter().any(says), want, "{protocol:?} {}: {got:?}", f.name);
            }
        }
    }
}
