//! Engine tests with an injected clock: no sleeping.

use std::time::{Duration, SystemTime};

use super::AlarmState::*;
use super::*;
use crate::tag::{Quality, Reason, Sample, TagId, Value};

const T: TagId = TagId(0);
const SP: TagId = TagId(1);
const A: AlarmId = AlarmId(0);

fn at(secs: f64) -> SystemTime {
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    if secs < 0.0 { base - Duration::from_secs_f64(-secs) } else { base + Duration::from_secs_f64(secs) }
}

fn f(v: f64, secs: f64) -> Sample {
    Sample::good(Value::Float(v), at(secs))
}

fn hi(limit: f64) -> Rule {
    Rule::new(T, RuleKind::Limit { kind: LimitKind::Hi, limit }, Priority::High, "too hot")
}

/// (from, to) of each transition.
fn moves(ts: &[Transition]) -> Vec<(AlarmState, AlarmState)> {
    ts.iter().map(|t| (t.from, t.to)).collect()
}

fn state(e: &AlarmEngine) -> AlarmState {
    e.alarm(A).unwrap().state()
}

#[test]
fn priorities_are_ordered() {
    assert!(Priority::Critical > Priority::High);
    assert!(Priority::High > Priority::Medium);
    assert!(Priority::Medium > Priority::Low);
}

#[test]
fn normal_unack_acked_normal() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    assert!(e.evaluate(T, &f(50.0, 0.0), at(0.0)).is_empty());
    let t = e.evaluate(T, &f(81.0, 1.0), at(1.0));
    assert_eq!(moves(&t), [(Normal, Unacknowledged)]);
    assert_eq!(t[0].value, Some(Value::Float(81.0)));
    assert_eq!(t[0].recv_ts, Some(at(1.0)));
    assert!(t[0].active && t[0].user.is_none());
    let t = e.acknowledge(A, "ann", at(2.0)).unwrap();
    assert_eq!((t.from, t.to, t.user.as_deref()), (Unacknowledged, Acknowledged, Some("ann")));
    assert_eq!(t.at, at(2.0));
    let t = e.evaluate(T, &f(70.0, 3.0), at(3.0));
    assert_eq!(moves(&t), [(Acknowledged, Normal)]);
    assert!(!t[0].active);
    assert_eq!(e.alarm(A).unwrap().since, Some(at(3.0)));
}

#[test]
fn normal_unack_returned_ack_normal() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    e.evaluate(T, &f(81.0, 0.0), at(0.0));
    let t = e.evaluate(T, &f(70.0, 1.0), at(1.0));
    assert_eq!(moves(&t), [(Unacknowledged, ReturnedUnacknowledged)]);
    let t = e.acknowledge(A, "ann", at(2.0)).unwrap();
    assert_eq!((t.from, t.to), (ReturnedUnacknowledged, Normal));
    assert!(matches!(e.acknowledge(A, "ann", at(3.0)), Err(AlarmError::NothingToAcknowledge { state: Normal, .. })));
}

#[test]
fn returned_then_alarms_again_while_unacked() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    e.evaluate(T, &f(81.0, 0.0), at(0.0));
    e.evaluate(T, &f(70.0, 1.0), at(1.0));
    let t = e.evaluate(T, &f(85.0, 2.0), at(2.0));
    assert_eq!(moves(&t), [(ReturnedUnacknowledged, Unacknowledged)]);
    assert_eq!(t[0].value, Some(Value::Float(85.0)));
}

#[test]
fn acknowledged_alarm_that_clears_and_returns_is_unacknowledged_again() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    e.evaluate(T, &f(81.0, 0.0), at(0.0));
    e.acknowledge(A, "ann", at(1.0)).unwrap();
    assert!(matches!(e.acknowledge(A, "ann", at(1.5)), Err(AlarmError::NothingToAcknowledge { .. })));
    e.evaluate(T, &f(70.0, 2.0), at(2.0));
    let t = e.evaluate(T, &f(90.0, 3.0), at(3.0));
    assert_eq!(moves(&t), [(Normal, Unacknowledged)]);
}

#[test]
fn low_limits_and_exact_limit() {
    let lo =
        Rule::new(T, RuleKind::Limit { kind: LimitKind::LoLo, limit: 10.0 }, Priority::Critical, "low").deadband(2.0);
    let mut e = AlarmEngine::new(vec![lo]);
    assert!(e.evaluate(T, &f(10.0, 0.0), at(0.0)).is_empty(), "at the limit is not beyond it");
    assert_eq!(moves(&e.evaluate(T, &f(9.0, 1.0), at(1.0))), [(Normal, Unacknowledged)]);
    assert!(e.evaluate(T, &f(11.5, 2.0), at(2.0)).is_empty(), "inside the deadband");
    assert_eq!(moves(&e.evaluate(T, &f(12.5, 3.0), at(3.0))), [(Unacknowledged, ReturnedUnacknowledged)]);
}

#[test]
fn chatter_inside_the_deadband_raises_exactly_one_alarm() {
    let mut e = AlarmEngine::new(vec![hi(80.0).deadband(1.0)]);
    let mut all = Vec::new();
    for (i, v) in [79.5, 80.5, 79.2, 80.8, 79.1, 80.2, 79.6, 80.9].into_iter().enumerate() {
        all.extend(e.evaluate(T, &f(v, i as f64), at(i as f64)));
    }
    assert_eq!(moves(&all), [(Normal, Unacknowledged)]);
    assert_eq!(moves(&e.evaluate(T, &f(78.9, 10.0), at(10.0))), [(Unacknowledged, ReturnedUnacknowledged)]);
}

