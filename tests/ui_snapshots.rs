//! Snapshots of the console as an operator sees it, rendered with ratatui's `TestBackend`, plus
//! checks on cell styles (ISA-101 colour, monochrome glyphs) and on the help screen's key list.
//!
//! The state is built the way the runtime builds it: a layout parsed from YAML, driver events
//! (samples decoded from register words by the real codec, connection states, statistics, the
//! read plan) applied through `update`, at a fixed time, with the clock in UTC.
//! Regenerate with `INSTA_UPDATE=always cargo test --test ui_snapshots`, then read every changed
//! `.snap` file before committing it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use ttyhmi::console::Console as State;
use ttyhmi::console::Msg;
use ttyhmi::console::update;
use ttyhmi::driver::modbus::codec::decode_point;
use ttyhmi::driver::opcua::publishing_fact;
use ttyhmi::driver::{BlockInfo, ConnDiagnostics, ConnStats, ConnectionState, DriverEvent, ItemInfo, RawBlock};
use ttyhmi::layout::{self, ConnId, Layout, Table, TagSource};
use ttyhmi::session::keymap::{Action, BINDINGS, action};
use ttyhmi::tag::{Quality, Reason, Sample, TagId, Value};

mod common;

use common::tui::{assert_no_colour, assert_same_without_colour, render, row_text, screen, text};

const LAYOUT: &str = r#"
title: Boiler house
connections:
  plc1:
    modbus_tcp: { host: 127.0.0.1, port: 502, unit: 1 }
    timeout: 1s
    poll: 500ms
  plc2:
    modbus_tcp: { host: 10.0.0.2, port: 502, unit: 3 }
    timeout: 1s
    poll: 1s
tags:
  P_101:  { source: plc1, holding: 1, type: f32, units: bar, decimals: 2, description: Header pressure }
  T_102:  { source: plc1, holding: 3, type: f32, byte_order: CDAB, units: degC, decimals: 1, description: Boiler outlet temperature }
  FQ_103: { source: plc2, holding: 5, type: i32, units: L, description: Boiler feed water total since last reset }
  COUNT:  { source: plc2, holding: 100, type: u16, description: Scan counter }
  NAME:   { source: plc1, holding: 10, type: string, length: 20, description: Device name }
  RUN:    { source: plc1, coil: 8, on_text: RUNNING, off_text: STOPPED, description: Burner run command }
  ESTOP:  { source: plc1, discrete: 2, description: Emergency stop }
  LEVEL:  { source: plc1, input: 3, type: u16, scale: { raw: [0, 1000], eu: [0, 100] }, units: "%", decimals: 1, description: Tank 1 level }
  FLOW:   { source: plc1, input: 4, type: u16, scale: { raw: [4000, 20000], eu: [0, 250] }, units: m3/h, description: Feed flow }
  FAULT:  { source: plc1, holding: 20, bit: 3, on_text: TRIPPED, off_text: OK, description: Burner fault }
  PT_999: { source: plc1, holding: 200, type: f32, units: bar, description: Spare pressure }
screens:
  - title: Overview
    panels:
      - grid: { title: Header, tags: [P_101, T_102, FQ_103, COUNT, NAME, RUN, ESTOP] }
      - grid: { title: Tanks, tags: [LEVEL, FLOW, FAULT, PT_999] }
  - title: Tanks
    panels:
      - grid: { tags: [LEVEL, FLOW] }
"#;

/// 2025-11-29 19:10:00 UTC.
const NOW_SECS: u64 = 1_764_443_400;

fn at(secs_before_now: f64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_SECS) - Duration::from_secs_f64(secs_before_now)
}

fn now() -> SystemTime {
    at(0.0)
}

