//! Where the log goes.

use crate::paths;

/// Log lines that may wait for the log writer thread (32 bytes each, allocated at start).
const LOG_LINES_WAITING: usize = 8192;

/// Logs go to a file in the state folder, never to the terminal. Returns the guard that flushes it.
///
/// A state folder that cannot be written costs the log, never the command (`rolling::daily`
/// panics then; the builder says so instead).
pub fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::EnvFilter;
    let dir = paths::state_dir();
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::RollingFileAppender::builder()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("ttyhmi.log")
        .build(&dir)
        .ok()?;
    // Room for LOG_LINES_WAITING lines on their way to the file (past that, lines are dropped
    // rather than making a drawing thread wait). tracing-appender's default, 128,000, is a 4 MB
    // channel allocated and touched up front: a fifth of a console's memory.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_LINES_WAITING)
        .finish(appender);
    let filter = EnvFilter::try_from_env("TTYHMI_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_writer(writer).with_ansi(false).with_env_filter(filter).try_init().ok()?;
    Some(guard)
}
