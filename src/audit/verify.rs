//! Checking a whole log: every line, the chain, the head.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::head::{self, Fit, Head, Last, head_path};
use super::log::open_existing;
use super::record::Record;
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
#[derive(Clone)]
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
    verify_visiting(path, |_| {})
}

/// [`verify`], handing every record that checks out to `visit` as the walk passes it. What was
/// visited counts only if the report is intact: a later break (an edit found by the next
/// record's `prev`, a head that does not fit) disowns records already visited.
pub fn verify_visiting(path: impl AsRef<Path>, mut visit: impl FnMut(&Record)) -> Result<VerifyReport, AuditError> {
    let path = path.as_ref();
    let file = open_existing(path)?;
    let (len, head) = snapshot(path, &file)?;
    let mut walk = Walk::new(path, head.as_ref().ok().and_then(|h| h.as_ref().map(|h| h.seq)));
    let mut reader = BufReader::new((&file).take(len));
    let mut buf = Vec::new();
    let read_err = |source| AuditError::Io { path: path.into(), action: "read it", source };
    loop {
        buf.clear();
        let Some(terminated) = next_line(&mut reader, &mut buf).map_err(read_err)? else { break };
        walk.line_no += 1;
        let problem = match terminated {
            Some(terminated) => walk.line(&buf, terminated, &mut visit),
            None => Some(Problem {
                line: walk.line_no,
                seq: None,
                what: format!(
                    "the line is longer than {MAX_LINE} bytes: no audit record, nor what an interrupted append leaves"
                ),
            }),
        };
        if let Some(p) = problem {
            return Ok(walk.broken(p));
        }
    }
    Ok(walk.finish(head, len))
}

/// The log's length and its head, read together under a shared lock: no append is half-way
/// through (appends hold the exclusive lock from announcing a record to confirming it).
fn snapshot(path: &Path, file: &File) -> Result<(u64, Result<Option<Head>, String>), AuditError> {
    file.lock_shared().map_err(|source| AuditError::Io { path: path.into(), action: "lock it", source })?;
    let len = file.metadata();
    let head = read_head(path);
    // Closing the file would unlock it too.
    let _ = file.unlock();
    let len = len.map_err(|source| AuditError::Io { path: path.into(), action: "read it", source })?.len();
    Ok((len, head?))
}

/// Reads the next line into `buf` without its newline: `None` at the end, `Some(None)` for a
/// line longer than [`MAX_LINE`], else `Some(Some(terminated))`.
fn next_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<Option<bool>>> {
    let limit = MAX_LINE as u64 + 1;
    let n = reader.take(limit).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Some(Some(true)));
    }
    Ok(Some(if n as u64 == limit { None } else { Some(false) }))
}

/// The walk through the log, line by line.
struct Walk {
    report: VerifyReport,
    line_no: u64,
    last: Option<Good>,
    /// The record after the one the head names: if the log goes on past the head, the first
    /// record nothing confirmed.
    after_head: Option<Good>,
    head_seq: Option<u64>,
    damaged: Vec<Damaged>,
    damaged_len: usize,
}

impl Walk {
    fn new(path: &Path, head_seq: Option<u64>) -> Walk {
        Walk {
            report: VerifyReport {
                path: path.to_path_buf(),
                records: 0,
                last_seq: 0,
                last_hash: ZERO_HASH.into(),
                problem: None,
                notes: Vec::new(),
            },
            line_no: 0,
            last: None,
            after_head: None,
            head_seq,
            damaged: Vec::new(),
            damaged_len: 0,
        }
    }

    /// One line (without its newline); a problem ends the walk.
    fn line(&mut self, buf: &[u8], terminated: bool, visit: &mut impl FnMut(&Record)) -> Option<Problem> {
        let rec = match parse_record(buf) {
            Ok(rec) => rec,
            Err(why) => {
                self.damaged_len += buf.len() + 1;
                self.damaged.push(Damaged { line: self.line_no, bytes: buf.to_vec(), why });
                return (self.damaged.len() > MAX_DAMAGED_LINES).then(|| unaccounted(&self.damaged[0]));
            }
        };
        if let Some(p) = self.account_for_damaged(&rec) {
            return Some(p);
        }
        if let Some(p) = check_seq(self.last.as_ref(), rec.seq, self.line_no) {
            return Some(p);
        }
        if let Some(p) = self.check_prev(&rec) {
            return Some(p);
        }
        if !terminated {
            self.report.notes.push(format!(
                "line {} (seq {}) has no newline at its end: the append that wrote it was interrupted; the next append completes it",
                self.line_no, rec.seq
            ));
        }
        visit(&rec);
        let good = Good { line: self.line_no, seq: rec.seq, hash: sha256_hex(buf), prev: rec.prev };
        if self.head_seq.and_then(|s| s.checked_add(1)) == Some(good.seq) {
            self.after_head = Some(good.clone());
        }
        self.report.records += 1;
        self.report.last_seq = good.seq;
        self.report.last_hash = good.hash.clone();
        self.last = Some(good);
        None
    }

