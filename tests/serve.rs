//! Issue 14: `ttyhmi serve`, one plant core for many operators over SSH and the attach socket.
//! A real SSH client (russh, in-process) logs in with keys listed in a users file; a simulated
//! PLC on loopback counts connections and function codes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ttyhmi::driver::spawn::DriverOptions;
use ttyhmi::front::gate::Gate;
use ttyhmi::front::hub::ToHub;
use ttyhmi::front::server::{ServeOptions, Server};
use ttyhmi::plant::SessionInfo;
use ttyhmi::plant::runtime::PlantOptions;

mod common;
use common::TempDir;
use common::ssh::{Term, connect, key, login, public_line};

/// Write function codes of Modbus: none may reach the PLC from a viewer.
const WRITE_CODES: [u8; 4] = [5, 6, 15, 16];

fn layout_src(port: u16) -> String {
    format!(
        "connections:\n  plc1: {{ modbus_tcp: {{ host: 127.0.0.1, port: {port}, unit: 1 }}, poll: 100ms }}\n\
         tags:\n  SP: {{ source: plc1, holding: 30, type: f32, units: bar, decimals: 2, write: {{ role: operator, min: 0, max: 16 }} }}\n  \
         COUNT: {{ source: plc1, holding: 9, type: u16 }}\n\
         alarms:\n  SP:\n    hi: {{ limit: 9, priority: high }}\n\
         screens:\n  - title: Main\n    panels:\n      - grid: {{ tags: [SP, COUNT] }}\n  - title: Alarms\n    panels:\n      - alarms: {{}}\n"
    )
}

/// alice (operator, PIN 1234), bob (viewer), carol (operator, PIN 5678); keys from seeds 1, 2, 3.
fn users(dir: &Path) -> PathBuf {
    let folder = dir.join("etc");
    std::fs::create_dir_all(&folder).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pin = |p: &str| ttyhmi::auth::hash_pin(p).unwrap();
    let src = format!(
        "users:\n  alice: {{ role: operator, pin: \"{}\", keys: [\"{}\"] }}\n  bob: {{ role: viewer, keys: [\"{}\"] }}\n  \
         carol: {{ role: operator, pin: \"{}\", keys: [\"{}\"] }}\n",
        pin("1234"),
        public_line(&key(1), "alice@laptop"),
        public_line(&key(2), "bob@laptop"),
        pin("5678"),
        public_line(&key(3), "carol@laptop"),
    );
    let path = folder.join("users.yaml");
    std::fs::write(&path, src).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

async fn start(dir: &Path, plc_port: u16, socket: bool) -> Server {
    start_idle(dir, plc_port, socket, None).await
}

async fn start_idle(dir: &Path, plc_port: u16, socket: bool, idle_logout: Option<Duration>) -> Server {
    let layout = ttyhmi::layout::parse(&layout_src(plc_port), "serve.yaml").unwrap_or_else(|e| panic!("{e}"));
    let opts = ServeOptions {
        ssh: Some("127.0.0.1:0".parse().unwrap()),
        host_key: dir.join("state/ssh_host_ed25519_key"),
        socket: socket.then(|| dir.join("state/console.sock")),
        gate: Gate {
            users: Some(users(dir)),
            process_uid: nix::unistd::getuid().as_raw(),
            host: "hmi-server".into(),
            read_only: false,
            utc_offset: time::UtcOffset::UTC,
        },
        plant: PlantOptions {
            audit_path: dir.join("state/audit.jsonl"),
            journal_path: dir.join("state/alarms.jsonl"),
            lockouts_path: dir.join("state/lockouts.json"),
            drivers: DriverOptions { writable: true, ..Default::default() },
        },
        export_dir: dir.join("exports"),
        idle_logout,
    };
    Server::start(layout, opts).await.expect("the server starts")
}

async fn who(server: &Server) -> Vec<SessionInfo> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    server.hub().send(ToHub::List(tx)).await.expect("the hub runs");
    rx.await.expect("an answer")
}

