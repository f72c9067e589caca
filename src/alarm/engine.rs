//! The engine: alarm runtime state and every operation that changes it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::rule::{self, Rule, RuleKind};
use super::{AlarmError, AlarmId, AlarmState, DEFAULT_MAX_SHELVE, FLOOD_COUNT, FLOOD_WINDOW, Transition, time_rfc3339};
use crate::tag::{Quality, Sample, TagId, Value};

/// How long to shelve an alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shelve {
    /// For this long (at most the engine's maximum).
    For(Duration),
    /// Until the alarm next returns to normal (and at most the engine's maximum).
    OneShot,
}

/// A shelve in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShelveState {
    pub kind: Shelve,
    /// When it expires at the latest.
    #[serde(with = "time_rfc3339")]
    pub until: SystemTime,
    pub note: Note,
}

/// Who did something, why and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub user: String,
    pub reason: String,
    #[serde(with = "time_rfc3339")]
    pub at: SystemTime,
}

/// What [`AlarmEngine::restore`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Alarms whose state came back from a record.
    pub alarms: usize,
    /// Keys of records that match no alarm of this layout (the rule was removed or renamed).
    pub unknown: Vec<String>,
    /// What a record said that was not believed, one line each: a shelve or an out of service
    /// with no matching operation on record, or a suppression of an alarm without
    /// `suppress_when`. Those alarms came back as normal, annunciated alarms.
    pub ignored: Vec<String>,
}

/// An operation a person may do to hide an alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HidingAct {
    Shelve,
    OutOfService,
}

/// A shelve or out of service on record elsewhere (the audit log, whose chain verifies), by a
/// user whose role allowed it: the only evidence [`AlarmEngine::restore`] takes for a journal
/// line that hides an alarm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnRecord {
    pub key: String,
    pub act: HidingAct,
    pub user: String,
    /// When it was put on record (before it took effect).
    pub at: SystemTime,
}

/// An operation is put on record first and takes effect right after: the journal's time of a
/// shelve is at or after its record's, and this close.
const RECORD_TO_EFFECT: Duration = Duration::from_secs(60);

impl OnRecord {
    /// Whether this record stands for the note of a shelve or out of service.
    fn backs(&self, key: &str, act: HidingAct, note: &Note) -> bool {
        self.key == key
            && self.act == act
            && self.user == note.user
            && note.at.duration_since(self.at).is_ok_and(|d| d <= RECORD_TO_EFFECT)
    }
}

/// One alarm: its rule and its state, for views. Read-only outside the engine.
#[derive(Clone, Debug)]
pub struct Alarm {
    pub id: AlarmId,
    pub rule: Rule,
    /// The condition after deadband and delays.
    pub active: bool,
    /// Whether the last activation was acknowledged (true while Normal).
    pub acked: bool,
    pub shelved: Option<ShelveState>,
    pub suppressed: bool,
    pub out_of_service: Option<Note>,
    /// The latest value of the alarm's tag seen by the engine, and its times.
    pub value: Option<Value>,
    pub source_ts: Option<SystemTime>,
    pub recv_ts: Option<SystemTime>,
    /// When the state last changed; `None` before any change.
    pub since: Option<SystemTime>,
    /// When the condition last became active (the alarm time operators sort by); `None` if it
    /// never was.
    pub active_since: Option<SystemTime>,
    /// The condition before delays.
    raw: bool,
    /// Since when `raw != active`.
    pending: Option<SystemTime>,
    /// The previous usable sample of a rate rule.
    prev: Option<(f64, SystemTime)>,
}

impl Alarm {
    /// The state an operator sees.
    pub fn state(&self) -> AlarmState {
        if self.out_of_service.is_some() {
            AlarmState::OutOfService
        } else if self.shelved.is_some() {
            AlarmState::Shelved
        } else if self.suppressed {
            AlarmState::Suppressed
        } else {
            self.process_state()
        }
    }

