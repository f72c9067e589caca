//! Fuzzing `verify` (see `crate::fuzzing`): a valid log and its head, damaged. The audit log is
//! the record of who wrote what; someone who wants to hide a write edits it. So the property is
//! exact: any single byte changed, removed or inserted anywhere in the log is reported as a
//! break, except the only changes the format accepts by design (see the module docs):
//!
//! - the last record without its newline (an append interrupted before the newline; the record
//!   is whole and its hash unchanged);
//! - bytes after the last record (an interrupted append leaves them; they are reported in a
//!   note, and the next append records their hash in `skipped`);
//! - in the head, another valid hash in `next=` (an announced append that never wrote its
//!   record; reported in a note).
//!
//! Any other damage, however many bytes, leaves the report intact only if every record the
//! original holds is still there, byte for byte.

use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use proptest::sample::Index;

use super::*;

/// A valid log of a few records (some with text that needs escaping) and its head, as bytes.
static VALID: LazyLock<(Vec<u8>, Vec<u8>)> = LazyLock::new(|| {
    let dir = Temp::new("valid");
    let mut log = AuditLog::open(&dir.log).expect("a new log");
    let actor = Actor {
        user: "alice".into(),
        host: "hmi1".into(),
        ssh_client: parse_ssh_client(Some("10.0.0.5 52144 10.0.0.1 22"), None),
        role: "operator".into(),
        session: Some(1),
        via: None,
    };
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_979_400_000);
    for (i, tag) in ["P_101", "TT-2 \u{1b}[31m", "\u{202e}F\"\\x"].iter().enumerate() {
        let at = t0 + Duration::from_millis(i as u64 * 1500);
        log.append(RecordInput::new(at, &actor, Action::WriteAttempt).tag(*tag).old("2.50").new_value("3.00"))
            .expect("append");
        log.append(
            RecordInput::new(at, &actor, Action::WriteResult)
                .tag(*tag)
                .old("2.50")
                .new_value("3.00")
                .raw("0x4040 0000")
                .result("ok")
                .outcome(WriteOutcome::Written),
        )
        .expect("append");
    }
    (std::fs::read(&dir.log).expect("log"), std::fs::read(dir.head()).expect("head"))
});

/// A folder of its own for one test thread, removed afterwards.
struct Temp {
    dir: PathBuf,
    log: PathBuf,
}

impl Temp {
    fn new(name: &str) -> Temp {
        let thread = format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_alphanumeric(), "");
        let dir = std::env::temp_dir().join(format!("ttyhmi-fuzz-audit-{}-{name}-{thread}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log = dir.join("audit.jsonl");
        Temp { dir, log }
    }

    fn head(&self) -> PathBuf {
        head::head_path(&self.log)
    }

    /// `verify` of `log` and `head` written into the folder.
    fn verify(&self, log: &[u8], head: &[u8]) -> VerifyReport {
        std::fs::create_dir_all(&self.dir).expect("temp folder");
        std::fs::write(&self.log, log).expect("write the log");
        std::fs::write(self.head(), head).expect("write the head");
        verify(&self.log).expect("a readable log")
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The report's text is clean: its own line breaks only.
fn check_report(r: &VerifyReport, lines: usize) -> Result<(), TestCaseError> {
    let shown = r.to_string();
    for line in shown.split('\n') {
        prop_assert!(!line.chars().any(crate::sanitize::is_unsafe), "unsafe text: {line:?}");
    }
    if let Some(p) = &r.problem {
        prop_assert!(p.line >= 1 && p.line <= lines as u64 + 1, "line {} of {lines}: {shown}", p.line);
    }
    Ok(())
}

/// One edit of one byte.
#[derive(Clone, Debug)]
enum Byte {
    Set(Index, u8),
    Remove(Index),
    Insert(Index, u8),
}

fn byte_edit() -> impl Strategy<Value = Byte> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Byte::Set(i, b)),
        any::<Index>().prop_map(Byte::Remove),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Byte::Insert(i, b)),
    ]
}

/// Applies `edit`; `None` when it changes nothing (a byte set to itself). Also says whether the
/// format accepts it by design.
fn apply(bytes: &[u8], edit: &Byte) -> Option<(Vec<u8>, bool)> {
    let mut out = bytes.to_vec();
    let len = bytes.len();
    let accepted = match *edit {
        Byte::Set(i, b) => {
            let i = i.index(len);
            if out[i] == b {
                return None;
            }
            out[i] = b;
            false
        }
        Byte::Remove(i) => {
            let i = i.index(len);
            out.remove(i);
            // The last record's newline.
            i == len - 1
        }
        Byte::Insert(i, b) => {
            let i = i.index(len + 1);
            out.insert(i, b);
            // After the last record.
            i == len
        }
    };
    Some((out, accepted))
}

