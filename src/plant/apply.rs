//! `apply`: the only place plant state changes. Pure: no I/O, no clock; time comes in as `now`.

use std::time::SystemTime;

use super::command::{AlarmAction, SessionId};
use super::{Plant, shelve_text};
use crate::alarm::Transition;
use crate::driver::{ConnectionState, DriverEvent};
use crate::layout::ConnId;
use crate::tag::TagId;

/// What changes the plant.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    Driver(DriverEvent),
    /// The clock ticked (once a second): alarm delays complete, shelves expire.
    Tick,
    /// An operator's alarm operation, now on record in the audit log.
    OnRecord {
        from: SessionId,
        user: String,
        action: AlarmAction,
    },
    /// The audit log could not be written: no write and no alarm operation any more.
    AuditFailed(String),
    /// The alarm journal cannot be written (its records wait in memory).
    JournalFailed(String),
    /// A PIN of `user` was right or wrong: counted in the lockouts every session of `user` reads.
    Pin {
        user: String,
        ok: bool,
    },
}

/// What `apply` asks the runtime to do, and what it tells the sessions.
#[derive(Clone, Debug, PartialEq)]
pub enum PlantEffect {
    /// Append these alarm transitions to the journal (fsync'd per batch).
    Journal(Vec<Transition>),
    /// Tell the sessions (and any other subscriber).
    Event(PlantEvent),
    /// The lockouts changed: keep this text form of them (see [`crate::auth::Lockouts`]) in
    /// the lockouts file, replacing what it held.
    SaveLockouts(String),
}

/// What subscribers hear. Never coalesced away: alarm transitions and answers are all delivered.
#[derive(Clone, Debug, PartialEq)]
pub enum PlantEvent {
    /// These tags' values or qualities changed as an operator sees them.
    Values(Vec<TagId>),
    /// A connection changed state.
    Connection { conn: ConnId, state: ConnectionState },
    /// Alarms changed state.
    Alarms(Vec<Transition>),
    /// The answer to a session's alarm operation: what was done, or why not.
    AlarmDone { to: SessionId, result: Result<String, String> },
    /// The audit log cannot be written (why).
    AuditBroken(String),
    /// The alarm journal cannot be written (why).
    JournalBroken(String),
    /// A session started or ended (the list is `Plant::sessions`).
    Sessions,
}

pub fn apply(plant: &mut Plant, input: Input, now: SystemTime) -> Vec<PlantEffect> {
    match input {
        Input::Driver(e) => driver_event(plant, e, now),
        Input::Tick => alarms(plant.alarms.tick(now)),
        Input::OnRecord { from, user, action } => on_record(plant, from, &user, action, now),
        Input::AuditFailed(why) => {
            plant.audit_broken = Some(why.clone());
            vec![PlantEffect::Event(PlantEvent::AuditBroken(why))]
        }
        Input::JournalFailed(why) => vec![PlantEffect::Event(PlantEvent::JournalBroken(why))],
        Input::Pin { user, ok } => pin(plant, &user, ok, now),
    }
}

/// A PIN result counted. Nothing is told: every session reads the lockouts from the plant
/// (before a write, and at the next PIN it checks), so all sessions of the user see the same
/// count and lock at once. What changed is saved.
fn pin(plant: &mut Plant, user: &str, ok: bool, now: SystemTime) -> Vec<PlantEffect> {
    let before = plant.lockouts.clone();
    plant.lockouts.record(user, ok, now);
    if plant.lockouts == before {
        return Vec::new();
    }
    vec![PlantEffect::SaveLockouts(plant.lockouts.to_json(now))]
}

/// Transitions the engine produced: journalled, and told.
fn alarms(ts: Vec<Transition>) -> Vec<PlantEffect> {
    if ts.is_empty() {
        return Vec::new();
    }
    vec![PlantEffect::Journal(ts.clone()), PlantEffect::Event(PlantEvent::Alarms(ts))]
}

