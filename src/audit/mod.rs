//! The audit log: append-only, fsync'd, hash-chained JSON Lines, safe with several console
//! processes appending to one file at once.
//!
//! Every write attempt, write result, denial, PIN failure, lockout and alarm operator action is
//! recorded here before anything it describes happens: [`AuditLog::append`] returns only after
//! the record is on disk (`fsync`), and a caller that gets an error must disable writing
//! (fail secure) and say why.
//!
//! ```no_run
//! use std::time::SystemTime;
//! use ttyhmi::audit::{Action, Actor, AuditLog, RecordInput, ssh_client_from_env};
//!
//! let actor = Actor {
//!     user: "alice".into(),
//!     host: "hmi1".into(),
//!     ssh_client: ssh_client_from_env(),
//!     role: "operator".into(),
//!     session: None,
//!     via: None,
//! };
//! let mut log = AuditLog::open("/var/lib/ttyhmi/audit.jsonl")?;
//! let rec = RecordInput::new(SystemTime::now(), &actor, Action::WriteAttempt)
//!     .tag("P_101")
//!     .old("2.50")
//!     .new_value("3.00")
//!     .raw("0x4040 0000");
//! let seq = log.append(rec)?; // durable now: only now may the write be sent
//! # let _ = seq;
//! let report = ttyhmi::audit::verify("/var/lib/ttyhmi/audit.jsonl")?;
//! println!("{report}");
//! # Ok::<(), ttyhmi::audit::AuditError>(())
//! ```
//!
//! # On disk
//!
//! One JSON object per line, fields in this order (absent optional fields are left out):
//!
//! ```text
//! {"seq":57,"time":"2026-11-29T19:10:00.123Z","user":"alice","host":"hmi1","ssh_client":"10.0.0.5:52144","role":"operator","action":"write_result","tag":"P_101","old":"2.50","new":"3.00","raw":"0x4040 0000","result":"ok","prev":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
//! ```
//!
//! - `seq` counts from 1 and continues across processes and restarts.
//! - `time` is UTC, RFC 3339 with milliseconds, given by the caller (no clock in here).
//! - `action` is one of [`Action`] in snake_case; `tag`, `old`, `new`, `raw`, `result`,
//!   `outcome` and `ssh_client` are optional. `old`/`new`/`raw` are JSON values: strings as shown
//!   on screen (`"2.50"`) are the most useful.
//! - `outcome`, after `result` on a `write_result`, says which way the write went: one of
//!   [`WriteOutcome`] (`written`, `not_sent`, `refused`, `unknown`, `connection_lost`). Logs
//!   written before it existed have none, and verify as before.
//! - `prev` is the SHA-256 (lowercase hex) of the previous line's exact bytes without its
//!   newline; the first record's `prev` is 64 zeros.
//! - `skipped` appears only after a crash, see below.
//!
//! Next to the log, `<log>.head` (for example `audit.jsonl.head`) holds one line,
//! `ttyhmi-audit-head v2 seq=57 sha256=<hex> next=<hex>`: the seq and the SHA-256 of the last
//! record's line, and the SHA-256 of the line an append is writing (64 zeros when none is). The
//! chain alone cannot show that the last record, or the last few, were deleted, that the last
//! line was edited (no later line covers it), or that a record was added at the end; the head
//! can. It is rewritten in place (under 512 bytes, so one sector, as PostgreSQL does with
//! `pg_control`; always the same length for a seq, so no old tail is left behind) and fsync'd.
//! Version 1 heads (no `next`) are still read. The file is created with mode 0600 and its
//! folder, if missing, with 0700.
//!
//! # Appending
//!
//! [`AuditLog::append`] takes an exclusive lock on the log file (`File::lock`, `flock` on
//! Unix), reads the log backwards from the end to find the last record, checks it against the
//! head, then, still under the lock:
//!
//! 1. announces the new line: the head gets its SHA-256 in `next` (fsync);
//! 2. writes the line with one `write_all` (the file is opened in append mode) and fsyncs the log;
//! 3. confirms it: the head names the new record, `next` empty (fsync).
//!
//! Processes therefore take turns: records never interleave and none is lost, whatever the
//! number of consoles, and a reader that takes the shared lock (`verify`) never sees an append
//! half-way. Three fsyncs per record instead of two: the price of telling a crash from a
//! record added by hand.
//!
//! A crash (power loss) during an append can leave the log's last line incomplete, or the head
//! not yet naming the last record. Neither is treated as tampering, and neither is chained to:
//!
//! - Lines at the end of the log that are not records (a torn write, zeros after a power
//!   loss) are *damaged*. The next append does not chain to them: it closes the last one with a
//!   newline, chains its record to the last good record, and stores the SHA-256 of the damaged
//!   lines (joined by `\n`) in its `skipped` field. So they stay in the file as evidence, and
//!   `verify` accepts them only where the next record names exactly those bytes. Each
//!   interrupted append leaves at most one such line; more than 8 in a row, or a line longer
//!   than [`MAX_LINE`], is not a crash remnant and is refused.
//! - A complete record that lacks only its newline is a record; the next append completes it.
//! - The record after the one the head names is accepted only when the head announced exactly
//!   that line in `next` (the crash came between steps 2 and 3): `verify` reports it as an
//!   incomplete last append, and the next append catches the head up. A record after the head
//!   that was not announced is tampering: "the head is behind the log".
//! - A head that announces a line the log does not hold (the crash came before step 2 ended)
//!   is a note: that append never returned, so what it was to record was never done. A record
//!   whose append never returned can thus be lost without a trace, but never a record whose
//!   action went ahead.
//!
//! Anything else is refused: if the log's end does not match its head, or the last line
//! cannot be chained to, `append` (and `open`) fail and writing must stay disabled until a
//! person has looked at the log. Starting a fresh log means moving the log and its head aside
//! (keep them).
//!
//! # What `verify` detects, and what the chain proves
//!
//! [`verify`] checks every line: it parses, `seq` is one more than the record before, `prev`
//! is the hash of the record before, damaged lines are accounted for by a `skipped`, and the
//! log ends where its head says. It reports the first break with its line number:
//!
//! - an edited record (any byte): the next record's `prev` no longer matches, or, for the last
//!   record, the head no longer matches; an edit that breaks the JSON names the line itself;
//! - a deleted record, anywhere: a gap in `seq` (first or middle), or the head is ahead (last);
//! - reordered, duplicated or inserted records: `seq` out of order, or a broken `prev`;
//! - records added at the end, even chained correctly: the head is behind the log;
//! - a chain rewritten with recomputed hashes under the old head: the last record is not the
//!   one the head names, or the head is behind;
//! - inserted garbage: a non-record line that no `skipped` accounts for;
//! - truncation of the file, a missing or emptied head.
//!
//! So the chain proves that nobody who could change only one of the two files, or only append
//! to the log, changed what was recorded. It does not prove more: there is no secret key, so
//! an account that can write both the log and its head (the account the console runs as, and
//! root) can rewrite both consistently, and `verify` cannot tell. That is why a console shared
//! by several people (`ttyhmi serve`) runs as a service account of its own that those people
//! cannot act as. To catch even such a rewrite, copy the last record's hash that `verify`
//! prints somewhere the console's account cannot write (a remote syslog, a ticket, paper) now
//! and then: a rewritten log no longer contains that hash.
//!
//! Garbage appended after the last record is reported as a note, not an error: it is no
//! record, and the next append will skip it and record its hash. What `verify` and `tail`
//! print of a line (an error that quotes it, a record's fields) goes through
//! [`crate::sanitize`]: the file is not trusted to be free of terminal escapes.
//!
//! The log is never rotated or trimmed here; a log moved aside starts a new chain at seq 1.

