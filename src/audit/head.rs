//! The head file: the seq and hash of the log's last line, so that deleting records at the end,
//! or editing the last one, shows.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::scan::ZERO_HASH;

const MAGIC: &str = "ttyhmi-audit-head v1";

/// `<log>.head`.
pub(crate) fn head_path(log: &Path) -> PathBuf {
    let mut s = log.as_os_str().to_owned();
    s.push(".head");
    PathBuf::from(s)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub seq: u64,
    /// SHA-256 of the last line (64 zeros before the first).
    pub hash: String,
}

impl Head {
    pub(crate) fn line(&self) -> String {
        format!("{MAGIC} seq={} sha256={}\n", self.seq, self.hash)
    }

    /// `None` for an empty file (just created, never written).
    pub(crate) fn parse(bytes: &[u8]) -> Result<Option<Head>, String> {
        if bytes.is_empty() {
            return Ok(None);
        }
        let damaged = || "the head file is damaged (it should hold one line `ttyhmi-audit-head v1 seq=N sha256=HEX`)";
        let text = std::str::from_utf8(bytes).map_err(|_| damaged())?;
        let rest = text.strip_suffix('\n').and_then(|t| t.strip_prefix(MAGIC)).ok_or_else(damaged)?;
        let mut it = rest.split(' ');
        let (Some(""), Some(seq), Some(hash), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(damaged().into());
        };
        let seq = seq.strip_prefix("seq=").and_then(|s| s.parse().ok()).ok_or_else(damaged)?;
        let hash = hash.strip_prefix("sha256=").ok_or_else(damaged)?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(damaged().into());
        }
        Ok(Some(Head { seq, hash: hash.to_string() }))
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

/// How the head fits the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// It names the last record (or there are none and it says so, or it was never written).
    Exact,
    /// It names the record before the last: a crash came between the log's fsync and the head's.
    OneBehind,
}

/// Whether the head fits the log's last record (`None`: no records; `log_empty`: not a byte);
/// if not, what that means, for a person.
pub(crate) fn check(head: Option<&Head>, last: Option<&Last>, log_empty: bool) -> Result<Fit, String> {
    match (head, last) {
        // `open` writes the head of a new log before anything is appended.
        (None, None) if log_empty => Ok(Fit::Exact),
        (None, None) => Err("the head file is missing or empty, but the log is not: the head file was deleted".into()),
        (Some(h), None) if h.seq == 0 && h.hash == ZERO_HASH => Ok(Fit::Exact),
        (Some(h), None) => Err(format!(
            "the log holds no records, but its head file says it ended at seq {}: the records were deleted",
            h.seq
        )),
        (None, Some(l)) => Err(format!(
            "the head file is missing or empty, but the log holds records up to seq {}: the head file was deleted, perhaps to hide records deleted at the end of the log",
            l.seq
        )),
        (Some(h), Some(l)) if h.seq == l.seq => {
            if h.hash == l.hash {
                Ok(Fit::Exact)
            } else {
                Err(format!(
                    "the last record (seq {}) is not the one the head file names: it was changed after it was written, or replaced",
                    l.seq
                ))
            }
        }
        (Some(h), Some(l)) if h.seq.checked_add(1) == Some(l.seq) && h.hash == l.prev => Ok(Fit::OneBehind),
        (Some(h), Some(l)) if h.seq > l.seq => {
            let missing = if h.seq == l.seq + 1 {
                format!("record {} was", h.seq)
            } else {
                format!("records {} to {} were", l.seq + 1, h.seq)
            };
            Err(format!(
                "the head file says the log ends at seq {}, but the last record is seq {}: {missing} deleted from the end, or damaged",
                h.seq, l.seq
            ))
        }
        (Some(h), Some(l)) => Err(format!(
            "the head file names seq {}, but the log goes on to seq {} and its records do not continue from the head: the head file is stale (restored from a copy?) or the log was changed",
            h.seq, l.seq
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(seq: u64, c: char) -> Head {
        Head { seq, hash: c.to_string().repeat(64) }
    }

    fn l(seq: u64, hash: char, prev: char) -> Last {
        Last { seq, hash: hash.to_string().repeat(64), prev: prev.to_string().repeat(64) }
    }

    #[test]
    fn head_line_round_trips_and_garbage_is_refused() {
        let head = h(4000, 'a');
        assert_eq!(Head::parse(head.line().as_bytes()).unwrap(), Some(head.clone()));
        assert!(head.line().len() < 512);
        assert_eq!(Head::parse(b"").unwrap(), None);
        for bad in
            [&b"\0\0\0\0"[..], b"ttyhmi-audit-head v1 seq=1 sha256=abc\n", b"ttyhmi-audit-head v1 seq=x sha256=\n"]
        {
            assert!(Head::parse(bad).unwrap_err().contains("head file is damaged"));
        }
        let upper = format!("ttyhmi-audit-head v1 seq=1 sha256={}\n", "A".repeat(64));
        assert!(Head::parse(upper.as_bytes()).is_err());
        assert_eq!(head_path(Path::new("/x/audit.jsonl")), Path::new("/x/audit.jsonl.head"));
    }

    #[test]
    fn fits() {
        assert_eq!(check(None, None, true), Ok(Fit::Exact));
        assert!(check(None, None, false).unwrap_err().contains("missing or empty"));
        assert_eq!(check(Some(&Head { seq: 0, hash: ZERO_HASH.into() }), None, false), Ok(Fit::Exact));
        assert_eq!(check(Some(&h(5, 'a')), Some(&l(5, 'a', 'b')), false), Ok(Fit::Exact));
        assert_eq!(check(Some(&h(4, 'b')), Some(&l(5, 'a', 'b')), false), Ok(Fit::OneBehind));
        assert!(check(Some(&h(3, 'a')), None, false).unwrap_err().contains("no records"));
        assert!(check(None, Some(&l(5, 'a', 'b')), false).unwrap_err().contains("missing or empty"));
        assert!(
            check(Some(&h(5, 'c')), Some(&l(5, 'a', 'b')), false).unwrap_err().contains("changed after it was written")
        );
        assert!(check(Some(&h(6, 'c')), Some(&l(5, 'a', 'b')), false).unwrap_err().contains("record 6 was deleted"));
        assert!(
            check(Some(&h(9, 'c')), Some(&l(5, 'a', 'b')), false).unwrap_err().contains("records 6 to 9 were deleted")
        );
        assert!(check(Some(&h(4, 'c')), Some(&l(5, 'a', 'b')), false).unwrap_err().contains("stale"));
        assert!(check(Some(&h(2, 'b')), Some(&l(5, 'a', 'b')), false).unwrap_err().contains("stale"));
    }
}