    /// Damaged lines before a record must be the ones it says it skipped.
    fn account_for_damaged(&mut self, rec: &Record) -> Option<Problem> {
        let Some(first) = self.damaged.first() else {
            return rec.skipped.is_some().then(|| Problem {
                line: self.line_no,
                seq: Some(rec.seq),
                what: "it says it skips damaged lines before it, but there are none: lines before it were deleted, or it was edited".into(),
            });
        };
        let hash = damaged_hash(self.damaged.iter().map(|d| d.bytes.as_slice()));
        if rec.skipped.as_deref() != Some(hash.as_str()) {
            return Some(unaccounted(first));
        }
        self.report.notes.push(format!(
            "{}: not audit records ({} bytes), left by an interrupted append; the record on line {} (seq {}) skips them as designed",
            lines(first.line, self.line_no - 1),
            self.damaged_len,
            self.line_no,
            rec.seq
        ));
        self.damaged.clear();
        self.damaged_len = 0;
        None
    }

    /// The record's `prev` must be the hash of the record before. When it is not, the record
    /// before was edited (or this `prev` was): the record before no longer counts.
    fn check_prev(&mut self, rec: &Record) -> Option<Problem> {
        let expected = self.last.as_ref().map_or(ZERO_HASH, |l| l.hash.as_str());
        if rec.prev == expected {
            return None;
        }
        match self.last.clone() {
            None => Some(Problem {
                line: self.line_no,
                seq: Some(rec.seq),
                what: "the first record's prev is not 64 zeros: records before it were deleted, or it was edited"
                    .into(),
            }),
            Some(l) => {
                self.disown_last();
                Some(Problem {
                    line: l.line,
                    seq: Some(l.seq),
                    what: format!(
                        "changed after it was written: its SHA-256 does not match the prev stored in the next record, line {} (seq {}), unless that prev was edited",
                        self.line_no, rec.seq
                    ),
                })
            }
        }
    }

    /// The last record that seemed good was edited: count up to the one before it. Seqs are
    /// consecutive from 1 up to it, and its `prev` is the checked hash of the one before.
    fn disown_last(&mut self) {
        if let Some(l) = &self.last {
            self.report.records -= 1;
            self.report.last_seq = l.seq - 1;
            self.report.last_hash = l.prev.clone();
        }
    }

    fn broken(mut self, problem: Problem) -> VerifyReport {
        self.report.problem = Some(problem);
        self.report
    }

    /// After the last line: damaged lines at the end, then the head.
    fn finish(mut self, head: Result<Option<Head>, String>, len: u64) -> VerifyReport {
        if let Some(first) = self.damaged.first() {
            self.report.notes.push(format!(
                "{} at the end: not audit records ({} bytes), as an interrupted append leaves; the next append skips them and records their hash",
                lines(first.line, self.line_no),
                self.damaged_len
            ));
        }
        let last_line = self.last.as_ref().map_or(0, |l| l.line);
        let head = match head {
            Ok(h) => h,
            Err(what) => return self.broken(Problem { line: last_line.max(1), seq: None, what }),
        };
        let last = self.last.as_ref().map(|l| Last { seq: l.seq, hash: l.hash.clone(), prev: l.prev.clone() });
        match head::check(head.as_ref(), last.as_ref(), len == 0) {
            Ok(fit) => {
                self.note_fit(fit);
                self.report
            }
            Err(what) => {
                let problem = self.head_problem(head.as_ref(), last_line, what);
                self.broken(problem)
            }
        }
    }

    fn note_fit(&mut self, fit: Fit) {
        let seq = self.report.last_seq;
        match fit {
            Fit::Exact => {}
            Fit::Announced => self.report.notes.push(format!(
                "the head file announces a record after seq {seq} that is not in the log: an append was interrupted before its record was written whole; that append never returned, so what it was to record was not done"
            )),
            Fit::Unconfirmed => self.report.notes.push(format!(
                "seq {seq} is the record the head file announced, but the head still names seq {}: the append of seq {seq} was interrupted after writing its record (an incomplete last append, not tampering); the next append brings the head up to date",
                seq.saturating_sub(1)
            )),
        }
    }

    /// Where a head that does not fit the log points, and what no longer counts.
    fn head_problem(&mut self, head: Option<&Head>, last_line: u64, what: String) -> Problem {
        let what = format!("{what} (head file {})", head_path(&self.report.path).display());
        let head_seq = head.map(|h| h.seq);
        if let (Some(h), Some(after)) = (head_seq, self.after_head.clone()) {
            // The log goes on past the head: nothing after the head's record is confirmed.
            self.report.records = h;
            self.report.last_seq = h;
            self.report.last_hash = after.prev;
            return Problem { line: after.line, seq: Some(after.seq), what };
        }
        if let Some(s) = head_seq
            && s == self.report.last_seq
            && s > 0
        {
            // Same seq, other hash: the last record was changed.
            let line = self.last.as_ref().map_or(last_line, |l| l.line);
            self.disown_last();
            return Problem { line, seq: Some(s), what };
        }
        match &self.last {
            Some(l) if head_seq.is_none_or(|s| s <= l.seq) => Problem { line: l.line, seq: Some(l.seq), what },
            _ => Problem { line: last_line + 1, seq: None, what },
        }
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
