//! Issue 12 A.4 and A.9: every dialog fits, down to 60x20 — long lines wrap, the box grows, and
//! its input and key lines are always on screen (an OPC UA tag whose node id is as long as the
//! protocol allows, 4096 characters, hid them); and the confirmation shows the value the device
//! will hold, saying when it is not what was typed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use ttyhmi::console::Console as State;
use ttyhmi::console::update;
use ttyhmi::console::{Effect, Msg};
use ttyhmi::driver::{ConnectionState, DriverEvent, UaType, WireType};
use ttyhmi::layout::{self, ConnId};
use ttyhmi::session::write::Dialog;
use ttyhmi::tag::{Sample, Value};

mod common;
use common::tui::screen;

const PIN: &str = "975318";

fn layout_src() -> String {
    // As long as an OPC UA String identifier may be: 4096 characters.
    let node = format!("ns=2;s=Plant.{}.Pump1.Speed", "A".repeat(4096 - 18));
    assert_eq!(node.len() - "ns=2;s=".len(), 4096);
    format!(
        r#"
title: Dialogs
connections:
  plc1: {{ modbus_tcp: {{ host: 127.0.0.1 }} }}
  ua1:
    opcua: {{ endpoint: "opc.tcp://127.0.0.1:4840", security: none }}
tags:
  SPEED: {{ source: ua1, node: "{node}", units: rpm, description: Pump 1 speed setpoint of the long-named area, write: {{ role: operator, min: 0, max: 3000 }} }}
  SP:    {{ source: plc1, holding: 50, type: f32, units: bar, decimals: 2, description: Header pressure setpoint, write: {{ role: operator, min: 0, max: 12, max_step: 2 }} }}
  FLOW:  {{ source: plc1, holding: 60, type: u16, scale: {{ raw: [0, 65535], eu: [0, 65.535] }}, units: m3/h, decimals: 2, description: Flow setpoint, write: {{ role: operator, min: 0, max: 70 }} }}
"#
    )
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_443_400)
}

fn key(s: &mut State, code: KeyCode) -> Vec<Effect> {
    let k = KeyEvent { code, modifiers: KeyModifiers::NONE, kind: KeyEventKind::Press, state: KeyEventState::NONE };
    update(s, Msg::Key(k), now())
}

fn typed(s: &mut State, text: &str) {
    for c in text.chars() {
        key(s, KeyCode::Char(c));
    }
}

/// Both connections up, every tag Good (SPEED's node a Double, as its server says); an operator
/// with a PIN.
fn plant() -> State {
    let l = layout::parse(&layout_src(), "dialogs.yaml").unwrap_or_else(|e| panic!("{e}"));
    let person = ttyhmi::session::state::Person::viewer("alice", false)
        .with_identity(ttyhmi::auth::Identity::demo("alice", PIN).expect("a valid PIN"));
    let mut s = State::with(Arc::new(l), person, now());
    s.utc_offset = time::UtcOffset::UTC;
    for c in 0..2 {
        update(&mut s, Msg::Driver(DriverEvent::State { conn: ConnId(c), state: ConnectionState::Connected }), now());
    }
    for (name, v, conn) in
        [("SPEED", Value::Float(1200.0), 1), ("SP", Value::Float(4.5), 0), ("FLOW", Value::Float(12.5), 0)]
    {
        let id = s.layout.tag_id(name).expect("a tag");
        let e = DriverEvent::Samples { conn: ConnId(conn), samples: vec![(id, Sample::good(v, now()))], raw: None };
        update(&mut s, Msg::Driver(e), now());
    }
    let speed = s.layout.tag_id("SPEED").expect("a tag");
    let types = DriverEvent::DataTypes { conn: ConnId(1), types: vec![(speed, Ok(WireType::Ua(UaType::Double)))] };
    update(&mut s, Msg::Driver(types), now());
    s
}

fn select(s: &mut State, name: &str) {
    let id = s.layout.tag_id(name).expect("a tag");
    s.selected = s.visible_rows().iter().position(|r| *r == id).expect("shown");
}

