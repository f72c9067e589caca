//! The edge session, tested without a network: every message is decoded with prost and its
//! fields checked. Tests are named after the Sparkplug 3.0.0 assertion ids (`tck-id-…`) they
//! check, where one applies.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::driver::sparkplug::proto::Payload;
use crate::driver::sparkplug::proto::payload::metric::Value as Wire;
use crate::driver::sparkplug::proto::payload::{Metric, PropertySet, PropertyValue, property_value};
use crate::driver::sparkplug::topic::{Parsed, parse};

pub(super) const T: u64 = 1_700_000_000_000;

pub(crate) fn metric(tag: u32, name: &str, datatype: DataType) -> MetricDef {
    MetricDef {
        tag: TagId(tag),
        name: name.into(),
        datatype,
        units: None,
        low: None,
        high: None,
        description: None,
        writable: true,
    }
}

/// plc1: LEVEL (Double, %, 0..100, described), TEMP (Int16), RO (Int8, read only);
/// plc2: FLAG (Boolean), COUNT (UInt32).
pub(super) fn devices() -> Vec<DeviceDef> {
    let level = MetricDef {
        units: Some("%".into()),
        low: Some(0.0),
        high: Some(100.0),
        description: Some("Tank level".into()),
        ..metric(0, "LEVEL", DataType::Double)
    };
    let ro = MetricDef { writable: false, ..metric(2, "RO", DataType::Int8) };
    vec![
        DeviceDef { id: "plc1".into(), metrics: vec![level, metric(1, "TEMP", DataType::Int16), ro] },
        DeviceDef {
            id: "plc2".into(),
            metrics: vec![metric(10, "FLAG", DataType::Boolean), metric(11, "COUNT", DataType::UInt32)],
        },
    ]
}

pub(super) fn cfg() -> EdgeConfig {
    EdgeConfig { group: "Plant".into(), node: "Boiler1".into() }
}

pub(super) fn good(v: SpValue) -> MetricValue {
    MetricValue { value: Some(v), quality: SpQuality::Good, timestamp_ms: T }
}

fn with(v: SpValue, quality: SpQuality) -> MetricValue {
    MetricValue { value: Some(v), quality, timestamp_ms: T }
}

fn decode(p: &Publish) -> Payload {
    Payload::decode(p.payload.as_slice()).expect("a payload this session encoded decodes")
}

fn kind(p: &Publish) -> (MsgType, Option<String>) {
    match parse(&p.topic) {
        Ok(Parsed::Node(t)) => {
            assert_eq!((t.group.as_str(), t.node.as_str()), ("Plant", "Boiler1"));
            (t.kind, t.device)
        }
        other => panic!("not a node topic: {} ({other:?})", p.topic),
    }
}

fn seq(p: &Publish) -> u64 {
    decode(p).seq.expect("a seq")
}

fn named<'a>(p: &'a Payload, name: &str) -> &'a Metric {
    p.metrics.iter().find(|m| m.name.as_deref() == Some(name)).expect(name)
}

fn prop<'a>(m: &'a Metric, key: &str) -> Option<&'a PropertyValue> {
    let ps = m.properties.as_ref()?;
    ps.keys.iter().position(|k| k == key).map(|i| &ps.values[i])
}

fn quality_code(m: &Metric) -> Option<u32> {
    match prop(m, "Quality")?.value {
        Some(property_value::Value::IntValue(v)) => Some(v),
        ref other => panic!("Quality is not an int_value: {other:?}"),
    }
}

/// Online with both devices up and a value for every metric but COUNT.
pub(super) fn online_session() -> (EdgeSession, Vec<Publish>) {
    let mut s = EdgeSession::new(cfg(), devices(), 7);
    s.update(
        &[
            (TagId(0), good(SpValue::Double(42.5))),
            (TagId(1), good(SpValue::Int(-3))),
            (TagId(2), with(SpValue::Int(-1), SpQuality::Bad)),
            (TagId(10), with(SpValue::Bool(true), SpQuality::Stale)),
        ],
        T,
    );
    assert!(s.device_up(0, T).is_empty() && s.device_up(1, T).is_empty(), "offline: nothing");
    let births = s.online(T + 1);
    (s, births)
}

