//! The write flow, pure like the rest of `update`: select a writable tag → edit the value →
//! confirm (tag, old → new, raw, role; PIN or the value typed again) → the write → its result.
//! Role, limits and step are checked when the editor opens, when the value is entered, and
//! again at confirmation. Every attempt, result, denial and PIN failure becomes an audit record;
//! the write itself leaves `update` only as an [`Effect::Write`] that carries its audit record,
//! which the runtime makes durable before anything is sent.

use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent};

use super::msg::{Effect, WriteOrder};
use super::state::{Message, State};
use crate::audit::{Action, RecordInput};
use crate::auth::Role;
use crate::driver::WriteDone;
use crate::driver::modbus::codec;
use crate::layout::{Tag, TagSource};
use crate::tag::{Quality, TagId, Value};

/// An open dialog cancels itself after this long.
pub const DIALOG_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, PartialEq)]
pub enum Dialog {
    /// Typing the new value.
    Edit { tag: TagId, input: String, error: Option<String>, opened: SystemTime },
    /// Checking what will be written; the PIN (or the value again) confirms.
    Confirm(Confirm),
    /// Sent; waiting for the device.
    Pending { tag: TagId, new: Value },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Confirm {
    pub tag: TagId,
    pub old: Option<Value>,
    pub new: Value,
    /// What goes on the wire, for people.
    pub raw: String,
    pub warning: Option<String>,
    /// Typed so far (shown masked when it is a PIN).
    pub secret: String,
    pub needs_pin: bool,
    pub error: Option<String>,
    pub opened: SystemTime,
}

impl Dialog {
    pub fn tag(&self) -> TagId {
        match self {
            Dialog::Edit { tag, .. } | Dialog::Pending { tag, .. } => *tag,
            Dialog::Confirm(c) => c.tag,
        }
    }
}

/// `w` or Enter on the selected tag.
pub fn open(state: &mut State, now: SystemTime) -> Vec<Effect> {
    let Some(id) = state.selected_tag() else { return Vec::new() };
    let tag = state.layout.tag(id);
    if tag.write.is_none() {
        state.say(format!("{} is not writable", tag.name), false, now);
        return Vec::new();
    }
    if let Err(why) = may_write(state, id, now) {
        return deny(state, id, None, why, now);
    }
    state.dialog = Some(Dialog::Edit { tag: id, input: String::new(), error: None, opened: now });
    Vec::new()
}

/// Why this user may not write this tag now, if not: writing disabled, role, lockout, the
/// connection or the tag's quality.
pub fn may_write(state: &State, id: TagId, now: SystemTime) -> Result<(), String> {
    let tag = state.layout.tag(id);
    let Some(spec) = tag.write else { return Err(format!("{} is not writable", tag.name)) };
    if let Some(why) = &state.writes_disabled {
        return Err(format!("writing is disabled: {why}"));
    }
    let role = state.identity.role;
    if !role.at_least(spec.role) {
        return Err(format!("{} may be written by {} and above; you are {role}", tag.name, spec.role));
    }
    if let Err(locked) = state.pin_guard.check(now) {
        return Err(locked.message(now));
    }
    let conn = state.layout.connection(tag.conn);
    if !state.conns.get(tag.conn.index()).is_some_and(|c| c.state.is_connected()) {
        return Err(format!("connection {} is not up; writes are never queued", conn.name));
    }
    match state.store.get(id).map(|s| &s.quality) {
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
pub fn key(state: &mut State, k: KeyEvent, now: SystemTime) -> Vec<Effect> {
    let Some(dialog) = state.dialog.clone() else { return Vec::new() };
    state.dirty = true;
    match dialog {
        Dialog::Pending { .. } => Vec::new(), // waiting for the device; Esc cannot unsend
        Dialog::Edit { tag, mut input, opened, .. } => match k.code {
            KeyCode::Esc | KeyCode::Char('q') => cancel(state, "cancelled", now),
            KeyCode::Backspace => {
                input.pop();
                state.dialog = Some(Dialog::Edit { tag, input, error: None, opened });
                Vec::new()
            }
            KeyCode::Char(c) if !c.is_control() && input.chars().count() < 32 => {
                input.push(c);
                state.dialog = Some(Dialog::Edit { tag, input, error: None, opened });
                Vec::new()
            }
            KeyCode::Enter => entered(state, tag, &input, opened, now),
            _ => Vec::new(),
        },
        Dialog::Confirm(mut c) => match k.code {
            KeyCode::Esc => cancel(state, "cancelled", now),
            KeyCode::Backspace => {
                c.secret.pop();
                c.error = None;
                state.dialog = Some(Dialog::Confirm(c));
                Vec::new()
            }
            KeyCode::Char(ch) if !ch.is_control() && c.secret.chars().count() < 32 => {
                c.secret.push(ch);
                c.error = None;
                state.dialog = Some(Dialog::Confirm(c));
                Vec::new()
            }
            KeyCode::Enter => confirm(state, c, now),
            _ => Vec::new(),
        },
    }
}

fn entered(state: &mut State, id: TagId, input: &str, opened: SystemTime, now: SystemTime) -> Vec<Effect> {
    let tag = state.layout.tag(id).clone();
    let current = state.store.get(id).and_then(|s| s.value.clone());
    let new = match parse_value(&tag, current.as_ref(), input) {
        Ok(v) => v,
        Err(e) => {
            state.dialog = Some(Dialog::Edit { tag: id, input: input.to_string(), error: Some(e), opened });
            return Vec::new();
        }
    };
    if let Err(why) = check_limits(&tag, current.as_ref(), &new) {
        // Shown in the editor; a value out of limits is a denial on record.
        state.dialog = Some(Dialog::Edit { tag: id, input: input.to_string(), error: Some(why.clone()), opened });
        return vec![Effect::Audit(record(state, id, Action::WriteDenied, now).new_value(new.to_string()).result(why))];
    }
    if let Err(why) = may_write(state, id, now) {
        return deny(state, id, Some(&new), why, now);
    }
    let (raw, warning) = preview(&tag, &new);
    state.dialog = Some(Dialog::Confirm(Confirm {
        tag: id,
        old: current,
        new,
        raw,
        warning,
        secret: String::new(),
        needs_pin: state.identity.pin_hash.is_some(),
        error: None,
        opened,
    }));
    Vec::new()
}

fn check_limits(tag: &Tag, current: Option<&Value>, new: &Value) -> Result<(), String> {
    let Some(spec) = tag.write else { return Err(format!("{} is not writable", tag.name)) };
    match new {
        Value::Bool(_) => Ok(()),
        v => spec.check(current.and_then(Value::as_f64), v.as_f64().unwrap_or(f64::NAN)),
    }
}

/// What will go on the wire, and a warning when the write is not atomic.
fn preview(tag: &Tag, new: &Value) -> (String, Option<String>) {
    match &tag.source {
        TagSource::Modbus(p) => {
            let (raw, warning) = if p.table.is_bits() {
                (format!("FC05 coil {} ← {}", p.address, if new == &Value::Bool(true) { "FF00" } else { "0000" }), None)
            } else if let Some(bit) = p.bit {
                let on = new == &Value::Bool(true);
                (format!("holding {} bit {bit} ← {}", p.address, u8::from(on)), None::<String>)
            } else {
                match codec::encode_point(p, new) {
                    Ok(w) => {
                        let fc = if w.len() == 1 { "FC06" } else { "FC16" };
                        let hex: Vec<String> = w.iter().map(|x| format!("{x:04X}")).collect();
                        (format!("{fc} holding {} ← {}", p.address, hex.join(" ")), None)
                    }
                    Err(e) => (format!("cannot encode: {e}"), None),
                }
            };
            (raw, warning)
        }
        TagSource::OpcUa(u) => (format!("OPC UA Write {} (as the node's DataType)", u.node), None),
    }
}

fn confirm(state: &mut State, mut c: Confirm, now: SystemTime) -> Vec<Effect> {
    // Values, roles and connections may have changed while the dialog was open.
    let current = state.store.get(c.tag).and_then(|s| s.value.clone());
    let tag = state.layout.tag(c.tag).clone();
    if let Err(why) = may_write(state, c.tag, now).and_then(|_| check_limits(&tag, current.as_ref(), &c.new)) {
        let new = c.new.clone();
        return deny(state, c.tag, Some(&new), why, now);
    }
    if c.needs_pin {
        if !state.identity.verify_pin(&c.secret) {
            let mut effects = vec![Effect::Audit(
                record(state, c.tag, Action::PinFailure, now).new_value(c.new.to_string()).result("wrong PIN"),
            )];
            if let Some(locked) = state.pin_guard.record_failure(now) {
                let msg = locked.message(now);
                effects.push(Effect::Audit(record(state, c.tag, Action::Lockout, now).result(msg.clone())));
                state.dialog = None;
                state.say(msg, true, now);
                return effects;
            }
            c.secret.clear();
            c.error = Some(format!("wrong PIN; {} tries left", state.pin_guard.attempts_left(now)));
            state.dialog = Some(Dialog::Confirm(c));
            return effects;
        }
        state.pin_guard.record_success();
    } else {
        let again = parse_value(&tag, current.as_ref(), &c.secret);
        if again.as_ref() != Ok(&c.new) {
            c.secret.clear();
            c.error = Some("that is not the same value; type the new value again to confirm".into());
            state.dialog = Some(Dialog::Confirm(c));
            return Vec::new();
        }
    }
    let audit = record(state, c.tag, Action::WriteAttempt, now)
        .old(c.old.as_ref().map(|v| tag.format(v)).unwrap_or_else(|| "-".into()))
        .new_value(tag.format(&c.new))
        .raw(c.raw.clone());
    state.dialog = Some(Dialog::Pending { tag: c.tag, new: c.new.clone() });
    vec![Effect::Write(WriteOrder { conn: tag.conn, tag: c.tag, value: c.new, audit })]
}

/// The device answered (or the write could not be sent).
pub fn done(
    state: &mut State,
    id: TagId,
    requested: &Value,
    result: Result<WriteDone, String>,
    now: SystemTime,
) -> Vec<Effect> {
    if state.dialog.as_ref().is_some_and(|d| d.tag() == id) {
        state.dialog = None;
    }
    state.dirty = true;
    let tag = state.layout.tag(id).clone();
    let rec = record(state, id, Action::WriteResult, now).new_value(tag.format(requested));
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
        Err(e) => (format!("{}: {e}", tag.name), true, rec.result(e.clone())),
    };
    state.say(text, bad, now);
    vec![Effect::Audit(rec)]
}

/// The audit log cannot be written: writing stops (fail secure).
pub fn audit_failed(state: &mut State, reason: String, now: SystemTime) {
    state.writes_disabled = Some(format!("the audit log cannot be written ({reason})"));
    if matches!(state.dialog, Some(Dialog::Edit { .. } | Dialog::Confirm(_))) {
        state.dialog = None;
    }
    state.say(format!("WRITES DISABLED: the audit log cannot be written ({reason})"), true, now);
}

/// The clock ticked: an open dialog left alone for a minute cancels itself.
pub fn tick(state: &mut State, now: SystemTime) -> Vec<Effect> {
    let opened = match &state.dialog {
        Some(Dialog::Edit { opened, .. }) => *opened,
        Some(Dialog::Confirm(c)) => c.opened,
        _ => return Vec::new(),
    };
    if now.duration_since(opened).is_ok_and(|d| d >= DIALOG_TIMEOUT) {
        return cancel(state, "cancelled itself after 60 s", now);
    }
    Vec::new()
}

fn cancel(state: &mut State, why: &str, now: SystemTime) -> Vec<Effect> {
    if let Some(d) = state.dialog.take() {
        let name = state.layout.tag(d.tag()).name.clone();
        state.say(format!("write to {name} {why}; nothing was written"), false, now);
    }
    Vec::new()
}

fn deny(state: &mut State, id: TagId, new: Option<&Value>, why: String, now: SystemTime) -> Vec<Effect> {
    state.dialog = None;
    state.say(why.clone(), true, now);
    let mut r = record(state, id, Action::WriteDenied, now).result(why);
    if let Some(v) = new {
        r = r.new_value(v.to_string());
    }
    vec![Effect::Audit(r)]
}

fn record(state: &State, id: TagId, action: Action, now: SystemTime) -> RecordInput {
    RecordInput::new(now, &state.actor, action).tag(state.layout.tag(id).name.clone())
}

/// The lowest role of any writable tag, for help texts.
pub fn lowest_write_role(state: &State) -> Option<Role> {
    state.layout.tags.iter().filter_map(|t| t.write.map(|w| w.role)).min()
}

impl State {
    /// Shows a message on the message line.
    pub fn say(&mut self, text: String, bad: bool, now: SystemTime) {
        self.message = Some(Message { text, bad, at: now });
        self.dirty = true;
    }
}
