//! Issue 12 A.1: a value is never cut silently. The longest value of every type, on a grid at
//! 80x24: numbers right-aligned with their sign and leading digits (shortened ones marked `~`),
//! text cut at its end with `…`, the full value on the detail line of the selected tag.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use ttyhmi::console::Console as State;
use ttyhmi::console::Msg;
use ttyhmi::console::update;
use ttyhmi::driver::{ConnectionState, DriverEvent};
use ttyhmi::layout::{self, ConnId};
use ttyhmi::tag::{Sample, TagId, Value};

mod common;
use common::tui::{render, row_text, screen};

const LAYOUT: &str = r#"
title: Longest values
connections:
  c: { modbus_tcp: { host: h } }
tags:
  U16:   { source: c, holding: 0, type: u16, description: largest u16 }
  I16:   { source: c, holding: 1, type: i16, description: smallest i16 }
  U32:   { source: c, holding: 2, type: u32, description: largest u32 }
  I32:   { source: c, holding: 4, type: i32, description: smallest i32 }
  U64:   { source: c, holding: 6, type: u64, description: largest u64 }
  I64:   { source: c, holding: 10, type: i64, units: L, description: smallest i64 }
  F32:   { source: c, holding: 14, type: f32, units: bar, description: most negative f32 }
  F64:   { source: c, holding: 16, type: f64, units: bar, decimals: 2, description: most negative f64 }
  F64D:  { source: c, holding: 20, type: f64, decimals: 6, units: m3, description: many decimals }
  BCD16: { source: c, holding: 24, type: bcd16, description: largest bcd16 }
  BCD32: { source: c, holding: 25, type: bcd32, description: largest bcd32 }
  BOOL:  { source: c, coil: 0, on_text: RUNNING FORWARD FAST, off_text: STOPPED, description: a long on text }
  TEXT:  { source: c, holding: 30, type: string, length: 40, description: a 40-character string }
  CLOCK: { source: c, holding: 60, type: string, length: 20, description: an OPC UA DateTime as shown }
  ARRAY: { source: c, holding: 80, type: string, length: 60, description: an OPC UA array as shown }
screens:
  - title: Values
    panels:
      - grid: { tags: [U16, I16, U32, I32, U64, I64, F32, F64, F64D, BCD16, BCD32, BOOL, TEXT, CLOCK, ARRAY] }
"#;

fn values() -> Vec<(&'static str, Value)> {
    vec![
        ("U16", Value::UInt(u16::MAX.into())),
        ("I16", Value::Int(i16::MIN.into())),
        ("U32", Value::UInt(u32::MAX.into())),
        ("I32", Value::Int(i32::MIN.into())),
        ("U64", Value::UInt(u64::MAX)),
        ("I64", Value::Int(i64::MIN)),
        ("F32", Value::Float(f32::MIN as f64)),
        ("F64", Value::Float(f64::MIN)),
        ("F64D", Value::Float(-123456789.123456)),
        ("BCD16", Value::UInt(9999)),
        ("BCD32", Value::UInt(99999999)),
        ("BOOL", Value::Bool(true)),
        ("TEXT", Value::Text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd".into())),
        ("CLOCK", Value::Text("2026-12-04 12:00:00Z".into())),
        ("ARRAY", Value::Text("[1.5, -2.25, 3.125, 4, 5, 6, 7, 8, … 100 in all]".into())),
    ]
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_443_400)
}

fn state() -> State {
    let l = layout::parse(LAYOUT, "longest.yaml").unwrap_or_else(|e| panic!("{e}"));
    let mut s = State::new(Arc::new(l), "alice".into(), true, now());
    s.utc_offset = time::UtcOffset::UTC;
    update(&mut s, Msg::Driver(DriverEvent::State { conn: ConnId(0), state: ConnectionState::Connected }), now());
    let samples: Vec<(TagId, Sample)> = values()
        .into_iter()
        .map(|(n, v)| (s.layout.tag_id(n).unwrap_or_else(|| panic!("{n}")), Sample::good(v, now())))
        .collect();
    update(&mut s, Msg::Driver(DriverEvent::Samples { conn: ConnId(0), samples, raw: None }), now());
    s
}

