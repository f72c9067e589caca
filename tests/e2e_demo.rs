//! End to end: the real binary (`ttyhmi demo`) in a pseudo-terminal. Live values change on the
//! screen; `q` (or SIGTERM, or SIGHUP) ends it and the terminal is restored: main screen, cursor
//! shown, canonical mode and echo back on.

mod common;

use common::{Console, TempDir};

/// `ttyhmi demo` with its folders in a temporary folder (kept until the test ends).
fn demo(tag: &str) -> (Console, TempDir) {
    let dir = TempDir::new(&format!("demo-{tag}"));
    (Console::start(&dir.0, &["demo"]), dir)
}

/// The row whose tag is `name`.
fn row(text: &str, name: &str) -> Option<String> {
    text.lines().find(|l| l.starts_with(&format!("{name} "))).map(|l| l.to_string())
}

#[test]
fn demo_shows_live_values_and_q_restores_the_terminal() {
    let (mut c, _dir) = demo("q");
    let first = c.wait_for("the overview with a counter value", |t| {
        row(t, "COUNT").is_some_and(|r| r.chars().any(|ch| ch.is_ascii_digit())) && t.contains("plc1 up")
    });
    let count0 = row(&first, "COUNT").unwrap();
    c.wait_for("the counter to change", |t| row(t, "COUNT").is_some_and(|r| r != count0));
    assert!(first.contains("Boiler house"), "title shown:\n{first}");
    assert!(first.contains("1 Overview"), "screen tabs shown:\n{first}");

    // Help and diagnostics open and close.
    c.send(b"?");
    c.wait_for("the help screen", |t| t.contains(" Help ") && t.contains("go to screen 1-9"));
    c.send(b"x");
    c.wait_for("help closed", |t| !t.contains("go to screen 1-9"));
    c.send(b"d");
    c.wait_for("diagnostics", |t| t.contains("Read plan") && t.contains("Modicon"));

    c.quit();
    let status = c.wait_exit();
    assert!(status.success(), "exit status {status}");
    c.assert_restored();
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    for (tag, sig) in [("term", nix::sys::signal::Signal::SIGTERM), ("hup", nix::sys::signal::Signal::SIGHUP)] {
        let (mut c, _dir) = demo(tag);
        c.wait_for("the overview", |t| t.contains("plc1 up"));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.child.id() as i32), sig).unwrap();
        let status = c.wait_exit();
        assert!(status.success(), "{sig}: exit status {status}");
        c.assert_restored();
    }
}

/// The demo's audit log (its own, apart from a real plant's).
fn demo_audit(dir: &TempDir) -> Vec<serde_json::Value> {
    let path = dir.0.join("state").join("ttyhmi").join("demo").join("audit.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

#[test]
fn every_way_out_is_on_record_with_its_reason() {
    // Issue 12 D.20: a dropped SSH connection (the terminal gone, then SIGHUP) left no
    // console_stop record.
    let cases = [
        ("hangup", "terminal lost|SIGHUP"),
        ("stalled", "terminal lost|SIGHUP"),
        ("sigterm", "SIGTERM"),
        ("quit", "q"),
    ];
    for (tag, how) in cases {
        let (mut c, dir) = demo(tag);
        c.wait_for("the overview", |t| t.contains("plc1 up"));
        match tag {
            "hangup" => c.hang_up(false),
            "stalled" => c.hang_up(true),
            "sigterm" => {
                let pid = nix::unistd::Pid::from_raw(c.child.id() as i32);
                nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
            }
            _ => c.quit(),
        }
        // A terminal that is gone costs neither the record nor a clean exit (it was a panic).
        assert!(c.wait_exit().success(), "{tag}");
        let records = demo_audit(&dir);
        let last = records.last().expect("records");
        assert_eq!(last["action"], "console_stop", "{tag}: {records:#?}");
        let result = last["result"].as_str().unwrap_or_default();
        assert!(how.split('|').any(|h| result.starts_with(h)), "{tag}: stopped by {result:?}");
        assert_eq!(records.iter().filter(|r| r["action"] == "console_start").count(), 1, "{tag}");
    }
}

#[test]
fn esc_never_leaves_the_console_and_q_asks_first() {
    let (mut c, _dir) = demo("esc");
    c.wait_for("the overview", |t| t.contains("plc1 up"));
    for _ in 0..3 {
        c.esc();
    }
    c.pump(std::time::Duration::from_millis(300));
    assert!(c.alive(), "Esc on a plain screen left the console");
    c.send(b"q");
    c.wait_for("the question", |t| t.contains("Quit the console? y/n"));
    c.send(b"n");
    c.wait_for("the question gone", |t| !t.contains("Quit the console?"));
    assert!(c.alive(), "n stays");
    c.send(b"qq");
    assert!(c.wait_exit().success(), "q twice quits");
}

#[test]
fn an_accepted_host_name_mismatch_is_on_record_and_in_the_diagnostics() {
    // Issue 12 B.14: the exception is audited and shown.
    let dir = TempDir::new("mismatch");
    let layout = dir.0.join("ua.yaml");
    std::fs::write(
        &layout,
        "connections:\n  ua1:\n    opcua:\n      endpoint: opc.tcp://127.0.0.1:1\n      security: { policy: Basic256Sha256, mode: SignAndEncrypt }\n      accept_host_name_mismatch: true\ntags:\n  T: { source: ua1, node: \"ns=2;s=T\" }\n",
    )
    .unwrap();
    let audit = dir.0.join("audit.jsonl");
    let mut c = Console::start(&dir.0, &["run", layout.to_str().unwrap(), "--audit", audit.to_str().unwrap()]);
    c.wait_for("the console", |t| t.contains("ua1"));
    c.send(b"d");
    let t = c.wait_for("the diagnostics", |t| t.contains("Read plan"));
    let joined: String = t.lines().map(str::trim_end).collect::<Vec<_>>().join(" ");
    assert!(joined.contains("ua1: accepts a server certificate that does not name its host"), "{t}");
    c.quit();
    assert!(c.wait_exit().success());
    let text = std::fs::read_to_string(&audit).unwrap();
    let start: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(start["action"], "console_start");
    assert!(start["result"].as_str().is_some_and(|r| r.contains("ua1: accept_host_name_mismatch")), "{start}");
}

#[test]
fn alarms_of_an_earlier_demo_do_not_come_back() {
    // Issue 12 A.7: the demo's journal is its own and starts fresh.
    let dir = TempDir::new("demo-fresh");
    let journal = dir.0.join("state").join("ttyhmi").join("demo").join("alarms.jsonl");
    let mut c = Console::start(&dir.0, &["demo"]);
    c.wait_for("the cold start's low-pressure alarm", |t| t.contains("Header pressure low"));
    c.quit();
    assert!(c.wait_exit().success());
    let first = std::fs::read_to_string(&journal).unwrap();
    assert!(first.contains("P_101.lo"), "{first}");
    // A shelve forged into it would be ignored anyway; the next demo does not even read it.
    let mut c = Console::start(&dir.0, &["demo"]);
    c.wait_for("the demo", |t| t.contains("plc1 up"));
    c.quit();
    assert!(c.wait_exit().success());
    let log = std::fs::read_dir(dir.0.join("state").join("ttyhmi"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("ttyhmi.log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    let restored: Vec<&str> = log.lines().filter(|l| l.contains("alarms restored")).collect();
    assert_eq!(restored.len(), 2, "{log}");
    assert!(restored.iter().all(|l| l.contains(": 0 alarms restored")), "{restored:?}");
}