    /// The ISA-18.2 state of the condition and acknowledge alone, ignoring shelve, suppression
    /// and out-of-service.
    pub fn process_state(&self) -> AlarmState {
        match (self.active, self.acked) {
            (true, false) => AlarmState::Unacknowledged,
            (true, true) => AlarmState::Acknowledged,
            (false, false) => AlarmState::ReturnedUnacknowledged,
            (false, true) => AlarmState::Normal,
        }
    }

    /// Whether shelve, suppression or out-of-service is in force.
    fn in_service(&self) -> bool {
        self.out_of_service.is_none() && self.shelved.is_none() && !self.suppressed
    }
}

/// The alarm engine. See the module documentation.
#[derive(Clone, Debug)]
pub struct AlarmEngine {
    alarms: Vec<Alarm>,
    /// Alarms to re-evaluate when a tag updates.
    by_tag: HashMap<TagId, Vec<AlarmId>>,
    /// The latest sample of every watched tag.
    latest: HashMap<TagId, Sample>,
    /// When the recent new alarms happened, oldest first.
    recent: VecDeque<SystemTime>,
    /// The latest `now` seen, for [`AlarmEngine::flood`].
    now: Option<SystemTime>,
    max_shelve: Duration,
}

impl AlarmEngine {
    /// One alarm per rule, all Normal; [`AlarmId`]s are the rules' positions.
    pub fn new(rules: Vec<Rule>) -> Self {
        let mut by_tag: HashMap<TagId, Vec<AlarmId>> = HashMap::new();
        let alarms = rules
            .into_iter()
            .enumerate()
            .map(|(i, mut rule)| {
                // More than u32::MAX rules cannot be loaded from a layout; saturate rather than wrap.
                let id = AlarmId(u32::try_from(i).unwrap_or(u32::MAX));
                if rule.key.is_empty() {
                    rule.key = format!("alarm{i}");
                }
                for t in rule.watched() {
                    by_tag.entry(t).or_default().push(id);
                }
                Alarm {
                    id,
                    rule,
                    active: false,
                    acked: true,
                    shelved: None,
                    suppressed: false,
                    out_of_service: None,
                    value: None,
                    source_ts: None,
                    recv_ts: None,
                    since: None,
                    active_since: None,
                    raw: false,
                    pending: None,
                    prev: None,
                }
            })
            .collect();
        AlarmEngine {
            alarms,
            by_tag,
            latest: HashMap::new(),
            recent: VecDeque::new(),
            now: None,
            max_shelve: DEFAULT_MAX_SHELVE,
        }
    }

    /// The longest shelve allowed (default [`DEFAULT_MAX_SHELVE`]).
    pub fn with_max_shelve(mut self, max: Duration) -> Self {
        self.max_shelve = max;
        self
    }

    pub fn max_shelve(&self) -> Duration {
        self.max_shelve
    }

    /// Every alarm, in rule order.
    pub fn alarms(&self) -> &[Alarm] {
        &self.alarms
    }

    pub fn alarm(&self, id: AlarmId) -> Option<&Alarm> {
        self.alarms.get(id.index())
    }

    /// Whether more than [`FLOOD_COUNT`] new alarms happened within [`FLOOD_WINDOW`] before the
    /// latest time given to the engine.
    pub fn flood(&self) -> bool {
        let Some(now) = self.now else { return false };
        self.recent.iter().filter(|t| within_window(**t, now)).count() > FLOOD_COUNT
    }

