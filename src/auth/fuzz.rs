//! Fuzzing the files of `auth` (see `crate::fuzzing`): the users file (random text, and valid
//! files damaged line by line and byte by byte) and the PIN lockouts file (random bytes, damaged
//! files, and round trips). A file is read or refused with its place; nothing that reaches a
//! terminal or a log carries a control character; a lock read back never lasts longer than
//! `PIN_LOCKOUT`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::pin::PIN_LOCKOUT;
use super::{AuthError, Lockouts, parse};
use crate::yaml::fuzz::{mutated_bytes, mutated_text, yamlish};

const H1: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINvxqTtf0RBAJn27pTStb2bx+yTkezj8maFkUq7gor0Y alice@laptop";

fn users_seeds() -> Vec<String> {
    vec![
        include_str!("../../assets/users.example.yaml").to_string(),
        format!(
            "default_role: viewer\nusers:\n  alice:\n    role: operator\n    pin: \"{H1}\"\n    keys:\n      - \"{KEY}\"\n  bob: {{ role: engineer }}\n  carol:\n    role: admin\n"
        ),
    ]
}

/// A users file is read, or refused with a message that names the file and a place in it,
/// in clean text.
fn check_users(src: &str) -> Result<(), TestCaseError> {
    match parse(src, Path::new("users.yaml")) {
        Ok(u) => {
            for (name, entry) in &u.users {
                prop_assert_eq!(u.role_of(name), entry.role.unwrap_or(u.default_role));
            }
            prop_assert_eq!(Ok(u), parse(src, Path::new("users.yaml")));
        }
        Err(e) => {
            let AuthError::Syntax { line, col, .. } = &e else {
                return Err(TestCaseError::fail(format!("not a syntax error: {e}")));
            };
            let shown = e.to_string();
            prop_assert!(*line >= 1 && *col >= 1, "no place: {shown}");
            prop_assert!(shown.starts_with(&format!("users.yaml:{line}:{col}: ")), "{shown}");
            prop_assert!(!shown.chars().any(crate::sanitize::is_unsafe), "unsafe text: {shown:?}");
        }
    }
    Ok(())
}

crate::fuzz_target!(users_random_text, yamlish(), |src: String| check_users(&src));

crate::fuzz_target!(users_edited, mutated_text(users_seeds(), 6), |src: String| check_users(&src));

crate::fuzz_target!(users_damaged, mutated_bytes(users_seeds()), |src: String| check_users(&src));

// --- PIN lockouts ---------------------------------------------------------------------------

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// Lockouts after PIN results of a few users (names with any characters) over a few minutes.
fn lockouts() -> impl Strategy<Value = (Lockouts, SystemTime)> {
    let user = prop_oneof![Just("alice".to_string()), Just("bob".to_string()), ".{0,12}"];
    prop::collection::vec((user, prop::bool::weighted(0.2), 0u64..120), 0..30).prop_map(|events| {
        let mut l = Lockouts::default();
        let mut now = t0();
        for (user, ok, dt) in events {
            now += Duration::from_secs(dt);
            l.record(&user, ok, now);
        }
        (l, now)
    })
}

/// What a file read at `now` may hold: clean skip reasons, and no lock beyond `PIN_LOCKOUT`.
fn check_lockouts(bytes: &[u8], now: SystemTime) -> Result<Option<Lockouts>, TestCaseError> {
    match Lockouts::from_json(bytes, now) {
        Ok((l, skipped)) => {
            for why in &skipped {
                prop_assert!(!why.chars().any(crate::sanitize::is_unsafe), "{why:?}");
            }
            for user in l.users(now) {
                if let Err(locked) = l.check(user, now) {
                    prop_assert!(locked.until <= now + PIN_LOCKOUT, "locked until {:?}", locked.until);
                }
                prop_assert!(l.attempts_left(user, now) < super::pin::MAX_PIN_FAILURES || l.check(user, now).is_err());
            }
            Ok(Some(l))
        }
        // The caller cleans the reason before it is shown (plant::lockouts::not_read).
        Err(_) => Ok(None),
    }
}

crate::fuzz_target!(lockouts_round_trip, lockouts(), |(l, now): (Lockouts, SystemTime)| {
    let text = l.to_json(now);
    let back = check_lockouts(text.as_bytes(), now)?.ok_or_else(|| TestCaseError::fail(format!("refused: {text}")))?;
    prop_assert_eq!(back.users(now), l.users(now));
    for user in l.users(now) {
        prop_assert_eq!(back.check(user, now), l.check(user, now));
        prop_assert_eq!(back.attempts_left(user, now), l.attempts_left(user, now));
    }
    Ok(())
});

crate::fuzz_target!(
    lockouts_damaged,
    (lockouts(), 0u64..1000).prop_flat_map(|((l, now), later)| {
        let text = l.to_json(now).into_bytes();
        (crate::fuzzing::mutated(Just(text)), Just(now + Duration::from_secs(later)))
    }),
    |(bytes, now): (Vec<u8>, SystemTime)| check_lockouts(&bytes, now).map(|_| ())
);

crate::fuzz_target!(
    lockouts_random,
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        "\\{\"version\": 1, \"users\": \\{\"[a-z\\x00-\\x1f]{0,6}\": \\{\"failures\": [0-9]{1,12}(, \"locked_until\": \"[0-9T:Z.+-]{0,32}\")?\\}\\}\\}"
            .prop_map(String::into_bytes),
    ],
    |bytes: Vec<u8>| check_lockouts(&bytes, t0()).map(|_| ())
);
