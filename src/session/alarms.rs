//! Alarms in a session: the alarm list (its keys, sorting, filter and the shelve /
//! out-of-service dialog), role checks, audit records and the bell. Pure like `update`; the
//! alarm states themselves are the plant's.
//!
//! An operator action is not applied when the key is pressed: the session asks the plant with a
//! [`Command::Alarm`] carrying its audit records; the plant's runtime puts them on disk and only
//! then applies the operation, and its answer comes back to this session
//! ([`PlantEvent::AlarmDone`](crate::plant::PlantEvent::AlarmDone)). Without an audit record
//! there is no acknowledge, shelve or out of service.

use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keymap::Action;
use super::msg::Effect;
use super::state::{Overlay, Session};
pub use super::views::{AlarmDialog as Dialog, AlarmList, AlarmView, DialogKind, Field};
use crate::alarm::{Alarm, AlarmId, AlarmState, Shelve, Transition};
use crate::audit::{Action as AuditAction, RecordInput};
use crate::auth::Role;
use crate::layout::Panel;
pub use crate::plant::AlarmAction;
use crate::plant::{Command, Plant};

/// While unacknowledged alarms of a bell priority wait and nobody silenced them, the bell rings
/// again this often.
pub const BELL_REPEAT: Duration = Duration::from_secs(5);
/// Longest reason kept.
const MAX_REASON: usize = 200;

/// Esc on the alarm list: back to the screen it was opened from (else the first screen that is
/// not an alarm list).
pub fn close_list(state: &mut Session) {
    let is_list = |s: &crate::layout::Screen| s.panels.iter().any(|p| matches!(p, Panel::Alarms(_)));
    let back = state
        .alarm_view
        .opened_from
        .take()
        .filter(|&i| state.layout.screens.get(i).is_some_and(|s| !is_list(s)))
        .or_else(|| state.layout.screens.iter().position(|s| !is_list(s)));
    if let Some(i) = back {
        state.screen = i;
        state.selected = 0;
        state.filter.clear();
    }
}

/// Whether the current screen is an alarm list (an `alarms:` panel fills its screen).
pub fn on_alarm_screen(state: &Session) -> bool {
    !state.diagnostics
        && state
            .layout
            .screens
            .get(state.screen)
            .is_some_and(|s| s.panels.iter().any(|p| matches!(p, Panel::Alarms(_))))
}

/// The first alarm screen of the layout.
pub fn alarm_screen(state: &Session) -> Option<usize> {
    state.layout.screens.iter().position(|s| s.panels.iter().any(|p| matches!(p, Panel::Alarms(_))))
}

/// The alarms of the shown list after the filter: highest priority first, then newest first.
pub fn rows(state: &Session, plant: &Plant) -> Vec<AlarmId> {
    let needle = state.filter.to_lowercase();
    let mut v: Vec<&Alarm> = plant
        .alarms
        .alarms()
        .iter()
        .filter(|a| state.alarm_view.list.holds(a.state()))
        .filter(|a| needle.is_empty() || matches(state, a, &needle))
        .collect();
    let time = |a: &Alarm| a.active_since.or(a.since);
    v.sort_by(|a, b| b.rule.priority.cmp(&a.rule.priority).then(time(b).cmp(&time(a))).then(a.id.cmp(&b.id)));
    v.into_iter().map(|a| a.id).collect()
}

fn matches(state: &Session, a: &Alarm, needle: &str) -> bool {
    a.rule.key.to_lowercase().contains(needle)
        || a.rule.message.to_lowercase().contains(needle)
        || state.layout.tags.get(a.rule.tag.index()).is_some_and(|t| t.description.to_lowercase().contains(needle))
}

/// The alarm under the cursor.
pub fn selected(state: &Session, plant: &Plant) -> Option<AlarmId> {
    let rows = rows(state, plant);
    rows.get(state.selected.min(rows.len().saturating_sub(1))).copied()
}

/// Transitions the plant's alarm engine produced: drawn, and the bell rings for new alarms.
pub fn record(state: &mut Session, plant: &Plant, ts: &[Transition], now: SystemTime) -> Vec<Effect> {
    if ts.is_empty() {
        return Vec::new();
    }
    state.dirty = true;
    let bell = &plant.layout.alarm_options.bell;
    let ring = state.can_acknowledge()
        && ts
            .iter()
            .any(|t| t.to == AlarmState::Unacknowledged && !t.from.is_unacknowledged() && bell.contains(&t.priority));
    if !ring {
        return Vec::new();
    }
    state.alarm_view.horn = true;
    state.alarm_view.last_bell = Some(now);
    vec![Effect::Bell]
}

