//! Fuzz target: a write command from the broker, from its bytes to the gateway's verdict, the way
//! the gateway runs it (`gateway::run`: the edge session decodes the DCMD/NCMD, the claims are read
//! from the metric's properties, the request is rebuilt and [`check_write`] decides).
//!
//! Inputs: commands signed by a listed console (honest), by an unknown key, by another listed
//! console's key, for an unlisted host, and unsigned; each damaged by [`mutated`], or delivered
//! twice. Properties: never a panic; an Allowed command is exactly the request its console signed
//! (a damage that changed any signed content is refused); a dishonest or unsigned command is never
//! Allowed; one request is Allowed at most once; an undamaged honest command is Allowed.

use proptest::prelude::*;
use prost::Message;

use super::tests::{NOW, consoles, key, layout};
use super::*;
use crate::driver::sparkplug::command::{REPLAY_WINDOW, claims};
use crate::driver::sparkplug::edge::{DeviceDef, EdgeCommand, EdgeConfig, EdgeSession, MetricDef};
use crate::driver::sparkplug::proto::Payload;
use crate::driver::sparkplug::topic::{MsgType, Topic};
use crate::fuzzing::mutated;

const GROUP: &str = "Plant";
const NODE: &str = "Gw1";

/// The gateway's node: device plc1 with the layout's tags (SPEED, TRIM, LEVEL, RUN).
fn edge() -> EdgeSession {
    let def = |tag: u32, name: &str, datatype: DataType, writable: bool| MetricDef {
        writable,
        ..crate::driver::sparkplug::edge::tests::metric(tag, name, datatype)
    };
    let metrics = vec![
        def(0, "SPEED", DataType::Double, true),
        def(1, "TRIM", DataType::Int16, true),
        def(2, "LEVEL", DataType::Float, false),
        def(3, "RUN", DataType::Boolean, true),
    ];
    let mut s = EdgeSession::new(
        EdgeConfig { group: GROUP.into(), node: NODE.into() },
        vec![DeviceDef { id: "plc1".into(), metrics }],
        0,
    );
    s.device_up(0, NOW);
    s.online(NOW);
    s
}

/// Who signs: an honest console, or one of the ways a command is not theirs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Signer {
    Honest,
    UnknownKey,
    OtherConsolesKey,
    UnlistedHost,
    Unsigned,
}

/// A request within every limit (SPEED's current value is 1400), with its alias or its name.
fn request() -> impl Strategy<Value = (WriteRequest, bool)> {
    let value = prop_oneof![
        (1000.0f64..1900.0).prop_map(|v| ("SPEED", DataType::Double, SpValue::Double(v), "operator")),
        (-100i64..=100).prop_map(|v| ("TRIM", DataType::Int16, SpValue::Int(v), "engineer")),
        any::<bool>().prop_map(|v| ("RUN", DataType::Boolean, SpValue::Bool(v), "operator")),
    ];
    (value, "[a-f0-9]{1,32}", -20_000i64..20_000, any::<bool>()).prop_map(
        |((metric, datatype, value, role), id, dt, alias)| {
            let host = if role == "engineer" { "eng-1" } else { "control-room-1" };
            let req = WriteRequest {
                group: GROUP.into(),
                node: NODE.into(),
                device: Some("plc1".into()),
                metric: metric.into(),
                datatype,
                value,
                user: "alice".into(),
                role: role.into(),
                host: host.into(),
                request_id: id,
                time_ms: NOW.saturating_add_signed(dt),
            };
            (req, alias)
        },
    )
}

fn signer() -> impl Strategy<Value = Signer> {
    prop_oneof![
        4 => Just(Signer::Honest),
        1 => Just(Signer::UnknownKey),
        1 => Just(Signer::OtherConsolesKey),
        1 => Just(Signer::UnlistedHost),
        1 => Just(Signer::Unsigned),
    ]
}