#[test]
fn without_deadband_chatter_raises_every_time() {
    // The control case for the deadband test: the same values without a deadband chatter.
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    let mut all = Vec::new();
    for (i, v) in [79.5, 80.5, 79.2, 80.8].into_iter().enumerate() {
        all.extend(e.evaluate(T, &f(v, i as f64), at(i as f64)));
    }
    assert_eq!(all.len(), 3);
}

#[test]
fn a_spike_shorter_than_on_delay_raises_none() {
    let mut e = AlarmEngine::new(vec![hi(80.0).on_delay(Duration::from_secs(5))]);
    assert!(e.evaluate(T, &f(90.0, 0.0), at(0.0)).is_empty());
    assert!(e.tick(at(4.9)).is_empty());
    assert!(e.evaluate(T, &f(70.0, 4.9), at(4.9)).is_empty());
    assert!(e.tick(at(20.0)).is_empty());
    assert_eq!(state(&e), Normal);
}

#[test]
fn on_delay_raises_once_held_by_tick_or_sample() {
    let mut e = AlarmEngine::new(vec![hi(80.0).on_delay(Duration::from_secs(5))]);
    e.evaluate(T, &f(90.0, 0.0), at(0.0));
    assert!(e.tick(at(4.0)).is_empty());
    let t = e.tick(at(5.0));
    assert_eq!(moves(&t), [(Normal, Unacknowledged)]);
    assert_eq!(t[0].value, Some(Value::Float(90.0)), "the value that held the condition");
    assert_eq!(t[0].at, at(5.0));
    assert!(e.tick(at(6.0)).is_empty(), "raised once");

    let mut e = AlarmEngine::new(vec![hi(80.0).on_delay(Duration::from_secs(5))]);
    e.evaluate(T, &f(90.0, 0.0), at(0.0));
    assert_eq!(moves(&e.evaluate(T, &f(91.0, 6.0), at(6.0))), [(Normal, Unacknowledged)]);
}

#[test]
fn a_dip_restarts_the_on_delay() {
    let mut e = AlarmEngine::new(vec![hi(80.0).on_delay(Duration::from_secs(5))]);
    e.evaluate(T, &f(90.0, 0.0), at(0.0));
    e.evaluate(T, &f(70.0, 3.0), at(3.0));
    e.evaluate(T, &f(90.0, 4.0), at(4.0));
    assert!(e.tick(at(8.0)).is_empty());
    assert_eq!(moves(&e.tick(at(9.0))), [(Normal, Unacknowledged)]);
}

#[test]
fn off_delay_holds_the_alarm() {
    let mut e = AlarmEngine::new(vec![hi(80.0).off_delay(Duration::from_secs(2))]);
    e.evaluate(T, &f(90.0, 0.0), at(0.0));
    assert!(e.evaluate(T, &f(70.0, 1.0), at(1.0)).is_empty());
    assert!(e.tick(at(2.9)).is_empty());
    assert_eq!(state(&e), Unacknowledged);
    // Back over the limit before the off-delay ends: still the same alarm, no new one.
    assert!(e.evaluate(T, &f(90.0, 2.9), at(2.9)).is_empty());
    assert!(e.evaluate(T, &f(70.0, 3.0), at(3.0)).is_empty());
    assert!(e.tick(at(4.9)).is_empty());
    assert_eq!(moves(&e.tick(at(5.0))), [(Unacknowledged, ReturnedUnacknowledged)]);
}

#[test]
fn discrete_bool_and_set() {
    let run = Rule::new(T, RuleKind::Discrete(Discrete::Bool(false)), Priority::Medium, "pump stopped");
    let mode = Rule::new(SP, RuleKind::Discrete(Discrete::AnyOf(vec![3, 4])), Priority::Low, "fault mode");
    let mut e = AlarmEngine::new(vec![run, mode]);
    assert!(e.evaluate(T, &Sample::good(Value::Bool(true), at(0.0)), at(0.0)).is_empty());
    assert_eq!(moves(&e.evaluate(T, &Sample::good(Value::Bool(false), at(1.0)), at(1.0))), [(Normal, Unacknowledged)]);
    assert_eq!(moves(&e.evaluate(T, &Sample::good(Value::Int(1), at(2.0)), at(2.0))).len(), 1);
    assert!(e.evaluate(SP, &Sample::good(Value::Int(2), at(0.0)), at(3.0)).is_empty());
    let t = e.evaluate(SP, &Sample::good(Value::UInt(4), at(0.0)), at(4.0));
    assert_eq!((t[0].alarm, t[0].to), (AlarmId(1), Unacknowledged));
    assert_eq!(e.evaluate(SP, &Sample::good(Value::Float(4.5), at(0.0)), at(5.0))[0].to, ReturnedUnacknowledged);
    // Text is no evidence: the state holds.
    assert!(e.evaluate(SP, &Sample::good(Value::Text("3".into()), at(0.0)), at(6.0)).is_empty());
}

