//! Several console processes appending to one audit log at once: nothing interleaved, nothing
//! lost, one chain; and `verify` names an edited or deleted record.
//!
//! The writers are real OS processes: this test binary runs itself again, once per writer, with
//! `TTYHMI_AUDIT_WRITER` set, and `writer_process` (which does nothing otherwise) appends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use ttyhmi::audit::{Action, Actor, AuditLog, Record, RecordInput, verify};

const WRITER_ENV: &str = "TTYHMI_AUDIT_WRITER";
const WRITERS: u64 = 8;
const PER_WRITER: u64 = 500;

/// A writer process: `TTYHMI_AUDIT_WRITER=<writer>:<count>:<log path>`.
#[test]
fn writer_process() {
    let Ok(spec) = std::env::var(WRITER_ENV) else { return };
    let mut parts = spec.splitn(3, ':');
    let (Some(writer), Some(count), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("{WRITER_ENV}={spec}: expected <writer>:<count>:<path>");
    };
    let writer: u64 = writer.parse().unwrap();
    let count: u64 = count.parse().unwrap();
    let actor = Actor {
        user: format!("op{writer}"),
        host: "hmi1".into(),
        ssh_client: Some(format!("10.0.0.{writer}:5000{writer}").parse().unwrap()),
        role: "operator".into(),
        session: None,
        via: None,
    };
    let mut log = AuditLog::open(path).unwrap();
    for i in 0..count {
        let time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_979_400_000 + i);
        let rec = RecordInput::new(time, &actor, Action::WriteAttempt)
            .tag(format!("W{writer}"))
            .old(i)
            .new_value(i + 1)
            .raw(format!("0x{i:04x}"))
            .result("ok");
        log.append(rec).unwrap();
    }
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("audit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of the log and its head, changed by `edit` (its lines, without newlines).
fn tampered_copy(log: &Path, dir: &Path, name: &str, edit: impl FnOnce(&mut Vec<String>)) -> PathBuf {
    let copy = dir.join(format!("{name}.jsonl"));
    let text = std::fs::read_to_string(log).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    edit(&mut lines);
    std::fs::write(&copy, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    std::fs::copy(dir.join("audit.jsonl.head"), dir.join(format!("{name}.jsonl.head"))).unwrap();
    copy
}

#[test]
fn eight_processes_append_4000_records_to_one_chain() {
    let dir = fresh_dir("concurrent");
    let log = dir.join("audit.jsonl");
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();
    let children: Vec<_> = (1..=WRITERS)
        .map(|w| {
            Command::new(&exe)
                .args(["--exact", "writer_process", "--test-threads=1", "--nocapture"])
                .env(WRITER_ENV, format!("{w}:{PER_WRITER}:{}", log.display()))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a writer process failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let elapsed = started.elapsed();
    let total = WRITERS * PER_WRITER;
    eprintln!(
        "{total} records from {WRITERS} processes in {:.2?} ({:.2?} per record, three fsyncs each: announce, record, head)",
        elapsed,
        elapsed / total as u32
    );

    let report = verify(&log).unwrap();
    eprintln!("{report}");
    assert!(report.is_intact(), "{report}");
    assert!(report.notes.is_empty(), "{report}");
    assert_eq!((report.records, report.last_seq), (total, total));

    // Every line a whole record; seqs 1..=4000 in order; each writer's 500 records all there,
    // in the order it wrote them.
    let text = std::fs::read_to_string(&log).unwrap();
    let records: Vec<Record> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len() as u64, total);
    assert!(records.iter().map(|r| r.seq).eq(1..=total));
    let mut by_writer: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in &records {
        by_writer.entry(r.tag.clone().unwrap()).or_default().push(r.old.as_ref().unwrap().as_u64().unwrap());
    }
    assert_eq!(by_writer.len() as u64, WRITERS);
    for (w, seen) in &by_writer {
        assert!(seen.iter().copied().eq(0..PER_WRITER), "writer {w} lost or reordered records");
    }
    // The processes really ran at once: their records are interleaved, not one block after another.
    let switches = records.windows(2).filter(|p| p[0].tag != p[1].tag).count();
    assert!(switches as u64 > WRITERS, "only {switches} switches between writers");

    // One field of one record changed with a text edit: that line is named.
    let edited = tampered_copy(&log, &dir, "edited", |lines| {
        assert!(lines[1233].contains(r#""result":"ok""#));
        lines[1233] = lines[1233].replace(r#""result":"ok""#, r#""result":"failed""#);
    });
    let r = verify(&edited).unwrap();
    let p = r.problem.as_ref().unwrap_or_else(|| panic!("edit not detected: {r}"));
    eprintln!("{r}");
    assert_eq!((p.line, p.seq), (1234, Some(1234)), "{r}");
    assert!(r.to_string().contains(":1234: BROKEN: line 1234 (seq 1234): changed after it was written"), "{r}");
    assert!(r.to_string().contains("the 1233 records before it check out (up to seq 1233)"), "{r}");

    // One line deleted: its place is named.
    let deleted = tampered_copy(&log, &dir, "deleted", |lines| drop(lines.remove(1999)));
    let r = verify(&deleted).unwrap();
    let p = r.problem.as_ref().unwrap_or_else(|| panic!("deletion not detected: {r}"));
    eprintln!("{r}");
    assert_eq!(p.line, 2000, "{r}");
    assert!(p.what.contains("seq 2000 is missing here"), "{r}");

    // The last line deleted: the head names it.
    let cut = tampered_copy(&log, &dir, "cut", |lines| drop(lines.pop()));
    let r = verify(&cut).unwrap();
    let p = r.problem.as_ref().unwrap_or_else(|| panic!("deletion of the last record not detected: {r}"));
    eprintln!("{r}");
    assert_eq!(p.line, 4000, "{r}");

    // One record appended by hand, chained to the last, the head left alone: tampering.
    let forged = tampered_copy(&log, &dir, "forged", |lines| {
        let mut rec: Record = serde_json::from_str(lines.last().unwrap()).unwrap();
        rec.prev = sha256_hex(lines.last().unwrap().as_bytes());
        rec.seq += 1;
        rec.result = Some("ok (forged)".into());
        lines.push(serde_json::to_string(&rec).unwrap());
    });
    let r = verify(&forged).unwrap();
    let p = r.problem.as_ref().unwrap_or_else(|| panic!("forged record accepted: {r}"));
    eprintln!("{r}");
    assert_eq!((p.line, p.seq), (4001, Some(4001)), "{r}");
    assert!(p.what.contains("the head is behind the log"), "{r}");
    assert_eq!(r.last_seq, 4000, "{r}");

    let _ = std::fs::remove_dir_all(&dir);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