/// Driver events change what sessions see at once only for values, qualities and connection
/// states. Statistics, raw words and the plan are shown as of the last clock tick, so an idle
/// console draws once a second and no more. New samples go through the alarm engine.
fn driver_event(plant: &mut Plant, e: DriverEvent, now: SystemTime) -> Vec<PlantEffect> {
    match e {
        DriverEvent::Samples { conn, samples, raw } => {
            let mut transitions = Vec::new();
            let mut changed = Vec::new();
            for (id, s) in samples {
                transitions.extend(plant.alarms.evaluate(id, &s, now));
                plant.history.record(id, &s);
                if plant.store.apply(id, s) {
                    changed.push(id);
                }
            }
            if let Some(r) = raw {
                plant.raw.insert((conn, r.unit, r.table, r.start), r.words);
            }
            let mut effects = alarms(transitions);
            if !changed.is_empty() {
                effects.push(PlantEffect::Event(PlantEvent::Values(changed)));
            }
            return effects;
        }
        DriverEvent::Fresh { tags, recv_ts, .. } => {
            // Only a tag that was shown stale changes on screen.
            let mut changed = Vec::new();
            for &id in tags.iter() {
                let Some(before) = plant.store.get(id).map(|s| s.recv_ts) else { continue };
                let stale_after = plant.layout.tag(id).stale_after();
                if now.duration_since(before).is_ok_and(|age| age > stale_after) {
                    changed.push(id);
                }
                plant.store.refresh(id, recv_ts);
            }
            if !changed.is_empty() {
                return vec![PlantEffect::Event(PlantEvent::Values(changed))];
            }
        }
        DriverEvent::State { conn, state } => {
            if let Some(c) = plant.conns.get_mut(conn.index())
                && c.state != state
            {
                c.state = state.clone();
                return vec![PlantEffect::Event(PlantEvent::Connection { conn, state })];
            }
        }
        DriverEvent::Stats { conn, stats } => stats_event(plant, conn, *stats),
        DriverEvent::DataTypes { types, .. } => plant.data_types.extend(types),
        // History only: never the live value, never alarm evaluation.
        DriverEvent::Historical { samples, .. } => {
            for (id, s) in samples {
                plant.history.record_past(id, &s);
            }
        }
        DriverEvent::Diagnostics { conn, diag } => {
            if let Some(c) = plant.conns.get_mut(conn.index()) {
                c.diag = diag;
                // A new read plan (a split block) changes which raw blocks exist.
                plant.raw.retain(|k, _| k.0 != conn);
            }
        }
    }
    Vec::new()
}

fn stats_event(plant: &mut Plant, conn: ConnId, stats: crate::driver::ConnStats) {
    let opcua = plant
        .layout
        .connections
        .get(conn.index())
        .is_some_and(|l| matches!(l.kind, crate::layout::ConnectionKind::OpcUa(_)));
    if let Some(c) = plant.conns.get_mut(conn.index()) {
        let dt = stats.elapsed.saturating_sub(c.stats.elapsed).as_secs_f64();
        if dt > 0.0 {
            // Modbus: scans per second; OPC UA (no scans): value changes per second.
            let (now, before) = if opcua { (stats.requests, c.stats.requests) } else { (stats.scans, c.stats.scans) };
            c.scan_rate = now.saturating_sub(before) as f64 / dt;
        }
        c.stats = stats;
    }
}