#[test]
fn rate_of_change() {
    let r = Rule::new(T, RuleKind::Rate { per: Duration::from_secs(1), limit: 2.5 }, Priority::Medium, "fast");
    let mut e = AlarmEngine::new(vec![r]);
    assert!(e.evaluate(T, &f(10.0, 0.0), at(0.0)).is_empty(), "one sample has no rate");
    assert!(e.evaluate(T, &f(14.0, 2.0), at(2.0)).is_empty(), "2/s");
    assert_eq!(moves(&e.evaluate(T, &f(17.0, 3.0), at(3.0))), [(Normal, Unacknowledged)]);
    // Same timestamp again: no rate, no change.
    assert!(e.evaluate(T, &f(100.0, 3.0), at(3.0)).is_empty());
    // Falling fast counts too.
    assert!(e.evaluate(T, &f(13.0, 4.0), at(4.0)).is_empty(), "-4/s still active");
    assert_eq!(moves(&e.evaluate(T, &f(13.5, 5.0), at(5.0))), [(Unacknowledged, ReturnedUnacknowledged)]);
}

#[test]
fn rate_uses_source_time_and_survives_time_going_back() {
    let r = Rule::new(T, RuleKind::Rate { per: Duration::from_secs(60), limit: 60.0 }, Priority::Medium, "fast");
    let mut e = AlarmEngine::new(vec![r]);
    let mut s = f(0.0, 0.0);
    s.source_ts = Some(at(100.0));
    e.evaluate(T, &s, at(0.0));
    let mut s = f(0.5, 0.1);
    s.source_ts = Some(at(101.0)); // 0.5 per s = 30 per min, though received 0.1 s later
    assert!(e.evaluate(T, &s, at(0.1)).is_empty());
    let mut s = f(50.0, 0.2);
    s.source_ts = Some(at(50.0)); // device clock went back: new base, no rate
    assert!(e.evaluate(T, &s, at(0.2)).is_empty());
    let mut s = f(53.0, 0.3);
    s.source_ts = Some(at(51.0)); // 3 per s = 180 per min
    assert_eq!(moves(&e.evaluate(T, &s, at(0.3))), [(Normal, Unacknowledged)]);
}

#[test]
fn deviation_from_another_tag() {
    let d = Rule::new(T, RuleKind::Deviation { from: SP, limit: 5.0 }, Priority::Low, "off setpoint").deadband(1.0);
    let mut e = AlarmEngine::new(vec![d]);
    assert!(e.evaluate(T, &f(20.0, 0.0), at(0.0)).is_empty(), "no setpoint known yet");
    assert!(e.evaluate(SP, &f(16.0, 1.0), at(1.0)).is_empty());
    // The setpoint moves away: the update of the other tag raises it, with this tag's value.
    let t = e.evaluate(SP, &f(10.0, 2.0), at(2.0));
    assert_eq!(moves(&t), [(Normal, Unacknowledged)]);
    assert_eq!(t[0].value, Some(Value::Float(20.0)));
    assert!(e.evaluate(T, &f(14.5, 3.0), at(3.0)).is_empty(), "4.5 is inside the deadband");
    assert_eq!(moves(&e.evaluate(T, &f(13.9, 4.0), at(4.0))), [(Unacknowledged, ReturnedUnacknowledged)]);
    // Below works as well as above.
    assert_eq!(moves(&e.evaluate(T, &f(4.0, 5.0), at(5.0))), [(ReturnedUnacknowledged, Unacknowledged)]);
    // A Bad setpoint is no evidence.
    assert!(e.evaluate(SP, &Sample::bad(Reason::Timeout, at(6.0)), at(6.0)).is_empty());
}

#[test]
fn bad_quality_of_a_tag_or_a_connection() {
    let c = Rule::new(T, RuleKind::BadQuality { also: vec![SP] }, Priority::High, "plc1 comms");
    let mut e = AlarmEngine::new(vec![c]);
    assert!(e.evaluate(T, &f(1.0, 0.0), at(0.0)).is_empty());
    let mut u = f(1.0, 1.0);
    u.quality = Quality::Uncertain(Reason::Stale);
    assert!(e.evaluate(SP, &u, at(1.0)).is_empty(), "uncertain is not bad");
    let t = e.evaluate(SP, &Sample::bad(Reason::NotConnected, at(2.0)), at(2.0));
    assert_eq!(moves(&t), [(Normal, Unacknowledged)]);
    assert!(e.evaluate(T, &Sample::bad(Reason::NotConnected, at(3.0)), at(3.0)).is_empty());
    assert!(e.evaluate(SP, &f(2.0, 4.0), at(4.0)).is_empty(), "T is still bad");
    assert_eq!(moves(&e.evaluate(T, &f(2.0, 5.0), at(5.0))), [(Unacknowledged, ReturnedUnacknowledged)]);
}

#[test]
fn nan_text_and_bad_samples_neither_raise_nor_clear_a_limit() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    for (i, s) in [
        f(f64::NAN, 0.0),
        f(f64::INFINITY, 0.0),
        Sample::good(Value::Text("hot".into()), at(0.0)),
        Sample::bad(Reason::Timeout, at(0.0)),
        Sample { value: Some(Value::Float(99.0)), ..Sample::bad(Reason::Stale, at(0.0)) },
    ]
    .iter()
    .enumerate()
    {
        assert!(e.evaluate(T, s, at(i as f64)).is_empty(), "sample {i} raised");
    }
    e.evaluate(T, &f(90.0, 10.0), at(10.0));
    assert!(e.evaluate(T, &Sample::bad(Reason::Timeout, at(11.0)), at(11.0)).is_empty());
    // The last value stays on record when a Bad sample has none.
    assert_eq!(e.alarm(A).unwrap().value, Some(Value::Float(90.0)));
    assert!(e.evaluate(T, &f(f64::NAN, 12.0), at(12.0)).is_empty());
    assert_eq!(state(&e), Unacknowledged);
    // A value its source says is stale (a Sparkplug node that died) neither clears nor raises.
    let mut stale = f(70.0, 13.0);
    stale.quality = Quality::Uncertain(Reason::Stale);
    assert!(e.evaluate(T, &stale, at(13.0)).is_empty(), "a stale value cleared the alarm");
    assert_eq!(state(&e), Unacknowledged);
    // Other uncertain values are still values.
    let mut u = f(70.0, 14.0);
    u.quality = Quality::Uncertain(Reason::Other("sensor not calibrated".into()));
    assert_eq!(moves(&e.evaluate(T, &u, at(14.0))), [(Unacknowledged, ReturnedUnacknowledged)]);
}