#[test]
fn tck_id_payloads_ndeath_will_message_qos_retain_bdseq_and_no_seq() {
    let s = EdgeSession::new(cfg(), devices(), 7);
    let will = s.will();
    assert_eq!(will.topic, "spBv1.0/Plant/NDEATH/Boiler1");
    assert_eq!((will.qos, will.retain), (1, false));
    let p = decode(&will);
    assert_eq!(p.seq, None, "tck-id-payloads-ndeath-seq: no sequence number");
    assert_eq!(p.metrics.len(), 1, "tck-id-topics-ndeath-payload: only bdSeq");
    let m = &p.metrics[0];
    assert_eq!(m.name.as_deref(), Some("bdSeq"));
    assert_eq!(m.datatype, Some(4));
    assert_eq!(m.value, Some(Wire::LongValue(7)));
    assert_eq!(m.alias, None);
    assert_eq!(s.death(), will, "a clean shutdown publishes the Will's NDEATH");
}

#[test]
fn tck_id_payloads_nbirth_bdseq_repeat_and_bdseq_increment_wrap() {
    let mut s = EdgeSession::new(cfg(), devices(), 254);
    for expected in [254u8, 255, 0, 1] {
        assert_eq!(s.bd_seq(), expected);
        let will_bd = decode(&s.will()).metrics[0].value.clone();
        let nbirth = &s.online(T)[0];
        assert_eq!(kind(nbirth).0, MsgType::NBirth);
        assert_eq!(named(&decode(nbirth), "bdSeq").value, will_bd, "NBIRTH repeats the Will's bdSeq");
        assert_eq!(will_bd, Some(Wire::LongValue(u64::from(expected))));
        assert_eq!(s.offline(), expected.wrapping_add(1), "offline returns the next bdSeq to persist");
    }
}

#[test]
fn tck_id_payloads_nbirth_seq_rebirth_req_and_node_metrics() {
    let (_, births) = online_session();
    let nbirth = &births[0];
    assert_eq!(kind(nbirth), (MsgType::NBirth, None));
    assert_eq!((nbirth.qos, nbirth.retain), (0, false), "tck-id-payloads-nbirth-qos/retain");
    let p = decode(nbirth);
    assert_eq!(p.seq, Some(0), "tck-id-payloads-sequence-num-zero-nbirth");
    assert_eq!(p.timestamp, Some(T + 1), "tck-id-payloads-nbirth-timestamp");
    let names: Vec<_> = p.metrics.iter().map(|m| m.name.as_deref().unwrap_or("")).collect();
    assert_eq!(names, ["bdSeq", "Node Control/Rebirth", "Node Control/Write Result"], "tags belong to devices");
    let bd = named(&p, "bdSeq");
    assert_eq!((bd.datatype, bd.alias, bd.value.clone()), (Some(4), None, Some(Wire::LongValue(7))));
    let rebirth = named(&p, "Node Control/Rebirth");
    assert_eq!(rebirth.datatype, Some(11));
    assert_eq!(rebirth.value, Some(Wire::BooleanValue(false)), "tck-id-payloads-nbirth-rebirth-req");
    assert_eq!(rebirth.alias, None, "tck-id-operational-behavior-data-commands-rebirth-name-aliases");
    let result = named(&p, "Node Control/Write Result");
    assert_eq!(result.datatype, Some(12));
    assert_eq!(result.value, Some(Wire::StringValue(String::new())));
    assert!(result.alias.is_some());
    assert!(p.metrics.iter().all(|m| m.timestamp == Some(T + 1)));
}

