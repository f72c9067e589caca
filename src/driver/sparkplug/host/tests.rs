//! The host session without a network. Tests named `tck_id_…` check the Sparkplug 3.0.0
//! assertion of that id.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::tag::Quality;
use prost::Message;

use super::*;
use crate::driver::sparkplug::Publish;
use crate::driver::sparkplug::proto::Payload;
use crate::driver::sparkplug::proto::payload::{
    Metric, PropertySet, PropertyValue, metric::Value as Wire, property_value,
};
use crate::tag::Value;

pub(super) const LEVEL: TagId = TagId(0);
pub(super) const COUNTER: TagId = TagId(1);
pub(super) const SPEED: TagId = TagId(2);
pub(super) const MISSING: TagId = TagId(3);
pub(super) const FLOW: TagId = TagId(4);

pub(super) fn cfg() -> HostConfig {
    HostConfig {
        group: "Plant".into(),
        node: "Edge1".into(),
        host_id: "control-room-1".into(),
        reorder_timeout: Duration::from_secs(2),
        rebirth_cooldown: Duration::from_secs(10),
    }
}

pub(super) fn pt(device: Option<&str>, metric: &str) -> SpPoint {
    SpPoint { device: device.map(str::to_string), metric: metric.into() }
}

pub(super) fn tags() -> Vec<(TagId, SpPoint)> {
    vec![
        (LEVEL, pt(Some("Pump1"), "Level")),
        (COUNTER, pt(None, "Counter")),
        (SPEED, pt(Some("Pump1"), "Speed")),
        (MISSING, pt(Some("Pump1"), "Missing")),
        (FLOW, pt(Some("Pump2"), "Flow")),
    ]
}

pub(super) fn wall0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// A metric: name, alias, datatype, value.
pub(super) fn m(name: Option<&str>, alias: Option<u64>, dt: Option<u32>, v: Option<Wire>) -> Metric {
    Metric { name: name.map(str::to_string), alias, datatype: dt, value: v, ..Metric::default() }
}

pub(super) fn payload(seq: Option<u64>, metrics: Vec<Metric>) -> Vec<u8> {
    Payload { timestamp: Some(1_700_000_000_000), metrics, seq, ..Payload::default() }.encode_to_vec()
}

pub(super) fn bd_metric(bd: u64) -> Metric {
    m(Some("bdSeq"), None, Some(4), Some(Wire::LongValue(bd)))
}

pub(super) fn nbirth(bd: u64) -> Vec<u8> {
    payload(
        Some(0),
        vec![
            bd_metric(bd),
            m(Some(REBIRTH_METRIC), None, Some(11), Some(Wire::BooleanValue(false))),
            m(Some(WRITE_RESULT_METRIC), Some(100), Some(12), Some(Wire::StringValue(String::new()))),
            m(Some("Counter"), Some(1), Some(7), Some(Wire::IntValue(7))),
            m(Some("Started"), Some(2), Some(13), Some(Wire::LongValue(1_700_000_000_123))),
        ],
    )
}

pub(super) fn dbirth_pump1(seq: u64) -> Vec<u8> {
    payload(
        Some(seq),
        vec![
            m(Some("Level"), Some(10), Some(9), Some(Wire::FloatValue(42.5))),
            m(Some("Speed"), Some(11), Some(2), Some(Wire::IntValue(0xFFFF_FFFB))),
        ],
    )
}

pub(super) fn topic(kind: MsgType, device: Option<&str>) -> Topic {
    Topic::new("Plant", kind, "Edge1", device)
}

/// A session connected at `t0` (its effects dropped).
fn connected() -> (HostSession, Instant) {
    let t0 = Instant::now();
    let mut s = HostSession::new(cfg(), tags(), 7);
    s.connected(t0, wall0());
    (s, t0)
}

/// A session with the node (bdSeq 3) and Pump1 born (seq 0, 1).
fn born() -> (HostSession, Instant) {
    let (mut s, t0) = connected();
    s.message(&topic(MsgType::NBirth, None), &nbirth(3), t0, wall0());
    s.message(&topic(MsgType::DBirth, Some("Pump1")), &dbirth_pump1(1), t0, wall0());
    (s, t0)
}

pub(super) fn samples(e: &[HostEffect]) -> Vec<(TagId, Sample)> {
    e.iter().filter_map(|e| if let HostEffect::Samples(v) = e { Some(v.clone()) } else { None }).flatten().collect()
}

pub(super) fn historical(e: &[HostEffect]) -> Vec<(TagId, Sample)> {
    e.iter().filter_map(|e| if let HostEffect::Historical(v) = e { Some(v.clone()) } else { None }).flatten().collect()
}

/// The last sample of `id` in `e`.
fn last(e: &[HostEffect], id: TagId) -> Option<Sample> {
    samples(e).into_iter().filter(|(i, _)| *i == id).map(|(_, s)| s).next_back()
}

pub(super) fn publishes(e: &[HostEffect]) -> Vec<Publish> {
    e.iter().filter_map(|e| if let HostEffect::Publish(p) = e { Some(p.clone()) } else { None }).collect()
}

fn logs(e: &[HostEffect]) -> Vec<String> {
    e.iter().filter_map(|e| if let HostEffect::Log(l) = e { Some(l.clone()) } else { None }).collect()
}

fn datatypes(e: &[HostEffect]) -> Vec<(TagId, Result<DataType, String>)> {
    e.iter().filter_map(|e| if let HostEffect::DataTypes(v) = e { Some(v.clone()) } else { None }).flatten().collect()
}