/// The editor of `name` with `value` typed and Enter: the confirmation, PIN typed.
fn confirmation(name: &str, value: &str) -> State {
    let mut s = plant();
    select(&mut s, name);
    key(&mut s, KeyCode::Char('w'));
    typed(&mut s, value);
    key(&mut s, KeyCode::Enter);
    assert!(matches!(s.write_dialog(), Some(Dialog::Confirm(_))), "{:?}", s.write_dialog());
    typed(&mut s, PIN);
    s
}

fn editor(name: &str) -> State {
    let mut s = plant();
    select(&mut s, name);
    key(&mut s, KeyCode::Char('w'));
    typed(&mut s, "99999");
    key(&mut s, KeyCode::Enter);
    assert!(matches!(s.write_dialog(), Some(Dialog::Edit { error: Some(_), .. })), "{:?}", s.write_dialog());
    s
}

/// The input and key lines (and, for the confirmation, the change) are on screen.
fn assert_fits(out: &str, confirm: bool, what: &str) {
    if confirm {
        assert!(out.contains(&format!("PIN        {}_", "*".repeat(PIN.len()))), "{what}: the PIN field\n{out}");
        assert!(out.contains("Enter: WRITE") && out.contains("Esc: cancel"), "{what}: the key line\n{out}");
        assert!(out.contains("change"), "{what}: old → new\n{out}");
    } else {
        assert!(out.contains("new value  99999_"), "{what}: the input line\n{out}");
        assert!(out.contains("Enter: next") && out.contains("Esc: cancel"), "{what}: the key line\n{out}");
        assert!(out.contains("! "), "{what}: the error\n{out}");
    }
}

#[test]
fn the_write_dialogs_fit_at_60x20_and_80x24_with_the_longest_node_id() {
    for (w, h) in [(60u16, 20u16), (80, 24)] {
        for name in ["SPEED", "SP"] {
            let confirm = confirmation(name, if name == "SPEED" { "1500" } else { "5.5" });
            let out = screen(&confirm, w, h);
            assert_fits(&out, true, &format!("{name} confirmation at {w}x{h}"));
            if name == "SPEED" {
                // The node id keeps its start and its end.
                assert!(out.contains("ns=2;s=Plant.AAAA") && out.contains("Pump1.Speed"), "{out}");
                insta::assert_snapshot!(format!("opcua_confirm_{w}x{h}"), out);
            }
            let out = screen(&editor(name), w, h);
            assert_fits(&out, false, &format!("{name} editor at {w}x{h}"));
            if name == "SPEED" {
                insta::assert_snapshot!(format!("opcua_editor_{w}x{h}"), out);
            }
        }
    }
}

#[test]
fn the_dialogs_keep_their_key_line_at_every_size() {
    let s = confirmation("SPEED", "1500");
    for w in 20..=120u16 {
        for h in [10u16, 12, 16, 20, 24, 40] {
            let out = screen(&s, w, h);
            if h >= 16 {
                assert!(out.contains("Esc: cancel") || out.contains("Esc:"), "{w}x{h}\n{out}");
            }
        }
    }
}

#[test]
fn the_confirmation_shows_what_the_device_will_hold() {
    // Issue 12 A.9: 65.5354 was confirmed as 65.5354 and sent as FFFF (65.535); 0.0004 as 0.
    for (typed, held, words) in [("65.5354", "65.535", "FFFF"), ("0.0004", "0", "0000")] {
        let mut s = confirmation("FLOW", typed);
        let out = screen(&s, 80, 24);
        assert!(out.contains(&format!("you typed {typed}: the device will hold {held} m3/h")), "{out}");
        assert!(out.contains(&format!("12.50 → {held} m3/h")), "{out}");
        assert!(out.contains(&format!("FC06 holding 60 ← {words}")), "{out}");
        let effects = key(&mut s, KeyCode::Enter);
        let [Effect::Write(w)] = effects.as_slice() else { panic!("{effects:?}") };
        let held_value: f64 = held.parse().expect("a number");
        assert_eq!(w.plan.expected(), &Value::Float(held_value), "what is sent is what was confirmed");
        assert!(w.audit.raw.as_ref().and_then(|r| r.as_str()).is_some_and(|r| r.contains(&format!("typed {typed}"))));
    }
    // A value the register holds exactly says nothing more.
    let s = confirmation("FLOW", "12.345");
    let out = screen(&s, 80, 24);
    assert!(!out.contains("you typed"), "{out}");
}