#[test]
fn timed_shelve_expires_and_re_annunciates_an_active_alarm() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    e.evaluate(T, &f(90.0, 0.0), at(0.0));
    e.acknowledge(A, "ann", at(1.0)).unwrap();
    let t = e.shelve(A, Shelve::For(Duration::from_secs(60)), "sensor work", "bob", at(2.0)).unwrap();
    assert_eq!(
        (t.from, t.to, t.user.as_deref(), t.comment.as_deref()),
        (Acknowledged, Shelved, Some("bob"), Some("sensor work"))
    );
    // Still evaluated while shelved: the changes are recorded, the display stays Shelved.
    let t = e.evaluate(T, &f(70.0, 3.0), at(3.0));
    assert_eq!((t[0].from, t[0].to, t[0].active), (Shelved, Shelved, false));
    let t = e.evaluate(T, &f(95.0, 4.0), at(4.0));
    assert_eq!((t[0].from, t[0].to, t[0].active), (Shelved, Shelved, true));
    assert!(e.acknowledge(A, "ann", at(5.0)).is_err(), "a shelved alarm is not annunciated");
    assert!(e.tick(at(61.9)).is_empty());
    let t = e.tick(at(62.0));
    assert_eq!((t[0].from, t[0].to, t[0].comment.as_deref()), (Shelved, Unacknowledged, Some("shelve expired")));
    assert!(e.alarm(A).unwrap().shelved.is_none());
}

#[test]
fn shelve_expiry_of_an_inactive_alarm_returns_to_normal() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    e.evaluate(T, &f(90.0, 0.0), at(0.0));
    e.evaluate(T, &f(70.0, 1.0), at(1.0));
    e.shelve(A, Shelve::For(Duration::from_secs(10)), "noise", "bob", at(2.0)).unwrap();
    assert_eq!(moves(&e.tick(at(12.0))), [(Shelved, Normal)]);
}

#[test]
fn shelve_needs_a_reason_and_respects_the_maximum() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]).with_max_shelve(Duration::from_secs(3600));
    assert_eq!(e.shelve(A, Shelve::OneShot, "  ", "bob", at(0.0)), Err(AlarmError::ReasonRequired));
    assert!(matches!(
        e.shelve(A, Shelve::For(Duration::from_secs(3601)), "x", "bob", at(0.0)),
        Err(AlarmError::ShelveTooLong { .. })
    ));
    assert_eq!(e.shelve(A, Shelve::For(Duration::ZERO), "x", "bob", at(0.0)), Err(AlarmError::ZeroShelve));
    assert_eq!(e.shelve(AlarmId(7), Shelve::OneShot, "x", "bob", at(0.0)), Err(AlarmError::UnknownAlarm(AlarmId(7))));
    assert_eq!(state(&e), Normal);
    e.shelve(A, Shelve::For(Duration::from_secs(3600)), "x", "bob", at(0.0)).unwrap();
    assert_eq!(e.shelve(A, Shelve::OneShot, "x", "bob", at(1.0)), Err(AlarmError::AlreadyShelved(A)));
    let t = e.unshelve(A, "bob", at(2.0)).unwrap();
    assert_eq!((t.from, t.to), (Shelved, Normal));
    assert_eq!(e.unshelve(A, "bob", at(3.0)), Err(AlarmError::NotShelved(A)));
}

#[test]
fn one_shot_shelve_ends_at_return_to_normal() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    e.evaluate(T, &f(90.0, 0.0), at(0.0));
    e.shelve(A, Shelve::OneShot, "known fault", "bob", at(1.0)).unwrap();
    assert!(e.tick(at(100.0)).is_empty(), "a one-shot shelve has no short timer");
    let t = e.evaluate(T, &f(70.0, 101.0), at(101.0));
    assert_eq!(moves(&t), [(Shelved, Normal)]);
    assert!(!t[0].active);
    assert!(e.alarm(A).unwrap().shelved.is_none());
    // Next time it annunciates again.
    assert_eq!(moves(&e.evaluate(T, &f(90.0, 102.0), at(102.0))), [(Normal, Unacknowledged)]);
}

#[test]
fn one_shot_shelve_still_ends_at_the_maximum() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]).with_max_shelve(Duration::from_secs(60));
    e.evaluate(T, &f(90.0, 0.0), at(0.0));
    e.shelve(A, Shelve::OneShot, "known fault", "bob", at(0.0)).unwrap();
    assert_eq!(moves(&e.tick(at(60.0))), [(Shelved, Unacknowledged)]);
}

#[test]
fn unshelving_an_active_alarm_re_annunciates_it() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    e.shelve(A, Shelve::For(Duration::from_secs(60)), "work", "bob", at(0.0)).unwrap();
    let t = e.evaluate(T, &f(90.0, 1.0), at(1.0));
    assert_eq!(moves(&t), [(Shelved, Shelved)]);
    assert_eq!(moves(&[e.unshelve(A, "bob", at(2.0)).unwrap()]), [(Shelved, Unacknowledged)]);
}

