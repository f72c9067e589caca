//! Reading the log: hashes, lines from the end backwards, records from lines.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use sha2::{Digest, Sha256};

use super::MAX_LINE;
use super::record::Record;

/// The `prev` of the first record.
pub(crate) const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The most damaged lines in a row that interrupted appends can leave: each leaves at most one
/// (a torn record, which the next append closes with a newline).
pub(crate) const MAX_DAMAGED_LINES: usize = 8;

const CHUNK: u64 = 8 * 1024;

/// Lowercase hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// SHA-256 of damaged lines as `skipped` records them: joined by `\n`.
pub(crate) fn damaged_hash<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    for (i, line) in lines.into_iter().enumerate() {
        if i > 0 {
            h.update(b"\n");
        }
        h.update(line);
    }
    let mut s = String::with_capacity(64);
    for b in h.finalize() {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A line as a record, or why not. The reason may quote the line (serde names an unknown
/// value), so it is cleaned for people: the line is the file's, whoever wrote it.
pub(crate) fn parse_record(line: &[u8]) -> Result<Record, String> {
    serde_json::from_slice::<Record>(line).map_err(|e| {
        // serde_json counts lines and columns inside the text; a record is one line.
        let e = e.to_string();
        let e = match e.rsplit_once(" at line 1 column ") {
            Some((what, col)) => format!("{what} at byte {col}"),
            None => e,
        };
        crate::sanitize::clean(&e).into_owned()
    })
}

/// A line read from the end.
pub(crate) struct BackLine {
    /// Its bytes without the newline.
    pub bytes: Vec<u8>,
    /// Whether a newline ends it (only the file's last line can lack one).
    pub terminated: bool,
}

/// The lines of the first `len` bytes of a file, last first, read in chunks from the end.
pub(crate) struct BackLines<'a> {
    file: &'a File,
    /// File offset of `buf[0]`.
    start: u64,
    /// Bytes not yet handed out, up to the end of the next line's content.
    buf: Vec<u8>,
    next_terminated: bool,
    done: bool,
}

impl<'a> BackLines<'a> {
    pub(crate) fn new(file: &'a File, len: u64) -> io::Result<Self> {
        let mut lines = BackLines { file, start: len, buf: Vec::new(), next_terminated: false, done: len == 0 };
        if len > 0 {
            lines.read_more()?;
            if lines.buf.last() == Some(&b'\n') {
                lines.buf.pop();
                lines.next_terminated = true;
            }
        }
        Ok(lines)
    }

    fn read_more(&mut self) -> io::Result<()> {
        let n = CHUNK.min(self.start);
        let at = self.start - n;
        let mut chunk = vec![0; n as usize];
        let mut f = self.file;
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&self.buf);
        self.buf = chunk;
        self.start = at;
        Ok(())
    }

    fn next_line(&mut self) -> io::Result<Option<BackLine>> {
        if self.done {
            return Ok(None);
        }
        loop {
            if let Some(i) = self.buf.iter().rposition(|&b| b == b'\n') {
                let bytes = self.buf.split_off(i + 1);
                self.buf.pop(); // the newline that ends the line before
                let line = BackLine { bytes, terminated: self.next_terminated };
                self.next_terminated = true;
                return Ok(Some(line));
            }
            if self.start == 0 {
                self.done = true;
                let bytes = std::mem::take(&mut self.buf);
                return Ok(Some(BackLine { bytes, terminated: self.next_terminated }));
            }
            if self.buf.len() > MAX_LINE {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "the line ending at byte {} is longer than {MAX_LINE} bytes: it is no audit record, nor what an interrupted append leaves",
                        self.start + self.buf.len() as u64
                    ),
                ));
            }
            self.read_more()?;
        }
    }
}

impl Iterator for BackLines<'_> {
    type Item = io::Result<BackLine>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_line() {
            Ok(Some(l)) => Some(Ok(l)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn back(content: &[u8]) -> Vec<(String, bool)> {
        let path = std::env::temp_dir().join(format!("ttyhmi-audit-scan-{}-{}", std::process::id(), content.len()));
        std::fs::File::create(&path).unwrap().write_all(content).unwrap();
        let f = File::open(&path).unwrap();
        let out = BackLines::new(&f, content.len() as u64)
            .unwrap()
            .map(|l| l.map(|l| (String::from_utf8(l.bytes).unwrap(), l.terminated)))
            .collect::<io::Result<Vec<_>>>()
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        out
    }

    #[test]
    fn lines_from_the_end() {
        assert_eq!(back(b""), vec![]);
        assert_eq!(back(b"a\nbc\n"), vec![("bc".into(), true), ("a".into(), true)]);
        assert_eq!(back(b"a\nbc"), vec![("bc".into(), false), ("a".into(), true)]);
        assert_eq!(back(b"\n\nx"), vec![("x".into(), false), ("".into(), true), ("".into(), true)]);
        assert_eq!(back(b"\n"), vec![("".into(), true)]);
        // Lines across chunk boundaries.
        let long: Vec<u8> = [vec![b'x'; 20_000], b"\n".to_vec(), vec![b'y'; 9_000]].concat();
        let got = back(&long);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0.len(), got[0].1), (9_000, false));
        assert_eq!((got[1].0.len(), got[1].1), (20_000, true));
    }

    #[test]
    fn hashes() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(damaged_hash([&b"ab"[..], &b"c"[..]]), sha256_hex(b"ab\nc"));
        assert_eq!(damaged_hash([&b""[..]]), sha256_hex(b""));
        assert_eq!(ZERO_HASH.len(), 64);
    }
}
