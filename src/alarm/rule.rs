//! Alarm rules and the raw condition each one computes from samples.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::tag::{Quality, Sample, TagId, Value};

/// How urgent an alarm is. Ordered: `Critical > High > Medium > Low`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
    Critical,
}

impl Priority {
    /// Highest first.
    pub const ALL: [Priority; 4] = [Priority::Critical, Priority::High, Priority::Medium, Priority::Low];

    /// The name used in layouts and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }
}

/// Which side of a limit is abnormal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    HiHi,
    Hi,
    Lo,
    LoLo,
}

impl LimitKind {
    /// The name used in layouts (`hihi`, `hi`, `lo`, `lolo`).
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::HiHi => "hihi",
            LimitKind::Hi => "hi",
            LimitKind::Lo => "lo",
            LimitKind::LoLo => "lolo",
        }
    }

    fn is_high(self) -> bool {
        matches!(self, LimitKind::HiHi | LimitKind::Hi)
    }
}

/// The value a discrete alarm fires on.
#[derive(Clone, Debug, PartialEq)]
pub enum Discrete {
    /// Fires when the value is this boolean (an integer counts as `true` when non-zero).
    Bool(bool),
    /// Fires when the value is one of these integers (a boolean counts as 0 or 1; a float only
    /// when it is exactly one of them).
    AnyOf(Vec<i64>),
}

/// What a rule watches.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleKind {
    /// Active above (`HiHi`, `Hi`) or below (`Lo`, `LoLo`) `limit`; clears only once the value is
    /// back by more than the rule's deadband (`limit - deadband` for high limits,
    /// `limit + deadband` for low ones). A value exactly at the limit does not raise.
    Limit { kind: LimitKind, limit: f64 },
    /// Active while the value matches.
    Discrete(Discrete),
    /// Active while the change per `per` between two consecutive samples exceeds `limit` (in
    /// either direction). Times are the samples' source timestamps, else their receive times.
    Rate { per: Duration, limit: f64 },
    /// Active while `|value - value of from| > limit`.
    Deviation { from: TagId, limit: f64 },
    /// Active while the rule's tag, or any of `also`, has Bad quality (Uncertain is not Bad).
    /// A connection's comms alarm is one rule over all the tags of that connection.
    BadQuality { also: Vec<TagId> },
}

/// Suppression by design: the alarm is suppressed while `tag` matches `when`. A `tag` without
/// a usable value (Bad, no value) does not suppress: when in doubt, annunciate.
#[derive(Clone, Debug, PartialEq)]
pub struct Suppress {
    pub tag: TagId,
    pub when: Discrete,
}

/// One configured alarm.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// The alarm's stable name (`T_102.hi`, `plc1.comms`): journal records are matched to alarms
    /// by it across restarts and layout edits. Empty means `alarm<index>`.
    pub key: String,
    /// The tag the alarm is about (its value is the one recorded in transitions).
    pub tag: TagId,
    /// A connection's comms alarm: the connection's name (the alarm is about it, not about
    /// `tag`, which is only the first of its tags).
    pub connection: Option<String>,
    pub kind: RuleKind,
    pub priority: Priority,
    pub message: String,
    /// Hysteresis for limit, rate and deviation rules; ignored by the others. Negative or NaN
    /// counts as 0.
    pub deadband: f64,
    /// How long the condition must hold before the alarm becomes active.
    pub on_delay: Duration,
    /// How long the condition must be gone before an active alarm clears.
    pub off_delay: Duration,
    pub suppress: Option<Suppress>,
}

impl Rule {
    /// A rule with no deadband and no delays.
    pub fn new(tag: TagId, kind: RuleKind, priority: Priority, message: impl Into<String>) -> Self {
        Rule {
            key: String::new(),
            tag,
            connection: None,
            kind,
            priority,
            message: message.into(),
            deadband: 0.0,
            on_delay: Duration::ZERO,
            off_delay: Duration::ZERO,
            suppress: None,
        }
    }

    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    pub fn suppress_when(mut self, tag: TagId, when: Discrete) -> Self {
        self.suppress = Some(Suppress { tag, when });
        self
    }