#[test]
fn suppressed_by_design() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    assert_eq!(e.set_suppressed(A, false, at(0.0)), Ok(None), "no change, no record");
    let t = e.set_suppressed(A, true, at(0.0)).unwrap().unwrap();
    assert_eq!((t.from, t.to), (Normal, Suppressed));
    assert_eq!(e.set_suppressed(A, true, at(0.5)), Ok(None));
    let t = e.evaluate(T, &f(90.0, 1.0), at(1.0));
    assert_eq!((t[0].from, t[0].to, t[0].active), (Suppressed, Suppressed, true));
    assert!(!e.flood() && e.alarm(A).unwrap().active);
    let t = e.set_suppressed(A, false, at(2.0)).unwrap().unwrap();
    assert_eq!((t.from, t.to), (Suppressed, Unacknowledged));

    // An alarm that came and went while suppressed leaves nothing to acknowledge.
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    e.set_suppressed(A, true, at(0.0)).unwrap();
    e.evaluate(T, &f(90.0, 1.0), at(1.0));
    e.evaluate(T, &f(70.0, 2.0), at(2.0));
    assert_eq!(e.set_suppressed(A, false, at(3.0)).unwrap().map(|t| t.to), Some(Normal));
}

#[test]
fn out_of_service() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    e.evaluate(T, &f(90.0, 0.0), at(0.0));
    e.shelve(A, Shelve::For(Duration::from_secs(60)), "work", "bob", at(0.5)).unwrap();
    assert_eq!(e.out_of_service(A, "", "eve", at(1.0)), Err(AlarmError::ReasonRequired));
    let t = e.out_of_service(A, "transmitter replaced", "eve", at(1.0)).unwrap();
    assert_eq!((t.from, t.to, t.comment.as_deref()), (Shelved, OutOfService, Some("transmitter replaced")));
    assert!(e.alarm(A).unwrap().shelved.is_none(), "out of service ends the shelve");
    assert_eq!(e.out_of_service(A, "again", "eve", at(1.5)), Err(AlarmError::OutOfService(A)));
    assert_eq!(e.shelve(A, Shelve::OneShot, "x", "eve", at(1.5)), Err(AlarmError::OutOfService(A)));
    assert!(e.acknowledge(A, "eve", at(1.5)).is_err());
    let t = e.evaluate(T, &f(70.0, 2.0), at(2.0));
    assert_eq!((t[0].from, t[0].to, t[0].active), (OutOfService, OutOfService, false));
    assert!(e.tick(at(1000.0)).is_empty());
    let t = e.return_to_service(A, "eve", at(1001.0)).unwrap();
    assert_eq!((t.from, t.to, t.user.as_deref()), (OutOfService, Normal, Some("eve")));
    assert_eq!(e.return_to_service(A, "eve", at(1002.0)), Err(AlarmError::NotOutOfService(A)));

    // Still active when it comes back: annunciated.
    e.out_of_service(A, "check", "eve", at(1003.0)).unwrap();
    e.evaluate(T, &f(90.0, 1004.0), at(1004.0));
    assert_eq!(e.return_to_service(A, "eve", at(1005.0)).unwrap().to, Unacknowledged);
}

#[test]
fn precedence_of_out_of_service_shelved_suppressed() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    e.set_suppressed(A, true, at(0.0)).unwrap();
    assert_eq!(e.shelve(A, Shelve::For(Duration::from_secs(5)), "x", "bob", at(1.0)).unwrap().to, Shelved);
    assert_eq!(moves(&e.tick(at(6.0))), [(Shelved, Suppressed)]);
    assert_eq!(e.out_of_service(A, "x", "bob", at(7.0)).unwrap().to, OutOfService);
    assert_eq!(e.set_suppressed(A, false, at(8.0)), Ok(None), "out of service still shows");
    assert_eq!(e.return_to_service(A, "bob", at(9.0)).unwrap().to, Normal);
}

fn many(n: usize) -> AlarmEngine {
    AlarmEngine::new(
        (0..n)
            .map(|i| Rule::new(TagId(i as u32), RuleKind::Discrete(Discrete::Bool(true)), Priority::Low, "x"))
            .collect(),
    )
}

#[test]
fn flood_after_more_than_ten_new_alarms_in_ten_minutes() {
    let mut e = many(11);
    for i in 0..10 {
        let s = i as f64 * 59.0;
        assert_eq!(e.evaluate(TagId(i), &Sample::good(Value::Bool(true), at(s)), at(s)).len(), 1);
    }
    assert!(!e.flood(), "ten is not more than ten");
    e.evaluate(TagId(10), &Sample::good(Value::Bool(true), at(599.0)), at(599.0));
    assert!(e.flood());
    // The flood ends when the window moves past the first alarms.
    e.tick(at(600.5));
    assert!(!e.flood());
}

#[test]
fn eleven_alarms_over_eleven_minutes_are_no_flood() {
    let mut e = many(11);
    for i in 0..11 {
        let s = i as f64 * 66.0; // the last is 11 minutes after the first
        e.evaluate(TagId(i), &Sample::good(Value::Bool(true), at(s)), at(s));
        assert!(!e.flood(), "after alarm {i}");
    }
}

#[test]
fn re_annunciations_count_towards_a_flood() {
    let mut e = many(1);
    for i in 0..11 {
        let s = i as f64;
        e.evaluate(TagId(0), &Sample::good(Value::Bool(i % 2 == 0), at(s)), at(s));
    }
    // 6 activations (0, 2, .., 10) only.
    assert!(!e.flood());
    for i in 11..22 {
        let s = i as f64;
        e.evaluate(TagId(0), &Sample::good(Value::Bool(i % 2 == 0), at(s)), at(s));
    }
    assert!(e.flood());
}