pub(super) fn data(
    s: &mut HostSession,
    device: Option<&str>,
    seq: u64,
    metrics: Vec<Metric>,
    now: Instant,
) -> Vec<HostEffect> {
    let kind = if device.is_some() { MsgType::DData } else { MsgType::NData };
    s.message(&topic(kind, device), &payload(Some(seq), metrics), now, wall0())
}

fn stale_at(wall: SystemTime) -> Sample {
    Sample { value: None, quality: Quality::Uncertain(Reason::Stale), source_ts: None, server_ts: None, recv_ts: wall }
}

fn other(s: &str) -> Quality {
    Quality::Bad(Reason::Other(s.into()))
}

#[test]
fn tags_wait_for_a_birth_after_connecting() {
    let mut s = HostSession::new(cfg(), tags(), 1);
    assert_eq!(s.waiting(), None, "not connected: the broker's state says it");
    let e = s.connected(Instant::now(), wall0());
    let v = samples(&e);
    assert_eq!(v.len(), 5);
    assert!(v.iter().all(|(_, x)| x.quality == other("waiting for a birth") && x.value.is_none()));
    assert_eq!(
        s.waiting().as_deref(),
        Some("waiting for a birth of Plant/Edge1 (rebirth request due: no birth since connecting)")
    );
    assert!(publishes(&e).is_empty(), "no request at once: a birth may be on its way");
}

#[test]
fn tck_id_topics_nbirth_metrics_births_define_values_datatypes_and_unknown_metrics() {
    let (mut s, t0) = connected();
    let e = s.message(&topic(MsgType::NBirth, None), &nbirth(3), t0, wall0());
    let c = last(&e, COUNTER).expect("counter");
    assert_eq!((c.value, c.quality), (Some(Value::UInt(7)), Quality::Good));
    assert_eq!(c.recv_ts, wall0());
    assert_eq!(c.source_ts, Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_000)), "the payload's timestamp");
    assert_eq!(datatypes(&e), vec![(COUNTER, Ok(DataType::UInt32))]);
    assert_eq!(last(&e, LEVEL), None, "device metrics come with the DBIRTH");
    assert_eq!(s.waiting().as_deref(), Some("waiting for a birth of device Plant/Edge1/Pump1 and 1 more"));

    let e = s.message(&topic(MsgType::DBirth, Some("Pump1")), &dbirth_pump1(1), t0, wall0());
    assert_eq!(last(&e, LEVEL).and_then(|x| x.value), Some(Value::Float(42.5)));
    assert_eq!(last(&e, SPEED).and_then(|x| x.value), Some(Value::Int(-5)), "Int16 sign-extended");
    assert_eq!(last(&e, MISSING).map(|x| x.quality), Some(other("unknown metric Pump1/Missing")));
    let mut dt = datatypes(&e);
    dt.sort_by_key(|(id, _)| *id);
    assert_eq!(
        dt,
        vec![
            (LEVEL, Ok(DataType::Float)),
            (SPEED, Ok(DataType::Int16)),
            (MISSING, Err("unknown metric Pump1/Missing".into()))
        ]
    );
    assert_eq!(last(&e, FLOW), None, "Pump2 is not born");
    assert_eq!(s.waiting().as_deref(), Some("waiting for a birth of device Plant/Edge1/Pump2"));
}

#[test]
fn data_by_alias_and_by_name_with_the_birth_s_datatype() {
    let (mut s, t0) = born();
    // NDATA by alias only, no datatype.
    let e = data(&mut s, None, 2, vec![m(None, Some(1), None, Some(Wire::IntValue(8)))], t0);
    assert_eq!(last(&e, COUNTER).and_then(|x| x.value), Some(Value::UInt(8)));
    // DDATA by alias and by name, with metric timestamps.
    let mut level = m(None, Some(10), None, Some(Wire::FloatValue(1.5)));
    level.timestamp = Some(1_700_000_001_000);
    let speed = m(Some("Speed"), None, None, Some(Wire::IntValue(300)));
    let e = data(&mut s, Some("Pump1"), 3, vec![level, speed], t0);
    let l = last(&e, LEVEL).expect("level");
    assert_eq!((l.value, l.quality), (Some(Value::Float(1.5)), Quality::Good));
    assert_eq!(l.source_ts, Some(UNIX_EPOCH + Duration::from_millis(1_700_000_001_000)));
    assert_eq!(last(&e, SPEED).and_then(|x| x.value), Some(Value::Int(300)));
    assert!(publishes(&e).is_empty());
}

#[test]
fn small_integers_read_the_same_sign_extended_or_not() {
    let (mut s, t0) = connected();
    let birth = payload(
        Some(0),
        vec![
            bd_metric(0),
            m(Some("Counter"), Some(1), Some(1), Some(Wire::IntValue(0xFF))), // Int8 -1, not sign-extended
        ],
    );
    let e = s.message(&topic(MsgType::NBirth, None), &birth, t0, wall0());
    assert_eq!(last(&e, COUNTER).and_then(|x| x.value), Some(Value::Int(-1)));
    for (seq, wire, want) in [
        (1, Wire::IntValue(0xFFFF_FFFF), -1), // sign-extended
        (2, Wire::IntValue(0x80), -128),
        (3, Wire::LongValue(0xFFFF_FFFF_FFFF_FF80), -128), // in the long field
        (4, Wire::IntValue(0x7F), 127),
    ] {
        let e = data(&mut s, None, seq, vec![m(None, Some(1), None, Some(wire))], t0);
        assert_eq!(last(&e, COUNTER).and_then(|x| x.value), Some(Value::Int(want)), "seq {seq}");
    }
}

