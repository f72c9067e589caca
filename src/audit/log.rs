//! Opening, appending and tailing the log.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::head::{self, Head, Last, head_path};
use super::record::{Record, RecordInput, rfc3339_ms};
use super::scan::{BackLines, MAX_DAMAGED_LINES, ZERO_HASH, damaged_hash, parse_record, sha256_hex};
use super::{AuditError, MAX_LINE};

/// An open audit log, ready to append. Open one per process; `append` takes `&mut self`
/// because the file lock excludes other processes (and other `AuditLog`s), not other threads
/// using the same one.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    head: File,
}

/// Where the next record goes.
struct Tip {
    seq: u64,
    /// SHA-256 of the last record's line: the next `prev`.
    hash: String,
    /// The file does not end with a newline (an interrupted append): write one first.
    newline_first: bool,
    /// Hash of the damaged lines after the last record, if any.
    skipped: Option<String>,
    /// The head file has never been written.
    head_empty: bool,
}

/// A record on its way to the log: announced in the head, not yet confirmed.
pub(crate) struct Pending {
    pub(crate) seq: u64,
    /// SHA-256 of its line.
    pub(crate) hash: String,
    /// What is written: the line and its newline (after a newline that closes a torn line).
    pub(crate) bytes: Vec<u8>,
}

/// Unlocks the file when dropped, on every path out.
pub(crate) struct Locked<'a>(&'a File);

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // Closing the file would unlock it too; an error here leaves nothing to do.
        let _ = self.0.unlock();
    }
}

fn io_error<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(io::Error) -> AuditError + 'a {
    move |source| AuditError::Io { path: path.to_path_buf(), action, source }
}

/// A read error; a line too long to be a record (see `BackLines`) means a corrupt file.
fn read_error(path: &Path) -> impl FnOnce(io::Error) -> AuditError + '_ {
    move |source| match source.kind() {
        io::ErrorKind::InvalidData => AuditError::Corrupt { path: path.to_path_buf(), what: source.to_string() },
        _ => AuditError::Io { path: path.to_path_buf(), action: "read it", source },
    }
}

