//! A serial line made of pseudo-terminals, for the Modbus RTU tests: the console opens one end
//! (through a symlink, as udev names adapters), the simulator the other, and a relay in between
//! carries the bytes, damages answers on request, and can be unplugged and plugged in again.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::pty::openpty;
use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};

/// One pseudo-terminal pair, in raw mode: the master is the relay's side.
pub struct Pty {
    master: OwnedFd,
    /// Held open so the master never sees "no slave" between the users' opens.
    _slave: OwnedFd,
    /// `/dev/pts/N`.
    pub path: PathBuf,
}

impl Pty {
    pub fn open() -> Pty {
        let p = openpty(None, None).expect("openpty");
        let mut t = tcgetattr(&p.slave).expect("tcgetattr");
        cfmakeraw(&mut t);
        tcsetattr(&p.slave, SetArg::TCSANOW, &t).expect("tcsetattr");
        let flags = OFlag::from_bits_truncate(fcntl(&p.master, FcntlArg::F_GETFL).expect("F_GETFL"));
        fcntl(&p.master, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).expect("F_SETFL");
        let path = nix::unistd::ttyname(&p.slave).expect("ttyname");
        Pty { master: p.master, _slave: p.slave, path }
    }
}

/// A way to damage the next answer (simulator → console) that passes the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Flip the bits of its last byte (the CRC no longer matches).
    FlipLastByte,
    /// Cut its last three bytes off.
    Truncate,
    /// Rewrite its unit id (with a valid CRC): another unit answering.
    UnitId(u8),
    /// Send these bytes of line noise before it.
    NoiseBefore(&'static [u8]),
}

/// The line: the console's port (re-creatable) relayed to the simulator's port (fixed).
pub struct Line {
    /// What the console opens: a symlink to the current pseudo-terminal.
    pub link: PathBuf,
    sim: Arc<Pty>,
    plug: Option<Plug>,
    faults: Arc<Mutex<Vec<Fault>>>,
    /// Noise is sent to the console non-stop while set.
    noisy: Arc<AtomicBool>,
}

struct Plug {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Line {
    /// A line with the console's end at `dir/ttyV0`, plugged in.
    pub fn new(dir: &Path) -> Line {
        let mut line = Line {
            link: dir.join("ttyV0"),
            sim: Arc::new(Pty::open()),
            plug: None,
            faults: Arc::new(Mutex::new(Vec::new())),
            noisy: Arc::new(AtomicBool::new(false)),
        };
        line.plug_in();
        line
    }

    /// The simulator's end.
    pub fn sim_path(&self) -> &Path {
        &self.sim.path
    }

    /// Damages the next answers, one fault each, in order.
    pub fn inject(&self, faults: &[Fault]) {
        self.faults.lock().unwrap().extend_from_slice(faults);
    }

    pub fn pending_faults(&self) -> usize {
        self.faults.lock().unwrap().len()
    }

    /// Starts (or stops) a flood of noise to the console: 4 KiB a millisecond, never quiet.
    pub fn noise(&self, on: bool) {
        self.noisy.store(on, Ordering::SeqCst);
    }

    /// A new pseudo-terminal for the console's end, linked at `link`, relayed.
    pub fn plug_in(&mut self) {
        assert!(self.plug.is_none(), "already plugged in");
        let console = Arc::new(Pty::open());
        let _ = std::fs::remove_file(&self.link);
        std::os::unix::fs::symlink(&console.path, &self.link).expect("symlink the port");
        let stop = Arc::new(AtomicBool::new(false));
        let none = Arc::new(Mutex::new(Vec::new()));
        let threads = vec![
            relay(Arc::clone(&console), Arc::clone(&self.sim), Arc::clone(&stop), none),
            relay(Arc::clone(&self.sim), Arc::clone(&console), Arc::clone(&stop), Arc::clone(&self.faults)),
            noise(console, Arc::clone(&stop), Arc::clone(&self.noisy)),
        ];
        self.plug = Some(Plug { stop, threads });
    }

    /// The adapter is pulled: the console's pseudo-terminal closes and its path disappears.
    pub fn unplug(&mut self) {
        let plug = self.plug.take().expect("plugged in");
        plug.stop.store(true, Ordering::SeqCst);
        for t in plug.threads {
            t.join().expect("relay thread");
        }
        std::fs::remove_file(&self.link).expect("remove the port's link");
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if let Some(plug) = self.plug.take() {
            plug.stop.store(true, Ordering::SeqCst);
            for t in plug.threads {
                let _ = t.join();
            }
        }
    }
}

/// Copies bytes from `from`'s master to `to`'s master until `stop`, applying `faults` to the
/// chunks it carries (one fault a chunk; an answer arrives as one chunk on a pseudo-terminal).
fn relay(from: Arc<Pty>, to: Arc<Pty>, stop: Arc<AtomicBool>, faults: Arc<Mutex<Vec<Fault>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while !stop.load(Ordering::SeqCst) {
            match nix::unistd::read(&from.master, &mut buf) {
                Ok(0) | Err(Errno::EAGAIN) | Err(Errno::EIO) => std::thread::sleep(Duration::from_millis(1)),
                Ok(n) => {
                    let mut chunk = buf[..n].to_vec();
                    let fault = {
                        let mut f = faults.lock().unwrap();
                        if f.is_empty() { None } else { Some(f.remove(0)) }
                    };
                    match fault {
                        None => {}
                        Some(Fault::FlipLastByte) => *chunk.last_mut().unwrap() ^= 0xFF,
                        Some(Fault::Truncate) => chunk.truncate(n.saturating_sub(3)),
                        Some(Fault::UnitId(u)) => {
                            chunk[0] = u;
                            let len = chunk.len() - 2;
                            let crc = ttyhmi::driver::modbus::rtu::crc16(&chunk[..len]);
                            chunk[len..].copy_from_slice(&crc.to_le_bytes());
                        }
                        Some(Fault::NoiseBefore(noise)) => chunk.splice(0..0, noise.iter().copied()).for_each(drop),
                    }
                    write_all(&to.master, &chunk, &stop);
                }
                Err(e) => panic!("relay read: {e}"),
            }
        }
    })
}

/// Writes noise to `to`'s master while `noisy` is set, until `stop`.
fn noise(to: Arc<Pty>, stop: Arc<AtomicBool>, noisy: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut buf = [0u8; 4096];
        while !stop.load(Ordering::SeqCst) {
            if noisy.load(Ordering::SeqCst) {
                for b in buf.iter_mut() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *b = x as u8;
                }
                write_all(&to.master, &buf, &stop);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    })
}

fn write_all(fd: &OwnedFd, mut bytes: &[u8], stop: &AtomicBool) {
    while !bytes.is_empty() && !stop.load(Ordering::SeqCst) {
        match nix::unistd::write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EAGAIN) | Err(Errno::EIO) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("relay write: {e}"),
        }
    }
}