fn with_quality(alias: u64, v: Wire, q: Option<property_value::Value>) -> Metric {
    let mut x = m(None, Some(alias), None, Some(v));
    if let Some(q) = q {
        x.properties = Some(PropertySet {
            keys: vec!["EngUnit".into(), "Quality".into()],
            values: vec![
                PropertyValue {
                    r#type: Some(12),
                    is_null: None,
                    value: Some(property_value::Value::StringValue("%".into())),
                },
                PropertyValue { r#type: Some(3), is_null: None, value: Some(q) },
            ],
        });
    }
    x
}

#[test]
fn null_and_the_quality_property() {
    let (mut s, t0) = born();
    use property_value::Value::{IntValue, LongValue};
    let cases: Vec<(Metric, Option<Value>, Quality)> = vec![
        (
            with_quality(10, Wire::FloatValue(1.0), Some(IntValue(0))),
            Some(Value::Float(1.0)),
            other("bad at the edge node (quality 0)"),
        ),
        (
            with_quality(10, Wire::FloatValue(2.0), Some(IntValue(500))),
            Some(Value::Float(2.0)),
            Quality::Uncertain(Reason::Stale),
        ),
        (
            with_quality(10, Wire::FloatValue(3.0), Some(LongValue(500))),
            Some(Value::Float(3.0)),
            Quality::Uncertain(Reason::Stale),
        ),
        (with_quality(10, Wire::FloatValue(4.0), Some(IntValue(192))), Some(Value::Float(4.0)), Quality::Good),
        (with_quality(10, Wire::FloatValue(5.0), None), Some(Value::Float(5.0)), Quality::Good),
        (
            with_quality(10, Wire::FloatValue(6.0), Some(IntValue(64))),
            Some(Value::Float(6.0)),
            Quality::Uncertain(Reason::Other("quality code 64 from the edge node".into())),
        ),
        (Metric { is_null: Some(true), ..m(None, Some(10), None, None) }, None, other("null")),
    ];
    for (i, (metric, value, quality)) in cases.into_iter().enumerate() {
        let e = data(&mut s, Some("Pump1"), 2 + i as u64, vec![metric], t0);
        let x = last(&e, LEVEL).expect("level");
        assert_eq!((x.value, x.quality), (value, quality), "case {i}");
    }
}

#[test]
fn historical_metrics_never_go_live() {
    let (mut s, t0) = born();
    let mut h = m(None, Some(10), None, Some(Wire::FloatValue(9.0)));
    h.is_historical = Some(true);
    h.timestamp = Some(1_600_000_000_000);
    let e = data(&mut s, Some("Pump1"), 2, vec![h], t0);
    assert_eq!(last(&e, LEVEL), None, "not a live value");
    let hist = historical(&e);
    assert_eq!(hist.len(), 1);
    assert_eq!(hist[0].0, LEVEL);
    assert_eq!(hist[0].1.value, Some(Value::Float(9.0)));
    assert_eq!(hist[0].1.source_ts, Some(UNIX_EPOCH + Duration::from_millis(1_600_000_000_000)));
}

#[test]
fn tck_id_operational_behavior_edge_node_termination_host_action_ndeath_node_tags_stale() {
    let (mut s, t0) = born();
    let w = wall0() + Duration::from_secs(5);
    let e = s.message(&topic(MsgType::NDeath, None), &payload(None, vec![bd_metric(3)]), t0, w);
    let mut v = samples(&e);
    v.sort_by_key(|(id, _)| *id);
    // Node and device metrics (…-devices-tags-stale too), at the host's time; the unknown metric
    // stays as it was.
    assert_eq!(v, vec![(LEVEL, stale_at(w)), (COUNTER, stale_at(w)), (SPEED, stale_at(w))]);
    assert_eq!(s.waiting().as_deref(), Some("waiting for a birth of Plant/Edge1"));
    assert!(s.metric_for_write(&pt(None, "Counter")).is_err());
    // Data after the death is not applied: the node must be born again.
    let e = data(&mut s, Some("Pump1"), 2, vec![m(None, Some(10), None, Some(Wire::FloatValue(1.0)))], t0);
    assert!(samples(&e).is_empty());
    assert_eq!(publishes(&e).len(), 1, "data before a birth: a rebirth request");
    assert!(s.facts().contains(&("deaths (NDEATH)".into(), "1".into())));
}

#[test]
fn an_ndeath_of_another_bdseq_is_ignored_and_bdseq_may_be_uint64() {
    let (mut s, t0) = connected();
    // bdSeq as UInt64 in the int field.
    let birth = payload(
        Some(0),
        vec![
            m(Some("bdSeq"), None, Some(8), Some(Wire::IntValue(9))),
            m(Some("Counter"), Some(1), Some(7), Some(Wire::IntValue(7))),
        ],
    );
    s.message(&topic(MsgType::NBirth, None), &birth, t0, wall0());
    let e = s.message(&topic(MsgType::NDeath, None), &payload(None, vec![bd_metric(8)]), t0, wall0());
    assert!(samples(&e).is_empty(), "an old session's will");
    assert!(logs(&e).iter().any(|l| l.contains("bdSeq 8, not the NBIRTH's 9")), "{:?}", logs(&e));
    assert!(s.metric_for_write(&pt(None, "Counter")).is_ok());
    let e = s.message(&topic(MsgType::NDeath, None), &payload(None, vec![bd_metric(9)]), t0, wall0());
    assert_eq!(last(&e, COUNTER), Some(stale_at(wall0())));
}

#[test]
fn tck_id_operational_behavior_edge_node_termination_host_action_ddeath_devices_tags_stale() {
    let (mut s, t0) = born();
    let mut death = Payload { timestamp: Some(1_700_000_009_000), seq: Some(2), ..Payload::default() };
    let e = s.message(&topic(MsgType::DDeath, Some("Pump1")), &death.encode_to_vec(), t0, wall0());
    let want = Sample { source_ts: Some(UNIX_EPOCH + Duration::from_millis(1_700_000_009_000)), ..stale_at(wall0()) };
    let mut v = samples(&e);
    v.sort_by_key(|(id, _)| *id);
    assert_eq!(v, vec![(LEVEL, want.clone()), (SPEED, want)], "the device only, at the DDEATH's time");
    assert!(s.metric_for_write(&pt(Some("Pump1"), "Level")).unwrap_err().contains("device Pump1"));
    assert!(s.metric_for_write(&pt(None, "Counter")).is_ok(), "the node lives on");
    // DDATA of a dead device: not applied, a rebirth is asked for.
    let e = data(&mut s, Some("Pump1"), 3, vec![m(None, Some(10), None, Some(Wire::FloatValue(1.0)))], t0);
    assert_eq!(last(&e, LEVEL), None);
    assert_eq!(publishes(&e).len(), 1);
    // Its DBIRTH brings it back.
    death.seq = Some(4);
    let e = s.message(&topic(MsgType::DBirth, Some("Pump1")), &dbirth_pump1(4), t0, wall0());
    assert_eq!(last(&e, LEVEL).map(|x| x.quality), Some(Quality::Good));
}

#[test]
fn losing_the_broker_makes_everything_stale_and_needs_a_birth() {
    let (mut s, t0) = born();
    let w = wall0() + Duration::from_secs(1);
    let e = s.disconnected(w);
    let mut ids: Vec<TagId> = samples(&e)
        .iter()
        .map(|(id, x)| {
            assert_eq!(*x, stale_at(w));
            *id
        })
        .collect();
    ids.sort();
    assert_eq!(ids, vec![LEVEL, COUNTER, SPEED]);
    assert_eq!(s.waiting(), None);
    assert_eq!(s.metric_for_write(&pt(None, "Counter")), Err("not connected to the MQTT broker".into()));
    assert_eq!(s.next_deadline(), None);
    // Back: tags keep what they have (stale) until a birth; data is not applied.
    let t1 = t0 + Duration::from_secs(30);
    let e = s.connected(t1, w);
    assert!(samples(&e).is_empty(), "tags born before keep their stale value");
    let e = data(&mut s, None, 5, vec![m(None, Some(1), None, Some(Wire::IntValue(1)))], t1);
    assert!(samples(&e).is_empty());
    assert_eq!(publishes(&e).len(), 1);
}

fn ndata_counter(seq: u64, v: u32) -> Vec<u8> {
    payload(Some(seq), vec![m(None, Some(1), None, Some(Wire::IntValue(v)))])
}

#[test]
fn tck_id_operational_behavior_host_reordering_success() {
    let (mut s, t0) = born();
    let nd = topic(MsgType::NData, None);
    let e = s.message(&nd, &ndata_counter(3, 30), t0, wall0());
    assert!(samples(&e).is_empty(), "seq 3 waits for seq 2");
    // tck-id-operational-behavior-host-reordering-start
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(2)));
    let e = s.message(&nd, &ndata_counter(2, 20), t0 + Duration::from_secs(1), wall0());
    let v: Vec<Option<Value>> = samples(&e).into_iter().map(|(_, x)| x.value).collect();
    assert_eq!(v, vec![Some(Value::UInt(20)), Some(Value::UInt(30))], "in seq order");
    assert_eq!(s.next_deadline(), None);
    let e = s.tick(t0 + Duration::from_secs(3), wall0());
    assert!(publishes(&e).is_empty());
    let e = s.message(&nd, &ndata_counter(4, 40), t0, wall0());
    assert_eq!(last(&e, COUNTER).and_then(|x| x.value), Some(Value::UInt(40)));
}

