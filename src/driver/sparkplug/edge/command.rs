//! NCMD and DCMD payloads (hostile: any bytes) turned into [`EdgeCommand`]s, metrics resolved
//! by alias or name against this node's births.

use prost::Message;

use super::{BD_SEQ, EdgeCommand, EdgeSession, MAX_COMMAND_METRICS, REBIRTH, Slot, WRITE_RESULT, WRITE_RESULT_ALIAS};
use crate::driver::sparkplug::codec::{self, DataType, SpValue};
use crate::driver::sparkplug::proto::Payload;
use crate::driver::sparkplug::proto::payload::Metric;
use crate::driver::sparkplug::topic::{MsgType, Topic};

/// The longest metric name (in characters) quoted back in a refusal.
const SHOWN_NAME: usize = 64;

fn refused(metric: Option<String>, why: String) -> EdgeCommand {
    EdgeCommand::Refused { metric, why: crate::sanitize::clean(&why).into_owned() }
}

/// A name that came from the network, safe to show and log: control characters made visible,
/// cut to [`SHOWN_NAME`] characters (marked with `…`).
fn shown(name: &str) -> String {
    let mut s: String = name.chars().take(SHOWN_NAME).collect();
    if name.chars().nth(SHOWN_NAME).is_some() {
        s.push('…');
    }
    crate::sanitize::clean(&s).into_owned()
}

/// What a command metric names: a node control metric (by name) or a device metric.
enum Target {
    Rebirth,
    Metric(Slot),
}

impl EdgeSession {
    /// Decodes a command message (NCMD/DCMD on this node's topics): metrics resolved by alias
    /// or name against the births. One [`EdgeCommand`] per metric; a message that cannot be
    /// read at all (or is not a command for this node) is one `Refused`. Never panics.
    pub fn command(&self, topic: &Topic, payload: &[u8]) -> Vec<EdgeCommand> {
        let device = match self.command_device(topic) {
            Ok(d) => d,
            Err(why) => return vec![refused(None, why)],
        };
        let kind = topic.kind.as_str();
        let p = match Payload::decode(payload) {
            Ok(p) => p,
            Err(e) => {
                let why = format!("the {kind} payload ({} bytes) is not a Sparkplug B payload: {e}", payload.len());
                return vec![refused(None, why)];
            }
        };
        if p.metrics.is_empty() {
            return vec![refused(None, format!("the {kind} has no metric: nothing to do"))];
        }
        if p.metrics.len() > MAX_COMMAND_METRICS {
            let why = format!(
                "the {kind} has {} metrics (at most {MAX_COMMAND_METRICS} are taken in one command): send fewer",
                p.metrics.len()
            );
            return vec![refused(None, why)];
        }
        p.metrics.into_iter().map(|m| self.command_metric(device, m)).collect()
    }

    /// The device a command topic addresses (None: the node), or why it is not for this node.
    fn command_device(&self, topic: &Topic) -> Result<Option<usize>, String> {
        if topic.group != self.cfg.group || topic.node != self.cfg.node {
            return Err(format!(
                "a command for node {}/{}, not for this node {}/{}: ignored",
                shown(&topic.group),
                shown(&topic.node),
                self.cfg.group,
                self.cfg.node
            ));
        }
        match (topic.kind, &topic.device) {
            (MsgType::NCmd, None) => Ok(None),
            (MsgType::DCmd, Some(id)) => self.device_index(id).map(Some).ok_or_else(|| {
                format!("a DCMD for device `{}`, which this node does not have: check the device id", shown(id))
            }),
            (kind, _) => Err(format!("a {} message is not a command: ignored", kind.as_str())),
        }
    }

    fn command_metric(&self, device: Option<usize>, m: Metric) -> EdgeCommand {
        match self.resolve(device, &m) {
            Ok(Target::Rebirth) => rebirth(&m),
            Ok(Target::Metric(slot)) => self.write(slot, m),
            Err((metric, why)) => refused(metric, why),
        }
    }

