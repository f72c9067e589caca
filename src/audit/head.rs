//! The head file: the seq and hash of the log's last record, and the hash of the record an
//! append is about to write, so that deleting records at the end, editing the last one, or
//! adding one without ttyhmi's append shows.
//!
//! One line, always the same length for a given seq (so an in-place rewrite never leaves the end
//! of a longer line behind):
//!
//! ```text
//! ttyhmi-audit-head v2 seq=57 sha256=<64 hex> next=<64 hex>
//! ```
//!
//! `next` is the SHA-256 of the line the append under way is writing, 64 zeros when none is.
//! Version 1 heads (no `next`) are still read.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::scan::ZERO_HASH;

const MAGIC_V1: &str = "ttyhmi-audit-head v1";
const MAGIC: &str = "ttyhmi-audit-head v2";

/// `<log>.head`.
pub(crate) fn head_path(log: &Path) -> PathBuf {
    let mut s = log.as_os_str().to_owned();
    s.push(".head");
    PathBuf::from(s)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub seq: u64,
    /// SHA-256 of the last record's line (64 zeros before the first).
    pub hash: String,
    /// SHA-256 of the line an append is writing right now; `None` when no append is under way.
    pub next: Option<String>,
}

fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Head {
    /// The head of a log with no records.
    pub(crate) fn empty() -> Head {
        Head { seq: 0, hash: ZERO_HASH.into(), next: None }
    }

    pub(crate) fn line(&self) -> String {
        let next = self.next.as_deref().unwrap_or(ZERO_HASH);
        format!("{MAGIC} seq={} sha256={} next={next}\n", self.seq, self.hash)
    }

    /// `None` for an empty file (just created, never written).
    pub(crate) fn parse(bytes: &[u8]) -> Result<Option<Head>, String> {
        if bytes.is_empty() {
            return Ok(None);
        }
        let damaged = || {
            "the head file is damaged (it should hold one line `ttyhmi-audit-head v2 seq=N sha256=HEX next=HEX`)"
                .to_string()
        };
        let text = std::str::from_utf8(bytes).map_err(|_| damaged())?;
        let text = text.strip_suffix('\n').ok_or_else(damaged)?;
        let (rest, v2) = match (text.strip_prefix(MAGIC), text.strip_prefix(MAGIC_V1)) {
            (Some(rest), _) => (rest, true),
            (None, Some(rest)) => (rest, false),
            (None, None) => return Err(damaged()),
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        let field = |i: usize, key: &str| fields.get(i).and_then(|f| f.strip_prefix(key));
        let expected = if v2 { 4 } else { 3 };
        if fields.len() != expected || fields.first() != Some(&"") {
            return Err(damaged());
        }
        // Only the number as `line` writes it: `+6` or `06` would read as 6, and any change to
        // the head must show.
        let seq =
            field(1, "seq=").and_then(|s| s.parse::<u64>().ok().filter(|n| n.to_string() == s)).ok_or_else(damaged)?;
        let hash = field(2, "sha256=").filter(|h| is_hash(h)).ok_or_else(damaged)?;
        let next = match v2 {
            true => Some(field(3, "next=").filter(|h| is_hash(h)).ok_or_else(damaged)?),
            false => None,
        };
        let next = next.filter(|n| *n != ZERO_HASH).map(String::from);
        Ok(Some(Head { seq, hash: hash.to_string(), next }))
    }

    pub(crate) fn read(file: &File) -> io::Result<Vec<u8>> {
        let mut f = file;
        f.seek(SeekFrom::Start(0))?;
        let mut bytes = Vec::new();
        f.take(4096).read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Rewrites the head in place (one write under 512 bytes: one sector) and fsyncs it.
    pub(crate) fn write(&self, file: &File) -> io::Result<()> {
        let line = self.line();
        let mut f = file;
        f.seek(SeekFrom::Start(0))?;
        f.write_all(line.as_bytes())?;
        if file.metadata()?.len() > line.len() as u64 {
            file.set_len(line.len() as u64)?;
        }
        file.sync_data()
    }
}

/// The log's last record, as the head is checked against it.
pub(crate) struct Last {
    pub seq: u64,
    /// SHA-256 of its line.
    pub hash: String,
    pub prev: String,
}

/// How the head fits the log, when it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// It names the last record (or there are none and it says so, or it was never written).
    Exact,
    /// It names the last record and announces a record that is not in the log: an append was
    /// interrupted before its record was written whole. That append never returned, so what it
    /// would have recorded was never done.
    Announced,
    /// The last record is the one the head announced, one after the record the head names: an
    /// append was interrupted between the record's fsync and the head's. The next append brings
    /// the head up to date.
    Unconfirmed,
}

/// Whether the head fits the log's last record (`None`: no records; `log_empty`: not a byte);
/// if not, what that means, for a person.
pub(crate) fn check(head: Option<&Head>, last: Option<&Last>, log_empty: bool) -> Result<Fit, String> {
    let (h, l) = match (head, last) {
        // `open` writes the head of a new log before anything is appended.
        (None, None) if log_empty => return Ok(Fit::Exact),
        (None, None) => {
            return Err("the head file is missing or empty, but the log is not: the head file was deleted".into());
        }
        (None, Some(l)) => {
            return Err(format!(
                "the head file is missing or empty, but the log holds records up to seq {}: the head file was deleted, perhaps to hide records deleted at the end of the log",
                l.seq
            ));
        }
        (Some(h), None) if h.seq == 0 && h.hash == ZERO_HASH => return Ok(exact_or_announced(h)),
        (Some(h), None) => {
            return Err(format!(
                "the log holds no records, but its head file says it ended at seq {}: the records were deleted",
                h.seq
            ));
        }
        (Some(h), Some(l)) => (h, l),
    };
    if h.seq == l.seq {
        return match h.hash == l.hash {
            true => Ok(exact_or_announced(h)),
            false => Err(format!(
                "the last record (seq {}) is not the one the head file names: it was changed after it was written, or replaced",
                l.seq
            )),
        };
    }
    if h.seq.checked_add(1) == Some(l.seq) && h.hash == l.prev && h.next.as_deref() == Some(l.hash.as_str()) {
        return Ok(Fit::Unconfirmed);
    }
    if h.seq > l.seq {
        let missing = if h.seq == l.seq + 1 {
            format!("record {} was", h.seq)
        } else {
            format!("records {} to {} were", l.seq + 1, h.seq)
        };
        return Err(format!(
            "the head file says the log ends at seq {}, but the last record is seq {}: {missing} deleted from the end, or damaged",
            h.seq, l.seq
        ));
    }
    Err(behind(h, l))
}

fn exact_or_announced(h: &Head) -> Fit {
    if h.next.is_some() { Fit::Announced } else { Fit::Exact }
}

fn behind(h: &Head, l: &Last) -> String {
    let added = if l.seq == h.seq + 1 {
        format!("record {} was", l.seq)
    } else {
        format!("records {} to {} were", h.seq + 1, l.seq)
    };
    format!(
        "the head is behind the log: the head file names seq {} as the last record, but the log goes on to seq {}: {added} added without the head file (ttyhmi's append updates both under one lock, and announces each record in the head before writing it), or the head file was restored from an older copy",
        h.seq, l.seq
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(seq: u64, c: char) -> Head {
        Head { seq, hash: c.to_string().repeat(64), next: None }
    }

    fn announcing(seq: u64, c: char, next: char) -> Head {
        Head { next: Some(next.to_string().repeat(64)), ..h(seq, c) }
    }

    fn l(seq: u64, hash: char, prev: char) -> Last {
        Last { seq, hash: hash.to_string().repeat(64), prev: prev.to_string().repeat(64) }
    }

    #[test]
    fn head_line_round_trips_and_garbage_is_refused() {
        for head in [h(4000, 'a'), announcing(4000, 'a', 'b'), Head::empty()] {
            assert_eq!(Head::parse(head.line().as_bytes()).unwrap(), Some(head.clone()));
            assert!(head.line().len() < 512);
        }
        assert_eq!(h(7, 'a').line().len(), announcing(7, 'a', 'b').line().len(), "one length: no tail left behind");
        assert_eq!(Head::parse(b"").unwrap(), None);
        for bad in [
            &b"\0\0\0\0"[..],
            b"ttyhmi-audit-head v1 seq=1 sha256=abc\n",
            b"ttyhmi-audit-head v1 seq=x sha256=\n",
            b"ttyhmi-audit-head v3 seq=1 sha256=\n",
        ] {
            assert!(Head::parse(bad).unwrap_err().contains("head file is damaged"));
        }
        let upper = format!("ttyhmi-audit-head v2 seq=1 sha256={} next={}\n", "A".repeat(64), "0".repeat(64));
        assert!(Head::parse(upper.as_bytes()).is_err());
        let no_next = format!("ttyhmi-audit-head v2 seq=1 sha256={}\n", "a".repeat(64));
        assert!(Head::parse(no_next.as_bytes()).is_err());
        for seq in ["+1", "01", " 1", "1 ", ""] {
            let odd = format!("ttyhmi-audit-head v2 seq={seq} sha256={} next={}\n", "a".repeat(64), "0".repeat(64));
            assert!(Head::parse(odd.as_bytes()).is_err(), "seq={seq:?} (found by the long fuzz pass)");
        }
        let v1 = format!("ttyhmi-audit-head v1 seq=3 sha256={}\n", "a".repeat(64));
        assert_eq!(Head::parse(v1.as_bytes()).unwrap(), Some(h(3, 'a')), "version 1 heads are still read");
        assert_eq!(head_path(Path::new("/x/audit.jsonl")), Path::new("/x/audit.jsonl.head"));
    }

    #[test]
    fn fits() {
        assert_eq!(check(None, None, true), Ok(Fit::Exact));
        assert!(check(None, None, false).unwrap_err().contains("missing or empty"));
        assert_eq!(check(Some(&Head::empty()), None, false), Ok(Fit::Exact));
        assert_eq!(check(Some(&h(5, 'a')), Some(&l(5, 'a', 'b')), false), Ok(Fit::Exact));
        assert_eq!(check(Some(&announcing(5, 'a', 'c')), Some(&l(5, 'a', 'b')), false), Ok(Fit::Announced));
        assert_eq!(check(Some(&announcing(4, 'b', 'a')), Some(&l(5, 'a', 'b')), false), Ok(Fit::Unconfirmed));
        assert!(check(Some(&h(3, 'a')), None, false).unwrap_err().contains("no records"));
        assert!(check(None, Some(&l(5, 'a', 'b')), false).unwrap_err().contains("missing or empty"));
        assert!(
            check(Some(&h(5, 'c')), Some(&l(5, 'a', 'b')), false).unwrap_err().contains("changed after it was written")
        );
        assert!(check(Some(&h(6, 'c')), Some(&l(5, 'a', 'b')), false).unwrap_err().contains("record 6 was deleted"));
        assert!(
            check(Some(&h(9, 'c')), Some(&l(5, 'a', 'b')), false).unwrap_err().contains("records 6 to 9 were deleted")
        );
        // One record past the head, chained to it, but not the one announced (or none was).
        for head in [h(4, 'b'), announcing(4, 'b', 'c')] {
            let e = check(Some(&head), Some(&l(5, 'a', 'b')), false).unwrap_err();
            assert!(e.contains("the head is behind the log") && e.contains("record 5 was added"), "{e}");
        }
        let e = check(Some(&h(4, 'c')), Some(&l(5, 'a', 'b')), false).unwrap_err();
        assert!(e.contains("the head is behind the log"), "{e}");
        let e = check(Some(&announcing(2, 'b', 'a')), Some(&l(5, 'a', 'b')), false).unwrap_err();
        assert!(e.contains("records 3 to 5 were added"), "{e}");
    }
}