#[test]
fn tck_id_operational_behavior_host_reordering_rebirth() {
    let (mut s, t0) = born();
    let nd = topic(MsgType::NData, None);
    s.message(&nd, &ndata_counter(3, 30), t0, wall0());
    s.message(&nd, &ndata_counter(4, 40), t0 + Duration::from_millis(500), wall0());
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(2)), "not extended by later messages");
    assert!(publishes(&s.tick(t0 + Duration::from_millis(1999), wall0())).is_empty());
    let e = s.tick(t0 + Duration::from_secs(2), wall0());
    let p = publishes(&e);
    assert_eq!(p.len(), 1, "one rebirth request");
    assert_eq!(p[0].topic, "spBv1.0/Plant/NCMD/Edge1");
    let mut ids: Vec<TagId> = samples(&e)
        .iter()
        .map(|(id, x)| {
            assert_eq!(x.quality, Quality::Uncertain(Reason::Stale));
            *id
        })
        .collect();
    ids.sort();
    assert_eq!(ids, vec![LEVEL, COUNTER, SPEED], "values that may have missed changes are stale");
    let w = s.waiting().expect("waiting");
    assert!(w.starts_with("waiting for a rebirth of Plant/Edge1 (rebirth requested: seq gap not healed in 2000 ms (expected seq 2, 2 held from seq 3)"), "{w}");
    assert!(s.facts().contains(&("dropped messages".into(), "2".into())));
    // Data until the birth is not applied, and asks no more.
    let e = s.message(&nd, &ndata_counter(5, 50), t0 + Duration::from_secs(3), wall0());
    assert!(samples(&e).is_empty() && publishes(&e).is_empty());
    let e = s.message(&topic(MsgType::NBirth, None), &nbirth(3), t0 + Duration::from_secs(3), wall0());
    assert_eq!(last(&e, COUNTER).map(|x| x.quality), Some(Quality::Good));
    assert_eq!(s.waiting().as_deref(), Some("waiting for a birth of device Plant/Edge1/Pump1 and 1 more"));
}

