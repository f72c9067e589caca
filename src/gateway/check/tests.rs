use super::*;
use crate::driver::sparkplug::command::{REPLAY_WINDOW, claims};
use crate::gateway::consoles::ConsoleEntry;
use crate::layout::Layout;
use ed25519_dalek::SigningKey;

pub(super) const NOW: u64 = 1_700_000_000_000;

pub(super) fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

pub(super) fn layout() -> Layout {
    let src = "
connections:
  plc1: { modbus_tcp: { host: 127.0.0.1, port: 502, unit: 1 } }
tags:
  SPEED:  { source: plc1, holding: 0, type: f32, write: { role: operator, min: 0, max: 3000, max_step: 500 } }
  TRIM:   { source: plc1, holding: 2, type: i16, write: { role: engineer, min: -100, max: 100 } }
  LEVEL:  { source: plc1, holding: 4, type: f32 }
  RUN:    { source: plc1, coil: 0, write: { role: operator } }
";
    crate::layout::parse(src, "gw.yaml").unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn tag(name: &str) -> Tag {
    let l = layout();
    l.tags.iter().find(|t| t.name == name).cloned().unwrap_or_else(|| panic!("{name}"))
}

pub(super) fn consoles() -> Consoles {
    let mut c = Consoles::default();
    let room = ConsoleEntry { key: key(1).verifying_key(), max_role: Role::Operator };
    let eng = ConsoleEntry { key: key(2).verifying_key(), max_role: Role::Engineer };
    c.insert("control-room-1", room).expect("room");
    c.insert("eng-1", eng).expect("eng");
    c
}

fn req(metric: &str, datatype: DataType, value: SpValue) -> WriteRequest {
    WriteRequest {
        group: "Plant".into(),
        node: "Gw1".into(),
        device: Some("plc1".into()),
        metric: metric.into(),
        datatype,
        value,
        user: "alice".into(),
        role: "operator".into(),
        host: "control-room-1".into(),
        request_id: "r-1".into(),
        time_ms: NOW,
    }
}

fn speed(v: f64) -> WriteRequest {
    req("SPEED", DataType::Double, SpValue::Double(v))
}

/// The verdict on `r` signed by `signer`, for tag `tag_name` whose current value is `current`.
fn verdict_by(r: &WriteRequest, signer: &SigningKey, tag_name: &str, current: Option<f64>) -> Verdict {
    let sig = r.sign(signer).to_bytes();
    check_write(&consoles(), &mut Replay::new(REPLAY_WINDOW), r, &sig, &tag(tag_name), current, NOW)
}

fn verdict(r: &WriteRequest, tag_name: &str, current: Option<f64>) -> Verdict {
    let signer = if r.host == "eng-1" { key(2) } else { key(1) };
    verdict_by(r, &signer, tag_name, current)
}

fn refused(v: Verdict) -> String {
    match v {
        Verdict::Refused(why) => why,
        Verdict::Allowed => panic!("allowed"),
    }
}

#[test]
fn allowed_a_signed_command_from_a_listed_console_within_role_and_limits() {
    assert_eq!(verdict(&speed(1500.0), "SPEED", Some(1200.0)), Verdict::Allowed);
    let on = WriteRequest { ..req("RUN", DataType::Boolean, SpValue::Bool(true)) };
    assert_eq!(verdict(&on, "RUN", Some(0.0)), Verdict::Allowed);
    let eng = WriteRequest {
        host: "eng-1".into(),
        role: "engineer".into(),
        ..req("TRIM", DataType::Int16, SpValue::Int(-50))
    };
    assert_eq!(verdict(&eng, "TRIM", None), Verdict::Allowed);
    // A console may claim less than its max_role.
    let op = WriteRequest { host: "eng-1".into(), ..speed(1500.0) };
    assert_eq!(verdict(&op, "SPEED", Some(1400.0)), Verdict::Allowed);
    // Through the metric as it travels: properties, claims, the request rebuilt.
    let r = speed(1500.0);
    let m = r.to_metric(Some(3), &key(1));
    let c = claims(m.properties.as_ref()).expect("claims");
    let rebuilt = c.request("Plant", "Gw1", Some("plc1"), "SPEED", DataType::Double, SpValue::Double(1500.0));
    let v = check_write(
        &consoles(),
        &mut Replay::new(REPLAY_WINDOW),
        &rebuilt,
        &c.signature,
        &tag("SPEED"),
        Some(1400.0),
        NOW,
    );
    assert!(v.is_allowed() && v.reason().is_none());
    assert_eq!(tag_value(&tag("SPEED"), DataType::Double, &SpValue::Double(1500.0)), Ok(Value::Float(1500.0)));
}

#[test]
fn refused_unsigned_without_a_signature() {
    let r = speed(1500.0);
    let v = check_write(&consoles(), &mut Replay::new(REPLAY_WINDOW), &r, &[], &tag("SPEED"), Some(1400.0), NOW);
    assert!(refused(v).starts_with("unsigned: it has no signature; a command must carry"));
}

#[test]
fn refused_unsigned_with_partial_properties() {
    let mut props = speed(1500.0).to_metric(None, &key(1)).properties.expect("props");
    props.keys.truncate(2);
    props.values.truncate(2);
    let why = claims(Some(&props)).expect_err("partial");
    assert_eq!(
        refused(unsigned(&why)),
        "unsigned: property `time` is missing; a command must carry user, role, host, request_id, time and a \
         signature from a console listed in the gateway's consoles file"
    );
    assert!(refused(unsigned(&claims(None).expect_err("none"))).starts_with("unsigned: the metric has no properties"));
}

#[test]
fn refused_unknown_console() {
    let r = WriteRequest { host: "laptop-9".into(), ..speed(1500.0) };
    let why = refused(verdict_by(&r, &key(9), "SPEED", Some(1400.0)));
    assert!(why.starts_with("unknown console `laptop-9`: it is not in this gateway's consoles file"), "{why}");
    // Even signed with a listed console's key: the host names the key.
    assert!(refused(verdict_by(&r, &key(1), "SPEED", Some(1400.0))).starts_with("unknown console"));
}

#[test]
fn refused_bad_signature_from_another_key() {
    let why = refused(verdict_by(&speed(1500.0), &key(2), "SPEED", Some(1400.0)));
    assert!(why.starts_with(
        "bad signature: the command is not signed by the key the consoles file lists for `control-room-1`"
    ));
}

#[test]
fn refused_bad_signature_when_the_value_was_changed_after_signing() {
    let signed = speed(1500.0);
    let sig = signed.sign(&key(1)).to_bytes();
    let altered = speed(2900.0);
    let mut replay = Replay::new(REPLAY_WINDOW);
    let v = check_write(&consoles(), &mut replay, &altered, &sig, &tag("SPEED"), Some(2800.0), NOW);
    assert!(refused(v).starts_with("bad signature"));
    // A forged command is not remembered: the real one with that id still goes through.
    assert!(replay.is_empty());
    let v = check_write(&consoles(), &mut replay, &signed, &sig, &tag("SPEED"), Some(1400.0), NOW);
    assert_eq!(v, Verdict::Allowed);
}

#[test]
fn refused_replayed_request_id() {
    let r = speed(1500.0);
    let sig = r.sign(&key(1)).to_bytes();
    let mut replay = Replay::new(REPLAY_WINDOW);
    let (c, t) = (consoles(), tag("SPEED"));
    assert_eq!(check_write(&c, &mut replay, &r, &sig, &t, Some(1400.0), NOW), Verdict::Allowed);
    let why = refused(check_write(&c, &mut replay, &r, &sig, &t, Some(1400.0), NOW + 2000));
    assert_eq!(why, "replayed: request id `control-room-1/r-1` was used before: a replayed command");
    // The same id from another console is another request.
    let other = WriteRequest { host: "eng-1".into(), ..r.clone() };
    let sig2 = other.sign(&key(2)).to_bytes();
    assert_eq!(check_write(&c, &mut replay, &other, &sig2, &t, Some(1400.0), NOW), Verdict::Allowed);
}

#[test]
fn refused_replayed_time_outside_30_s() {
    let r = WriteRequest { time_ms: NOW - 30_001, ..speed(1500.0) };
    let why = refused(verdict(&r, "SPEED", Some(1400.0)));
    assert!(why.starts_with("replayed: its time is 30.001 s behind this gateway's clock"), "{why}");
    let r = WriteRequest { time_ms: NOW + 60_000, ..speed(1500.0) };
    assert!(refused(verdict(&r, "SPEED", Some(1400.0))).contains("ahead of this gateway's clock"));
}

#[test]
fn refused_role_above_the_consoles_max_role() {
    let r = WriteRequest { role: "engineer".into(), ..speed(1500.0) };
    assert_eq!(
        refused(verdict(&r, "SPEED", Some(1400.0))),
        "role `engineer` is above what console `control-room-1` may claim (at most `operator`, says the consoles file)"
    );
    let admin = WriteRequest { host: "eng-1".into(), role: "admin".into(), ..speed(1500.0) };
    assert!(refused(verdict(&admin, "SPEED", Some(1400.0))).contains("at most `engineer`"));
}

#[test]
fn refused_role_that_is_not_a_role() {
    for role in ["boss", "Operator", "root\u{1b}[2J"] {
        let r = WriteRequest { role: role.into(), ..speed(1500.0) };
        let why = refused(verdict(&r, "SPEED", Some(1400.0)));
        assert!(
            why.starts_with("unknown role `") && why.contains("allowed roles: viewer, operator, engineer, admin"),
            "{why}"
        );
        assert!(!why.contains('\u{1b}'), "{why:?}");
    }
}

#[test]
fn refused_role_below_the_tags_write_role() {
    let r = req("TRIM", DataType::Int16, SpValue::Int(10));
    assert_eq!(
        refused(verdict(&r, "TRIM", Some(0.0))),
        "role `operator` may not write `TRIM` (it needs `engineer` or above)"
    );
}

#[test]
fn refused_viewer_whatever_the_tag_says() {
    let r = WriteRequest { role: "viewer".into(), ..speed(1500.0) };
    assert_eq!(refused(verdict(&r, "SPEED", Some(1400.0))), "role `viewer` never writes");
}

#[test]
fn refused_tag_without_a_write_block() {
    let r = req("LEVEL", DataType::Float, SpValue::Float(1.0));
    assert_eq!(refused(verdict(&r, "LEVEL", Some(0.0))), "`LEVEL` has no write block: it cannot be written");
}

#[test]
fn refused_above_the_tags_max() {
    let why = refused(verdict(&speed(3000.5), "SPEED", Some(2900.0)));
    assert_eq!(why, "out of limits for `SPEED`: 3000.5 is above the maximum 3000");
}

#[test]
fn refused_below_the_tags_min() {
    let why = refused(verdict(&speed(-1.0), "SPEED", Some(0.0)));
    assert_eq!(why, "out of limits for `SPEED`: -1 is below the minimum 0");
}

#[test]
fn refused_a_step_larger_than_max_step() {
    let why = refused(verdict(&speed(2000.0), "SPEED", Some(1400.0)));
    assert_eq!(why, "out of limits for `SPEED`: a change of 600 is more than the largest step 500");
    assert_eq!(verdict(&speed(1900.0), "SPEED", Some(1400.0)), Verdict::Allowed, "exactly max_step is fine");
}

#[test]
fn refused_a_max_step_tag_whose_current_value_is_unknown() {
    let why = refused(verdict(&speed(1500.0), "SPEED", None));
    assert!(why.contains("the current value is unknown, so the step cannot be checked"), "{why}");
}

#[test]
fn refused_a_value_that_is_not_a_number() {
    let nan = refused(verdict(&speed(f64::NAN), "SPEED", Some(1400.0)));
    assert_eq!(nan, "out of limits for `SPEED`: not a finite number");
}

#[test]
fn refused_wrong_value_type_text_for_a_number() {
    let r = req("SPEED", DataType::String, SpValue::Text("1500".into()));
    assert_eq!(
        refused(verdict(&r, "SPEED", Some(1400.0))),
        "wrong value type: `SPEED` holds a number (f32), not a String"
    );
}

#[test]
fn refused_wrong_value_type_number_for_a_boolean() {
    let r = req("RUN", DataType::Int32, SpValue::Int(1));
    assert_eq!(refused(verdict(&r, "RUN", Some(0.0))), "wrong value type: `RUN` holds a boolean, not a Int32");
}

#[test]
fn refused_wrong_value_type_value_not_of_the_named_datatype() {
    let r = req("SPEED", DataType::Int8, SpValue::Int(1000));
    assert_eq!(
        refused(verdict(&r, "SPEED", Some(1400.0))),
        "wrong value type: the value is not a Int8, the datatype the command names"
    );
    let arr = req("SPEED", DataType::DoubleArray, SpValue::DoubleArray(vec![1.0]));
    assert_eq!(refused(verdict(&arr, "SPEED", Some(1.0))), "wrong value type: a DoubleArray is never written to a tag");
}

#[test]
fn unknown_metric_says_which() {
    assert!(refused(unknown_metric("Pump9/Speed")).starts_with("unknown metric `Pump9/Speed`: this gateway publishes"));
    assert!(!refused(unknown_metric("x\u{7}")).contains('\u{7}'));
}

#[test]
fn checks_run_in_order() {
    // Unknown console and a bad signature: the console is named first.
    let r = WriteRequest { host: "nobody".into(), role: "boss".into(), ..speed(99999.0) };
    assert!(refused(verdict_by(&r, &key(7), "LEVEL", None)).starts_with("unknown console"));
    // Bad signature before replay and role.
    let r = WriteRequest { role: "admin".into(), time_ms: 0, ..speed(99999.0) };
    assert!(refused(verdict_by(&r, &key(2), "LEVEL", None)).starts_with("bad signature"));
    // Replay before role.
    assert!(refused(verdict(&r, "LEVEL", None)).starts_with("replayed"));
    // Role above the console's before the tag.
    let r = WriteRequest { role: "admin".into(), ..speed(99999.0) };
    assert!(refused(verdict(&r, "LEVEL", None)).starts_with("role `admin` is above"));
    // No write block before the value.
    let r = req("LEVEL", DataType::String, SpValue::Text("x".into()));
    assert!(refused(verdict(&r, "LEVEL", None)).contains("no write block"));
    // Role before the value and limits.
    let r = req("TRIM", DataType::String, SpValue::Text("x".into()));
    assert!(refused(verdict(&r, "TRIM", None)).contains("needs `engineer`"));
    // Type before limits.
    let r = req("SPEED", DataType::String, SpValue::Text("99999".into()));
    assert!(refused(verdict(&r, "SPEED", None)).starts_with("wrong value type"));
}
