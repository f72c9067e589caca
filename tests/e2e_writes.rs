//! End to end, writes: the real binary in a pseudo-terminal.
//!
//! - `run --read-only` (as a user the users file makes an admin with a PIN) and `run` as a viewer:
//!   every key on every screen, many times, shuffled, with the key sequences that complete a write
//!   mixed in; the in-process simulator receives reads and **zero** write function codes. A control
//!   run without `--read-only` shows that the same key sequence does write.
//! - `ttyhmi demo`: the whole write flow (editor, PIN, readback), Esc cancelling at each step, and
//!   a value beyond the largest step refused; the audit log records it all and verifies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ttyhmi::sim::SimHandle;

mod common;

use common::{Console, TempDir, plant, ttyhmi, users_file};

/// Modbus function codes that write: 05, 06, 0F, 10, 16, 17.
const WRITE_FCS: [u8; 6] = [0x05, 0x06, 0x0F, 0x10, 0x16, 0x17];

fn after(text: &str, name: &str) -> Option<String> {
    let key = format!("{name} ");
    text.lines().find_map(|l| l.find(&key).map(|i| l[i + key.len()..].to_string()))
}

fn has_value(text: &str, name: &str) -> bool {
    after(text, name).is_some_and(|r| r.chars().any(|c| c.is_ascii_digit()))
}

fn writes(counts: &BTreeMap<u8, u64>) -> BTreeMap<u8, u64> {
    counts.iter().filter(|(fc, _)| WRITE_FCS.contains(fc)).map(|(fc, n)| (*fc, *n)).collect()
}

/// The `action` of every record, with its tag and result.
fn audit_actions(path: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
            (s("action"), s("tag"), s("result"))
        })
        .collect()
}

fn audit_verifies(path: &Path) {
    let (ok, out) = ttyhmi(&["audit", "verify", path.to_str().unwrap()]);
    assert!(ok, "audit verify failed:\n{out}");
}

/// Two screens of writable tags of every Modbus kind, and some read-only ones.
fn write_layout(dir: &Path, port: u16) -> PathBuf {
    let src = format!(
        "title: Write storm\n\
         connections:\n  plc: {{ modbus_tcp: {{ host: 127.0.0.1, port: {port}, unit: 1 }}, timeout: 1s, poll: 100ms }}\n\
         tags:\n\
         \x20 SP: {{ source: plc, holding: 30, type: f32, units: bar, decimals: 2, description: Pressure setpoint, write: {{ role: operator, min: 0, max: 12, max_step: 2 }} }}\n\
         \x20 TSP: {{ source: plc, holding: 32, type: f32, units: degC, decimals: 1, description: Temperature setpoint, write: {{ role: engineer, min: 0, max: 250 }} }}\n\
         \x20 DEMAND: {{ source: plc, holding: 34, type: u16, units: \"%\", description: Steam demand, write: {{ role: operator, min: 0, max: 150 }} }}\n\
         \x20 PUMP: {{ source: plc, coil: 0, on_text: START, off_text: STOP, description: Pump 1 run, write: {{ role: operator }} }}\n\
         \x20 SCRATCH: {{ source: plc, coil: 16, description: Scratch coil, write: {{ role: operator }} }}\n\
         \x20 BIT: {{ source: plc, holding: 509, bit: 5, description: Scratch bit, write: {{ role: operator }} }}\n\
         \x20 WORD: {{ source: plc, holding: 500, type: u16, description: Scratch word, write: {{ role: admin }} }}\n\
         \x20 COUNT: {{ source: plc, holding: 100, type: u16, description: Scan counter }}\n\
         \x20 P: {{ source: plc, holding: 1, type: f32, units: bar, decimals: 2, description: Header pressure }}\n\
         screens:\n\
         \x20 - title: One\n\
         \x20   panels:\n\
         \x20     - grid: {{ title: Setpoints, tags: [SP, PUMP, BIT, TSP] }}\n\
         \x20     - grid: {{ title: Live, tags: [COUNT, P] }}\n\
         \x20 - title: Two\n\
         \x20   panels:\n\
         \x20     - grid: {{ title: More, tags: [DEMAND, SCRATCH, WORD, SP, COUNT] }}\n"
    );
    let path = dir.join("layout.yaml");
    std::fs::write(&path, src).unwrap();
    let (ok, out) = ttyhmi(&["check", path.to_str().unwrap()]);
    assert!(ok, "the test layout is valid:\n{out}");
    path
}

/// A small fixed-seed generator (xorshift64*), for a shuffled but repeatable key order.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Bytes to press, then maybe a lone Esc.
struct Step {
    bytes: Vec<u8>,
    esc: bool,
}

fn keys(bytes: impl Into<Vec<u8>>) -> Step {
    Step { bytes: bytes.into(), esc: false }
}