mod head;
mod log;
mod record;
mod scan;
mod verify;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fuzz;

use std::io;
use std::path::PathBuf;

pub use log::{AuditLog, tail};
pub use record::{Action, Actor, Record, RecordInput, WriteOutcome, parse_ssh_client, ssh_client_from_env};
pub use verify::{Problem, VerifyReport, verify, verify_visiting};

/// Longest line `append` writes (and `verify` accepts as a record): far beyond any real record.
pub const MAX_LINE: usize = 64 * 1024;

/// Why the audit log could not be opened, written or read. Writing must stay disabled while
/// `open` or `append` fail.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(
        "audit log {}: cannot {action}: {source}; check that the file and its folder are writable by this account and that the disk is not full",
        path.display()
    )]
    Io { path: PathBuf, action: &'static str, source: io::Error },

    #[error("audit log {} does not exist; check the path (a console creates it when it starts)", path.display())]
    NotFound { path: PathBuf },

    #[error(
        "audit log {}: {what}; writing stays disabled: run `ttyhmi audit verify {}` and have the log examined; to start a new log, move the log and its .head file aside (keep them)",
        path.display(),
        path.display()
    )]
    Corrupt { path: PathBuf, what: String },

    #[error(
        "audit log {}: the record would be {len} bytes, more than the limit of {MAX_LINE}; shorten the values given to the audit log",
        path.display()
    )]
    TooLong { path: PathBuf, len: usize },

    #[error("audit log {}: the record time {time:?} cannot be written as an RFC 3339 UTC time; check the system clock", path.display())]
    BadTime { path: PathBuf, time: std::time::SystemTime },

    #[error("audit log {}: cannot encode the record: {source}", path.display())]
    Encode { path: PathBuf, source: serde_json::Error },
}
