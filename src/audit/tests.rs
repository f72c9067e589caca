//! The log on disk: chaining, crashes, and every kind of tampering `verify` must name.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::head::head_path;
use super::scan::{ZERO_HASH, sha256_hex};
use super::*;

/// A folder of its own under the system temp folder, removed afterwards.
struct Temp {
    dir: PathBuf,
    path: PathBuf,
}

impl Temp {
    fn new(name: &str) -> Temp {
        let dir = std::env::temp_dir().join(format!("ttyhmi-audit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("audit.jsonl");
        Temp { dir, path }
    }

    /// A log with `n` records.
    fn with(name: &str, n: u64) -> Temp {
        let t = Temp::new(name);
        let mut log = AuditLog::open(&t.path).unwrap();
        for i in 1..=n {
            assert_eq!(log.append(input(i)).unwrap(), i);
        }
        t
    }

    fn lines(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.path).unwrap();
        text.strip_suffix('\n').unwrap_or(&text).split('\n').map(String::from).collect()
    }

    fn set_lines(&self, lines: &[String]) {
        std::fs::write(&self.path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    }

    fn edit(&self, f: impl FnOnce(&mut Vec<String>)) {
        let mut lines = self.lines();
        f(&mut lines);
        self.set_lines(&lines);
    }

    fn push_bytes(&self, bytes: &[u8]) {
        use std::io::Write;
        std::fs::OpenOptions::new().append(true).open(&self.path).unwrap().write_all(bytes).unwrap();
    }

    fn report(&self) -> VerifyReport {
        verify(&self.path).unwrap()
    }

    fn problem(&self) -> Problem {
        let r = self.report();
        r.problem.clone().unwrap_or_else(|| panic!("expected a problem, got: {r}"))
    }

    fn set_head(&self, seq: u64, hash: &str) {
        std::fs::write(head_path(&self.path), format!("ttyhmi-audit-head v1 seq={seq} sha256={hash}\n")).unwrap();
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn actor() -> Actor {
    Actor {
        user: "alice".into(),
        host: "hmi1".into(),
        ssh_client: None,
        role: "operator".into(),
        session: None,
        via: None,
    }
}

fn input(i: u64) -> RecordInput {
    RecordInput::new(
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_979_400_000 + i),
        &actor(),
        Action::WriteResult,
    )
    .tag("P_101")
    .old("2.50")
    .new_value(format!("{i}.00"))
    .raw("0x4040 0000")
    .result("ok")
}

fn record_line(seq: u64, prev: &str) -> String {
    let rec = Record::from_input(input(seq), "2026-11-29T19:10:00.000Z".into(), seq, prev.into(), None);
    serde_json::to_string(&rec).unwrap()
}

#[test]
fn each_line_chains_to_the_one_before_and_the_head_names_the_last() {
    let t = Temp::with("chain", 3);
    let lines = t.lines();
    assert_eq!(lines.len(), 3);
    for (i, line) in lines.iter().enumerate() {
        let rec: Record = serde_json::from_str(line).unwrap();
        assert_eq!(rec.seq, i as u64 + 1);
        let prev = if i == 0 { ZERO_HASH.to_string() } else { sha256_hex(lines[i - 1].as_bytes()) };
        assert_eq!(rec.prev, prev);
        assert_eq!(rec.skipped, None);
    }
    assert!(lines[0].starts_with(r#"{"seq":1,"time":"2026-11-29T19:10:00.001Z","user":"alice","host":"hmi1","role":"operator","action":"write_result","tag":"P_101","old":"2.50","new":"1.00","raw":"0x4040 0000","result":"ok","prev":"0000"#));
    let head = std::fs::read_to_string(head_path(&t.path)).unwrap();
    assert_eq!(
        head,
        format!("ttyhmi-audit-head v2 seq=3 sha256={} next={ZERO_HASH}\n", sha256_hex(lines[2].as_bytes()))
    );
    let r = t.report();
    assert!(r.is_intact(), "{r}");
    assert_eq!((r.records, r.last_seq, r.last_hash.clone()), (3, 3, sha256_hex(lines[2].as_bytes())));
    assert!(r.notes.is_empty());
    assert!(r.to_string().ends_with(&format!("intact: 3 records, seq 1 to 3; SHA-256 of the last: {}", r.last_hash)));
}

#[test]
fn the_chain_continues_across_opens_and_between_logs_open_at_once() {
    let t = Temp::with("reopen", 2);
    let mut a = AuditLog::open(&t.path).unwrap();
    let mut b = AuditLog::open(&t.path).unwrap();
    assert_eq!(a.append(input(3)).unwrap(), 3);
    assert_eq!(b.append(input(4)).unwrap(), 4);
    assert_eq!(a.append(input(5)).unwrap(), 5);
    assert_eq!(a.path(), t.path);
    let r = t.report();
    assert!(r.is_intact() && r.records == 5, "{r}");
}

#[test]
fn an_edited_record_is_named() {
    let t = Temp::with("edit", 5);
    t.edit(|l| l[1] = l[1].replace(r#""new":"2.00""#, r#""new":"9.00""#));
    let p = t.problem();
    assert_eq!((p.line, p.seq), (2, Some(2)), "{p}");
    assert!(p.what.contains("changed after it was written"), "{p}");
    let r = t.report();
    assert_eq!((r.records, r.last_seq, r.last_hash.clone()), (1, 1, sha256_hex(t.lines()[0].as_bytes())));
    assert!(r.to_string().starts_with(&format!("{}:2: BROKEN: line 2 (seq 2): changed", t.path.display())), "{r}");
}

#[test]
fn an_edit_that_breaks_the_json_or_the_seq_is_named() {
    let t = Temp::with("edit-json", 5);
    t.edit(|l| l[2] = l[2].replacen('{', "", 1));
    let p = t.problem();
    assert_eq!((p.line, p.seq), (3, None), "{p}");
    assert!(p.what.starts_with("not an audit record ("), "{p}");

    let t = Temp::with("edit-seq", 5);
    t.edit(|l| l[3] = l[3].replace(r#""seq":4"#, r#""seq":7"#));
    let p = t.problem();
    assert_eq!((p.line, p.seq), (4, Some(7)), "{p}");
    assert!(p.what.contains("seq 7 follows seq 3 (line 3): seqs 4 to 6 are missing"), "{p}");
}

#[test]
fn an_edited_last_record_is_named_by_the_head_and_stops_appends() {
    let t = Temp::with("edit-last", 5);
    t.edit(|l| l[4] = l[4].replace(r#""result":"ok""#, r#""result":"failed""#));
    let p = t.problem();
    assert_eq!((p.line, p.seq), (5, Some(5)), "{p}");
    assert!(p.what.contains("the last record (seq 5) is not the one the head file names"), "{p}");
    assert_eq!((t.report().records, t.report().last_seq), (4, 4));
    let e = AuditLog::open(&t.path).unwrap_err();
    assert!(matches!(e, AuditError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("writing stays disabled"), "{e}");
}

#[test]
fn a_deleted_record_is_named_wherever_it_was() {
    let t = Temp::with("delete-mid", 5);
    t.edit(|l| drop(l.remove(2)));
    let p = t.problem();
    assert_eq!((p.line, p.seq), (3, Some(4)), "{p}");
    assert!(p.what.contains("seq 3 is missing here"), "{p}");

    let t = Temp::with("delete-first", 5);
    t.edit(|l| drop(l.remove(0)));
    let p = t.problem();
    assert_eq!((p.line, p.seq), (1, Some(2)), "{p}");
    assert!(p.what.contains("record 1 was deleted"), "{p}");

    let t = Temp::with("delete-last", 5);
    t.edit(|l| drop(l.pop()));
    let p = t.problem();
    assert_eq!((p.line, p.seq), (5, None), "{p}");
    assert!(p.what.contains("record 5 was deleted from the end"), "{p}");
    assert!(AuditLog::open(&t.path).is_err());

    let t = Temp::with("delete-last-two", 5);
    t.edit(|l| l.truncate(3));
    let p = t.problem();
    assert_eq!(p.line, 4, "{p}");
    assert!(p.what.contains("records 4 to 5 were deleted"), "{p}");

    let t = Temp::with("delete-all", 5);
    t.set_lines(&[]);
    let p = t.problem();
    assert_eq!(p.line, 1, "{p}");
    assert!(p.what.contains("no records, but its head file says it ended at seq 5"), "{p}");
}

#[test]
fn reordered_and_inserted_records_are_named() {
    let t = Temp::with("reorder", 5);
    t.edit(|l| l.swap(1, 2));
    let p = t.problem();
    assert_eq!((p.line, p.seq), (2, Some(3)), "{p}");

    let t = Temp::with("duplicate", 5);
    t.edit(|l| {
        let copy = l[1].clone();
        l.insert(2, copy)
    });
    let p = t.problem();
    assert_eq!((p.line, p.seq), (3, Some(2)), "{p}");
    assert!(p.what.contains("duplicated, inserted or moved"), "{p}");

    let t = Temp::with("insert-garbage", 5);
    t.edit(|l| l.insert(2, "all is well".into()));
    let p = t.problem();
    assert_eq!((p.line, p.seq), (3, None), "{p}");
    assert!(p.what.contains("no record after it accounts for it"), "{p}");

    let t = Temp::with("insert-blank", 5);
    t.edit(|l| l.insert(2, String::new()));
    assert_eq!(t.problem().line, 3);

    // A forged record with the right seq and prev, inserted in the middle.
    let t = Temp::with("insert-forged", 5);
    t.edit(|l| {
        let forged = record_line(3, &sha256_hex(l[1].as_bytes()));
        l.insert(2, forged)
    });
    let p = t.problem();
    assert_eq!((p.line, p.seq), (4, Some(3)), "{p}");
}

#[test]
fn a_cut_last_record_is_named() {
    let t = Temp::with("cut-last", 3);
    let text = std::fs::read_to_string(&t.path).unwrap();
    std::fs::write(&t.path, &text[..text.len() - 40]).unwrap();
    let r = t.report();
    let p = r.problem.clone().unwrap();
    assert_eq!(p.line, 3, "{r}");
    assert!(p.what.contains("record 3 was deleted from the end, or damaged"), "{r}");
    assert!(AuditLog::open(&t.path).is_err());
}

#[test]
fn an_interrupted_append_is_skipped_not_chained_to() {
    for fragment in [&br#"{"seq":4,"time":"2026-11-29T19"#[..], b"\0\0\0\0\0\0\0\0", b"{\"seq\":4}\n{\"se"] {
        let t = Temp::with("fragment", 3);
        t.push_bytes(fragment);
        let r = t.report();
        assert!(r.is_intact(), "{r}");
        assert_eq!(r.records, 3);
        assert!(r.notes[0].contains("at the end: not audit records"), "{r}");
        let tail = tail(&t.path, 1).unwrap();
        assert!(tail[0].starts_with("(an incomplete last line of"), "{tail:?}");

        let mut log = AuditLog::open(&t.path).unwrap();
        assert_eq!(log.append(input(4)).unwrap(), 4);
        let lines = t.lines();
        let rec: Record = serde_json::from_str(lines.last().unwrap()).unwrap();
        assert_eq!(rec.seq, 4);
        assert_eq!(rec.prev, sha256_hex(lines[2].as_bytes()));
        assert_eq!(rec.skipped, Some(sha256_hex(fragment)));
        let r = t.report();
        assert!(r.is_intact() && r.records == 4, "{r}");
        assert!(r.notes[0].contains("skips them as designed"), "{r}");
        assert_eq!(log.append(input(5)).unwrap(), 5);

        // The skipped bytes are evidence too: changing them shows.
        t.edit(|l| l[3] = l[3].replacen('{', "[", 1).replacen('\0', "x", 1));
        assert_eq!(t.problem().line, 4);
    }
}

/// An append that stops as a crash would: after announcing its record and writing the first
/// `written(len)` bytes of the line (0: none), before the head names it.
fn crash_during_append(t: &Temp, i: u64, written: impl FnOnce(usize) -> usize) {
    let log = AuditLog::open(&t.path).unwrap();
    let _locked = log.lock().unwrap();
    let mut pending = log.announce(input(i)).unwrap();
    let n = written(pending.bytes.len());
    pending.bytes.truncate(n);
    if n > 0 {
        log.write_line(&pending).unwrap();
    }
}

#[test]
fn a_crash_between_the_record_and_the_head_is_an_incomplete_append_not_tampering() {
    let t = Temp::with("unconfirmed", 3);
    crash_during_append(&t, 4, |n| n);
    let r = t.report();
    assert!(r.is_intact(), "{r}");
    assert_eq!((r.records, r.last_seq), (4, 4));
    assert_eq!(r.notes.len(), 1, "{r}");
    assert!(r.notes[0].contains("an incomplete last append, not tampering"), "{r}");
    let mut log = AuditLog::open(&t.path).unwrap();
    assert_eq!(log.append(input(5)).unwrap(), 5);
    let r = t.report();
    assert!(r.is_intact() && r.records == 5 && r.notes.is_empty(), "{r}");

    // Two behind is never a crash.
    let lines = t.lines();
    t.set_head(3, &sha256_hex(lines[2].as_bytes()));
    let p = t.problem();
    assert!(p.what.contains("the head is behind the log"), "{p}");
}

#[test]
fn a_record_missing_only_its_newline_is_completed() {
    let t = Temp::with("no-newline", 3);
    crash_during_append(&t, 4, |n| n - 1);
    let r = t.report();
    assert!(r.is_intact(), "{r}");
    assert_eq!(r.records, 4);
    assert_eq!(r.notes.len(), 2, "{r}");
    let mut log = AuditLog::open(&t.path).unwrap();
    assert_eq!(log.append(input(5)).unwrap(), 5);
    let r = t.report();
    assert!(r.is_intact() && r.records == 5 && r.notes.is_empty(), "{r}");
}

#[test]
fn a_crash_before_the_record_is_written_whole_loses_only_that_record() {
    for (name, keep) in [("announced", 0usize), ("torn", 40)] {
        let t = Temp::with(name, 3);
        crash_during_append(&t, 4, |_| keep);
        let r = t.report();
        assert!(r.is_intact(), "{r}");
        assert_eq!(r.records, 3);
        assert!(r.notes.iter().any(|n| n.contains("announces a record after seq 3")), "{r}");
        let mut log = AuditLog::open(&t.path).unwrap();
        assert_eq!(log.append(input(4)).unwrap(), 4);
        let r = t.report();
        assert!(r.is_intact() && r.records == 4, "{r}");
        assert!(r.notes.iter().all(|n| !n.contains("announces")), "{r}");
    }
}

/// A version 1 head (before records were announced) is still read.
#[test]
fn a_version_1_head_is_read() {
    let t = Temp::with("v1-head", 3);
    let lines = t.lines();
    t.set_head(3, &sha256_hex(lines[2].as_bytes()));
    assert!(t.report().is_intact());
    let mut log = AuditLog::open(&t.path).unwrap();
    assert_eq!(log.append(input(4)).unwrap(), 4);
    assert!(t.report().is_intact());
}

#[test]
fn a_missing_or_damaged_head_with_records_stops_appends() {
    let t = Temp::with("no-head", 3);
    std::fs::remove_file(head_path(&t.path)).unwrap();
    let p = t.problem();
    assert!(p.what.contains("the head file is missing or empty"), "{p}");
    assert!(AuditLog::open(&t.path).is_err());

    let t = Temp::with("bad-head", 3);
    std::fs::write(head_path(&t.path), b"\0\0\0\0").unwrap();
    let p = t.problem();
    assert!(p.what.contains("head file is damaged"), "{p}");
    assert!(AuditLog::open(&t.path).unwrap_err().to_string().contains("head file is damaged"));
}

#[test]
fn an_empty_log_is_intact_and_can_be_appended_to() {
    let t = Temp::new("empty");
    std::fs::create_dir_all(&t.dir).unwrap();
    std::fs::write(&t.path, b"").unwrap();
    let r = t.report();
    assert!(r.is_intact() && r.records == 0, "{r}");
    assert!(r.to_string().ends_with("intact: no records yet"));
    assert!(tail(&t.path, 10).unwrap().is_empty());
    let mut log = AuditLog::open(&t.path).unwrap();
    assert!(t.report().is_intact());
    assert_eq!(log.append(input(1)).unwrap(), 1);
    assert!(t.report().is_intact());
}

#[test]
fn a_missing_log_is_an_error_that_names_it() {
    let t = Temp::new("missing");
    for e in [verify(&t.path).unwrap_err(), tail(&t.path, 3).unwrap_err()] {
        assert!(matches!(e, AuditError::NotFound { .. }));
        assert_eq!(
            e.to_string(),
            format!(
                "audit log {} does not exist; check the path (a console creates it when it starts)",
                t.path.display()
            )
        );
    }
}

#[test]
fn garbage_never_panics() {
    let t = Temp::new("garbage");
    std::fs::create_dir_all(&t.dir).unwrap();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..50_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&t.path, &bytes).unwrap();
    assert_eq!(t.problem().line, 1);
    assert!(tail(&t.path, 5).unwrap().len() <= 5);
    assert!(AuditLog::open(&t.path).is_err());

    // One endless line.
    std::fs::write(&t.path, vec![b'{'; 3 * 1024 * 1024]).unwrap();
    assert!(t.problem().what.contains("longer than"));
    assert!(matches!(tail(&t.path, 1).unwrap_err(), AuditError::Corrupt { .. }));
    assert!(matches!(AuditLog::open(&t.path).unwrap_err(), AuditError::Corrupt { .. }));

    // Lines that are JSON but not records.
    std::fs::write(&t.path, format!("{{}}\n[1,2]\n{{\"seq\":\"one\"}}\n{}\n", record_line(1, ZERO_HASH))).unwrap();
    let p = t.problem();
    assert_eq!(p.line, 1);
    assert!(p.what.starts_with("not an audit record (missing field `seq` at byte 2)"), "{p}");

    // Only lines that are not records, and no head: not a log ttyhmi wrote.
    std::fs::write(&t.path, b"{}\n").unwrap();
    assert!(t.problem().what.contains("the head file is missing or empty, but the log is not"));
}

#[test]
fn tail_shows_the_last_records_for_people() {
    let t = Temp::with("tail", 5);
    let last = tail(&t.path, 2).unwrap();
    assert_eq!(
        last,
        vec![
            "2026-11-29T19:10:00.004Z alice@hmi1 operator write_result P_101 2.50 → 4.00 (raw 0x4040 0000) ok",
            "2026-11-29T19:10:00.005Z alice@hmi1 operator write_result P_101 2.50 → 5.00 (raw 0x4040 0000) ok",
        ]
    );
    assert_eq!(tail(&t.path, 10).unwrap().len(), 5);
    assert!(tail(&t.path, 0).unwrap().is_empty());
    t.edit(|l| l[4] = "\u{1b}[31mnot a record".into());
    let last = tail(&t.path, 1).unwrap();
    assert_eq!(last[0], "(not an audit record: \\x1b[31mnot a record — expected value at byte 1)");
}

#[test]
fn records_that_cannot_be_written_are_refused_whole() {
    let t = Temp::with("refused", 1);
    let mut log = AuditLog::open(&t.path).unwrap();
    let e = log.append(input(2).new_value("x".repeat(MAX_LINE))).unwrap_err();
    assert!(matches!(e, AuditError::TooLong { .. }), "{e}");
    if let Some(time) = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(400_000_000_000)) {
        let e = log.append(RecordInput { time, ..input(2) }).unwrap_err();
        assert!(matches!(e, AuditError::BadTime { .. }), "{e}");
    }
    assert_eq!(t.lines().len(), 1);
    assert_eq!(log.append(input(2)).unwrap(), 2);
    assert!(t.report().is_intact());
}

#[cfg(unix)]
#[test]
fn open_creates_a_private_file_in_a_private_folder() {
    use std::os::unix::fs::PermissionsExt;
    let t = Temp::new("create");
    let path = t.dir.join("state/ttyhmi/audit.jsonl");
    AuditLog::open(&path).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&head_path(&path)), 0o600);
    assert_eq!(mode(path.parent().unwrap()) & 0o077, 0);
}

/// Issue 12, item 18: one record appended by hand with the right `prev`, the head left alone.
#[test]
fn a_record_appended_without_its_head_is_tampering() {
    let t = Temp::with("forged-append", 5);
    let lines = t.lines();
    t.push_bytes(format!("{}\n", record_line(6, &sha256_hex(lines[4].as_bytes()))).as_bytes());
    let r = t.report();
    let p = r.problem.clone().unwrap_or_else(|| panic!("a forged record was accepted: {r}"));
    assert_eq!((p.line, p.seq), (6, Some(6)), "{r}");
    assert!(p.what.contains("the head is behind the log"), "{r}");
    assert_eq!((r.records, r.last_seq), (5, 5), "the forged record does not count: {r}");
    let e = AuditLog::open(&t.path).unwrap_err();
    assert!(e.to_string().contains("the head is behind the log"), "{e}");
}

/// Issue 12, item 18: a record edited and every later `prev` recomputed, the head left alone.
#[test]
fn a_recomputed_chain_under_the_old_head_is_tampering() {
    let t = Temp::with("recomputed", 5);
    let mut lines = t.lines();
    let mut prev = ZERO_HASH.to_string();
    for (i, line) in lines.iter_mut().enumerate() {
        let mut rec: Record = serde_json::from_str(line).unwrap();
        if i == 1 {
            rec.result = Some("failed".into());
        }
        rec.prev = prev;
        *line = serde_json::to_string(&rec).unwrap();
        prev = sha256_hex(line.as_bytes());
    }
    t.set_lines(&lines);
    let p = t.problem();
    assert_eq!((p.line, p.seq), (5, Some(5)), "{p}");
    assert!(p.what.contains("not the one the head file names"), "{p}");

    // The same, with one more record chained to the rewritten ones.
    let more = record_line(6, &prev);
    lines.push(more);
    t.set_lines(&lines);
    let p = t.problem();
    assert!(p.what.contains("the head is behind the log"), "{p}");
}

/// Issue 12, item 18: what `verify` and `tail` print of a line is cleaned, error texts included.
#[test]
fn verify_and_tail_never_print_control_characters_from_the_file() {
    let t = Temp::with("escapes", 3);
    t.edit(|l| l[1] = l[1].replace(r#""action":"write_result""#, r#""action":"\u001b]0;pwned\u0007\u001b[2J""#));
    let r = t.report();
    let text = r.to_string();
    assert!(r.problem.is_some(), "{text}");
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
    assert!(text.contains(r"\x1b]0;pwned\x07\x1b[2J"), "{text}");
    let lines = tail(&t.path, 2).unwrap();
    assert!(!lines[0].chars().any(char::is_control), "{lines:?}");
    assert!(lines[0].contains(r"\x1b[2J"), "{lines:?}");
}

#[test]
fn write_outcomes_continue_a_log_written_before_they_existed() {
    // Three records as an older version wrote them (no `outcome`: the same bytes as today's
    // records without one), then write results with each outcome.
    let t = Temp::with("outcomes", 3);
    assert!(t.lines().iter().all(|l| !l.contains("outcome")), "{:?}", t.lines());
    let mut log = AuditLog::open(&t.path).unwrap();
    for (i, o) in WriteOutcome::ALL.into_iter().enumerate() {
        log.append(input(4 + i as u64).result(format!("result {i}")).outcome(o)).unwrap();
    }
    let r = t.report();
    assert!(r.is_intact(), "{r}");
    assert_eq!(r.records, 3 + WriteOutcome::ALL.len() as u64);
    let lines = t.lines();
    for (line, o) in lines[3..].iter().zip(WriteOutcome::ALL) {
        let rec: Record = serde_json::from_str(line).unwrap();
        assert_eq!(rec.outcome, Some(o));
        assert!(line.contains(&format!(r#","outcome":"{}","prev":"#, o.as_str())), "{line}");
    }
    let tail = tail(&t.path, 10).unwrap();
    assert!(tail.iter().any(|l| l.ends_with("result 1 [not sent]")), "{tail:#?}");
    assert!(tail.iter().any(|l| l.ends_with("result 0")), "a write the device took reads as before: {tail:#?}");
}
