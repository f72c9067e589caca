//! The alarm journal: every [`Transition`] as one JSON line, appended and fsync'd per batch, and
//! read back at start so alarm states survive a restart ([`AlarmEngine::restore`]).
//!
//! Reading is liberal: a line that is not a record (a torn write at a crash, an edit) is skipped
//! with a warning naming its line, and every other record is kept. Appending after a torn last
//! line starts on a new line, so one damaged record never swallows the next.
//!
//! [`AlarmEngine::restore`]: super::AlarmEngine::restore

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::Transition;

/// Lines longer than this are not records (a record is well under 2 KiB); they are skipped
/// without being held in memory whole.
const MAX_LINE: usize = 64 * 1024;

/// An open journal, appending.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    /// The file does not end with a newline (a torn write): the next append starts a new line.
    newline_first: bool,
}

/// What [`read`] found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every readable record, in file order.
    pub records: Vec<Transition>,
    /// One line per skipped line: `FILE:LINE: skipped: why`.
    pub warnings: Vec<String>,
}

impl Journal {
    /// Opens (creating it and its folder) the journal at `path` for appending.
    pub fn open(path: &Path) -> io::Result<Journal> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| context(e, path, &format!("create the folder {} of", dir.display())))?;
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true).read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o640);
        let mut file = options.open(path).map_err(|e| context(e, path, "open"))?;
        let newline_first = !ends_with_newline(&mut file).map_err(|e| context(e, path, "read"))?;
        Ok(Journal { file, path: path.to_path_buf(), newline_first })
    }

    /// Appends `batch` as one write, then fsyncs. Under an exclusive lock, so consoles sharing a
    /// journal never interleave their lines.
    pub fn append(&mut self, batch: &[Transition]) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(batch.len() * 512);
        if self.newline_first {
            bytes.push(b'\n');
        }
        for t in batch {
            serde_json::to_writer(&mut bytes, t).map_err(io::Error::other)?;
            bytes.push(b'\n');
        }
        self.file.lock().map_err(|e| context(e, &self.path, "lock"))?;
        let written = (&self.file).write_all(&bytes).and_then(|()| self.file.sync_data());
        let _ = self.file.unlock();
        written.map_err(|e| context(e, &self.path, "append to"))?;
        self.newline_first = false;
        Ok(())
    }
}

/// A journal larger than this is rolled over at start ([`roll_over`]).
pub const ROLL_OVER_BYTES: u64 = 64 * 1024 * 1024;

/// Keeps the journal small enough to read quickly at start: when the file at `path` is larger
/// than `limit`, it is renamed to `<path>.1` (replacing an older one) and a new journal is
/// written with only the last record of each alarm in `records` — enough to restore every
/// state. Returns whether it rolled over. The new file is complete and fsync'd before the
/// rename, so a crash leaves either the old journal or the new one.
pub fn roll_over(path: &Path, records: &[Transition], limit: u64) -> io::Result<bool> {
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(context(e, path, "read")),
    };
    if len <= limit {
        return Ok(false);
    }
    let mut last: Vec<&Transition> = Vec::new();
    for r in records.iter().rev() {
        if !last.iter().any(|l| l.key == r.key) {
            last.push(r);
        }
    }
    last.reverse();
    let mut bytes = Vec::new();
    for t in last {
        serde_json::to_writer(&mut bytes, t).map_err(io::Error::other)?;
        bytes.push(b'\n');
    }
    let with = |suffix: &str| {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        PathBuf::from(p)
    };
    let (tmp, old) = (with(".new"), with(".1"));
    let write = || -> io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(path, &old)?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| context(e, path, "roll over"))?;
    Ok(true)
}

/// Reads every record of the journal at `path`; a missing file is an empty journal.
pub fn read(path: &Path) -> io::Result<Loaded> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(context(e, path, "open")),
    };
    read_from(BufReader::new(file), &path.display().to_string()).map_err(|e| context(e, path, "read"))
}

/// Reads records from `input`; `name` labels warnings.
pub fn read_from(mut input: impl BufRead, name: &str) -> io::Result<Loaded> {
    let mut loaded = Loaded::default();
    let mut line = Vec::new();
    let mut number = 0usize;
    loop {
        line.clear();
        let (n, too_long) = read_line(&mut input, &mut line)?;
        if n == 0 {
            break;
        }
        number += 1;
        let terminated = line.last() == Some(&b'\n');
        let text = trim_line(&line);
        if text.iter().all(u8::is_ascii_whitespace) && !too_long {
            continue;
        }
        // serde's message quotes the damaged text: cleaned, like everything read from a file.
        let skip = |why: String| crate::sanitize::clean(&format!("{name}:{number}: skipped: {why}")).into_owned();
        if too_long {
            loaded.warnings.push(skip(format!("longer than {MAX_LINE} bytes: not a journal record")));
            continue;
        }
        match serde_json::from_slice::<Transition>(text) {
            Ok(t) => loaded.records.push(t),
            Err(e) if !terminated && e.is_eof() => {
                loaded.warnings.push(skip("truncated (an interrupted write)".into()))
            }
            Err(e) => loaded.warnings.push(skip(format!("not a journal record ({e})"))),
        }
    }
    Ok(loaded)
}

/// Reads one line into `buf` (at most [`MAX_LINE`] bytes kept); returns the bytes consumed and
/// whether the line was longer.
fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut too_long = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok((consumed, too_long));
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        if take > room {
            too_long = true;
        }
        buf.extend_from_slice(&chunk[..take.min(room)]);
        input.consume(take);
        consumed += take;
        if done {
            return Ok((consumed, too_long));
        }
    }
}

fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn ends_with_newline(file: &mut File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

fn context(e: io::Error, path: &Path, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("cannot {what} the alarm journal {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::fuzz::base as transitions;
    use crate::alarm::{AlarmEngine, LimitKind, Priority, Rule, RuleKind};
    use crate::tag::TagId;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ttyhmi-journal-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("alarms").join("j.jsonl")
    }

    #[test]
    fn appends_and_reads_back_every_record() {
        let path = temp("roundtrip");
        let ts = transitions();
        let mut j = Journal::open(&path).unwrap();
        j.append(&ts[..1]).unwrap();
        j.append(&[]).unwrap();
        j.append(&ts[1..]).unwrap();
        drop(j);
        let mut j = Journal::open(&path).unwrap();
        j.append(&ts[..1]).unwrap();
        let loaded = read(&path).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let mut want = ts.clone();
        want.push(ts[0].clone());
        assert_eq!(loaded.records, want);
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[test]
    fn a_missing_journal_is_empty() {
        let loaded = read(Path::new("/nonexistent/ttyhmi/journal.jsonl")).unwrap();
        assert!(loaded.records.is_empty() && loaded.warnings.is_empty());
    }

    #[test]
    fn corrupt_and_truncated_lines_are_skipped_with_a_warning_and_the_rest_kept() {
        let ts = transitions();
        let line = |t: &Transition| serde_json::to_string(t).unwrap();
        let torn = &line(&ts[1])[..40];
        let text = format!(
            "{}\n{{\"key\": 3}}\ngarbage ✗\n\n{}\r\n{}\n{}",
            line(&ts[0]),
            line(&ts[1]),
            "x".repeat(MAX_LINE + 10),
            torn
        );
        let loaded = read_from(text.as_bytes(), "j.jsonl").unwrap();
        assert_eq!(loaded.records, ts[..2].to_vec());
        assert_eq!(loaded.warnings.len(), 4, "{:#?}", loaded.warnings);
        assert!(loaded.warnings[0].starts_with("j.jsonl:2: skipped: not a journal record"), "{}", loaded.warnings[0]);
        assert!(loaded.warnings[1].starts_with("j.jsonl:3: skipped: not a journal record"));
        assert!(loaded.warnings[2].starts_with("j.jsonl:6: skipped: longer than"));
        assert_eq!(loaded.warnings[3], "j.jsonl:7: skipped: truncated (an interrupted write)");
    }

    #[test]
    fn a_damaged_lines_text_in_a_warning_is_cleaned() {
        // serde's message quotes the unknown value, DEL and bidi controls included
        // (found by the long fuzz pass).
        let text = "{\"key\":\"T.hi\",\"priority\":\"high\u{7f}[2J\u{202e}\"}\n";
        let loaded = read_from(text.as_bytes(), "j.jsonl").unwrap();
        assert_eq!(loaded.warnings.len(), 1, "{:#?}", loaded.warnings);
        let w = &loaded.warnings[0];
        assert!(w.starts_with("j.jsonl:1: skipped: not a journal record"), "{w}");
        assert!(!w.chars().any(crate::sanitize::is_unsafe), "{w:?}");
    }

    #[test]
    fn appending_after_a_torn_line_starts_a_new_line() {
        let path = temp("torn");
        let ts = transitions();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let full = serde_json::to_string(&ts[0]).unwrap();
        std::fs::write(&path, format!("{full}\n{}", &full[..30])).unwrap();
        let mut j = Journal::open(&path).unwrap();
        j.append(&ts[1..2]).unwrap();
        j.append(&ts[2..3]).unwrap();
        let loaded = read(&path).unwrap();
        assert_eq!(loaded.records, vec![ts[0].clone(), ts[1].clone(), ts[2].clone()]);
        assert_eq!(loaded.warnings.len(), 1, "only the torn line is lost: {:?}", loaded.warnings);
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[test]
    fn a_large_journal_rolls_over_keeping_the_last_record_of_each_alarm() {
        let path = temp("roll");
        let ts = transitions();
        let mut other = ts[0].clone();
        other.key = "U.lo".into();
        let mut j = Journal::open(&path).unwrap();
        j.append(&ts).unwrap();
        j.append(std::slice::from_ref(&other)).unwrap();
        let all = read(&path).unwrap().records;
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(!roll_over(&path, &all, size).unwrap(), "not larger than the limit");
        assert!(roll_over(&path, &all, size - 1).unwrap());
        let kept = read(&path).unwrap().records;
        assert_eq!(kept, vec![ts[2].clone(), other.clone()]);
        let mut old = path.as_os_str().to_owned();
        old.push(".1");
        assert_eq!(read(Path::new(&old)).unwrap().records, all, "the old journal is kept whole");
        // Restoring from the rolled-over journal gives the same states.
        let rule = Rule::new(TagId(0), RuleKind::Limit { kind: LimitKind::Hi, limit: 80.0 }, Priority::High, "hot");
        let (mut a, mut b) =
            (AlarmEngine::new(vec![rule.clone().key("T.hi")]), AlarmEngine::new(vec![rule.key("T.hi")]));
        a.restore(&all, &[]);
        b.restore(&kept, &[]);
        assert_eq!(a.alarms()[0].state(), b.alarms()[0].state());
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[test]
    fn an_unwritable_journal_is_a_clear_error() {
        let err = Journal::open(Path::new("/proc/ttyhmi/alarms.jsonl")).unwrap_err();
        assert!(err.to_string().contains("alarm journal /proc/ttyhmi/alarms.jsonl"), "{err}");
    }
}
