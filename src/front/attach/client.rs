//! The terminal's side of the attach socket: `ttyhmi attach` forwards keys and the terminal's
//! size and draws what the server sends; `ttyhmi sessions` asks who is connected.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::protocol::{Frame, MAX_FROM_SERVER, read_frame, write_frame};

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error(
        "cannot reach the console server at {path}: {message}; is `ttyhmi serve` running, and may you use its socket \
         (group ttyhmi)? Name another socket after the command (`ttyhmi attach PATH`, `ttyhmi sessions PATH`)"
    )]
    Connect { path: PathBuf, message: String },
    #[error("console server at {path}: {message}")]
    Io { path: PathBuf, message: String },
}

async fn connect(path: &Path) -> Result<UnixStream, AttachError> {
    UnixStream::connect(path).await.map_err(|e| AttachError::Connect { path: path.into(), message: e.to_string() })
}

/// Puts the terminal in raw mode while it lives (when standard input is one).
struct Raw(bool);

impl Raw {
    fn enter() -> Raw {
        Raw(std::io::stdin().is_terminal() && crossterm::terminal::enable_raw_mode().is_ok())
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        if self.0 {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

/// Attaches this terminal to the server at `path` until the session ends.
pub async fn attach(path: &Path) -> Result<(), AttachError> {
    let io = |e: std::io::Error| AttachError::Io { path: path.into(), message: e.to_string() };
    let stream = connect(path).await?;
    let (mut rx, mut tx) = stream.into_split();
    let (cols, rows) = crossterm::terminal::size().unwrap_or((80, 24));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let term = std::env::var("TERM").unwrap_or_default();
    write_frame(&mut tx, &Frame::Hello { cols, rows, no_color, term }).await.map_err(io)?;
    let _raw = Raw::enter();
    let mut typed = spawn_stdin();
    let mut resized = resize_signal();
    let mut out = std::io::stdout();
    loop {
        tokio::select! {
            f = read_frame(&mut rx, MAX_FROM_SERVER) => match f.map_err(io)? {
                Some(Frame::Output(bytes)) => out.write_all(&bytes).and_then(|()| out.flush()).map_err(io)?,
                Some(_) => {}
                None => return Ok(()),
            },
            bytes = typed.recv() => match bytes {
                Some(bytes) => write_frame(&mut tx, &Frame::Input(bytes)).await.map_err(io)?,
                // Standard input ended: the session goes on until the server ends it.
                None => typed = mpsc::channel(1).1,
            },
            Some(()) = resized.recv() => {
                if let Ok((cols, rows)) = crossterm::terminal::size() {
                    write_frame(&mut tx, &Frame::Size { cols, rows }).await.map_err(io)?;
                }
            }
        }
    }
}

/// Bytes from standard input, read on a thread of their own.
fn spawn_stdin() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(64);
    let _ = std::thread::Builder::new().name("stdin".into()).spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin();
        while let Ok(n @ 1..) = stdin.read(&mut buf) {
            if tx.blocking_send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

/// A message whenever the terminal changes size (SIGWINCH).
fn resize_signal() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut winch) = signal(SignalKind::window_change()) else { return };
        while winch.recv().await.is_some() {
            if tx.send(()).await.is_err() {
                break;
            }
        }
    });
    rx
}

/// Who is connected to the server at `path`, as a table.
pub async fn sessions(path: &Path) -> Result<String, AttachError> {
    let io = |e: std::io::Error| AttachError::Io { path: path.into(), message: e.to_string() };
    let stream = connect(path).await?;
    let (mut rx, mut tx) = stream.into_split();
    write_frame(&mut tx, &Frame::List).await.map_err(io)?;
    match read_frame(&mut rx, MAX_FROM_SERVER).await.map_err(io)? {
        Some(Frame::Sessions(lines)) => Ok(table(&lines)),
        _ => Err(AttachError::Io { path: path.into(), message: "no list of sessions came back".into() }),
    }
}

/// The server's JSON lines as a table for people (what came from the server is cleaned).
pub fn table(lines: &str) -> String {
    let mut rows = vec![["SESSION", "USER", "ROLE", "FROM", "SINCE (UTC)", "IDENTIFIED BY"].map(String::from)];
    for line in lines.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let field = |k: &str| match &v[k] {
            serde_json::Value::String(s) => crate::sanitize::clean(s).into_owned(),
            serde_json::Value::Null => "-".into(),
            other => other.to_string(),
        };
        rows.push([field("session"), field("user"), field("role"), field("from"), field("since"), field("via")]);
    }
    if rows.len() == 1 {
        return "no sessions\n".into();
    }
    let widths: Vec<usize> = (0..6).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lines_up_and_cleans_what_the_server_sent() {
        let lines = concat!(
            r#"{"session":1,"user":"alice","role":"operator","from":"10.0.0.5:52144","via":"key SHA256:abc","since":"2026-12-06T18:00:00.000Z"}"#,
            "\n",
            r#"{"session":12,"user":"bob\u001b[2J","role":"viewer","from":"local socket","via":null,"since":"2026-12-06T18:05:00.000Z"}"#,
            "\nnot json\n"
        );
        let t = table(lines);
        let rows: Vec<&str> = t.lines().collect();
        assert_eq!(rows.len(), 3, "{t}");
        assert!(rows[0].starts_with("SESSION  USER"), "{t}");
        assert!(rows[1].starts_with("1        alice"), "{t}");
        assert!(!t.contains('\u{1b}'), "no escape reaches the terminal: {t}");
        assert!(rows[2].ends_with("-"), "{t}");
        assert_eq!(table(""), "no sessions\n");
    }
}