fn layout() -> Layout {
    layout::parse(LAYOUT, "boiler.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn id(state: &State, name: &str) -> TagId {
    state.layout.tag_id(name).unwrap_or_else(|| panic!("no tag {name}"))
}

/// Holding registers 0..22 of plc1 unit 1.
fn plc1_holding() -> Vec<u16> {
    let mut w = vec![0u16; 22];
    // P_101 = 4.25 f32 ABCD (0x40880000).
    w[1] = 0x4088;
    w[2] = 0x0000;
    // T_102 = 182.5 f32 CDAB (0x43368000, words swapped).
    w[3] = 0x8000;
    w[4] = 0x4336;
    // NAME = "BOILER-1", NUL padded.
    for (i, pair) in b"BOILER-1".chunks(2).enumerate() {
        w[10 + i] = u16::from_be_bytes([pair[0], pair[1]]);
    }
    // FAULT is bit 3 of holding 20: set.
    w[20] = 0x0008;
    w
}

/// Input registers 3..5 of plc1: LEVEL raw 456 (45.6 %), FLOW raw 9000 (78.125 m3/h).
fn plc1_input() -> Vec<u16> {
    vec![456, 9000]
}

/// A Good sample of a register tag, decoded from the block's words by the driver's codec.
fn decoded(state: &State, name: &str, block_start: u16, words: &[u16], recv: SystemTime) -> (TagId, Sample) {
    let tag = id(state, name);
    let TagSource::Modbus(p) = state.layout.tag(tag).source else { panic!("unexpected kind") };
    let from = (p.address - block_start) as usize;
    let value = decode_point(&p, &words[from..from + p.count() as usize]).unwrap_or_else(|e| panic!("{name}: {e}"));
    (tag, Sample::good(value, recv))
}

fn bad(state: &State, name: &str, reason: Reason, recv: SystemTime) -> (TagId, Sample) {
    (
        id(state, name),
        Sample { value: None, quality: Quality::Bad(reason), source_ts: None, server_ts: None, recv_ts: recv },
    )
}

fn send(state: &mut State, msg: impl Into<Msg>) {
    update(state, msg.into(), now());
}

fn key(state: &mut State, code: KeyCode) {
    let k = KeyEvent { code, modifiers: KeyModifiers::NONE, kind: KeyEventKind::Press, state: KeyEventState::NONE };
    update(state, Msg::Key(k), now());
}

/// A Modbus driver's diagnostics report: its read plan.
fn plan_of(conn: u16, plan: Vec<BlockInfo>) -> DriverEvent {
    DriverEvent::Diagnostics { conn: ConnId(conn), diag: ConnDiagnostics { plan, ..ConnDiagnostics::default() } }
}

fn samples(conn: u16, samples: Vec<(TagId, Sample)>, raw: Option<RawBlock>) -> DriverEvent {
    DriverEvent::Samples { conn: ConnId(conn), samples, raw }
}

/// The console at `now()`: plc1 up and scanning, plc2 down and retrying, read-only, user alice.
///
/// - P_101, NAME, RUN, ESTOP, LEVEL, FLOW, FAULT: Good, received 0.3 s ago.
/// - T_102: Good but last received 10 s ago (poll 500 ms): stale, shown Uncertain.
/// - FQ_103: Good 12345 L 30 s ago, then Bad(timeout) 2 s ago: last value, marked bad.
/// - COUNT: never received: `----`, bad: not connected.
/// - PT_999: the device answered exception 02, never a value.
fn plant() -> State {
    let mut s = State::new(Arc::new(layout()), "alice".into(), true, at(60.0));
    s.utc_offset = time::UtcOffset::UTC;
    let plan = vec![
        BlockInfo { unit: 1, table: Table::Holding, start: 0, count: 22, poll: Duration::from_millis(500), tags: 4 },
        BlockInfo { unit: 1, table: Table::Holding, start: 200, count: 2, poll: Duration::from_millis(500), tags: 1 },
        BlockInfo { unit: 1, table: Table::Input, start: 3, count: 2, poll: Duration::from_millis(500), tags: 2 },
        BlockInfo { unit: 1, table: Table::Coil, start: 8, count: 1, poll: Duration::from_millis(500), tags: 1 },
        BlockInfo { unit: 1, table: Table::Discrete, start: 2, count: 1, poll: Duration::from_millis(500), tags: 1 },
    ];
    send(&mut s, plan_of(0, plan));
    let plan2 =
        vec![BlockInfo { unit: 3, table: Table::Holding, start: 5, count: 96, poll: Duration::from_secs(1), tags: 2 }];
    send(&mut s, plan_of(1, plan2));
    send(&mut s, DriverEvent::State { conn: ConnId(0), state: ConnectionState::Connected });

    // plc2 answered once, 30 s ago, then timed out and dropped.
    let fq = (id(&s, "FQ_103"), Sample::good(Value::Int(12345), at(30.0)));
    send(&mut s, samples(1, vec![fq], None));
    let timeout = bad(&s, "FQ_103", Reason::Timeout, at(2.0));
    send(&mut s, samples(1, vec![timeout], None));
    let down = ConnectionState::Disconnected { reason: "connection refused".into(), retry_in: Duration::from_secs(4) };
    send(&mut s, DriverEvent::State { conn: ConnId(1), state: down });

    // T_102 last arrived 10 s ago (its block has been read since, but say the tag went quiet).
    let hold = plc1_holding();
    let t102 = decoded(&s, "T_102", 0, &hold, at(10.0));
    send(&mut s, samples(0, vec![t102], None));

    let fresh = at(0.3);
    let good = ["P_101", "NAME", "FAULT"].map(|n| decoded(&s, n, 0, &hold, fresh)).to_vec();
    let raw = RawBlock { unit: 1, table: Table::Holding, start: 0, words: hold.clone() };
    send(&mut s, samples(0, good, Some(raw)));

    let input = plc1_input();
    let good = ["LEVEL", "FLOW"].map(|n| decoded(&s, n, 3, &input, fresh)).to_vec();
    send(&mut s, samples(0, good, Some(RawBlock { unit: 1, table: Table::Input, start: 3, words: input })));

    let run = (id(&s, "RUN"), Sample::good(Value::Bool(true), fresh));
    send(&mut s, samples(0, vec![run], Some(RawBlock { unit: 1, table: Table::Coil, start: 8, words: vec![1] })));
    let estop = (id(&s, "ESTOP"), Sample::good(Value::Bool(false), fresh));
    send(&mut s, samples(0, vec![estop], Some(RawBlock { unit: 1, table: Table::Discrete, start: 2, words: vec![0] })));

    let exception = bad(&s, "PT_999", Reason::Exception(2), fresh);
    send(&mut s, samples(0, vec![exception], None));

    // Two statistics reports one second apart: 2 scans/s.
    let report = |scans, secs| {
        let mut st = ConnStats {
            requests: scans * 5,
            errors: 1,
            exceptions: 1,
            scans,
            last_scan: Some(Duration::from_micros(4_200)),
            elapsed: Duration::from_secs(secs),
            ..ConnStats::default()
        };
        for us in [700, 800, 900, 1_200, 2_500] {
            st.response.record(Duration::from_micros(us));
        }
        DriverEvent::Stats { conn: ConnId(0), stats: Box::new(st) }
    };
    send(&mut s, report(116, 58));
    send(&mut s, report(118, 59));
    let st2 = ConnStats {
        requests: 3,
        errors: 2,
        timeouts: 1,
        reconnects: 4,
        elapsed: Duration::from_secs(59),
        ..Default::default()
    };
    send(&mut s, DriverEvent::Stats { conn: ConnId(1), stats: Box::new(st2) });
    send(&mut s, Msg::Tick);
    assert_eq!(s.now, now());
    s
}

/// The grid row of tag `name` (rows start with the tag name).
fn tag_row(buf: &Buffer, name: &str) -> u16 {
    let prefix = format!("{name} ");
    (0..buf.area.height)
        .find(|&y| row_text(buf, y).starts_with(&prefix))
        .unwrap_or_else(|| panic!("no row of tag {name}:\n{}", text(buf)))
}

/// The cells of `needle` in row `y` (rows here hold only one-column characters).
fn cells_of<'a>(buf: &'a Buffer, y: u16, needle: &str) -> Vec<&'a ratatui::buffer::Cell> {
    let line = row_text(buf, y);
    assert_eq!(line.chars().count(), buf.area.width as usize, "row {y} has wide characters");
    let start = line.find(needle).unwrap_or_else(|| panic!("row {y} {line:?} has no {needle:?}"));
    let x0 = line[..start].chars().count() as u16;
    (x0..x0 + needle.chars().count() as u16).map(|x| &buf[(x, y)]).collect()
}

