//! End to end, alarms: the real binary in a pseudo-terminal on the in-process simulated plant.
//! The plant starts cold and its header pressure rises through a high limit: the banner shows
//! the alarm on every screen and the bell rings; an operator acknowledges it on the alarm list;
//! the journal and the audit log hold it all. An unacknowledged alarm and a shelve survive a
//! restart (from the journal). Losing the PLC raises its comms alarm. Read-only consoles look
//! but cannot acknowledge.

use std::path::{Path, PathBuf};

mod common;

use common::{Console, TempDir, plant, ttyhmi, users_file};

/// Pressure rises from 0 towards 8 bar (time constant 10 s): it passes 3 bar about 5 s after the
/// plant starts.
fn alarm_layout(dir: &Path, port: u16) -> PathBuf {
    let src = format!(
        "title: Alarm test\n\
         connections:\n  plc: {{ modbus_tcp: {{ host: 127.0.0.1, port: {port}, unit: 1 }}, timeout: 500ms, poll: 100ms }}\n\
         tags:\n\
         \x20 P: {{ source: plc, holding: 1, type: f32, units: bar, decimals: 2, description: Header pressure }}\n\
         \x20 T: {{ source: plc, holding: 3, type: f32, byte_order: CDAB, units: degC, decimals: 1, description: Outlet temperature }}\n\
         \x20 COUNT: {{ source: plc, holding: 100, type: u16, description: Scan counter }}\n\
         alarm_options: {{ bell: [critical, high] }}\n\
         alarms:\n\
         \x20 P:\n\
         \x20   hi: {{ limit: 3, priority: high, on_delay: 1s, message: Header pressure high }}\n\
         \x20 T:\n\
         \x20   hihi: {{ limit: 900, priority: critical, message: Outlet temperature very high }}\n\
         \x20 plc:\n\
         \x20   comms: {{ priority: high }}\n\
         screens:\n\
         \x20 - title: Plant\n\
         \x20   panels:\n\
         \x20     - grid: {{ tags: [P, T, COUNT] }}\n\
         \x20 - title: Alarms\n\
         \x20   panels:\n\
         \x20     - alarms: {{}}\n"
    );
    let path = dir.join("layout.yaml");
    std::fs::write(&path, src).unwrap();
    let (ok, out) = ttyhmi(&["check", path.to_str().unwrap()]);
    assert!(ok, "the test layout is valid:\n{out}");
    path
}

struct Files {
    layout: PathBuf,
    users: PathBuf,
    audit: PathBuf,
    journal: PathBuf,
}

impl Files {
    fn new(dir: &Path, port: u16, role: &str) -> Files {
        Files {
            layout: alarm_layout(dir, port),
            users: users_file(dir, "viewer", Some(role)),
            audit: dir.join("audit.jsonl"),
            journal: dir.join("journal.jsonl"),
        }
    }

    fn console(&self, dir: &Path, extra: &[&str]) -> Console {
        let s = |p: &PathBuf| p.to_str().unwrap().to_string();
        let mut args = vec!["run".to_string(), s(&self.layout), "--users".into(), s(&self.users)];
        args.extend(["--audit".into(), s(&self.audit), "--journal".into(), s(&self.journal)]);
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
        Console::start(dir, &args)
    }

    /// (key, from, to, user) of every journal record (lines the test damaged are left out).
    fn journal(&self) -> Vec<(String, String, String, String)> {
        let text = std::fs::read_to_string(&self.journal).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| {
                let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
                (s("key"), s("from"), s("to"), s("user"))
            })
            .collect()
    }

    fn audit(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(&self.audit).unwrap();
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
                (s("action"), s("tag"))
            })
            .collect()
    }
}

/// The banner: the line under the tabs.
fn banner(text: &str) -> String {
    text.lines().nth(1).unwrap_or_default().to_string()
}

fn quit(c: &mut Console) {
    c.quit();
    assert!(c.wait_exit().success());
}

#[test]
fn the_plant_drives_a_value_over_a_limit_the_banner_shows_it_and_an_operator_acknowledges_it() {
    let dir = TempDir::new("alarm-ack");
    let (rt, sim) = plant();
    let f = Files::new(&dir.0, sim.modbus_addr.port(), "operator");
    let mut c = f.console(&dir.0, &[]);
    let t = c.wait_for("the banner with the pressure alarm", |t| banner(t).contains("Header pressure high"));
    let b = banner(&t);
    assert!(b.contains("*HIGH") && b.contains(" P "), "priority as text, unacknowledged marker, tag: {b}");
    assert!(t.contains("Plant") && t.contains("COUNT"), "on the plant screen:\n{t}");
    assert!(c.raw.contains(&0x07), "the bell rang");

    c.send(b"a");
    let t = c.wait_for("the alarm list", |t| t.contains("Active 1") && t.contains("P.hi"));
    assert!(t.contains("UNACK"), "{t}");
    c.send(b"x");
    c.wait_for("the bell silenced", |t| t.contains("bell silenced"));
    c.send(b" ");
    c.wait_for("acknowledged", |t| t.contains("P.hi: 1 alarm acknowledged"));
    let t =
        c.wait_for("the banner without unacknowledged alarms", |t| banner(t).contains("1 active alarm, acknowledged"));
    assert!(!banner(&t).contains('*'), "{}", banner(&t));
    c.send(b"s");
    c.wait_for("an operator may not shelve", |t| t.contains("shelving needs engineer or above"));

    // The PLC goes away: its comms alarm.
    rt.block_on(sim.stop());
    c.wait_for("the comms alarm", |t| banner(t).contains("plc communications lost"));
    quit(&mut c);

    let j = f.journal();
    let me = ttyhmi::auth::current_user();
    let has = |key: &str, from: &str, to: &str| j.iter().any(|r| r.0 == key && r.1 == from && r.2 == to);
    assert!(has("P.hi", "normal", "unacknowledged"), "{j:#?}");
    assert!(j.iter().any(|r| r.0 == "P.hi" && r.2 == "acknowledged" && r.3 == me), "{j:#?}");
    assert!(has("plc.comms", "normal", "unacknowledged"), "{j:#?}");
    assert!(f.audit().contains(&("alarm_acknowledge".into(), "P.hi".into())), "{:#?}", f.audit());
    let (ok, out) = ttyhmi(&["audit", "verify", f.audit.to_str().unwrap()]);
    assert!(ok, "{out}");
}