    /// A new sample of `tag`: re-evaluates every rule that watches it. Tags no rule watches are
    /// ignored.
    pub fn evaluate(&mut self, tag: TagId, sample: &Sample, now: SystemTime) -> Vec<Transition> {
        self.saw(now);
        let mut out = Vec::new();
        let Some(ids) = self.by_tag.get(&tag) else { return out };
        self.latest.insert(tag, sample.clone());
        for &id in ids {
            let a = &mut self.alarms[id.index()];
            // No usable value: not suppressed (when in doubt, annunciate).
            let suppress = a.rule.suppress.as_ref().filter(|s| s.tag == tag);
            let on = suppress.map(|s| rule::discrete_condition(&s.when, sample).unwrap_or(false));
            if let Some(on) = on
                && on != a.suppressed
            {
                let comment = if on { "suppressed by design" } else { "suppression ended" };
                out.extend(change_mode(a, now, None, Some(comment.into()), &mut self.recent, |a| a.suppressed = on));
            }
            let main = self.latest.get(&a.rule.tag);
            if a.rule.tag == tag {
                a.value = sample.value.clone().or_else(|| a.value.take());
                a.source_ts = sample.source_ts;
                a.recv_ts = Some(sample.recv_ts);
            }
            if let Some(raw) = condition(a, tag, main, &self.latest) {
                a.raw = raw;
            }
            out.extend(step(a, now, &mut self.recent));
        }
        out
    }

    /// Time passes: on/off delays complete and shelves expire.
    pub fn tick(&mut self, now: SystemTime) -> Vec<Transition> {
        self.saw(now);
        let mut out = Vec::new();
        for a in &mut self.alarms {
            out.extend(step(a, now, &mut self.recent));
            let expired = a.shelved.as_ref().is_some_and(|s| s.until <= now);
            if expired {
                out.extend(change_mode(a, now, None, Some("shelve expired".into()), &mut self.recent, |a| {
                    a.shelved = None
                }));
            }
        }
        out
    }

    /// An operator acknowledges an Unacknowledged or ReturnedUnacknowledged alarm.
    pub fn acknowledge(&mut self, id: AlarmId, user: &str, now: SystemTime) -> Result<Transition, AlarmError> {
        self.saw(now);
        let a = self.alarms.get_mut(id.index()).ok_or(AlarmError::UnknownAlarm(id))?;
        let state = a.state();
        if !state.is_unacknowledged() {
            return Err(AlarmError::NothingToAcknowledge { alarm: id, state });
        }
        a.acked = true;
        Ok(record(a, state, now, Some(user.to_string()), None))
    }

    /// Acknowledges each of `ids` that waits for it; the others are skipped.
    pub fn acknowledge_all(&mut self, ids: &[AlarmId], user: &str, now: SystemTime) -> Vec<Transition> {
        ids.iter().filter_map(|&id| self.acknowledge(id, user, now).ok()).collect()
    }

