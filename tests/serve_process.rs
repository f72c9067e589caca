//! Issue 14, the real binary: `ttyhmi serve` as a process, driven by OpenSSH's `ssh` in a pty
//! (where it is installed) and by in-process clients. One client's link stalls for 30 s (a relay
//! stops passing what the server sends, while the client keeps resizing its window, so the server
//! has a whole new frame for it every 50 ms): the others keep getting frames, the server's memory
//! stays flat, and SIGTERM ends every session cleanly, then the server.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use russh::keys::ssh_key::LineEnding;

mod common;
use common::ssh::{Term, key, public_line};
use common::{BIN, Console, TempDir, proc};

fn write_files(dir: &Path, plc_port: u16) -> (String, String) {
    use std::os::unix::fs::PermissionsExt;
    let layout = format!(
        "connections:\n  plc1: {{ modbus_tcp: {{ host: 127.0.0.1, port: {plc_port}, unit: 1 }}, poll: 100ms }}\n\
         tags:\n  SP: {{ source: plc1, holding: 30, type: f32, units: bar, decimals: 2 }}\n  COUNT: {{ source: plc1, holding: 9, type: u16 }}\n\
         screens:\n  - title: Main\n    panels:\n      - grid: {{ tags: [SP, COUNT] }}\n"
    );
    let layout_path = dir.join("serve.yaml");
    std::fs::write(&layout_path, layout).unwrap();
    let etc = dir.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o755)).unwrap();
    let users = format!(
        "users:\n  alice: {{ role: operator, keys: [\"{}\"] }}\n  bob: {{ role: viewer, keys: [\"{}\"] }}\n  carol: {{ role: viewer, keys: [\"{}\"] }}\n",
        public_line(&key(1), "alice"),
        public_line(&key(2), "bob"),
        public_line(&key(3), "carol")
    );
    let users_path = etc.join("users.yaml");
    std::fs::write(&users_path, users).unwrap();
    std::fs::set_permissions(&users_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    (layout_path.to_string_lossy().into_owned(), users_path.to_string_lossy().into_owned())
}

/// The server and the SSH address it printed.
fn start_server(dir: &Path, layout: &str, users: &str) -> (Child, std::net::SocketAddr, String) {
    let mut child = Command::new(BIN)
        .args(["serve", layout, "--ssh", "127.0.0.1:0", "--users", users, "--no-socket"])
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ttyhmi serve");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut printed = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        printed.push_str(&line);
        let addr = line.trim().strip_prefix("SSH").and_then(|r| r.trim().split(',').next()?.parse().ok());
        if let Some(addr) = addr {
            std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
            return (child, addr, printed);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not say where SSH listens:\n{printed}");
}

/// A TCP relay to `to` whose server-to-client half stops once `stall` is set (a client's network
/// that stopped taking bytes), while what the client sends still arrives.
async fn stalling_relay(to: std::net::SocketAddr, stall: Arc<AtomicBool>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a relay port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.expect("the client");
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        // A small receive buffer: the stall reaches the server soon.
        let _ = socket.set_recv_buffer_size(4096);
        let server = socket.connect(to).await.expect("the server");
        let (mut from_client, mut to_client) = client.into_split();
        let (mut from_server, mut to_server) = server.into_split();
        tokio::spawn(async move { tokio::io::copy(&mut from_client, &mut to_server).await });
        let mut buf = vec![0u8; 16384];
        while !stall.load(Ordering::SeqCst) {
            match tokio::time::timeout(Duration::from_millis(50), from_server.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) => {
                    if to_client.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
                Err(_) => {}
            }
        }
        // Stalled: nothing more is read from the server; the connection stays open.
        std::future::pending::<()>().await;
    });
    addr
}

fn openssh() -> bool {
    Command::new("ssh").arg("-V").output().is_ok_and(|o| o.status.success())
}