    /// The metric a command names, by alias (and then its name, if sent, must agree) or by name.
    fn resolve(&self, device: Option<usize>, m: &Metric) -> Result<Target, (Option<String>, String)> {
        let name = m.name.as_deref();
        if let Some(alias) = m.alias {
            if alias == WRITE_RESULT_ALIAS {
                return Err(node_control(WRITE_RESULT));
            }
            let Some(&(d, i)) = self.by_alias.get(&alias) else {
                let why = format!("alias {alias} is not in this node's births: rebirth the node to learn its aliases");
                return Err((name.map(shown), why));
            };
            let dev = &self.devices[d];
            let def = &dev.def.metrics[i];
            if let Some(n) = name.filter(|n| *n != def.name) {
                let why = format!("alias {alias} is `{}` in the birth, but the command names `{}`", def.name, shown(n));
                return Err((Some(def.name.clone()), why));
            }
            if device != Some(d) {
                let why = format!(
                    "`{}` is a metric of device `{}`: write it with a DCMD on that device",
                    def.name, dev.def.id
                );
                return Err((Some(def.name.clone()), why));
            }
            return Ok(Target::Metric((d, i)));
        }
        let Some(name) = name else {
            return Err((None, "a metric with neither alias nor name: say which metric".into()));
        };
        match device {
            None if name == REBIRTH => Ok(Target::Rebirth),
            None if name.starts_with("Node Control/") || name == BD_SEQ => Err(node_control(&shown(name))),
            None => Err((
                Some(shown(name)),
                format!("`{}` is not a node metric (the node's tags are device metrics): send a DCMD", shown(name)),
            )),
            Some(d) => match self.devices[d].names.get(name) {
                Some(&i) => Ok(Target::Metric((d, i))),
                None => Err((
                    Some(shown(name)),
                    format!("device `{}` has no metric `{}`: check the name", self.devices[d].def.id, shown(name)),
                )),
            },
        }
    }

    /// A write to a device metric: datatype as born, a value of it, a tag with a write block.
    fn write(&self, (d, i): Slot, m: Metric) -> EdgeCommand {
        let def = &self.devices[d].def.metrics[i];
        let metric = Some(def.name.clone());
        let datatype = match m.datatype.map(|n| (n, DataType::from_u32(n))) {
            None => def.datatype,
            Some((_, Some(dt))) if dt == def.datatype => dt,
            Some((_, Some(dt))) => {
                let why = format!(
                    "`{}` was sent as {dt:?}, but its birth says {:?}: send it as that",
                    def.name, def.datatype
                );
                return refused(metric, why);
            }
            Some((n, None)) => return refused(metric, format!("`{}` was sent with unknown datatype {n}", def.name)),
        };
        if m.is_null == Some(true) {
            return refused(metric, format!("`{}`: a null value cannot be written", def.name));
        }
        let value = match codec::decode(datatype, m.value.as_ref()) {
            Ok(v) => v,
            Err(e) => return refused(metric, format!("`{}`: the value cannot be written ({e})", def.name)),
        };
        if !def.writable {
            let why = format!("`{}` has no write block in the gateway's layout: it is read only", def.name);
            return refused(metric, why);
        }
        EdgeCommand::Write {
            device: Some(d),
            tag: def.tag,
            metric: def.name.clone(),
            datatype,
            value,
            properties: m.properties,
        }
    }
}

fn node_control(name: &str) -> (Option<String>, String) {
    (Some(name.to_string()), format!("`{name}` cannot be written (only {REBIRTH} = true is taken)"))
}

/// `Node Control/Rebirth`: Boolean true.
fn rebirth(m: &Metric) -> EdgeCommand {
    let metric = Some(REBIRTH.to_string());
    if let Some(n) = m.datatype.filter(|n| *n != DataType::Boolean as u32) {
        return refused(metric, format!("{REBIRTH} was sent with datatype {n}; it is a Boolean (11)"));
    }
    match codec::decode(DataType::Boolean, m.value.as_ref()) {
        Ok(SpValue::Bool(true)) => EdgeCommand::Rebirth,
        Ok(_) => refused(metric, format!("{REBIRTH} = false asks for nothing")),
        Err(e) => refused(metric, format!("{REBIRTH}: the value is not a Boolean ({e})")),
    }
}
