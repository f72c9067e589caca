//! The `publish:` section: what `ttyhmi gateway` publishes, as a Sparkplug B edge node (each
//! connection one device, each tag one metric).

use super::connections::Connections;
use super::connections::sparkplug::{broker, required_id};
use super::ctx::Ctx;
use super::de::{Sp, from_node};
use super::model::Publish;
use super::node::Node;
use super::raw::RawPublish;

const EXAMPLE: &str = "publish: { sparkplug: { host: 127.0.0.1, port: 1883, group: Plant, node: Boiler1 } }";

/// The `publish:` section, if the layout has one. A layout whose connections are all Sparkplug
/// has nothing to publish: a gateway republishing a broker is refused.
pub(super) fn publish(cx: &mut Ctx, node: Option<&Node>, conns: &Connections) -> Option<Publish> {
    let raw = match from_node::<Sp<RawPublish>>(node?) {
        Ok(r) => r,
        Err(e) => {
            cx.de(e);
            return None;
        }
    };
    let Some(sp) = &raw.sparkplug else {
        cx.err(raw.loc, "`publish` names no protocol", Some(format!("write {EXAMPLE}")));
        return None;
    };
    let before = cx.diags.len();
    if !conns.declared.is_empty() && conns.declared.iter().all(|c| conns.declared_sp.contains(c)) {
        cx.err(
            sp.loc,
            "`publish` needs a connection that is not `sparkplug`: the gateway publishes the devices it polls",
            Some("add the Modbus or OPC UA connections to publish, or remove publish (a gateway does not republish a broker)".into()),
        );
    }
    let broker = broker(cx, &sp.broker(sp.loc));
    let group = required_id(cx, sp.loc, &sp.group, "group", "Plant (the Sparkplug group id)");
    let node = required_id(cx, sp.loc, &sp.node, "node", "Boiler1 (the edge node id this gateway publishes as)");
    if cx.diags.len() > before {
        return None;
    }
    Some(Publish { broker: broker?, group: group?, node: node? })
}
