//! PINs: rules, argon2id hashing and verification, and the lockout after wrong PINs.
//!
//! A PIN is 4 to 32 characters (Unicode characters, not bytes) without control characters:
//! digits suit a keypad, and sites that want more can use a passphrase. A PIN re-authenticates an
//! account that is already logged in; it is not a login password. Anyone who can read the users
//! file can try PINs offline against its hashes, so short numeric PINs protect little against
//! them: prefer 6 or more characters.

use std::fmt;
use std::time::{Duration, SystemTime};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use super::AuthError;

pub const MIN_PIN_CHARS: usize = 4;
pub const MAX_PIN_CHARS: usize = 32;

/// Five wrong PINs in a row lock writing ...
pub const MAX_PIN_FAILURES: u32 = 5;
/// ... for five minutes.
pub const PIN_LOCKOUT: Duration = Duration::from_secs(5 * 60);

/// The OWASP minimum for argon2id (Password Storage Cheat Sheet): 19 MiB of memory, two passes,
/// one lane. `hash_pin` uses exactly these; weaker hashes in a users file are refused.
pub const MIN_M_COST_KIB: u32 = 19 * 1024;
pub const MIN_T_COST: u32 = 2;
pub const MIN_P_COST: u32 = 1;

/// Hashes with stored parameters beyond these are refused: verifying them could take minutes or
/// more memory than a console should ask for.
const MAX_M_COST_KIB: u32 = 256 * 1024;
const MAX_T_COST: u32 = 64;
const MAX_P_COST: u32 = 16;

/// Checks the PIN rules: 4 to 32 characters, no control characters.
pub fn check_pin_rules(pin: &str) -> Result<(), AuthError> {
    let n = pin.chars().count();
    if !(MIN_PIN_CHARS..=MAX_PIN_CHARS).contains(&n) {
        return Err(AuthError::PinRules(format!(
            "a PIN has {MIN_PIN_CHARS} to {MAX_PIN_CHARS} characters; this one has {n}"
        )));
    }
    if pin.chars().any(char::is_control) {
        return Err(AuthError::PinRules("a PIN cannot contain control characters (Tab, Enter, Esc …)".into()));
    }
    Ok(())
}