/// Saturated colours: ISA-101 keeps them for abnormal states.
fn saturated(c: Color) -> bool {
    match c {
        Color::Reset | Color::Black | Color::White | Color::Gray | Color::DarkGray => false,
        Color::Rgb(r, g, b) => {
            let (max, min) = (r.max(g).max(b) as f32, r.min(g).min(b) as f32);
            max > 0.0 && (max - min) / max > 0.4
        }
        Color::Indexed(i) => !(232..=255).contains(&i) && i != 0 && i != 7 && i != 8 && i != 15,
        _ => true,
    }
}

// ---- the grid ----

#[test]
fn grid_80x24() {
    insta::assert_snapshot!(screen(&plant(), 80, 24));
}

#[test]
fn grid_160x48() {
    insta::assert_snapshot!(screen(&plant(), 160, 48));
}

#[test]
fn grid_shows_every_quality_as_text() {
    let s = plant();
    let buf = render(&s, 160, 48);
    let row = |name: &str| row_text(&buf, tag_row(&buf, name));
    let cases = [
        ("P_101", " 4.25", "bar", None),
        ("T_102", "?182.5", "degC", Some("stale")),
        ("FQ_103", "!12345", "L", Some("timeout")),
        ("COUNT", "!----", "", Some("not connected")),
        ("NAME", " BOILER-1", "", None),
        ("RUN", " RUNNING", "", None),
        ("ESTOP", " OFF", "", None),
        ("LEVEL", " 45.6", "%", None),
        ("FLOW", " 78.125", "m3/h", None),
        ("FAULT", " TRIPPED", "", None),
        ("PT_999", "!----", "bar", Some("exception 02: illegal data address")),
    ];
    for (name, value, units, quality) in cases {
        let line = row(name);
        assert!(line.contains(value), "{name}: {value:?} in {line:?}");
        assert!(line.contains(units), "{name}: {units:?} in {line:?}");
        match quality {
            Some(q) => assert!(line.contains(q), "{name}: {q:?} in {line:?}"),
            None => assert!(!line.contains('!') && !line.contains('?'), "{name} is good: {line:?}"),
        }
    }
    // The detail line of the selected tag says the quality in full.
    let mut s = s;
    key(&mut s, KeyCode::Down);
    key(&mut s, KeyCode::Down);
    let out = screen(&s, 160, 48);
    assert!(out.contains("FQ_103 = 12345 L · bad: timeout · age 30s"), "{out}");
}