#[test]
fn an_unacknowledged_alarm_and_a_shelve_survive_a_restart() {
    let dir = TempDir::new("alarm-restart");
    let (_rt, sim) = plant();
    let f = Files::new(&dir.0, sim.modbus_addr.port(), "engineer");
    let mut c = f.console(&dir.0, &[]);
    c.wait_for("the pressure alarm", |t| banner(t).contains("Header pressure high"));
    quit(&mut c);
    let raised = |f: &Files| f.journal().iter().filter(|r| r.0 == "P.hi" && r.2 == "unacknowledged").count();
    assert_eq!(raised(&f), 1);

    // A damaged line and a torn last line (a crash mid-write) are skipped; the rest is restored.
    let mut text = std::fs::read_to_string(&f.journal).unwrap();
    text.insert_str(0, "not json at all\n");
    text.push_str("{\"key\":\"P.hi\",\"alarm\":0,\"prio");
    std::fs::write(&f.journal, text).unwrap();

    // Restarted: still unacknowledged, from the journal (not raised a second time).
    let mut c = f.console(&dir.0, &[]);
    c.wait_for("the damaged lines reported", |t| t.contains("alarm journal: 2 damaged line(s) skipped"));
    c.wait_for("the restored alarm", |t| banner(t).contains("*HIGH") && banner(t).contains("Header pressure high"));
    c.wait_for("live values", |t| t.lines().any(|l| l.starts_with("COUNT") && l.chars().any(|c| c.is_ascii_digit())));
    assert_eq!(raised(&f), 1, "{:#?}", f.journal());

    // An engineer shelves it for 10 minutes.
    c.send(b"a");
    c.wait_for("the alarm list", |t| t.contains("P.hi"));
    c.send(b"s");
    c.wait_for("the shelve dialog", |t| t.contains("Shelve alarm"));
    c.send(b"\x7f\x7f10m\r");
    c.wait_for("the reason field", |t| t.contains("reason    _"));
    c.send(b"transmitter check\r");
    let t = c.wait_for("shelved", |t| t.contains("P.hi: shelved for 10m"));
    assert!(banner(&t).contains("shv 1") || banner(&t).contains("shelved 1"), "{}", banner(&t));
    quit(&mut c);

    // Restarted again: still shelved.
    let mut c = f.console(&dir.0, &[]);
    c.send(b"a");
    c.wait_for("the shelved list count", |t| t.contains("Shelved 1") && banner(t).contains("no active alarms"));
    c.send(b"v");
    let t = c.wait_for("the shelved alarm with who and why", |t| t.contains("transmitter check"));
    assert!(t.contains(&format!("shelved by {}", ttyhmi::auth::current_user())), "{t}");
    quit(&mut c);
    assert!(f.audit().contains(&("alarm_shelve".into(), "P.hi".into())));
}

#[test]
fn a_read_only_console_looks_but_does_not_acknowledge() {
    let dir = TempDir::new("alarm-ro");
    let (_rt, sim) = plant();
    let f = Files::new(&dir.0, sim.modbus_addr.port(), "admin");
    let mut c = f.console(&dir.0, &["--read-only"]);
    c.wait_for("the pressure alarm", |t| banner(t).contains("Header pressure high"));
    c.send(b"a");
    c.wait_for("the alarm list", |t| t.contains("Active 1") && t.contains("UNACK"));
    for key in [&b" "[..], b"A", b"s", b"o"] {
        c.send(key);
        c.wait_for("refused", |t| t.contains("read-only console: alarms can be looked at here"));
    }
    let t = c.text();
    assert!(t.contains("UNACK") && !t.contains("Shelve alarm"), "{t}");
    quit(&mut c);
    assert!(!f.journal().iter().any(|r| r.2 == "acknowledged"));
    // Each refusal is on record, and nothing else was done to an alarm.
    let audit = f.audit();
    let alarm_records: Vec<&str> = audit.iter().filter(|r| r.0.starts_with("alarm_")).map(|r| r.0.as_str()).collect();
    assert_eq!(alarm_records, ["alarm_denied"; 4], "{audit:?}");
}
