//! The alarm engine: ISA-18.2 / IEC 62682 alarm states, rules, delays, shelving, suppression,
//! out-of-service and flood detection.
//!
//! Pure: no I/O, no clock. Every call that can change something takes `now`, and returns the
//! [`Transition`]s it caused, one per state change, in order; nothing is coalesced or invented.
//! Layout parsing, the journal file and the screens live elsewhere.
//!
//! States (the effective state an operator sees, [`AlarmState`]):
//!
//! | from | event | to |
//! |---|---|---|
//! | Normal | condition active | Unacknowledged |
//! | Unacknowledged | acknowledge | Acknowledged |
//! | Acknowledged | condition clears | Normal |
//! | Unacknowledged | condition clears | ReturnedUnacknowledged |
//! | ReturnedUnacknowledged | acknowledge | Normal |
//! | ReturnedUnacknowledged | condition active again | Unacknowledged |
//!
//! "Condition" is after deadband and on/off delays: a condition must hold for `on_delay` before
//! the alarm activates, and be gone for `off_delay` before it clears.
//!
//! Shelved, Suppressed (by design, a condition the caller evaluates) and OutOfService override
//! that display; precedence OutOfService > Shelved > Suppressed. Their alarms are still
//! evaluated: a condition change while one of them is in force is still a [`Transition`] (with
//! `from == to` and the new `active`). When such an alarm returns to service it comes back as
//! Unacknowledged if its condition is active (re-annunciated), else Normal.
//!
//! Samples without a usable number (Bad quality, no value, text, NaN or infinity) are no
//! evidence for limit, rate and deviation rules: they neither raise nor clear them (a pending
//! delay keeps running on the last evidence). The [`RuleKind::BadQuality`] rule reports Bad
//! quality; a text tag under a limit rule simply never alarms (the layout check rejects it).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use ttyhmi::alarm::{AlarmEngine, AlarmId, AlarmState, LimitKind, Priority, Rule, RuleKind};
//! use ttyhmi::tag::{Sample, TagId, Value};
//!
//! let hi = RuleKind::Limit { kind: LimitKind::Hi, limit: 80.0 };
//! let rule = Rule::new(TagId(0), hi, Priority::High, "Outlet hot").deadband(1.0).on_delay(Duration::from_secs(5));
//! let mut engine = AlarmEngine::new(vec![rule]);
//! let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
//! assert!(engine.evaluate(TagId(0), &Sample::good(Value::Float(85.0), t0), t0).is_empty()); // on-delay
//! let t = engine.tick(t0 + Duration::from_secs(5));
//! assert_eq!((t[0].from, t[0].to), (AlarmState::Normal, AlarmState::Unacknowledged));
//! let t = engine.acknowledge(AlarmId(0), "ann", t0 + Duration::from_secs(6)).unwrap();
//! assert_eq!(t.to, AlarmState::Acknowledged);
//! ```
//!
//! Flood: every transition into Unacknowledged counts as a new alarm; more than
//! [`FLOOD_COUNT`] of them within [`FLOOD_WINDOW`] makes [`AlarmEngine::flood`] true.

mod engine;
pub mod journal;
mod rule;

#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::tag::Value;

pub use engine::{Alarm, AlarmEngine, HidingAct, Note, OnRecord, Restored, Shelve, ShelveState};
pub use rule::{Discrete, LimitKind, Priority, Rule, RuleKind, Suppress};

/// More than this many new alarms within [`FLOOD_WINDOW`] is a flood.
pub const FLOOD_COUNT: usize = 10;
/// The sliding window of flood detection.
pub const FLOOD_WINDOW: Duration = Duration::from_secs(10 * 60);
/// The longest a shelve may last unless the engine is configured otherwise.
pub const DEFAULT_MAX_SHELVE: Duration = Duration::from_secs(8 * 3600);

/// Index of an alarm: the position of its rule in the list given to [`AlarmEngine::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AlarmId(pub u32);

impl AlarmId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The state of an alarm as an operator sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmState {
    /// Condition inactive, nothing to acknowledge.
    Normal,
    /// Condition active, not acknowledged.
    Unacknowledged,
    /// Condition active, acknowledged.
    Acknowledged,
    /// Condition cleared before anyone acknowledged it.
    ReturnedUnacknowledged,
    Shelved,
    /// Suppressed by design (`suppress_when`).
    Suppressed,
    OutOfService,
}

impl AlarmState {
    /// Whether the alarm is annunciated and waits for an acknowledge.
    pub fn is_unacknowledged(self) -> bool {
        matches!(self, AlarmState::Unacknowledged | AlarmState::ReturnedUnacknowledged)
    }
}

