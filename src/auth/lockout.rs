//! The PIN lockouts of every user of a plant: one [`PinGuard`] per user, whatever the number of
//! that user's sessions, and their text form for the file that keeps them across a restart.
//! Pure: the caller passes the time and does the file I/O.
//!
//! The text form is JSON, written by the console server only:
//!
//! ```json
//! { "version": 1, "users": { "alice": { "failures": 5, "locked_until": "2026-11-29T19:15:00Z" },
//!                            "bob": { "failures": 2 } } }
//! ```
//!
//! Only users with wrong PINs counted or a lock that still holds are kept.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::pin::{Locked, MAX_PIN_FAILURES, PIN_LOCKOUT, PinGuard};

/// The version of the text form [`Lockouts::to_json`] writes and [`Lockouts::from_json`] reads.
const VERSION: u32 = 1;

/// Wrong PINs and locks, per user.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use ttyhmi::auth::Lockouts;
/// let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
/// let mut l = Lockouts::default();
/// for _ in 0..4 { assert!(l.record("alice", false, t0).is_none()); }
/// assert_eq!(l.attempts_left("alice", t0), 1);
/// assert!(l.record("alice", false, t0).is_some());
/// assert!(l.check("alice", t0).is_err());
/// assert!(l.check("bob", t0).is_ok());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lockouts {
    users: BTreeMap<String, PinGuard>,
}

impl Lockouts {
    /// Ok when `user` may try a PIN (and write) at `now`; else the lock.
    pub fn check(&self, user: &str, now: SystemTime) -> Result<(), Locked> {
        self.users.get(user).map_or(Ok(()), |g| g.check(now))
    }

    /// Wrong PINs `user` may still enter before writing is locked.
    pub fn attempts_left(&self, user: &str, now: SystemTime) -> u32 {
        self.users.get(user).map_or(MAX_PIN_FAILURES, |g| g.attempts_left(now))
    }

    /// The guard of `user` as it is now (a fresh one if nothing is counted): what the next PIN
    /// result will be applied to.
    pub fn guard(&self, user: &str) -> PinGuard {
        self.users.get(user).cloned().unwrap_or_default()
    }

    /// A PIN result of `user` at `now`. A wrong PIN counts (the fifth in a row locks writing for
    /// [`PIN_LOCKOUT`]); a right PIN starts the count again, but never lifts a lock that holds.
    /// Returns the lock when writing is locked for `user` after it. Users whose lock ran out are
    /// dropped.
    pub fn record(&mut self, user: &str, ok: bool, now: SystemTime) -> Option<Locked> {
        let locked = if ok {
            match self.check(user, now) {
                Err(locked) => Some(locked),
                Ok(()) => {
                    self.users.remove(user);
                    None
                }
            }
        } else {
            self.users.entry(user.to_string()).or_default().record_failure(now)
        };
        self.users.retain(|_, g| !g.is_clear(now));
        locked
    }

    /// The users with wrong PINs counted or a lock at `now`.
    pub fn users(&self, now: SystemTime) -> Vec<&str> {
        self.users.iter().filter(|(_, g)| !g.is_clear(now)).map(|(u, _)| u.as_str()).collect()
    }

