//! The write flow, pure like the rest of `update`: select a writable tag → edit the value →
//! confirm (tag, old → new, what will be sent, role; PIN or the value typed again) → the write →
//! its result. Role, limits and step are checked when the editor opens, when the value is
//! entered, and again at confirmation. The write plan ([`crate::plant::write_plan`]) is made
//! once, when the value is entered: the confirmation shows it and the write order carries it to
//! the driver unchanged. Every attempt, result, denial and PIN failure becomes an audit record;
//! the write itself leaves `update` only as a [`Command::Write`] that carries its audit record,
//! which the plant's runtime makes durable before anything is sent.

use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent};

use super::msg::Effect;
use super::state::{Overlay, Session};
pub use super::views::{Confirm, WriteDialog as Dialog};
use crate::audit::{Action, RecordInput, WriteOutcome};
use crate::auth::Role;

use crate::layout::{Tag, TagSource};
use crate::plant::{Command, Plant, WriteOrder};
use crate::plant::{WriteDone, WriteError, WritePlan};
use crate::tag::{Quality, TagId, Value};

/// An open dialog cancels itself after this long.
pub const DIALOG_TIMEOUT: Duration = Duration::from_secs(60);

/// `w` or Enter on the selected tag.
pub fn open(state: &mut Session, plant: &Plant, now: SystemTime) -> Vec<Effect> {
    let Some(id) = state.selected_tag() else { return Vec::new() };
    let tag = state.layout.tag(id);
    if tag.write.is_none() {
        state.say(format!("{} is not writable", tag.name), false, now);
        return Vec::new();
    }
    if let Err(why) = may_write(state, plant, id, now) {
        return deny(state, id, None, why, now);
    }
    state.overlay = Overlay::Write(Dialog::Edit { tag: id, input: String::new(), error: None, opened: now });
    Vec::new()
}

/// Why this user may not write this tag now, if not: writing disabled, role, lockout, the
/// connection or the tag's quality.
pub fn may_write(state: &Session, plant: &Plant, id: TagId, now: SystemTime) -> Result<(), String> {
    let tag = state.layout.tag(id);
    let Some(spec) = tag.write else { return Err(format!("{} is not writable", tag.name)) };
    if let Some(why) = state.write_lock(plant) {
        return Err(format!("writing is disabled: {why}"));
    }
    let role = state.identity.role;
    if !role.at_least(spec.role) {
        return Err(format!("{} may be written by {} and above; you are {role}", tag.name, spec.role));
    }
    if let Err(locked) = plant.lockouts.check(&state.identity.user, now) {
        return Err(locked.message(now));
    }
    let conn = state.layout.connection(tag.conn);
    if !plant.connected(tag.conn) {
        return Err(format!("connection {} is not up; writes are never queued", conn.name));
    }
    match plant.store.get(id).map(|s| &s.quality) {
        Some(Quality::Bad(r)) => Err(format!("{} is Bad ({r}); it cannot be written", tag.name)),
        None => Err("unknown tag".into()),
        _ => Ok(()),
    }
}

/// The value typed for a tag, or why it is not one.
pub fn parse_value(tag: &Tag, current: Option<&Value>, text: &str) -> Result<Value, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("type a value".into());
    }
    let boolean = matches!(current, Some(Value::Bool(_)))
        || matches!(&tag.source, TagSource::Modbus(p) if p.ty == crate::layout::DataType::Bool);
    if boolean {
        let on = tag.on_text.as_deref().unwrap_or("ON");
        let off = tag.off_text.as_deref().unwrap_or("OFF");
        return match t.to_ascii_lowercase().as_str() {
            "1" | "on" | "true" => Ok(Value::Bool(true)),
            "0" | "off" | "false" => Ok(Value::Bool(false)),
            x if x == on.to_ascii_lowercase() => Ok(Value::Bool(true)),
            x if x == off.to_ascii_lowercase() => Ok(Value::Bool(false)),
            _ => Err(format!("type {on} or {off} (or 1 / 0)")),
        };
    }
    let n: f64 = t.parse().map_err(|_| format!("`{t}` is not a number"))?;
    if !n.is_finite() {
        return Err("NaN and infinity cannot be written".into());
    }
    Ok(Value::Float(n))
}

/// A key while a dialog is open. Esc (and q) cancel; nothing is written without confirmation.
pub fn key(state: &mut Session, plant: &Plant, k: KeyEvent, now: SystemTime) -> Vec<Effect> {
    let Some(dialog) = state.write_dialog().cloned() else { return Vec::new() };
    state.dirty = true;
    match dialog {
        Dialog::Pending { .. } => Vec::new(), // waiting for the device; Esc cannot unsend
        Dialog::Edit { tag, mut input, opened, .. } => match k.code {
            KeyCode::Esc | KeyCode::Char('q') => cancel(state, "cancelled", now),
            KeyCode::Backspace => {
                input.pop();
                state.overlay = Overlay::Write(Dialog::Edit { tag, input, error: None, opened });
                Vec::new()
            }
            KeyCode::Char(c) if !c.is_control() && input.chars().count() < 32 => {
                input.push(c);
                state.overlay = Overlay::Write(Dialog::Edit { tag, input, error: None, opened });
                Vec::new()
            }
            KeyCode::Enter => entered(state, plant, tag, &input, opened, now),
            _ => Vec::new(),
        },
        Dialog::Confirm(mut c) => match k.code {
            KeyCode::Esc => cancel(state, "cancelled", now),
            KeyCode::Backspace => {
                c.secret.pop();
                c.error = None;
                state.overlay = Overlay::Write(Dialog::Confirm(c));
                Vec::new()
            }
            KeyCode::Char(ch) if !ch.is_control() && c.secret.chars().count() < 32 => {
                c.secret.push(ch);
                c.error = None;
                state.overlay = Overlay::Write(Dialog::Confirm(c));
                Vec::new()
            }
            KeyCode::Enter => confirm(state, plant, c, now),
            _ => Vec::new(),
        },
    }
}

fn entered(
    state: &mut Session,
    plant: &Plant,
    id: TagId,
    input: &str,
    opened: SystemTime,
    now: SystemTime,
) -> Vec<Effect> {
    let tag = state.layout.tag(id).clone();
    let current = plant.store.get(id).and_then(|s| s.value.clone());
    let new = match parse_value(&tag, current.as_ref(), input) {
        Ok(v) => v,
        Err(e) => {
            state.overlay = Overlay::Write(Dialog::Edit { tag: id, input: input.to_string(), error: Some(e), opened });
            return Vec::new();
        }
    };
    // The plan is made here, once: what the confirmation shows is what is sent.
    let planned = check_limits(&tag, current.as_ref(), &new).and_then(|_| plan_for(state, plant, id, &new));
    let plan = match planned.and_then(|p| check_limits(&tag, current.as_ref(), p.expected()).map(|_| p)) {
        Ok(p) => p,
        Err(why) => {
            // Shown in the editor; a value out of limits is a denial on record.
            state.overlay =
                Overlay::Write(Dialog::Edit { tag: id, input: input.to_string(), error: Some(why.clone()), opened });
            let r = record(state, id, Action::WriteDenied, now).new_value(new.to_string()).result(why);
            return vec![Effect::record(state, r)];
        }
    };
    if let Err(why) = may_write(state, plant, id, now) {
        return deny(state, id, Some(&new), why, now);
    }
    let typed = (!same_reading(plan.expected(), &new)).then(|| input.trim().to_string());
    state.overlay = Overlay::Write(Dialog::Confirm(Confirm {
        old: current,
        plan,
        typed,
        secret: String::new(),
        needs_pin: state.identity.pin_hash.is_some(),
        error: None,
        opened,
    }));
    Vec::new()
}

/// The write plan of `value` for tag `id`: exactly what will go on the wire, and the value the
/// device will hold after it. A Modbus value must fit the tag's type (after scaling) before anyone
/// is asked to confirm it; an OPC UA value must fit its node's DataType, as the server reported it.
pub fn plan_for(state: &Session, plant: &Plant, id: TagId, value: &Value) -> Result<WritePlan, String> {
    crate::plant::write_plan(&state.layout, id, value, plant.data_types.get(&id))
        .map_err(|e| format!("cannot be written: {e}"))
}

/// Whether two values read the same to a person (floats to their shown precision): an f32
/// holding 0.1 as 0.100000001 is the value typed; a register holding 65.535 for 65.5354 is not.
fn same_reading(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => Value::Float(x).to_string() == Value::Float(y).to_string(),
        _ => a == b,
    }
}

fn check_limits(tag: &Tag, current: Option<&Value>, new: &Value) -> Result<(), String> {
    let Some(spec) = tag.write else { return Err(format!("{} is not writable", tag.name)) };
    match new {
        Value::Bool(_) => Ok(()),
        // An OPC UA String node holds the number typed as its text: the limits apply to it.
        Value::Text(t) => match t.trim().parse::<f64>() {
            Ok(n) => spec.check(current.and_then(Value::as_f64), n),
            Err(_) => Err(format!("`{t}` is not a number; the limits of {} cannot be checked", tag.name)),
        },
        v => spec.check(current.and_then(Value::as_f64), v.as_f64().unwrap_or(f64::NAN)),
    }
}