/// Once a second: the bell repeats while alarms wait.
pub fn tick(state: &mut Session, plant: &Plant, now: SystemTime) -> Vec<Effect> {
    let v = &state.alarm_view;
    if !v.horn {
        return Vec::new();
    }
    if !state.bell_waiting(plant) {
        state.alarm_view.horn = false;
    } else if v.last_bell.is_none_or(|t| now.duration_since(t).is_ok_and(|d| d >= BELL_REPEAT) || t > now) {
        state.alarm_view.last_bell = Some(now);
        return vec![Effect::Bell];
    }
    Vec::new()
}

/// Keys that mean something for alarms; `None` when `a` is not an alarm key here.
pub fn key(state: &mut Session, plant: &Plant, a: Action, now: SystemTime) -> Option<Vec<Effect>> {
    match a {
        Action::Silence => {
            if state.alarm_view.horn {
                state.alarm_view.horn = false;
                state.say("bell silenced (alarms stay unacknowledged)".into(), false, now);
            }
            Some(Vec::new())
        }
        Action::Alarms => {
            match alarm_screen(state) {
                Some(i) if i != state.screen || state.diagnostics => {
                    if !on_alarm_screen(state) {
                        state.alarm_view.opened_from = Some(state.screen);
                    }
                    state.screen = i;
                    state.diagnostics = false;
                    state.selected = 0;
                    state.filter.clear();
                }
                Some(_) => {}
                None => state.say("this layout has no alarms".into(), false, now),
            }
            Some(Vec::new())
        }
        _ if !on_alarm_screen(state) => None,
        Action::Acknowledge => Some(acknowledge(state, plant, selected(state, plant).into_iter().collect(), now)),
        Action::Write => {
            state.say("no tag here: w writes the selected tag of a grid screen".into(), false, now);
            Some(Vec::new())
        }
        Action::AcknowledgeAll => {
            let ids: Vec<AlarmId> = rows(state, plant)
                .into_iter()
                .filter(|id| plant.alarms.alarm(*id).is_some_and(|a| a.state().is_unacknowledged()))
                .collect();
            Some(acknowledge(state, plant, ids, now))
        }
        Action::NextList => {
            state.alarm_view.list = state.alarm_view.list.next();
            state.selected = 0;
            Some(Vec::new())
        }
        Action::Shelve => Some(open_dialog(state, plant, DialogKind::Shelve, now)),
        Action::OutOfService => Some(open_dialog(state, plant, DialogKind::OutOfService, now)),
        _ => None,
    }
}

/// Why the console user may not do `what`, if so.
fn denied(state: &Session, plant: &Plant, needed: Role, what: &str) -> Option<String> {
    if state.read_only {
        return Some(format!("read-only console: alarms can be looked at here, not {what}"));
    }
    if let Some(why) = &plant.audit_broken {
        return Some(format!("not {what}: the audit log cannot be written ({why})"));
    }
    let role = state.identity.role;
    (!role.at_least(needed))
        .then(|| format!("{} is {role}: {what} needs {} or above", state.identity.user, needed.as_str()))
}

/// A refused alarm operation: said on screen and on record, like a refused write.
fn refuse(state: &mut Session, plant: &Plant, id: Option<AlarmId>, why: String, now: SystemTime) -> Vec<Effect> {
    if plant.audit_broken.is_some() {
        // Nothing can go on record; the screen says why.
        state.say(why, true, now);
        return Vec::new();
    }
    let mut r = RecordInput::new(now, &state.actor, AuditAction::AlarmDenied).result(why.clone());
    if let Some(a) = id.and_then(|id| plant.alarms.alarm(id)) {
        r = r.tag(a.rule.key.clone()).old(state_text(a.state()));
    }
    state.say(why, true, now);
    vec![Effect::record(state, r)]
}

fn acknowledge(state: &mut Session, plant: &Plant, ids: Vec<AlarmId>, now: SystemTime) -> Vec<Effect> {
    if let Some(why) = denied(state, plant, Role::Operator, "acknowledging") {
        let first = ids.first().copied();
        return refuse(state, plant, first, why, now);
    }
    let ids: Vec<AlarmId> =
        ids.into_iter().filter(|id| plant.alarms.alarm(*id).is_some_and(|a| a.state().is_unacknowledged())).collect();
    if ids.is_empty() {
        state.say("nothing to acknowledge".into(), false, now);
        return Vec::new();
    }
    let audit = ids.iter().map(|&id| audit(state, plant, AuditAction::AlarmAcknowledge, id, now)).collect();
    vec![order(state, AlarmAction::Acknowledge(ids), audit)]
}

/// The alarm operation as a plant command: applied once its records are on disk.
fn order(state: &Session, action: AlarmAction, audit: Vec<RecordInput>) -> Effect {
    Effect::Command(Command::Alarm { from: state.id, actor: state.actor.clone(), action, audit })
}

