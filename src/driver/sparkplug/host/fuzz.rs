//! Fuzz target: the host session under random runs of an edge node's messages (moved here from
//! the unit tests and extended, so it also runs in the long mode).
//!
//! A run: NBIRTH/NDEATH with right and wrong bdSeq, DBIRTH/DDEATH, NDATA/DDATA with seq gaps,
//! duplicates and swaps, unknown aliases, historical metrics, a birth with a datatype the console
//! does not take, random and damaged payloads on any topic, other nodes' messages, commands
//! echoed back, the broker lost and regained, and time passing (injected).
//!
//! Invariants: never a panic; at most 127 messages and 16 MiB held; rebirth requests at least a
//! cooldown apart; after a matching NDEATH or the broker's loss no tag's last value is Good, and
//! nothing is Good until a new birth; a metric never born (or born with a datatype the console
//! does not take) is never Good; a historical metric never reaches the live values.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use prost::Message;

use super::tests::{
    COUNTER, FLOW, MISSING, bd_metric, cfg, dbirth_pump1, m, nbirth, payload, publishes, samples, tags, topic, wall0,
};
use super::*;
use crate::driver::sparkplug::codec::fuzz::valid_payload;
use crate::driver::sparkplug::proto::Payload;
use crate::driver::sparkplug::proto::payload::metric::Value as Wire;
use crate::fuzzing::mutated;

/// The source time of every historical metric in a run (no live metric has it).
const HISTORICAL_MS: u64 = 1_600_000_000_000;

#[derive(Clone, Debug)]
enum Op {
    /// bdSeq; `odd`: Counter born with datatype 16 (not taken).
    NBirth {
        bd: u8,
        odd: bool,
    },
    NDeath(u8),
    DBirth(bool),
    DDeath(bool),
    Data {
        device: Option<bool>,
        skip: u8,
        alias: u64,
        historical: bool,
    },
    /// The next two data messages in the wrong order.
    Swap,
    /// The last sequenced message again.
    Repeat,
    /// Random or damaged bytes on a topic of this kind.
    Bytes(MsgType, Option<bool>, Vec<u8>),
    /// Another node's NDEATH with the bdSeq of ours.
    Foreign(u8),
    /// A command on our node's topic (our own rebirth request coming back).
    Command,
    Wait(u16),
    Broker(bool),
}

fn kind() -> impl Strategy<Value = MsgType> {
    prop::sample::select(vec![
        MsgType::NBirth,
        MsgType::NDeath,
        MsgType::DBirth,
        MsgType::DDeath,
        MsgType::NData,
        MsgType::DData,
        MsgType::NCmd,
    ])
}

fn op() -> impl Strategy<Value = Op> {
    let bytes = prop_oneof![prop::collection::vec(any::<u8>(), 0..64), mutated(valid_payload())];
    prop_oneof![
        2 => (0u8..3, prop::bool::weighted(0.2)).prop_map(|(bd, odd)| Op::NBirth { bd, odd }),
        1 => (0u8..3).prop_map(Op::NDeath),
        2 => any::<bool>().prop_map(Op::DBirth),
        1 => any::<bool>().prop_map(Op::DDeath),
        8 => (
            prop::option::of(any::<bool>()),
            prop_oneof![6 => Just(0u8), 1 => 0u8..4, 1 => any::<u8>()],
            prop_oneof![Just(1u64), Just(10), Just(11), Just(999)],
            prop::bool::weighted(0.15),
        )
            .prop_map(|(device, skip, alias, historical)| Op::Data { device, skip, alias, historical }),
        1 => Just(Op::Swap),
        1 => Just(Op::Repeat),
        2 => (kind(), prop::option::of(any::<bool>()), bytes).prop_map(|(k, d, b)| Op::Bytes(k, d, b)),
        1 => (0u8..3).prop_map(Op::Foreign),
        1 => Just(Op::Command),
        3 => (0u16..4000).prop_map(Op::Wait),
        1 => any::<bool>().prop_map(Op::Broker),
    ]
}

fn device(p1: bool) -> &'static str {
    if p1 { "Pump1" } else { "Pump2" }
}