fn alarm_row(text: &str) -> String {
    text.lines().find(|l| l.contains("SP.hi")).unwrap_or_default().to_string()
}

#[test]
fn sessions_share_one_plc_connection_and_alarms_and_a_viewer_never_writes() {
    let (rt, sim) = common::plant();
    let dir = TempDir::new("serve-share");
    rt.block_on(async {
        let server = start(&dir.0, sim.modbus_addr.port(), false).await;
        let addr = server.ssh_addr.expect("SSH listens");
        let mut alice = Term::open(addr, "alice", &key(1), 100, 30).await;
        let mut bob = Term::open(addr, "bob", &key(2), 80, 24).await;
        let mut carol = Term::open(addr, "carol", &key(3), 120, 40).await;
        for t in [&mut alice, &mut bob, &mut carol] {
            t.wait_for("the setpoint as read", |s| s.contains("8.00")).await;
        }
        assert_eq!(sim.connections(), 1, "the PLC sees one connection for three sessions");

        // Alice writes 9.5 with her PIN: answered on her screen; the value on everyone's.
        alice.keys(b"w").await;
        alice.keys(b"9.5\r").await;
        alice.keys(b"1234\r").await;
        let a = alice.wait_for("alice's write answered", |s| s.contains("written and read back")).await;
        assert!(a.contains("9.50"), "{a}");
        bob.wait_for("the new value on bob's screen", |s| s.contains("9.50")).await;
        assert!(!bob.text().contains("written and read back"));

        // SP.hi: carol acknowledges, alice (who pressed nothing) sees it within a frame.
        for t in [&mut alice, &mut carol] {
            t.keys(b"a").await;
            t.wait_for("SP.hi unacknowledged", |s| alarm_row(s).contains("UNACK")).await;
        }
        carol.keys(b"\r").await;
        carol.wait_for("carol's acknowledge answered", |s| s.contains("acknowledged")).await;
        let a = alice.wait_for("the acknowledge on alice's screen", |s| !alarm_row(s).contains("UNACK")).await;
        assert!(alarm_row(&a).contains("ack"), "{a}");

        // Bob, a viewer, hammers his keyboard: no write function code reaches the PLC.
        sim.reset_counts();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..400 {
            let mut chunk = Vec::new();
            for _ in 0..8 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let pool = b"w0123456789.\r\r\r\x1b\x1b[A\x1b[B\t yq n1234";
                chunk.push(pool[(rng % pool.len() as u64) as usize]);
            }
            bob.ch.data_bytes(chunk).await.expect("keys");
            bob.pump(Duration::from_millis(2)).await;
        }
        bob.pump(Duration::from_millis(500)).await;
        let counts = sim.function_counts();
        assert!(counts.values().sum::<u64>() > 0, "the PLC was polled meanwhile: {counts:?}");
        for fc in WRITE_CODES {
            assert_eq!(counts.get(&fc), None, "a viewer's keys sent function code {fc}: {counts:?}");
        }

        // Everyone is listed: user, role, from where, and how they were identified.
        let list = who(&server).await;
        let users: Vec<&str> = list.iter().map(|s| s.user.as_str()).collect();
        assert!(users.contains(&"alice") && users.contains(&"carol"), "{list:?}");
        assert!(list.iter().all(|s| s.from.starts_with("127.0.0.1:")), "{list:?}");
        assert!(list.iter().all(|s| s.via.as_deref().is_some_and(|v| v.starts_with("key SHA256:"))), "{list:?}");
        assert_eq!(list.iter().find(|s| s.user == "carol").map(|s| s.role.as_str()), Some("operator"));
        // ... and on the diagnostics view.
        alice.keys(b"d").await;
        let d = alice.wait_for("the sessions on the diagnostics view", |s| s.contains("carol")).await;
        assert!(d.contains("(you)") && d.contains("key SHA256:"), "{d}");

        // The server stops: every session is told why and closed; then the plant.
        server.stop("the console server is stopping (test)").await.expect("a clean stop");
        for t in [&mut alice, &mut carol] {
            t.wait_closed().await;
            assert_eq!(t.exit, Some(0));
        }
    });
    let log = std::fs::read_to_string(dir.0.join("state/audit.jsonl")).expect("the audit log");
    let records: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    let write = records.iter().find(|r| r["action"] == "write_attempt").expect("alice's write attempt");
    assert_eq!(write["user"], "alice");
    assert!(write["session"].as_u64().is_some(), "{write}");
    assert!(write["via"].as_str().is_some_and(|v| v.starts_with("key SHA256:")), "{write}");
    assert!(write["ssh_client"].as_str().is_some_and(|v| v.starts_with("127.0.0.1:")), "{write}");
    let ack = records.iter().find(|r| r["action"] == "alarm_acknowledge").expect("carol's acknowledge");
    assert_eq!(ack["user"], "carol");
    let bob = |action: &str| records.iter().any(|r| r["user"] == "bob" && r["action"] == action);
    assert!(!bob("write_attempt") && !bob("write_result"), "a viewer's write never got as far as an attempt");
    assert!(bob("write_denied"), "the viewer's tries are on record as denied");
    let stops = records.iter().filter(|r| r["action"] == "console_stop").count();
    assert_eq!(stops, 3, "every session's end is on record: {log}");
    ttyhmi::audit::verify(dir.0.join("state/audit.jsonl")).expect("the chain holds");
}