/// `s` on a shelved alarm unshelves it, `o` on an out-of-service one returns it to service;
/// otherwise they open the dialog asking for a reason (and a duration).
fn open_dialog(state: &mut Session, plant: &Plant, kind: DialogKind, now: SystemTime) -> Vec<Effect> {
    let what = match kind {
        DialogKind::Shelve => "shelving",
        DialogKind::OutOfService => "taking alarms out of service",
    };
    if let Some(why) = denied(state, plant, Role::Engineer, what) {
        let id = selected(state, plant);
        return refuse(state, plant, id, why, now);
    }
    let Some(id) = selected(state, plant) else {
        state.say("no alarm selected".into(), false, now);
        return Vec::new();
    };
    let Some(a) = plant.alarms.alarm(id) else { return Vec::new() };
    let undo = match (kind, a.state()) {
        (DialogKind::Shelve, AlarmState::Shelved) => Some((AlarmAction::Unshelve(id), AuditAction::AlarmUnshelve)),
        (DialogKind::OutOfService, AlarmState::OutOfService) => {
            Some((AlarmAction::ReturnToService(id), AuditAction::AlarmReturnToService))
        }
        (DialogKind::Shelve, AlarmState::OutOfService) => {
            state.say(format!("{} is out of service: return it to service first (o)", a.rule.key), true, now);
            return Vec::new();
        }
        _ => None,
    };
    if let Some((action, audit_action)) = undo {
        let audit = vec![audit(state, plant, audit_action, id, now)];
        return vec![order(state, action, audit)];
    }
    let field = if kind == DialogKind::Shelve { Field::Duration } else { Field::Reason };
    state.overlay =
        Overlay::Alarm(Dialog { id, kind, duration: "1h".into(), reason: String::new(), field, error: None });
    Vec::new()
}

/// A key while the dialog is open.
pub fn dialog_key(state: &mut Session, plant: &Plant, k: KeyEvent, now: SystemTime) -> Vec<Effect> {
    let Overlay::Alarm(mut d) = std::mem::take(&mut state.overlay) else { return Vec::new() };
    state.dirty = true;
    let text = match d.field {
        Field::Duration => &mut d.duration,
        Field::Reason => &mut d.reason,
    };
    match k.code {
        KeyCode::Esc => {
            state.say("cancelled".into(), false, now);
            return Vec::new();
        }
        KeyCode::Tab | KeyCode::BackTab if d.kind == DialogKind::Shelve => {
            d.field = if d.field == Field::Duration { Field::Reason } else { Field::Duration };
        }
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char(c)
            if !c.is_control() && !k.modifiers.contains(KeyModifiers::CONTROL) && text.chars().count() < MAX_REASON =>
        {
            text.push(c);
        }
        KeyCode::Enter => {
            if let Some(effects) = submit(state, plant, &mut d, now) {
                return effects;
            }
        }
        _ => {}
    }
    state.overlay = Overlay::Alarm(d);
    Vec::new()
}

/// Enter in the dialog: next field, or the order when everything is filled in.
fn submit(state: &mut Session, plant: &Plant, d: &mut Dialog, now: SystemTime) -> Option<Vec<Effect>> {
    d.error = None;
    let how = match d.kind {
        DialogKind::OutOfService => None,
        DialogKind::Shelve => match parse_shelve(&d.duration, plant.alarms.max_shelve()) {
            Ok(how) => Some(how),
            Err(e) => {
                d.error = Some(e);
                d.field = Field::Duration;
                return None;
            }
        },
    };
    if d.field == Field::Duration {
        d.field = Field::Reason;
        return None;
    }
    let reason = d.reason.trim().to_string();
    if reason.is_empty() {
        d.error = Some("a reason is required: type why".into());
        return None;
    }
    let (action, audit_action) = match how {
        Some(how) => (AlarmAction::Shelve { id: d.id, how, reason: reason.clone() }, AuditAction::AlarmShelve),
        None => (AlarmAction::OutOfService { id: d.id, reason: reason.clone() }, AuditAction::AlarmOutOfService),
    };
    let mut record = audit(state, plant, audit_action, d.id, now).result(reason);
    if let Some(how) = how {
        record = record.new_value(format!("shelved {}", shelve_text(how)));
    }
    Some(vec![order(state, action, vec![record])])
}

/// `30m`, `2h`, `one-shot` (until the alarm returns to normal).
pub fn parse_shelve(text: &str, max: Duration) -> Result<Shelve, String> {
    let t = text.trim().to_lowercase();
    if matches!(t.as_str(), "one-shot" | "oneshot" | "one shot" | "o") {
        return Ok(Shelve::OneShot);
    }
    let d = crate::layout::duration::parse_duration(&t)
        .map_err(|e| format!("{e}; or type one-shot to shelve until it returns to normal"))?;
    if d.is_zero() {
        return Err("a shelve must last longer than zero".into());
    }
    if d > max {
        let max = crate::layout::duration::format_duration(max);
        return Err(format!("longer than the maximum of {max}: choose a shorter time"));
    }
    Ok(Shelve::For(d))
}

