//! The plant's writer thread: audit records and alarm journal batches are appended (and
//! fsync'd) here, and the lockouts file replaced, never on the task that draws. Jobs are done in the order they were sent, so a
//! write's attempt is on disk before the write is sent, and a denial's record follows the
//! records sent before it.

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;

use tokio::sync::oneshot;

use crate::alarm::Transition;
use crate::alarm::journal::Journal;
use crate::audit::{AuditLog, RecordInput};

/// Transitions kept in memory while the journal cannot be written.
const MAX_UNJOURNALED: usize = 100_000;

enum Job {
    /// Append these records (one fsync each); answer whether all are on disk.
    Audit(Vec<RecordInput>, Option<oneshot::Sender<Result<(), String>>>),
    /// Append these transitions to the journal (one fsync per batch of queued jobs).
    Journal(Vec<Transition>),
    /// Replace the lockouts file at this path with this text (the last one queued wins).
    Lockouts(PathBuf, String),
}

/// How the writer thread says, unasked, that the journal could not be written (why).
pub type JournalReport = Box<dyn Fn(String) + Send>;

/// The handle to the writer thread. Dropping it lets the thread finish what is queued and end.
pub struct Records {
    jobs: Option<std_mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Records {
    /// Starts the writer thread with the audit log (`None` when it could not be opened: every
    /// record then fails) and the journal at `journal_path` (`None` when it could not be opened:
    /// it is opened again with the next batch).
    pub fn start(
        audit: Option<AuditLog>,
        journal: Option<Journal>,
        journal_path: PathBuf,
        report: JournalReport,
    ) -> std::io::Result<Records> {
        let (jobs, rx) = std_mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("records".into())
            .spawn(move || run(rx, audit, journal, &journal_path, report))?;
        Ok(Records { jobs: Some(jobs), thread: Some(thread) })
    }

    /// Appends records; the answer says whether all of them are on disk.
    pub fn append(&self, records: Vec<RecordInput>) -> oneshot::Receiver<Result<(), String>> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Audit(records, Some(tx)));
        rx
    }

    /// Appends alarm transitions to the journal.
    pub fn journal(&self, ts: Vec<Transition>) {
        self.send(Job::Journal(ts));
    }

    /// Replaces the lockouts file at `path` with `text`. A failure is logged: the lockouts
    /// hold in memory, and the next change writes the whole file again.
    pub fn lockouts(&self, path: PathBuf, text: String) {
        self.send(Job::Lockouts(path, text));
    }

    fn send(&self, job: Job) {
        // The thread only ends when this handle is dropped (or it panicked: then the answer's
        // sender is dropped and the caller hears "the writer stopped").
        if let Some(j) = &self.jobs {
            let _ = j.send(job);
        }
    }

    /// Finishes what is queued and ends the thread.
    pub async fn finish(mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

fn run(
    rx: std_mpsc::Receiver<Job>,
    mut audit: Option<AuditLog>,
    mut journal: Option<Journal>,
    path: &Path,
    report: JournalReport,
) {
    let mut waiting: Vec<Transition> = Vec::new();
    while let Ok(first) = rx.recv() {
        // Everything queued now, in order; the journal batches are written once, at the end,
        // and so is the newest lockouts text.
        let mut lockouts = None;
        let mut next = Some(first);
        while let Some(job) = next {
            match job {
                Job::Audit(records, answer) => {
                    let result = records.into_iter().try_for_each(|r| append(&mut audit, r));
                    if let Some(a) = answer {
                        let _ = a.send(result);
                    }
                }
                Job::Journal(ts) => waiting.extend(ts),
                Job::Lockouts(at, text) => lockouts = Some((at, text)),
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = flush(&mut journal, path, &mut waiting) {
            report(e);
        }
        if let Some((at, text)) = lockouts {
            save_lockouts(&at, &text);
        }
    }
    let _ = flush(&mut journal, path, &mut waiting);
}

fn save_lockouts(path: &Path, text: &str) {
    if let Err(e) = super::lockouts::save(path, text) {
        tracing::error!(
            "PIN lockouts: cannot write {}: {e}; they hold until the server stops, and the next wrong PIN \
             tries again",
            path.display()
        );
    }
}

/// Appends a record (fsync'd). Without an audit log nothing can be recorded, and writing is
/// already disabled.
fn append(audit: &mut Option<AuditLog>, r: RecordInput) -> Result<(), String> {
    match audit {
        Some(a) => a.append(r).map(|_| ()).map_err(|e| e.to_string()),
        None => Err("there is no audit log".into()),
    }
}

/// Appends what is waiting (one fsync); on failure keeps it for the next try, bounded so a
/// journal that stays broken cannot eat the memory. A journal that could not be opened is
/// opened again first.
fn flush(journal: &mut Option<Journal>, path: &Path, waiting: &mut Vec<Transition>) -> Result<(), String> {
    if waiting.is_empty() {
        return Ok(());
    }
    let result = match journal {
        Some(j) => j.append(waiting),
        None => Journal::open(path).and_then(|mut j| {
            j.append(waiting)?;
            *journal = Some(j);
            Ok(())
        }),
    };
    match result {
        Ok(()) => {
            waiting.clear();
            Ok(())
        }
        Err(e) => {
            if waiting.len() > MAX_UNJOURNALED {
                let drop = waiting.len() - MAX_UNJOURNALED;
                tracing::error!("alarm journal: {drop} transitions dropped from memory after it failed: {e}");
                waiting.drain(..drop);
            }
            Err(e.to_string())
        }
    }
}