#[test]
fn a_clock_jumping_backwards_neither_panics_nor_invents() {
    let mut e = AlarmEngine::new(vec![
        hi(80.0).on_delay(Duration::from_secs(5)).off_delay(Duration::from_secs(5)),
        Rule::new(T, RuleKind::Rate { per: Duration::from_secs(1), limit: 1.0 }, Priority::Low, "rate"),
    ]);
    e.evaluate(T, &f(90.0, 100.0), at(100.0));
    // Back an hour: the delay starts again from the new time rather than completing.
    assert!(e.tick(at(-3500.0)).is_empty());
    // The rate rule takes the earlier sample as a new base rather than a negative time step.
    assert!(e.evaluate(T, &f(90.0, -3500.0), at(-3500.0)).is_empty());
    assert!(e.tick(at(-3496.0)).is_empty());
    assert_eq!(moves(&e.tick(at(-3495.0))), [(Normal, Unacknowledged)]);
    assert_eq!(e.alarm(AlarmId(1)).unwrap().state(), Normal);
    // Shelve expiry does not fire in the past.
    e.shelve(A, Shelve::For(Duration::from_secs(60)), "x", "bob", at(-3490.0)).unwrap();
    assert!(e.tick(at(-5000.0)).is_empty());
    assert_eq!(e.tick(at(-3430.0)).len(), 1);
    // Before the epoch and far in the future: no panic, records serialise.
    let t = e.evaluate(T, &f(10.0, 0.0), SystemTime::UNIX_EPOCH - Duration::from_secs(10));
    let _ = e.tick(SystemTime::UNIX_EPOCH + Duration::from_secs(u32::MAX as u64 * 100));
    for t in t {
        serde_json::to_string(&t).unwrap();
    }
}

#[test]
fn operations_on_unknown_alarms_are_errors() {
    let mut e = AlarmEngine::new(vec![]);
    let x = AlarmId(3);
    assert_eq!(e.acknowledge(x, "a", at(0.0)), Err(AlarmError::UnknownAlarm(x)));
    assert_eq!(e.unshelve(x, "a", at(0.0)), Err(AlarmError::UnknownAlarm(x)));
    assert_eq!(e.set_suppressed(x, true, at(0.0)), Err(AlarmError::UnknownAlarm(x)));
    assert_eq!(e.out_of_service(x, "r", "a", at(0.0)), Err(AlarmError::UnknownAlarm(x)));
    assert_eq!(e.return_to_service(x, "a", at(0.0)), Err(AlarmError::UnknownAlarm(x)));
    assert!(e.evaluate(T, &f(1.0, 0.0), at(0.0)).is_empty());
    assert!(e.tick(at(0.0)).is_empty());
}

#[test]
fn acknowledge_all_skips_what_needs_none() {
    let mut e = many(3);
    e.evaluate(TagId(0), &Sample::good(Value::Bool(true), at(0.0)), at(0.0));
    e.evaluate(TagId(2), &Sample::good(Value::Bool(true), at(0.0)), at(0.0));
    e.evaluate(TagId(2), &Sample::good(Value::Bool(false), at(1.0)), at(1.0));
    let t = e.acknowledge_all(&[AlarmId(0), AlarmId(1), AlarmId(2), AlarmId(9)], "ann", at(2.0));
    assert_eq!(moves(&t), [(Unacknowledged, Acknowledged), (ReturnedUnacknowledged, Normal)]);
    assert!(t.iter().all(|t| t.user.as_deref() == Some("ann")));
}

#[test]
fn several_rules_on_one_tag_report_in_rule_order() {
    let hihi = Rule::new(T, RuleKind::Limit { kind: LimitKind::HiHi, limit: 95.0 }, Priority::Critical, "very hot");
    let mut e = AlarmEngine::new(vec![hi(80.0), hihi]);
    let t = e.evaluate(T, &f(99.0, 0.0), at(0.0));
    assert_eq!(t.iter().map(|t| t.alarm).collect::<Vec<_>>(), [AlarmId(0), AlarmId(1)]);
    let t = e.evaluate(T, &f(90.0, 1.0), at(1.0));
    assert_eq!((t.len(), t[0].alarm, t[0].to), (1, AlarmId(1), ReturnedUnacknowledged));
}

#[test]
fn transitions_serialise_for_the_journal() {
    let mut e = AlarmEngine::new(vec![hi(80.0)]);
    let t = e.evaluate(T, &f(81.5, 0.0), SystemTime::UNIX_EPOCH + Duration::from_millis(1_500)).remove(0);
    let j = serde_json::to_value(&t).unwrap();
    assert_eq!(j["alarm"], 0);
    assert_eq!(j["from"], "normal");
    assert_eq!(j["to"], "unacknowledged");
    assert_eq!(j["value"], 81.5);
    assert_eq!(j["at"], "1970-01-01T00:00:01.5Z");
    assert_eq!(j["source_ts"], serde_json::Value::Null);
    assert_eq!(j["user"], serde_json::Value::Null);
}