#[test]
fn tck_id_topics_ndata_seq_num_wraps_from_255_to_0() {
    let (mut s, t0) = born();
    let nd = topic(MsgType::NData, None);
    for i in 2..=300u64 {
        let e = s.message(&nd, &ndata_counter(i % 256, i as u32), t0, wall0());
        assert_eq!(last(&e, COUNTER).and_then(|x| x.value), Some(Value::UInt(i)), "message {i}");
    }
    assert!(s.facts().contains(&("seq".into(), (300 % 256).to_string())));
    assert!(s.facts().contains(&("rebirths requested".into(), "0".into())));
}

#[test]
fn a_late_or_repeated_seq_is_dropped_and_asks_for_a_rebirth() {
    let (mut s, t0) = born();
    let nd = topic(MsgType::NData, None);
    s.message(&nd, &ndata_counter(2, 20), t0, wall0());
    let e = s.message(&nd, &ndata_counter(2, 21), t0, wall0());
    assert!(samples(&e).is_empty());
    assert!(logs(&e)[0].contains("late or repeated"), "{:?}", logs(&e));
    // An edge node that restarted unseen: seq far behind. Asked once.
    assert_eq!(publishes(&e).len(), 1);
    assert_eq!(
        s.facts().iter().find(|(k, _)| k == "last rebirth reason").map(|(_, v)| v.as_str()),
        Some("seq 2 behind the expected 3")
    );
    let e = s.message(&nd, &ndata_counter(1, 22), t0, wall0());
    assert!(samples(&e).is_empty() && publishes(&e).is_empty(), "inside the cooldown");
    assert_eq!(s.next_deadline().map(|d| d >= t0 + Duration::from_secs(10)), Some(true), "remembered");
}

#[test]
fn out_of_sequence_a_lost_request_is_asked_again_after_the_cooldown() {
    let (mut s, t0) = born();
    let nd = topic(MsgType::NData, None);
    s.message(&nd, &ndata_counter(4, 1), t0, wall0());
    assert_eq!(publishes(&s.tick(t0 + Duration::from_secs(2), wall0())).len(), 1);
    // No birth comes; data does.
    let t1 = t0 + Duration::from_secs(16);
    let e = s.message(&nd, &ndata_counter(9, 1), t1, wall0());
    assert!(samples(&e).is_empty());
    assert_eq!(publishes(&e).len(), 1, "the cooldown (at most 15 s) is over: asked again");
    assert!(s.facts().contains(&("rebirths requested".into(), "2".into())));
}

