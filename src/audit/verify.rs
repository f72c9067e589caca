//! Checking a whole log: every line, the chain, the head.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::head::{self, Fit, Head, Last, head_path};
use super::log::open_existing;
use super::scan::{MAX_DAMAGED_LINES, ZERO_HASH, damaged_hash, parse_record, sha256_hex};
use super::{AuditError, MAX_LINE};

/// The first break in a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the file where it is (for an edit: the edited line).
    pub line: u64,
    /// The seq of the record on that line, when it has one.
    pub seq: Option<u64>,
    /// What is wrong, in words.
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "line {} (seq {seq}): {}", self.line, self.what),
            None => write!(f, "line {}: {}", self.line, self.what),
        }
    }
}

/// What [`verify`] found. `Display` gives the report for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub path: PathBuf,
    /// Records that check out, before the problem if there is one.
    pub records: u64,
    /// The last record that checks out (0: none).
    pub last_seq: u64,
    /// SHA-256 of that record's line (64 zeros: none). Keep a copy elsewhere now and then: a log
    /// rewritten with recomputed hashes no longer contains it.
    pub last_hash: String,
    /// The first break; `None` when the log is intact.
    pub problem: Option<Problem>,
    /// Things a person should know that are not tampering (crash remnants).
    pub notes: Vec<String>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.problem.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.problem {
            Some(p) => {
                write!(f, "{path}:{}: BROKEN: {p}", p.line)?;
                match self.records {
                    0 => write!(f, "\n  no record before it checks out")?,
                    n => write!(f, "\n  the {n} records before it check out (up to seq {})", self.last_seq)?,
                }
            }
            None if self.records == 0 => write!(f, "{path}: intact: no records yet")?,
            None => write!(
                f,
                "{path}: intact: {} records, seq 1 to {}; SHA-256 of the last: {}",
                self.records, self.last_seq, self.last_hash
            )?,
        }
        for n in &self.notes {
            write!(f, "\n  note: {n}")?;
        }
        Ok(())
    }
}

/// A record that checked out.
struct Good {
    line: u64,
    seq: u64,
    hash: String,
    prev: String,
}

/// A line that is not a record, waiting for the next record's `skipped` to account for it.
struct Damaged {
    line: u64,
    bytes: Vec<u8>,
    why: String,
}

/// Checks the whole log at `path` and its head file, and reports the first break. An `Err` is
/// for a log that cannot be read at all (missing, unreadable); a broken chain is an `Ok` report
/// with a [`Problem`].
pub fn verify(path: impl AsRef<Path>) -> Result<VerifyReport, AuditError> {
    let path = path.as_ref();
    let file = open_existing(path)?;
    // The log's length and the head, read together while no append is under way.
    file.lock_shared().map_err(|source| AuditError::Io { path: path.into(), action: "lock it", source })?;
    let len = file.metadata();
    let head = read_head(path);
    // Closing the file would unlock it too.
    let _ = file.unlock();
    let len = len.map_err(|source| AuditError::Io { path: path.into(), action: "read it", source })?.len();
    let head = head?;
    let mut report = VerifyReport {
        path: path.to_path_buf(),
        records: 0,
        last_seq: 0,
        last_hash: ZERO_HASH.into(),
        problem: None,
        notes: Vec::new(),
    };
    let read_err = |source| AuditError::Io { path: path.into(), action: "read it", source };
    let mut reader = BufReader::new((&file).take(len));
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let mut last: Option<Good> = None;
    let mut damaged: Vec<Damaged> = Vec::new();
    let mut damaged_len = 0usize;

    // Set when the problem is an edit of the last record that seemed good: it does not count.
    let mut suspect_last = false;
    let problem = loop {
        buf.clear();
        let limit = MAX_LINE as u64 + 1;
        let n = (&mut reader).take(limit).read_until(b'\n', &mut buf).map_err(read_err)?;
        if n == 0 {
            break None;
        }
        line_no += 1;
        let terminated = buf.last() == Some(&b'\n');
        if terminated {
            buf.pop();
        } else if n as u64 == limit {
            break Some(Problem {
                line: line_no,
                seq: None,
                what: format!(
                    "the line is longer than {MAX_LINE} bytes: no audit record, nor what an interrupted append leaves"
                ),
            });
        }
        let rec = match parse_record(&buf) {
            Ok(rec) => rec,
            Err(why) => {
                damaged_len += buf.len() + 1;
                damaged.push(Damaged { line: line_no, bytes: buf.clone(), why });
                if damaged.len() > MAX_DAMAGED_LINES {
                    break Some(unaccounted(&damaged[0]));
                }
                continue;
            }
        };

        // Damaged lines before a record must be the ones it says it skipped.
        if let Some(first) = damaged.first() {
            let hash = damaged_hash(damaged.iter().map(|d| d.bytes.as_slice()));
            if rec.skipped.as_deref() != Some(hash.as_str()) {
                break Some(unaccounted(first));
            }
            report.notes.push(format!(
                "{}: not audit records ({} bytes), left by an interrupted append; the record on line {line_no} (seq {}) skips them as designed",
                lines(first.line, line_no - 1),
                damaged_len,
                rec.seq
            ));
            damaged.clear();
            damaged_len = 0;
        } else if rec.skipped.is_some() {
            break Some(Problem {
                line: line_no,
                seq: Some(rec.seq),
                what: "it says it skips damaged lines before it, but there are none: lines before it were deleted, or it was edited".into(),
            });
        }

        if let Some(p) = check_seq(last.as_ref(), rec.seq, line_no) {
            break Some(p);
        }
        let expected_prev = last.as_ref().map_or(ZERO_HASH, |l| l.hash.as_str());
        if rec.prev != expected_prev {
            break Some(match &last {
                None => Problem {
                    line: line_no,
                    seq: Some(rec.seq),
                    what: "the first record's prev is not 64 zeros: records before it were deleted, or it was edited"
                        .into(),
                },
                Some(l) => Problem {
                    line: {
                        suspect_last = true;
                        l.line
                    },
                    seq: Some(l.seq),
                    what: format!(
                        "changed after it was written: its SHA-256 does not match the prev stored in the next record, line {line_no} (seq {}), unless that prev was edited",
                        rec.seq
                    ),
                },
            });
        }
        if !terminated {
            report.notes.push(format!(
                "line {line_no} (seq {}) has no newline at its end: the append that wrote it was interrupted; the next append completes it",
                rec.seq
            ));
        }
        last = Some(Good { line: line_no, seq: rec.seq, hash: sha256_hex(&buf), prev: rec.prev });
        report.records += 1;
    };

    if let Some(l) = &last {
        report.last_seq = l.seq;
        report.last_hash = l.hash.clone();
    }
    if problem.is_some() {
        report.problem = problem;
        if suspect_last {
            disown_last(&mut report, last.as_ref());
        }
        return Ok(report);
    }
    if let Some(first) = damaged.first() {
        report.notes.push(format!(
            "{} at the end: not audit records ({damaged_len} bytes), as an interrupted append leaves; the next append skips them and records their hash",
            lines(first.line, line_no)
        ));
    }
    let last_line = last.as_ref().map_or(0, |l| l.line);
    let head = match head {
        Ok(h) => h,
        Err(what) => {
            report.problem = Some(Problem { line: last_line.max(1), seq: None, what });
            return Ok(report);
        }
    };
    let last_for_head = last.as_ref().map(|l| Last { seq: l.seq, hash: l.hash.clone(), prev: l.prev.clone() });
    match head::check(head.as_ref(), last_for_head.as_ref(), len == 0) {
        Ok(Fit::Exact) => {}
        Ok(Fit::OneBehind) => report.notes.push(format!(
            "the head file names seq {}, one record behind the log: the append of seq {} was interrupted after writing its record; the next append brings the head up to date",
            report.last_seq - 1,
            report.last_seq
        )),
        Err(what) => {
            let behind = head.as_ref().is_some_and(|h| h.seq > report.last_seq);
            let (line, seq) = match &last {
                Some(l) if !behind => (l.line, Some(l.seq)),
                _ => (last_line + 1, None),
            };
            if head.as_ref().is_some_and(|h| h.seq == report.last_seq && report.last_seq > 0) {
                disown_last(&mut report, last.as_ref());
            }
            report.problem = Some(Problem { line, seq, what: format!("{what} (head file {})", head_path(path).display()) });
        }
    }
    Ok(report)
}