#[test]
fn suppress_when_another_tag_matches_and_bad_quality_does_not_suppress() {
    const MAINT: TagId = TagId(2);
    let r = hi(80.0).suppress_when(MAINT, Discrete::Bool(true));
    let mut e = AlarmEngine::new(vec![r]);
    let on = |v: bool, s: f64| Sample::good(Value::Bool(v), at(s));
    let t = e.evaluate(MAINT, &on(true, 0.0), at(0.0));
    assert_eq!(moves(&t), [(Normal, Suppressed)]);
    assert_eq!(t[0].comment.as_deref(), Some("suppressed by design"));
    let t = e.evaluate(T, &f(90.0, 1.0), at(1.0));
    assert_eq!((t[0].from, t[0].to, t[0].active), (Suppressed, Suppressed, true));
    assert!(e.evaluate(MAINT, &on(true, 2.0), at(2.0)).is_empty(), "no change, no record");
    // The maintenance flag goes Bad: when in doubt, annunciate.
    let bad = Sample::bad(Reason::Timeout, at(3.0));
    assert_eq!(moves(&e.evaluate(MAINT, &bad, at(3.0))), [(Suppressed, Unacknowledged)]);
    assert_eq!(moves(&e.evaluate(MAINT, &on(true, 4.0), at(4.0))), [(Unacknowledged, Suppressed)]);
    assert_eq!(moves(&e.evaluate(MAINT, &on(false, 5.0), at(5.0))), [(Suppressed, Unacknowledged)]);
}

#[test]
fn rules_without_a_key_get_one_and_records_carry_it() {
    let mut e = AlarmEngine::new(vec![hi(80.0), hi(90.0).key("T_102.hihi")]);
    assert_eq!(e.alarm(A).unwrap().rule.key, "alarm0");
    let t = e.evaluate(T, &f(95.0, 0.0), at(0.0));
    assert_eq!(t.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(), ["alarm0", "T_102.hihi"]);
    assert!(t.iter().all(|t| t.priority == Priority::High && !t.acked));
}

/// The state of every alarm (not its latest value: a record holds the value that caused it, and
/// the next sample brings the current one).
type Snapshot = (AlarmState, bool, bool, bool, Option<ShelveState>, Option<Note>);

fn snapshot(e: &AlarmEngine) -> Vec<Snapshot> {
    e.alarms()
        .iter()
        .map(|a| (a.state(), a.active, a.acked, a.suppressed, a.shelved.clone(), a.out_of_service.clone()))
        .collect()
}

#[test]
fn replaying_the_journal_gives_the_same_states() {
    const MAINT: TagId = TagId(2);
    let rules = || {
        vec![
            hi(80.0).key("T.hi"),
            Rule::new(T, RuleKind::Limit { kind: LimitKind::HiHi, limit: 95.0 }, Priority::Critical, "very hot")
                .key("T.hihi"),
            Rule::new(SP, RuleKind::Discrete(Discrete::Bool(false)), Priority::Medium, "stopped").key("SP.discrete"),
            Rule::new(SP, RuleKind::BadQuality { also: vec![] }, Priority::High, "comms").key("SP.bad"),
            hi(50.0).key("T.hi2").suppress_when(MAINT, Discrete::Bool(true)),
            hi(10.0).key("T.oos"),
        ]
    };
    let mut e = AlarmEngine::new(rules());
    let mut journal: Vec<Transition> = Vec::new();
    journal.extend(e.evaluate(MAINT, &Sample::good(Value::Bool(true), at(0.0)), at(0.0)));
    journal.extend(e.evaluate(T, &f(97.0, 1.0), at(1.0)));
    journal.extend(e.evaluate(SP, &Sample::good(Value::Bool(false), at(1.0)), at(1.0)));
    journal.push(e.acknowledge(AlarmId(1), "ann", at(2.0)).unwrap());
    journal.extend(e.evaluate(T, &f(85.0, 3.0), at(3.0)));
    journal.push(e.shelve(AlarmId(2), Shelve::For(Duration::from_secs(600)), "pump out", "bob", at(4.0)).unwrap());
    journal.push(e.out_of_service(AlarmId(5), "transmitter replaced", "eve", at(5.0)).unwrap());
    journal.extend(e.evaluate(SP, &Sample::bad(Reason::Timeout, at(6.0)), at(6.0)));
    journal.extend(e.tick(at(7.0)));

    // Through JSON, as the journal file holds them.
    let text: Vec<String> = journal.iter().map(|t| serde_json::to_string(t).unwrap()).collect();
    let back: Vec<Transition> = text.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(back, journal, "records survive JSON unchanged");

    let mut r = AlarmEngine::new(rules());
    // The shelve and the out of service are on record (the audit log), a moment before they
    // took effect.
    let on_record = [
        OnRecord { key: "SP.discrete".into(), act: HidingAct::Shelve, user: "bob".into(), at: at(3.9) },
        OnRecord { key: "T.oos".into(), act: HidingAct::OutOfService, user: "eve".into(), at: at(4.95) },
    ];
    let report = r.restore(&back, &on_record);
    assert_eq!(report, Restored { alarms: 6, unknown: vec![], ignored: vec![] });
    assert_eq!(snapshot(&r), snapshot(&e));
    assert_eq!(r.alarm(AlarmId(0)).unwrap().state(), Unacknowledged, "stays unacknowledged across a restart");

    // Restored alarms behave as the originals: the same inputs give the same transitions.
    let (mut a, mut b) = (e.clone(), r.clone());
    for (i, v) in [70.0, 99.0, 40.0].into_iter().enumerate() {
        let s = at(10.0 + i as f64);
        let strip = |ts: Vec<Transition>| ts.into_iter().map(|t| (t.key, t.from, t.to)).collect::<Vec<_>>();
        assert_eq!(strip(b.evaluate(T, &f(v, 10.0), s)), strip(a.evaluate(T, &f(v, 10.0), s)));
        assert_eq!(strip(b.tick(s)), strip(a.tick(s)));
    }
    // Without evidence nothing changes: a restored active alarm does not clear by itself.
    let mut quiet = r.clone();
    assert!(
        quiet.tick(at(100.0)).iter().all(|t| t.key == "SP.discrete" && t.comment.as_deref() == Some("shelve expired"))
    );
    assert!(quiet.alarm(AlarmId(0)).unwrap().active);
}