#[test]
fn connected_again_while_born_asks_for_nothing() {
    let (mut s, t0) = born();
    let e = s.connected(t0, wall0());
    assert!(e.is_empty());
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn timestamps_past_the_year_9999_are_not_taken() {
    let (mut s, t0) = born();
    let mut x = m(None, Some(1), None, Some(Wire::IntValue(3)));
    x.timestamp = Some(u64::MAX);
    let e = data(&mut s, None, 2, vec![x], t0);
    let c = last(&e, COUNTER).expect("counter");
    assert_eq!((c.value, c.source_ts), (Some(Value::UInt(3)), None));
    assert_eq!(
        convert::epoch_ms(253_402_300_799_999).map(crate::timefmt::rfc3339_utc).as_deref(),
        Some("9999-12-31T23:59:59.999Z")
    );
}

#[test]
fn an_unknown_alias_asks_for_a_rebirth_and_the_rest_is_applied() {
    let (mut s, t0) = born();
    let e = data(
        &mut s,
        Some("Pump1"),
        2,
        vec![
            m(None, Some(999), None, Some(Wire::FloatValue(1.0))),
            m(None, Some(10), None, Some(Wire::FloatValue(2.0))),
        ],
        t0,
    );
    assert_eq!(last(&e, LEVEL).and_then(|x| x.value), Some(Value::Float(2.0)));
    assert_eq!(publishes(&e).len(), 1);
    assert_eq!(
        s.waiting().as_deref(),
        Some("waiting for a birth of device Plant/Edge1/Pump2 (rebirth requested: unknown alias 999 in DDATA Pump1)")
    );
    assert!(s.facts().contains(&("last rebirth reason".into(), "unknown alias 999 in DDATA Pump1".into())));
}

#[test]
fn a_value_that_is_not_of_the_born_datatype_asks_for_a_rebirth() {
    let (mut s, t0) = born();
    let e = data(&mut s, Some("Pump1"), 2, vec![m(None, Some(10), None, Some(Wire::StringValue("x".into())))], t0);
    assert!(matches!(last(&e, LEVEL).map(|x| x.quality), Some(Quality::Bad(Reason::Decode(_)))));
    assert_eq!(publishes(&e).len(), 1, "one rebirth request: only a birth sets the tag right");
    assert!(s.facts().contains(&("last rebirth reason".into(), "metric Pump1/Level is not a Float as born".into())));
    // A birth whose own value does not decode asks for nothing (another birth says the same).
    let (mut s, t0) = connected();
    s.message(&topic(MsgType::NBirth, None), &nbirth(3), t0, wall0());
    let bad = payload(Some(1), vec![m(Some("Level"), Some(10), Some(9), Some(Wire::StringValue("x".into())))]);
    let e = s.message(&topic(MsgType::DBirth, Some("Pump1")), &bad, t0 + Duration::from_secs(60), wall0());
    assert!(matches!(last(&e, LEVEL).map(|x| x.quality), Some(Quality::Bad(Reason::Decode(_)))));
    assert!(publishes(&e).is_empty(), "{:?}", publishes(&e));
}

#[test]
fn tck_id_operational_behavior_data_commands_ncmd_rebirth_name_and_value_on_data_before_a_birth() {
    let (mut s, t0) = connected();
    // Joining mid-session: data, no birth.
    let w = wall0() + Duration::from_millis(250);
    let e = s.message(&topic(MsgType::NData, None), &ndata_counter(17, 1), t0, w);
    assert!(samples(&e).is_empty());
    let p = publishes(&e);
    assert_eq!(p.len(), 1);
    // tck-id-operational-behavior-data-commands-ncmd-rebirth-verb, tck-id-topics-ncmd-mqtt
    assert_eq!((p[0].topic.as_str(), p[0].qos, p[0].retain), ("spBv1.0/Plant/NCMD/Edge1", 0, false));
    let req = Payload::decode(p[0].payload.as_slice()).expect("a payload");
    assert_eq!(req.timestamp, Some(1_700_000_000_250), "tck-id-topics-ncmd-timestamp");
    assert_eq!(req.metrics.len(), 1);
    let r = &req.metrics[0];
    assert_eq!(r.name.as_deref(), Some("Node Control/Rebirth"));
    assert_eq!((r.datatype, r.value.clone()), (Some(11), Some(Wire::BooleanValue(true))));
    assert_eq!(
        s.waiting().as_deref(),
        Some("waiting for a birth of Plant/Edge1 (rebirth requested: NDATA before a birth)")
    );
    // More data inside the cooldown: no second request (remembered for the window's end).
    let e = s.message(&topic(MsgType::NData, None), &ndata_counter(18, 1), t0 + Duration::from_secs(1), w);
    assert!(publishes(&e).is_empty());
}

#[test]
fn a_dbirth_before_the_nbirth_asks_for_a_rebirth() {
    let (mut s, t0) = connected();
    let e = s.message(&topic(MsgType::DBirth, Some("Pump1")), &dbirth_pump1(1), t0, wall0());
    assert!(samples(&e).is_empty());
    assert_eq!(publishes(&e).len(), 1);
    assert!(logs(&e)[0].contains("DBIRTH before NBIRTH"), "{:?}", logs(&e));
}

#[test]
fn no_birth_within_the_reorder_timeout_of_connecting_asks_once() {
    let (mut s, t0) = connected();
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(2)));
    assert!(publishes(&s.tick(t0 + Duration::from_secs(1), wall0())).is_empty());
    let e = s.tick(t0 + Duration::from_secs(2), wall0());
    assert_eq!(publishes(&e).len(), 1);
    assert_eq!(s.next_deadline(), None);
    // A birth in time cancels it.
    let (mut s, t0) = connected();
    s.message(&topic(MsgType::NBirth, None), &nbirth(0), t0 + Duration::from_secs(1), wall0());
    assert_eq!(s.next_deadline(), None);
    assert!(publishes(&s.tick(t0 + Duration::from_secs(5), wall0())).is_empty());
}

/// The instant the second request goes, with jitter seed `seed`.
fn second_request_due(seed: u64) -> Duration {
    let t0 = Instant::now();
    let mut s = HostSession::new(cfg(), tags(), seed);
    s.connected(t0, wall0());
    assert_eq!(publishes(&s.message(&topic(MsgType::NData, None), &ndata_counter(1, 1), t0, wall0())).len(), 1);
    let t1 = t0 + Duration::from_secs(1);
    assert!(publishes(&s.message(&topic(MsgType::NData, None), &ndata_counter(2, 1), t1, wall0())).is_empty());
    let due = s.next_deadline().expect("a request waits");
    assert!(publishes(&s.tick(due - Duration::from_millis(1), wall0())).is_empty(), "never before the window ends");
    assert_eq!(publishes(&s.tick(due, wall0())).len(), 1, "the remembered request goes at the window's end");
    due - t0
}

#[test]
fn rebirth_requests_cool_down_with_jitter() {
    let mut seen = Vec::new();
    for seed in 0..20 {
        let d = second_request_due(seed);
        assert!(d >= Duration::from_secs(10) && d < Duration::from_secs(15), "{d:?}");
        seen.push(d);
    }
    seen.sort();
    seen.dedup();
    assert!(seen.len() > 10, "seeds spread the requests: {seen:?}");
    // The same seed, the same schedule (pure).
    assert_eq!(second_request_due(5), second_request_due(5));
    // A birth inside the cooldown: the remembered request is dropped.
    let (mut s, t0) = connected();
    s.message(&topic(MsgType::NData, None), &ndata_counter(1, 1), t0, wall0());
    s.message(&topic(MsgType::NData, None), &ndata_counter(2, 1), t0, wall0());
    s.message(&topic(MsgType::NBirth, None), &nbirth(0), t0 + Duration::from_secs(1), wall0());
    assert_eq!(s.next_deadline(), None);
    assert!(publishes(&s.tick(t0 + Duration::from_secs(20), wall0())).is_empty());
}

#[test]
fn jitter_factors_stay_in_one_to_one_and_a_half() {
    for seed in [0, 1, u64::MAX, 0xDEAD_BEEF] {
        let mut r = Rebirth::new(Duration::from_secs(10), seed);
        for _ in 0..10_000 {
            let j = r.jitter();
            assert!((1.0..1.5).contains(&j), "{j}");
        }
    }
}