/// What the run knows of the node, to check the session against.
struct Model {
    now: Instant,
    seq: u8,
    /// The bdSeq of the node's live NBIRTH, when the run knows it.
    born_bd: Option<u64>,
    /// Dead (or never born, or the broker lost): nothing may be Good.
    dead: bool,
    /// Counter's birth gave it a datatype the console does not take.
    counter_odd: bool,
    /// The last sequenced message, to send again.
    last: Option<(Topic, Vec<u8>)>,
    /// The last quality each tag was given.
    good: HashMap<TagId, bool>,
    requests: Vec<Instant>,
}

impl Model {
    fn next_seq(&mut self, skip: u8) -> u64 {
        self.seq = self.seq.wrapping_add(1).wrapping_add(skip);
        u64::from(self.seq)
    }

    fn send(&mut self, s: &mut HostSession, t: Topic, bytes: Vec<u8>) -> Vec<HostEffect> {
        let e = s.message(&t, &bytes, self.now, wall0());
        if !matches!(t.kind, MsgType::NBirth | MsgType::NDeath) {
            self.last = Some((t, bytes));
        }
        e
    }
}

fn data_bytes(seq: u64, alias: u64, historical: bool) -> Vec<u8> {
    let mut metric = m(None, Some(alias), None, Some(Wire::IntValue(5)));
    if historical {
        metric.is_historical = Some(true);
        metric.timestamp = Some(HISTORICAL_MS);
    }
    payload(Some(seq), vec![metric])
}

fn odd_nbirth(bd: u64) -> Vec<u8> {
    let counter = m(Some("Counter"), Some(1), Some(16), Some(Wire::IntValue(7)));
    payload(Some(0), vec![bd_metric(bd), counter])
}

fn step(s: &mut HostSession, md: &mut Model, op: Op) -> Vec<HostEffect> {
    match op {
        Op::NBirth { bd, odd } => {
            md.seq = 0;
            md.born_bd = Some(u64::from(bd));
            md.dead = false;
            md.counter_odd = odd;
            let b = if odd { odd_nbirth(u64::from(bd)) } else { nbirth(u64::from(bd)) };
            md.send(s, topic(MsgType::NBirth, None), b)
        }
        Op::NDeath(bd) => {
            let e = md.send(s, topic(MsgType::NDeath, None), payload(None, vec![bd_metric(u64::from(bd))]));
            if md.born_bd == Some(u64::from(bd)) {
                md.dead = true;
                md.born_bd = None;
            }
            e
        }
        Op::DBirth(p1) => {
            let seq = md.next_seq(0);
            md.send(s, topic(MsgType::DBirth, Some(device(p1))), dbirth_pump1(seq))
        }
        Op::DDeath(p1) => {
            let seq = md.next_seq(0);
            md.send(s, topic(MsgType::DDeath, Some(device(p1))), payload(Some(seq), vec![]))
        }
        Op::Data { device: d, skip, alias, historical } => {
            let seq = md.next_seq(skip);
            let kind = if d.is_some() { MsgType::DData } else { MsgType::NData };
            md.send(s, topic(kind, d.map(device)), data_bytes(seq, alias, historical))
        }
        Op::Swap => {
            let (a, b) = (md.next_seq(0), md.next_seq(0));
            let mut e = md.send(s, topic(MsgType::NData, None), data_bytes(b, 1, false));
            e.extend(md.send(s, topic(MsgType::DData, Some("Pump1")), data_bytes(a, 10, false)));
            e
        }
        Op::Repeat => match md.last.clone() {
            Some((t, b)) => md.send(s, t, b),
            None => Vec::new(),
        },
        Op::Bytes(k, d, b) => {
            let dev = k.is_device().then(|| device(d.unwrap_or(true)));
            let decoded = Payload::decode(b.as_slice());
            let e = md.send(s, topic(k, dev), b);
            match (k, decoded) {
                // Random bytes can be a valid (if odd) NBIRTH: then it is one, of a bdSeq not known here.
                (MsgType::NBirth, Ok(p)) => {
                    md.seq = p.seq.filter(|s| *s <= 255).map(|s| s as u8).unwrap_or(0);
                    md.born_bd = None;
                    md.dead = false;
                    md.counter_odd = false;
                }
                // An NDEATH whose bdSeq the run does not know: the node may be dead or not.
                (MsgType::NDeath, Ok(_)) => md.born_bd = None,
                _ => {}
            }
            e
        }
        Op::Foreign(bd) => {
            let t = Topic::new("Plant", MsgType::NDeath, "Edge2", None);
            s.message(&t, &payload(None, vec![bd_metric(u64::from(bd))]), md.now, wall0())
        }
        Op::Command => s.message(&topic(MsgType::NCmd, None), &nbirth(0), md.now, wall0()),
        Op::Wait(ms) => {
            md.now += Duration::from_millis(u64::from(ms));
            s.tick(md.now, wall0())
        }
        Op::Broker(true) => s.connected(md.now, wall0()),
        Op::Broker(false) => {
            md.dead = true;
            md.born_bd = None;
            s.disconnected(wall0())
        }
    }
}