#[test]
fn restore_reports_records_of_removed_alarms_and_keeps_the_rest() {
    let mut e = AlarmEngine::new(vec![hi(80.0).key("T.hi")]);
    let mut t = e.evaluate(T, &f(90.0, 0.0), at(0.0));
    let mut gone = t[0].clone();
    gone.key = "OLD.lo".into();
    t.push(gone.clone());
    t.push(gone);
    let mut r = AlarmEngine::new(vec![hi(80.0).key("T.hi")]);
    assert_eq!(r.restore(&t, &[]), Restored { alarms: 1, unknown: vec!["OLD.lo".into()], ignored: vec![] });
    assert_eq!(r.alarm(A).unwrap().state(), Unacknowledged);
}

/// Issue 12 C.17: one line appended by hand to the journal hid a HIGH alarm.
#[test]
fn a_forged_journal_line_never_hides_an_alarm() {
    let rules = || vec![hi(80.0).key("T.hi"), hi(50.0).key("T.hi2")];
    let mut e = AlarmEngine::new(rules());
    let mut journal = e.evaluate(T, &f(90.0, 0.0), at(0.0));
    assert_eq!(journal.len(), 2);
    // Forgeries: "to": "out_of_service", a shelve until 2099, a suppression.
    let mut oos = journal[0].clone();
    oos.to = OutOfService;
    oos.out_of_service = Some(Note { user: "mallory".into(), reason: "x".into(), at: at(1.0) });
    let mut shelve = journal[1].clone();
    shelve.to = Shelved;
    let until = SystemTime::UNIX_EPOCH + Duration::from_secs(4_102_444_800); // 2100-01-01
    shelve.shelved = Some(ShelveState {
        kind: Shelve::For(Duration::from_secs(1)),
        until,
        note: Note { user: "mallory".into(), reason: "x".into(), at: at(1.0) },
    });
    let mut suppressed = journal[1].clone();
    suppressed.suppressed = true;
    suppressed.to = Suppressed;
    for forged in [vec![oos.clone()], vec![shelve.clone()], vec![suppressed]] {
        let mut lines = journal.clone();
        lines.extend(forged.clone());
        let mut r = AlarmEngine::new(rules());
        let report = r.restore(&lines, &[]);
        assert_eq!(report.ignored.len(), 1, "{forged:?}: {report:?}");
        assert!(r.alarms().iter().all(|a| a.state() == Unacknowledged), "annunciated again: {forged:?}");
    }
    // A record by another user, or long before, is no evidence either.
    let wrong = [
        OnRecord { key: "T.hi".into(), act: HidingAct::OutOfService, user: "ann".into(), at: at(1.0) },
        OnRecord { key: "T.hi".into(), act: HidingAct::OutOfService, user: "mallory".into(), at: at(1.0 - 3600.0) },
        OnRecord { key: "T.hi".into(), act: HidingAct::Shelve, user: "mallory".into(), at: at(1.0) },
        OnRecord { key: "T.hi2".into(), act: HidingAct::OutOfService, user: "mallory".into(), at: at(1.0) },
    ];
    journal.push(oos);
    let mut r = AlarmEngine::new(rules());
    assert_eq!(r.restore(&journal, &wrong).ignored.len(), 1);
    assert_eq!(r.alarms()[0].state(), Unacknowledged);
    // On record: believed.
    let right = [OnRecord { key: "T.hi".into(), act: HidingAct::OutOfService, user: "mallory".into(), at: at(0.5) }];
    let mut r = AlarmEngine::new(rules());
    assert_eq!(r.restore(&journal, &right).ignored, Vec::<String>::new());
    assert_eq!(r.alarms()[0].state(), OutOfService);
}

#[test]
fn a_restored_shelve_ends_no_later_than_the_maximum_after_it_was_put_on_record() {
    let mut e = AlarmEngine::new(vec![hi(80.0).key("T.hi")]).with_max_shelve(Duration::from_secs(8 * 3600));
    let mut journal = e.evaluate(T, &f(90.0, 0.0), at(0.0));
    let mut shelve = journal[0].clone();
    shelve.to = Shelved;
    let note = Note { user: "bob".into(), reason: "pump out".into(), at: at(10.0) };
    let year_2100 = SystemTime::UNIX_EPOCH + Duration::from_secs(4_102_444_800);
    shelve.shelved = Some(ShelveState { kind: Shelve::For(Duration::from_secs(600)), until: year_2100, note });
    journal.push(shelve);
    let on_record = [OnRecord { key: "T.hi".into(), act: HidingAct::Shelve, user: "bob".into(), at: at(9.9) }];
    let mut r = AlarmEngine::new(vec![hi(80.0).key("T.hi")]).with_max_shelve(Duration::from_secs(8 * 3600));
    assert!(r.restore(&journal, &on_record).ignored.is_empty());
    let a = &r.alarms()[0];
    assert_eq!(a.state(), Shelved);
    assert_eq!(a.shelved.as_ref().map(|s| s.until), Some(at(9.9) + Duration::from_secs(8 * 3600)), "clamped");
}