/// The DCMD's payload for `req`, as `who` sends it.
fn command(s: &EdgeSession, req: &WriteRequest, alias: bool, who: Signer) -> Vec<u8> {
    let mut req = req.clone();
    let honest = if req.host == "eng-1" { 2 } else { 1 };
    let k = match who {
        Signer::Honest | Signer::Unsigned => key(honest),
        Signer::UnknownKey => key(9),
        Signer::OtherConsolesKey => key(3 - honest),
        Signer::UnlistedHost => {
            req.host = "rogue".into();
            key(honest)
        }
    };
    let i = ["SPEED", "TRIM", "LEVEL", "RUN"].iter().position(|m| *m == req.metric).unwrap_or(0);
    let mut m = req.to_metric(if alias { s.alias(0, i) } else { None }, &k);
    if who == Signer::Unsigned
        && let Some(p) = &mut m.properties
        && let Some(at) = p.keys.iter().position(|k| k == "signature")
    {
        p.keys.remove(at);
        p.values.remove(at);
    }
    Payload { timestamp: Some(req.time_ms), metrics: vec![m], seq: None, ..Payload::default() }.encode_to_vec()
}

/// The gateway's verdicts on `bytes` (one per Write the edge session found), with the request
/// each was about.
fn verdicts(s: &EdgeSession, replay: &mut Replay, bytes: &[u8]) -> Vec<(Verdict, Option<WriteRequest>)> {
    let l = layout();
    let topic = Topic::new(GROUP, MsgType::DCmd, NODE, Some("plc1"));
    let mut out = Vec::new();
    for c in s.command(&topic, bytes) {
        let EdgeCommand::Write { tag, metric, datatype, value, properties, .. } = c else { continue };
        let claims = match claims(properties.as_ref()) {
            Ok(c) => c,
            Err(why) => {
                out.push((unsigned(&why), None));
                continue;
            }
        };
        let req = claims.request(GROUP, NODE, Some("plc1"), &metric, datatype, value);
        let current = (metric == "SPEED").then_some(1400.0);
        let v = check_write(&consoles(), replay, &req, &claims.signature, l.tag(tag), current, NOW);
        out.push((v, Some(req)));
    }
    out
}

/// A command, undamaged and damaged.
fn commands() -> impl Strategy<Value = (WriteRequest, Signer, Vec<u8>, Vec<Vec<u8>>)> {
    (request(), signer()).prop_flat_map(|((req, alias), who)| {
        let valid = command(&edge(), &req, alias, who);
        (Just(req), Just(who), Just(valid.clone()), prop::collection::vec(mutated(Just(valid)), 4))
    })
}

crate::fuzz_target!(gateway_commands, commands(), |(req, who, valid, damaged): (
    WriteRequest,
    Signer,
    Vec<u8>,
    Vec<Vec<u8>>
)| {
    let s = edge();
    // Undamaged: an honest command goes through, once.
    let mut replay = Replay::new(REPLAY_WINDOW);
    let first = verdicts(&s, &mut replay, &valid);
    prop_assert_eq!(first.len(), 1);
    prop_assert_eq!(first[0].0.is_allowed(), who == Signer::Honest, "{:?}: {:?}", who, first[0].0);
    let again = verdicts(&s, &mut replay, &valid);
    prop_assert!(again.iter().all(|(v, _)| !v.is_allowed()), "replayed and allowed");
    // Damaged: allowed only if what was signed is what arrived, and once.
    let mut replay = Replay::new(REPLAY_WINDOW);
    let mut allowed = 0;
    for bytes in damaged {
        for (v, rebuilt) in verdicts(&s, &mut replay, &bytes) {
            if v.is_allowed() {
                allowed += 1;
                prop_assert_eq!(who, Signer::Honest, "a dishonest command was allowed");
                let rebuilt = rebuilt.map(|r| r.signed_bytes());
                prop_assert_eq!(rebuilt, Some(req.signed_bytes()), "allowed, but not what was signed");
            }
        }
    }
    prop_assert!(allowed <= 1, "one request allowed {} times", allowed);
    Ok(())
});