    pub fn deadband(mut self, deadband: f64) -> Self {
        self.deadband = deadband;
        self
    }

    pub fn on_delay(mut self, d: Duration) -> Self {
        self.on_delay = d;
        self
    }

    pub fn off_delay(mut self, d: Duration) -> Self {
        self.off_delay = d;
        self
    }

    /// Every tag whose updates can change this rule's condition.
    pub(crate) fn watched(&self) -> Vec<TagId> {
        let mut v = vec![self.tag];
        match &self.kind {
            RuleKind::Deviation { from, .. } => v.push(*from),
            RuleKind::BadQuality { also } => v.extend(also.iter().copied()),
            _ => {}
        }
        if let Some(s) = &self.suppress {
            v.push(s.tag);
        }
        v.sort();
        v.dedup();
        v
    }

    fn db(&self) -> f64 {
        if self.deadband.is_nan() || self.deadband < 0.0 { 0.0 } else { self.deadband }
    }
}

/// A number a numeric rule may use: Good or Uncertain quality, a value, finite. Anything else
/// (Bad, no value, text, NaN, infinity) is no evidence either way.
/// Whether a sample may change an alarm's condition: not Bad, and not a value its source says is
/// stale (a Sparkplug node that died): an alarm neither clears nor trips on it.
fn usable(s: &Sample) -> bool {
    !matches!(s.quality, Quality::Bad(_) | Quality::Uncertain(crate::tag::Reason::Stale))
}

pub(crate) fn usable_number(s: &Sample) -> Option<f64> {
    if !usable(s) {
        return None;
    }
    s.value.as_ref()?.as_f64().filter(|f| f.is_finite())
}

/// The time a sample was taken, for rates.
pub(crate) fn sample_time(s: &Sample) -> SystemTime {
    s.source_ts.unwrap_or(s.recv_ts)
}

/// Hysteresis: raise when `over`, clear when `back`, otherwise keep `prev`.
fn hyst(prev: bool, over: bool, back: bool) -> bool {
    if over {
        true
    } else if back {
        false
    } else {
        prev
    }
}

/// The raw condition of a limit rule, or `None` when the value gives no evidence.
pub(crate) fn limit_condition(rule: &Rule, kind: LimitKind, limit: f64, prev: bool, v: f64) -> bool {
    let db = rule.db();
    if kind.is_high() { hyst(prev, v > limit, v < limit - db) } else { hyst(prev, v < limit, v > limit + db) }
}

/// The raw condition of a magnitude compared with a limit (rate, deviation).
pub(crate) fn magnitude_condition(rule: &Rule, limit: f64, prev: bool, m: f64) -> bool {
    let m = m.abs();
    hyst(prev, m > limit, m < limit - rule.db())
}

/// Whether a discrete rule matches; `None` when the sample gives no evidence.
pub(crate) fn discrete_condition(d: &Discrete, s: &Sample) -> Option<bool> {
    if !usable(s) {
        return None;
    }
    let v = s.value.as_ref()?;
    match d {
        Discrete::Bool(b) => match *v {
            Value::Bool(x) => Some(x == *b),
            Value::Int(i) => Some((i != 0) == *b),
            Value::UInt(u) => Some((u != 0) == *b),
            Value::Float(_) | Value::Text(_) => None,
        },
        Discrete::AnyOf(set) => {
            let i: i64 = match *v {
                Value::Bool(x) => i64::from(x),
                Value::Int(i) => i,
                Value::UInt(u) => match i64::try_from(u) {
                    Ok(i) => i,
                    Err(_) => return Some(false),
                },
                Value::Float(f) if f.is_finite() => {
                    if f.fract() != 0.0 || f < i64::MIN as f64 || f >= i64::MAX as f64 {
                        return Some(false);
                    }
                    f as i64
                }
                Value::Float(_) | Value::Text(_) => return None,
            };
            Some(set.contains(&i))
        }
    }
}