/// An alarm operation whose audit records are on disk: applied, journalled, answered.
fn on_record(plant: &mut Plant, from: SessionId, user: &str, action: AlarmAction, now: SystemTime) -> Vec<PlantEffect> {
    let e = &mut plant.alarms;
    let (result, done) = match action {
        AlarmAction::Acknowledge(ids) => {
            let ts = e.acknowledge_all(&ids, user, now);
            let n = ts.len();
            (Ok(ts), format!("{n} alarm{} acknowledged", if n == 1 { "" } else { "s" }))
        }
        AlarmAction::Shelve { id, how, reason } => {
            (e.shelve(id, how, &reason, user, now).map(|t| vec![t]), format!("shelved {}", shelve_text(how)))
        }
        AlarmAction::Unshelve(id) => (e.unshelve(id, user, now).map(|t| vec![t]), "unshelved".into()),
        AlarmAction::OutOfService { id, reason } => {
            (e.out_of_service(id, &reason, user, now).map(|t| vec![t]), "taken out of service".into())
        }
        AlarmAction::ReturnToService(id) => {
            (e.return_to_service(id, user, now).map(|t| vec![t]), "returned to service".into())
        }
    };
    match result {
        Ok(ts) => {
            let what = match ts.as_slice() {
                [t] => format!("{}: {done}", t.key),
                _ => done,
            };
            let mut effects = alarms(ts);
            effects.push(PlantEffect::Event(PlantEvent::AlarmDone { to: from, result: Ok(what) }));
            effects
        }
        Err(e) => vec![PlantEffect::Event(PlantEvent::AlarmDone { to: from, result: Err(e.to_string()) })],
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::auth::{Lockouts, MAX_PIN_FAILURES};

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn plant() -> Plant {
        let src =
            "connections:\n  c1: { modbus_tcp: { host: h } }\ntags:\n  SP: { source: c1, holding: 0, type: f32 }\n";
        Plant::new(Arc::new(crate::layout::parse(src, "p.yaml").unwrap_or_else(|e| panic!("{e}"))), t(0))
    }

    fn pin(p: &mut Plant, user: &str, ok: bool, at: u64) -> Vec<PlantEffect> {
        apply(p, Input::Pin { user: user.into(), ok }, t(at))
    }

    /// The text the plant asks to save, read back.
    fn saved(effects: &[PlantEffect], at: u64) -> Lockouts {
        match effects {
            [PlantEffect::SaveLockouts(text)] => Lockouts::from_json(text.as_bytes(), t(at)).expect("valid").0,
            e => panic!("expected one save, got {e:?}"),
        }
    }

    #[test]
    fn wrong_pins_of_one_user_from_any_session_add_up_and_lock_that_user_only() {
        let mut p = plant();
        // Three in one session, two in another: PIN results carry the user, not the session.
        for at in 0..3 {
            let effects = pin(&mut p, "alice", false, at);
            assert_eq!(saved(&effects, at), p.lockouts, "each change is saved");
        }
        pin(&mut p, "bob", false, 3);
        assert_eq!(p.lockouts.attempts_left("alice", t(3)), 2);
        assert!(pin(&mut p, "alice", false, 4).len() == 1 && p.lockouts.check("alice", t(4)).is_ok());
        let effects = pin(&mut p, "alice", false, 5);
        let lock = p.lockouts.check("alice", t(5)).expect_err("locked");
        assert_eq!(lock.until, t(305));
        assert_eq!(saved(&effects, 5).check("alice", t(5)), Err(lock), "the lock is in what is saved");
        assert_eq!(p.lockouts.attempts_left("bob", t(5)), MAX_PIN_FAILURES - 1, "bob's own count");
        assert!(p.lockouts.check("bob", t(5)).is_ok() && p.lockouts.check("carol", t(5)).is_ok());
        // Nothing changes while locked: neither a wrong PIN nor a right one lifts or extends it.
        assert_eq!(pin(&mut p, "alice", false, 100), vec![]);
        assert_eq!(pin(&mut p, "alice", true, 101), vec![]);
        assert_eq!(p.lockouts.check("alice", t(304)), Err(lock));
        // The lock runs out; the next result drops it from what is saved.
        assert!(p.lockouts.check("alice", t(305)).is_ok());
        assert_eq!(p.lockouts.attempts_left("alice", t(305)), MAX_PIN_FAILURES);
        let effects = pin(&mut p, "bob", false, 305);
        assert_eq!(saved(&effects, 305).users(t(305)), ["bob"]);
        assert_eq!(p.lockouts.users(t(305)), ["bob"]);
    }

    #[test]
    fn a_right_pin_starts_the_count_again_and_is_saved_only_when_it_changes_something() {
        let mut p = plant();
        assert_eq!(pin(&mut p, "alice", true, 0), vec![], "nothing counted: nothing to save");
        for at in 0..4 {
            pin(&mut p, "alice", false, at);
        }
        pin(&mut p, "bob", false, 4);
        let effects = pin(&mut p, "alice", true, 5);
        assert_eq!(saved(&effects, 5).users(t(5)), ["bob"]);
        assert_eq!(p.lockouts.attempts_left("alice", t(5)), MAX_PIN_FAILURES);
        assert_eq!(p.lockouts.attempts_left("bob", t(5)), MAX_PIN_FAILURES - 1, "bob's count stays");
        for at in 6..10 {
            assert!(pin(&mut p, "alice", false, at).len() == 1);
        }
        assert!(p.lockouts.check("alice", t(10)).is_ok(), "four after the reset do not lock");
    }

    #[test]
    fn a_pin_result_tells_no_session_and_touches_nothing_else() {
        let mut p = plant();
        let before = (p.audit_broken.clone(), p.alarms.alarms().len(), p.store.get(crate::tag::TagId(0)).cloned());
        for at in 0..5 {
            let effects = pin(&mut p, "alice", false, at);
            assert!(effects.iter().all(|e| matches!(e, PlantEffect::SaveLockouts(_))), "{effects:?}");
        }
        let after = (p.audit_broken.clone(), p.alarms.alarms().len(), p.store.get(crate::tag::TagId(0)).cloned());
        assert_eq!(before, after);
    }
}
