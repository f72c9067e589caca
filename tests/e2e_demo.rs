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
    c.wait_for("the help screen", |t| t.contains("No single key writes to a device"));
    c.send(b"x");
    c.wait_for("help closed", |t| !t.contains("No single key writes"));
    c.send(b"d");
    c.wait_for("diagnostics", |t| t.contains("Read plan") && t.contains("Modicon"));

    c.send(b"q");
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