/// One state change of one alarm: a journal record. It carries the alarm's whole state after
/// the change (condition, acknowledge, shelve, suppression, out of service), so the last record
/// of an alarm is enough to rebuild it ([`AlarmEngine::restore`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The alarm's stable name ([`Rule::key`]); records are matched to alarms by it.
    pub key: String,
    /// Its index in this run (informational: indexes change when the layout does).
    pub alarm: AlarmId,
    pub priority: Priority,
    pub from: AlarmState,
    pub to: AlarmState,
    /// The alarm's condition after the change (it can change while shelved, with `from == to`).
    pub active: bool,
    /// Whether its last activation has been acknowledged (true while Normal).
    pub acked: bool,
    #[serde(default)]
    pub suppressed: bool,
    #[serde(default)]
    pub shelved: Option<ShelveState>,
    #[serde(default)]
    pub out_of_service: Option<Note>,
    /// When the condition last became active.
    #[serde(with = "opt_time", default)]
    pub active_since: Option<SystemTime>,
    /// The value of the alarm's tag that caused it, or the latest one known.
    #[serde(serialize_with = "ser_value", deserialize_with = "de_value", default)]
    pub value: Option<Value>,
    #[serde(with = "opt_time", default)]
    pub source_ts: Option<SystemTime>,
    #[serde(with = "opt_time", default)]
    pub recv_ts: Option<SystemTime>,
    /// Who caused it, when a person did (acknowledge, shelve, out of service).
    #[serde(default)]
    pub user: Option<String>,
    /// The reason given, or what happened when the engine did it (e.g. "shelve expired").
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(with = "time_rfc3339")]
    pub at: SystemTime,
}

/// Why an operator action was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AlarmError {
    #[error("alarm {0:?} does not exist")]
    UnknownAlarm(AlarmId),
    #[error("alarm {alarm:?} is {state:?}: there is nothing to acknowledge")]
    NothingToAcknowledge { alarm: AlarmId, state: AlarmState },
    #[error("a reason is required: type why")]
    ReasonRequired,
    #[error("a shelve of {requested:?} is longer than the maximum of {max:?}: choose a shorter time")]
    ShelveTooLong { requested: Duration, max: Duration },
    #[error("a shelve must last longer than zero")]
    ZeroShelve,
    #[error("alarm {0:?} is already shelved: unshelve it first")]
    AlreadyShelved(AlarmId),
    #[error("alarm {0:?} is not shelved")]
    NotShelved(AlarmId),
    #[error("alarm {0:?} is out of service: return it to service first")]
    OutOfService(AlarmId),
    #[error("alarm {0:?} is not out of service")]
    NotOutOfService(AlarmId),
}

fn ser_value<S: Serializer>(v: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_none(),
        Some(Value::Bool(b)) => s.serialize_bool(*b),
        Some(Value::Int(i)) => s.serialize_i64(*i),
        Some(Value::UInt(u)) => s.serialize_u64(*u),
        // JSON has no NaN: non-finite floats are written as their text.
        Some(Value::Float(f)) if !f.is_finite() => s.serialize_str(&f.to_string()),
        Some(Value::Float(f)) => s.serialize_f64(*f),
        Some(Value::Text(t)) => s.serialize_str(t),
    }
}

/// A journal value back: numbers and booleans as they were written, anything else as text
/// (non-finite floats were written as text).
fn de_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        Bool(bool),
        Int(i64),
        UInt(u64),
        Float(f64),
        Text(String),
    }
    Ok(Option::<V>::deserialize(d)?.map(|v| match v {
        V::Bool(b) => Value::Bool(b),
        V::Int(i) => Value::Int(i),
        V::UInt(u) => Value::UInt(u),
        V::Float(f) => Value::Float(f),
        V::Text(t) => Value::Text(t),
    }))
}

/// Parses RFC 3339 text back into a time.
fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    use time::format_description::well_known::Rfc3339;
    let dt = time::OffsetDateTime::parse(s, &Rfc3339).ok()?;
    let nanos = dt.unix_timestamp_nanos();
    let abs = Duration::from_nanos(u64::try_from(nanos.unsigned_abs()).ok()?);
    if nanos >= 0 { SystemTime::UNIX_EPOCH.checked_add(abs) } else { SystemTime::UNIX_EPOCH.checked_sub(abs) }
}

/// `SystemTime` as RFC 3339 text (UTC, nanoseconds).
pub(crate) mod time_rfc3339 {
    use super::*;

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let s = String::deserialize(d)?;
        parse_rfc3339(&s).ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s:?}")))
    }
}

/// `Option<SystemTime>` as RFC 3339 text or null.
pub(crate) mod opt_time {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&rfc3339(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => parse_rfc3339(&s)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s:?}"))),
        }
    }
}

/// UTC, RFC 3339 with nanoseconds.
fn rfc3339(t: SystemTime) -> String {
    use time::format_description::well_known::Rfc3339;
    // Not `OffsetDateTime::from(SystemTime)`: it panics outside years -9999..=9999.
    let nanos = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => i128::try_from(e.duration().as_nanos()).map(|n| -n).unwrap_or(i128::MIN),
    };
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|dt| dt.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{t:?}"))
}

#[cfg(test)]
mod fuzz;
