//! The `tags:` section: each tag's name and connection, the fields that do not apply to the
//! connection's protocol (see [`super::fields`]), and what every tag has. The protocols' points
//! are checked in [`modbus`], [`opcua`] and [`sparkplug`], a tag's `write:` block in [`write`].

mod modbus;
mod opcua;
mod sparkplug;
mod write;

use std::collections::HashSet;
use std::time::Duration;

use super::connections::{Connections, default_connection};
use super::ctx::{Ctx, key_text, valid_name};
use super::de::{Sp, from_node};
use super::fields::{self, Protocol};
use super::model::*;
use super::node::{Node, NodeKind};
use super::raw::*;
use super::suggest::did_you_mean;

/// The tags of a layout, and the names written (valid or not).
pub(super) struct Tags {
    pub(super) valid: Vec<Tag>,
    pub(super) declared: HashSet<String>,
    /// The connections written tags read from, valid or not (a comms alarm needs tags).
    pub(super) sources: HashSet<String>,
}

/// The `tags:` section.
pub(super) fn tags(cx: &mut Ctx, root: &Node, node: Option<&Node>, conns: &Connections) -> Tags {
    let mut out = Tags { valid: Vec::new(), declared: HashSet::new(), sources: HashSet::new() };
    let hint = "add tags: { P_101: { source: plc1, holding: 0, type: f32 } }";
    let Some(list) = cx.section(root, node, "tags", hint) else { return out };
    let mut seen = sparkplug::Seen::new();
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
            Ok(raw) => out.valid.extend(tag(cx, Sp::new(name, k.loc), raw, conns, &mut seen)),
            Err(e) => cx.de(e),
        }
    }
    out
}

/// The `source:` written in a tag, even when the tag has errors.
fn source_of(tag: &Node) -> Option<String> {
    let NodeKind::Map(fields) = &tag.kind else { return None };
    fields
        .iter()
        .find(|(k, _)| k.kind.scalar_text().as_deref() == Some("source"))
        .and_then(|(_, v)| v.kind.scalar_text())
}

/// One tag, read through one of `conns` (`seen`: the Sparkplug points read so far).
fn tag(cx: &mut Ctx, name: Sp<String>, raw: RawTag, conns: &Connections, seen: &mut sparkplug::Seen) -> Option<Tag> {
    // A tag of a connection that has errors of its own is still checked, against defaults.
    let fallback;
    let (conn_idx, conn) = match conns.valid.iter().position(|c| c.name == *raw.source.value) {
        Some(i) => (Some(i), &conns.valid[i]),
        None if conns.declared.contains(&*raw.source.value) => {
            let protocol = if conns.declared_ua.contains(&*raw.source.value) {
                Protocol::OpcUa
            } else if conns.declared_sp.contains(&*raw.source.value) {
                Protocol::Sparkplug
            } else {
                Protocol::ModbusTcp
            };
            fallback = default_connection(&raw.source, protocol);
            (None, &fallback)
        }
        None => {
            let mut names: Vec<&str> = conns.declared.iter().map(String::as_str).collect();
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
    // A tag with a field of another protocol has no point (its write block is checked without one).
    fields::check_tag(cx, Protocol::of(&conn.kind), &conn.name, &raw);
    let misplaced = cx.diags.len() > before;
    let decimals = raw.decimals.as_ref().and_then(|d| cx.int::<u8>(d, 0, 12, "decimals", None));
    let (source, poll) = match &conn.kind {
        ConnectionKind::Modbus(mb) => {
            let point = modbus::point(cx, &name, &raw, conn, mb).filter(|_| !misplaced);
            let poll = raw.poll.as_ref().map_or(Some(conn.poll), |p| cx.period(p, "poll"));
            (point.map(TagSource::Modbus), poll)
        }
        ConnectionKind::OpcUa(ua) => {
            let point = opcua::point(cx, &name, &raw).filter(|_| !misplaced);
            // Subscriptions send changes only; the driver confirms unchanged values at least
            // once per publishing interval or second, so staleness is judged on that.
            (point.map(TagSource::OpcUa), Some(ua.publishing_interval.max(Duration::from_secs(1))))
        }
        ConnectionKind::Sparkplug(_) => {
            // Report by exception: the poll period is not used (a value holds until the node
            // says otherwise), the connection's is kept for the model.
            let point = sparkplug::point(cx, &name, &raw, &conn.name, seen).filter(|_| !misplaced);
            (point.map(TagSource::Sparkplug), Some(conn.poll))
        }
    };
    let write = raw.write.as_ref().and_then(|w| write::spec(cx, w, source.as_ref()));
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
