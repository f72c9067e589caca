//! Issue 13: one plant core, many sessions. Two people on one plant — the real hub, the real
//! plant runtime (audit log and journal on disk, a Modbus driver), a simulated PLC on loopback —
//! each drawn on a screen of their own. An acknowledge in one session is seen by the other on its
//! next frame; a write from one is answered in that one, and its new value shows in both; a third
//! whose terminal takes nothing holds nobody up, and only its newest frame waits for it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tokio::sync::mpsc;
use ttyhmi::auth::Identity;
use ttyhmi::driver::spawn::DriverOptions;
use ttyhmi::front::hub::{Hub, Screen, ToHub};
use ttyhmi::front::mailbox::Mailbox;
use ttyhmi::plant::SessionId;
use ttyhmi::plant::runtime::{PlantOptions, PlantRuntime};
use ttyhmi::session::msg::Msg;
use ttyhmi::session::state::Person;

mod common;
use common::{TempDir, tui};

/// A session's screen: a test terminal both the hub and the test can see.
#[derive(Clone)]
struct Shared(Arc<Mutex<Buffer>>);

impl Shared {
    fn new() -> Shared {
        Shared(Arc::new(Mutex::new(Buffer::empty(Rect::new(0, 0, 100, 30)))))
    }

    fn text(&self) -> String {
        tui::text(&self.0.lock().expect("not poisoned"))
    }
}

impl Screen for Shared {
    fn size(&mut self) -> std::io::Result<Rect> {
        Ok(Rect::new(0, 0, 100, 30))
    }

    fn show(&mut self, frame: Buffer) -> std::io::Result<()> {
        *self.0.lock().map_err(|_| std::io::Error::other("poisoned"))? = frame;
        Ok(())
    }