fn then_esc(bytes: impl Into<Vec<u8>>) -> Step {
    Step { bytes: bytes.into(), esc: true }
}

/// From any state (editor or confirmation open, a filter typed or kept, help, diagnostics) to
/// the plain screen without ever quitting: `//` then Esc, three times. `//` closes help, starts
/// (or goes on typing) a filter, or types into an open dialog; the Esc then cancels the dialog,
/// clears the filter or leaves diagnostics, never meets a plain screen.
fn normalize() -> Vec<Step> {
    (0..3).map(|_| then_esc(*b"//")).collect()
}

fn to_screen(n: u8) -> Vec<Step> {
    let mut v = normalize();
    v.push(keys([b'0' + n]));
    v
}

/// Every key a terminal can send, except the quitting ones (q, Esc, Ctrl-C; Alt-q is q to the
/// console) and the Alt-prefixes that start escape sequences (Alt-[, Alt-O).
fn every_key() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = (b' '..=b'~').filter(|&c| c != b'q').map(|c| vec![c]).collect();
    let specials = [
        "\r",
        "\t",
        "\x1b[Z",
        "\x7f",
        "\x08",
        "\x00", // Enter, Tab, BackTab, Backspace, Ctrl-H, Ctrl-Space
        "\x1b[A",
        "\x1b[B",
        "\x1b[C",
        "\x1b[D",
        "\x1bOA",
        "\x1bOB",
        "\x1bOC",
        "\x1bOD", // arrows
        "\x1b[5~",
        "\x1b[6~",
        "\x1b[H",
        "\x1b[F",
        "\x1bOH",
        "\x1bOF",
        "\x1b[1~",
        "\x1b[4~",
        "\x1b[2~",
        "\x1b[3~",
        "\x1bOP",
        "\x1bOQ",
        "\x1bOR",
        "\x1bOS",
        "\x1b[15~",
        "\x1b[17~",
        "\x1b[18~",
        "\x1b[19~",
        "\x1b[20~",
        "\x1b[21~",
        "\x1b[23~",
        "\x1b[24~", // F1..F12
        "\x1b[1;2A",
        "\x1b[1;5B",
        "\x1b[1;3C",
        "\x1b[1;5D",
        "\x1b[1;5H",
        "\x1b[1;2F",
        "\x1b[5;5~",
        "\x1b[6;2~",
        "\x1b[3;5~",
        "\x1b[1;2P",
        "\x1b[15;5~",
        "\x1b[24;2~", // with Shift, Ctrl, Alt
    ];
    keys.extend(specials.iter().map(|s| s.as_bytes().to_vec()));
    // Ctrl-A..Ctrl-Z but Ctrl-C, and Ctrl-\ ] ^ _
    keys.extend((1u8..=26).filter(|&c| c != 3).chain(0x1c..=0x1f).map(|c| vec![c]));
    // Alt + letters, digits and a few others.
    let alt = (b'a'..=b'z').chain(b'A'..=b'Z').chain(b'0'..=b'9').chain(*b"/?\r\t ");
    keys.extend(alt.filter(|c| !b"qOP".contains(c)).map(|c| vec![0x1b, c]));
    keys
}

/// A key sequence that would write if writing were possible: go to screen `screen`, select row
/// `row`, `w` or Enter, a value, Enter, the PIN, Enter (as the control run shows).
fn write_attempt(screen: u8, row: usize, seq: &str) -> Vec<Step> {
    let mut v = to_screen(screen);
    v.push(keys([vec![b'j'; row], seq.as_bytes().to_vec()].concat()));
    v
}

fn press(c: &mut Console, steps: &[Step]) {
    for s in steps {
        c.send(&s.bytes);
        if s.esc {
            c.esc();
        }
    }
}

/// Every key on every screen (and on help, diagnostics, the filter, which the keys open),
/// shuffled with a fixed seed, many times, with write attempts on every writable row, Esc where
/// it does not quit, and `q` typed into the filter mixed in.
fn storm(c: &mut Console, seed: u64) -> usize {
    let mut rng = Rng(seed);
    let mut pressed = 0;
    for round in 0..2 {
        let sequences: [&str; 2] =
            if round == 0 { ["w9\r1234\r", "w1\r1234\r"] } else { ["\r9\r1234\r", "\ron\r1234\r"] };
        for screen in 1..=2u8 {
            let mut units: Vec<Vec<Step>> = Vec::new();
            for _ in 0..2 {
                units.extend(every_key().into_iter().map(|k| vec![keys(k)]));
            }
            for row in 0..4 {
                units.extend(sequences.iter().map(|seq| write_attempt(screen, row, seq)));
            }
            for _ in 0..2 {
                // Esc closing help.
                units.push([normalize(), vec![then_esc(*b"?")]].into_iter().flatten().collect());
                // q typed into a filter, then removed.
                units.push([normalize(), vec![keys(*b"/q\x7f\r")]].into_iter().flatten().collect());
            }
            rng.shuffle(&mut units);
            press(c, &to_screen(screen));
            for (i, u) in units.iter().enumerate() {
                press(c, u);
                pressed += u.len();
                if i % 16 == 0 {
                    c.pump(Duration::from_millis(5));
                }
            }
            c.pump(Duration::from_millis(100));
            assert!(c.alive(), "the console quit during round {round} on screen {screen}; screen:\n{}", c.text());
        }
    }
    pressed
}

