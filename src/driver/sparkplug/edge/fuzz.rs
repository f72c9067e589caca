//! Fuzz targets: the edge session (the gateway's Sparkplug node) under random runs, and its
//! command decoding on random and damaged NCMD/DCMD payloads (the latter moved here from the
//! unit tests, so they also run in the long mode).
//!
//! Invariants of a run (connections, values, devices up and down, rebirth requests, time, write
//! results): never a panic; nothing published while offline; after `online()` the first message
//! is the NBIRTH, with seq 0 and the Will's bdSeq; every message after it has the seq before plus
//! one, mod 256; a DBIRTH only after the NBIRTH of the connection, a DDATA only for a device
//! born since (and not dead since); every payload decodes.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use prost::Message;

use super::tests::{T, any_metric, cfg, cmd, dcmd, devices, ncmd, online_session};
use super::*;
use crate::driver::sparkplug::codec::fuzz::valid_payload;
use crate::driver::sparkplug::proto::Payload;
use crate::driver::sparkplug::topic::{Parsed, parse};
use crate::fuzzing::mutated;

#[derive(Clone, Debug)]
enum Op {
    Online,
    Offline,
    /// Values: (tag index among the devices' tags, value, quality).
    Update(Vec<(usize, i64, u8)>),
    Down(usize),
    Up(usize),
    Rebirth,
    Wait(u16),
    WriteResult,
    /// A command payload (random or damaged): decoding it changes nothing.
    Command(bool, Vec<u8>),
}

const TAGS: [u32; 5] = [0, 1, 2, 10, 11];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Online),
        1 => Just(Op::Offline),
        6 => prop::collection::vec((0usize..5, -3i64..3, 0u8..3), 0..6).prop_map(Op::Update),
        1 => (0usize..3).prop_map(Op::Down),
        2 => (0usize..3).prop_map(Op::Up),
        2 => Just(Op::Rebirth),
        2 => (0u16..8000).prop_map(Op::Wait),
        1 => Just(Op::WriteResult),
        1 => (any::<bool>(), prop_oneof![prop::collection::vec(any::<u8>(), 0..64), mutated(valid_payload())])
            .prop_map(|(d, b)| Op::Command(d, b)),
    ]
}

/// A value of the tag's datatype (LEVEL Double, TEMP Int16, RO Int8, FLAG Boolean, COUNT UInt32).
fn value(tag: usize, v: i64) -> SpValue {
    match tag {
        0 => SpValue::Double(v as f64 * 0.5),
        1 | 2 => SpValue::Int(v),
        3 => SpValue::Bool(v > 0),
        _ => SpValue::UInt(v.unsigned_abs()),
    }
}

/// What the run has seen published on the current connection.
#[derive(Default)]
struct Seen {
    online: bool,
    /// The seq of the last message, once the NBIRTH went.
    last_seq: Option<u8>,
    born: [bool; 2],
}