    /// Shelves an alarm: it is still evaluated but not annunciated until the shelve ends.
    pub fn shelve(
        &mut self,
        id: AlarmId,
        how: Shelve,
        reason: &str,
        user: &str,
        now: SystemTime,
    ) -> Result<Transition, AlarmError> {
        self.saw(now);
        let max = self.max_shelve;
        let a = self.alarms.get_mut(id.index()).ok_or(AlarmError::UnknownAlarm(id))?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AlarmError::ReasonRequired);
        }
        if a.out_of_service.is_some() {
            return Err(AlarmError::OutOfService(id));
        }
        if a.shelved.is_some() {
            return Err(AlarmError::AlreadyShelved(id));
        }
        let length = match how {
            Shelve::For(d) if d.is_zero() => return Err(AlarmError::ZeroShelve),
            Shelve::For(d) if d > max => return Err(AlarmError::ShelveTooLong { requested: d, max }),
            Shelve::For(d) => d,
            Shelve::OneShot => max,
        };
        let until = now.checked_add(length).ok_or(AlarmError::ShelveTooLong { requested: length, max })?;
        let note = Note { user: user.to_string(), reason: reason.to_string(), at: now };
        let from = a.state();
        a.shelved = Some(ShelveState { kind: how, until, note });
        Ok(record(a, from, now, Some(user.to_string()), Some(reason.to_string())))
    }

    /// Ends a shelve early.
    pub fn unshelve(&mut self, id: AlarmId, user: &str, now: SystemTime) -> Result<Transition, AlarmError> {
        self.saw(now);
        let a = self.alarms.get_mut(id.index()).ok_or(AlarmError::UnknownAlarm(id))?;
        if a.shelved.is_none() {
            return Err(AlarmError::NotShelved(id));
        }
        let t = change_mode(a, now, Some(user.to_string()), Some("unshelved".into()), &mut self.recent, |a| {
            a.shelved = None
        });
        // The shelve was in force, so the displayed state changed or the record is forced below.
        Ok(t.unwrap_or_else(|| record(a, AlarmState::Shelved, now, Some(user.to_string()), Some("unshelved".into()))))
    }

    /// Suppression by design, evaluated by the caller (`suppress_when`). Returns a transition when
    /// the displayed state changes.
    pub fn set_suppressed(
        &mut self,
        id: AlarmId,
        suppressed: bool,
        now: SystemTime,
    ) -> Result<Option<Transition>, AlarmError> {
        self.saw(now);
        let a = self.alarms.get_mut(id.index()).ok_or(AlarmError::UnknownAlarm(id))?;
        if a.suppressed == suppressed {
            return Ok(None);
        }
        let comment = if suppressed { "suppressed by design" } else { "suppression ended" };
        Ok(change_mode(a, now, None, Some(comment.into()), &mut self.recent, |a| a.suppressed = suppressed))
    }

    /// Takes an alarm out of service (ends any shelve). It is still evaluated.
    pub fn out_of_service(
        &mut self,
        id: AlarmId,
        reason: &str,
        user: &str,
        now: SystemTime,
    ) -> Result<Transition, AlarmError> {
        self.saw(now);
        let a = self.alarms.get_mut(id.index()).ok_or(AlarmError::UnknownAlarm(id))?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AlarmError::ReasonRequired);
        }
        if a.out_of_service.is_some() {
            return Err(AlarmError::OutOfService(id));
        }
        let from = a.state();
        a.shelved = None;
        a.out_of_service = Some(Note { user: user.to_string(), reason: reason.to_string(), at: now });
        Ok(record(a, from, now, Some(user.to_string()), Some(reason.to_string())))
    }

    /// Returns an alarm to service: Unacknowledged if its condition is active, else Normal (or
    /// Suppressed while suppression is in force).
    pub fn return_to_service(&mut self, id: AlarmId, user: &str, now: SystemTime) -> Result<Transition, AlarmError> {
        self.saw(now);
        let a = self.alarms.get_mut(id.index()).ok_or(AlarmError::UnknownAlarm(id))?;
        if a.out_of_service.is_none() {
            return Err(AlarmError::NotOutOfService(id));
        }
        let comment = Some("returned to service".to_string());
        let t =
            change_mode(a, now, Some(user.to_string()), comment.clone(), &mut self.recent, |a| a.out_of_service = None);
        Ok(t.unwrap_or_else(|| record(a, AlarmState::OutOfService, now, Some(user.to_string()), comment)))
    }

    /// Rebuilds alarm states from journal records, oldest first: the last record of each alarm
    /// (matched by [`Rule::key`]) gives its condition, acknowledge, shelve, suppression and
    /// out-of-service. Nothing is invented: the condition stays as recorded until a sample says
    /// otherwise, and a shelve that ended while the console was down expires at the next tick.
    ///
    /// A journal is a file, and a file can be written by hand: what would hide an alarm is
    /// believed only with evidence. A shelve or an out of service comes back only when
    /// `on_record` holds it (same alarm, user and time); a shelve ends no later than the
    /// maximum shelve after it was put on record; a suppression only for an alarm with
    /// `suppress_when` (whose tag decides again at its next sample). Anything else comes back as
    /// a normal alarm, annunciated again if its condition is active, and is listed in
    /// [`Restored::ignored`].
    pub fn restore<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a Transition>,
        on_record: &[OnRecord],
    ) -> Restored {
        let index: HashMap<&str, usize> =
            self.alarms.iter().enumerate().map(|(i, a)| (a.rule.key.as_str(), i)).collect();
        let mut last: Vec<Option<&Transition>> = vec![None; self.alarms.len()];
        let mut unknown = Vec::new();
        for r in records {
            match index.get(r.key.as_str()) {
                Some(&i) => last[i] = Some(r),
                None if !unknown.contains(&r.key) => unknown.push(r.key.clone()),
                None => {}
            }
        }
        let mut restored = 0;
        let mut ignored = Vec::new();
        let max_shelve = self.max_shelve;
        for (a, r) in self.alarms.iter_mut().zip(last) {
            let Some(r) = r else { continue };
            restored += 1;
            a.active = r.active;
            a.raw = r.active;
            a.acked = r.acked;
            a.suppressed = r.suppressed && a.rule.suppress.is_some();
            if r.suppressed && !a.suppressed {
                ignored.push(format!("{}: suppressed, but it has no suppress_when", r.key));
            }
            a.shelved = r.shelved.as_ref().and_then(|sh| {
                let rec = on_record.iter().find(|o| o.backs(&r.key, HidingAct::Shelve, &sh.note));
                if rec.is_none() {
                    ignored.push(format!("{}: shelved by {}, but that is not in the audit log", r.key, sh.note.user));
                }
                // Never longer than the maximum from when it was put on record.
                rec.map(|o| ShelveState { until: sh.until.min(o.at + max_shelve), ..sh.clone() })
            });
            a.out_of_service = r.out_of_service.clone().filter(|n| {
                let backed = on_record.iter().any(|o| o.backs(&r.key, HidingAct::OutOfService, n));
                if !backed {
                    ignored.push(format!("{}: out of service by {}, but that is not in the audit log", r.key, n.user));
                }
                backed
            });
            a.value = r.value.clone();
            a.source_ts = r.source_ts;
            a.recv_ts = r.recv_ts;
            a.since = Some(r.at);
            a.active_since = r.active_since;
            a.pending = None;
            a.prev = None;
        }
        Restored { alarms: restored, unknown, ignored }
    }

    fn saw(&mut self, now: SystemTime) {
        // A clock that jumps backwards keeps the later time for flood counting.
        self.now = Some(self.now.map_or(now, |n| n.max(now)));
        let latest = self.now.unwrap_or(now);
        while self.recent.front().is_some_and(|t| !within_window(*t, latest)) {
            self.recent.pop_front();
        }
    }
}

