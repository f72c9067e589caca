//! Fuzz target: a session's `update` under random message sequences (keys, typed values and
//! PINs, values and connection changes from the plant, write answers, an audit failure, time
//! passing), for each role, with and without a PIN, and read-only. Moved here from
//! `session/write.rs` (where it checked viewers only) and extended, so it also runs in the long
//! mode. It runs through the [`Console`], which applies PIN results to the plant (here, not in
//! `session`, so that `session` does not depend on `console`).
//!
//! Properties: never a panic; a viewer or a read-only session never emits a write, nor reaches the
//! confirmation; every write carries its audit record (a write attempt, for the write's tag, by
//! the session's user and role, naming the value the plan writes); the role may write the tag; a
//! write follows the confirmation step (Enter on the confirmation that shows exactly this plan,
//! with the user's PIN when they have one); one write per message at most.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use proptest::prelude::*;

use crate::audit::{Action, RecordInput};
use crate::auth::{Identity, Role};
use crate::console::{Console, Effect, Msg};
use crate::driver::{ConnectionState, DriverEvent};
use crate::layout::ConnId;
use crate::session::state::{Overlay, Person};
use crate::session::views::WriteDialog;
use crate::tag::{Sample, TagId, Value};

const PIN: &str = "1234";

const LAYOUT: &str = "connections:
  c1: { modbus_tcp: { host: h } }
tags:
  SP: { source: c1, holding: 0, type: f32, write: { role: operator, min: 0, max: 100 } }
  OP: { source: c1, holding: 2, type: f32, write: { role: operator, min: 0, max: 100, max_step: 20 } }
  ON: { source: c1, coil: 0, write: { role: operator } }
  TRIM: { source: c1, holding: 4, type: u16, write: { role: engineer, min: 0, max: 3000 } }
  PV: { source: c1, holding: 6, type: f32 }
alarms:
  SP:
    hi: { limit: 50, priority: high }
screens:
  - title: G
    panels:
      - grid: { tags: [SP, OP, ON, TRIM, PV] }
  - title: A
    panels:
      - alarms: {}
";

fn t(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_000 + ms)
}

/// A PIN hash (argon2 takes a moment: once for all cases).
fn pin_hash() -> Option<String> {
    static HASH: OnceLock<Option<String>> = OnceLock::new();
    HASH.get_or_init(|| Identity::demo("vic", PIN).ok().and_then(|i| i.pin_hash)).clone()
}

fn layout() -> Arc<crate::layout::Layout> {
    static LAYOUT_: OnceLock<Arc<crate::layout::Layout>> = OnceLock::new();
    LAYOUT_.get_or_init(|| Arc::new(crate::layout::parse(LAYOUT, "f.yaml").unwrap_or_else(|e| panic!("{e}")))).clone()
}

/// Who sits at the console.
#[derive(Clone, Copy, Debug)]
struct Who {
    role: Role,
    pin: bool,
    read_only: bool,
}

fn who() -> impl Strategy<Value = Who> {
    (prop::sample::select(Role::ALL.to_vec()), any::<bool>(), prop::bool::weighted(0.2))
        .prop_map(|(role, pin, read_only)| Who { role, pin, read_only })
}

/// A console for `w`, on a plant whose connection is up and whose tags are Good: everything but
/// the person allows a write.
fn console(w: Who) -> Console {
    let identity = Identity {
        role: w.role,
        pin_hash: if w.pin { pin_hash() } else { None },
        source: crate::auth::RoleSource::Demo,
        user: "vic".into(),
    };
    let mut c = Console::with(layout(), Person::viewer("vic", w.read_only).with_identity(identity), t(0));
    c.update(Msg::Driver(DriverEvent::State { conn: ConnId(0), state: ConnectionState::Connected }), t(0));
    let values = [Value::Float(10.0), Value::Float(20.0), Value::Bool(false), Value::UInt(100), Value::Float(1.0)];
    for (i, v) in values.into_iter().enumerate() {
        let samples = vec![(TagId(i as u32), Sample::good(v, t(0)))];
        c.update(Msg::Driver(DriverEvent::Samples { conn: ConnId(0), samples, raw: None }), t(0));
    }
    c
}

