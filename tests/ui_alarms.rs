//! Snapshots of the alarm banner, the alarm list and its dialog as an operator sees them, at
//! 80x24 and wider, in colour and without; and the cell styles that carry priority and the
//! unacknowledged marker. The state is built as the runtime builds it: a YAML layout, samples
//! through `update` at fixed times, the clock in UTC.
//! Regenerate with `INSTA_UPDATE=always cargo test --test ui_alarms`, then read every changed
//! `.snap` file before committing it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use ratatui::style::{Color, Modifier};

use ttyhmi::auth::Role;
use ttyhmi::console::Console as State;
use ttyhmi::console::update;
use ttyhmi::console::{Effect, Msg};
use ttyhmi::driver::DriverEvent;
use ttyhmi::layout::{self, ConnId};
use ttyhmi::tag::{Reason, Sample, Value};

mod common;

use common::tui::{assert_same_without_colour, render, row_text, screen};

const LAYOUT: &str = r#"
title: Boiler house
connections:
  plc1: { modbus_tcp: { host: 127.0.0.1 } }
tags:
  P_101:  { source: plc1, holding: 1, type: f32, units: bar, decimals: 2, description: Header pressure }
  T_102:  { source: plc1, holding: 3, type: f32, units: degC, decimals: 1, description: Boiler outlet temperature }
  LT_201: { source: plc1, input: 3, type: u16, scale: { raw: [0, 1000], eu: [0, 100] }, units: "%", decimals: 1, description: Tank 1 level }
  RUN:    { source: plc1, coil: 8, on_text: RUNNING, off_text: STOPPED, description: Burner run command }
  MAINT:  { source: plc1, coil: 9, description: Maintenance mode }
alarms:
  T_102:
    hihi: { limit: 95, priority: critical, message: Outlet temperature very high }
    hi:   { limit: 80, priority: high, deadband: 1 }
  P_101:
    lo:   { limit: 2, priority: medium, message: Header pressure low }
  LT_201:
    lo:   { limit: 10, priority: low, message: Tank 1 level low }
  RUN:
    discrete: { when: false, priority: medium, message: Burner stopped, suppress_when: { tag: MAINT, is: true } }
screens:
  - title: Overview
    panels:
      - grid: { tags: [P_101, T_102, LT_201, RUN, MAINT] }
  - title: Alarms
    panels:
      - alarms: {}
"#;

/// 2025-11-29 19:10:00 UTC.
const NOW_SECS: u64 = 1_764_443_400;

fn at(secs_before_now: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_SECS - secs_before_now)
}

fn value(s: &mut State, name: &str, v: Value, secs_before_now: u64) -> Vec<Effect> {
    let id = s.layout.tag_id(name).unwrap_or_else(|| panic!("no tag {name}"));
    let sample = Sample::good(v, at(secs_before_now));
    let e = DriverEvent::Samples { conn: ConnId(0), samples: vec![(id, sample)], raw: None };
    update(s, Msg::Driver(e), at(secs_before_now))
}

fn key(s: &mut State, code: KeyCode) -> Vec<Effect> {
    let k = KeyEvent { code, modifiers: KeyModifiers::NONE, kind: KeyEventKind::Press, state: KeyEventState::NONE };
    update(s, Msg::Key(k), at(0))
}

/// The runtime's part for alarm actions: on record, applied.
fn apply(s: &mut State, effects: Vec<Effect>) {
    for e in effects {
        if let Effect::AlarmAction(o) = e {
            update(s, Msg::Alarm(o.action), at(0));
        }
    }
}