pub use crate::plant::shelve_text;

fn audit(state: &Session, plant: &Plant, action: AuditAction, id: AlarmId, now: SystemTime) -> RecordInput {
    let to = match action {
        AuditAction::AlarmAcknowledge => "acknowledged",
        AuditAction::AlarmShelve => "shelved",
        AuditAction::AlarmUnshelve => "unshelved",
        AuditAction::AlarmOutOfService => "out of service",
        AuditAction::AlarmReturnToService => "in service",
        _ => "",
    };
    let r = RecordInput::new(now, &state.actor, action).new_value(to);
    match plant.alarms.alarm(id) {
        Some(a) => r.tag(a.rule.key.clone()).old(state_text(a.state())),
        None => r,
    }
}

/// The state as the alarm list shows it.
pub fn state_text(s: AlarmState) -> &'static str {
    match s {
        AlarmState::Normal => "normal",
        AlarmState::Unacknowledged => "UNACK",
        AlarmState::Acknowledged => "ack",
        AlarmState::ReturnedUnacknowledged => "RTN UNACK",
        AlarmState::Shelved => "shelved",
        AlarmState::Suppressed => "suppressed",
        AlarmState::OutOfService => "out of service",
    }
}

/// The plant answered this session's alarm operation: say what was done, or why not.
pub fn done(state: &mut Session, plant: &Plant, result: Result<String, String>, now: SystemTime) {
    match result {
        Ok(what) => state.say(what, false, now),
        Err(e) => state.say(e, true, now),
    }
    let rows = rows(state, plant).len();
    state.selected = state.selected.min(rows.saturating_sub(1));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};

    use super::*;
    use crate::alarm::{LimitKind, Priority, Rule, RuleKind};
    use crate::console::{Console as State, Effect, Msg, update};
    use crate::driver::DriverEvent;
    use crate::layout::{self, AlarmsPanel, ConnId, Screen};
    use crate::tag::{Sample, TagId, Value};

    const T1: TagId = TagId(0);
    const T2: TagId = TagId(1);

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    /// Two tags; T1.hi (high), T1.hihi (critical), T2.hi (low). Screen 1 a grid, screen 2 the
    /// alarm list.
    fn state_with(role: Role, read_only: bool, bell: Vec<Priority>) -> State {
        let src = "connections:\n  c1: { modbus_tcp: { host: h } }\ntags:\n  T1: { source: c1, holding: 0, units: degC }\n  T2: { source: c1, holding: 1 }\nscreens:\n  - title: Plant\n    panels:\n      - grid: { tags: [T1, T2] }\n";
        let mut l = layout::parse(src, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
        let limit = |tag, kind, limit, p, key: &str| {
            Rule::new(tag, RuleKind::Limit { kind, limit }, p, format!("{key} alarm")).key(key)
        };
        l.alarms = vec![
            limit(T1, LimitKind::Hi, 80.0, Priority::High, "T1.hi"),
            limit(T1, LimitKind::HiHi, 95.0, Priority::Critical, "T1.hihi"),
            limit(T2, LimitKind::Hi, 10.0, Priority::Low, "T2.hi"),
        ];
        l.alarm_options.bell = bell;
        l.screens.push(Screen { title: "Alarms".into(), panels: vec![Panel::Alarms(AlarmsPanel::default())] });
        State::new(Arc::new(l), "ann".into(), read_only, t(0)).with_role(role)
    }

    fn state(role: Role) -> State {
        state_with(role, false, Priority::ALL.to_vec())
    }

    fn value(s: &mut State, tag: TagId, v: f64, at: u64) -> Vec<Effect> {
        let sample = Sample::good(Value::Float(v), t(at));
        update(s, Msg::Driver(DriverEvent::Samples { conn: ConnId(0), samples: vec![(tag, sample)], raw: None }), t(at))
    }

    fn key(s: &mut State, code: KeyCode, at: u64) -> Vec<Effect> {
        let k = KeyEvent { code, modifiers: KeyModifiers::NONE, kind: KeyEventKind::Press, state: KeyEventState::NONE };
        update(s, Msg::Key(k), t(at))
    }

    fn typed(s: &mut State, text: &str, at: u64) {
        for c in text.chars() {
            assert_eq!(key(s, KeyCode::Char(c), at), vec![]);
        }
    }

    fn journaled(effects: &[Effect]) -> Vec<(String, AlarmState, AlarmState)> {
        effects
            .iter()
            .flat_map(|e| match e {
                Effect::Journal(ts) => ts.iter().map(|t| (t.key.clone(), t.from, t.to)).collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// The runtime's part: the audit records are on disk, apply the action.
    fn on_record(s: &mut State, effects: Vec<Effect>, at: u64) -> (Vec<RecordInput>, Vec<Effect>) {
        let mut audit = Vec::new();
        let mut out = Vec::new();
        for e in effects {
            match e {
                Effect::AlarmAction(o) => {
                    audit.extend(o.audit);
                    out.extend(update(s, Msg::Alarm(o.action), t(at)));
                }
                other => panic!("unexpected effect {other:?}"),
            }
        }
        (audit, out)
    }

    /// A key whose alarm action the runtime records and feeds back.
    fn act(s: &mut State, code: KeyCode, at: u64) -> (Vec<RecordInput>, Vec<Effect>) {
        let e = key(s, code, at);
        assert!(!e.is_empty(), "{code:?} did nothing: {:?}", s.message);
        on_record(s, e, at)
    }

    fn state_of(s: &State, key: &str) -> AlarmState {
        s.plant.alarms.alarms().iter().find(|a| a.rule.key == key).map(|a| a.state()).unwrap_or(AlarmState::Normal)
    }

    fn row_keys(s: &State) -> Vec<String> {
        rows(s, &s.plant)
            .into_iter()
            .map(|id| s.plant.alarms.alarm(id).map(|a| a.rule.key.clone()).unwrap_or_default())
            .collect()
    }

    #[test]
    fn a_value_over_a_limit_is_journaled_and_rings() {
        let mut s = state(Role::Operator);
        assert_eq!(value(&mut s, T1, 50.0, 1), vec![]);
        let e = value(&mut s, T1, 90.0, 2);
        assert_eq!(journaled(&e), [("T1.hi".into(), AlarmState::Normal, AlarmState::Unacknowledged)]);
        assert!(e.contains(&Effect::Bell));
        assert!(s.alarm_view.horn);
        // Unchanged value: nothing new.
        assert_eq!(value(&mut s, T1, 90.0, 3), vec![]);
    }

    #[test]
    fn bell_repeats_until_silenced_or_acknowledged_and_rings_again_for_a_new_alarm() {
        let mut s = state(Role::Operator);
        value(&mut s, T1, 90.0, 1);
        let bells = |s: &mut State, from: u64, to: u64| {
            (from..=to).filter(|&i| update(s, Msg::Tick, t(i)).contains(&Effect::Bell)).count()
        };
        assert_eq!(bells(&mut s, 2, 11), 2, "every 5 s: at 6 and 11");
        assert_eq!(key(&mut s, KeyCode::Char('x'), 12), vec![]);
        assert!(!s.alarm_view.horn);
        assert!(s.message.as_ref().unwrap().text.contains("silenced"));
        assert_eq!(bells(&mut s, 13, 30), 0);
        assert_eq!(state_of(&s, "T1.hi"), AlarmState::Unacknowledged, "silence is not acknowledge");
        assert!(value(&mut s, T1, 99.0, 31).contains(&Effect::Bell), "a new alarm rings again");
        assert_eq!(bells(&mut s, 32, 36), 1);
        // Acknowledged: nothing left to ring for.
        s.screen = 1;
        act(&mut s, KeyCode::Char('A'), 37);
        assert_eq!(bells(&mut s, 38, 50), 0);
        assert!(!s.alarm_view.horn);
    }

    #[test]
    fn the_bell_repeats_only_for_active_unacknowledged_alarms() {
        // Issue 12 A.7: it went on ringing for an alarm back to normal.
        let mut s = state(Role::Operator);
        assert!(value(&mut s, T1, 90.0, 1).contains(&Effect::Bell));
        let e = value(&mut s, T1, 20.0, 2);
        assert!(!e.contains(&Effect::Bell), "returned to normal: no new bell");
        assert_eq!(journaled(&e), [("T1.hi".into(), AlarmState::Unacknowledged, AlarmState::ReturnedUnacknowledged)]);
        assert_eq!(state_of(&s, "T1.hi"), AlarmState::ReturnedUnacknowledged);
        let bells = (3..=20).filter(|&i| update(&mut s, Msg::Tick, t(i)).contains(&Effect::Bell)).count();
        assert_eq!(bells, 0, "nothing active to ring for");
        assert!(!s.alarm_view.horn);
    }

    #[test]
    fn a_console_that_cannot_acknowledge_never_rings() {
        for (role, ro) in [(Role::Viewer, false), (Role::Admin, true)] {
            let mut s = state_with(role, ro, Priority::ALL.to_vec());
            let e = value(&mut s, T1, 99.0, 1);
            assert_eq!(journaled(&e).len(), 2, "the alarms are there");
            assert!(!e.contains(&Effect::Bell), "{role:?} read-only {ro}");
            let bells = (2..=20).filter(|&i| update(&mut s, Msg::Tick, t(i)).contains(&Effect::Bell)).count();
            assert_eq!(bells, 0, "{role:?} read-only {ro}");
        }
    }

    #[test]
    fn esc_on_the_alarm_list_goes_back_to_where_a_was_pressed() {
        let mut s = state(Role::Operator);
        key(&mut s, KeyCode::Char('a'), 1);
        assert_eq!(s.screen, 1);
        key(&mut s, KeyCode::Esc, 1);
        assert_eq!((s.screen, s.quit), (0, false));
        // Reached by number: Esc goes to the first screen that is not an alarm list.
        key(&mut s, KeyCode::Char('2'), 1);
        key(&mut s, KeyCode::Esc, 1);
        assert_eq!(s.screen, 0);
        // With a filter kept, Esc clears it first.
        key(&mut s, KeyCode::Char('a'), 1);
        key(&mut s, KeyCode::Char('/'), 1);
        typed(&mut s, "T1", 1);
        key(&mut s, KeyCode::Enter, 1);
        key(&mut s, KeyCode::Esc, 1);
        assert_eq!((s.screen, s.filter.as_str()), (1, ""));
        key(&mut s, KeyCode::Esc, 1);
        assert_eq!(s.screen, 0);
    }

    #[test]
    fn priorities_without_a_bell_do_not_ring() {
        let mut s = state_with(Role::Operator, false, vec![Priority::Critical]);
        let e = value(&mut s, T1, 90.0, 1);
        assert_eq!(journaled(&e).len(), 1);
        assert!(!e.contains(&Effect::Bell) && !s.alarm_view.horn);
        assert!(value(&mut s, T1, 96.0, 2).contains(&Effect::Bell));
        let mut s = state_with(Role::Operator, false, vec![]);
        assert!(!value(&mut s, T1, 99.0, 1).contains(&Effect::Bell));
    }

    #[test]
    fn acknowledge_is_applied_only_once_on_record() {
        let mut s = state(Role::Operator);
        value(&mut s, T1, 90.0, 1);
        key(&mut s, KeyCode::Char('a'), 2);
        assert_eq!(s.screen, 1, "a goes to the alarm list");
        let e = key(&mut s, KeyCode::Char(' '), 3);
        let [Effect::AlarmAction(order)] = e.as_slice() else { panic!("{e:?}") };
        assert_eq!(order.action, AlarmAction::Acknowledge(vec![AlarmId(0)]));
        assert_eq!(order.audit.len(), 1);
        assert_eq!(order.audit[0].action, AuditAction::AlarmAcknowledge);
        assert_eq!(order.audit[0].tag.as_deref(), Some("T1.hi"));
        assert_eq!(state_of(&s, "T1.hi"), AlarmState::Unacknowledged, "not before it is on record");
        let (_, after) = on_record(&mut s, e, 4);
        assert_eq!(journaled(&after), [("T1.hi".into(), AlarmState::Unacknowledged, AlarmState::Acknowledged)]);
        let Some(Effect::Journal(ts)) = after.first() else { panic!() };
        assert_eq!(ts[0].user.as_deref(), Some("ann"));
        assert_eq!(s.message.as_ref().unwrap().text, "T1.hi: 1 alarm acknowledged");
        // Enter acknowledges too; there is nothing left. `w` (write) does not acknowledge.
        assert_eq!(key(&mut s, KeyCode::Enter, 5), vec![]);
        assert_eq!(s.message.as_ref().unwrap().text, "nothing to acknowledge");
        value(&mut s, T1, 99.0, 6);
        assert_eq!(key(&mut s, KeyCode::Char('w'), 7), vec![]);
        assert_eq!(state_of(&s, "T1.hihi"), AlarmState::Unacknowledged);
        assert!(s.message.as_ref().unwrap().text.starts_with("no tag here"));
        assert_eq!(act(&mut s, KeyCode::Enter, 8).0.len(), 1);
    }

    #[test]
    fn the_list_sorts_by_priority_then_newest_and_ack_all_takes_only_what_is_shown() {
        let mut s = state(Role::Operator);
        value(&mut s, T2, 20.0, 1);
        value(&mut s, T1, 90.0, 2);
        value(&mut s, T1, 99.0, 3);
        s.screen = 1;
        assert_eq!(row_keys(&s), ["T1.hihi", "T1.hi", "T2.hi"]);
        key(&mut s, KeyCode::Char('/'), 4);
        typed(&mut s, "t1.", 4);
        key(&mut s, KeyCode::Enter, 4);
        assert_eq!(row_keys(&s), ["T1.hihi", "T1.hi"]);
        let (audit, _) = act(&mut s, KeyCode::Char('A'), 5);
        assert_eq!(audit.len(), 2);
        assert_eq!(state_of(&s, "T1.hihi"), AlarmState::Acknowledged);
        assert_eq!(state_of(&s, "T2.hi"), AlarmState::Unacknowledged, "filtered out: not acknowledged");
        // Down moves the alarm cursor.
        key(&mut s, KeyCode::Esc, 6);
        key(&mut s, KeyCode::Down, 6);
        key(&mut s, KeyCode::Down, 6);
        key(&mut s, KeyCode::Down, 6);
        assert_eq!(selected(&s, &s.plant), Some(AlarmId(2)));
    }

    #[test]
    fn viewers_and_read_only_consoles_look_but_do_not_touch() {
        for (role, ro) in [(Role::Viewer, false), (Role::Admin, true)] {
            let mut s = state_with(role, ro, Priority::ALL.to_vec());
            value(&mut s, T1, 90.0, 1);
            s.screen = 1;
            for c in [KeyCode::Char(' '), KeyCode::Char('A'), KeyCode::Enter, KeyCode::Char('s'), KeyCode::Char('o')] {
                // Issue 12 D.20: refused like a refused write, and on record like one.
                let e = key(&mut s, c, 2);
                let [Effect::Audit(r)] = e.as_slice() else { panic!("{role:?} read-only {ro}: {c:?}: {e:?}") };
                assert_eq!(r.action, AuditAction::AlarmDenied, "{c:?}");
                assert_eq!(r.tag.as_deref(), Some("T1.hi"), "{c:?}");
                assert!(r.result.as_deref().is_some_and(|w| !w.is_empty()), "{c:?}: why");
                assert!(s.alarm_dialog().is_none());
                assert!(s.message.as_ref().unwrap().bad);
            }
            assert_eq!(state_of(&s, "T1.hi"), AlarmState::Unacknowledged);
            // Looking around still works.
            key(&mut s, KeyCode::Char('v'), 3);
            assert_eq!(s.alarm_view.list, AlarmList::Shelved);
        }
    }

    #[test]
    fn operators_acknowledge_but_do_not_shelve() {
        let mut s = state(Role::Operator);
        value(&mut s, T1, 90.0, 1);
        s.screen = 1;
        let denied =
            |e: Vec<Effect>| matches!(e.as_slice(), [Effect::Audit(r)] if r.action == AuditAction::AlarmDenied);
        assert!(denied(key(&mut s, KeyCode::Char('s'), 2)));
        assert_eq!(s.message.as_ref().unwrap().text, "ann is operator: shelving needs engineer or above");
        assert!(denied(key(&mut s, KeyCode::Char('o'), 2)));
        assert!(s.message.as_ref().unwrap().text.contains("out of service needs engineer"));
    }

    #[test]
    fn shelve_asks_a_duration_and_a_reason_and_unshelve_undoes_it() {
        let mut s = state(Role::Engineer);
        value(&mut s, T1, 90.0, 1);
        s.screen = 1;
        assert_eq!(key(&mut s, KeyCode::Char('s'), 2), vec![]);
        let d = s.alarm_dialog().cloned().unwrap();
        assert_eq!(
            (d.id, d.kind, d.field, d.duration.as_str()),
            (AlarmId(0), DialogKind::Shelve, Field::Duration, "1h")
        );
        key(&mut s, KeyCode::Backspace, 2);
        key(&mut s, KeyCode::Backspace, 2);
        typed(&mut s, "9h", 2);
        assert_eq!(key(&mut s, KeyCode::Enter, 2), vec![]);
        assert!(s.alarm_dialog().as_ref().unwrap().error.as_ref().unwrap().contains("maximum of 8h"));
        key(&mut s, KeyCode::Backspace, 2);
        key(&mut s, KeyCode::Backspace, 2);
        typed(&mut s, "30m", 2);
        assert_eq!(key(&mut s, KeyCode::Enter, 2), vec![]);
        assert_eq!(s.alarm_dialog().as_ref().unwrap().field, Field::Reason);
        assert_eq!(key(&mut s, KeyCode::Enter, 2), vec![], "no reason, no shelve");
        assert_eq!(s.alarm_dialog().as_ref().unwrap().error.as_deref(), Some("a reason is required: type why"));
        typed(&mut s, "transmitter drifting", 2);
        let e = key(&mut s, KeyCode::Enter, 3);
        assert!(s.alarm_dialog().is_none());
        let (audit, after) = on_record(&mut s, e, 3);
        assert_eq!(audit[0].action, AuditAction::AlarmShelve);
        assert_eq!(audit[0].result.as_deref(), Some("transmitter drifting"));
        assert_eq!(journaled(&after), [("T1.hi".into(), AlarmState::Unacknowledged, AlarmState::Shelved)]);
        assert_eq!(row_keys(&s), Vec::<String>::new(), "gone from the active list");
        key(&mut s, KeyCode::Char('v'), 4);
        assert_eq!(row_keys(&s), ["T1.hi"], "in the shelved list");
        let (audit, after) = act(&mut s, KeyCode::Char('s'), 5);
        assert_eq!(audit[0].action, AuditAction::AlarmUnshelve);
        assert_eq!(journaled(&after), [("T1.hi".into(), AlarmState::Shelved, AlarmState::Unacknowledged)]);
    }

    #[test]
    fn one_shot_shelve_and_a_cancelled_dialog() {
        let mut s = state(Role::Admin);
        value(&mut s, T1, 90.0, 1);
        s.screen = 1;
        key(&mut s, KeyCode::Char('s'), 2);
        key(&mut s, KeyCode::Esc, 2);
        assert!(s.alarm_dialog().is_none());
        assert_eq!(state_of(&s, "T1.hi"), AlarmState::Unacknowledged);
        key(&mut s, KeyCode::Char('s'), 2);
        key(&mut s, KeyCode::Backspace, 2);
        key(&mut s, KeyCode::Backspace, 2);
        typed(&mut s, "one-shot", 2);
        key(&mut s, KeyCode::Tab, 2);
        typed(&mut s, "known fault", 2);
        let (audit, _) = act(&mut s, KeyCode::Enter, 3);
        assert_eq!(audit[0].new, Some(serde_json::Value::from("shelved one-shot")));
        assert_eq!(state_of(&s, "T1.hi"), AlarmState::Shelved);
        // Back to normal ends a one-shot shelve.
        value(&mut s, T1, 50.0, 4);
        assert_eq!(state_of(&s, "T1.hi"), AlarmState::Normal);
    }

    #[test]
    fn out_of_service_needs_a_reason_and_o_returns_it() {
        let mut s = state(Role::Engineer);
        value(&mut s, T1, 90.0, 1);
        s.screen = 1;
        key(&mut s, KeyCode::Char('o'), 2);
        assert_eq!(s.alarm_dialog().as_ref().unwrap().field, Field::Reason);
        typed(&mut s, "sensor replaced", 2);
        let (audit, _) = act(&mut s, KeyCode::Enter, 3);
        assert_eq!(audit[0].action, AuditAction::AlarmOutOfService);
        assert_eq!(state_of(&s, "T1.hi"), AlarmState::OutOfService);
        // Still evaluated while out of service; shelving it is refused with a reason.
        key(&mut s, KeyCode::Char('v'), 4);
        key(&mut s, KeyCode::Char('v'), 4);
        key(&mut s, KeyCode::Char('v'), 4);
        assert_eq!(row_keys(&s), ["T1.hi"]);
        assert_eq!(key(&mut s, KeyCode::Char('s'), 4), vec![]);
        assert!(s.message.as_ref().unwrap().text.contains("return it to service first"));
        let (audit, after) = act(&mut s, KeyCode::Char('o'), 5);
        assert_eq!(audit[0].action, AuditAction::AlarmReturnToService);
        assert_eq!(journaled(&after), [("T1.hi".into(), AlarmState::OutOfService, AlarmState::Unacknowledged)]);
    }

    #[test]
    fn a_broken_audit_log_stops_alarm_operations() {
        let mut s = state(Role::Admin);
        value(&mut s, T1, 90.0, 1);
        s.screen = 1;
        update(&mut s, Msg::AuditFailed("disk full".into()), t(2));
        assert_eq!(key(&mut s, KeyCode::Char(' '), 3), vec![], "nothing can go on record");
        assert!(s.message.as_ref().unwrap().text.contains("audit log cannot be written (disk full)"));
        assert_eq!(state_of(&s, "T1.hi"), AlarmState::Unacknowledged);
    }

    #[test]
    fn alarm_keys_away_from_the_alarm_list_do_nothing() {
        let mut s = state(Role::Admin);
        value(&mut s, T1, 90.0, 1);
        for c in [' ', 'A', 's', 'o', 'v'] {
            assert_eq!(key(&mut s, KeyCode::Char(c), 2), vec![], "{c}");
        }
        assert!(s.alarm_dialog().is_none() && s.alarm_view.list == AlarmList::Active);
        assert_eq!(state_of(&s, "T1.hi"), AlarmState::Unacknowledged);
    }

    #[test]
    fn shelve_durations() {
        let max = Duration::from_secs(8 * 3600);
        assert_eq!(parse_shelve("30m", max), Ok(Shelve::For(Duration::from_secs(1800))));
        assert_eq!(parse_shelve(" One-Shot ", max), Ok(Shelve::OneShot));
        assert!(parse_shelve("0s", max).is_err());
        assert!(parse_shelve("9h", max).unwrap_err().contains("maximum of 8h"));
        assert!(parse_shelve("soon", max).unwrap_err().contains("one-shot"));
        assert!(parse_shelve("", max).is_err());
    }
}