    /// The text form at `now`: only users with wrong PINs counted or a lock that still holds.
    pub fn to_json(&self, now: SystemTime) -> String {
        let users = self
            .users
            .iter()
            .filter(|(_, g)| !g.is_clear(now))
            .map(|(u, g)| {
                let locked_until = g.locked_until.and_then(|t| OffsetDateTime::from(t).format(&Rfc3339).ok());
                (u.clone(), Entry { failures: g.failures, locked_until })
            })
            .collect();
        let file = File { version: VERSION, users };
        // A map of strings to plain numbers and strings always serialises.
        let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads the text form at `now`: locks that ran out are dropped, and a lock that would last
    /// longer than [`PIN_LOCKOUT`] from `now` (a clock set back, an edited file) is cut to it.
    /// Returns the lockouts and what was skipped (an entry that makes no sense), or why nothing
    /// could be read.
    pub fn from_json(text: &[u8], now: SystemTime) -> Result<(Lockouts, Vec<String>), String> {
        let file: File = serde_json::from_slice(text).map_err(|e| format!("not a lockouts file: {e}"))?;
        if file.version != VERSION {
            return Err(format!("version {} is not {VERSION}, the one this ttyhmi reads", file.version));
        }
        let mut lockouts = Lockouts::default();
        let mut skipped = Vec::new();
        for (user, entry) in file.users {
            match entry.guard(now) {
                Ok(g) if !g.is_clear(now) => {
                    lockouts.users.insert(user, g);
                }
                Ok(_) => {}
                Err(why) => skipped.push(format!("{}: {why}", crate::sanitize::clean(&user))),
            }
        }
        Ok((lockouts, skipped))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    users: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    failures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    locked_until: Option<String>,
}

impl Entry {
    /// The guard this entry stands for at `now`. Without a lock the count stays below the
    /// limit (the next wrong PIN locks); with one it is at the limit.
    fn guard(&self, now: SystemTime) -> Result<PinGuard, String> {
        let Some(until) = &self.locked_until else {
            return Ok(PinGuard { failures: self.failures.min(MAX_PIN_FAILURES - 1), locked_until: None });
        };
        let until: SystemTime = OffsetDateTime::parse(until, &Rfc3339)
            .map_err(|e| format!("locked_until `{}` is not an RFC 3339 time: {e}", crate::sanitize::clean(until)))?
            .into();
        if until <= now {
            return Ok(PinGuard::default());
        }
        let longest = now.checked_add(PIN_LOCKOUT).unwrap_or(now);
        Ok(PinGuard { failures: MAX_PIN_FAILURES, locked_until: Some(until.min(longest)) })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn fail(l: &mut Lockouts, user: &str, n: u32, at: u64) -> Option<Locked> {
        (0..n).map(|_| l.record(user, false, t(at))).last().flatten()
    }

    #[test]
    fn counts_are_per_user_and_the_fifth_wrong_pin_locks() {
        let mut l = Lockouts::default();
        assert_eq!(fail(&mut l, "alice", 3, 0), None);
        assert_eq!(fail(&mut l, "bob", 4, 0), None);
        assert_eq!((l.attempts_left("alice", t(0)), l.attempts_left("bob", t(0))), (2, 1));
        assert_eq!(l.attempts_left("carol", t(0)), MAX_PIN_FAILURES);
        assert_eq!(fail(&mut l, "alice", 1, 1), None);
        let lock = l.record("alice", false, t(2)).expect("the fifth locks");
        assert_eq!(lock.until, t(302));
        assert_eq!(l.check("alice", t(301)), Err(lock));
        assert_eq!(l.attempts_left("alice", t(2)), 0);
        assert!(l.check("bob", t(2)).is_ok() && l.check("carol", t(2)).is_ok());
        assert_eq!(l.users(t(2)), ["alice", "bob"]);
        // A wrong PIN while locked does not extend the lock.
        assert_eq!(l.record("alice", false, t(100)), Some(lock));
        assert!(l.check("alice", t(302)).is_ok());
        assert_eq!(l.attempts_left("alice", t(302)), MAX_PIN_FAILURES);
    }

    #[test]
    fn a_right_pin_resets_the_count_but_never_lifts_a_lock() {
        let mut l = Lockouts::default();
        fail(&mut l, "alice", 4, 0);
        assert_eq!(l.record("alice", true, t(1)), None);
        assert_eq!(l.attempts_left("alice", t(1)), MAX_PIN_FAILURES);
        assert_eq!(l, Lockouts::default(), "nothing kept for a user with nothing counted");
        let lock = fail(&mut l, "alice", 5, 10).expect("locked");
        assert_eq!(l.record("alice", true, t(11)), Some(lock));
        assert_eq!(l.check("alice", t(11)), Err(lock));
        assert_eq!(l.record("alice", true, t(310)), None, "after the lock ran out");
        assert_eq!(l, Lockouts::default());
    }

    #[test]
    fn locks_that_ran_out_are_dropped() {
        let mut l = Lockouts::default();
        fail(&mut l, "alice", 5, 0);
        fail(&mut l, "bob", 1, 0);
        assert_eq!(l.users(t(300)), ["bob"]);
        l.record("bob", false, t(300));
        assert_eq!(l.users(t(300)), ["bob"]);
        assert_eq!(l.guard("alice"), PinGuard::default(), "alice's entry is gone");
        assert_eq!(l.attempts_left("bob", t(300)), 3);
    }

    #[test]
    fn the_text_form_keeps_counts_and_locks_that_hold() {
        let mut l = Lockouts::default();
        fail(&mut l, "alice", 5, 0);
        fail(&mut l, "bob", 2, 0);
        fail(&mut l, "carol", 5, 0);
        l.record("dave", true, t(0));
        let text = l.to_json(t(10));
        let (back, skipped) = Lockouts::from_json(text.as_bytes(), t(10)).expect("reads back");
        assert_eq!((back, skipped), (l.clone(), vec![]));
        assert!(text.contains("\"alice\"") && text.contains("locked_until") && !text.contains("dave"), "{text}");
        // Later, only what still holds is written.
        let later = l.to_json(t(300));
        assert!(!later.contains("alice") && !later.contains("carol") && later.contains("\"bob\""), "{later}");
        let (back, _) = Lockouts::from_json(text.as_bytes(), t(300)).expect("reads back");
        assert_eq!(back.users(t(300)), ["bob"]);
        assert_eq!(back.attempts_left("bob", t(300)), 3);
        assert_eq!(Lockouts::default().to_json(t(0)), "{\n  \"version\": 1,\n  \"users\": {}\n}\n");
    }

    #[test]
    fn a_damaged_file_is_an_error_and_an_entry_that_makes_no_sense_is_skipped() {
        for bad in ["", "{", "[]", "null", "{\"version\":2,\"users\":{}}", "{\"users\":{}}", "\u{0}\u{ff}"] {
            assert!(Lockouts::from_json(bad.as_bytes(), t(0)).is_err(), "{bad:?}");
        }
        let e = Lockouts::from_json(br#"{"version":1,"users":{"a":{"failures":-1}}}"#, t(0));
        assert!(e.is_err(), "{e:?}");
        let text =
            br#"{"version":1,"users":{"al\u001bice":{"failures":5,"locked_until":"soon"},"bob":{"failures":2}}}"#;
        let (l, skipped) = Lockouts::from_json(text, t(0)).expect("the rest is read");
        assert_eq!(l.users(t(0)), ["bob"]);
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].contains("not an RFC 3339 time") && !skipped[0].contains('\u{1b}'), "{skipped:?}");
    }

    #[test]
    fn a_lock_from_the_file_lasts_no_longer_than_the_lockout_and_counts_stay_below_the_limit() {
        let text = br#"{"version":1,"users":{
            "alice":{"failures":5,"locked_until":"9999-12-31T23:59:59Z"},
            "bob":{"failures":99},
            "carol":{"failures":0}}}"#;
        let (l, skipped) = Lockouts::from_json(text, t(0)).expect("read");
        assert!(skipped.is_empty());
        assert_eq!(l.check("alice", t(0)).map_err(|k| k.until), Err(t(300)));
        assert!(l.check("bob", t(0)).is_ok());
        assert_eq!(l.attempts_left("bob", t(0)), 1, "the next wrong PIN locks");
        assert_eq!(l.users(t(0)), ["alice", "bob"]);
    }
}