/// A plant with alarms in every state, as an engineer sees it:
/// - T_102 hihi (critical): raised 3 min ago, unacknowledged; hi (high): raised 4 min ago,
///   acknowledged.
/// - P_101 lo (medium): came and went, not acknowledged (returned unacknowledged).
/// - LT_201 lo (low): shelved for 1 h by this engineer.
/// - RUN discrete: the burner stopped while in maintenance mode: suppressed.
fn plant(color: bool) -> State {
    let layout = layout::parse(LAYOUT, "boiler.yaml").unwrap_or_else(|e| panic!("{e}"));
    let mut s = State::new(Arc::new(layout), "eve".into(), false, at(600)).with_role(Role::Engineer);
    s.utc_offset = time::UtcOffset::UTC;
    s.color = color;
    value(&mut s, "MAINT", Value::Bool(true), 590);
    value(&mut s, "RUN", Value::Bool(false), 500);
    value(&mut s, "P_101", Value::Float(1.5), 400);
    value(&mut s, "P_101", Value::Float(6.25), 300);
    value(&mut s, "LT_201", Value::Float(7.5), 290);
    value(&mut s, "T_102", Value::Float(85.0), 240);
    value(&mut s, "T_102", Value::Float(97.25), 180);
    key(&mut s, KeyCode::Char('a'));
    // Acknowledge T_102.hi (second row: the critical one sorts first).
    key(&mut s, KeyCode::Down);
    let e = key(&mut s, KeyCode::Char(' '));
    apply(&mut s, e);
    // Shelve LT_201.lo for an hour.
    key(&mut s, KeyCode::End);
    let e = key(&mut s, KeyCode::Char('s'));
    assert!(e.is_empty());
    for c in "\u{8}\u{8}".chars().chain("1h".chars()) {
        let code = if c == '\u{8}' { KeyCode::Backspace } else { KeyCode::Char(c) };
        key(&mut s, code);
    }
    key(&mut s, KeyCode::Enter);
    for c in "level transmitter being replaced".chars() {
        key(&mut s, KeyCode::Char(c));
    }
    let e = key(&mut s, KeyCode::Enter);
    apply(&mut s, e);
    key(&mut s, KeyCode::Home);
    update(&mut s, Msg::Tick, at(0));
    s.message = None;
    s
}

#[test]
fn the_states_are_as_described() {
    let s = plant(true);
    let st = |k: &str| s.plant.alarms.alarms().iter().find(|a| a.rule.key == k).map(|a| a.state());
    use ttyhmi::alarm::AlarmState::*;
    assert_eq!(st("T_102.hihi"), Some(Unacknowledged));
    assert_eq!(st("T_102.hi"), Some(Acknowledged));
    assert_eq!(st("P_101.lo"), Some(ReturnedUnacknowledged));
    assert_eq!(st("LT_201.lo"), Some(Shelved));
    assert_eq!(st("RUN.discrete"), Some(Suppressed));
}

#[test]
fn alarm_list_80x24() {
    insta::assert_snapshot!(screen(&plant(true), 80, 24));
}

#[test]
fn alarm_list_140x40() {
    insta::assert_snapshot!(screen(&plant(true), 140, 40));
}

#[test]
fn alarm_list_80x24_no_color_is_the_same_text_and_has_no_colour() {
    // Colour is never the only cue.
    assert_same_without_colour(&plant(true), 80, 24);
}

#[test]
fn banner_on_the_grid_screen_80x24_and_120x30() {
    let mut s = plant(true);
    key(&mut s, KeyCode::Char('1'));
    insta::assert_snapshot!("banner_80x24", screen(&s, 80, 24));
    insta::assert_snapshot!("banner_120x30", screen(&s, 120, 30));
}

#[test]
fn the_other_lists_and_a_filter() {
    let mut s = plant(true);
    key(&mut s, KeyCode::Char('v'));
    insta::assert_snapshot!("shelved_list_80x24", screen(&s, 80, 24));
    key(&mut s, KeyCode::Char('v'));
    insta::assert_snapshot!("suppressed_list_80x24", screen(&s, 80, 24));
    key(&mut s, KeyCode::Char('v'));
    key(&mut s, KeyCode::Char('v'));
    key(&mut s, KeyCode::Char('/'));
    for c in "t_102".chars() {
        key(&mut s, KeyCode::Char(c));
    }
    insta::assert_snapshot!("filtered_80x24", screen(&s, 80, 24));
}