#[test]
fn unknown_keys_passwords_commands_file_transfer_and_forwarding_are_refused() {
    let (rt, sim) = common::plant();
    let dir = TempDir::new("serve-refuse");
    rt.block_on(async {
        let server = start(&dir.0, sim.modbus_addr.port(), false).await;
        let addr = server.ssh_addr.expect("SSH listens");

        let mut h = connect(addr).await;
        assert!(!login(&mut h, "alice", &key(99)).await, "an unknown key");
        assert!(!login(&mut h, "bob", &key(1)).await, "alice's key for bob");
        assert!(!login(&mut h, "mallory", &key(1)).await, "a user who is not listed");
        let pw = h.authenticate_password("alice", "1234").await.map(|r| r.success()).unwrap_or(false);
        assert!(!pw, "a password");
        let none = h.authenticate_none("alice").await.map(|r| r.success()).unwrap_or(false);
        assert!(!none, "no authentication");

        let mut h = connect(addr).await;
        assert!(login(&mut h, "alice", &key(1)).await);
        // A command: refused, said on standard error, channel closed with status 1.
        let mut ch = h.channel_open_session().await.expect("a channel");
        ch.exec(true, "cat /etc/passwd").await.expect("asked");
        let (failed, stderr, exit) = outcome(&mut ch).await;
        assert!(failed, "exec refused");
        assert!(stderr.contains("commands are not run"), "{stderr}");
        assert_eq!(exit, Some(1));
        // sftp.
        let mut ch = h.channel_open_session().await.expect("a channel");
        ch.request_subsystem(true, "sftp").await.expect("asked");
        let (failed, stderr, _) = outcome(&mut ch).await;
        assert!(failed && stderr.contains("subsystem sftp refused"), "{stderr}");
        // A shell without a pty.
        let mut ch = h.channel_open_session().await.expect("a channel");
        ch.request_shell(true).await.expect("asked");
        let (failed, stderr, _) = outcome(&mut ch).await;
        assert!(failed && stderr.contains("needs a terminal"), "{stderr}");
        // Agent forwarding, X11.
        let mut ch = h.channel_open_session().await.expect("a channel");
        ch.agent_forward(true).await.expect("asked");
        ch.request_x11(true, false, "MIT-MAGIC-COOKIE-1", "00", 0).await.expect("asked");
        let mut failures = 0;
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(2), ch.wait()).await {
            match m {
                russh::ChannelMsg::Failure => failures += 1,
                russh::ChannelMsg::Success => panic!("agent or X11 forwarding accepted"),
                _ => {}
            }
            if failures == 2 {
                break;
            }
        }
        assert_eq!(failures, 2, "agent and X11 forwarding refused");
        // Port forwarding, both ways.
        let direct =
            h.channel_open_direct_tcpip("127.0.0.1", u32::from(sim.modbus_addr.port()), "127.0.0.1", 5555).await;
        assert!(direct.is_err(), "a tunnel to the PLC");
        assert!(h.tcpip_forward("127.0.0.1", 0).await.is_err(), "remote forwarding");
        assert_eq!(sim.connections(), 1, "nothing but the plant's own driver reached the PLC");
        assert!(who(&server).await.is_empty(), "no session started");
        server.stop("done").await.expect("a clean stop");
    });
}

