//! Snapshots of trend and bar panels and grid sparklines with fixed data and an injected clock,
//! at 80x24 and wider, in colour and without; plus the bad input of the issue: empty history, a
//! clock jumping backwards. Regenerate with `INSTA_UPDATE=always cargo test --test ui_trends`,
//! then read every changed `.snap` file before committing it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};

use ttyhmi::console::Console as State;
use ttyhmi::console::Msg;
use ttyhmi::console::update;
use ttyhmi::driver::DriverEvent;
use ttyhmi::layout::{self, ConnId};
use ttyhmi::tag::{Reason, Sample, Value};

mod common;

use common::tui::{assert_same_without_colour, screen};

const LAYOUT: &str = r#"
title: Boiler house
connections:
  plc1: { modbus_tcp: { host: 127.0.0.1 } }
tags:
  P_101:      { source: plc1, holding: 1, type: f32, units: bar, decimals: 2, description: Header pressure }
  PIC_101_SP: { source: plc1, holding: 30, type: f32, units: bar, decimals: 2, description: Pressure setpoint }
  LT_201:     { source: plc1, input: 3, type: u16, scale: { raw: [0, 1000], eu: [0, 100] }, units: "%", decimals: 1, description: Tank 1 level }
alarms:
  LT_201:
    hi: { limit: 90, priority: medium }
    lo: { limit: 10, priority: low }
screens:
  - title: Trends
    panels:
      - trend: { title: Pressure, pens: [P_101, { tag: PIC_101_SP, range: [0, 16] }], window: 10m }
      - bar: { tag: LT_201, normal: [20, 80] }
      - bar: { title: Pressure, tag: P_101, range: [0, 16], normal: [6, 10] }
  - title: Grid
    panels:
      - grid: { tags: [P_101, LT_201], sparklines: true }
"#;

/// 2025-11-29 19:10:00 UTC.
const NOW_SECS: u64 = 1_764_443_400;

fn at(secs_before_now: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_SECS - secs_before_now)
}

fn send(s: &mut State, name: &str, sample: Sample) {
    let id = s.layout.tag_id(name).unwrap_or_else(|| panic!("no tag {name}"));
    let t = sample.recv_ts;
    let e = DriverEvent::Samples { conn: ConnId(0), samples: vec![(id, sample)], raw: None };
    update(s, Msg::Driver(e), t);
}

fn key(s: &mut State, code: KeyCode) {
    let k = KeyEvent { code, modifiers: KeyModifiers::NONE, kind: KeyEventKind::Press, state: KeyEventState::NONE };
    let now = s.now;
    update(s, Msg::Key(k), now);
}

/// Ten minutes of a pressure rising from 0 towards 8 bar with one spike and a 60 s Bad span; the
/// setpoint stepped from 8 to 10 five minutes ago; the level at 45.6 % then 92 %.
fn plant(color: bool) -> State {
    let layout = layout::parse(LAYOUT, "boiler.yaml").unwrap_or_else(|e| panic!("{e}"));
    let mut s = State::new(Arc::new(layout), "eve".into(), false, at(700));
    s.utc_offset = time::UtcOffset::UTC;
    s.color = color;
    send(&mut s, "PIC_101_SP", Sample::good(Value::Float(8.0), at(650)));
    for i in (0..=600u64).rev().step_by(2) {
        let secs = 600 - i;
        if (300..360).contains(&secs) {
            if secs == 300 {
                send(&mut s, "P_101", Sample::bad(Reason::Timeout, at(i)));
            }
            continue;
        }
        let mut v = 8.0 * (1.0 - (-(secs as f64) / 120.0).exp());
        if secs == 200 {
            v = 15.0;
        }
        send(&mut s, "P_101", Sample::good(Value::Float(v), at(i)));
    }
    send(&mut s, "PIC_101_SP", Sample::good(Value::Float(10.0), at(300)));
    send(&mut s, "LT_201", Sample::good(Value::Float(45.6), at(500)));
    send(&mut s, "LT_201", Sample::good(Value::Float(92.0), at(100)));
    update(&mut s, Msg::Tick, at(0));
    s
}