/// The value shown in a tag's row: the last run of text (separated by two spaces or more) before
/// the units, or before the age when the tag has no units.
fn shown_value(row: &str, units: &str) -> String {
    let before = if units.is_empty() {
        row.trim_end().rsplit_once(' ').map_or(row, |(a, _)| a)
    } else {
        row.rsplit_once(&format!(" {units} ")).map_or(row, |(a, _)| a)
    };
    before.trim_end().rsplit("  ").next().unwrap_or("").trim().to_string()
}

#[test]
fn the_longest_value_of_every_type_at_80x24_is_whole_or_visibly_shortened() {
    let s = state();
    let buf = render(&s, 80, 24);
    let rows: Vec<String> = (0..buf.area.height).map(|y| row_text(&buf, y)).collect();
    for (name, v) in values() {
        let tag = s.layout.tag(s.layout.tag_id(name).expect("a tag"));
        let full = tag.format(&v);
        let row = rows.iter().find(|r| r.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}"));
        let shown = shown_value(row, &tag.units);
        match v {
            Value::Text(_) | Value::Bool(_) => {
                let kept = shown.trim_end_matches('…');
                assert!(
                    full.starts_with(kept) && !kept.is_empty(),
                    "{name}: the start is kept: {shown:?} of {full:?} in {row:?}"
                );
                assert!(shown == full || shown.ends_with('…'), "{name}: cut at the end, marked: {shown:?} in {row:?}");
            }
            _ => {
                if shown != full {
                    assert!(shown.ends_with('~'), "{name}: shortened means marked: {shown:?} of {full} in {row:?}");
                    let back: f64 = shown.trim_end_matches('~').parse().unwrap_or_else(|_| panic!("{name}: {shown:?}"));
                    let exact = v.as_f64().expect("a number");
                    assert_eq!(back.is_sign_negative(), exact.is_sign_negative(), "{name}: the sign is kept: {shown}");
                    assert!((back - exact).abs() <= exact.abs() * 1e-3, "{name}: {shown} reads as {exact}");
                }
            }
        }
    }
    // The i64 of issue 12 (it read `34567890123456789`): whole at 80 columns.
    assert!(rows.iter().any(|r| r.contains("-9223372036854775808 L")), "{}", rows.join("\n"));
    insta::assert_snapshot!(rows.join("\n"));
}

#[test]
fn the_detail_line_shows_the_selected_value_in_full() {
    let mut s = state();
    let down = Msg::Key(KeyEvent {
        code: KeyCode::Down,
        modifiers: KeyModifiers::NONE,
        kind: KeyEventKind::Press,
        state: KeyEventState::NONE,
    });
    for (i, (name, v)) in values().into_iter().enumerate() {
        assert_eq!(s.selected, i);
        let tag = s.layout.tag(s.layout.tag_id(name).expect("a tag"));
        let full = ttyhmi::ui::format::with_units(tag, Some(&v));
        let out = screen(&s, 80, 24);
        let detail = out.lines().nth(22).unwrap_or_default();
        assert!(detail.starts_with(&format!("{name} = {full} · good")), "{name}: {detail:?}");
        update(&mut s, down.clone(), now());
    }
}

#[test]
fn a_narrow_terminal_shortens_numbers_and_never_drops_a_sign() {
    let s = state();
    for w in [40u16, 50, 60, 70] {
        let buf = render(&s, w, 24);
        for y in 0..buf.area.height {
            let row = row_text(&buf, y);
            for name in ["I16", "I32", "I64", "F32", "F64", "F64D"] {
                if row.starts_with(&format!("{name} ")) {
                    assert!(row.contains('-') || row.contains('#'), "{w} columns, {name}: the minus sign: {row:?}");
                }
            }
        }
    }
}