/// Whether the request failed, what came on standard error, the exit status.
async fn outcome(ch: &mut russh::Channel<russh::client::Msg>) -> (bool, String, Option<u32>) {
    let (mut failed, mut stderr, mut exit) = (false, Vec::new(), None);
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(5), ch.wait()).await {
        match m {
            russh::ChannelMsg::Failure => failed = true,
            russh::ChannelMsg::Success => panic!("accepted"),
            russh::ChannelMsg::ExtendedData { data, .. } => stderr.extend_from_slice(&data),
            russh::ChannelMsg::ExitStatus { exit_status } => exit = Some(exit_status),
            russh::ChannelMsg::Close => break,
            _ => {}
        }
    }
    (failed, String::from_utf8_lossy(&stderr).into_owned(), exit)
}

#[test]
fn a_session_that_disconnects_mid_dialog_writes_nothing_and_a_window_change_resizes() {
    let (rt, sim) = common::plant();
    let dir = TempDir::new("serve-drop");
    rt.block_on(async {
        let server = start(&dir.0, sim.modbus_addr.port(), false).await;
        let addr = server.ssh_addr.expect("SSH listens");
        let mut alice = Term::open(addr, "alice", &key(1), 100, 30).await;
        alice.wait_for("the setpoint", |s| s.contains("8.00")).await;
        alice.ch.window_change(60, 20, 0, 0).await.expect("resized");
        alice.screen.screen_mut().set_size(20.try_into().unwrap(), 60.try_into().unwrap());
        let t = alice.wait_for("a frame of 60 columns", |s| s.lines().any(|l| l.contains("SP"))).await;
        assert!(t.lines().all(|l| l.chars().count() <= 60), "{t}");
        // The confirmation is up, PIN half typed, and the connection drops.
        sim.reset_counts();
        alice.keys(b"w").await;
        alice.keys(b"3\r").await;
        alice.wait_for("the confirmation", |s| s.contains("PIN")).await;
        alice.keys(b"12").await;
        drop(alice);
        for _ in 0..100 {
            if who(&server).await.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(who(&server).await.is_empty(), "the session ended with its connection");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let counts = sim.function_counts();
        for fc in WRITE_CODES {
            assert_eq!(counts.get(&fc), None, "a dropped dialog wrote: {counts:?}");
        }
        server.stop("done").await.expect("a clean stop");
    });
    let log = std::fs::read_to_string(dir.0.join("state/audit.jsonl")).expect("the audit log");
    assert!(!log.contains("write_attempt"), "{log}");
    assert!(log.contains("the SSH"), "the end says why: {log}");
}

#[test]
fn attach_takes_the_user_from_the_peer_credentials() {
    let (rt, sim) = common::plant();
    let dir = TempDir::new("serve-attach");
    rt.block_on(async {
        let server = start(&dir.0, sim.modbus_addr.port(), true).await;
        let socket = server.socket.clone().expect("a socket");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&socket).expect("there").permissions().mode() & 0o777;
        assert_eq!(mode, 0o660, "group ttyhmi may attach, nobody else");
        // A client that says it is someone else is still who the kernel says it is.
        let stream = tokio::net::UnixStream::connect(&socket).await.expect("connects");
        let (mut rx, mut tx) = stream.into_split();
        use ttyhmi::front::attach::protocol::{Frame, MAX_FROM_SERVER, read_frame, write_frame};
        let hello = Frame::Hello { cols: 90, rows: 25, no_color: true, term: "alice root admin".into() };
        write_frame(&mut tx, &hello).await.expect("hello");
        let mut screen = vt100::Parser::new(25.try_into().unwrap(), 90.try_into().unwrap(), 0);
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while !screen.screen().contents().contains("8.00") {
            assert!(std::time::Instant::now() < deadline, "{}", screen.screen().contents());
            if let Ok(Ok(Some(Frame::Output(b)))) =
                tokio::time::timeout(Duration::from_millis(100), read_frame(&mut rx, MAX_FROM_SERVER)).await
            {
                screen.process(&b);
            }
        }
        let me = ttyhmi::auth::current_user();
        let uid = nix::unistd::getuid().as_raw();
        let list = who(&server).await;
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!(list[0].user, me);
        assert_eq!(list[0].via.as_deref(), Some(format!("uid {uid}").as_str()));
        assert_eq!(list[0].from, "local socket");
        assert_eq!(list[0].role, "viewer", "the users file does not list this account");
        // `ttyhmi sessions` asks the same socket.
        let (ok, out) = common::ttyhmi(&["sessions", socket.to_str().unwrap()]);
        assert!(ok, "{out}");
        assert!(out.contains(&me) && out.contains(&format!("uid {uid}")) && out.contains("local socket"), "{out}");

        // As another account where this test may switch (root): that account, whatever it sends.
        if uid == 0 {
            std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
            std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o711)).unwrap();
            std::fs::set_permissions(dir.0.join("state"), std::fs::Permissions::from_mode(0o711)).unwrap();
            use std::os::unix::process::CommandExt;
            let mut child = std::process::Command::new(common::BIN)
                .args(["attach", socket.to_str().unwrap()])
                .uid(65534)
                .gid(65534)
                .env("TERM", "dumb")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("ttyhmi attach as uid 65534");
            let mut other = None;
            for _ in 0..200 {
                other = who(&server).await.into_iter().find(|s| s.via.as_deref() == Some("uid 65534"));
                if other.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let other = other.expect("the other account's session");
            assert_ne!(other.user, me);
            assert_eq!(other.role, "viewer");
            let _ = child.kill();
            let _ = child.wait();
        } else {
            eprintln!("not root: the attach as another account is skipped");
        }
        drop((rx, tx));
        server.stop("done").await.expect("a clean stop");
    });
}