/// Starts the console on the plant, waits for live values, storms it and quits with q.
fn storm_console(dir: &Path, args: &[&str], sim: &SimHandle, check: impl Fn(&mut Console)) -> String {
    let mut c = Console::start(dir, args);
    c.wait_for("live values", |t| t.contains("plc up") && has_value(t, "COUNT") && has_value(t, "SP"));
    check(&mut c);
    let reads_before = sim.function_counts().get(&3).copied().unwrap_or(0);
    let pressed = storm(&mut c, 0x5EED_0004);
    assert!(pressed > 1000, "{pressed} key sequences pressed");
    let during = c.text();
    press(&mut c, &normalize());
    c.quit();
    let status = c.wait_exit();
    assert!(status.success(), "exit status {status}");
    let counts = sim.function_counts();
    assert!(counts.get(&3).copied().unwrap_or(0) > reads_before, "holding registers were read: {counts:?}");
    assert!(counts.get(&1).copied().unwrap_or(0) > 0, "coils were read: {counts:?}");
    assert_eq!(writes(&counts), BTreeMap::new(), "no write function code reached the device: {counts:?}");
    during
}

#[test]
fn read_only_console_sends_no_write_whatever_is_pressed() {
    let dir = TempDir::new("ro");
    let (rt, sim) = plant();
    let layout = write_layout(&dir.0, sim.modbus_addr.port());
    // The user is an admin with a PIN: only --read-only stands between the keys and the device.
    let users = users_file(&dir.0, "viewer", Some("admin"));
    let (_, who) = ttyhmi(&["whoami", "--users", users.to_str().unwrap()]);
    assert!(who.contains(": admin"), "the users file is trusted and makes the user an admin: {who}");
    let audit = dir.0.join("audit.jsonl");
    let (layout_s, users_s, audit_s) = (layout.to_str().unwrap(), users.to_str().unwrap(), audit.to_str().unwrap());
    let args = ["run", layout_s, "--read-only", "--users", users_s, "--audit", audit_s];
    storm_console(&dir.0, &args, &sim, |c| {
        let t = c.wait_for("READ-ONLY in the status bar", |t| t.contains("READ-ONLY"));
        assert!(t.contains("(admin)"), "the user is shown as admin:\n{t}");
        c.send(b"w");
        c.wait_for("writing refused", |t| t.contains("writing is disabled: read-only"));
    });
    audit_verifies(&audit);
    let actions = audit_actions(&audit);
    assert!(actions.iter().any(|(a, _, _)| a == "read_only_start"), "read_only_start recorded: {actions:?}");
    assert!(!actions.iter().any(|(a, _, _)| a == "write_attempt"), "no write attempt recorded: {actions:?}");
    assert!(!actions.iter().any(|(a, _, _)| a == "pin_failure" || a == "lockout"), "no PIN asked: {actions:?}");

    // Control: without --read-only the write sequence of the storm writes (one FC16 to the setpoint).
    let control = ["run", layout_s, "--users", users_s, "--audit", audit_s];
    let mut c = Console::start(&dir.0, &control);
    c.wait_for("live values", |t| t.contains("plc up") && has_value(t, "SP"));
    assert!(!c.text().contains("READ-ONLY"));
    c.send(b"w9\r1234\r");
    c.wait_for("the control write", |t| t.contains("written and read back"));
    c.quit();
    assert!(c.wait_exit().success());
    assert_eq!(writes(&sim.function_counts()), BTreeMap::from([(0x10, 1)]), "the control write is one FC16");
    audit_verifies(&audit);
    rt.block_on(sim.stop());
}