fn check(s: &EdgeSession, seen: &mut Seen, published: &[Publish]) -> Result<(), TestCaseError> {
    for p in published {
        prop_assert!(seen.online, "published while offline: {}", p.topic);
        let Ok(Parsed::Node(t)) = parse(&p.topic) else {
            return Err(TestCaseError::fail(format!("topic {}", p.topic)));
        };
        let payload = Payload::decode(p.payload.as_slice()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let seq = payload.seq.and_then(|s| u8::try_from(s).ok());
        prop_assert!(seq.is_some(), "{} without a seq 0..=255", p.topic);
        let seq = seq.unwrap_or_default();
        let device = t.device.as_deref().and_then(|d| s.device_index(d));
        match t.kind {
            MsgType::NBirth => {
                prop_assert_eq!(seq, 0, "NBIRTH with seq {}", seq);
                let bd =
                    payload.metrics.iter().find(|m| m.name.as_deref() == Some(BD_SEQ)).and_then(|m| m.value.clone());
                prop_assert_eq!(bd, Some(proto::payload::metric::Value::LongValue(u64::from(s.bd_seq()))));
                seen.born = [false; 2];
            }
            kind => {
                let Some(last) = seen.last_seq else {
                    return Err(TestCaseError::fail(format!("{} before the NBIRTH", p.topic)));
                };
                prop_assert_eq!(seq, last.wrapping_add(1), "{} after seq {}", p.topic, last);
                let d = device.filter(|d| *d < 2);
                match (kind, d) {
                    (MsgType::DBirth, Some(d)) => seen.born[d] = true,
                    (MsgType::DData, Some(d)) => prop_assert!(seen.born[d], "DDATA of {} before its DBIRTH", p.topic),
                    (MsgType::DDeath, Some(d)) => {
                        prop_assert!(seen.born[d], "DDEATH of {} not born", p.topic);
                        seen.born[d] = false;
                    }
                    (MsgType::NData, None) => {}
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
        }
        prop_assert_eq!((p.qos, p.retain), (0, false));
        seen.last_seq = Some(seq);
    }
    Ok(())
}

crate::fuzz_target!(edge_session, (prop::collection::vec(op(), 1..80), any::<u8>()), |(ops, bd): (Vec<Op>, u8)| {
    let mut s = EdgeSession::new(cfg(), devices(), bd);
    let mut seen = Seen::default();
    let mut now = Instant::now();
    let mut ms = T;
    for op in ops {
        let published = match op {
            Op::Online => {
                seen = Seen { online: true, ..Seen::default() };
                let out = s.online(ms);
                prop_assert!(
                    out.first().is_some_and(|p| p.topic.contains("/NBIRTH/")),
                    "online() did not start with the NBIRTH"
                );
                out
            }
            Op::Offline => {
                let before = s.bd_seq();
                prop_assert_eq!(s.offline(), before.wrapping_add(1));
                seen = Seen::default();
                Vec::new()
            }
            Op::Update(changes) => {
                let changes: Vec<_> = changes
                    .into_iter()
                    .map(|(i, v, q)| {
                        let quality = [SpQuality::Good, SpQuality::Bad, SpQuality::Stale][usize::from(q)];
                        (TagId(TAGS[i]), MetricValue { value: Some(value(i, v)), quality, timestamp_ms: ms })
                    })
                    .collect();
                s.update(&changes, ms)
            }
            Op::Down(d) => s.device_down(d, ms),
            Op::Up(d) => s.device_up(d, ms),
            Op::Rebirth => s.rebirth(now, ms),
            Op::Wait(d) => {
                now += Duration::from_millis(u64::from(d));
                ms += u64::from(d);
                s.tick(now, ms)
            }
            Op::WriteResult => s.write_result("r-1 ok", ms),
            Op::Command(d, bytes) => {
                let t = if d { dcmd("plc1") } else { ncmd() };
                prop_assert!(!s.command(&t, &bytes).is_empty(), "a command without an answer");
                Vec::new()
            }
        };
        check(&s, &mut seen, &published)?;
    }
    Ok(())
});

// Random bytes on a command topic: never a panic, always an answer (moved from the unit tests).
crate::fuzz_target!(edge_command_bytes, prop::collection::vec(any::<u8>(), 0..512), |bytes: Vec<u8>| {
    let (s, _) = online_session();
    for t in [dcmd("plc1"), ncmd()] {
        prop_assert!(!s.command(&t, &bytes).is_empty());
    }
    Ok(())
});

// Random metrics resolve only to what was born, writable, on the device addressed (moved from
// the unit tests); damaged payloads too.
crate::fuzz_target!(
    edge_command_metrics,
    (
        prop::collection::vec(any_metric(), 1..8),
        0usize..3,
        prop::collection::vec((any::<u8>(), any::<prop::sample::Index>(), any::<u8>()), 0..4)
    ),
    |(metrics, dev, edits): (Vec<proto::payload::Metric>, usize, Vec<(u8, prop::sample::Index, u8)>)| {
        let (s, _) = online_session();
        let topic = match dev {
            0 => ncmd(),
            1 => dcmd("plc1"),
            _ => dcmd("plc2"),
        };
        let mut bytes = cmd(metrics.clone());
        for (b, at, x) in &edits {
            let i = at.index(bytes.len().max(1)).min(bytes.len().saturating_sub(1));
            if let Some(v) = bytes.get_mut(i) {
                *v ^= b & x;
            }
        }
        let out = s.command(&topic, &bytes);
        if edits.iter().all(|(b, _, x)| b & x == 0) {
            prop_assert_eq!(out.len(), metrics.len());
        }
        for c in out {
            match c {
                EdgeCommand::Write { device: Some(d), tag, metric, datatype, .. } => {
                    prop_assert_eq!(d + 1, dev);
                    let def = devices()[d].metrics.iter().find(|m| m.tag == tag).cloned().expect("a born tag");
                    prop_assert_eq!((def.name, def.datatype, def.writable), (metric, datatype, true));
                }
                EdgeCommand::Write { device: None, .. } => prop_assert!(false, "no node metric is writable"),
                EdgeCommand::Rebirth => prop_assert_eq!(dev, 0),
                EdgeCommand::Refused { .. } => {}
            }
        }
        Ok(())
    }
);
