//! Shared by the end-to-end tests: the real `ttyhmi` binary in a pseudo-terminal, read through a
//! vt100 screen, with its XDG folders in a temporary folder. Not every test file uses every part.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod driver;
pub mod proc;
pub mod serial_line;
pub mod sparkplug;
pub mod ssh;
pub mod tui;

use nix::pty::{Winsize, openpty};
use nix::sys::termios::{LocalFlags, tcgetattr};
use ttyhmi::sim::{self, SimHandle, SimOptions};

pub const ROWS: u16 = 30;
pub const COLS: u16 = 120;
pub const BIN: &str = env!("CARGO_BIN_EXE_ttyhmi");

/// A folder only this user can enter, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("ttyhmi-e2e-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
        TempDir(p)
    }
}

/// `ttyhmi ARGS` to completion: whether it succeeded, and its output.
pub fn ttyhmi(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).args(args).output().expect("run ttyhmi");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// An in-process simulated plant (Modbus only) on a runtime of the test's own.
pub fn plant() -> (tokio::runtime::Runtime, SimHandle) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let sim = rt
        .block_on(sim::start_with(
            "127.0.0.1:0".parse().unwrap(),
            SimOptions { opcua_port: None, ..Default::default() },
        ))
        .expect("start the simulated plant");
    (rt, sim)
}

/// A trusted users file (folder 0700, file 0600, owned by the current user): `default_role` and
/// maybe an entry for the current user.
pub fn users_file(dir: &Path, default_role: &str, me: Option<&str>) -> PathBuf {
    let folder = dir.join("users");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut src = format!("default_role: {default_role}\nusers:\n  somebody_else: {{ role: admin }}\n");
    if let Some(role) = me {
        let hash = ttyhmi::auth::hash_pin("1234").unwrap();
        src.push_str(&format!("  {}: {{ role: {role}, pin: \"{hash}\" }}\n", ttyhmi::auth::current_user()));
    }
    let path = folder.join("users.yaml");
    std::fs::write(&path, src).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Console {
    pub child: Child,
    /// The terminal's side; `None` once hung up.
    master: Option<File>,
    /// Tells the reader thread to let go of its copy of the terminal's side.
    hang_up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Kept open to read the terminal's modes after the console exits.
    slave: OwnedFd,
    bytes: mpsc::Receiver<Vec<u8>>,
    pub screen: vt100::Parser,
    /// Everything the console wrote.
    pub raw: Vec<u8>,
}

impl Console {
    /// `ttyhmi ARGS` in a pseudo-terminal, its XDG folders inside `dir`.
    pub fn start(dir: &Path, args: &[&str]) -> Console {
        Console::start_program(BIN, dir, args)
    }

    /// `PROGRAM ARGS` (`ssh`, say) in a pseudo-terminal, its XDG folders inside `dir`.
    pub fn start_program(program: &str, dir: &Path, args: &[&str]) -> Console {
        let ws = Winsize { ws_row: ROWS, ws_col: COLS, ws_xpixel: 0, ws_ypixel: 0 };
        let pty = openpty(Some(&ws), None).expect("openpty");
        // The console must not inherit the terminal's side (sshd's never does): closing it here
        // is then a hang-up for the console.
        nix::fcntl::fcntl(&pty.master, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC)).expect("cloexec");
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
            .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
            .stderr(Stdio::from(pty.slave.try_clone().unwrap()))
            .env("XDG_STATE_HOME", dir.join("state"))
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("TERM", "xterm-256color")
            .spawn()
            .expect("start ttyhmi");
        let master = File::from(pty.master);
        let mut reader = master.try_clone().unwrap();
        let (tx, rx) = mpsc::channel();
        let hang_up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = hang_up.clone();
        std::thread::spawn(move || {
            use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
            use std::os::fd::AsFd;
            let mut buf = [0u8; 65536];
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, PollTimeout::from(20u8)) {
                    Ok(0) => continue,
                    Ok(_) => {}
                    Err(_) => break,
                }
                match reader.read(&mut buf) {
                    Ok(n) if n > 0 && tx.send(buf[..n].to_vec()).is_ok() => {}
                    _ => break,
                }
            }
        });
        let screen = vt100::Parser::new(NonZeroU16::new(ROWS).unwrap(), NonZeroU16::new(COLS).unwrap(), 0);
        Console { child, master: Some(master), hang_up, slave: pty.slave, bytes: rx, screen, raw: Vec::new() }
    }

    /// What an SSH connection that drops does to a session: the terminal goes away (every copy
    /// of its side is closed, so the console's reads and writes fail) and the console gets SIGHUP.
    /// `busy`: first the link stalls (nobody reads what the console draws) while keys keep it
    /// redrawing, so it is stuck writing to the terminal when the connection drops.
    pub fn hang_up(&mut self, busy: bool) {
        self.hang_up.store(true, std::sync::atomic::Ordering::SeqCst);
        // The reader lets go of its copy within a poll interval.
        std::thread::sleep(Duration::from_millis(100));
        if busy {
            for _ in 0..40 {
                // Tab: another screen, drawn whole.
                self.send(b"\t");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.master = None;
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP);
    }

    pub fn pump(&mut self, for_at_most: Duration) {
        let deadline = Instant::now() + for_at_most;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.bytes.recv_timeout(left.min(Duration::from_millis(20))) {
                Ok(b) => {
                    self.screen.process(&b);
                    self.raw.extend_from_slice(&b);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    }

    pub fn text(&self) -> String {
        self.screen.screen().contents()
    }

    pub fn wait_for(&mut self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.pump(Duration::from_millis(50));
            let text = self.text();
            if f(&text) {
                return text;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("timed out waiting for {what}; screen:\n{text}");
            }
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.master.as_mut().expect("the terminal is there").write_all(bytes).unwrap();
    }

    /// `q`, then `y` at "Quit the console? y/n".
    pub fn quit(&mut self) {
        self.send(b"q");
        self.wait_for("the quit question", |t| t.contains("Quit the console?"));
        self.send(b"y");
    }

    /// A lone Esc: alone in the terminal's input, so it is not read as Alt+ the next key.
    pub fn esc(&mut self) {
        self.send(b"\x1b");
        self.pump(Duration::from_millis(40));
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.pump(Duration::from_millis(50));
            if let Some(s) = self.child.try_wait().unwrap() {
                self.pump(Duration::from_millis(200));
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the console did not exit; screen:\n{}", self.text());
            }
        }
    }

    /// Main screen, cursor shown, canonical mode and echo back on, alternate screen left.
    pub fn assert_restored(&self) {
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

impl Drop for Console {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