/// Whether `t` is less than [`FLOOD_WINDOW`] before `now` (times after `now` count as within).
fn within_window(t: SystemTime, now: SystemTime) -> bool {
    now.duration_since(t).map_or(true, |age| age < FLOOD_WINDOW)
}

/// The raw condition of an alarm after an update of `tag`, or `None` for no evidence.
fn condition(a: &mut Alarm, tag: TagId, main: Option<&Sample>, latest: &HashMap<TagId, Sample>) -> Option<bool> {
    let rule = &a.rule;
    match &rule.kind {
        RuleKind::Limit { kind, limit } => {
            let v = rule::usable_number(main?)?;
            Some(rule::limit_condition(rule, *kind, *limit, a.raw, v))
        }
        RuleKind::Discrete(d) => rule::discrete_condition(d, main?),
        RuleKind::Rate { per, limit } => {
            if tag != rule.tag {
                return None;
            }
            let s = main?;
            let v = rule::usable_number(s)?;
            let t = rule::sample_time(s);
            let Some((pv, pt)) = a.prev else {
                a.prev = Some((v, t));
                return None;
            };
            match t.duration_since(pt) {
                Ok(dt) if !dt.is_zero() => {
                    a.prev = Some((v, t));
                    let rate = (v - pv) / dt.as_secs_f64() * per.as_secs_f64();
                    rate.is_finite().then(|| rule::magnitude_condition(&a.rule, *limit, a.raw, rate))
                }
                // The same time again: no rate; keep the earlier sample as the base.
                Ok(_) => None,
                // Time went backwards: start again from this sample.
                Err(_) => {
                    a.prev = Some((v, t));
                    None
                }
            }
        }
        RuleKind::Deviation { from, limit } => {
            let v = rule::usable_number(main?)?;
            let r = rule::usable_number(latest.get(from)?)?;
            Some(rule::magnitude_condition(rule, *limit, a.raw, v - r))
        }
        RuleKind::BadQuality { also } => {
            let bad = |t: &TagId| latest.get(t).is_some_and(|s| matches!(s.quality, Quality::Bad(_)));
            Some(bad(&rule.tag) || also.iter().any(bad))
        }
    }
}