/// What arrives: a key, a value or PIN typed, a value from the plant, the connection, an
/// answer to a write, the audit log failing, time.
#[derive(Clone, Debug)]
enum In {
    Key(char),
    Type(&'static str),
    Value(u32, f64, bool),
    Connection(bool),
    WriteDone(u32, bool),
    AuditFailed,
    Wait(u16),
}

fn input() -> impl Strategy<Value = In> {
    prop_oneof![
        12 => prop::sample::select("ww1234567890.\n\n\n\n\x1b\x08v^aqyns o/x?d12\t".chars().collect::<Vec<_>>()).prop_map(In::Key),
        4 => prop::sample::select(vec!["12", "55.5", "1", "0", "ON", "OFF", "200", "2500", "-1", "1e3", PIN, PIN, "9999", "12\n"])
            .prop_map(In::Type),
        2 => (0u32..5, -10.0f64..200.0, prop::bool::weighted(0.8)).prop_map(|(t, v, g)| In::Value(t, v, g)),
        1 => any::<bool>().prop_map(In::Connection),
        1 => (0u32..5, any::<bool>()).prop_map(|(t, ok)| In::WriteDone(t, ok)),
        2 => (0u16..10_000).prop_map(In::Wait),
    ]
}

fn key(c: char) -> KeyEvent {
    let code = match c {
        '\n' => KeyCode::Enter,
        '\x1b' => KeyCode::Esc,
        '\x08' => KeyCode::Backspace,
        'v' => KeyCode::Down,
        '^' => KeyCode::Up,
        c => KeyCode::Char(c),
    };
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn messages(i: &In) -> Vec<Msg> {
    match i {
        In::Key(c) => vec![Msg::Key(key(*c))],
        In::Type(s) => s.chars().map(|c| Msg::Key(key(c))).collect(),
        In::Value(tag, v, good) => {
            let value = match tag {
                2 => Value::Bool(*v > 50.0),
                3 => Value::UInt(v.abs() as u64),
                _ => Value::Float(*v),
            };
            let mut s = Sample::good(value, t(0));
            if !good {
                s = Sample::stale(None, t(0));
            }
            vec![Msg::Driver(DriverEvent::Samples { conn: ConnId(0), samples: vec![(TagId(*tag), s)], raw: None })]
        }
        In::Connection(up) => {
            let state = if *up {
                ConnectionState::Connected
            } else {
                ConnectionState::Disconnected { reason: "gone".into(), retry_in: Duration::from_secs(1) }
            };
            vec![Msg::Driver(DriverEvent::State { conn: ConnId(0), state })]
        }
        In::WriteDone(tag, busy) => vec![Msg::WriteDone {
            tag: TagId(*tag),
            requested: Value::Float(1.0),
            result: if *busy {
                Err(crate::plant::NotSent::Busy.into())
            } else {
                Err(crate::plant::Refusal::Exception(2).into())
            },
        }],
        In::AuditFailed => vec![Msg::AuditFailed("disk full".into())],
        In::Wait(_) => vec![Msg::Tick],
    }
}

/// The checks on one message's effects, given the dialog before it.
fn check(c: &Console, w: Who, before: &Overlay, msg: &Msg, effects: &[Effect]) -> Result<(), TestCaseError> {
    let writes: Vec<_> = effects.iter().filter_map(|e| if let Effect::Write(o) = e { Some(o) } else { None }).collect();
    let may_write = !w.read_only && w.role >= Role::Operator;
    if !may_write {
        prop_assert!(writes.is_empty(), "a {:?} session wrote: {:?}", w, writes);
        let confirming =
            matches!(c.session.overlay, Overlay::Write(WriteDialog::Confirm(_) | WriteDialog::Pending { .. }));
        prop_assert!(!confirming, "a {:?} session reached the confirmation", w);
    }
    prop_assert!(writes.len() <= 1, "{} writes from one message", writes.len());
    for order in writes {
        let tag = c.session.layout.tag(order.plan.tag());
        let a = &order.audit;
        prop_assert_eq!(a.action, Action::WriteAttempt);
        prop_assert_eq!(a.tag.as_deref(), Some(tag.name.as_str()));
        prop_assert_eq!(a.actor.user.as_str(), c.session.identity.user.as_str());
        prop_assert_eq!(a.actor.role.as_str(), w.role.as_str());
        let named = RecordInput::new(a.time, &a.actor, a.action).new_value(tag.format(order.plan.expected())).new;
        prop_assert_eq!(&a.new, &named, "the record names another value than the plan writes");
        prop_assert!(tag.write.is_some_and(|s| w.role >= s.role), "{:?} wrote {}", w.role, tag.name);
        // The confirmation step: Enter on the confirmation of exactly this plan (with the PIN).
        let Overlay::Write(WriteDialog::Confirm(conf)) = before else {
            return Err(TestCaseError::fail(format!("a write without the confirmation (before: {before:?})")));
        };
        prop_assert!(matches!(msg, Msg::Key(k) if k.code == KeyCode::Enter), "a write on {:?}", msg);
        prop_assert_eq!(&conf.plan, &order.plan);
        if w.pin {
            prop_assert!(conf.needs_pin && conf.secret == PIN, "a write without the PIN: {:?}", conf);
        }
    }
    Ok(())
}

crate::fuzz_target!(
    session_update,
    (who(), prop::collection::vec(input(), 1..150), prop::option::weighted(0.2, 0usize..150)),
    |(w, mut inputs, audit_fails): (Who, Vec<In>, Option<usize>)| {
        let mut c = console(w);
        let mut now = 0u64;
        if let Some(at) = audit_fails {
            inputs.insert(at.min(inputs.len()), In::AuditFailed);
        }
        for i in inputs {
            if let In::Wait(ms) = i {
                now += u64::from(ms);
            }
            for msg in messages(&i) {
                let before = c.session.overlay.clone();
                let effects = c.update(msg.clone(), t(now));
                check(&c, w, &before, &msg, &effects)?;
                // `q` may leave: the run goes on (the effects say so; nothing else changes).
                c.session.quit = false;
            }
        }
        Ok(())
    }
);

// The path the target checks is reachable with these inputs: an operator with a PIN writes SP
// (and every check holds), a viewer typing the same does not.
#[test]
fn the_inputs_reach_a_confirmed_write_and_the_checks_hold() {
    let run = |w: Who| -> Result<usize, String> {
        let mut c = console(w);
        let mut writes = 0;
        for i in [In::Key('w'), In::Type("12"), In::Key('\n'), In::Type(PIN), In::Key('\n')] {
            for msg in messages(&i) {
                let before = c.session.overlay.clone();
                let effects = c.update(msg.clone(), t(1));
                check(&c, w, &before, &msg, &effects).map_err(|e| e.to_string())?;
                writes += effects.iter().filter(|e| matches!(e, Effect::Write(_))).count();
            }
        }
        Ok(writes)
    };
    assert_eq!(run(Who { role: Role::Operator, pin: true, read_only: false }), Ok(1));
    assert_eq!(run(Who { role: Role::Viewer, pin: true, read_only: false }), Ok(0));
    assert_eq!(run(Who { role: Role::Operator, pin: true, read_only: true }), Ok(0));
}