crate::fuzz_target!(audit_one_byte_of_the_log, byte_edit(), |edit: Byte| {
    let (log, head) = &*VALID;
    let Some((damaged, accepted)) = apply(log, &edit) else { return Ok(()) };
    let t = Temp::new("log-byte");
    let r = t.verify(&damaged, head);
    check_report(&r, damaged.split(|&b| b == b'\n').count())?;
    prop_assert_eq!(r.is_intact(), accepted, "{:?}: {}", edit, r);
    if accepted {
        prop_assert!(!r.notes.is_empty(), "accepted without a note: {r}");
        prop_assert_eq!(r.records, 6);
    }
    Ok(())
});

/// Whether byte `i` of the head is in its `next=` hash and `b` keeps it a valid hash.
fn still_a_next_hash(head: &[u8], i: usize, b: u8) -> bool {
    let end = head.len() - 1; // the newline
    (end - 64..end).contains(&i) && (b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

crate::fuzz_target!(audit_one_byte_of_the_head, byte_edit(), |edit: Byte| {
    let (log, head) = &*VALID;
    let Some((damaged, _)) = apply(head, &edit) else { return Ok(()) };
    let accepted = match edit {
        Byte::Set(i, b) => still_a_next_hash(head, i.index(head.len()), b),
        _ => false,
    };
    let t = Temp::new("head-byte");
    let r = t.verify(log, &damaged);
    check_report(&r, log.split(|&b| b == b'\n').count())?;
    prop_assert_eq!(r.is_intact(), accepted, "{:?}: {}", edit, r);
    if accepted {
        prop_assert!(r.notes.iter().any(|n| n.contains("announces")), "{r}");
    }
    Ok(())
});

crate::fuzz_target!(
    audit_damaged,
    (
        crate::fuzzing::mutated(Just(VALID.0.clone())),
        prop_oneof![3 => Just(VALID.1.clone()), 1 => crate::fuzzing::mutated(Just(VALID.1.clone()))]
    ),
    |(log, head): (Vec<u8>, Vec<u8>)| {
        let (valid_log, valid_head) = &*VALID;
        let t = Temp::new("damaged");
        let r = t.verify(&log, &head);
        check_report(&r, log.split(|&b| b == b'\n').count())?;
        if log.is_empty() && head.is_empty() {
            // Both files emptied: both rewritten, which no chain without a secret can tell from a
            // log never written (README, "What it does not prove"; found by the long pass).
            prop_assert_eq!(r.records, 0);
            return Ok(());
        }
        if r.is_intact() {
            // Every record is still there, byte for byte; at most the last newline is missing
            // and bytes that are no record follow.
            prop_assert!(log.starts_with(&valid_log[..valid_log.len() - 1]), "intact but changed: {r}");
            prop_assert_eq!(r.records, 6);
            let only_next = head.len() == valid_head.len()
                && head
                    .iter()
                    .zip(valid_head.iter())
                    .enumerate()
                    .all(|(i, (a, b))| a == b || still_a_next_hash(valid_head, i, *a));
            prop_assert!(only_next, "intact with another head: {:?}", String::from_utf8_lossy(&head));
            if log != *valid_log || head != *valid_head {
                prop_assert!(!r.notes.is_empty(), "a change without a note: {r}");
            }
        }
        Ok(())
    }
);

crate::fuzz_target!(
    audit_random_lines,
    (
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..120), 0..10),
        prop::collection::vec(any::<u8>(), 0..100)
    ),
    |(lines, head): (Vec<Vec<u8>>, Vec<u8>)| {
        let log = lines.join(&b'\n');
        let t = Temp::new("random");
        let r = t.verify(&log, &head);
        check_report(&r, lines.len())?;
        Ok(())
    }
);

#[test]
fn every_single_byte_change_of_the_log_is_a_break() {
    let (log, head) = &*VALID;
    let t = Temp::new("every-byte");
    for i in 0..log.len() {
        // A change to one byte, to another printable one and to a newline.
        for b in [log[i] ^ 0x01, b'\n'] {
            if b == log[i] {
                continue;
            }
            let mut damaged = log.clone();
            damaged[i] = b;
            let r = t.verify(&damaged, head);
            assert!(!r.is_intact(), "byte {i} {:?} -> {:?}: {r}", log[i] as char, b as char);
        }
    }
}