/// Applies the on/off delays to the raw condition; returns the transition when the condition
/// changes.
fn step(a: &mut Alarm, now: SystemTime, recent: &mut VecDeque<SystemTime>) -> Option<Transition> {
    if a.raw == a.active {
        a.pending = None;
        return None;
    }
    let delay = if a.raw { a.rule.on_delay } else { a.rule.off_delay };
    let since = match a.pending {
        // The clock went backwards past the start of the delay: start it again, never shorten it.
        Some(p) if p <= now => p,
        _ => {
            a.pending = Some(now);
            now
        }
    };
    let elapsed = now.duration_since(since).unwrap_or(Duration::ZERO);
    if elapsed < delay {
        return None;
    }
    a.pending = None;
    let from = a.state();
    a.active = a.raw;
    let mut comment = None;
    if a.active {
        a.acked = false;
        a.active_since = Some(now);
    } else if a.shelved.as_ref().is_some_and(|s| s.kind == Shelve::OneShot) {
        a.shelved = None;
        // Back in service and back to normal: nothing left to acknowledge.
        a.acked = true;
        comment = Some("one-shot shelve ended at return to normal".to_string());
    }
    Some(announce(a, from, now, None, comment, recent))
}

/// Changes shelve, suppression or out-of-service; an alarm that comes back into service is
/// re-annunciated when active and Normal otherwise. Returns a transition when the displayed state
/// changes.
fn change_mode(
    a: &mut Alarm,
    now: SystemTime,
    user: Option<String>,
    comment: Option<String>,
    recent: &mut VecDeque<SystemTime>,
    change: impl FnOnce(&mut Alarm),
) -> Option<Transition> {
    let from = a.state();
    let was_in_service = a.in_service();
    change(a);
    if !was_in_service && a.in_service() {
        a.acked = !a.active;
    }
    if a.state() == from {
        return None;
    }
    Some(announce(a, from, now, user, comment, recent))
}

/// [`record`] of a change the engine (not a person's acknowledge) made; an alarm that became
/// Unacknowledged is a new alarm for flood detection.
fn announce(
    a: &mut Alarm,
    from: AlarmState,
    now: SystemTime,
    user: Option<String>,
    comment: Option<String>,
    recent: &mut VecDeque<SystemTime>,
) -> Transition {
    let t = record(a, from, now, user, comment);
    if t.to == AlarmState::Unacknowledged {
        recent.push_back(now);
    }
    t
}

/// The record of a change from `from` to the alarm's current state.
fn record(
    a: &mut Alarm,
    from: AlarmState,
    now: SystemTime,
    user: Option<String>,
    comment: Option<String>,
) -> Transition {
    a.since = Some(now);
    Transition {
        key: a.rule.key.clone(),
        alarm: a.id,
        priority: a.rule.priority,
        from,
        to: a.state(),
        active: a.active,
        acked: a.acked,
        suppressed: a.suppressed,
        shelved: a.shelved.clone(),
        out_of_service: a.out_of_service.clone(),
        active_since: a.active_since,
        value: a.value.clone(),
        source_ts: a.source_ts,
        recv_ts: a.recv_ts,
        user,
        comment,
        at: now,
    }
}