fn confirm(state: &mut Session, plant: &Plant, mut c: Confirm, now: SystemTime) -> Vec<Effect> {
    // A right PIN starts the user's count again, before the write goes.
    let mut pin_effects = Vec::new();
    // Values, roles and connections may have changed while the dialog was open.
    let id = c.plan.tag();
    let current = plant.store.get(id).and_then(|s| s.value.clone());
    let tag = state.layout.tag(id).clone();
    if let Err(why) = may_write(state, plant, id, now).and_then(|_| check_limits(&tag, current.as_ref(), c.new_value()))
    {
        let new = c.new_value().clone();
        return deny(state, id, Some(&new), why, now);
    }
    if c.needs_pin {
        // A PIN of the wrong length is a typing slip, not a guess: no failure is counted.
        if let Err(e) = crate::auth::check_pin_rules(&c.secret) {
            c.error = Some(e.to_string());
            c.secret.clear();
            state.overlay = Overlay::Write(Dialog::Confirm(c));
            return Vec::new();
        }
        if !state.identity.verify_pin(&c.secret) {
            return wrong_pin(state, plant, c, now);
        }
        pin_effects.push(pin_result(state, true, Vec::new(), now));
    } else {
        // The value again (as the device will hold it, or as it was first typed, or written
        // another way): it must make exactly the write shown.
        let again = parse_value(&tag, current.as_ref(), &c.secret).and_then(|v| plan_for(state, plant, id, &v));
        if again.as_ref() != Ok(&c.plan) {
            c.secret.clear();
            c.error = Some("that is not the same value; type the new value again to confirm".into());
            state.overlay = Overlay::Write(Dialog::Confirm(c));
            return Vec::new();
        }
    }
    let raw = match &c.typed {
        Some(t) => format!("{} (typed {t})", c.plan.description()),
        None => c.plan.description(),
    };
    let audit = record(state, id, Action::WriteAttempt, now)
        .old(c.old.as_ref().map(|v| tag.format(v)).unwrap_or_else(|| "-".into()))
        .new_value(tag.format(c.new_value()))
        .raw(raw);
    state.overlay = Overlay::Write(Dialog::Pending { tag: id, new: c.new_value().clone() });
    let order = Box::new(WriteOrder { plan: c.plan, audit });
    pin_effects.push(Effect::Command(Command::Write { from: state.id, actor: state.actor.clone(), order }));
    pin_effects
}

/// A wrong PIN: on record, counted in the plant's lockouts of this user (shared by all their
/// sessions), and said — with the tries left, or the lock it caused (on record too).
///
/// What is said is worked out here from the user's count as the plant holds it now: the plant
/// applies the command this returns before any session handles another message (the hub runs
/// sessions and plant commands in one task, in order), so it comes to the same.
fn wrong_pin(state: &mut Session, plant: &Plant, mut c: Confirm, now: SystemTime) -> Vec<Effect> {
    let id = c.plan.tag();
    let mut audit =
        vec![record(state, id, Action::PinFailure, now).new_value(c.new_value().to_string()).result("wrong PIN")];
    let mut guard = plant.lockouts.guard(&state.identity.user);
    if let Some(locked) = guard.record_failure(now) {
        let msg = locked.message(now);
        audit.push(record(state, id, Action::Lockout, now).result(msg.clone()));
        state.overlay = Overlay::None;
        state.say(msg, true, now);
        return vec![pin_result(state, false, audit, now)];
    }
    c.secret.clear();
    let left = guard.attempts_left(now);
    c.error = Some(format!("wrong PIN; {left} {} left", if left == 1 { "try" } else { "tries" }));
    state.overlay = Overlay::Write(Dialog::Confirm(c));
    vec![pin_result(state, false, audit, now)]
}

/// The command that tells the plant a PIN of this session's user was right or wrong, with its
/// records.
fn pin_result(state: &Session, ok: bool, audit: Vec<RecordInput>, now: SystemTime) -> Effect {
    Effect::Command(Command::Pin { from: state.id, user: state.identity.user.clone(), ok, at: now, audit })
}

/// The device answered (or the write could not be sent).
pub fn done(
    state: &mut Session,
    id: TagId,
    requested: &Value,
    result: Result<WriteDone, WriteError>,
    now: SystemTime,
) -> Vec<Effect> {
    if state.write_dialog().is_some_and(|d| d.tag() == id) {
        state.overlay = Overlay::None;
    }
    state.dirty = true;
    let tag = state.layout.tag(id).clone();
    let rec = record(state, id, Action::WriteResult, now).new_value(tag.format(requested)).outcome(outcome(&result));
    let (text, bad, rec) = match &result {
        Ok(d) if d.confirmed() => {
            let shown = d.readback.as_ref().map(|v| tag.format(v)).unwrap_or_default();
            (
                format!("{} = {shown} {}: written and read back ({})", tag.name, tag.units, d.how),
                false,
                rec.result("ok"),
            )
        }
        Ok(d) => {
            let back = d.readback.as_ref().map(|v| tag.format(v)).unwrap_or_else(|| "nothing".into());
            let why = format!("written, but the device reads back {back} ({})", d.how);
            (format!("{}: {why}", tag.name), true, rec.result(why))
        }
        Err(e) => (format!("{}: {e}", tag.name), true, rec.result(e.to_string())),
    };
    state.say(text, bad, now);
    vec![Effect::record(state, rec)]
}

/// Which way a write went, for its audit record.
fn outcome(result: &Result<WriteDone, WriteError>) -> WriteOutcome {
    match result {
        Ok(_) => WriteOutcome::Written,
        Err(WriteError::NotSent(_)) => WriteOutcome::NotSent,
        Err(WriteError::Refused(_)) => WriteOutcome::Refused,
        Err(WriteError::OutcomeUnknown(_)) => WriteOutcome::Unknown,
        Err(WriteError::ConnectionLost(_)) => WriteOutcome::ConnectionLost,
    }
}

/// The audit log cannot be written: writing stops (fail secure).
pub fn audit_failed(state: &mut Session, reason: String, now: SystemTime) {
    // A pending write whose attempt could not be recorded was not sent: nothing to wait for.
    if matches!(state.overlay, Overlay::Write(_) | Overlay::Alarm(_)) {
        state.overlay = Overlay::None;
    }
    state.say(format!("WRITES DISABLED: the audit log cannot be written ({reason})"), true, now);
}

/// The clock ticked: a dialog open for a minute cancels itself.
pub fn tick(state: &mut Session, now: SystemTime) -> Vec<Effect> {
    let opened = match state.write_dialog() {
        Some(Dialog::Edit { opened, .. }) => *opened,
        Some(Dialog::Confirm(c)) => c.opened,
        _ => return Vec::new(),
    };
    if now.duration_since(opened).is_ok_and(|d| d >= DIALOG_TIMEOUT) {
        return cancel(state, "cancelled itself after 60 s", now);
    }
    Vec::new()
}

fn cancel(state: &mut Session, why: &str, now: SystemTime) -> Vec<Effect> {
    if let Overlay::Write(d) = std::mem::take(&mut state.overlay) {
        let name = state.layout.tag(d.tag()).name.clone();
        state.say(format!("write to {name} {why}; nothing was written"), false, now);
    }
    Vec::new()
}

fn deny(state: &mut Session, id: TagId, new: Option<&Value>, why: String, now: SystemTime) -> Vec<Effect> {
    if state.write_dialog().is_some() {
        state.overlay = Overlay::None;
    }
    state.say(why.clone(), true, now);
    let mut r = record(state, id, Action::WriteDenied, now).result(why);
    if let Some(v) = new {
        r = r.new_value(v.to_string());
    }
    vec![Effect::record(state, r)]
}

fn record(state: &Session, id: TagId, action: Action, now: SystemTime) -> RecordInput {
    RecordInput::new(now, &state.actor, action).tag(state.layout.tag(id).name.clone())
}