#[test]
fn trend_and_bars_80x24() {
    insta::assert_snapshot!(screen(&plant(true), 80, 24));
}

#[test]
fn trend_and_bars_140x40() {
    insta::assert_snapshot!(screen(&plant(true), 140, 40));
}

#[test]
fn no_color_is_the_same_text_without_colour() {
    // Pens are told apart by their numbers, not only by colour.
    assert_same_without_colour(&plant(true), 80, 24);
}

#[test]
fn the_spike_and_the_gap_are_on_screen() {
    let s = plant(true);
    let t = screen(&s, 140, 40);
    assert!(t.contains('!'), "the Bad span is marked under the plot:\n{t}");
    // The spike (15 bar) lifts the auto range above it.
    assert!(t.contains("15.") || t.contains("16"), "{t}");
    assert!(t.contains("▲"), "the level (92 %) is above its normal band (80):\n{t}");
}

#[test]
fn cursor_readout_80x24() {
    let mut s = plant(true);
    key(&mut s, KeyCode::Char('c'));
    for _ in 0..30 {
        key(&mut s, KeyCode::Left);
    }
    // Half way back: 300 s ago, the setpoint was just written (10) and the pressure Bad.
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn zoom_and_pan() {
    let mut s = plant(true);
    key(&mut s, KeyCode::Char('-'));
    key(&mut s, KeyCode::Left);
    let t = screen(&s, 80, 24);
    assert!(t.contains("· 5m ·") && t.contains("paused (l: live)"), "{t}");
}

#[test]
fn sparklines_in_the_grid_80x24() {
    let mut s = plant(true);
    key(&mut s, KeyCode::Char('2'));
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn empty_history_and_a_clock_going_backwards() {
    let layout = layout::parse(LAYOUT, "boiler.yaml").unwrap();
    let mut s = State::new(Arc::new(layout), "eve".into(), false, at(0));
    let t = screen(&s, 80, 24);
    assert!(t.contains("Pressure") && t.contains("----"), "{t}");
    // Samples from an hour in the future, then now again: nothing panics, nothing reorders.
    let future = at(0) + Duration::from_secs(3600);
    send(&mut s, "P_101", Sample::good(Value::Float(5.0), future));
    send(&mut s, "P_101", Sample::good(Value::Float(6.0), at(0)));
    update(&mut s, Msg::Tick, at(0));
    for (w, h) in [(80, 24), (20, 5), (40, 10), (200, 60)] {
        let _ = screen(&s, w, h);
    }
}

#[test]
fn pens_without_a_range_share_one_axis() {
    let src = LAYOUT.replace("{ tag: PIC_101_SP, range: [0, 16] }", "PIC_101_SP");
    let layout = layout::parse(&src, "boiler.yaml").unwrap();
    let mut s = State::new(Arc::new(layout), "eve".into(), false, at(100));
    send(&mut s, "P_101", Sample::good(Value::Float(2.0), at(90)));
    send(&mut s, "PIC_101_SP", Sample::good(Value::Float(8.0), at(90)));
    update(&mut s, Msg::Tick, at(0));
    let t = screen(&s, 80, 24);
    let labels: Vec<f64> = t
        .lines()
        .filter_map(|l| l.split_once('┤').map(|(a, _)| a.trim().to_string()))
        .filter_map(|a| a.parse().ok())
        .collect();
    assert_eq!(labels.len(), 3, "{t}");
    assert!(labels[0] >= 8.0 && labels[2] <= 2.0, "one axis for both: {labels:?}\n{t}");
}

#[test]
fn a_long_export_path_wraps_instead_of_being_cut() {
    let mut s = plant(true);
    let path = "/home/operator/.local/state/ttyhmi/exports/trend-trends-20251129T191000.csv";
    update(&mut s, Msg::Exported(Ok(format!("exported 3 rows to {path}"))), at(0));
    let t = screen(&s, 80, 24);
    let joined: String = t.lines().map(str::trim_end).collect();
    assert!(joined.contains(path), "{t}");
}
