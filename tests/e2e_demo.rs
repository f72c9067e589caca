//! End to end: the real binary (`ttyhmi demo`) in a pseudo-terminal. Live values change on the
//! screen; `q` (or SIGTERM, or SIGHUP) ends it and the terminal is restored: main screen, cursor
//! shown, canonical mode and echo back on.

use std::fs::File;
use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::pty::{Winsize, openpty};
use nix::sys::termios::{LocalFlags, tcgetattr};

const ROWS: u16 = 30;
const COLS: u16 = 120;

struct Console {
    child: Child,
    master: File,
    slave: OwnedFd,
    bytes: mpsc::Receiver<Vec<u8>>,
    screen: vt100::Parser,
    raw: Vec<u8>,
    _state: tempdir::TempDir,
}

mod tempdir {
    pub struct TempDir(pub std::path::PathBuf);
    impl TempDir {
        pub fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!("ttyhmi-e2e-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Console {
    fn start(tag: &str) -> Console {
        let ws = Winsize { ws_row: ROWS, ws_col: COLS, ws_xpixel: 0, ws_ypixel: 0 };
        let pty = openpty(Some(&ws), None).expect("openpty");
        let state = tempdir::TempDir::new(tag);
        let child = Command::new(env!("CARGO_BIN_EXE_ttyhmi"))
            .arg("demo")
            .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
            .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
            .stderr(Stdio::from(pty.slave.try_clone().unwrap()))
            .env("XDG_STATE_HOME", &state.0)
            .env("XDG_DATA_HOME", &state.0)
            .env("XDG_CONFIG_HOME", &state.0)
            .env("TERM", "xterm-256color")
            .spawn()
            .expect("start ttyhmi demo");
        let master = File::from(pty.master);
        let mut reader = master.try_clone().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let screen = vt100::Parser::new(NonZeroU16::new(ROWS).unwrap(), NonZeroU16::new(COLS).unwrap(), 0);
        Console { child, master, slave: pty.slave, bytes: rx, screen, raw: Vec::new(), _state: state }
    }

    fn pump(&mut self, for_at_most: Duration) {
        let deadline = Instant::now() + for_at_most;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.bytes.recv_timeout(left.min(Duration::from_millis(50))) {
                Ok(b) => {
                    self.screen.process(&b);
                    self.raw.extend_from_slice(&b);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if Instant::now() >= deadline {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    }

    fn wait_for(&mut self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.pump(Duration::from_millis(100));
            let text = self.screen.screen().contents();
            if f(&text) {
                return text;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("timed out waiting for {what}; screen:\n{text}");
            }
        }
    }

    /// The value column of the row whose tag is `name`.
    fn row(text: &str, name: &str) -> Option<String> {
        text.lines().find(|l| l.starts_with(&format!("{name} "))).map(|l| l.to_string())
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.pump(Duration::from_millis(50));
            if let Some(s) = self.child.try_wait().unwrap() {
                self.pump(Duration::from_millis(200));
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the console did not exit");
            }
        }
    }

    fn assert_restored(&self) {
        let s = self.screen.screen();
        assert!(!s.alternate_screen(), "still on the alternate screen");
        assert!(!s.hide_cursor(), "cursor still hidden");
        let t = tcgetattr(&self.slave).unwrap();
        assert!(t.local_flags.contains(LocalFlags::ICANON), "raw mode left on (no ICANON)");
        assert!(t.local_flags.contains(LocalFlags::ECHO), "raw mode left on (no ECHO)");
        let raw = String::from_utf8_lossy(&self.raw);
        assert!(raw.contains("\x1b[?1049h") && raw.contains("\x1b[?1049l"), "alternate screen entered and left");
    }
}

#[test]
fn demo_shows_live_values_and_q_restores_the_terminal() {
    let mut c = Console::start("q");
    let first = c.wait_for("the overview with a counter value", |t| {
        Console::row(t, "COUNT").is_some_and(|r| r.chars().any(|ch| ch.is_ascii_digit())) && t.contains("plc1 up")
    });
    let count0 = Console::row(&first, "COUNT").unwrap();
    c.wait_for("the counter to change", |t| Console::row(t, "COUNT").is_some_and(|r| r != count0));
    assert!(first.contains("Boiler house"), "title shown:\n{first}");
    assert!(first.contains("1 Overview"), "screen tabs shown:\n{first}");

    // Help and diagnostics open and close.
    c.master.write_all(b"?").unwrap();
    c.wait_for("the help screen", |t| t.contains("No key in this console writes to a device"));
    c.master.write_all(b"x").unwrap();
    c.wait_for("help closed", |t| !t.contains("No key in this console writes"));
    c.master.write_all(b"d").unwrap();
    c.wait_for("diagnostics", |t| t.contains("Read plan") && t.contains("Modicon"));

    c.master.write_all(b"q").unwrap();
    let status = c.wait_exit();
    assert!(status.success(), "exit status {status}");
    c.assert_restored();
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    for (tag, sig) in [("term", nix::sys::signal::Signal::SIGTERM), ("hup", nix::sys::signal::Signal::SIGHUP)] {
        let mut c = Console::start(tag);
        c.wait_for("the overview", |t| t.contains("plc1 up"));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.child.id() as i32), sig).unwrap();
        let status = c.wait_exit();
        assert!(status.success(), "{sig}: exit status {status}");
        c.assert_restored();
    }
}