#[test]
fn a_write_result_comes_by_alias_or_name_and_is_no_sample_unless_a_tag_names_it() {
    let (mut s, t0) = born();
    let e = data(
        &mut s,
        None,
        2,
        vec![m(None, Some(100), None, Some(Wire::StringValue("req-1 written and read back".into())))],
        t0,
    );
    assert_eq!(e, vec![HostEffect::WriteResult { request_id: "req-1".into(), text: "written and read back".into() }]);
    let e = data(
        &mut s,
        None,
        3,
        vec![m(Some(WRITE_RESULT_METRIC), None, None, Some(Wire::StringValue("req-2 refused: above max".into())))],
        t0,
    );
    assert_eq!(e, vec![HostEffect::WriteResult { request_id: "req-2".into(), text: "refused: above max".into() }]);
    // A tag that names it gets the sample too.
    let mut t = tags();
    t.push((TagId(9), pt(None, WRITE_RESULT_METRIC)));
    let mut s = HostSession::new(cfg(), t, 1);
    s.connected(t0, wall0());
    s.message(&topic(MsgType::NBirth, None), &nbirth(0), t0, wall0());
    let e = data(&mut s, None, 1, vec![m(None, Some(100), None, Some(Wire::StringValue("r3 ok".into())))], t0);
    assert_eq!(last(&e, TagId(9)).and_then(|x| x.value), Some(Value::Text("r3 ok".into())));
    assert!(e.contains(&HostEffect::WriteResult { request_id: "r3".into(), text: "ok".into() }));
}

#[test]
fn metric_for_write_gives_alias_and_datatype_or_says_why_not() {
    let (s, _) = born();
    assert_eq!(s.metric_for_write(&pt(Some("Pump1"), "Level")), Ok((Some(10), DataType::Float)));
    assert_eq!(s.metric_for_write(&pt(None, "Counter")), Ok((Some(1), DataType::UInt32)));
    assert_eq!(s.metric_for_write(&pt(None, "bdSeq")), Ok((None, DataType::Int64)));
    assert_eq!(
        s.metric_for_write(&pt(Some("Pump1"), "Missing")),
        Err("metric Pump1/Missing is not in the birth of Plant/Edge1".into())
    );
    assert_eq!(
        s.metric_for_write(&pt(None, "Started")),
        Err("metric Started is a DateTime, which a console cannot write".into())
    );
    assert!(
        s.metric_for_write(&pt(Some("Pump2"), "Flow")).unwrap_err().contains("device Pump2 of Plant/Edge1 is offline")
    );
    let (s, _) = connected();
    assert!(s.metric_for_write(&pt(None, "Counter")).unwrap_err().contains("waiting for its NBIRTH"));
}

#[test]
fn date_times_arrays_and_bytes_read_as_short_text() {
    use crate::driver::sparkplug::codec::DataType as D;
    assert_eq!(
        convert::decode(D::DateTime, Some(&Wire::LongValue(1_700_000_000_123))),
        Ok(Value::Text("2023-11-14T22:13:20.123Z".into()))
    );
    assert_eq!(
        convert::decode(D::DateTime, Some(&Wire::LongValue(u64::MAX))),
        Ok(Value::Text(format!("{} ms after 1970", u64::MAX)))
    );
    assert_eq!(
        convert::decode(D::Int16Array, Some(&Wire::BytesValue(vec![0xFF, 0xFF, 2, 0]))),
        Ok(Value::Text("[-1, 2] (2 values)".into()))
    );
    let huge = vec![1u8; 1 << 20];
    assert_eq!(
        convert::decode(D::UInt32Array, Some(&Wire::BytesValue(huge.clone()))),
        Ok(Value::Text(
            "[16843009, 16843009, 16843009, 16843009, 16843009, 16843009, 16843009, 16843009, …] (262144 values)"
                .into()
        ))
    );
    assert_eq!(
        convert::decode(D::Bytes, Some(&Wire::BytesValue(huge))),
        Ok(Value::Text("1048576 bytes: 01 01 01 01 01 01 01 01 …".into()))
    );
    assert!(
        convert::decode(D::DoubleArray, Some(&Wire::BytesValue(vec![0; 2049])))
            .unwrap_err()
            .contains("not a multiple of 8")
    );
    let Ok(Value::Text(t)) = convert::decode(D::String, Some(&Wire::StringValue("é".repeat(10_000)))) else {
        panic!()
    };
    assert!(t.ends_with("… (20000 bytes in all)") && t.len() < 4200, "{}", t.len());
}

