//! Issue 12 B.12: no control character from a device, a server or someone else's layout reaches
//! a terminal. A PLC string holding ESC[2J, OSC 0 (window title), OSC 52 (clipboard), ESC c, CR,
//! BS and C1 CSI went through `ttyhmi watch` raw; the console passed bidi overrides (U+202E) and
//! zero-width characters, so `SAFE<U+202E>DENEPO<U+202C> VALVE` could read as "SAFE OPENED VALVE".

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ttyhmi::console::Console as State;
use ttyhmi::console::Msg;
use ttyhmi::console::update;
use ttyhmi::driver::{ConnectionState, DriverEvent};
use ttyhmi::layout::{self, ConnId};
use ttyhmi::sanitize::is_unsafe;
use ttyhmi::tag::{Reason, Sample, Value};

mod common;
use common::tui::{render, text};
use common::{BIN, TempDir, plant};

/// ESC[2J, OSC 0 title, OSC 52 clipboard, ESC c, CR, BS, C1 CSI: 40 bytes of a PLC string.
const PLC_BYTES: &[u8] = b"\x1b[2J\x1b]0;pwned\x07\x1b]52;c;eA==\x07\x1bcOK\rBAD\x08\x08\x9b2J";

/// Whether raw output holds a byte or character a terminal would act on.
fn unsafe_in(out: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(out);
    s.chars().find(|&c| c != '\n' && is_unsafe(c)).map(|c| format!("U+{:04X}", c as u32))
}

#[test]
fn watch_never_prints_a_devices_control_characters() {
    let dir = TempDir::new("hostile-watch");
    let (rt, sim) = plant();
    // The PLC's string, in the simulator's writable scratch registers (holding 500…).
    let mut bytes = PLC_BYTES.to_vec();
    bytes.resize(40, 0);
    let words: Vec<u16> = bytes.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]])).collect();
    sim.with_device(|d| d.write_holding(500, &words)).expect("scratch registers are writable");
    let layout = dir.0.join("hostile.yaml");
    let port = sim.modbus_addr.port();
    std::fs::write(
        &layout,
        format!(
            "connections:\n  plc: {{ modbus_tcp: {{ host: 127.0.0.1, port: {port} }}, poll: 100ms }}\n\
             tags:\n  NAME: {{ source: plc, holding: 500, type: string, length: 40 }}\n"
        ),
    )
    .unwrap();
    for json in [false, true] {
        let mut cmd = Command::new(BIN);
        cmd.args(["watch", layout.to_str().unwrap(), "--for", "1s"]).env("XDG_STATE_HOME", dir.0.join("state"));
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().expect("run watch");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(unsafe_in(&out.stdout), None, "json {json}: {:?}", String::from_utf8_lossy(&out.stdout));
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().find(|l| l.contains("NAME")).unwrap_or_else(|| panic!("a NAME line: {text}"));
        if json {
            // Exact for a program (the JSON escapes decode to the device's bytes), safe for a person.
            let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
            let got: Vec<u32> = v["value"].as_str().expect("text").chars().map(|c| c as u32).collect();
            let sent: Vec<u32> = PLC_BYTES.iter().map(|&b| u32::from(b)).collect();
            assert_eq!(got, sent, "{line}");
            assert!(line.contains("\\u001b[2J") && line.contains("\\u009b"), "{line}");
        } else {
            assert!(line.contains(r"\x1b[2J\x1b]0;pwned\x07") && line.contains(r"\x9b2J"), "{line}");
            assert!(line.contains(r"OK\rBAD\x08\x08"), "{line}");
        }
    }
    rt.block_on(sim.stop());
}

const LAYOUT: &str = r#"
title: "Plant \u202Eyako\u202C"
connections:
  plc: { modbus_tcp: { host: 127.0.0.1 } }
tags:
  VALVE: { source: plc, holding: 0, type: string, length: 20, description: "SAFE\u202EDENEPO\u202C VALVE", units: "\u200B\e[2J" }
  STATE: { source: plc, coil: 0, on_text: "OPEN\u2066", off_text: "SHUT", description: "zero\u200Dwidth" }
screens:
  - title: "Main\u202E"
    panels:
      - grid: { title: "Valves\u2067", tags: [VALVE, STATE] }
"#;

#[test]
fn the_console_shows_hostile_texts_escaped() {
    let l = layout::parse(LAYOUT, "hostile.yaml").unwrap_or_else(|e| panic!("{e}"));
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut s = State::new(Arc::new(l), "alice".into(), true, now);
    let values = [(0u32, Value::Text("\u{1b}]52;c;eA==\u{7}SAFE\u{202e}X".into())), (1, Value::Bool(true))];
    let samples = values.into_iter().map(|(i, v)| (ttyhmi::tag::TagId(i), Sample::good(v, now))).collect();
    update(&mut s, Msg::Driver(DriverEvent::Samples { conn: ConnId(0), samples, raw: None }), now);
    let down =
        ConnectionState::Disconnected { reason: "refused\u{1b}]0;x\u{7}\u{202e}".into(), retry_in: Duration::ZERO };
    update(&mut s, Msg::Driver(DriverEvent::State { conn: ConnId(0), state: down }), now);
    let bad = Sample::bad(Reason::Other("Bad_\u{202e}x\u{9b}".into()), now);
    update(
        &mut s,
        Msg::Driver(DriverEvent::Samples { conn: ConnId(0), samples: vec![(ttyhmi::tag::TagId(1), bad)], raw: None }),
        now,
    );
    for (w, h, key) in [(120u16, 30u16, None), (80, 24, Some('d')), (160, 40, Some('?'))] {
        let mut s = s.clone();
        if let Some(c) = key {
            let k = crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Char(c),
                crossterm::event::KeyModifiers::NONE,
            );
            update(&mut s, Msg::Key(k), now);
        }
        let buf = render(&s, w, h);
        let shown = text(&buf);
        let raw: Option<char> = buf.content().iter().flat_map(|c| c.symbol().chars()).find(|&c| is_unsafe(c));
        assert_eq!(raw, None, "{w}x{h} {key:?}:\n{shown}");
        if key.is_none() {
            assert!(shown.contains(r"SAFE\u{202e}DENEPO\u{202c} VALVE"), "{shown}");
            assert!(shown.contains(r"\x1b]52;c;eA==\x07SAFE\u{202e}X"), "{shown}");
        }
    }
}