#[test]
fn shelve_dialog_80x24() {
    let mut s = plant(true);
    key(&mut s, KeyCode::Char('s'));
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn no_alarms_and_a_flood() {
    let layout = layout::parse(LAYOUT, "boiler.yaml").unwrap();
    let mut s = State::new(Arc::new(layout), "eve".into(), false, at(600));
    key(&mut s, KeyCode::Char('a'));
    let t = screen(&s, 80, 24);
    assert!(t.lines().nth(1).unwrap().contains("no active alarms"), "{t}");
    assert!(t.contains("no active alarms"), "{t}");

    // Eleven new alarms within ten minutes: a flood.
    for i in 0..6u64 {
        value(&mut s, "T_102", Value::Float(99.0), 300 - i * 20);
        value(&mut s, "T_102", Value::Float(20.0), 290 - i * 20);
    }
    assert!(s.plant.alarms.flood());
    let t = screen(&s, 80, 24);
    assert!(t.lines().nth(1).unwrap().contains("FLOOD"), "{t}");
}

#[test]
fn priority_is_colour_and_text_and_unacknowledged_blinks() {
    let s = plant(true);
    let buf = render(&s, 80, 24);
    let y = (0..buf.area.height).find(|&y| row_text(&buf, y).contains("T_102.hihi")).unwrap();
    let line = row_text(&buf, y);
    let x = line.find("CRIT").unwrap() as u16;
    assert_eq!(buf[(x, y)].fg, Color::Red);
    let star = line.find('*').unwrap() as u16;
    assert!(buf[(star, y)].modifier.contains(Modifier::SLOW_BLINK), "the marker blinks");
    let y = (0..buf.area.height).find(|&y| row_text(&buf, y).contains("T_102.hi ")).unwrap();
    assert!(!row_text(&buf, y).starts_with('*'), "acknowledged: no marker");
    // Bad-quality samples neither raise nor clear anything.
    let mut s = plant(true);
    let id = s.layout.tag_id("T_102").unwrap();
    let bad = Sample::bad(Reason::Timeout, at(0));
    let e = update(
        &mut s,
        Msg::Driver(DriverEvent::Samples { conn: ConnId(0), samples: vec![(id, bad)], raw: None }),
        at(0),
    );
    assert!(e.is_empty(), "{e:?}");
}

#[test]
fn the_banner_marks_a_returned_alarm_and_prefers_an_active_one() {
    let mut s = plant(true);
    // Acknowledge the critical one: the medium returned-unacknowledged one is left.
    let e = key(&mut s, KeyCode::Char(' '));
    apply(&mut s, e);
    let t = screen(&s, 80, 24);
    let banner = t.lines().nth(1).unwrap();
    assert!(banner.starts_with("*MED ") && banner.contains("RTN Header pressure low"), "{banner}");
    // A low-priority active alarm does not outrank it; a medium active one does.
    value(&mut s, "LT_201", Value::Float(50.0), 0);
    let t = screen(&s, 80, 24);
    assert!(t.lines().nth(1).unwrap().contains("RTN Header pressure low"), "{t}");
}

#[test]
fn a_tag_in_alarm_says_so_in_its_own_grid_row() {
    // Issue 12 A.3: the alarm at the value, not only in the banner.
    let mut s = plant(true);
    key(&mut s, KeyCode::Char('1'));
    let buf = render(&s, 80, 24);
    let row = |name: &str| {
        let y = (0..buf.area.height).find(|&y| row_text(&buf, y).starts_with(&format!("{name} "))).unwrap();
        (y, row_text(&buf, y))
    };
    // T_102: hihi (critical, unacknowledged) outranks its acknowledged hi.
    let (y, t102) = row("T_102");
    assert!(t102.contains("*◆HIHI"), "{t102}");
    let star = t102.find("*◆").map(|i| t102[..i].chars().count() as u16).unwrap();
    assert!(buf[(star, y)].modifier.contains(Modifier::SLOW_BLINK), "the unacknowledged marker blinks");
    assert_eq!(buf[(star + 1, y)].fg, Color::Red, "critical is red");
    // P_101: its low alarm returned to normal, still unacknowledged.
    assert!(row("P_101").1.contains("*■LO"), "{}", row("P_101").1);
    // Shelved and suppressed alarms are named, muted.
    assert!(row("LT_201").1.contains("SHLV"), "{}", row("LT_201").1);
    assert!(row("RUN").1.contains("SUPP"), "{}", row("RUN").1);
    assert!(!row("MAINT").1.contains('*'), "{}", row("MAINT").1);
    // Acknowledged: the mark stays, without the star.
    key(&mut s, KeyCode::Char('a'));
    let e = key(&mut s, KeyCode::Char(' '));
    apply(&mut s, e);
    key(&mut s, KeyCode::Char('1'));
    let t = screen(&s, 80, 24);
    let t102 = t.lines().find(|l| l.starts_with("T_102 ")).unwrap();
    assert!(t102.contains(" ◆HIHI") && !t102.contains('*'), "{t102}");
    assert_same_without_colour(&s, 80, 24);
}

#[test]
fn returned_alarms_are_not_counted_as_active() {
    // Issue 12 A.7: `M1` and `Active 3` while P_101.lo was back to normal.
    let s = plant(true);
    let t = screen(&s, 140, 40);
    let banner = t.lines().nth(1).unwrap();
    assert!(banner.contains("C1 H1 M0 L0"), "{banner}");
    assert!(t.contains("Active 2 · RTN 1"), "{t}");
}

/// The banner with one high alarm on T_102 and nothing else (every other count is zero).
fn one_alarm(width: u16) -> String {
    let layout = layout::parse(LAYOUT, "boiler.yaml").unwrap();
    let mut s = State::new(Arc::new(layout), "eve".into(), false, at(600));
    s.utc_offset = time::UtcOffset::UTC;
    value(&mut s, "T_102", Value::Float(85.0), 60);
    update(&mut s, Msg::Tick, at(0));
    screen(&s, width, 24).lines().nth(1).unwrap().to_string()
}

#[test]
fn zero_counts_give_way_to_the_alarms_tag_and_value() {
    // Issue 12 A.8: at 100 columns the tag and value were dropped for `shelved 0 suppressed 0
    // out of service 0`.
    let banner = one_alarm(100);
    assert!(banner.contains("T_102 85.0 degC"), "{banner}");
    assert!(banner.contains("H1"), "{banner}");
    assert!(!banner.contains("shelved 0"), "{banner}");
    let wide = one_alarm(160);
    assert!(wide.contains("T_102 85.0 degC") && wide.contains("C0 H1 M0 L0 shelved 0"), "{wide}");
}

#[test]
fn a_comms_alarm_names_its_connection() {
    let src = "connections:\n  plc1: { modbus_tcp: { host: h } }\ntags:\n  ZED: { source: plc1, holding: 0 }\n  AAA: { source: plc1, holding: 1 }\nalarms:\n  plc1:\n    comms: { priority: high }\n";
    let layout = layout::parse(src, "c.yaml").unwrap_or_else(|e| panic!("{e}"));
    let mut s = State::new(Arc::new(layout), "eve".into(), false, at(600));
    for name in ["ZED", "AAA"] {
        let id = s.layout.tag_id(name).unwrap();
        let bad = Sample::bad(Reason::Disconnected("connection refused".into()), at(10));
        update(
            &mut s,
            Msg::Driver(DriverEvent::Samples { conn: ConnId(0), samples: vec![(id, bad)], raw: None }),
            at(10),
        );
    }
    update(&mut s, Msg::Tick, at(0));
    let banner = screen(&s, 100, 24).lines().nth(1).unwrap().to_string();
    assert!(banner.contains("plc1 communications lost plc1"), "{banner}");
    assert!(!banner.contains("ZED") && !banner.contains("AAA"), "not an arbitrary tag: {banner}");
}