fn check(s: &HostSession, md: &mut Model, op: &Op, effects: &[HostEffect]) -> Result<(), TestCaseError> {
    if let Some(d) = s.next_deadline() {
        prop_assert!(d <= md.now + Duration::from_secs(15));
    }
    prop_assert!(s.reorder.held() <= reorder::MAX_HELD);
    prop_assert!(s.reorder.held_bytes() <= reorder::MAX_HELD_BYTES);
    md.requests.extend(std::iter::repeat_n(md.now, publishes(effects).len()));
    let live = samples(effects);
    for (id, x) in &live {
        md.good.insert(*id, x.quality.is_good());
        prop_assert!(!(x.quality.is_good() && (*id == MISSING || *id == FLOW)), "a metric never born is Good: {:?}", x);
        prop_assert!(
            !(x.quality.is_good() && *id == COUNTER && md.counter_odd),
            "Counter born with datatype 16 is Good"
        );
        let hist = super::convert::epoch_ms(HISTORICAL_MS);
        prop_assert!(x.source_ts.is_none() || x.source_ts != hist, "a historical metric went live: {:?}", x);
    }
    if md.dead {
        let good: Vec<_> = live.iter().filter(|(_, x)| x.quality.is_good()).collect();
        prop_assert!(good.is_empty(), "Good after a death: {:?}", good);
        // Every tag that was Good before the death is stale now.
        let still: Vec<_> = md.good.iter().filter(|(_, g)| **g).collect();
        prop_assert!(still.is_empty(), "after {:?}, tags still Good: {:?}", op, still);
    }
    Ok(())
}

crate::fuzz_target!(host_session, (prop::collection::vec(op(), 1..120), any::<u64>()), |(ops, seed): (
    Vec<Op>,
    u64
)| {
    let t0 = Instant::now();
    let mut s = HostSession::new(cfg(), tags(), seed);
    let mut md = Model {
        now: t0,
        seq: 0,
        born_bd: None,
        dead: true,
        counter_odd: false,
        last: None,
        good: HashMap::new(),
        requests: Vec::new(),
    };
    let e = s.connected(t0, wall0());
    check(&s, &mut md, &Op::Broker(true), &e)?;
    for op in ops {
        let e = step(&mut s, &mut md, op.clone());
        check(&s, &mut md, &op, &e)?;
    }
    for w in md.requests.windows(2) {
        prop_assert!(w[1] - w[0] >= cfg().rebirth_cooldown, "two requests within a cooldown: {:?}", md.requests);
    }
    Ok(())
});

// The reorder buffer holds at most 127 messages and 16 MiB, whatever arrives ahead of its turn.
crate::fuzz_target!(
    host_reorder_bounds,
    prop::collection::vec((1u8..=255, prop_oneof![8 => 0usize..64, 1 => (1usize << 17)..(1 << 19)]), 1..200),
    |msgs: Vec<(u8, usize)>| {
        let t0 = Instant::now();
        let mut s = HostSession::new(cfg(), tags(), 1);
        s.connected(t0, wall0());
        s.message(&topic(MsgType::NBirth, None), &nbirth(0), t0, wall0());
        for (seq, pad) in msgs {
            let mut p = Payload::decode(data_bytes(u64::from(seq), 1, false).as_slice())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            p.body = Some(vec![0; pad]);
            s.message(&topic(MsgType::NData, None), &p.encode_to_vec(), t0, wall0());
            prop_assert!(s.reorder.held() <= reorder::MAX_HELD);
            prop_assert!(s.reorder.held_bytes() <= reorder::MAX_HELD_BYTES);
        }
        Ok(())
    }
);