#[test]
fn an_idle_session_is_logged_out_when_the_server_says_so_and_a_busy_one_is_not() {
    let (rt, sim) = common::plant();
    let dir = TempDir::new("serve-idle");
    rt.block_on(async {
        let server = start_idle(&dir.0, sim.modbus_addr.port(), false, Some(Duration::from_secs(2))).await;
        let addr = server.ssh_addr.expect("SSH listens");
        let mut idle = Term::open(addr, "alice", &key(1), 100, 30).await;
        let mut busy = Term::open(addr, "bob", &key(2), 100, 30).await;
        let started = std::time::Instant::now();
        while !idle.closed {
            assert!(started.elapsed() < Duration::from_secs(15), "the idle session stayed:\n{}", idle.text());
            busy.keys(b"j").await;
            idle.pump(Duration::from_millis(200)).await;
        }
        assert_eq!(idle.exit, Some(0));
        assert!(!busy.closed, "a session that types stays");
        let list = who(&server).await;
        assert_eq!(list.iter().map(|s| s.user.as_str()).collect::<Vec<_>>(), ["bob"]);
        server.stop("done").await.expect("a clean stop");
    });
    let log = std::fs::read_to_string(dir.0.join("state/audit.jsonl")).expect("the audit log");
    assert!(log.contains("logged out after 2 s without a key"), "{log}");
}