#[test]
fn a_stalled_reader_holds_nobody_up_and_sigterm_ends_every_session() {
    let (rt, sim) = common::plant();
    let dir = TempDir::new("serve-process");
    let (layout, users) = write_files(&dir.0, sim.modbus_addr.port());
    let (mut server, addr, printed) = start_server(&dir.0, &layout, &users);
    assert!(printed.contains("host key ED25519 SHA256:"), "{printed}");

    // OpenSSH's client in a pty, where it is installed.
    let mut ssh = if openssh() {
        let key_path = dir.0.join("alice_key");
        std::fs::write(&key_path, key(1).to_openssh(LineEnding::LF).expect("key").as_bytes()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let port = addr.port().to_string();
        let args = [
            "-tt",
            "-p",
            &port,
            "-i",
            key_path.to_str().unwrap(),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
            "alice@127.0.0.1",
        ];
        let mut c = Console::start_program("ssh", &dir.0, &args);
        c.wait_for("the grid over OpenSSH", |t| t.contains("SP") && t.contains("8.00"));
        Some(c)
    } else {
        eprintln!("OpenSSH's ssh is not installed: the OpenSSH part is skipped");
        None
    };

    rt.block_on(async {
        let mut bob = Term::open(addr, "bob", &key(2), 100, 30).await;
        bob.wait_for("bob's grid", |s| s.contains("8.00")).await;
        // Carol's link stalls: from her first screen on, nothing the server sends gets through,
        // while she keeps resizing her window (each size a whole new frame for the server to send).
        let stall = Arc::new(AtomicBool::new(false));
        let relay = stalling_relay(addr, stall.clone()).await;
        let mut carol = Term::open(relay, "carol", &key(3), 200, 60).await;
        carol.wait_for("carol's grid", |s| s.contains("8.00")).await;
        stall.store(true, Ordering::SeqCst);
        let resizing = tokio::spawn(async move {
            for i in 0u32.. {
                let (w, h) = if i % 2 == 0 { (199, 59) } else { (200, 60) };
                if carol.ch.window_change(w, h, 0, 0).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = proc::rss_kib(server.id()).expect("the server's /proc");
        let (frames, bytes) = (bob.frames, bob.bytes);
        let started = Instant::now();
        let mut samples = Vec::new();
        while started.elapsed() < Duration::from_secs(30) {
            bob.pump(Duration::from_secs(1)).await;
            samples.push(proc::rss_kib(server.id()).expect("the server's /proc"));
        }
        let after = proc::rss_kib(server.id()).expect("the server's /proc");
        let got = bob.frames - frames;
        eprintln!(
            "30 s with a stalled session: bob got {got} frames ({} bytes); server RSS {before} KiB → {after} KiB, each second: {samples:?}",
            bob.bytes - bytes,
        );
        // The counter changes every 100 ms poll: about 10 frames a second while nobody waits.
        assert!(got >= 150, "bob's frames kept coming: {got} in 30 s");
        assert!(after < before + 8 * 1024, "the server's memory stays flat: {before} KiB → {after} KiB");
        resizing.abort();

        // SIGTERM: bob is told why and his channel closes; then the server exits.
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.id() as i32), nix::sys::signal::Signal::SIGTERM)
            .expect("SIGTERM");
        bob.wait_closed().await;
        assert_eq!(bob.exit, Some(0));
    });
    let status = server.wait().expect("the server ends");
    assert!(status.success(), "{status:?}");
    if let Some(c) = ssh.as_mut() {
        let status = c.wait_exit();
        assert!(status.success(), "ssh: {status:?}\n{}", c.text());
        let raw = String::from_utf8_lossy(&c.raw);
        assert!(raw.contains("ttyhmi: the console server is stopping (SIGTERM)"), "{raw}");
    }
    let log = std::fs::read_to_string(dir.0.join("state/ttyhmi/audit.jsonl")).expect("the audit log");
    assert!(log.contains("the console server is stopping (SIGTERM)"), "{log}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.connections() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sim.connections(), 0, "the plant's connection closed with the server");
}