#[test]
fn tck_id_topics_dbirth_metrics_name_alias_datatype_value_timestamp_properties() {
    let (s, births) = online_session();
    assert_eq!(births.len(), 3);
    assert_eq!(kind(&births[1]), (MsgType::DBirth, Some("plc1".into())));
    assert_eq!(kind(&births[2]), (MsgType::DBirth, Some("plc2".into())));
    assert_eq!((births[1].qos, births[1].retain), (0, false), "tck-id-payloads-dbirth-qos/retain");
    let p = decode(&births[1]);
    assert_eq!(p.timestamp, Some(T + 1), "tck-id-payloads-dbirth-timestamp");
    assert_eq!(p.metrics.len(), 3, "tck-id-topics-dbirth-metric-reqs: every metric");
    let level = named(&p, "LEVEL");
    assert_eq!(level.alias, s.alias(0, 0));
    assert_eq!(level.datatype, Some(DataType::Double as u32));
    assert_eq!(level.value, Some(Wire::DoubleValue(42.5)));
    assert_eq!((level.timestamp, level.is_null), (Some(T), None));
    assert_eq!(quality_code(level), Some(192));
    let q = prop(level, "Quality").expect("Quality");
    assert_eq!(q.r#type, Some(3), "tck-id-payloads-propertyset-quality-value-type: Int32");
    assert_eq!(
        prop(level, "EngUnit").and_then(|v| v.value.clone()),
        Some(property_value::Value::StringValue("%".into()))
    );
    assert_eq!(prop(level, "EngLow").and_then(|v| v.value.clone()), Some(property_value::Value::DoubleValue(0.0)));
    assert_eq!(prop(level, "EngHigh").and_then(|v| v.value.clone()), Some(property_value::Value::DoubleValue(100.0)));
    assert_eq!(
        prop(level, "Description").and_then(|v| v.value.clone()),
        Some(property_value::Value::StringValue("Tank level".into()))
    );
    let ps = level.properties.as_ref().expect("properties");
    assert!(ps.values.iter().all(|v| v.r#type.is_some()), "tck-id-payloads-metric-propertyvalue-type-req");
    let temp = named(&p, "TEMP");
    assert_eq!(temp.value, Some(Wire::IntValue(0xFFFF_FFFD)), "Int16 -3 sign-extended");
    assert!(prop(temp, "EngUnit").is_none() && prop(temp, "Description").is_none(), "absent when unknown");
    let ro = named(&p, "RO");
    assert_eq!((ro.is_null, ro.value.clone()), (Some(true), None), "Bad is null");
    assert_eq!(quality_code(ro), Some(0));
    let p2 = decode(&births[2]);
    let flag = named(&p2, "FLAG");
    assert_eq!(
        (flag.value.clone(), quality_code(flag)),
        (Some(Wire::BooleanValue(true)), Some(500)),
        "stale keeps its value"
    );
    let count = named(&p2, "COUNT");
    assert_eq!((count.is_null, quality_code(count), count.timestamp), (Some(true), Some(0), Some(T + 1)), "no value");
}

#[test]
fn tck_id_payloads_alias_uniqueness_and_data_carries_only_the_alias() {
    let (mut s, births) = online_session();
    let mut seen = HashSet::new();
    for b in &births {
        for m in decode(b).metrics {
            if let Some(a) = m.alias {
                assert!(seen.insert(a), "alias {a} used twice");
            }
            if kind(b).0 == MsgType::DBirth {
                assert!(m.alias.is_some() && m.name.is_some(), "tck-id-payloads-alias-birth-requirement");
            }
        }
    }
    assert_eq!(seen.len(), 1 + 3 + 2);
    let out = s.update(&[(TagId(1), good(SpValue::Int(5)))], T + 2);
    let m = &decode(&out[0]).metrics[0];
    assert_eq!(
        (m.name.clone(), m.alias, m.datatype),
        (None, s.alias(0, 1), None),
        "tck-id-payloads-alias-data-cmd-requirement"
    );
    let out = s.write_result("r1 written and read back", T + 3);
    let m = &decode(&out[0]).metrics[0];
    assert_eq!(m.name, None);
    assert!(m.alias.is_some_and(|a| seen.contains(&a)));
    assert_eq!(s.alias(0, 3), None);
    assert_eq!(s.alias(9, 0), None);
}

#[test]
fn tck_id_payloads_sequence_num_incrementing_across_message_kinds() {
    let (mut s, births) = online_session();
    let mut all = births;
    all.extend(s.update(&[(TagId(0), good(SpValue::Double(1.0))), (TagId(11), good(SpValue::UInt(9)))], T));
    all.extend(s.write_result("x", T));
    all.extend(s.device_down(1, T));
    all.extend(s.device_up(1, T));
    let kinds: Vec<_> = all.iter().map(|p| kind(p).0).collect();
    use MsgType::*;
    assert_eq!(kinds, [NBirth, DBirth, DBirth, DData, DData, NData, DDeath, DBirth]);
    let seqs: Vec<_> = all.iter().map(seq).collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4, 5, 6, 7]);
    let ddeath = decode(&all[6]);
    assert!(ddeath.metrics.is_empty());
    assert_eq!(ddeath.timestamp, Some(T), "tck-id-payloads-ddeath-timestamp");
}

#[test]
fn tck_id_payloads_ddata_seq_inc_wraps_255_to_0() {
    let (mut s, births) = online_session();
    let mut last = seq(births.last().expect("births"));
    for i in 0..600 {
        let out = s.update(&[(TagId(11), good(SpValue::UInt(i)))], T);
        assert_eq!(out.len(), 1);
        let now = seq(&out[0]);
        assert!(now <= 255);
        assert_eq!(now, (last + 1) % 256);
        last = now;
    }
}

#[test]
fn report_by_exception_sends_only_changes_and_a_quality_change_is_a_change() {
    let (mut s, _) = online_session();
    let same = [(TagId(0), good(SpValue::Double(42.5))), (TagId(1), good(SpValue::Int(-3)))];
    assert!(s.update(&same, T + 5).is_empty(), "unchanged values (newer timestamps) are not sent");
    // A quality-only change is sent, with its Quality.
    let out = s.update(&[(TagId(0), with(SpValue::Double(42.5), SpQuality::Stale))], T + 6);
    assert_eq!(out.len(), 1);
    assert_eq!(kind(&out[0]), (MsgType::DData, Some("plc1".into())));
    assert_eq!((out[0].qos, out[0].retain), (0, false), "tck-id-payloads-ddata-qos");
    let p = decode(&out[0]);
    assert_eq!(p.timestamp, Some(T + 6));
    assert_eq!(p.metrics.len(), 1);
    assert_eq!((quality_code(&p.metrics[0]), p.metrics[0].value.clone()), (Some(500), Some(Wire::DoubleValue(42.5))));
    // Back to Good: said explicitly; a Good value that stays Good carries no property.
    let p = decode(&s.update(&[(TagId(0), good(SpValue::Double(42.5)))], T)[0]);
    assert_eq!(quality_code(&p.metrics[0]), Some(192));
    let p = decode(&s.update(&[(TagId(0), good(SpValue::Double(43.0)))], T)[0]);
    assert_eq!((p.metrics[0].properties.clone(), p.metrics[0].value.clone()), (None, Some(Wire::DoubleValue(43.0))));
    // Bad: null, Quality 0.
    let p = decode(&s.update(&[(TagId(0), with(SpValue::Double(43.0), SpQuality::Bad))], T)[0]);
    assert_eq!((p.metrics[0].is_null, quality_code(&p.metrics[0])), (Some(true), Some(0)));
}

#[test]
fn one_ddata_per_device_per_round_with_the_last_value_of_a_tag() {
    let (mut s, _) = online_session();
    let out = s.update(
        &[
            (TagId(0), good(SpValue::Double(1.0))),
            (TagId(10), good(SpValue::Bool(false))),
            (TagId(0), good(SpValue::Double(2.0))),
            (TagId(99), good(SpValue::Double(2.0))),
            (TagId(1), good(SpValue::Int(-3))),
        ],
        T,
    );
    assert_eq!(out.len(), 2, "one per device; unknown tag ignored; TEMP unchanged");
    let p = decode(&out[0]);
    assert_eq!(p.metrics.len(), 1);
    assert_eq!(p.metrics[0].value, Some(Wire::DoubleValue(2.0)));
    assert_eq!(kind(&out[1]).1.as_deref(), Some("plc2"));
    assert_eq!(decode(&out[1]).metrics[0].value, Some(Wire::BooleanValue(false)));
    // Stale then Good again within one round: the host heard Good last, so no Quality.
    let out = s
        .update(&[(TagId(0), with(SpValue::Double(2.0), SpQuality::Stale)), (TagId(0), good(SpValue::Double(5.0)))], T);
    let p = decode(&out[0]);
    assert_eq!((p.metrics.len(), p.metrics[0].properties.clone()), (1, None));
    assert!(s.update(&[(TagId(0), good(SpValue::Double(f64::NAN)))], T).len() == 1);
    assert!(s.update(&[(TagId(0), good(SpValue::Double(f64::NAN)))], T).is_empty(), "NaN stays NaN: no change");
}

#[test]
fn tck_id_operational_behavior_device_ddeath_then_dbirth_with_current_values() {
    let (mut s, _) = online_session();
    let out = s.device_down(0, T + 10);
    assert_eq!(out.len(), 1);
    assert_eq!(kind(&out[0]), (MsgType::DDeath, Some("plc1".into())));
    assert_eq!((out[0].qos, out[0].retain), (0, false), "tck-id-topics-ddeath-mqtt");
    assert!(s.device_down(0, T).is_empty(), "one DDEATH");
    assert!(s.update(&[(TagId(1), good(SpValue::Int(8)))], T).is_empty(), "a dead device publishes nothing");
    assert!(!s.update(&[(TagId(11), good(SpValue::UInt(1)))], T).is_empty(), "the other device still does");
    let out = s.device_up(0, T + 20);
    assert_eq!(out.len(), 1);
    assert_eq!(kind(&out[0]), (MsgType::DBirth, Some("plc1".into())));
    let p = decode(&out[0]);
    assert_eq!(named(&p, "TEMP").value, Some(Wire::IntValue(8)), "the value stored while down");
    assert_eq!(quality_code(named(&p, "TEMP")), Some(192));
    let level = named(&p, "LEVEL");
    assert_eq!((level.value.clone(), quality_code(level)), (Some(Wire::DoubleValue(42.5)), Some(500)), "old: stale");
    assert!(s.device_up(0, T).is_empty(), "already born");
    assert!(s.device_down(5, T).is_empty() && s.device_up(5, T).is_empty(), "no such device");
}

#[test]
fn tck_id_message_flow_device_birth_publish_nbirth_wait_gate_closed_after_offline() {
    let (mut s, _) = online_session();
    assert!(s.is_online());
    s.offline();
    assert!(!s.is_online());
    let t0 = Instant::now();
    assert!(s.update(&[(TagId(0), good(SpValue::Double(7.0)))], T).is_empty());
    assert!(s.device_down(1, T).is_empty() && s.device_up(1, T).is_empty());
    assert!(s.write_result("x", T).is_empty());
    assert!(s.rebirth(t0, T).is_empty() && s.tick(t0 + Duration::from_secs(60), T).is_empty());
    assert_eq!(s.next_deadline(), None);
    // Reconnected: births first (tck-id-payloads-dbirth-order), with what was stored meanwhile.
    let births = s.online(T + 30);
    let kinds: Vec<_> = births.iter().map(|p| kind(p).0).collect();
    assert_eq!(kinds, [MsgType::NBirth, MsgType::DBirth, MsgType::DBirth]);
    assert_eq!(named(&decode(&births[1]), "LEVEL").value, Some(Wire::DoubleValue(7.0)));
    assert_eq!(named(&decode(&births[0]), "bdSeq").value, Some(Wire::LongValue(8)));
    assert!(s.update(&[(TagId(0), good(SpValue::Double(7.0)))], T).is_empty(), "the birth carried it");
}

#[test]
fn devices_start_down_and_only_the_node_is_born() {
    let mut s = EdgeSession::new(cfg(), devices(), 0);
    let births = s.online(T);
    assert_eq!(births.len(), 1);
    assert!(s.update(&[(TagId(0), good(SpValue::Double(1.0)))], T).is_empty(), "no DDATA before its DBIRTH");
    let out = s.device_up(0, T);
    assert_eq!((kind(&out[0]).0, seq(&out[0])), (MsgType::DBirth, 1));
    assert_eq!(named(&decode(&out[0]), "LEVEL").value, Some(Wire::DoubleValue(1.0)));
}

#[test]
fn tck_id_operational_behavior_data_commands_rebirth_action_3_debounced() {
    let (mut s, _) = online_session();
    s.update(&[(TagId(0), good(SpValue::Double(3.0)))], T);
    let t0 = Instant::now();
    let mut all = Vec::new();
    all.extend(s.rebirth(t0, T + 100));
    assert_eq!(all.len(), 3, "the first request: at once");
    assert_eq!(s.next_deadline(), None, "nothing waits");
    all.extend(s.rebirth(t0 + Duration::from_secs(1), T));
    all.extend(s.rebirth(t0 + Duration::from_secs(4), T));
    assert_eq!(all.len(), 3, "merged");
    assert_eq!(s.next_deadline(), Some(t0 + REBIRTH_WINDOW));
    assert!(s.tick(t0 + Duration::from_millis(4999), T).is_empty());
    // Data keeps flowing while a rebirth waits.
    let data = s.update(&[(TagId(0), good(SpValue::Double(4.0)))], T);
    assert_eq!((kind(&data[0]).0, seq(&data[0])), (MsgType::DData, 3));
    all.extend(s.tick(t0 + REBIRTH_WINDOW, T + 200));
    assert_eq!(all.len(), 6, "3 requests within 5 s: births twice");
    assert_eq!(s.next_deadline(), None);
    assert!(s.tick(t0 + Duration::from_secs(30), T).is_empty());
    for births in all.chunks(3) {
        let kinds: Vec<_> = births.iter().map(|p| kind(p).0).collect();
        assert_eq!(kinds, [MsgType::NBirth, MsgType::DBirth, MsgType::DBirth]);
        assert_eq!(births.iter().map(seq).collect::<Vec<_>>(), [0, 1, 2], "seq from 0");
        assert_eq!(named(&decode(&births[0]), "bdSeq").value, Some(Wire::LongValue(7)), "same bdSeq");
    }
    assert_eq!(named(&decode(&all[4]), "LEVEL").value, Some(Wire::DoubleValue(4.0)), "current values");
    // Long after: a new request goes at once again.
    assert_eq!(s.rebirth(t0 + Duration::from_secs(60), T).len(), 3);
}

#[test]
fn tck_id_message_flow_edge_node_ncmd_subscribe_and_dcmd() {
    let s = EdgeSession::new(cfg(), devices(), 0);
    assert_eq!(s.subscriptions(), ["spBv1.0/Plant/NCMD/Boiler1", "spBv1.0/Plant/DCMD/Boiler1/+"]);
}

#[test]
fn write_result_is_an_ndata_with_the_text() {
    let (mut s, _) = online_session();
    let out = s.write_result("req-7: written and read back", T + 9);
    assert_eq!(kind(&out[0]), (MsgType::NData, None));
    assert_eq!((out[0].qos, out[0].retain), (0, false), "tck-id-payloads-ndata-qos");
    let p = decode(&out[0]);
    assert_eq!((p.seq, p.timestamp), (Some(3), Some(T + 9)));
    assert_eq!(p.metrics[0].value, Some(Wire::StringValue("req-7: written and read back".into())));
}

// --- commands ---

pub(super) fn dcmd(device: &str) -> Topic {
    Topic::new("Plant", MsgType::DCmd, "Boiler1", Some(device))
}

pub(super) fn ncmd() -> Topic {
    Topic::new("Plant", MsgType::NCmd, "Boiler1", None)
}

pub(super) fn cmd(metrics: Vec<Metric>) -> Vec<u8> {
    Payload { timestamp: Some(T), metrics, seq: None, uuid: None, body: None }.encode_to_vec()
}

fn by_alias(alias: u64, value: Wire) -> Metric {
    Metric { alias: Some(alias), value: Some(value), ..Metric::default() }
}

fn by_name(name: &str, value: Wire) -> Metric {
    Metric { name: Some(name.into()), value: Some(value), ..Metric::default() }
}

fn refusal(c: &[EdgeCommand]) -> (Option<String>, String) {
    match c {
        [EdgeCommand::Refused { metric, why }] => (metric.clone(), why.clone()),
        other => panic!("not one refusal: {other:?}"),
    }
}

#[test]
fn tck_id_operational_behavior_data_commands_dcmd_by_alias_and_by_name() {
    let (s, _) = online_session();
    let props = PropertySet { keys: vec!["user".into()], values: vec![] };
    let mut m = by_alias(s.alias(0, 1).expect("alias"), Wire::IntValue(0xFFFF));
    m.properties = Some(props.clone());
    m.datatype = Some(DataType::Int16 as u32);
    let out = s.command(&dcmd("plc1"), &cmd(vec![m, by_name("LEVEL", Wire::DoubleValue(55.0))]));
    assert_eq!(
        out,
        [
            EdgeCommand::Write {
                device: Some(0),
                tag: TagId(1),
                metric: "TEMP".into(),
                datatype: DataType::Int16,
                value: SpValue::Int(-1),
                properties: Some(props),
            },
            EdgeCommand::Write {
                device: Some(0),
                tag: TagId(0),
                metric: "LEVEL".into(),
                datatype: DataType::Double,
                value: SpValue::Double(55.0),
                properties: None,
            },
        ]
    );
    // Alias and the same name: fine; a different name: refused.
    let mut m = by_alias(s.alias(1, 0).expect("alias"), Wire::BooleanValue(true));
    m.name = Some("FLAG".into());
    assert!(matches!(s.command(&dcmd("plc2"), &cmd(vec![m.clone()]))[..], [EdgeCommand::Write { tag: TagId(10), .. }]));
    m.name = Some("COUNT".into());
    assert_eq!(refusal(&s.command(&dcmd("plc2"), &cmd(vec![m]))).0.as_deref(), Some("FLAG"));
}

#[test]
fn tck_id_operational_behavior_data_commands_ncmd_rebirth() {
    let (s, _) = online_session();
    let mut m = by_name(REBIRTH, Wire::BooleanValue(true));
    assert_eq!(s.command(&ncmd(), &cmd(vec![m.clone()])), [EdgeCommand::Rebirth]);
    m.datatype = Some(11);
    assert_eq!(s.command(&ncmd(), &cmd(vec![m.clone()])), [EdgeCommand::Rebirth]);
    m.datatype = Some(3);
    assert!(refusal(&s.command(&ncmd(), &cmd(vec![m]))).1.contains("datatype 3"));
    let f = refusal(&s.command(&ncmd(), &cmd(vec![by_name(REBIRTH, Wire::BooleanValue(false))])));
    assert!(f.1.contains("false"), "{f:?}");
    let f = refusal(&s.command(&ncmd(), &cmd(vec![by_name(REBIRTH, Wire::IntValue(1))])));
    assert!(f.1.contains("not a Boolean"), "{f:?}");
    assert!(
        refusal(&s.command(&dcmd("plc1"), &cmd(vec![by_name(REBIRTH, Wire::BooleanValue(true))])))
            .1
            .contains("no metric")
    );
}

#[test]
fn node_control_metrics_cannot_be_written() {
    let (s, _) = online_session();
    for m in [
        by_name(WRITE_RESULT, Wire::StringValue("forged".into())),
        by_alias(WRITE_RESULT_ALIAS, Wire::StringValue("forged".into())),
        by_name("Node Control/Next Server", Wire::BooleanValue(true)),
        by_name("bdSeq", Wire::LongValue(3)),
    ] {
        let (metric, why) = refusal(&s.command(&ncmd(), &cmd(vec![m])));
        assert!(why.contains("cannot be written"), "{metric:?}: {why}");
    }
    let (_, why) = refusal(&s.command(&ncmd(), &cmd(vec![by_name("LEVEL", Wire::DoubleValue(1.0))])));
    assert!(why.contains("not a node metric"), "{why}");
}

#[test]
fn unknown_alias_name_device_and_foreign_topics_are_refused() {
    let (s, _) = online_session();
    let (metric, why) = refusal(&s.command(&dcmd("plc1"), &cmd(vec![by_alias(999, Wire::IntValue(1))])));
    assert_eq!(metric, None);
    assert!(why.contains("alias 999"), "{why}");
    let (metric, why) = refusal(&s.command(&dcmd("plc1"), &cmd(vec![by_name("NOPE\u{1b}[2J", Wire::IntValue(1))])));
    assert_eq!(metric.as_deref(), Some("NOPE\\x1b[2J"), "cleaned: {why}");
    assert!(!why.contains('\u{1b}'));
    let other_device = by_alias(s.alias(1, 0).expect("alias"), Wire::BooleanValue(true));
    assert!(refusal(&s.command(&dcmd("plc1"), &cmd(vec![other_device.clone()]))).1.contains("device `plc2`"));
    assert!(refusal(&s.command(&ncmd(), &cmd(vec![other_device.clone()]))).1.contains("DCMD"));
    assert!(refusal(&s.command(&dcmd("plc9"), &cmd(vec![other_device.clone()]))).1.contains("plc9"));
    let foreign = Topic::new("Plant", MsgType::DCmd, "Boiler2", Some("plc2"));
    assert!(refusal(&s.command(&foreign, &cmd(vec![other_device.clone()]))).1.contains("not for this node"));
    let ddata = Topic::new("Plant", MsgType::DData, "Boiler1", Some("plc2"));
    assert!(refusal(&s.command(&ddata, &cmd(vec![other_device]))).1.contains("not a command"));
    let (_, why) = refusal(&s.command(&dcmd("plc1"), &cmd(vec![Metric::default()])));
    assert!(why.contains("neither alias nor name"));
    let long = "x".repeat(10_000);
    let (metric, _) = refusal(&s.command(&dcmd("plc1"), &cmd(vec![by_name(&long, Wire::IntValue(1))])));
    assert_eq!(metric.map(|m| m.chars().count()), Some(65), "cut and marked");
}

#[test]
fn wrong_datatype_null_and_read_only_writes_are_refused() {
    let (s, _) = online_session();
    let temp = s.alias(0, 1).expect("alias");
    let mut m = by_alias(temp, Wire::IntValue(1));
    m.datatype = Some(DataType::Int32 as u32);
    assert!(refusal(&s.command(&dcmd("plc1"), &cmd(vec![m.clone()]))).1.contains("its birth says Int16"));
    m.datatype = Some(19);
    assert!(refusal(&s.command(&dcmd("plc1"), &cmd(vec![m.clone()]))).1.contains("unknown datatype 19"));
    m.datatype = None;
    m.value = Some(Wire::StringValue("1".into()));
    assert!(refusal(&s.command(&dcmd("plc1"), &cmd(vec![m.clone()]))).1.contains("not a Int16"));
    m.value = None;
    assert!(refusal(&s.command(&dcmd("plc1"), &cmd(vec![m.clone()]))).1.contains("no value"));
    m.is_null = Some(true);
    assert!(refusal(&s.command(&dcmd("plc1"), &cmd(vec![m]))).1.contains("null"));
    let (metric, why) = refusal(&s.command(&dcmd("plc1"), &cmd(vec![by_name("RO", Wire::IntValue(1))])));
    assert_eq!(metric.as_deref(), Some("RO"));
    assert!(why.contains("read only"), "{why}");
}

#[test]
fn hostile_command_payloads_are_refused_without_panicking() {
    let (s, _) = online_session();
    // Field 2 (metrics), length-delimited, claiming 100 MB with 3 bytes behind it.
    let mut claim = vec![0x12];
    let mut n: u64 = 100 << 20;
    while n >= 0x80 {
        claim.push((n as u8) | 0x80);
        n >>= 7;
    }
    claim.push(n as u8);
    claim.extend([1, 2, 3]);
    let (_, why) = refusal(&s.command(&dcmd("plc1"), &claim));
    assert!(why.contains("not a Sparkplug B payload"), "{why}");
    assert!(refusal(&s.command(&dcmd("plc1"), &[])).1.contains("no metric"));
    assert!(refusal(&s.command(&dcmd("plc1"), &[0xFF; 64])).1.contains("not a Sparkplug B payload"));
    let many = cmd(vec![by_name("LEVEL", Wire::DoubleValue(1.0)); MAX_COMMAND_METRICS + 1]);
    assert!(refusal(&s.command(&dcmd("plc1"), &many)).1.contains("257 metrics"));
    let max = cmd(vec![by_name("LEVEL", Wire::DoubleValue(1.0)); MAX_COMMAND_METRICS]);
    assert_eq!(s.command(&dcmd("plc1"), &max).len(), MAX_COMMAND_METRICS);
}

pub(super) fn wire() -> impl Strategy<Value = Option<Wire>> {
    prop_oneof![
        Just(None),
        any::<u32>().prop_map(|v| Some(Wire::IntValue(v))),
        any::<u64>().prop_map(|v| Some(Wire::LongValue(v))),
        any::<f64>().prop_map(|v| Some(Wire::DoubleValue(v))),
        any::<bool>().prop_map(|v| Some(Wire::BooleanValue(v))),
        ".{0,8}".prop_map(|v| Some(Wire::StringValue(v))),
        prop::collection::vec(any::<u8>(), 0..9).prop_map(|v| Some(Wire::BytesValue(v))),
    ]
}

pub(super) fn any_metric() -> impl Strategy<Value = Metric> {
    let name = prop::option::of(prop::sample::select(vec!["LEVEL", "TEMP", "RO", "FLAG", REBIRTH, WRITE_RESULT, "x"]));
    (name, prop::option::of(0u64..10), prop::option::of(0u32..40), any::<Option<bool>>(), wire()).prop_map(
        |(name, alias, datatype, is_null, value)| Metric {
            name: name.map(str::to_string),
            alias,
            datatype,
            is_null,
            value,
            ..Metric::default()
        },
    )
}

// --- sizes and configuration ---

#[test]
fn a_1000_metric_birth_encodes() {
    let metrics: Vec<_> = (0..1000)
        .map(|i| MetricDef {
            units: Some("m³/h".into()),
            low: Some(0.0),
            high: Some(1000.0),
            description: Some(format!("Flow of line {i}")),
            ..metric(i, &format!("FLOW_{i:04}"), DataType::Double)
        })
        .collect();
    let mut s = EdgeSession::new(cfg(), vec![DeviceDef { id: "plc1".into(), metrics }], 0);
    let values: Vec<_> = (0..1000).map(|i| (TagId(i), good(SpValue::Double(f64::from(i) * 0.5)))).collect();
    s.update(&values, T);
    s.device_up(0, T);
    let births = s.online(T);
    let dbirth = &births[1];
    // Measured: 150,773 bytes for 1,000 Double metrics with Quality, EngUnit, EngLow, EngHigh and
    // Description (about 151 bytes a metric, 70 of them the property keys and values); the
    // NBIRTH is 106 bytes. MAX_PACKET (4 MiB) holds about 27,000 such metrics in one DBIRTH.
    eprintln!("NBIRTH {} bytes, DBIRTH of 1000 metrics {} bytes", births[0].payload.len(), dbirth.payload.len());
    assert!(dbirth.payload.len() < crate::driver::sparkplug::MAX_PACKET);
    let p = decode(dbirth);
    assert_eq!(p.metrics.len(), 1000);
    let aliases: HashSet<_> = p.metrics.iter().filter_map(|m| m.alias).collect();
    assert_eq!(aliases.len(), 1000);
    assert_eq!(named(&p, "FLOW_0999").value, Some(Wire::DoubleValue(499.5)));
}

#[test]
fn validate_refuses_what_cannot_be_a_node() {
    assert_eq!(validate(&cfg(), &devices()), Ok(()));
    let bad_group = EdgeConfig { group: "Pl/ant".into(), ..cfg() };
    assert_eq!(validate(&bad_group, &devices()), Err(EdgeError::Id("Pl/ant".into())));
    let mut d = devices();
    d[1].id = "plc1".into();
    assert_eq!(validate(&cfg(), &d), Err(EdgeError::DuplicateDevice("plc1".into())));
    let mut d = devices();
    d[0].id = "a+".into();
    assert_eq!(validate(&cfg(), &d), Err(EdgeError::Id("a+".into())));
    let mut d = devices();
    d[0].metrics[1].name = "LEVEL".into();
    assert!(matches!(validate(&cfg(), &d), Err(EdgeError::DuplicateMetric { .. })));
    let mut d = devices();
    d[0].metrics[1].name = String::new();
    assert!(matches!(validate(&cfg(), &d), Err(EdgeError::EmptyMetric { .. })));
}