/// Hashes a PIN with argon2id (v19, [`MIN_M_COST_KIB`], [`MIN_T_COST`], [`MIN_P_COST`], 16-byte
/// random salt) into a PHC string. Refuses PINs that break the rules.
pub fn hash_pin(pin: &str) -> Result<String, AuthError> {
    check_pin_rules(pin)?;
    let salt = argon2::password_hash::try_generate_salt()
        .map_err(|e| AuthError::Hash(format!("the system's random number generator failed: {e}")))?;
    let params =
        Params::new(MIN_M_COST_KIB, MIN_T_COST, MIN_P_COST, None).map_err(|e| AuthError::Hash(e.to_string()))?;
    let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_with_salt(pin.as_bytes(), &salt)
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `pin` matches the PHC string `hash`. The comparison is constant-time (argon2 crate).
/// False for a PIN that breaks the rules and for a hash that is not a usable argon2 PHC string.
pub fn verify_pin(hash: &str, pin: &str) -> bool {
    if check_pin_rules(pin).is_err() {
        return false;
    }
    match parse_hash(hash) {
        Ok(parsed) => Argon2::default().verify_password(pin.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Checks that `hash` is an argon2id PHC string with a salt, a hash and parameters neither weaker
/// than the OWASP minimum nor so costly that checking a PIN would stall the console.
pub(crate) fn check_pin_hash(hash: &str) -> Result<(), String> {
    parse_hash(hash).map(|_| ())
}

fn parse_hash(hash: &str) -> Result<PasswordHash, String> {
    let parsed = PasswordHash::new(hash)
        .map_err(|_| "not a PHC string: $argon2id$v=19$m=...,t=...,p=...$salt$hash".to_string())?;
    let alg = parsed.algorithm.as_str();
    if alg != "argon2id" {
        // argon2i and argon2d are argon2 too, but OWASP (and RFC 9106) recommend argon2id.
        return Err(format!("algorithm `{}` is not argon2id; use argon2id", crate::sanitize::clean(alg)));
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("the salt or the hash part is missing".into());
    }
    let params = Params::try_from(&parsed).map_err(|e| format!("bad parameters: {e}"))?;
    if params.m_cost() < MIN_M_COST_KIB || params.t_cost() < MIN_T_COST || params.p_cost() < MIN_P_COST {
        return Err(format!(
            "its parameters m={},t={},p={} are weaker than the minimum m={MIN_M_COST_KIB},t={MIN_T_COST},p={MIN_P_COST} \
             (OWASP)",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        ));
    }
    if params.m_cost() > MAX_M_COST_KIB || params.t_cost() > MAX_T_COST || params.p_cost() > MAX_P_COST {
        return Err(format!(
            "parameters m={},t={},p={} exceed m={MAX_M_COST_KIB},t={MAX_T_COST},p={MAX_P_COST}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        ));
    }
    Ok(parsed)
}

/// Writing is locked until `until` after too many wrong PINs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Locked {
    pub until: SystemTime,
}

impl Locked {
    /// How long the lock still holds at `now`.
    pub fn remaining(&self, now: SystemTime) -> Duration {
        self.until.duration_since(now).unwrap_or_default()
    }

    /// "5 wrong PINs: writing is locked for 4 min 10 s".
    pub fn message(&self, now: SystemTime) -> String {
        let s = self.remaining(now).as_secs_f64().ceil() as u64;
        format!("{MAX_PIN_FAILURES} wrong PINs: writing is locked for {} min {} s", s / 60, s % 60)
    }
}

impl fmt::Display for Locked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{MAX_PIN_FAILURES} wrong PINs: writing is locked for {} minutes", PIN_LOCKOUT.as_secs() / 60)
    }
}

/// Counts wrong PINs of one user: [`MAX_PIN_FAILURES`] in a row lock writing for
/// [`PIN_LOCKOUT`]. Pure: the caller passes the time. After the lock runs out the count starts
/// again from zero. A plant keeps one per user in its [`Lockouts`](super::Lockouts).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use ttyhmi::auth::PinGuard;
/// let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
/// let mut g = PinGuard::new();
/// for _ in 0..4 { assert!(g.record_failure(t0).is_none()); }
/// let lock = g.record_failure(t0).unwrap();
/// assert_eq!(lock.until, t0 + Duration::from_secs(300));
/// assert!(g.check(t0 + Duration::from_secs(299)).is_err());
/// assert!(g.check(t0 + Duration::from_secs(300)).is_ok());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinGuard {
    pub(super) failures: u32,
    pub(super) locked_until: Option<SystemTime>,
}

impl PinGuard {
    pub fn new() -> Self {
        Self::default()
    }

    /// Ok when a PIN may be tried (and a write made) at `now`.
    pub fn check(&self, now: SystemTime) -> Result<(), Locked> {
        match self.locked_until {
            Some(until) if now < until => Err(Locked { until }),
            _ => Ok(()),
        }
    }

    /// Records a wrong PIN. Returns the lock when writing is locked after it (the fifth failure,
    /// or any failure reported while already locked, which does not extend the lock).
    pub fn record_failure(&mut self, now: SystemTime) -> Option<Locked> {
        if let Some(until) = self.locked_until {
            if now < until {
                return Some(Locked { until });
            }
            *self = Self::default();
        }
        self.failures += 1;
        if self.failures >= MAX_PIN_FAILURES {
            // checked_add fails only some hundred billion years from now.
            let until = now.checked_add(PIN_LOCKOUT).unwrap_or(now);
            self.locked_until = Some(until);
            return Some(Locked { until });
        }
        None
    }

    /// A right PIN: the count starts again.
    pub fn record_success(&mut self) {
        *self = Self::default();
    }

    /// Nothing counted and no lock at `now`: the same as a fresh guard.
    pub fn is_clear(&self, now: SystemTime) -> bool {
        match self.locked_until {
            Some(until) => now >= until,
            None => self.failures == 0,
        }
    }

    /// Wrong PINs that may still be entered before writing is locked.
    pub fn attempts_left(&self, now: SystemTime) -> u32 {
        match self.locked_until {
            Some(until) if now < until => 0,
            Some(_) => MAX_PIN_FAILURES,
            None => MAX_PIN_FAILURES.saturating_sub(self.failures),
        }
    }
}

/// Asks for a new PIN twice through `ask` (which shows the prompt and returns the typed line) and
/// returns it when both agree and it keeps the rules.
pub fn read_new_pin(user: &str, mut ask: impl FnMut(&str) -> std::io::Result<String>) -> Result<String, AuthError> {
    let prompt_err = |e: std::io::Error| AuthError::Prompt(e.to_string());
    let first =
        ask(&format!("New PIN for {user} ({MIN_PIN_CHARS} to {MAX_PIN_CHARS} characters): ")).map_err(prompt_err)?;
    check_pin_rules(&first)?;
    let second = ask("Repeat the PIN: ").map_err(prompt_err)?;
    if first != second {
        return Err(AuthError::PinMismatch);
    }
    Ok(first)
}

/// [`read_new_pin`] on the terminal, without echo (for `ttyhmi passwd USER`).
pub fn prompt_new_pin(user: &str) -> Result<String, AuthError> {
    read_new_pin(user, |prompt| rpassword::prompt_password(prompt))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn pin_rules() {
        assert!(check_pin_rules("1234").is_ok());
        assert!(check_pin_rules(&"9".repeat(32)).is_ok());
        assert!(check_pin_rules("öäüß").is_ok(), "characters, not bytes");
        assert_eq!(check_pin_rules("123").unwrap_err().to_string(), "a PIN has 4 to 32 characters; this one has 3");
        assert_eq!(
            check_pin_rules(&"1".repeat(33)).unwrap_err().to_string(),
            "a PIN has 4 to 32 characters; this one has 33"
        );
        assert!(check_pin_rules("12\t34").is_err());
        assert!(check_pin_rules("").is_err());
    }

    #[test]
    fn lockout_after_five_failures_for_five_minutes() {
        let mut g = PinGuard::new();
        for i in 0..4 {
            assert_eq!(g.record_failure(t(i)), None);
            assert!(g.check(t(i)).is_ok());
        }
        assert_eq!(g.attempts_left(t(4)), 1);
        let lock = g.record_failure(t(10)).unwrap();
        assert_eq!(lock.until, t(310));
        assert_eq!(g.check(t(10)), Err(lock));
        assert_eq!(g.check(t(309)), Err(lock));
        assert_eq!(lock.message(t(60)), "5 wrong PINs: writing is locked for 4 min 10 s");
        // A failure reported while locked does not extend the lock.
        assert_eq!(g.record_failure(t(100)), Some(lock));
        assert_eq!(g.attempts_left(t(100)), 0);
        // Five minutes later: open again, with a fresh count.
        assert!(g.check(t(310)).is_ok());
        assert_eq!(g.attempts_left(t(310)), 5);
        for i in 0..4 {
            assert_eq!(g.record_failure(t(311 + i)), None);
        }
        assert!(g.record_failure(t(400)).is_some());
    }

    #[test]
    fn success_resets_the_count() {
        let mut g = PinGuard::new();
        for i in 0..4 {
            g.record_failure(t(i));
        }
        g.record_success();
        for i in 0..4 {
            assert_eq!(g.record_failure(t(10 + i)), None);
        }
        assert!(g.check(t(20)).is_ok());
    }

    #[test]
    fn new_pin_is_asked_twice() {
        let mut answers = vec!["123456", "123456"].into_iter();
        assert_eq!(read_new_pin("alice", |_| Ok(answers.next().unwrap().to_string())).unwrap(), "123456");
        let mut answers = vec!["123456", "654321"].into_iter();
        assert_eq!(read_new_pin("alice", |_| Ok(answers.next().unwrap().to_string())), Err(AuthError::PinMismatch));
        let mut asked = 0;
        let short = read_new_pin("alice", |_| {
            asked += 1;
            Ok("12".to_string())
        });
        assert!(matches!(short, Err(AuthError::PinRules(_))));
        assert_eq!(asked, 1, "a PIN that breaks the rules is not asked again");
    }

    #[test]
    fn hashes_that_are_not_argon2_are_refused() {
        assert!(check_pin_hash("1234").is_err());
        assert!(check_pin_hash("$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA").is_err());
        assert!(check_pin_hash("$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA").is_err());
        assert!(check_pin_hash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA").is_ok());
        assert!(!verify_pin("$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "1234"));
    }

    /// Issue 12, item 19: hashes cheaper than the OWASP minimum are refused.
    #[test]
    fn hashes_weaker_than_the_owasp_minimum_are_refused() {
        let phc = |alg: &str, params: &str| format!("${alg}$v=19${params}$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA");
        for params in ["m=19455,t=2,p=1", "m=4096,t=2,p=1", "m=19456,t=1,p=1", "m=65536,t=1,p=4", "m=8,t=1,p=1"] {
            let e = check_pin_hash(&phc("argon2id", params)).unwrap_err();
            assert!(e.contains("weaker than the minimum m=19456,t=2,p=1"), "{params}: {e}");
            assert!(!verify_pin(&phc("argon2id", params), "1234"));
        }
        for alg in ["argon2i", "argon2d"] {
            let e = check_pin_hash(&phc(alg, "m=19456,t=2,p=1")).unwrap_err();
            assert!(e.contains("use argon2id"), "{alg}: {e}");
        }
        for params in ["m=19456,t=2,p=1", "m=47104,t=1,p=1", "m=65536,t=3,p=4", "m=19456,t=3,p=1"] {
            let r = check_pin_hash(&phc("argon2id", params));
            if params == "m=47104,t=1,p=1" {
                assert!(r.is_err(), "t=1 is below the minimum whatever the memory");
            } else {
                assert!(r.is_ok(), "{params}: {r:?}");
            }
        }
        let hash = hash_pin("204816").unwrap();
        let parsed = parse_hash(&hash).unwrap();
        let p = argon2::Params::try_from(&parsed).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(p.m_cost() >= MIN_M_COST_KIB && p.t_cost() >= MIN_T_COST && p.p_cost() >= MIN_P_COST);
    }
}