#[test]
fn grid_selected_row_spans_panels() {
    let mut s = plant();
    // Row 8 of the screen is the first row of the second panel.
    for _ in 0..7 {
        key(&mut s, KeyCode::Down);
    }
    assert_eq!(s.selected_tag(), Some(id(&s, "LEVEL")));
    let buf = render(&s, 80, 24);
    insta::assert_snapshot!(text(&buf));
    let level = tag_row(&buf, "LEVEL");
    for y in 0..buf.area.height {
        let reversed = (0..buf.area.width).any(|x| buf[(x, y)].modifier.contains(Modifier::REVERSED));
        let is_tab_line = y == 0;
        if !is_tab_line {
            assert_eq!(reversed, y == level, "row {y} {:?}", row_text(&buf, y));
        }
    }
    assert!(buf[(1, level)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn grid_filter_being_typed() {
    let mut s = plant();
    key(&mut s, KeyCode::Char('/'));
    for c in "temp".chars() {
        key(&mut s, KeyCode::Char(c));
    }
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn grid_filter_kept_across_panels() {
    let mut s = plant();
    key(&mut s, KeyCode::Char('/'));
    for c in "BOILER".chars() {
        key(&mut s, KeyCode::Char(c));
    }
    key(&mut s, KeyCode::Enter);
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn grid_filter_matching_nothing() {
    let mut s = plant();
    key(&mut s, KeyCode::Char('/'));
    for c in "zzz".chars() {
        key(&mut s, KeyCode::Char(c));
    }
    key(&mut s, KeyCode::Enter);
    let out = screen(&s, 80, 24);
    assert!(out.contains("no tag matches the filter"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn grid_second_screen() {
    let mut s = plant();
    key(&mut s, KeyCode::Char('2'));
    insta::assert_snapshot!(screen(&s, 80, 24));
}

// ---- the status bar ----

#[test]
fn status_bar_at_80_and_160() {
    let s = plant();
    let b80 = render(&s, 80, 24);
    let b160 = render(&s, 160, 48);
    let bar = format!("{}\n{}", row_text(&b80, 23), row_text(&b160, 47));
    for part in ["plc2 DOWN: connection refused", "READ-ONLY", "alice", "19:10:00"] {
        assert!(bar.lines().all(|l| l.contains(part)), "{part:?} in\n{bar}");
    }
    assert!(bar.lines().nth(1).is_some_and(|l| l.contains("plc1 up 2.0/s")), "{bar}");
    insta::assert_snapshot!(bar);
}

#[test]
fn status_bar_narrow_cuts_connections_not_the_clock() {
    let s = plant();
    let buf = render(&s, 50, 10);
    let bar = row_text(&buf, 9);
    assert!(bar.contains("READ-ONLY") && bar.contains("19:10:00"), "{bar:?}");
    insta::assert_snapshot!(bar);
}

#[test]
fn why_a_connection_is_down_is_never_dropped_for_the_demo_pin() {
    // Issue 12 A.5: the status bar cut the connections' health first and kept the demo PIN.
    let mut s = plant();
    s.demo_pin = Some("1234".into());
    let long = "Bad_UserAccessDenied: wrong user name or password for user operator".to_string();
    let down = ConnectionState::Disconnected { reason: long.clone(), retry_in: Duration::from_secs(4) };
    send(&mut s, DriverEvent::State { conn: ConnId(1), state: down });
    for w in [60u16, 80, 120, 200] {
        let buf = render(&s, w, 24);
        let bar = row_text(&buf, 23);
        assert!(bar.contains("plc2 DOWN"), "{w}: {bar:?}");
        assert!(bar.contains("READ-ONLY") && bar.contains("19:10:00"), "{w}: {bar:?}");
        if w >= 120 {
            assert!(bar.contains("Bad_UserAccessDenied"), "the reason when there is room: {bar:?}");
        }
        if w == 200 {
            assert!(bar.contains(&long) && bar.contains("demo PIN 1234") && bar.contains("alice"), "{bar:?}");
        }
    }
    // The diagnostics say it whole, wrapped, at 80 columns.
    key(&mut s, KeyCode::Char('d'));
    let out = screen(&s, 80, 24);
    let joined: String = out.lines().map(str::trim_end).collect::<Vec<_>>().join(" ");
    assert!(joined.contains(&format!("plc2 DOWN: {long} (retry in 4.00s)")), "{out}");
}

#[test]
fn status_bar_clock_in_local_time() {
    let mut s = plant();
    s.utc_offset = time::UtcOffset::from_hms(-5, 0, 0).expect("a valid offset");
    let buf = render(&s, 80, 24);
    assert!(row_text(&buf, 23).contains("14:10:00"));
}

#[test]
fn status_bar_without_read_only() {
    let mut s = plant();
    s.read_only = false;
    let buf = render(&s, 80, 24);
    assert!(!text(&buf).contains("READ-ONLY"));
}

// ---- help ----

#[test]
fn help_80x24() {
    let mut s = plant();
    key(&mut s, KeyCode::Char('?'));
    assert!(s.help());
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn help_80x24_scrolls_to_its_end_and_other_keys_close_it() {
    let mut s = plant();
    key(&mut s, KeyCode::Char('?'));
    for _ in 0..40 {
        key(&mut s, KeyCode::Down);
    }
    assert!(s.help(), "Down scrolls, it does not close help");
    let t = screen(&s, 80, 24);
    assert!(t.contains("No single key writes to a device"), "{t}");
    assert!(!t.contains("more: Down"), "{t}");
    key(&mut s, KeyCode::Up);
    assert!(s.help());
    key(&mut s, KeyCode::Char('x'));
    assert!(!s.help() && s.overlay == ttyhmi::session::state::Overlay::None);
}

#[test]
fn help_120x40() {
    let mut s = plant();
    key(&mut s, KeyCode::Char('?'));
    insta::assert_snapshot!(screen(&s, 120, 40));
}

/// Every action, with the `BINDINGS` key text that documents it. The match is exhaustive, so a
/// new `Action` does not compile until it is documented here (and in `BINDINGS`).
fn documented_by(a: Action) -> &'static str {
    match a {
        Action::Quit => "q",
        Action::Interrupt => "Ctrl-C",
        Action::Back => "Esc",
        Action::NextScreen | Action::PrevScreen => "Tab / Shift-Tab",
        Action::Screen(_) => "1-9",
        Action::Diagnostics => "d",
        Action::Help => "?, F1",
        Action::Up | Action::Down => "Up/Down, k/j",
        Action::PageUp | Action::PageDown => "PgUp/PgDn",
        Action::Top | Action::Bottom => "Home/End, g/G",
        Action::Filter => "/",
        Action::Write => "w, Enter",
        Action::Alarms | Action::Silence => "a / x",
        Action::Acknowledge | Action::AcknowledgeAll => "Space, Enter / A",
        Action::NextList | Action::Shelve | Action::OutOfService => "s / o / v",
        Action::WiderWindow | Action::NarrowerWindow | Action::Left | Action::Right => "+ - Left Right",
        Action::Cursor | Action::Live | Action::Export => "c / l / e",
    }
}

const ALL_ACTIONS: [Action; 30] = [
    Action::WiderWindow,
    Action::NarrowerWindow,
    Action::Left,
    Action::Right,
    Action::Cursor,
    Action::Live,
    Action::Export,
    Action::Alarms,
    Action::Silence,
    Action::Acknowledge,
    Action::AcknowledgeAll,
    Action::NextList,
    Action::Shelve,
    Action::OutOfService,
    Action::Write,
    Action::Quit,
    Action::Interrupt,
    Action::Back,
    Action::NextScreen,
    Action::PrevScreen,
    Action::Screen(0),
    Action::Diagnostics,
    Action::Help,
    Action::Up,
    Action::Down,
    Action::PageUp,
    Action::PageDown,
    Action::Top,
    Action::Bottom,
    Action::Filter,
];

/// Every key worth trying, with the name a person would look for in the help.
fn candidate_keys() -> Vec<(KeyEvent, String)> {
    let ev = |code, modifiers| KeyEvent { code, modifiers, kind: KeyEventKind::Press, state: KeyEventState::NONE };
    let mut keys: Vec<(KeyEvent, String)> =
        (' '..='~').map(|c| (ev(KeyCode::Char(c), KeyModifiers::NONE), c.to_string())).collect();
    keys.extend(
        ('a'..='z').map(|c| (ev(KeyCode::Char(c), KeyModifiers::CONTROL), format!("Ctrl-{}", c.to_ascii_uppercase()))),
    );
    let named = [
        (KeyCode::Up, "Up"),
        (KeyCode::Down, "Down"),
        (KeyCode::Left, "Left"),
        (KeyCode::Right, "Right"),
        (KeyCode::PageUp, "PgUp"),
        (KeyCode::PageDown, "PgDn"),
        (KeyCode::Home, "Home"),
        (KeyCode::End, "End"),
        (KeyCode::Tab, "Tab"),
        (KeyCode::BackTab, "Shift-Tab"),
        (KeyCode::Esc, "Esc"),
        (KeyCode::Enter, "Enter"),
        (KeyCode::Backspace, "Backspace"),
        (KeyCode::Delete, "Delete"),
        (KeyCode::Insert, "Insert"),
    ];
    keys.extend(named.map(|(c, n)| (ev(c, KeyModifiers::NONE), n.to_string())));
    keys.extend((1..=12).map(|n| (ev(KeyCode::F(n), KeyModifiers::NONE), format!("F{n}"))));
    keys
}

#[test]
fn every_action_is_bound_and_listed_on_the_help_screen() {
    let mut s = plant();
    key(&mut s, KeyCode::Char('?'));
    let help = screen(&s, 120, 40);
    let bound: Vec<Action> = candidate_keys().iter().filter_map(|(k, _)| action(k)).collect();
    for a in ALL_ACTIONS {
        let same_kind = |b: &Action| std::mem::discriminant(b) == std::mem::discriminant(&a);
        assert!(bound.iter().any(same_kind), "no key does {a:?}");
        let keys = documented_by(a);
        let entry = BINDINGS.iter().find(|(k, _)| *k == keys);
        let (keys, what) = entry.unwrap_or_else(|| panic!("{a:?}: no BINDINGS entry {keys:?}"));
        assert!(help.contains(keys), "{a:?}: {keys:?} is not on the help screen:\n{help}");
        assert!(help.contains(what), "{a:?}: {what:?} is not on the help screen:\n{help}");
    }
    for (keys, _) in BINDINGS {
        assert!(help.contains(keys), "{keys:?} is not on the help screen:\n{help}");
    }
}

#[test]
fn every_bound_key_is_named_in_its_help_entry() {
    for (k, name) in candidate_keys() {
        let Some(a) = action(&k) else { continue };
        let listed = documented_by(a);
        let named = match a {
            Action::Screen(_) => listed == "1-9" && ('1'..='9').any(|c| c.to_string() == name),
            _ => listed.contains(name.as_str()),
        };
        assert!(named, "{name} does {a:?}, but its help entry is {listed:?}");
    }
}

#[test]
fn f1_is_listed_on_the_help_screen() {
    let f1 = KeyEvent {
        code: KeyCode::F(1),
        modifiers: KeyModifiers::NONE,
        kind: KeyEventKind::Press,
        state: KeyEventState::NONE,
    };
    assert_eq!(action(&f1), Some(Action::Help));
    assert!(BINDINGS.iter().any(|(k, _)| k.contains("F1")));
}

// ---- diagnostics ----

#[test]
fn diagnostics_80x24_stale_word_swapped_float() {
    let mut s = plant();
    key(&mut s, KeyCode::Down);
    key(&mut s, KeyCode::Char('d'));
    assert_eq!(s.selected_tag(), Some(id(&s, "T_102")));
    let out = screen(&s, 80, 24);
    insta::assert_snapshot!(out);
}

#[test]
fn diagnostics_160x48_stale_word_swapped_float() {
    let mut s = plant();
    key(&mut s, KeyCode::Down);
    key(&mut s, KeyCode::Char('d'));
    let out = screen(&s, 160, 48);
    for part in ["holding 3", "40004", "CDAB", "8000 4336", "uncertain: stale", "127.0.0.1:502", "10.0.0.2:502"] {
        assert!(out.contains(part), "{part:?} in\n{out}");
    }
    insta::assert_snapshot!(out);
}

#[test]
fn diagnostics_160x48_scaled_input() {
    let mut s = plant();
    for _ in 0..7 {
        key(&mut s, KeyCode::Down);
    }
    key(&mut s, KeyCode::Char('d'));
    assert_eq!(s.selected_tag(), Some(id(&s, "LEVEL")));
    let out = screen(&s, 160, 48);
    for part in ["input 3", "30004", "01C8", "45.6 %"] {
        assert!(out.contains(part), "{part:?} in\n{out}");
    }
    insta::assert_snapshot!(out);
}

#[test]
fn diagnostics_of_a_coil() {
    let mut s = plant();
    for _ in 0..5 {
        key(&mut s, KeyCode::Down);
    }
    key(&mut s, KeyCode::Char('d'));
    assert_eq!(s.selected_tag(), Some(id(&s, "RUN")));
    let out = screen(&s, 160, 48);
    for part in ["coil 8", "00009", "RUNNING"] {
        assert!(out.contains(part), "{part:?} in\n{out}");
    }
}

/// An OPC UA connection in the diagnostics view: the monitored items as the server revised them
/// (one refused, its status from the server cleaned of control characters) and the publishing
/// interval as revised. Built from driver events through `update`, as the runtime does.
fn opcua_plant() -> State {
    let src = r#"
title: UA
connections:
  ua1:
    opcua: { endpoint: "opc.tcp://127.0.0.1:4840", security: none }
    publishing_interval: 250ms
tags:
  SPEED: { source: ua1, node: "ns=2;s=Pump1.Speed", sampling: 20ms, queue_size: 5, units: rpm, description: Pump 1 speed }
  GONE:  { source: ua1, node: "ns=2;s=No.Such.Node", description: Unknown node }
screens:
  - title: UA
    panels:
      - grid: { tags: [SPEED, GONE] }
"#;
    let l = layout::parse(src, "ua.yaml").unwrap_or_else(|e| panic!("{e}"));
    let mut s = State::new(Arc::new(l), "alice".into(), true, at(60.0));
    s.utc_offset = time::UtcOffset::UTC;
    let items = ua_items(&s);
    send(&mut s, items);
    send(&mut s, DriverEvent::State { conn: ConnId(0), state: ConnectionState::Connected });
    let speed = Sample {
        value: Some(Value::Float(1450.5)),
        quality: Quality::Good,
        source_ts: Some(at(1.25)),
        server_ts: Some(at(1.0)),
        recv_ts: at(0.5),
    };
    let speed = samples(0, vec![(id(&s, "SPEED"), speed)], None);
    send(&mut s, speed);
    let gone = Sample {
        value: None,
        quality: Quality::Bad(Reason::Other("Bad_NodeIdUnknown".into())),
        source_ts: None,
        server_ts: None,
        recv_ts: at(0.5),
    };
    let gone = samples(0, vec![(id(&s, "GONE"), gone)], None);
    send(&mut s, gone);
    send(&mut s, Msg::Tick);
    s
}

/// The OPC UA driver's diagnostics report, the monitored items: SPEED revised to 100 ms, GONE refused (its
/// status with an escape sequence, as a hostile server might send).
fn ua_items(s: &State) -> DriverEvent {
    let items = vec![
        ItemInfo {
            tag: id(s, "SPEED"),
            status: "Good".into(),
            revised_sampling: Duration::from_millis(100),
            revised_queue: 5,
        },
        ItemInfo {
            tag: id(s, "GONE"),
            status: "Bad_NodeIdUnknown\u{1b}[2J".into(),
            revised_sampling: Duration::ZERO,
            revised_queue: 0,
        },
    ];
    let facts = vec![publishing_fact(Duration::from_millis(250))];
    DriverEvent::Diagnostics { conn: ConnId(0), diag: ConnDiagnostics { plan: Vec::new(), items, facts } }
}

#[test]
fn diagnostics_of_opcua_items_as_the_server_revised_them() {
    let mut s = opcua_plant();
    key(&mut s, KeyCode::Char('d'));
    assert_eq!(s.selected_tag(), Some(id(&s, "SPEED")));
    let speed = screen(&s, 120, 30);
    for part in ["20ms, queue 5 → server: 100.0ms, queue 5", "every 250.0ms (as revised by the server)"] {
        assert!(speed.contains(part), "{part:?} in\n{speed}");
    }
    insta::assert_snapshot!("diagnostics_opcua_speed_120x30", speed);
    key(&mut s, KeyCode::Down);
    assert_eq!(s.selected_tag(), Some(id(&s, "GONE")));
    let gone = screen(&s, 160, 30);
    assert!(gone.contains("→ server: 0ns, queue 0, Bad_NodeIdUnknown"), "{gone}");
    assert!(!gone.contains('\u{1b}'), "no control character from the server reaches the screen");
    insta::assert_snapshot!("diagnostics_opcua_refused_item_160x30", gone);
}

// ---- sizes ----

#[test]
fn tiny_terminal_10x3() {
    insta::assert_snapshot!(screen(&plant(), 10, 3));
}

#[test]
fn no_size_panics_in_any_view() {
    let mut views = vec![plant()];
    let mut help = plant();
    key(&mut help, KeyCode::Char('?'));
    views.push(help);
    let mut diag = plant();
    key(&mut diag, KeyCode::Char('d'));
    views.push(diag);
    let mut filtered = plant();
    key(&mut filtered, KeyCode::Char('/'));
    key(&mut filtered, KeyCode::Char('x'));
    views.push(filtered);
    for s in &views {
        let widths = (0..=32).chain([40, 60, 79, 80, 81, 99, 100, 101, 120]);
        for w in widths {
            for h in (0..=12).chain([20, 23, 24, 25]) {
                render(s, w, h);
            }
        }
    }
}

// ---- colour (ISA-101) and monochrome ----

#[test]
fn colour_marks_only_abnormal_values_and_every_cue_has_a_glyph() {
    let s = plant();
    assert!(s.color);
    let buf = render(&s, 160, 48);

    let good = cells_of(&buf, tag_row(&buf, "P_101"), "4.25");
    for c in &good {
        assert!(!saturated(c.fg), "a Good value is drawn in {:?}", c.fg);
    }
    let good_level = cells_of(&buf, tag_row(&buf, "LEVEL"), "45.6");
    assert!(good_level.iter().all(|c| !saturated(c.fg)));

    let y = tag_row(&buf, "FQ_103");
    let bad_value = cells_of(&buf, y, "!12345");
    assert_eq!(bad_value[0].symbol(), "!", "the glyph");
    for c in &bad_value {
        assert!(saturated(c.fg), "a Bad value must stand out by colour, got {:?}", c.fg);
    }
    let reason = cells_of(&buf, y, "timeout");
    assert!(reason.iter().all(|c| saturated(c.fg)));

    let stale = cells_of(&buf, tag_row(&buf, "T_102"), "?182.5");
    assert!(stale.iter().all(|c| saturated(c.fg)), "stale is abnormal too");
    assert_ne!(stale[1].fg, bad_value[1].fg, "uncertain and bad differ in colour");
}

#[test]
fn without_colour_no_cell_has_a_colour_and_the_glyphs_remain() {
    let mut s = plant();
    s.color = false;
    for (w, h, setup) in [(160, 48, None), (80, 24, Some('d')), (80, 24, Some('?'))] {
        let mut s = s.clone();
        if let Some(c) = setup {
            key(&mut s, KeyCode::Char(c));
        }
        assert_no_colour(&render(&s, w, h));
    }
    let buf = render(&s, 160, 48);
    assert_eq!(cells_of(&buf, tag_row(&buf, "FQ_103"), "!12345")[0].symbol(), "!");
    assert_eq!(cells_of(&buf, tag_row(&buf, "T_102"), "?182.5")[0].symbol(), "?");
    assert_eq!(cells_of(&buf, tag_row(&buf, "COUNT"), "!----")[0].symbol(), "!");
    assert_eq!(text(&buf), text(&render(&plant(), 160, 48)), "the same text with and without colour");
}

#[test]
fn a_long_grid_scrolls_to_keep_the_selection_in_view() {
    let mut src = String::from("connections:\n  c: { modbus_tcp: { host: h } }\ntags:\n");
    for i in 0..100 {
        src.push_str(&format!("  T{i:03}: {{ source: c, holding: {i} }}\n"));
    }
    let l = ttyhmi::layout::parse(&src, "long.yaml").unwrap();
    let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
    let mut s = ttyhmi::console::Console::new(std::sync::Arc::new(l), "alice".into(), false, now);
    let text = |s: &ttyhmi::console::Console| {
        let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
        t.draw(|f| ttyhmi::ui::render(&s.session, &s.plant, f)).unwrap();
        let b = t.backend().buffer().clone();
        (0..b.area.height)
            .map(|y| (0..b.area.width).map(|x| b[(x, y)].symbol().to_string()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let t = text(&s);
    assert!(t.contains("T000") && !t.contains("T099"), "{t}");
    // Rows hidden below are counted (issue 12 A.8): 24 lines hold 18 of the 100.
    assert!(t.contains("↓ 82 more") && !t.contains("above"), "{t}");
    s.selected = 99;
    let t = text(&s);
    assert!(t.contains("T099") && t.contains("T082") && !t.contains("T081") && !t.contains("T000"), "{t}");
    assert!(t.contains("↑ 82 above") && !t.contains("more"), "{t}");
    s.selected = 50;
    let t = text(&s);
    assert!(t.contains("T050") && t.contains("↑ 33 above · ↓ 49 more"), "{t}");
}

// ---- the write dialog ----

const WRITE_LAYOUT: &str = r#"
title: Boiler house
connections:
  plc1:
    modbus_tcp: { host: 127.0.0.1, port: 502, unit: 1 }
tags:
  P_101:  { source: plc1, holding: 1, type: f32, units: bar, decimals: 2, description: Header pressure }
  SP_101: { source: plc1, holding: 50, type: f32, units: bar, decimals: 2, description: Header pressure setpoint, write: { role: operator, min: 0, max: 12, max_step: 2 } }
  RUN:    { source: plc1, coil: 8, on_text: RUNNING, off_text: STOPPED, description: Burner run command, write: { role: operator } }
"#;

/// Digits that appear nowhere else on these screens.
const SNAP_PIN: &str = "975318";

/// plc1 up, P_101 4.25 bar, SP_101 4.50 bar, RUN on; alice is an operator with a PIN; SP_101 is
/// selected.
fn writable_plant() -> State {
    let l = layout::parse(WRITE_LAYOUT, "boiler.yaml").unwrap_or_else(|e| panic!("{e}"));
    let person = ttyhmi::session::state::Person::viewer("alice", false)
        .with_identity(ttyhmi::auth::Identity::demo("alice", SNAP_PIN).expect("a valid PIN"));
    let mut s = State::with(Arc::new(l), person, at(60.0));
    s.utc_offset = time::UtcOffset::UTC;
    send(&mut s, DriverEvent::State { conn: ConnId(0), state: ConnectionState::Connected });
    let fresh = at(0.3);
    let values = [("P_101", Value::Float(4.25)), ("SP_101", Value::Float(4.5)), ("RUN", Value::Bool(true))];
    let list = values.into_iter().map(|(n, v)| (id(&s, n), Sample::good(v, fresh))).collect();
    send(&mut s, samples(0, list, None));
    send(&mut s, Msg::Tick);
    key(&mut s, KeyCode::Down);
    assert_eq!(s.selected_tag(), Some(id(&s, "SP_101")));
    s
}

fn typed(s: &mut State, text: &str) {
    for c in text.chars() {
        key(s, KeyCode::Char(c));
    }
}

/// The editor after 15 was refused (above the maximum 12).
fn write_editor_with_error() -> State {
    let mut s = writable_plant();
    key(&mut s, KeyCode::Char('w'));
    typed(&mut s, "15");
    key(&mut s, KeyCode::Enter);
    assert!(
        matches!(s.write_dialog(), Some(ttyhmi::session::write::Dialog::Edit { error: Some(_), .. })),
        "{:?}",
        s.write_dialog()
    );
    s
}

/// The confirmation of 5.5 bar with the whole PIN typed, not yet Enter.
fn write_confirm_with_pin() -> State {
    let mut s = writable_plant();
    key(&mut s, KeyCode::Char('w'));
    typed(&mut s, "5.5");
    key(&mut s, KeyCode::Enter);
    typed(&mut s, SNAP_PIN);
    assert!(matches!(s.write_dialog(), Some(ttyhmi::session::write::Dialog::Confirm(_))), "{:?}", s.write_dialog());
    s
}

/// The confirmation after one wrong PIN.
fn write_confirm_after_wrong_pin() -> State {
    let mut s = writable_plant();
    key(&mut s, KeyCode::Char('w'));
    typed(&mut s, "5.5");
    key(&mut s, KeyCode::Enter);
    typed(&mut s, "000000");
    key(&mut s, KeyCode::Enter);
    assert!(
        matches!(s.write_dialog(), Some(ttyhmi::session::write::Dialog::Confirm(c)) if c.error.is_some()),
        "{:?}",
        s.write_dialog()
    );
    s
}

/// Sent, waiting for the device.
fn write_sent() -> State {
    let mut s = write_confirm_with_pin();
    key(&mut s, KeyCode::Enter);
    assert!(matches!(s.write_dialog(), Some(ttyhmi::session::write::Dialog::Pending { .. })), "{:?}", s.write_dialog());
    s
}

/// No part of the PIN (three digits or more of it) is on screen.
fn assert_no_pin(out: &str) {
    let digits: Vec<char> = SNAP_PIN.chars().collect();
    for w in digits.windows(3) {
        let part: String = w.iter().collect();
        assert!(!out.contains(&part), "{part:?} of the PIN is visible:\n{out}");
    }
}

#[test]
fn write_editor_with_an_error() {
    let s = write_editor_with_error();
    for (w, h) in [(80, 24), (120, 40)] {
        let out = screen(&s, w, h);
        for part in ["SP_101", "4.50 bar", "15_", "15 is above the maximum 12", "Esc"] {
            assert!(out.contains(part), "{w}x{h}: {part:?} in\n{out}");
        }
        assert_same_without_colour(&s, w, h);
        insta::assert_snapshot!(format!("write_editor_error_{w}x{h}"), out);
    }
}

#[test]
fn write_confirmation_masks_the_pin() {
    let s = write_confirm_with_pin();
    for (w, h) in [(80, 24), (120, 40)] {
        let out = screen(&s, w, h);
        assert_no_pin(&out);
        assert!(out.contains(&format!("{}_", "*".repeat(SNAP_PIN.len()))), "{w}x{h}: masked PIN in\n{out}");
        for part in ["SP_101", "4.50 → 5.50 bar", "FC16 holding 50", "alice (operator)", "Enter: WRITE"] {
            assert!(out.contains(part), "{w}x{h}: {part:?} in\n{out}");
        }
        assert_same_without_colour(&s, w, h);
        insta::assert_snapshot!(format!("write_confirm_pin_{w}x{h}"), out);
    }
}

#[test]
fn write_confirmation_after_a_wrong_pin() {
    let s = write_confirm_after_wrong_pin();
    let out = screen(&s, 80, 24);
    assert!(out.contains("wrong PIN; 4 tries left"), "{out}");
    assert_no_pin(&out);
    assert_same_without_colour(&s, 80, 24);
    insta::assert_snapshot!(out);
}

#[test]
fn write_pending() {
    let s = write_sent();
    for (w, h) in [(80, 24), (120, 40)] {
        let out = screen(&s, w, h);
        assert_no_pin(&out);
        assert!(out.contains("5.50 bar"), "{w}x{h}: {out}");
        assert_same_without_colour(&s, w, h);
        insta::assert_snapshot!(format!("write_pending_{w}x{h}"), out);
    }
}

#[test]
fn no_size_panics_with_the_write_dialog() {
    for s in [write_editor_with_error(), write_confirm_with_pin(), write_sent()] {
        for w in (0..=32).chain([40, 60, 79, 80, 81, 120]) {
            for h in (0..=12).chain([20, 24, 40]) {
                let out = screen(&s, w, h);
                assert_no_pin(&out);
            }
        }
    }
}