/// The lowest role of any writable tag, for help texts.
pub fn lowest_write_role(state: &Session) -> Option<Role> {
    state.layout.tags.iter().filter_map(|t| t.write.map(|w| w.role)).min()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, OnceLock};
    use std::time::{Duration, SystemTime};

    use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};

    use super::*;
    use crate::auth::Identity;
    use crate::console::{Console as State, Effect, Msg, update};
    use crate::driver::{ConnectionState, DriverEvent};
    use crate::layout::{self, ConnId};
    use crate::session::state::Overlay;
    use crate::tag::{Reason, Sample};

    const PIN: &str = "2468";

    /// SP_101 is the issue's setpoint; TRIM needs an engineer; PV_1 is read only; RAW16 has no
    /// limits; BIT is a bit of a holding register on a connection without mask write.
    fn layout_src(sp_limits: &str) -> String {
        format!(
            r#"title: Writes
connections:
  plc1: {{ modbus_tcp: {{ host: h }} }}
  plc2: {{ modbus_tcp: {{ host: h2 }}, mask_write: false }}
tags:
  SP_101:   {{ source: plc1, holding: 50, type: f32, units: bar, description: Steam pressure setpoint, write: {{ role: operator, {sp_limits} }} }}
  PUMP_CMD: {{ source: plc1, coil: 3, on_text: START, off_text: STOP, write: {{ role: operator }} }}
  TRIM:     {{ source: plc1, holding: 60, type: u16, write: {{ role: engineer, min: 0, max: 3000 }} }}
  PV_1:     {{ source: plc1, holding: 70, type: f32 }}
  RAW16:    {{ source: plc1, holding: 80, type: u16, write: {{ role: operator }} }}
  BIT:      {{ source: plc2, holding: 20, bit: 3, write: {{ role: operator }} }}
"#
        )
    }

    const LIMITS: &str = "min: 0, max: 12, max_step: 2";

    fn parse(sp_limits: &str) -> Arc<layout::Layout> {
        Arc::new(layout::parse(&layout_src(sp_limits), "writes.yaml").unwrap_or_else(|e| panic!("{e}")))
    }

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    /// Hashing with argon2 takes a moment: once for all tests.
    fn operator() -> Identity {
        static ID: OnceLock<Identity> = OnceLock::new();
        ID.get_or_init(|| Identity::demo("alice", PIN).expect("a valid demo PIN")).clone()
    }

    fn with_role(role: Role, pin: bool) -> Identity {
        Identity { role, pin_hash: if pin { operator().pin_hash } else { None }, ..operator() }
    }

    /// Both connections up; every tag Good: SP_101 5 bar, PUMP_CMD off, TRIM 100, PV_1 1.5,
    /// RAW16 1, BIT off. Alice is an operator with a PIN.
    fn state_as(identity: Identity, read_only: bool) -> State {
        let person = crate::session::state::Person::viewer("alice", read_only).with_identity(identity);
        let mut s = State::with(parse(LIMITS), person, t(0));
        for c in 0..2 {
            update(
                &mut s,
                Msg::Driver(DriverEvent::State { conn: ConnId(c), state: ConnectionState::Connected }),
                t(0),
            );
        }
        let values = [
            ("SP_101", Value::Float(5.0)),
            ("PUMP_CMD", Value::Bool(false)),
            ("TRIM", Value::UInt(100)),
            ("PV_1", Value::Float(1.5)),
            ("RAW16", Value::UInt(1)),
            ("BIT", Value::Bool(false)),
        ];
        for (name, v) in values {
            set_sample(&mut s, name, Sample::good(v, t(0)));
        }
        s
    }

    fn state() -> State {
        state_as(operator(), false)
    }

    fn id(s: &State, name: &str) -> TagId {
        s.layout.tag_id(name).unwrap_or_else(|| panic!("no tag {name}"))
    }

    fn set_sample(s: &mut State, name: &str, sample: Sample) {
        let tag = id(s, name);
        let conn = s.layout.tag(tag).conn;
        update(s, Msg::Driver(DriverEvent::Samples { conn, samples: vec![(tag, sample)], raw: None }), s.now);
    }

    fn k(code: KeyCode) -> Msg {
        Msg::Key(KeyEvent {
            code,
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        })
    }

    fn ch(c: char) -> Msg {
        k(KeyCode::Char(c))
    }

    fn enter() -> Msg {
        k(KeyCode::Enter)
    }

    fn esc() -> Msg {
        k(KeyCode::Esc)
    }

    fn send(s: &mut State, at: u64, msgs: impl IntoIterator<Item = Msg>) -> Vec<Effect> {
        msgs.into_iter().flat_map(|m| update(s, m, t(at))).collect()
    }

    fn typed(s: &mut State, at: u64, text: &str) -> Vec<Effect> {
        send(s, at, text.chars().map(ch))
    }

    fn select(s: &mut State, name: &str) {
        let tag = id(s, name);
        s.selected = s.visible_rows().iter().position(|&r| r == tag).unwrap_or_else(|| panic!("{name} not shown"));
    }

    /// Selects `name` and presses `w`.
    fn open_on(s: &mut State, at: u64, name: &str) -> Vec<Effect> {
        select(s, name);
        send(s, at, [ch('w')])
    }

    /// Opens the editor on `name`, types `value` and Enter: the confirmation is shown.
    fn to_confirm(s: &mut State, at: u64, name: &str, value: &str) -> Confirm {
        assert_eq!(open_on(s, at, name), vec![]);
        assert!(matches!(s.write_dialog(), Some(Dialog::Edit { .. })), "{:?}", s.write_dialog());
        assert_eq!(typed(s, at, value), vec![]);
        assert_eq!(send(s, at, [enter()]), vec![], "Enter in the editor only shows the confirmation");
        match &s.write_dialog() {
            Some(Dialog::Confirm(c)) => c.clone(),
            d => panic!("expected the confirmation, got {d:?}"),
        }
    }

    fn writes(effects: &[Effect]) -> Vec<&WriteOrder> {
        effects.iter().filter_map(|e| if let Effect::Write(w) = e { Some(w) } else { None }).collect()
    }

    fn audits(effects: &[Effect]) -> Vec<&RecordInput> {
        effects.iter().filter_map(|e| if let Effect::Audit(r) = e { Some(r) } else { None }).collect()
    }

    fn actions(effects: &[Effect]) -> Vec<Action> {
        audits(effects).iter().map(|r| r.action).collect()
    }

    fn message(s: &State) -> (String, bool) {
        let m = s.message.as_ref().expect("a message");
        (m.text.clone(), m.bad)
    }

    fn edit_error(s: &State) -> Option<String> {
        match &s.write_dialog() {
            Some(Dialog::Edit { error, .. }) => error.clone(),
            d => panic!("expected the editor, got {d:?}"),
        }
    }

    fn confirm_error(s: &State) -> Option<String> {
        match &s.write_dialog() {
            Some(Dialog::Confirm(c)) => c.error.clone(),
            d => panic!("expected the confirmation, got {d:?}"),
        }
    }

    fn json(v: &str) -> Option<serde_json::Value> {
        Some(serde_json::Value::String(v.into()))
    }

    /// A denial: no write, no dialog, one `write_denied` record whose result contains `why`.
    fn assert_denied(s: &State, effects: &[Effect], tag: &str, why: &str) {
        assert!(writes(effects).is_empty(), "{effects:?}");
        assert_eq!(actions(effects), [Action::WriteDenied], "{effects:?}");
        let r = audits(effects)[0];
        assert_eq!(r.tag.as_deref(), Some(tag));
        assert_eq!(r.actor.user, "alice");
        let result = r.result.clone().unwrap_or_default();
        assert!(result.contains(why), "{why:?} in {result:?}");
        assert_eq!(s.write_dialog(), None);
        let (text, bad) = message(s);
        assert!(bad && text.contains(why), "{why:?} in {text:?}");
    }

    // ---- role ----

    #[test]
    fn a_viewer_gets_no_editor_and_the_denial_is_audited() {
        for key in [ch('w'), enter()] {
            // A viewer from the start: writing is locked for the whole session.
            let mut s = state_as(with_role(Role::Viewer, false), false);
            select(&mut s, "SP_101");
            let effects = send(&mut s, 1, [key.clone()]);
            assert_denied(&s, &effects, "SP_101", "writing is disabled: alice is a viewer");
            assert_eq!(audits(&effects)[0].time, t(1), "the injected time");
            // An operator whose role became viewer: the tag's role check refuses.
            let mut s = state();
            s.identity.role = Role::Viewer;
            select(&mut s, "SP_101");
            let effects = send(&mut s, 1, [key]);
            assert_denied(&s, &effects, "SP_101", "may be written by operator and above; you are viewer");
        }
    }

    #[test]
    fn an_operator_may_not_write_an_engineer_tag_but_an_engineer_may() {
        let mut s = state();
        let effects = open_on(&mut s, 1, "TRIM");
        assert_denied(&s, &effects, "TRIM", "may be written by engineer and above; you are operator");

        let mut s = state_as(with_role(Role::Engineer, true), false);
        assert_eq!(open_on(&mut s, 1, "TRIM"), vec![]);
        assert!(matches!(s.write_dialog(), Some(Dialog::Edit { .. })));
        let mut s = state_as(with_role(Role::Admin, true), false);
        assert_eq!(open_on(&mut s, 1, "TRIM"), vec![]);
        assert!(matches!(s.write_dialog(), Some(Dialog::Edit { .. })));
    }

    #[test]
    fn a_tag_without_write_opens_nothing_and_is_no_denial() {
        let mut s = state();
        assert_eq!(open_on(&mut s, 1, "PV_1"), vec![]);
        assert_eq!(s.write_dialog(), None);
        assert_eq!(message(&s), ("PV_1 is not writable".to_string(), false));
    }

    // ---- limits ----

    #[test]
    fn out_of_limits_and_beyond_max_step_are_refused_in_the_editor_and_audited() {
        // SP_101 is 5 bar; 0..12, at most ±2 per write.
        let cases = [
            ("12.5", "12.5 is above the maximum 12"),
            ("-0.1", "-0.1 is below the minimum 0"),
            ("7.5", "a change of 2.5 is more than the largest step 2"),
            ("2.9", "more than the largest step 2"),
            ("1e3", "above the maximum 12"),
        ];
        for (input, why) in cases {
            let mut s = state();
            open_on(&mut s, 1, "SP_101");
            typed(&mut s, 1, input);
            let effects = send(&mut s, 1, [enter()]);
            assert!(writes(&effects).is_empty(), "{input}: {effects:?}");
            assert_eq!(actions(&effects), [Action::WriteDenied], "{input}");
            let r = audits(&effects)[0];
            assert_eq!(r.tag.as_deref(), Some("SP_101"));
            assert!(r.result.as_deref().unwrap_or_default().contains(why), "{input}: {r:?}");
            assert!(r.new.is_some(), "{input}: the refused value is on record");
            // The editor stays open and says why, with the input kept for correcting.
            assert!(edit_error(&s).is_some_and(|e| e.contains(why)), "{input}: {:?}", s.write_dialog());
            let Some(Dialog::Edit { input: kept, .. }) = &s.write_dialog() else { unreachable!() };
            assert_eq!(kept, input);
            // Enter again refuses again; nothing is ever written.
            let again = send(&mut s, 1, [enter(), enter()]);
            assert!(writes(&again).is_empty());
        }
    }

    #[test]
    fn the_limits_themselves_and_a_full_step_are_allowed() {
        for (current, input, expect) in [(5.0, "7", 7.0), (5.0, "3", 3.0), (11.0, "12", 12.0), (1.0, "0", 0.0)] {
            let mut s = state();
            set_sample(&mut s, "SP_101", Sample::good(Value::Float(current), t(0)));
            let c = to_confirm(&mut s, 1, "SP_101", input);
            assert_eq!(c.new_value(), &Value::Float(expect));
            assert_eq!(c.old, Some(Value::Float(current)));
            assert!(c.needs_pin);
        }
    }

    #[test]
    fn nan_infinity_non_numeric_and_empty_entries_are_refused() {
        let cases = [
            ("", "type a value"),
            ("   ", "type a value"),
            ("NaN", "NaN and infinity cannot be written"),
            ("nan", "NaN and infinity cannot be written"),
            ("inf", "NaN and infinity cannot be written"),
            ("-inf", "NaN and infinity cannot be written"),
            ("infinity", "NaN and infinity cannot be written"),
            ("1e400", "NaN and infinity cannot be written"),
            ("abc", "`abc` is not a number"),
            ("5,5", "`5,5` is not a number"),
            ("0x10", "is not a number"),
            ("6 bar", "is not a number"),
            ("on", "is not a number"),
        ];
        for (input, why) in cases {
            let mut s = state();
            open_on(&mut s, 1, "SP_101");
            typed(&mut s, 1, input);
            let effects = send(&mut s, 1, [enter()]);
            assert_eq!(effects, vec![], "{input:?}");
            assert!(edit_error(&s).is_some_and(|e| e.contains(why)), "{input:?}: {:?}", s.write_dialog());
        }
    }

    #[test]
    fn typing_after_an_error_clears_it() {
        let mut s = state();
        open_on(&mut s, 1, "SP_101");
        typed(&mut s, 1, "x");
        send(&mut s, 1, [enter()]);
        assert!(edit_error(&s).is_some());
        send(&mut s, 1, [k(KeyCode::Backspace)]);
        assert_eq!(edit_error(&s), None);
        typed(&mut s, 1, "6");
        assert_eq!(send(&mut s, 1, [enter()]), vec![]);
        assert!(matches!(s.write_dialog(), Some(Dialog::Confirm(c)) if c.new_value() == &Value::Float(6.0)));
    }

    #[test]
    fn the_editor_input_is_bounded_and_ignores_control_characters() {
        let mut s = state();
        open_on(&mut s, 1, "SP_101");
        typed(&mut s, 1, &"1".repeat(100));
        send(&mut s, 1, [ch('\u{7}'), k(KeyCode::Tab), k(KeyCode::Up)]);
        let Some(Dialog::Edit { input, .. }) = &s.write_dialog() else { panic!("{:?}", s.write_dialog()) };
        assert_eq!(input.chars().count(), 32);
    }

    // ---- booleans ----

    #[test]
    fn a_coil_accepts_on_off_one_zero_and_its_own_texts_and_nothing_else() {
        let s = state();
        let tag = s.layout.tag(id(&s, "PUMP_CMD")).clone();
        for current in [Some(Value::Bool(false)), None] {
            for yes in ["on", "ON", "1", "true", "start", "START", "Start", " START "] {
                assert_eq!(parse_value(&tag, current.as_ref(), yes), Ok(Value::Bool(true)), "{yes:?}");
            }
            for no in ["off", "OFF", "0", "false", "stop", "STOP"] {
                assert_eq!(parse_value(&tag, current.as_ref(), no), Ok(Value::Bool(false)), "{no:?}");
            }
            for bad in ["2", "-1", "0.5", "yes", "starts", "st", "nan", ""] {
                let e = parse_value(&tag, current.as_ref(), bad);
                assert!(e.is_err(), "{bad:?}: {e:?}");
                if !bad.is_empty() {
                    assert_eq!(e, Err("type START or STOP (or 1 / 0)".into()), "{bad:?}");
                }
            }
        }
    }

    #[test]
    fn a_coil_is_written_with_its_texts_through_the_dialog() {
        let mut s = state();
        open_on(&mut s, 1, "PUMP_CMD");
        typed(&mut s, 1, "maybe");
        assert_eq!(send(&mut s, 1, [enter()]), vec![], "a bad entry is no denial, only a hint");
        assert_eq!(edit_error(&s).as_deref(), Some("type START or STOP (or 1 / 0)"));
        send(&mut s, 1, (0..5).map(|_| k(KeyCode::Backspace)));
        typed(&mut s, 1, "start");
        send(&mut s, 1, [enter()]);
        let Some(Dialog::Confirm(c)) = s.write_dialog().cloned() else { panic!("{:?}", s.write_dialog()) };
        assert_eq!(c.new_value(), &Value::Bool(true));
        assert_eq!(c.plan.description(), "FC05 coil 3 ← FF00");
        typed(&mut s, 1, PIN);
        let effects = send(&mut s, 1, [enter()]);
        let w = writes(&effects);
        assert_eq!(w.len(), 1, "{effects:?}");
        assert_eq!((w[0].plan.tag(), w[0].plan.expected()), (id(&s, "PUMP_CMD"), &Value::Bool(true)));
        assert_eq!(w[0].plan, c.plan, "what was shown is what is sent");
        assert_eq!((w[0].audit.old.clone(), w[0].audit.new.clone()), (json("STOP"), json("START")));
        assert_eq!(w[0].audit.raw, json("FC05 coil 3 ← FF00"));
    }

    // ---- cancelling ----

    #[test]
    fn esc_and_q_cancel_the_editor_at_once_and_after_typing() {
        for key in [esc(), ch('q')] {
            for input in ["", "6", "xyz"] {
                let mut s = state();
                open_on(&mut s, 1, "SP_101");
                typed(&mut s, 1, input);
                let effects = send(&mut s, 1, [key.clone()]);
                assert_eq!(effects, vec![], "{key:?} {input:?}: no write, no quit, nothing to audit");
                assert!(!s.quit);
                assert_eq!(s.write_dialog(), None);
                assert_eq!(message(&s), ("write to SP_101 cancelled; nothing was written".to_string(), false));
            }
        }
    }

    #[test]
    fn esc_cancels_the_editor_after_a_refused_value() {
        let mut s = state();
        open_on(&mut s, 1, "SP_101");
        typed(&mut s, 1, "99");
        send(&mut s, 1, [enter()]);
        assert_eq!(send(&mut s, 1, [esc()]), vec![]);
        assert_eq!(s.write_dialog(), None);
    }

    #[test]
    fn esc_cancels_the_confirmation_before_during_and_after_a_pin() {
        for before_esc in ["", "24", "2468", "9999"] {
            let mut s = state();
            to_confirm(&mut s, 1, "SP_101", "6");
            typed(&mut s, 1, before_esc);
            if before_esc == "9999" {
                let e = send(&mut s, 1, [enter()]);
                assert_eq!(actions(&e), [Action::PinFailure]);
            }
            let effects = send(&mut s, 1, [esc()]);
            assert_eq!(effects, vec![], "{before_esc:?}");
            assert_eq!(s.write_dialog(), None);
            assert!(!s.quit);
            // Nothing happens later either.
            assert!(writes(&send(&mut s, 100, [Msg::Tick])).is_empty());
        }
    }

    #[test]
    fn q_in_the_confirmation_is_part_of_the_pin_and_neither_writes_nor_quits() {
        let mut s = state();
        to_confirm(&mut s, 1, "SP_101", "6");
        assert_eq!(send(&mut s, 1, [ch('q')]), vec![]);
        assert!(!s.quit);
        let Some(Dialog::Confirm(c)) = &s.write_dialog() else { panic!("{:?}", s.write_dialog()) };
        assert_eq!(c.secret, "q");
    }

    #[test]
    fn nothing_cancels_or_writes_again_while_pending() {
        let mut s = state();
        to_confirm(&mut s, 1, "SP_101", "6");
        typed(&mut s, 1, PIN);
        assert_eq!(writes(&send(&mut s, 1, [enter()])).len(), 1);
        for m in [esc(), ch('q'), enter(), ch('w'), ch('6'), Msg::Tick] {
            assert_eq!(send(&mut s, 200, [m.clone()]), vec![], "{m:?}");
            assert!(matches!(s.write_dialog(), Some(Dialog::Pending { .. })), "{m:?}: the write is out; wait for it");
        }
    }

    // ---- confirmation ----

    #[test]
    fn the_right_pin_gives_exactly_one_write_with_its_audit_record() {
        let mut s = state();
        let c = to_confirm(&mut s, 1, "SP_101", "6.5");
        assert_eq!(c.plan.description(), "FC16 holding 50 ← 40D0 0000", "6.5 as f32 is 0x40D00000");
        assert_eq!(c.plan.warning(), None);
        typed(&mut s, 2, PIN);
        let effects = send(&mut s, 2, [enter()]);
        assert_eq!(effects.len(), 1, "{effects:?}");
        let Effect::Write(w) = &effects[0] else { panic!("{effects:?}") };
        assert_eq!(w.plan.conn(), ConnId(0));
        assert_eq!(w.plan.tag(), id(&s, "SP_101"));
        assert_eq!(w.plan.expected(), &Value::Float(6.5));
        assert_eq!(w.plan, c.plan, "what was shown is what is sent");
        let a = &w.audit;
        assert_eq!(a.action, Action::WriteAttempt);
        assert_eq!(a.time, t(2));
        assert_eq!(a.tag.as_deref(), Some("SP_101"));
        assert_eq!((a.actor.user.as_str(), a.actor.role.as_str()), ("alice", "operator"));
        assert_eq!(a.old, json("5"));
        assert_eq!(a.new, json("6.5"));
        assert_eq!(a.raw, json("FC16 holding 50 ← 40D0 0000"));
        assert_eq!(s.write_dialog(), Some(&Dialog::Pending { tag: id(&s, "SP_101"), new: Value::Float(6.5) }));
        assert!(!format!("{effects:?}").contains(PIN), "the PIN is never recorded");
    }

    #[test]
    fn the_write_goes_to_the_tags_connection() {
        let mut s = state();
        to_confirm(&mut s, 1, "BIT", "1");
        typed(&mut s, 1, PIN);
        let effects = send(&mut s, 1, [enter()]);
        let w = writes(&effects);
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].plan.conn(), w[0].plan.expected()), (ConnId(1), &Value::Bool(true)));
    }

    #[test]
    fn a_wrong_pin_is_refused_audited_and_says_how_many_tries_are_left() {
        let mut s = state();
        to_confirm(&mut s, 1, "SP_101", "6");
        typed(&mut s, 1, "1357");
        let effects = send(&mut s, 1, [enter()]);
        assert!(writes(&effects).is_empty());
        assert_eq!(actions(&effects), [Action::PinFailure]);
        let r = audits(&effects)[0];
        assert_eq!((r.tag.as_deref(), r.result.as_deref()), (Some("SP_101"), Some("wrong PIN")));
        assert!(!format!("{effects:?}").contains("1357"), "no PIN on record");
        assert_eq!(confirm_error(&s).as_deref(), Some("wrong PIN; 4 tries left"));
        let Some(Dialog::Confirm(c)) = &s.write_dialog() else { unreachable!() };
        assert!(c.secret.is_empty(), "the wrong PIN is cleared");
        // The right PIN still works, and resets the count.
        typed(&mut s, 1, PIN);
        let effects = send(&mut s, 1, [enter()]);
        assert_eq!(writes(&effects).len(), 1);
        assert_eq!(s.plant.lockouts.attempts_left("alice", t(1)), crate::auth::MAX_PIN_FAILURES);
    }

    #[test]
    fn five_wrong_pins_lock_writing_for_five_minutes() {
        let mut s = state();
        to_confirm(&mut s, 10, "SP_101", "6");
        for left in (1..=4).rev() {
            typed(&mut s, 10, "0000");
            let effects = send(&mut s, 10, [enter()]);
            assert_eq!(actions(&effects), [Action::PinFailure]);
            let tries = if left == 1 { "try" } else { "tries" };
            assert_eq!(confirm_error(&s), Some(format!("wrong PIN; {left} {tries} left")));
        }
        typed(&mut s, 10, "0000");
        let effects = send(&mut s, 10, [enter()]);
        assert!(writes(&effects).is_empty());
        assert_eq!(actions(&effects), [Action::PinFailure, Action::Lockout]);
        let lock = audits(&effects)[1].result.clone().unwrap_or_default();
        assert_eq!(lock, "5 wrong PINs: writing is locked for 5 min 0 s");
        assert_eq!(s.write_dialog(), None, "the dialog closes");
        assert_eq!(message(&s), (lock, true));

        // Refused while locked, even with the right PIN at hand; audited.
        for at in [11, 200, 309] {
            let effects = open_on(&mut s, at, "SP_101");
            assert_denied(&s, &effects, "SP_101", "writing is locked");
        }
        // Five minutes after the fifth failure writing is allowed again.
        assert_eq!(open_on(&mut s, 310, "SP_101"), vec![]);
        assert!(matches!(s.write_dialog(), Some(Dialog::Edit { .. })));
        typed(&mut s, 310, "6");
        send(&mut s, 310, [enter()]);
        typed(&mut s, 310, PIN);
        assert_eq!(writes(&send(&mut s, 310, [enter()])).len(), 1);
    }

    #[test]
    fn a_lockout_also_refuses_at_confirmation_a_dialog_opened_before() {
        // Writing became locked while the confirmation was shown: Enter with the right PIN is refused.
        let mut s = state();
        to_confirm(&mut s, 1, "SP_101", "6");
        for _ in 0..crate::auth::MAX_PIN_FAILURES {
            crate::plant::apply(&mut s.plant, crate::plant::Input::Pin { user: "alice".into(), ok: false }, t(1));
        }
        typed(&mut s, 2, PIN);
        let effects = send(&mut s, 2, [enter()]);
        assert_denied(&s, &effects, "SP_101", "writing is locked");
    }

    // ---- one user in several sessions: one count, one lock (issue 14) ----

    /// Another session on the console's plant: its messages go through `update` against the
    /// shared plant, its commands are carried out on that plant as the console does its own.
    struct Other(Session);

    impl Other {
        fn new(s: &State, id: u64, identity: Identity) -> Other {
            let person = crate::session::state::Person::viewer(&identity.user, false).with_identity(identity);
            Other(Session::new(crate::plant::SessionId(id), &s.plant, person, t(0)))
        }

        fn send(&mut self, s: &mut State, at: u64, msgs: impl IntoIterator<Item = Msg>) -> Vec<Effect> {
            let mut out = Vec::new();
            for m in msgs {
                let Msg::Key(key) = m else { panic!("keys only: {m:?}") };
                let msg = crate::session::msg::Msg::Key(key);
                for e in crate::session::update::update(&mut self.0, &s.plant, msg, t(at)) {
                    if let super::Effect::Command(cmd) = e {
                        out.extend(s.command(cmd));
                    }
                }
            }
            out
        }

        fn typed(&mut self, s: &mut State, at: u64, text: &str) -> Vec<Effect> {
            self.send(s, at, text.chars().map(ch))
        }

        /// Selects SP_101, types `value` and Enter: the confirmation is shown.
        fn confirm_on(&mut self, s: &mut State, at: u64, value: &str) {
            let tag = id(s, "SP_101");
            self.0.selected = self.0.visible_rows().iter().position(|&r| r == tag).expect("SP_101 shown");
            assert_eq!(self.send(s, at, [ch('w')]), vec![]);
            assert_eq!(self.typed(s, at, value), vec![]);
            assert_eq!(self.send(s, at, [enter()]), vec![]);
            assert!(matches!(self.0.write_dialog(), Some(Dialog::Confirm(_))), "{:?}", self.0.write_dialog());
        }

        fn confirm_error(&self) -> Option<String> {
            match self.0.write_dialog() {
                Some(Dialog::Confirm(c)) => c.error.clone(),
                d => panic!("expected the confirmation, got {d:?}"),
            }
        }
    }

    fn bob() -> Identity {
        Identity { user: "bob".into(), ..operator() }
    }

    #[test]
    fn wrong_pins_in_two_sessions_of_one_user_add_up_and_lock_both() {
        let mut s = state();
        let mut other = Other::new(&s, 2, operator());
        let mut carol = Other::new(&s, 3, Identity { user: "carol".into(), ..operator() });
        to_confirm(&mut s, 10, "SP_101", "6");
        other.confirm_on(&mut s, 10, "6");
        carol.confirm_on(&mut s, 10, "6");
        // Three wrong PINs in the first session ...
        for left in [4, 3, 2] {
            typed(&mut s, 10, "0000");
            assert_eq!(actions(&send(&mut s, 10, [enter()])), [Action::PinFailure]);
            assert_eq!(confirm_error(&s), Some(format!("wrong PIN; {left} tries left")));
        }
        // ... count in the second: one more, and the fifth locks.
        other.typed(&mut s, 11, "0000");
        assert_eq!(actions(&other.send(&mut s, 11, [enter()])), [Action::PinFailure]);
        assert_eq!(other.confirm_error().as_deref(), Some("wrong PIN; 1 try left"));
        other.typed(&mut s, 12, "0000");
        let effects = other.send(&mut s, 12, [enter()]);
        assert_eq!(actions(&effects), [Action::PinFailure, Action::Lockout]);
        let lock = audits(&effects)[1].result.clone().unwrap_or_default();
        assert_eq!(lock, "5 wrong PINs: writing is locked for 5 min 0 s");
        assert_eq!(audits(&effects)[1].actor.user, "alice");
        assert_eq!(other.0.write_dialog(), None);
        assert_eq!(other.0.message.as_ref().map(|m| (m.text.clone(), m.bad)), Some((lock, true)));
        // The first session, its confirmation still open: the right PIN is refused, audited.
        typed(&mut s, 13, PIN);
        let effects = send(&mut s, 13, [enter()]);
        assert_denied(&s, &effects, "SP_101", "writing is locked for 4 min 59 s");
        let effects = open_on(&mut s, 14, "SP_101");
        assert_denied(&s, &effects, "SP_101", "writing is locked");
        // Another user on the same plant is not locked: carol writes.
        carol.typed(&mut s, 14, PIN);
        assert_eq!(writes(&carol.send(&mut s, 14, [enter()])).len(), 1);
        assert!(s.plant.lockouts.check("carol", t(14)).is_ok());
        // Five minutes after the fifth wrong PIN alice may write again, in either session.
        assert!(s.plant.lockouts.check("alice", t(311)).is_err());
        other.confirm_on(&mut s, 312, "6");
        other.typed(&mut s, 312, PIN);
        assert_eq!(writes(&other.send(&mut s, 312, [enter()])).len(), 1);
        to_confirm(&mut s, 312, "SP_101", "6");
        assert_eq!(s.plant.lockouts.attempts_left("alice", t(312)), crate::auth::MAX_PIN_FAILURES);
    }

    #[test]
    fn a_right_pin_in_one_session_starts_the_count_again_in_all() {
        let mut s = state();
        let mut other = Other::new(&s, 2, operator());
        to_confirm(&mut s, 1, "SP_101", "6");
        other.confirm_on(&mut s, 1, "6");
        for _ in 0..4 {
            typed(&mut s, 1, "0000");
            send(&mut s, 1, [enter()]);
        }
        assert_eq!(confirm_error(&s).as_deref(), Some("wrong PIN; 1 try left"));
        other.typed(&mut s, 2, PIN);
        assert_eq!(writes(&other.send(&mut s, 2, [enter()])).len(), 1);
        typed(&mut s, 3, "0000");
        assert_eq!(actions(&send(&mut s, 3, [enter()])), [Action::PinFailure], "no lockout");
        assert_eq!(confirm_error(&s).as_deref(), Some("wrong PIN; 4 tries left"));
    }

    #[test]
    fn another_users_wrong_pins_do_not_count_for_this_one() {
        let mut s = state();
        let mut b = Other::new(&s, 2, bob());
        b.confirm_on(&mut s, 1, "6");
        for _ in 0..5 {
            b.typed(&mut s, 1, "0000");
            b.send(&mut s, 1, [enter()]);
        }
        assert!(s.plant.lockouts.check("bob", t(1)).is_err());
        to_confirm(&mut s, 2, "SP_101", "6");
        typed(&mut s, 2, "0000");
        send(&mut s, 2, [enter()]);
        assert_eq!(confirm_error(&s).as_deref(), Some("wrong PIN; 4 tries left"));
        typed(&mut s, 2, PIN);
        assert_eq!(writes(&send(&mut s, 2, [enter()])).len(), 1);
    }

    #[test]
    fn a_pin_result_is_one_command_to_the_plant_with_its_records_in_order() {
        let mut s = state();
        to_confirm(&mut s, 1, "SP_101", "6");
        for _ in 0..4 {
            crate::plant::apply(&mut s.plant, crate::plant::Input::Pin { user: "alice".into(), ok: false }, t(1));
        }
        let Some(Dialog::Confirm(mut c)) = s.write_dialog().cloned() else { panic!("{:?}", s.write_dialog()) };
        c.secret = "0000".into();
        let effects = super::confirm(&mut s.session, &s.plant, c, t(2));
        let [super::Effect::Command(Command::Pin { from, user, ok, at, audit })] = effects.as_slice() else {
            panic!("{effects:?}")
        };
        assert_eq!((*from, user.as_str(), *ok, *at), (s.session.id, "alice", false, t(2)));
        let what: Vec<_> = audit.iter().map(|r| (r.action, r.result.clone(), r.tag.clone())).collect();
        let lock = "5 wrong PINs: writing is locked for 5 min 0 s".to_string();
        let tag = Some("SP_101".to_string());
        assert_eq!(
            what,
            [(Action::PinFailure, Some("wrong PIN".into()), tag.clone()), (Action::Lockout, Some(lock), tag)]
        );
        assert_eq!(audit[0].new, json("6"));
        assert!(s.plant.lockouts.check("alice", t(2)).is_ok(), "the session only asks; the plant counts");
        // A right PIN: the count starts again before the write goes.
        to_confirm(&mut s, 3, "SP_101", "6");
        let Some(Dialog::Confirm(mut c)) = s.write_dialog().cloned() else { panic!("{:?}", s.write_dialog()) };
        c.secret = PIN.into();
        let effects = super::confirm(&mut s.session, &s.plant, c, t(3));
        assert!(
            matches!(
                effects.as_slice(),
                [super::Effect::Command(Command::Pin { ok: true, audit, .. }), super::Effect::Command(Command::Write { .. })]
                    if audit.is_empty()
            ),
            "{effects:?}"
        );
    }

    #[test]
    fn without_a_pin_the_value_is_typed_again() {
        let mut s = state_as(with_role(Role::Operator, false), false);
        let c = to_confirm(&mut s, 1, "SP_101", "6.5");
        assert!(!c.needs_pin);
        typed(&mut s, 1, "7");
        let effects = send(&mut s, 1, [enter()]);
        assert_eq!(effects, vec![], "a different value: refused, nothing to audit as a PIN failure");
        assert!(confirm_error(&s).is_some_and(|e| e.contains("not the same value")));
        assert_eq!(send(&mut s, 1, [enter()]), vec![], "an empty retype is refused too");
        assert_eq!(s.plant.lockouts.attempts_left("alice", t(1)), crate::auth::MAX_PIN_FAILURES, "no lockout count");
        typed(&mut s, 1, "6.50");
        let effects = send(&mut s, 1, [enter()]);
        let w = writes(&effects);
        assert_eq!(w.len(), 1, "the same number, typed differently: {effects:?}");
        assert_eq!(w[0].plan.expected(), &Value::Float(6.5));
        assert_eq!(effects.len(), 1);
    }

    #[test]
    fn a_user_without_a_pin_cannot_confirm_with_the_demo_pin() {
        let mut s = state_as(with_role(Role::Operator, false), false);
        to_confirm(&mut s, 1, "SP_101", "6");
        typed(&mut s, 1, PIN);
        assert!(writes(&send(&mut s, 1, [enter()])).is_empty());
    }

    #[test]
    fn holding_enter_never_writes() {
        for pin in [true, false] {
            let mut s = state_as(with_role(Role::Operator, pin), false);
            select(&mut s, "SP_101");
            for _ in 0..20 {
                assert!(writes(&send(&mut s, 1, [enter()])).is_empty());
            }
            typed(&mut s, 1, "6");
            for _ in 0..20 {
                assert!(writes(&send(&mut s, 1, [enter()])).is_empty(), "pin: {pin}");
            }
        }
    }

    #[test]
    fn an_empty_or_too_short_pin_says_so_and_is_not_counted() {
        let mut s = state();
        to_confirm(&mut s, 1, "SP_101", "6");
        for short in ["", "1", "246"] {
            typed(&mut s, 1, short);
            let effects = send(&mut s, 1, [enter()]);
            assert_eq!(effects, vec![], "{short:?}");
            assert!(confirm_error(&s).is_some_and(|e| e.contains("4 to 32")), "{short:?}: {:?}", s.write_dialog());
            if let Overlay::Write(Dialog::Confirm(c)) = &mut s.overlay {
                c.secret.clear();
            }
        }
        assert_eq!(s.plant.lockouts.attempts_left("alice", t(1)), crate::auth::MAX_PIN_FAILURES);
    }

    // ---- changes between open and confirm ----

    /// Shows the confirmation of SP_101 ← 6, changes the state, then types the PIN and Enter.
    fn changed_then_confirmed(change: impl FnOnce(&mut State)) -> (State, Vec<Effect>) {
        let mut s = state();
        to_confirm(&mut s, 1, "SP_101", "6");
        change(&mut s);
        typed(&mut s, 2, PIN);
        let effects = send(&mut s, 2, [enter()]);
        (s, effects)
    }

    #[test]
    fn unchanged_the_same_sequence_writes() {
        let (_, effects) = changed_then_confirmed(|_| {});
        assert_eq!(writes(&effects).len(), 1, "the control for the tests below");
    }

    #[test]
    fn a_role_lowered_before_confirmation_is_refused() {
        let (s, effects) = changed_then_confirmed(|s| s.identity.role = Role::Viewer);
        assert_denied(&s, &effects, "SP_101", "you are viewer");
    }

    #[test]
    fn a_role_lowered_while_typing_the_value_is_refused_at_enter() {
        let mut s = state();
        open_on(&mut s, 1, "SP_101");
        typed(&mut s, 1, "6");
        s.identity.role = Role::Viewer;
        let effects = send(&mut s, 1, [enter()]);
        assert_denied(&s, &effects, "SP_101", "you are viewer");
    }

    #[test]
    fn limits_changed_before_confirmation_are_refused() {
        for (limits, why) in [
            ("min: 0, max: 5.5", "6 is above the maximum 5.5"),
            ("min: 6.5, max: 12", "6 is below the minimum 6.5"),
            ("min: 0, max: 12, max_step: 0.5", "more than the largest step 0.5"),
        ] {
            let (s, effects) = changed_then_confirmed(|s| s.layout = parse(limits));
            assert_denied(&s, &effects, "SP_101", why);
        }
        let (_, effects) = changed_then_confirmed(|s| s.layout = parse("min: 0, max: 100"));
        assert_eq!(writes(&effects).len(), 1, "wider limits still allow it");
    }

    #[test]
    fn a_current_value_that_moved_makes_the_step_too_large_at_confirmation() {
        let (s, effects) = changed_then_confirmed(|s| set_sample(s, "SP_101", Sample::good(Value::Float(3.0), t(1))));
        assert_denied(&s, &effects, "SP_101", "a change of 3 is more than the largest step 2");
    }

    #[test]
    fn a_connection_lost_before_confirmation_is_refused_and_nothing_is_queued() {
        let down = ConnectionState::Disconnected { reason: "refused".into(), retry_in: Duration::from_secs(2) };
        for st in [down, ConnectionState::Connecting, ConnectionState::Stopped] {
            let (mut s, effects) = changed_then_confirmed(|s| s.plant.conns[0].state = st.clone());
            assert_denied(&s, &effects, "SP_101", "connection plc1 is not up; writes are never queued");
            // The connection comes back: nothing is sent by itself.
            let back = DriverEvent::State { conn: ConnId(0), state: ConnectionState::Connected };
            assert_eq!(send(&mut s, 3, [Msg::Driver(back), Msg::Tick]), vec![]);
        }
    }

    #[test]
    fn a_connection_down_refuses_the_editor_at_once() {
        let mut s = state();
        s.plant.conns[0].state = ConnectionState::Connecting;
        let effects = open_on(&mut s, 1, "SP_101");
        assert_denied(&s, &effects, "SP_101", "connection plc1 is not up");
    }

    #[test]
    fn bad_quality_before_confirmation_is_refused_but_uncertain_is_not() {
        let bad = Sample {
            value: None,
            quality: Quality::Bad(Reason::Timeout),
            source_ts: None,
            server_ts: None,
            recv_ts: t(1),
        };
        let (s, effects) = changed_then_confirmed(|s| set_sample(s, "SP_101", bad));
        assert_denied(&s, &effects, "SP_101", "SP_101 is Bad (timeout); it cannot be written");

        let uncertain = Sample { quality: Quality::Uncertain(Reason::Stale), ..Sample::good(Value::Float(5.0), t(1)) };
        let (_, effects) = changed_then_confirmed(|s| set_sample(s, "SP_101", uncertain));
        assert_eq!(writes(&effects).len(), 1);
    }

    // ---- timeout ----

    #[test]
    fn the_editor_cancels_itself_after_60_s_of_ticks() {
        let mut s = state();
        open_on(&mut s, 100, "SP_101");
        typed(&mut s, 100, "6");
        for at in 101..160 {
            assert_eq!(send(&mut s, at, [Msg::Tick]), vec![]);
            assert!(s.write_dialog().is_some(), "still open at +{} s", at - 100);
        }
        assert_eq!(send(&mut s, 160, [Msg::Tick]), vec![]);
        assert_eq!(s.write_dialog(), None);
        assert_eq!(message(&s).0, "write to SP_101 cancelled itself after 60 s; nothing was written");
    }

    #[test]
    fn the_confirmation_cancels_itself_after_60_s_and_the_pin_typed_is_dropped() {
        let mut s = state();
        to_confirm(&mut s, 100, "SP_101", "6");
        typed(&mut s, 101, PIN);
        assert_eq!(send(&mut s, 159, [Msg::Tick]), vec![]);
        assert!(matches!(s.write_dialog(), Some(Dialog::Confirm(_))));
        assert_eq!(send(&mut s, 161, [Msg::Tick]), vec![]);
        assert_eq!(s.write_dialog(), None);
        // Enter now opens a new editor; it does not confirm the old one.
        let effects = send(&mut s, 161, [enter()]);
        assert!(writes(&effects).is_empty());
        assert!(matches!(s.write_dialog(), Some(Dialog::Edit { .. })));
    }

    #[test]
    fn a_clock_going_backwards_does_not_cancel() {
        let mut s = state();
        open_on(&mut s, 100, "SP_101");
        send(&mut s, 50, [Msg::Tick]);
        assert!(s.write_dialog().is_some());
    }

    // ---- read-only and viewers: no key sequence writes ----

    /// A small deterministic generator (xorshift), so a failure can be replayed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn random_msgs(seed: u64, n: usize) -> Vec<Msg> {
        let mut keys: Vec<Msg> = "w0123456789.-2468qjkdxon".chars().map(ch).collect();
        keys.extend(
            [KeyCode::Enter, KeyCode::Enter, KeyCode::Enter, KeyCode::Esc, KeyCode::Backspace, KeyCode::Up]
                .into_iter()
                .chain([KeyCode::Down, KeyCode::Tab, KeyCode::Home, KeyCode::End])
                .map(k),
        );
        keys.push(Msg::Tick);
        let mut rng = Rng(seed);
        (0..n).map(|_| keys[(rng.next() % keys.len() as u64) as usize].clone()).collect()
    }

    /// Presses `msgs` (with the PIN typed now and then), one second apart; returns every effect.
    fn fuzz(s: &mut State, msgs: Vec<Msg>) -> Vec<Effect> {
        let mut all = Vec::new();
        for (i, m) in msgs.into_iter().enumerate() {
            let at = i as u64;
            if i % 97 == 0 {
                all.extend(typed(s, at, PIN));
            }
            all.extend(update(s, m, t(at)));
            // Keep going after a quit, and leave help so keys reach the grid.
            s.quit = false;
            if s.help() {
                s.overlay = Overlay::None;
            }
        }
        all
    }

    #[test]
    fn read_only_opens_no_dialog_and_no_key_sequence_writes() {
        for seed in [1, 2, 3] {
            let mut s = state_as(operator(), true);
            assert!(s.write_lock(&s.plant).is_some());
            let mut all = Vec::new();
            for (i, m) in random_msgs(seed, 3000).into_iter().enumerate() {
                all.extend(update(&mut s, m, t(i as u64)));
                assert_eq!(s.write_dialog(), None, "seed {seed}, key {i}");
                s.quit = false;
                if s.help() {
                    s.overlay = Overlay::None;
                }
            }
            all.extend(fuzz(&mut s, random_msgs(seed + 100, 1000)));
            assert!(writes(&all).is_empty(), "seed {seed}");
            assert!(actions(&all).iter().all(|&a| a == Action::WriteDenied), "seed {seed}: {:?}", actions(&all));
            assert!(actions(&all).contains(&Action::WriteDenied), "seed {seed}: the keys did try to write");
        }
    }

    #[test]
    fn read_only_refuses_the_sequence_that_writes_otherwise() {
        let script = |s: &mut State| {
            select(s, "SP_101");
            let mut e = send(s, 1, [ch('w')]);
            e.extend(typed(s, 1, "6"));
            e.extend(send(s, 1, [enter()]));
            e.extend(typed(s, 1, PIN));
            e.extend(send(s, 1, [enter()]));
            e
        };
        assert_eq!(writes(&script(&mut state_as(operator(), false))).len(), 1, "the control");
        let mut s = state_as(operator(), true);
        let effects = script(&mut s);
        assert!(writes(&effects).is_empty());
        assert!(audits(&effects).iter().all(|r| r.action == Action::WriteDenied));
        assert!(message(&s).0.contains("writing is disabled: read-only"));
    }

    #[test]
    fn a_viewer_never_writes_under_random_keys() {
        for seed in [7, 8] {
            let mut s = state_as(with_role(Role::Viewer, true), false);
            let all = fuzz(&mut s, random_msgs(seed, 3000));
            assert!(writes(&all).is_empty(), "seed {seed}");
            assert_eq!(s.write_dialog(), None);
        }
    }

    // ---- results ----

    fn pending(s: &mut State) -> TagId {
        to_confirm(s, 1, "SP_101", "6.5");
        typed(s, 1, PIN);
        assert_eq!(writes(&send(s, 1, [enter()])).len(), 1);
        id(s, "SP_101")
    }

    fn done_msg(tag: TagId, result: Result<WriteDone, WriteError>) -> Msg {
        Msg::WriteDone { tag, requested: Value::Float(6.5), result }
    }

    fn written(readback: Option<Value>) -> WriteDone {
        WriteDone { expected: Value::Float(6.5), readback, how: "FC16 holding 50+2".into() }
    }

    #[test]
    fn a_confirmed_write_is_reported_and_audited_ok() {
        let mut s = state();
        let tag = pending(&mut s);
        let effects = send(&mut s, 2, [done_msg(tag, Ok(written(Some(Value::Float(6.5)))))]);
        assert_eq!(actions(&effects), [Action::WriteResult]);
        let r = audits(&effects)[0];
        assert_eq!((r.tag.as_deref(), r.result.as_deref(), r.time), (Some("SP_101"), Some("ok"), t(2)));
        assert_eq!(r.new, json("6.5"));
        assert_eq!(s.write_dialog(), None);
        assert_eq!(message(&s), ("SP_101 = 6.5 bar: written and read back (FC16 holding 50+2)".to_string(), false));
    }

    #[test]
    fn a_write_not_confirmed_by_the_readback_is_reported_as_a_failure() {
        for (readback, shown) in [(Some(Value::Float(5.0)), "5"), (None, "nothing")] {
            let mut s = state();
            let tag = pending(&mut s);
            let effects = send(&mut s, 2, [done_msg(tag, Ok(written(readback)))]);
            assert!(writes(&effects).is_empty());
            assert_eq!(actions(&effects), [Action::WriteResult]);
            let why = format!("written, but the device reads back {shown} (FC16 holding 50+2)");
            assert_eq!(audits(&effects)[0].result.as_deref(), Some(why.as_str()));
            assert_eq!(message(&s), (format!("SP_101: {why}"), true));
            assert_eq!(s.write_dialog(), None);
        }
    }

    #[test]
    fn a_failed_write_is_reported_and_audited_with_the_device_error() {
        let mut s = state();
        let tag = pending(&mut s);
        let err = WriteError::Refused(crate::driver::Refusal::Exception(2));
        let effects = send(&mut s, 2, [done_msg(tag, Err(err.clone()))]);
        assert_eq!(actions(&effects), [Action::WriteResult]);
        let text = "the device refused: exception 02 (illegal data address)";
        assert_eq!(audits(&effects)[0].result.as_deref(), Some(text));
        assert_eq!(audits(&effects)[0].outcome, Some(WriteOutcome::Refused));
        assert_eq!(message(&s), (format!("SP_101: {text}"), true));
        assert_eq!(s.write_dialog(), None);
        assert!(writes(&effects).is_empty(), "a failure is never retried by itself");
    }

    #[test]
    fn each_way_a_write_fails_is_audited_as_such_and_said_in_words() {
        use crate::driver::{NotSent, Unknown};
        let cases = [
            (
                WriteError::NotSent(NotSent::ConnectionDown("plc1".into())),
                WriteOutcome::NotSent,
                "SP_101: not written: connection `plc1` is down",
            ),
            (
                WriteError::Refused(crate::driver::Refusal::Status("Bad_OutOfRange".into())),
                WriteOutcome::Refused,
                "SP_101: the server refused the write: Bad_OutOfRange",
            ),
            (
                WriteError::OutcomeUnknown(Unknown::NoAnswer("no answer within 300ms".into())),
                WriteOutcome::Unknown,
                "SP_101: no answer within 300ms: the value may or may not have been written",
            ),
            (
                WriteError::ConnectionLost("the device closed the connection".into()),
                WriteOutcome::ConnectionLost,
                "SP_101: not confirmed, the connection broke: the device closed the connection",
            ),
        ];
        for (err, outcome, text) in cases {
            let mut s = state();
            let tag = pending(&mut s);
            let effects = send(&mut s, 2, [done_msg(tag, Err(err.clone()))]);
            let r = audits(&effects)[0];
            assert_eq!((r.action, r.outcome), (Action::WriteResult, Some(outcome)), "{err:?}");
            assert_eq!(r.result, Some(err.to_string()));
            assert_eq!(message(&s), (text.to_string(), true));
        }
        // A write the device took is `written`, confirmed or not.
        for readback in [Some(Value::Float(6.5)), None] {
            let mut s = state();
            let tag = pending(&mut s);
            let effects = send(&mut s, 2, [done_msg(tag, Ok(written(readback)))]);
            assert_eq!(audits(&effects)[0].outcome, Some(WriteOutcome::Written));
        }
    }

    // ---- the audit log fails ----

    #[test]
    fn an_audit_failure_disables_writing_and_closes_the_dialog() {
        for at_confirm in [false, true] {
            let mut s = state();
            if at_confirm {
                to_confirm(&mut s, 1, "SP_101", "6");
                typed(&mut s, 1, PIN);
            } else {
                open_on(&mut s, 1, "SP_101");
                typed(&mut s, 1, "6");
            }
            assert_eq!(send(&mut s, 2, [Msg::AuditFailed("disk full".into())]), vec![]);
            let lock = s.write_lock(&s.plant).map(|l| l.to_string());
            assert!(lock.as_deref().is_some_and(|w| w.contains("disk full")), "{lock:?}");
            assert_eq!(s.write_dialog(), None);
            let (text, bad) = message(&s);
            assert!(bad && text.contains("WRITES DISABLED") && text.contains("disk full"), "{text}");
            // Enter and the rest of the sequence now open nothing and write nothing.
            let mut all = send(&mut s, 3, [enter()]);
            all.extend(typed(&mut s, 3, "6"));
            all.extend(send(&mut s, 3, [enter()]));
            all.extend(typed(&mut s, 3, PIN));
            all.extend(send(&mut s, 3, [enter()]));
            all.extend(fuzz(&mut s, random_msgs(42, 1000)));
            assert!(writes(&all).is_empty());
            assert_eq!(s.write_dialog(), None);
        }
    }

    #[test]
    fn an_audit_failure_of_the_attempt_does_not_leave_the_dialog_pending() {
        let mut s = state();
        pending(&mut s);
        send(&mut s, 2, [Msg::AuditFailed("disk full".into())]);
        assert!(!matches!(s.write_dialog(), Some(Dialog::Pending { .. })), "{:?}", s.write_dialog());
    }

    // ---- values the tag's type cannot hold ----

    #[test]
    fn a_value_the_type_cannot_hold_is_refused_in_the_editor() {
        for input in ["70000", "-1", "1.5"] {
            let mut s = state();
            open_on(&mut s, 1, "RAW16");
            typed(&mut s, 1, input);
            send(&mut s, 1, [enter()]);
            let shown_confirm = matches!(s.write_dialog(), Some(Dialog::Confirm(_)));
            typed(&mut s, 1, PIN);
            let effects = send(&mut s, 1, [enter()]);
            assert!(writes(&effects).is_empty(), "{input}: {effects:?}");
            assert!(!shown_confirm, "{input}: refused before the confirmation");
        }
    }

    #[test]
    fn a_read_modify_write_is_warned_about_in_the_confirmation() {
        let mut s = state();
        let c = to_confirm(&mut s, 1, "BIT", "1");
        assert!(c.plan.warning().is_some_and(|w| w.contains("read-modify-write")), "{c:?}");
    }
}