/// The last record that seemed good was edited: count up to the one before it. Seqs are
/// consecutive from 1 up to it, and its `prev` is the checked hash of the one before.
fn disown_last(report: &mut VerifyReport, last: Option<&Good>) {
    if let Some(l) = last {
        report.records -= 1;
        report.last_seq = l.seq - 1;
        report.last_hash = l.prev.clone();
    }
}

/// The head, `None` if missing or never written, `Err` (for the report) if damaged.
fn read_head(path: &Path) -> Result<Result<Option<Head>, String>, AuditError> {
    let file = match File::open(head_path(path)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Ok(None)),
        Err(source) => {
            return Err(AuditError::Io { path: path.into(), action: "open its head file (<log>.head)", source });
        }
    };
    let bytes = Head::read(&file).map_err(|source| AuditError::Io {
        path: path.into(),
        action: "read its head file (<log>.head)",
        source,
    })?;
    Ok(Head::parse(&bytes))
}

fn unaccounted(d: &Damaged) -> Problem {
    Problem {
        line: d.line,
        seq: None,
        what: format!(
            "not an audit record ({}), and no record after it accounts for it: it was edited, or inserted",
            d.why
        ),
    }
}

fn lines(a: u64, b: u64) -> String {
    if a == b { format!("line {a}") } else { format!("lines {a} to {b}") }
}

fn check_seq(last: Option<&Good>, seq: u64, line: u64) -> Option<Problem> {
    let expected = last.map_or(1, |l| l.seq.saturating_add(1));
    if seq == expected {
        return None;
    }
    let what = match last {
        None if seq == 0 => "seq 0: seqs start at 1; the record was edited".to_string(),
        None => format!(
            "the log starts at seq {seq}: {} deleted (or the log was cut at the front)",
            if seq == 2 { "record 1 was".to_string() } else { format!("records 1 to {} were", seq - 1) }
        ),
        Some(l) if seq > expected => format!(
            "seq {seq} follows seq {} (line {}): {} missing here — deleted, or the records were reordered",
            l.seq,
            l.line,
            if seq == expected + 1 {
                format!("seq {expected} is")
            } else {
                format!("seqs {expected} to {} are", seq - 1)
            }
        ),
        Some(l) => format!(
            "seq {seq} follows seq {} (line {}): a record was duplicated, inserted or moved here",
            l.seq, l.line
        ),
    };
    Some(Problem { line, seq: Some(seq), what })
}