fn create_rw(path: &Path, append: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).create(true);
    if append {
        o.append(true);
    } else {
        o.write(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Makes the names of a new log and head durable: fsync their folder. Some file systems refuse
/// to fsync a folder; the files' own fsyncs still hold, so that is no reason to stop.
fn sync_dir(log: &Path) {
    #[cfg(unix)]
    {
        let dir = log.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    #[cfg(not(unix))]
    let _ = log;
}

/// Opens an existing log to read it.
pub(crate) fn open_existing(path: &Path) -> Result<File, AuditError> {
    File::open(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => AuditError::NotFound { path: path.to_path_buf() },
        _ => AuditError::Io { path: path.to_path_buf(), action: "open it", source },
    })
}

/// The length of the log under a shared lock: a snapshot that no append is half-way through.
pub(crate) fn snapshot_len(path: &Path, file: &File) -> Result<u64, AuditError> {
    file.lock_shared().map_err(io_error(path, "lock it"))?;
    let _locked = Locked(file);
    Ok(file.metadata().map_err(io_error(path, "read it"))?.len())
}

impl AuditLog {
    /// Opens the log at `path` for appending, creating it (mode 0600) and its folder (0700) if
    /// missing, and checks that its end matches its head file: an error means writing must stay
    /// disabled, and says why.
    pub fn open(path: impl AsRef<Path>) -> Result<AuditLog, AuditError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut b = fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(dir).map_err(io_error(&path, "create its folder"))?;
        }
        let file = create_rw(&path, true).map_err(io_error(&path, "open it"))?;
        let head = create_rw(&head_path(&path), false).map_err(io_error(&path, "open its head file (<log>.head)"))?;
        let log = AuditLog { path, file, head };
        {
            let _locked = log.lock()?;
            let tip = log.tip()?;
            if tip.head_empty {
                // A new log: from now on the head always names the last record (or seq 0).
                Head::empty().write(&log.head).map_err(io_error(&log.path, "write its head file (<log>.head)"))?;
                sync_dir(&log.path);
            }
        }
        Ok(log)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and returns its seq once it is on disk (fsync'd): only then may the
    /// action it describes go ahead. On error nothing may be assumed recorded.
    ///
    /// Under the file lock: the head announces the new line's hash (fsync), the line is written
    /// (fsync), the head names it (fsync). A crash at any point leaves a state `verify` tells
    /// from a record added by anything else.
    pub fn append(&mut self, input: RecordInput) -> Result<u64, AuditError> {
        let _locked = self.lock()?;
        let pending = self.announce(input)?;
        self.write_line(&pending)?;
        self.confirm(&pending)?;
        Ok(pending.seq)
    }

    /// First step of an append (lock held): finds the tip, builds the line and announces its
    /// hash in the head.
    pub(crate) fn announce(&self, input: RecordInput) -> Result<Pending, AuditError> {
        let time =
            rfc3339_ms(input.time).ok_or_else(|| AuditError::BadTime { path: self.path.clone(), time: input.time })?;
        let tip = self.tip()?;
        let seq = tip.seq.checked_add(1).ok_or_else(|| self.corrupt("seq has reached its largest value".into()))?;
        let record = Record::from_input(input, time, seq, tip.hash.clone(), tip.skipped);
        let json =
            serde_json::to_vec(&record).map_err(|source| AuditError::Encode { path: self.path.clone(), source })?;
        if json.len() > MAX_LINE {
            return Err(AuditError::TooLong { path: self.path.clone(), len: json.len() });
        }
        let hash = sha256_hex(&json);
        Head { seq: tip.seq, hash: tip.hash, next: Some(hash.clone()) }
            .write(&self.head)
            .map_err(io_error(&self.path, "write its head file (<log>.head)"))?;
        let mut bytes = Vec::with_capacity(json.len() + 2);
        if tip.newline_first {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(&json);
        bytes.push(b'\n');
        Ok(Pending { seq, hash, bytes })
    }

    /// Second step (lock held): the line, fsync'd. The file is in append mode and locked: the
    /// line lands whole at the end.
    pub(crate) fn write_line(&self, pending: &Pending) -> Result<(), AuditError> {
        (&self.file).write_all(&pending.bytes).map_err(io_error(&self.path, "write to it"))?;
        self.file.sync_all().map_err(io_error(&self.path, "fsync it"))
    }

    /// Last step (lock held): the head names the new record.
    pub(crate) fn confirm(&self, pending: &Pending) -> Result<(), AuditError> {
        Head { seq: pending.seq, hash: pending.hash.clone(), next: None }
            .write(&self.head)
            .map_err(io_error(&self.path, "write its head file (<log>.head)"))
    }

    pub(crate) fn lock(&self) -> Result<Locked<'_>, AuditError> {
        self.file.lock().map_err(io_error(&self.path, "lock it"))?;
        Ok(Locked(&self.file))
    }

    fn corrupt(&self, what: String) -> AuditError {
        AuditError::Corrupt { path: self.path.clone(), what }
    }

    /// Finds the last record by reading backwards from the end, past damaged lines, and checks
    /// it against the head. Call with the lock held.
    fn tip(&self) -> Result<Tip, AuditError> {
        let len = self.file.metadata().map_err(io_error(&self.path, "read it"))?.len();
        let mut newline_first = false;
        let mut damaged: Vec<Vec<u8>> = Vec::new();
        let mut last = None;
        for (i, line) in BackLines::new(&self.file, len).map_err(read_error(&self.path))?.enumerate() {
            let line = line.map_err(read_error(&self.path))?;
            if i == 0 {
                newline_first = !line.terminated;
            }
            match parse_record(&line.bytes) {
                Ok(rec) => {
                    last = Some(Last { seq: rec.seq, hash: sha256_hex(&line.bytes), prev: rec.prev });
                    break;
                }
                Err(_) => {
                    if damaged.len() == MAX_DAMAGED_LINES {
                        return Err(self.corrupt(format!(
                            "more than {MAX_DAMAGED_LINES} lines at the end of the log are not audit records, more than interrupted appends leave"
                        )));
                    }
                    damaged.push(line.bytes);
                }
            }
        }
        let head = Head::read(&self.head).map_err(io_error(&self.path, "read its head file (<log>.head)"))?;
        let head = Head::parse(&head).map_err(|what| self.corrupt(what))?;
        head::check(head.as_ref(), last.as_ref(), len == 0).map_err(|what| self.corrupt(what))?;
        damaged.reverse();
        let skipped = (!damaged.is_empty()).then(|| damaged_hash(damaged.iter().map(Vec::as_slice)));
        let (seq, hash) = last.map_or((0, ZERO_HASH.to_string()), |l| (l.seq, l.hash));
        Ok(Tip { seq, hash, newline_first, skipped, head_empty: head.is_none() })
    }
}

/// The last `n` lines of the log, oldest first, each readable by a person (see
/// [`Record::for_people`]). Lines that are not records are shown as such, never hidden.
pub fn tail(path: impl AsRef<Path>, n: usize) -> Result<Vec<String>, AuditError> {
    let path = path.as_ref();
    let file = open_existing(path)?;
    let len = snapshot_len(path, &file)?;
    let mut out = Vec::new();
    for line in BackLines::new(&file, len).map_err(read_error(path))?.take(n) {
        let line = line.map_err(read_error(path))?;
        out.push(match parse_record(&line.bytes) {
            Ok(rec) => rec.for_people(),
            Err(_) if !line.terminated => {
                format!("(an incomplete last line of {} bytes, left by an interrupted append)", line.bytes.len())
            }
            Err(e) => {
                let mut s = String::from("(not an audit record: ");
                super::record::push_clean(
                    &mut s,
                    &String::from_utf8_lossy(&line.bytes).chars().take(60).collect::<String>(),
                );
                s.push_str(" — ");
                s.push_str(&e);
                s.push(')');
                s
            }
        });
    }
    out.reverse();
    Ok(out)
}