#[test]
fn viewer_console_sends_no_write_whatever_is_pressed() {
    let dir = TempDir::new("viewer");
    let (rt, sim) = plant();
    let layout = write_layout(&dir.0, sim.modbus_addr.port());
    let users = users_file(&dir.0, "viewer", None);
    let (_, who) = ttyhmi(&["whoami", "--users", users.to_str().unwrap()]);
    assert!(who.contains("viewer (default_role of users file"), "the users file is trusted: {who}");
    let audit = dir.0.join("audit.jsonl");
    let args =
        ["run", layout.to_str().unwrap(), "--users", users.to_str().unwrap(), "--audit", audit.to_str().unwrap()];
    let me = ttyhmi::auth::current_user();
    let during = storm_console(&dir.0, &args, &sim, |c| {
        let t = c.text();
        assert!(t.contains(&format!("{me} (viewer)")), "status bar shows the viewer:\n{t}");
        assert!(!t.contains("READ-ONLY"), "not started read-only:\n{t}");
        c.send(b"w");
        c.wait_for("writing refused for a viewer", |t| t.contains(&format!("writing is disabled: {me} is a viewer")));
    });
    assert!(during.contains(&format!("{me} (viewer)")), "still a viewer after the storm:\n{during}");
    audit_verifies(&audit);
    let actions = audit_actions(&audit);
    assert!(actions.iter().any(|(a, _, _)| a == "console_start"), "console_start recorded: {actions:?}");
    assert!(!actions.iter().any(|(a, _, _)| a == "read_only_start"), "{actions:?}");
    assert!(!actions.iter().any(|(a, _, _)| a == "write_attempt"), "no write attempt recorded: {actions:?}");
    rt.block_on(sim.stop());
}

#[test]
fn demo_write_flow_with_pin_cancel_and_step_limit() {
    let dir = TempDir::new("demo");
    let mut c = Console::start(&dir.0, &["demo"]);
    c.wait_for("the demo with a setpoint value and the demo PIN", |t| {
        t.contains("plc1 up") && has_value(t, "PIC_101_SP") && t.contains("demo PIN 1234")
    });
    c.send(b"j");
    c.pump(Duration::from_millis(100));

    // Esc in the editor cancels.
    c.send(b"w");
    c.wait_for("the editor", |t| t.contains("Write: new value") && t.contains("PIC_101_SP"));
    c.esc();
    c.wait_for("cancelled in the editor", |t| {
        !t.contains("Write: new value") && t.contains("write to PIC_101_SP cancelled; nothing was written")
    });
    // Esc in the confirmation cancels.
    c.send(b"w9\r");
    c.wait_for("the confirmation", |t| t.contains("Write: confirm") && t.contains("PIN"));
    c.send(b"12");
    c.pump(Duration::from_millis(100));
    c.esc();
    c.wait_for("cancelled at the confirmation", |t| !t.contains("Write: confirm") && t.contains("nothing was written"));
    assert!(c.alive(), "Esc in a dialog does not quit");

    // The write: 8 → 9 bar, PIN, readback.
    c.send(b"w");
    c.wait_for("the editor", |t| t.contains("Write: new value"));
    c.send(b"9\r");
    c.wait_for("the confirmation", |t| t.contains("Write: confirm") && t.contains("FC16 holding 30"));
    c.send(b"1234\r");
    let t = c.wait_for("written and read back", |t| t.contains("written and read back"));
    assert!(t.contains("PIC_101_SP = 9.00 bar"), "{t}");

    // 6.5 is within the limits but more than the largest step (2) from 9.
    c.send(b"w");
    c.wait_for("the editor", |t| t.contains("Write: new value"));
    c.send(b"6.5\r");
    let t = c.wait_for("the step error", |t| t.contains("more than the largest step 2"));
    assert!(t.contains("Write: new value"), "still in the editor:\n{t}");
    c.esc();
    c.wait_for("cancelled", |t| !t.contains("Write: new value") && t.contains("nothing was written"));
    c.wait_for("the setpoint still 9", |t| after(t, "PIC_101_SP").is_some_and(|r| r.contains("9.00")));
    c.quit();
    assert!(c.wait_exit().success());

    // The demo's own audit log.
    let audit = dir.0.join("state").join("ttyhmi").join("demo").join("audit.jsonl");
    let audit_s = audit.to_str().unwrap();
    audit_verifies(&audit);
    let (ok, tail) = ttyhmi(&["audit", "tail", audit_s]);
    assert!(ok, "{tail}");
    assert!(tail.contains("write_attempt PIC_101_SP"), "tail lists the attempt:\n{tail}");
    assert!(
        tail.lines().any(|l| l.contains("write_result PIC_101_SP") && l.trim_end().ends_with("ok")),
        "tail lists the result ok:\n{tail}"
    );
    let actions = audit_actions(&audit);
    let of = |a: &str| actions.iter().filter(|(x, tag, _)| x == a && tag == "PIC_101_SP").collect::<Vec<_>>();
    assert_eq!(of("write_attempt").len(), 1, "one attempt, none for the refused step: {actions:?}");
    assert_eq!(of("write_result").iter().map(|r| r.2.as_str()).collect::<Vec<_>>(), ["ok"], "{actions:?}");
    let denied = of("write_denied");
    assert!(denied.iter().any(|r| r.2.contains("largest step")), "the step refusal recorded: {actions:?}");
    assert!(!actions.iter().any(|(a, _, _)| a == "pin_failure"), "{actions:?}");
}