#[test]
fn hostile_payloads_are_logged_and_ignored() {
    let (mut s, t0) = born();
    // Random bytes.
    let e = s.message(&topic(MsgType::NData, None), &[0xFF, 0x13, 0x00, 0x42, 0x99], t0, wall0());
    assert!(samples(&e).is_empty());
    assert!(logs(&e)[0].starts_with("spBv1.0/Plant/NDATA/Edge1: not a Sparkplug B payload"), "{:?}", logs(&e));
    // A length claiming 100 MB.
    let e = s.message(&topic(MsgType::NData, None), &[0x12, 0x80, 0x80, 0x80, 0x32, 1, 2, 3], t0, wall0());
    assert!(logs(&e)[0].contains("not a Sparkplug B payload"));
    // A 70 kB garbage NBIRTH.
    let mut x = 0x1234_5678_9abc_def0u64;
    let garbage: Vec<u8> = (0..70_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let e = s.message(&topic(MsgType::NBirth, None), &garbage, t0, wall0());
    assert!(samples(&e).iter().all(|(_, x)| x.quality != Quality::Good));
    // Wrong datatype in data: Bad with a reason; the other metric applies.
    let e = data(
        &mut s,
        Some("Pump1"),
        2,
        vec![
            m(None, Some(10), None, Some(Wire::StringValue("x".into()))),
            m(None, Some(11), None, Some(Wire::IntValue(1))),
        ],
        t0,
    );
    assert_eq!(
        last(&e, LEVEL).map(|x| x.quality),
        Some(Quality::Bad(Reason::Decode("the value is not a Float".into())))
    );
    assert_eq!(last(&e, SPEED).and_then(|x| x.value), Some(Value::Int(1)));
    // Other groups and nodes, and commands on the filter.
    assert!(
        s.message(&Topic::new("Other", MsgType::NData, "Edge1", None), &ndata_counter(3, 1), t0, wall0()).is_empty()
    );
    assert!(
        s.message(&Topic::new("Plant", MsgType::NData, "Edge2", None), &ndata_counter(3, 1), t0, wall0()).is_empty()
    );
    assert!(s.message(&topic(MsgType::NCmd, None), &[1, 2, 3], t0, wall0()).is_empty());
    assert_eq!(
        last(&data(&mut s, None, 3, vec![m(None, Some(1), None, Some(Wire::IntValue(5)))], t0), COUNTER)
            .and_then(|x| x.value),
        Some(Value::UInt(5)),
        "the sequence went on"
    );
}

#[test]
fn unknown_datatypes_and_control_characters_in_a_birth_do_not_fail_it() {
    let (mut s, t0) = connected();
    let mut t = tags();
    t.push((TagId(7), pt(None, "Evil\u{1b}[2J")));
    let mut s2 = HostSession::new(cfg(), t, 3);
    s2.connected(t0, wall0());
    let birth = payload(
        Some(0),
        vec![
            bd_metric(1),
            m(Some("Table"), Some(5), Some(16), None), // DataSet
            m(Some("Evil\u{1b}[2J"), Some(6), Some(12), Some(Wire::StringValue("\u{1b}]52;c;x\u{7}".into()))),
            m(Some("Counter"), Some(1), Some(7), Some(Wire::IntValue(7))),
            m(None, Some(9), Some(7), None),
        ],
    );
    for s in [&mut s, &mut s2] {
        let e = s.message(&topic(MsgType::NBirth, None), &birth, t0, wall0());
        assert_eq!(last(&e, COUNTER).and_then(|x| x.value), Some(Value::UInt(7)));
        let l = logs(&e);
        assert!(
            l.iter().any(|l| l == "NBIRTH: metric Table has datatype 16, which this console does not take"),
            "{l:?}"
        );
        assert!(l.iter().all(|l| !l.chars().any(crate::sanitize::is_unsafe)), "{l:?}");
    }
    let e = s2.message(
        &topic(MsgType::NData, None),
        &payload(Some(1), vec![m(None, Some(6), None, Some(Wire::StringValue("\u{1b}c".into())))]),
        t0,
        wall0(),
    );
    assert_eq!(
        last(&e, TagId(7)).and_then(|x| x.value),
        Some(Value::Text("\u{1b}c".into())),
        "kept as data; the screen escapes it"
    );
}

#[test]
fn log_lines_per_call_are_bounded() {
    let (mut s, t0) = born();
    let many: Vec<Metric> =
        (0..1000).map(|i| m(None, Some(10), None, Some(Wire::StringValue(format!("{i}"))))).collect();
    let e = data(&mut s, Some("Pump1"), 2, many, t0);
    let l = logs(&e);
    assert_eq!(l.len(), out::MAX_LOGS + 1);
    // 1000 decode errors and the line of the one rebirth request they ask for.
    assert_eq!(l.last().map(String::as_str), Some("… and 985 more such lines"));
}

#[test]
fn the_reorder_buffer_is_bounded() {
    let (mut s, t0) = born();
    let nd = topic(MsgType::NData, None);
    for seq in 3..(3 + reorder::MAX_HELD as u64) {
        let e = s.message(&nd, &ndata_counter(seq, 1), t0, wall0());
        assert!(publishes(&e).is_empty(), "{seq}");
    }
    // Past half the sequence space: behind, not ahead.
    let e = s.message(&nd, &ndata_counter(2 + 128, 1), t0, wall0());
    assert!(logs(&e)[0].contains("late or repeated"), "{:?}", logs(&e));
    assert_eq!(s.reorder.held(), reorder::MAX_HELD);
    // Bytes: one message too many.
    let (mut s, t0) = born();
    let big =
        payload(Some(3), vec![m(None, Some(1), None, Some(Wire::StringValue("x".repeat(reorder::MAX_HELD_BYTES))))]);
    let e = s.message(&nd, &big, t0, wall0());
    assert_eq!(publishes(&e).len(), 1, "the gap cannot heal: a rebirth at once");
    assert_eq!(s.reorder.held(), 0);
}

#[test]
fn facts_read_like_node_info() {
    let (s, _) = born();
    let f = s.facts();
    let get = |k: &str| f.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    assert_eq!(get("edge node").as_deref(), Some("Plant/Edge1"));
    assert_eq!(get("online").as_deref(), Some("yes"));
    assert_eq!(get("bdSeq").as_deref(), Some("3"));
    assert_eq!(get("seq").as_deref(), Some("1"));
    assert_eq!(get("births (NBIRTH)").as_deref(), Some("1"));
    assert_eq!(get("device births (DBIRTH)").as_deref(), Some("1"));
    assert_eq!(get("devices online").as_deref(), Some("1 of 2"));
    assert_eq!(get("messages").as_deref(), Some("2"));
    assert_eq!(get("waiting for a birth").as_deref(), Some("waiting for a birth of device Plant/Edge1/Pump2"));
}