    fn bell(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A terminal that never takes what it is sent (a stalled link): frames wait in its mailbox.
struct Stalled(Arc<Mailbox<Buffer>>);

impl Screen for Stalled {
    fn size(&mut self) -> std::io::Result<Rect> {
        Ok(Rect::new(0, 0, 80, 24))
    }

    fn show(&mut self, frame: Buffer) -> std::io::Result<()> {
        self.0.post(frame).map_err(std::io::Error::other)
    }

    fn bell(&mut self) -> std::io::Result<()> {
        self.0.bell().map_err(std::io::Error::other)
    }
}

fn layout(port: u16) -> ttyhmi::layout::Layout {
    let src = format!(
        "connections:\n  plc1: {{ modbus_tcp: {{ host: 127.0.0.1, port: {port}, unit: 1 }}, poll: 100ms }}\n\
         tags:\n  SP: {{ source: plc1, holding: 30, type: f32, units: bar, decimals: 2, write: {{ role: operator, min: 0, max: 16 }} }}\n\
         alarms:\n  SP:\n    hi: {{ limit: 9, priority: high }}\n\
         screens:\n  - title: Main\n    panels:\n      - grid: {{ tags: [SP] }}\n  - title: Alarms\n    panels:\n      - alarms: {{}}\n"
    );
    ttyhmi::layout::parse(&src, "two.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn operator(name: &str, pin: &str) -> Person {
    Person::viewer(name, false).with_identity(Identity::demo(name, pin).expect("a valid PIN"))
}

/// Waits (up to 10 s) until `screen` shows what `ok` looks for.
async fn wait_for(screen: &Shared, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = screen.text();
        if ok(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what}: not on screen within 10 s:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn keys(tx: &mpsc::Sender<ToHub>, id: SessionId, text: &str) {
    for c in text.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            c => KeyCode::Char(c),
        };
        tx.send(ToHub::Msg(id, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))).await.expect("the hub runs");
    }
}

/// The alarm list row of SP.hi.
fn alarm_row(text: &str) -> String {
    text.lines().find(|l| l.contains("SP.hi")).unwrap_or_default().to_string()
}

#[test]
fn two_sessions_share_one_plant_acknowledges_and_writes() {
    let (rt, sim) = common::plant();
    let dir = TempDir::new("two-sessions");
    let layout = Arc::new(layout(sim.modbus_addr.port()));
    rt.block_on(async {
        let (tx, outcomes) = mpsc::channel(4096);
        let opts = PlantOptions {
            audit_path: dir.0.join("audit.jsonl"),
            journal_path: dir.0.join("alarms.jsonl"),
            lockouts_path: dir.0.join("lockouts.json"),
            drivers: DriverOptions { writable: true, ..Default::default() },
        };
        let runtime = PlantRuntime::start(layout, &opts, tx).expect("the plant starts");
        let mut hub = Hub::new(runtime, dir.0.join("exports"), false);
        let (alice_screen, bob_screen) = (Shared::new(), Shared::new());
        let alice = hub.add(operator("alice", "1234"), "test".into(), Box::new(alice_screen.clone())).await;
        let bob = hub.add(operator("bob", "4321"), "test".into(), Box::new(bob_screen.clone())).await;
        // A third person whose terminal takes nothing: the others are not held up by it.
        let stalled = Arc::new(Mailbox::default());
        hub.add(operator("carol", "5678"), "test".into(), Box::new(Stalled(stalled.clone()))).await;
        let (input, inputs) = mpsc::channel(64);
        let hub = tokio::spawn(hub.run(outcomes, inputs));

        for s in [&alice_screen, &bob_screen] {
            wait_for(s, "the setpoint as read", |t| t.contains("8.00")).await;
        }
        // Alice writes 9.5: answered in her session only; the new value in both.
        keys(&input, alice, "w9.5\n1234\n").await;
        let a = wait_for(&alice_screen, "alice's write answered", |t| t.contains("written and read back")).await;
        assert!(a.contains("9.50"), "{a}");
        let b = wait_for(&bob_screen, "the new value in bob's session", |t| t.contains("9.50")).await;
        assert!(!b.contains("written and read back"), "the answer is alice's alone:\n{b}");

        // The write raised SP.hi: both see it unacknowledged on their alarm lists.
        keys(&input, alice, "a").await;
        keys(&input, bob, "a").await;
        for s in [&alice_screen, &bob_screen] {
            wait_for(s, "SP.hi unacknowledged", |t| alarm_row(t).contains("UNACK")).await;
        }
        // Bob acknowledges; alice, who pressed nothing, sees it on her next frame.
        keys(&input, bob, "\n").await;
        let b = wait_for(&bob_screen, "bob's acknowledge answered", |t| t.contains("acknowledged")).await;
        assert!(!alarm_row(&b).contains("UNACK"), "{b}");
        let a =
            wait_for(&alice_screen, "the acknowledge in alice's session", |t| !alarm_row(t).contains("UNACK")).await;
        assert!(alarm_row(&a).contains("ack"), "{a}");
        assert!(!a.contains("1 alarm acknowledged"), "the answer is bob's alone:\n{a}");

        drop(input);
        hub.await.expect("the hub ends").expect("cleanly");
        // What waits for the stalled terminal is its newest frame, not every frame since (looked
        // at once the hub has ended, so that no frame arrives in between).
        let waiting = stalled.take(Duration::ZERO).expect("open");
        assert!(waiting.frame.is_some_and(|f| f.area == Rect::new(0, 0, 80, 24)));
        assert!(stalled.take(Duration::ZERO).is_some_and(|p| p.frame.is_none()), "one frame, not a queue");
    });
    // One audit log names both people: each start, alice's write, bob's acknowledge, each stop.
    let log = std::fs::read_to_string(dir.0.join("audit.jsonl")).expect("the audit log");
    let lines: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    let by = |user: &str, action: &str| lines.iter().any(|r| r["user"] == user && r["action"] == action);
    assert!(by("alice", "console_start") && by("bob", "console_start"), "{log}");
    // Sessions no server identified (a console of its own) carry no session number or `via`.
    assert!(lines.iter().all(|r| r.get("session").is_none() && r.get("via").is_none()), "{log}");
    assert!(by("alice", "write_attempt") && by("alice", "write_result"), "{log}");
    assert!(by("bob", "alarm_acknowledge") && !by("alice", "alarm_acknowledge"), "{log}");
    assert!(by("alice", "console_stop") && by("bob", "console_stop"), "{log}");
    // The journal holds the alarm and bob's acknowledge.
    let journal = std::fs::read_to_string(dir.0.join("alarms.jsonl")).expect("the journal");
    assert!(journal.contains("\"user\":\"bob\"") || journal.contains("bob"), "{journal}");
}

/// Issue 14: a user's PIN lockout is one for all of that user's sessions, and it survives a
/// restart of the server (the lockouts file in its state folder).
#[test]
fn a_pin_lockout_is_shared_by_a_users_sessions_and_survives_a_restart() {
    let (rt, sim) = common::plant();
    let dir = TempDir::new("lockout");
    let layout = Arc::new(layout(sim.modbus_addr.port()));
    let opts = PlantOptions {
        audit_path: dir.0.join("audit.jsonl"),
        journal_path: dir.0.join("alarms.jsonl"),
        lockouts_path: dir.0.join("state").join("lockouts.json"),
        drivers: DriverOptions { writable: true, ..Default::default() },
    };
    rt.block_on(async {
        let (tx, outcomes) = mpsc::channel(4096);
        let runtime = PlantRuntime::start(layout.clone(), &opts, tx).expect("the plant starts");
        let mut hub = Hub::new(runtime, dir.0.join("exports"), false);
        let (one, two, bob_screen) = (Shared::new(), Shared::new(), Shared::new());
        let alice1 = hub.add(operator("alice", "1234"), "test".into(), Box::new(one.clone())).await;
        let alice2 = hub.add(operator("alice", "1234"), "test".into(), Box::new(two.clone())).await;
        let bob = hub.add(operator("bob", "4321"), "test".into(), Box::new(bob_screen.clone())).await;
        let (input, inputs) = mpsc::channel(64);
        let hub = tokio::spawn(hub.run(outcomes, inputs));
        for s in [&one, &two, &bob_screen] {
            wait_for(s, "the setpoint as read", |t| t.contains("8.00")).await;
        }
        // Three wrong PINs in alice's first session, then two in her second: locked in both.
        keys(&input, alice1, "w9.5\n0000\n0000\n0000\n").await;
        wait_for(&one, "two tries left", |t| t.contains("wrong PIN; 2 tries left")).await;
        keys(&input, alice2, "w9.5\n0000\n").await;
        wait_for(&two, "the count of both sessions", |t| t.contains("wrong PIN; 1 try left")).await;
        keys(&input, alice2, "0000\n").await;
        wait_for(&two, "the lockout", |t| t.contains("5 wrong PINs: writing is locked for")).await;
        // The first session's confirmation is still open: the right PIN is refused there too.
        keys(&input, alice1, "1234\n").await;
        wait_for(&one, "the lock in the first session", |t| t.contains("5 wrong PINs: writing is locked for")).await;
        // Bob is not locked.
        keys(&input, bob, "w9.5\n4321\n").await;
        wait_for(&bob_screen, "bob's write", |t| t.contains("written and read back")).await;
        drop(input);
        hub.await.expect("the hub ends").expect("cleanly");
    });

    let text = std::fs::read_to_string(&opts.lockouts_path).expect("the lockouts file");
    assert!(text.contains("\"alice\"") && text.contains("locked_until") && !text.contains("bob"), "{text}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&opts.lockouts_path).expect("there").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let log = std::fs::read_to_string(dir.0.join("audit.jsonl")).expect("the audit log");
    let count = |action: &str| log.lines().filter(|l| l.contains(&format!("\"action\":\"{action}\""))).count();
    assert_eq!((count("pin_failure"), count("lockout")), (5, 1), "{log}");

    // Restarted on the same state folder: alice is still locked, bob may write.
    rt.block_on(async {
        let (tx, outcomes) = mpsc::channel(4096);
        let runtime = PlantRuntime::start(layout, &opts, tx).expect("the plant starts again");
        assert!(runtime.plant.lockouts.check("alice", std::time::SystemTime::now()).is_err());
        assert!(runtime.notes.is_empty(), "{:?}", runtime.notes);
        let mut hub = Hub::new(runtime, dir.0.join("exports"), false);
        let screen = Shared::new();
        let alice = hub.add(operator("alice", "1234"), "test".into(), Box::new(screen.clone())).await;
        let (input, inputs) = mpsc::channel(64);
        let hub = tokio::spawn(hub.run(outcomes, inputs));
        wait_for(&screen, "the setpoint as read", |t| t.contains("9.50")).await;
        keys(&input, alice, "w").await;
        wait_for(&screen, "the lock after the restart", |t| t.contains("5 wrong PINs: writing is locked for")).await;
        drop(input);
        hub.await.expect("the hub ends").expect("cleanly");
    });
}

/// A lockouts file that makes no sense is said to every session; the plant starts without
/// lockouts, and the next wrong PIN replaces the file with a good one.
#[test]
fn a_damaged_lockouts_file_is_said_and_replaced() {
    let (rt, sim) = common::plant();
    let dir = TempDir::new("lockout-damaged");
    let opts = PlantOptions {
        audit_path: dir.0.join("audit.jsonl"),
        journal_path: dir.0.join("alarms.jsonl"),
        lockouts_path: dir.0.join("lockouts.json"),
        drivers: DriverOptions { writable: true, ..Default::default() },
    };
    std::fs::write(&opts.lockouts_path, "{\"version\":1,\"users\":{\"alice\":{\"fail").expect("written");
    rt.block_on(async {
        let (tx, outcomes) = mpsc::channel(4096);
        let runtime = PlantRuntime::start(Arc::new(layout(sim.modbus_addr.port())), &opts, tx).expect("starts");
        assert!(runtime.notes.iter().any(|n| n.starts_with("PIN lockouts not restored from")), "{:?}", runtime.notes);
        let mut hub = Hub::new(runtime, dir.0.join("exports"), false);
        let screen = Shared::new();
        let alice = hub.add(operator("alice", "1234"), "test".into(), Box::new(screen.clone())).await;
        let (input, inputs) = mpsc::channel(64);
        let hub = tokio::spawn(hub.run(outcomes, inputs));
        wait_for(&screen, "the note", |t| t.contains("PIN lockouts not restored")).await;
        wait_for(&screen, "the setpoint as read", |t| t.contains("8.00")).await;
        keys(&input, alice, "w9.5\n0000\n").await;
        wait_for(&screen, "the wrong PIN counted", |t| t.contains("wrong PIN; 4 tries left")).await;
        drop(input);
        hub.await.expect("the hub ends").expect("cleanly");
    });
    let text = std::fs::read_to_string(&opts.lockouts_path).expect("the lockouts file");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON again");
    assert_eq!(v["users"]["alice"]["failures"], 1, "{text}");
}
