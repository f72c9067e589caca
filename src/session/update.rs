//! `update`: the only place a session's state changes. Pure: no I/O, no clock; time comes in as
//! `now`. The plant is read, never changed: what the person asks of it leaves as an
//! [`Effect::Command`].

use std::time::SystemTime;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::keymap::{Action, action};
use super::msg::{Effect, Msg};
use super::state::{Message, Overlay, Session};
use crate::plant::{Plant, PlantEvent};

/// Rows moved by PgUp/PgDn.
const PAGE: usize = 10;

pub fn update(s: &mut Session, p: &Plant, msg: Msg, now: SystemTime) -> Vec<Effect> {
    s.now = now;
    match msg {
        Msg::Tick => {
            s.dirty = true;
            let mut effects = super::write::tick(s, now);
            effects.extend(super::alarms::tick(s, p, now));
            effects
        }
        Msg::Resize => {
            s.dirty = true;
            Vec::new()
        }
        Msg::WriteDone { tag, requested, result } => super::write::done(s, tag, &requested, result, now),
        Msg::Signal(name) => quit(s, name),
        Msg::Plant(e) => plant_event(s, p, e, now),
        Msg::Exported(result) => {
            match result {
                Ok(text) => s.say(text, false, now),
                Err(e) => s.say(format!("export failed: {e}"), true, now),
            }
            Vec::new()
        }
        Msg::Note(text) => {
            s.say(text, true, now);
            Vec::new()
        }
        Msg::Key(k) => key(s, p, k, now),
    }
}

/// What the plant says: values and connections are drawn on the next frame, alarm transitions
/// may ring the bell, answers to this session are said.
fn plant_event(s: &mut Session, p: &Plant, e: PlantEvent, now: SystemTime) -> Vec<Effect> {
    match e {
        PlantEvent::Values(_) | PlantEvent::Connection { .. } => {
            s.dirty = true;
            Vec::new()
        }
        PlantEvent::Sessions => {
            s.dirty |= s.diagnostics;
            Vec::new()
        }
        PlantEvent::Alarms(ts) => super::alarms::record(s, p, &ts, now),
        PlantEvent::AlarmDone { to, result } => {
            if to == s.id {
                super::alarms::done(s, p, result, now);
            }
            Vec::new()
        }
        PlantEvent::AuditBroken(reason) => {
            super::write::audit_failed(s, reason, now);
            Vec::new()
        }
        PlantEvent::JournalBroken(e) => {
            // Said once: the message stays until something else is said.
            if s.message.as_ref().is_none_or(|m| !m.journal) {
                s.message = Some(Message {
                    text: format!("ALARM JOURNAL NOT WRITTEN: {e}"),
                    bad: true,
                    at: now,
                    journal: true,
                });
                s.dirty = true;
            }
            Vec::new()
        }
    }
}

/// Leaves the console; `why` goes on record (`q`, `Ctrl-C`, `SIGHUP`, …).
fn quit(s: &mut Session, why: &str) -> Vec<Effect> {
    s.quit = true;
    vec![Effect::Quit(why.to_string())]
}

fn key(s: &mut Session, p: &Plant, k: KeyEvent, now: SystemTime) -> Vec<Effect> {
    if k.kind == KeyEventKind::Release {
        return Vec::new();
    }
    if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
        return quit(s, "Ctrl-C");
    }
    // What is open over the screen takes the key.
    match &mut s.overlay {
        Overlay::Quit => {
            // "Quit the console? y/n": y (or q again) quits, any other key stays.
            s.overlay = Overlay::None;
            s.dirty = true;
            return match k.code {
                KeyCode::Char('y' | 'Y' | 'q') => quit(s, "q"),
                _ => Vec::new(),
            };
        }
        Overlay::Write(_) => return super::write::key(s, p, k, now),
        Overlay::Alarm(_) => return super::alarms::dialog_key(s, p, k, now),
        Overlay::Filter => {
            filter_key(s, k);
            return Vec::new();
        }
        Overlay::Help { scroll } => {
            // Up/Down and PgUp/PgDn scroll a help longer than the screen; any other key (q and
            // Esc too) closes it.
            let most = super::help::line_count();
            match action(&k) {
                Some(Action::Down) => *scroll = (*scroll + 1).min(most),
                Some(Action::PageDown) => *scroll = (*scroll + PAGE as u16).min(most),
                Some(Action::Up) => *scroll = scroll.saturating_sub(1),
                Some(Action::PageUp) => *scroll = scroll.saturating_sub(PAGE as u16),
                _ => s.overlay = Overlay::None,
            }
            s.dirty = true;
            return Vec::new();
        }
        Overlay::None => {}
    }
    let Some(a) = action(&k) else {
        // Nothing to do; an earlier change still waiting to be drawn stays so.
        return Vec::new();
    };
    s.dirty = true;
    // On the alarm list Enter acknowledges (and `w`, which writes tags, does not).
    let a = if k.code == KeyCode::Enter && super::alarms::on_alarm_screen(s) { Action::Acknowledge } else { a };
    let before = s.screen;
    let effects = act(s, p, a, now);
    if s.screen != before {
        super::trend::reset(s);
    }
    effects
}

/// A key while the filter is typed.
fn filter_key(s: &mut Session, k: KeyEvent) {
    s.dirty = true;
    match k.code {
        KeyCode::Esc => {
            s.filter.clear();
            s.overlay = Overlay::None;
        }
        KeyCode::Enter => s.overlay = Overlay::None,
        KeyCode::Backspace => {
            s.filter.pop();
        }
        KeyCode::Char(c) if !c.is_control() && s.filter.chars().count() < 64 => s.filter.push(c),
        _ => {}
    }
    s.selected = 0;
}

/// What a key's action does in normal mode.
fn act(s: &mut Session, p: &Plant, a: Action, now: SystemTime) -> Vec<Effect> {
    if let Some(effects) = super::alarms::key(s, p, a, now) {
        return effects;
    }
    if let Some(effects) = super::trend::key(s, p, a, now) {
        return effects;
    }
    let screens = s.layout.screens.len().max(1);
    let rows = if super::alarms::on_alarm_screen(s) { super::alarms::rows(s, p).len() } else { s.visible_rows().len() };
    match a {
        // No single key leaves the console: q asks first.
        Action::Quit => s.overlay = Overlay::Quit,
        Action::Interrupt => return quit(s, "Ctrl-C"),
        Action::Back => back(s),
        Action::Help => s.overlay = Overlay::Help { scroll: 0 },
        Action::NextScreen | Action::PrevScreen => {
            let cur = s.screen;
            s.screen = if a == Action::NextScreen { (cur + 1) % screens } else { (cur + screens - 1) % screens };
            s.diagnostics = false;
            s.selected = 0;
        }
        Action::Screen(i) => {
            if i < s.layout.screens.len() {
                s.screen = i;
                s.diagnostics = false;
                s.selected = 0;
            }
        }
        Action::Diagnostics => {
            // Keep the selection: diagnostics show the tag selected on the screen.
            s.diagnostics = !s.diagnostics;
        }
        Action::Up => s.selected = s.selected.saturating_sub(1),
        Action::Down => s.selected = (s.selected + 1).min(rows.saturating_sub(1)),
        Action::PageUp => s.selected = s.selected.saturating_sub(PAGE),
        Action::PageDown => s.selected = (s.selected + PAGE).min(rows.saturating_sub(1)),
        Action::Top => s.selected = 0,
        Action::Bottom => s.selected = rows.saturating_sub(1),
        Action::Write => return super::write::open(s, p, now),
        // Alarm-list keys away from the alarm list do nothing.
        Action::Alarms
        | Action::Silence
        | Action::Acknowledge
        | Action::AcknowledgeAll
        | Action::NextList
        | Action::Shelve
        | Action::OutOfService
        | Action::WiderWindow
        | Action::NarrowerWindow
        | Action::Left
        | Action::Right
        | Action::Cursor
        | Action::Live
        | Action::Export => {}
        Action::Filter => {
            if !s.diagnostics {
                s.overlay = Overlay::Filter;
            }
        }
    }
    Vec::new()
}

/// Esc closes what is open: the filter, diagnostics, the alarm list (back to the screen it was
/// opened from). On a plain screen it does nothing; it never leaves the console.
fn back(s: &mut Session) {
    if !s.filter.is_empty() {
        s.filter.clear();
        s.selected = 0;
    } else if s.diagnostics {
        s.diagnostics = false;
    } else if super::alarms::on_alarm_screen(s) {
        super::alarms::close_list(s);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};

    use crate::console::{Console as State, Effect, Msg, update};
    use crate::driver::DriverEvent;
    use crate::driver::{BlockInfo, ConnDiagnostics, ConnStats, ConnectionState, RawBlock};
    use crate::layout::{self, ConnId, Table};
    use crate::session::state::Overlay;
    use crate::tag::{Quality, Reason, Sample, TagId, Value};

    /// Screen 1: panel A (T00..T07) and panel B (T08..T14), 15 rows; screen 2: three rows;
    /// screen 3: one row. Connections c1 (T00..T11) and c2 (T12..T14).
    fn layout_src() -> String {
        let mut s = String::from(
            "title: Test\nconnections:\n  c1: { modbus_tcp: { host: h } }\n  c2: { modbus_tcp: { host: h2 } }\ntags:\n",
        );
        for i in 0..15 {
            let conn = if i < 12 { "c1" } else { "c2" };
            let desc = match i {
                3 => "Header Pressure",
                7 => "boiler PRESSURE setpoint",
                9 => "Tank level",
                _ => "plain",
            };
            s.push_str(&format!("  T{i:02}: {{ source: {conn}, holding: {}, description: {desc} }}\n", i * 2));
        }
        s.push_str(
            "screens:\n  - title: One\n    panels:\n      - grid: { title: A, tags: [T00, T01, T02, T03, T04, T05, T06, T07] }\n      - grid: { title: B, tags: [T08, T09, T10, T11, T12, T13, T14] }\n  - title: Two\n    panels:\n      - grid: { tags: [T01, T02, T03] }\n  - title: Three\n    panels:\n      - grid: { tags: [T14] }\n",
        );
        s
    }

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn state() -> State {
        let layout = layout::parse(&layout_src(), "test.yaml").unwrap_or_else(|e| panic!("{e}"));
        let mut s = State::new(Arc::new(layout), "alice".into(), false, t(1000));
        s.dirty = false;
        s
    }

    fn press(code: KeyCode, modifiers: KeyModifiers) -> Msg {
        Msg::Key(KeyEvent { code, modifiers, kind: KeyEventKind::Press, state: KeyEventState::NONE })
    }

    fn k(code: KeyCode) -> Msg {
        press(code, KeyModifiers::NONE)
    }

    fn ch(c: char) -> Msg {
        k(KeyCode::Char(c))
    }

    fn ctrl_c() -> Msg {
        press(KeyCode::Char('c'), KeyModifiers::CONTROL)
    }

    fn send(s: &mut State, msgs: impl IntoIterator<Item = Msg>) -> Vec<Effect> {
        msgs.into_iter().flat_map(|m| update(s, m, t(1001))).collect()
    }

    fn typed(s: &mut State, text: &str) {
        for c in text.chars() {
            assert_eq!(update(s, ch(c), t(1001)), vec![]);
        }
    }

    fn names(s: &State) -> Vec<String> {
        s.visible_rows().into_iter().map(|id| s.layout.tag(id).name.clone()).collect()
    }

    fn samples(conn: u16, list: Vec<(u32, Sample)>) -> Msg {
        Msg::Driver(DriverEvent::Samples {
            conn: ConnId(conn),
            samples: list.into_iter().map(|(i, s)| (TagId(i), s)).collect(),
            raw: None,
        })
    }

    fn bad(reason: Reason, at: u64) -> Sample {
        Sample { value: None, quality: Quality::Bad(reason), source_ts: None, server_ts: None, recv_ts: t(at) }
    }

    // ---- quitting ----

    fn quit_effect(why: &str) -> Vec<Effect> {
        vec![Effect::Quit(why.to_string())]
    }

    #[test]
    fn q_asks_first_and_y_or_q_again_quits() {
        // Issue 12 A.2: no single key leaves the console.
        for second in [ch('y'), ch('Y'), ch('q')] {
            let mut s = state();
            assert_eq!(update(&mut s, ch('q'), t(1001)), vec![], "q alone only asks");
            assert!((s.overlay == Overlay::Quit) && !s.quit);
            assert_eq!(update(&mut s, second.clone(), t(1001)), quit_effect("q"), "{second:?}");
            assert!(s.quit);
            assert_eq!(s.now, t(1001), "now is the injected time");
        }
    }

    #[test]
    fn any_other_answer_stays_and_does_nothing_else() {
        for answer in [ch('n'), k(KeyCode::Esc), k(KeyCode::Enter), ch('w'), ch('2'), k(KeyCode::Down)] {
            let mut s = state();
            send(&mut s, [ch('q')]);
            assert_eq!(update(&mut s, answer.clone(), t(1001)), vec![], "{answer:?}");
            assert!(!(s.overlay == Overlay::Quit) && !s.quit, "{answer:?}");
            assert_eq!((s.screen, s.selected, s.write_dialog().is_none()), (0, 0, true), "{answer:?} only answered");
        }
    }

    #[test]
    fn ctrl_c_quits_at_once_from_anywhere() {
        for setup in [vec![], vec![ch('?')], vec![ch('d')], vec![ch('/'), ch('x')], vec![ch('q')]] {
            let mut s = state();
            send(&mut s, setup.clone());
            assert_eq!(update(&mut s, ctrl_c(), t(1001)), quit_effect("Ctrl-C"), "{setup:?}");
            assert!(s.quit);
        }
    }

    #[test]
    fn q_closes_help_instead_of_quitting() {
        let mut s = state();
        send(&mut s, [ch('?')]);
        assert_eq!(update(&mut s, ch('q'), t(1001)), vec![]);
        assert!(!s.help() && !(s.overlay == Overlay::Quit) && !s.quit);
    }

    #[test]
    fn q_asks_from_diagnostics_and_with_a_kept_filter() {
        for setup in [vec![ch('d')], vec![ch('/'), ch('x'), k(KeyCode::Enter)]] {
            let mut s = state();
            send(&mut s, setup);
            assert_eq!(update(&mut s, ch('q'), t(1001)), vec![]);
            assert!((s.overlay == Overlay::Quit));
        }
    }

    #[test]
    fn ctrl_c_quits_while_typing_a_filter_but_q_is_typed() {
        let mut s = state();
        send(&mut s, [ch('/')]);
        assert_eq!(update(&mut s, ch('q'), t(1001)), vec![]);
        assert_eq!(s.filter, "q");
        assert!(!s.quit && !(s.overlay == Overlay::Quit));
        assert_eq!(update(&mut s, ctrl_c(), t(1001)), quit_effect("Ctrl-C"));
        assert!(s.quit);
    }

    #[test]
    fn signals_quit_and_say_which() {
        let mut s = state();
        assert_eq!(update(&mut s, Msg::Signal("SIGHUP"), t(1001)), quit_effect("SIGHUP"));
        assert!(s.quit);
    }

    #[test]
    fn no_other_key_quits_or_has_an_effect() {
        let mut keys: Vec<Msg> = (' '..='~').filter(|&c| c != 'q').map(ch).collect();
        keys.extend(
            [
                KeyCode::Up,
                KeyCode::Down,
                KeyCode::PageUp,
                KeyCode::PageDown,
                KeyCode::Home,
                KeyCode::End,
                KeyCode::Tab,
                KeyCode::BackTab,
                KeyCode::Enter,
                KeyCode::Backspace,
                KeyCode::Delete,
                KeyCode::F(1),
                KeyCode::F(5),
            ]
            .map(k),
        );
        keys.extend(['a', 'd', 'x', 'z'].map(|c| press(KeyCode::Char(c), KeyModifiers::CONTROL)));
        let mut s = state();
        for m in keys {
            assert_eq!(update(&mut s, m.clone(), t(1001)), vec![], "{m:?}");
            assert!(!s.quit, "{m:?}");
            // Leave any mode the key entered, without Esc, so the next key starts from a screen.
            if s.filter_editing() {
                send(&mut s, [k(KeyCode::Enter)]);
            }
            s.filter.clear();
            if s.help() {
                s.overlay = Overlay::None;
            }
        }
    }

    #[test]
    fn key_release_does_nothing() {
        let mut s = state();
        let release = Msg::Key(KeyEvent {
            code: KeyCode::Char('q'),
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Release,
            state: KeyEventState::NONE,
        });
        assert_eq!(update(&mut s, release, t(1001)), vec![]);
        assert!(!s.quit && !s.dirty);
    }

    // ---- Esc ----

    #[test]
    fn esc_closes_help_then_clears_the_filter_then_leaves_diagnostics_and_never_quits() {
        let mut s = state();
        send(&mut s, [ch('/'), ch('t'), k(KeyCode::Enter), ch('d'), ch('?')]);
        assert!(s.help() && s.diagnostics);
        assert_eq!(s.filter, "t");

        assert_eq!(update(&mut s, k(KeyCode::Esc), t(1001)), vec![]);
        assert!(!s.help(), "first Esc closes help");
        assert!(s.diagnostics && s.filter == "t");

        assert_eq!(update(&mut s, k(KeyCode::Esc), t(1001)), vec![]);
        assert!(s.filter.is_empty(), "second Esc clears the filter");
        assert!(s.diagnostics);

        assert_eq!(update(&mut s, k(KeyCode::Esc), t(1001)), vec![]);
        assert!(!s.diagnostics, "third Esc leaves diagnostics");
        // Issue 12 A.2: Esc on a plain screen quit the console.
        for _ in 0..5 {
            assert_eq!(update(&mut s, k(KeyCode::Esc), t(1001)), vec![], "Esc on a plain screen does nothing");
        }
        assert!(!s.quit && !(s.overlay == Overlay::Quit));
    }

    #[test]
    fn esc_while_typing_a_filter_clears_it_and_does_not_quit() {
        let mut s = state();
        send(&mut s, [ch('/'), ch('a')]);
        assert_eq!(update(&mut s, k(KeyCode::Esc), t(1001)), vec![]);
        assert!(!s.filter_editing() && s.filter.is_empty() && !s.quit);
    }

    #[test]
    fn help_toggles_and_any_mapped_key_closes_it_without_acting() {
        let mut s = state();
        send(&mut s, [ch('?')]);
        assert!(s.help());
        send(&mut s, [ch('?')]);
        assert!(!s.help(), "? hides help again");
        send(&mut s, [ch('?'), k(KeyCode::Tab)]);
        assert!(!s.help());
        assert_eq!(s.screen, 0, "the key that closes help does nothing else");
        send(&mut s, [ch('?'), ch('/')]);
        assert!(!s.help() && !s.filter_editing());
    }

    #[test]
    fn any_key_closes_help_even_one_without_an_action() {
        let mut s = state();
        send(&mut s, [ch('?'), ch('x')]);
        assert!(!s.help(), "help says: press any key to close help");
        assert!(s.dirty, "closing help redraws");
        assert!(!s.quit);
    }

    // ---- screens ----

    #[test]
    fn tab_and_shift_tab_wrap_around() {
        let mut s = state();
        send(&mut s, [k(KeyCode::Tab)]);
        assert_eq!(s.screen, 1);
        send(&mut s, [k(KeyCode::Tab), k(KeyCode::Tab)]);
        assert_eq!(s.screen, 0, "Tab after the last screen wraps to the first");
        send(&mut s, [k(KeyCode::BackTab)]);
        assert_eq!(s.screen, 2, "Shift-Tab before the first screen wraps to the last");
        send(&mut s, [k(KeyCode::BackTab)]);
        assert_eq!(s.screen, 1);
    }

    #[test]
    fn changing_screen_resets_the_selection_and_leaves_diagnostics() {
        let mut s = state();
        send(&mut s, [k(KeyCode::Down), k(KeyCode::Down), ch('d'), k(KeyCode::Tab)]);
        assert_eq!((s.screen, s.selected, s.diagnostics), (1, 0, false));
        send(&mut s, [k(KeyCode::Down), ch('d'), ch('3')]);
        assert_eq!((s.screen, s.selected, s.diagnostics), (2, 0, false));
    }

    #[test]
    fn number_keys_select_existing_screens_only() {
        let mut s = state();
        send(&mut s, [ch('3')]);
        assert_eq!(s.screen, 2);
        send(&mut s, [ch('1')]);
        assert_eq!(s.screen, 0);
        send(&mut s, [ch('2')]);
        assert_eq!(s.screen, 1);
        send(&mut s, [k(KeyCode::Down)]);
        for c in '4'..='9' {
            assert_eq!(update(&mut s, ch(c), t(1001)), vec![]);
            assert_eq!((s.screen, s.selected), (1, 1), "screen {c} does not exist: nothing changes");
        }
        send(&mut s, [ch('0')]);
        assert_eq!(s.screen, 1, "0 is no screen");
    }

    // ---- selection ----

    #[test]
    fn selection_moves_and_clamps() {
        let mut s = state();
        assert_eq!(s.visible_rows().len(), 15, "both panels of screen 1");
        send(&mut s, [k(KeyCode::Up)]);
        assert_eq!(s.selected, 0, "Up at the top stays");
        send(&mut s, [k(KeyCode::Down), ch('j')]);
        assert_eq!(s.selected, 2);
        send(&mut s, [ch('k')]);
        assert_eq!(s.selected, 1);
        send(&mut s, [k(KeyCode::PageDown)]);
        assert_eq!(s.selected, 11, "a page is ten rows, across panels");
        send(&mut s, [k(KeyCode::PageDown)]);
        assert_eq!(s.selected, 14, "PgDn stops at the last row");
        send(&mut s, [k(KeyCode::Down)]);
        assert_eq!(s.selected, 14, "Down at the end stays");
        assert_eq!(s.selected_tag(), s.layout.tag_id("T14"));
        send(&mut s, [k(KeyCode::PageUp)]);
        assert_eq!(s.selected, 4);
        send(&mut s, [k(KeyCode::PageUp)]);
        assert_eq!(s.selected, 0, "PgUp stops at the first row");
        send(&mut s, [k(KeyCode::End)]);
        assert_eq!(s.selected, 14);
        send(&mut s, [k(KeyCode::Home)]);
        assert_eq!(s.selected, 0);
        send(&mut s, [ch('G')]);
        assert_eq!(s.selected, 14);
        send(&mut s, [ch('g')]);
        assert_eq!(s.selected, 0);
    }

    #[test]
    fn selection_on_a_one_row_screen_stays_on_it() {
        let mut s = state();
        send(&mut s, [ch('3'), k(KeyCode::Down), k(KeyCode::PageDown), k(KeyCode::End)]);
        assert_eq!(s.selected, 0);
        assert_eq!(s.selected_tag(), s.layout.tag_id("T14"));
    }

    #[test]
    fn moving_on_an_empty_filter_result_does_not_panic() {
        let mut s = state();
        send(&mut s, [ch('/')]);
        typed(&mut s, "nothing matches this");
        send(&mut s, [k(KeyCode::Enter)]);
        assert!(s.visible_rows().is_empty());
        send(&mut s, [k(KeyCode::Down), k(KeyCode::End), k(KeyCode::PageDown), k(KeyCode::Up), k(KeyCode::Home)]);
        assert_eq!(s.selected, 0);
        assert_eq!(s.selected_tag(), None);
    }

    #[test]
    fn diagnostics_keeps_the_selection() {
        let mut s = state();
        send(&mut s, [k(KeyCode::Down), k(KeyCode::Down), ch('d')]);
        assert!(s.diagnostics);
        assert_eq!(s.selected_tag(), s.layout.tag_id("T02"));
        send(&mut s, [ch('d')]);
        assert!(!s.diagnostics, "d toggles");
        assert_eq!(s.selected, 2);
    }

    // ---- filter ----

    #[test]
    fn filter_typing_backspace_enter() {
        let mut s = state();
        send(&mut s, [k(KeyCode::End)]);
        send(&mut s, [ch('/')]);
        assert!(s.filter_editing());
        typed(&mut s, "PRESS");
        assert_eq!(s.filter, "PRESS");
        assert_eq!(names(&s), ["T03", "T07"], "matches descriptions, case-insensitively");
        assert_eq!(s.selected, 0, "the selection resets while typing");
        send(&mut s, [k(KeyCode::Backspace), k(KeyCode::Backspace)]);
        assert_eq!(s.filter, "PRE");
        send(&mut s, [k(KeyCode::Enter)]);
        assert!(!s.filter_editing());
        assert_eq!(s.filter, "PRE", "Enter keeps the filter");
        assert_eq!(names(&s), ["T03", "T07"]);
        // Keys act normally again, within the filtered rows.
        send(&mut s, [k(KeyCode::Down), k(KeyCode::Down)]);
        assert_eq!(s.selected, 1, "the selection clamps to the filtered rows");
        assert_eq!(s.selected_tag(), s.layout.tag_id("T07"));
    }

    #[test]
    fn filter_matches_names_case_insensitively() {
        let mut s = state();
        send(&mut s, [ch('/')]);
        typed(&mut s, "t1");
        assert_eq!(names(&s), ["T10", "T11", "T12", "T13", "T14"]);
        send(&mut s, [k(KeyCode::Backspace), k(KeyCode::Backspace), k(KeyCode::Backspace)]);
        assert_eq!(s.filter, "", "Backspace on an empty filter does nothing");
        assert_eq!(names(&s).len(), 15);
        typed(&mut s, "lEvEl");
        assert_eq!(names(&s), ["T09"]);
    }

    #[test]
    fn esc_while_typing_clears_the_filter_and_resets_the_selection() {
        let mut s = state();
        send(&mut s, [ch('/')]);
        typed(&mut s, "plain");
        send(&mut s, [k(KeyCode::Enter), k(KeyCode::End)]);
        assert_eq!(s.selected, 11, "12 rows are plain");
        send(&mut s, [ch('/')]);
        assert_eq!(s.selected, 11, "opening the filter alone moves nothing");
        typed(&mut s, "x");
        assert_eq!(s.selected, 0, "typing resets the selection");
        send(&mut s, [k(KeyCode::End), k(KeyCode::Esc)]);
        assert_eq!(s.filter, "");
        assert!(!s.filter_editing());
        assert_eq!(names(&s).len(), 15);
        assert_eq!(s.selected, 0);
    }

    #[test]
    fn esc_clearing_a_kept_filter_does_not_move_the_cursor_to_another_tag() {
        let mut s = state();
        send(&mut s, [ch('/')]);
        typed(&mut s, "pressure");
        send(&mut s, [k(KeyCode::Enter), k(KeyCode::Down), ch('d')]);
        assert_eq!(s.selected_tag(), s.layout.tag_id("T07"));
        send(&mut s, [k(KeyCode::Esc)]);
        assert!(s.filter.is_empty() && s.diagnostics);
        let now = s.selected_tag();
        assert!(now == s.layout.tag_id("T07") || s.selected == 0, "cursor moved to {now:?}");
    }

    #[test]
    fn the_filter_is_not_edited_in_diagnostics() {
        let mut s = state();
        send(&mut s, [ch('d'), ch('/')]);
        assert!(!s.filter_editing());
    }

    #[test]
    fn the_filter_length_is_bounded() {
        let mut s = state();
        send(&mut s, [ch('/')]);
        typed(&mut s, &"x".repeat(100));
        assert_eq!(s.filter.chars().count(), 64);
    }

    #[test]
    fn the_filter_ignores_control_characters() {
        let mut s = state();
        send(&mut s, [ch('/'), ch('\u{7}'), ch('a'), k(KeyCode::Tab), k(KeyCode::Up)]);
        assert_eq!(s.filter, "a");
        assert!(s.filter_editing());
    }

    // ---- driver events and dirty ----

    #[test]
    fn samples_set_dirty_only_when_value_or_quality_changes() {
        let mut s = state();
        update(&mut s, samples(0, vec![(0, Sample::good(Value::UInt(5), t(1)))]), t(1001));
        assert!(s.dirty, "first value");
        s.dirty = false;

        update(&mut s, samples(0, vec![(0, Sample::good(Value::UInt(5), t(2)))]), t(1002));
        assert!(!s.dirty, "same value and quality, only a newer receive time");
        assert_eq!(s.plant.store.get(TagId(0)).unwrap().recv_ts, t(2), "the receive time is still stored");

        update(&mut s, samples(0, vec![(0, Sample::good(Value::UInt(6), t(3)))]), t(1003));
        assert!(s.dirty, "value changed");
        s.dirty = false;

        let uncertain = Sample {
            value: Some(Value::UInt(6)),
            quality: Quality::Uncertain(Reason::Stale),
            source_ts: None,
            server_ts: None,
            recv_ts: t(4),
        };
        update(&mut s, samples(0, vec![(0, uncertain)]), t(1004));
        assert!(s.dirty, "quality changed");
        s.dirty = false;

        update(&mut s, samples(0, vec![(1, Sample::no_data(t(5)))]), t(1005));
        assert!(!s.dirty, "a tag that has no data yet gets no data again");
    }

    #[test]
    fn one_changed_sample_in_a_burst_sets_dirty() {
        let mut s = state();
        let first = vec![(0, Sample::good(Value::UInt(1), t(1))), (1, Sample::good(Value::UInt(2), t(1)))];
        update(&mut s, samples(0, first), t(1001));
        s.dirty = false;
        let second = vec![(0, Sample::good(Value::UInt(1), t(2))), (1, Sample::good(Value::UInt(3), t(2)))];
        update(&mut s, samples(0, second), t(1002));
        assert!(s.dirty);
    }

    #[test]
    fn a_bad_sample_without_a_value_keeps_the_last_value() {
        let mut s = state();
        update(&mut s, samples(0, vec![(2, Sample::good(Value::Int(-7), t(1)))]), t(1001));
        s.dirty = false;
        update(&mut s, samples(0, vec![(2, bad(Reason::Timeout, 2))]), t(1002));
        assert!(s.dirty, "Good → Bad is a visible change");
        let got = s.plant.store.get(TagId(2)).unwrap();
        assert_eq!(got.value, Some(Value::Int(-7)), "the last value stays visible");
        assert_eq!(got.quality, Quality::Bad(Reason::Timeout));
        assert_eq!(got.recv_ts, t(1), "the age shown is the value's");

        update(&mut s, samples(0, vec![(2, Sample::good(Value::Int(8), t(3)))]), t(1003));
        let got = s.plant.store.get(TagId(2)).unwrap();
        assert_eq!((got.value.clone(), got.quality.clone()), (Some(Value::Int(8)), Quality::Good), "recovers");
    }

    #[test]
    fn a_repeated_bad_sample_without_a_value_is_no_change() {
        let mut s = state();
        update(&mut s, samples(0, vec![(2, Sample::good(Value::Int(-7), t(1)))]), t(1001));
        update(&mut s, samples(0, vec![(2, bad(Reason::Timeout, 2))]), t(1002));
        s.dirty = false;
        update(&mut s, samples(0, vec![(2, bad(Reason::Timeout, 3))]), t(1003));
        assert!(!s.dirty, "same last value, same quality");
        assert_eq!(s.plant.store.get(TagId(2)).unwrap().value, Some(Value::Int(-7)));
    }

    #[test]
    fn stats_raw_words_and_plans_wait_for_the_tick() {
        let mut s = state();
        let stats = ConnStats { requests: 10, scans: 4, elapsed: Duration::from_secs(2), ..ConnStats::default() };
        update(&mut s, Msg::Driver(DriverEvent::Stats { conn: ConnId(0), stats: Box::new(stats) }), t(1001));
        assert!(!s.dirty, "statistics");
        assert_eq!(s.plant.conns[0].stats.requests, 10);
        assert_eq!(s.plant.conns[0].scan_rate, 2.0);

        let stats = ConnStats { requests: 20, scans: 10, elapsed: Duration::from_secs(4), ..ConnStats::default() };
        update(&mut s, Msg::Driver(DriverEvent::Stats { conn: ConnId(0), stats: Box::new(stats) }), t(1002));
        assert_eq!(s.plant.conns[0].scan_rate, 3.0, "scans per second between the last two reports");

        let raw = RawBlock { unit: 1, table: Table::Holding, start: 0, words: vec![1, 2, 3, 4] };
        let msg = DriverEvent::Samples { conn: ConnId(0), samples: vec![], raw: Some(raw) };
        update(&mut s, Msg::Driver(msg), t(1003));
        assert!(!s.dirty, "raw words");
        assert_eq!(s.plant.raw_words(TagId(1)), Some(vec![3]), "T01 is holding 2");

        let block = BlockInfo {
            unit: 1,
            table: Table::Holding,
            start: 0,
            count: 24,
            poll: Duration::from_millis(500),
            tags: 12,
        };
        let diag = ConnDiagnostics { plan: vec![block.clone()], ..ConnDiagnostics::default() };
        update(&mut s, Msg::Driver(DriverEvent::Diagnostics { conn: ConnId(0), diag }), t(1004));
        assert!(!s.dirty, "plan");
        assert_eq!(s.plant.conns[0].diag.plan, vec![block]);
        assert!(s.plant.raw.is_empty(), "a new plan drops the raw words of the old blocks");

        update(&mut s, Msg::Tick, t(1005));
        assert!(s.dirty, "the tick draws them");
        assert_eq!(s.now, t(1005));
    }

    #[test]
    fn connection_state_changes_set_dirty() {
        let mut s = state();
        let up = || Msg::Driver(DriverEvent::State { conn: ConnId(1), state: ConnectionState::Connected });
        update(&mut s, up(), t(1001));
        assert!(s.dirty);
        assert_eq!(s.plant.conns[1].state, ConnectionState::Connected);
        assert_eq!(s.plant.conns[0].state, ConnectionState::Connecting, "other connections unchanged");
        s.dirty = false;
        update(&mut s, up(), t(1002));
        assert!(!s.dirty, "the same state again is no change");
        let down = ConnectionState::Disconnected { reason: "refused".into(), retry_in: Duration::from_secs(2) };
        update(&mut s, Msg::Driver(DriverEvent::State { conn: ConnId(1), state: down.clone() }), t(1003));
        assert!(s.dirty);
        assert_eq!(s.plant.conns[1].state, down);
    }

    #[test]
    fn tick_and_resize_set_dirty() {
        for m in [Msg::Tick, Msg::Resize] {
            let mut s = state();
            assert_eq!(update(&mut s, m.clone(), t(1001)), vec![]);
            assert!(s.dirty, "{m:?}");
        }
    }

    #[test]
    fn keys_that_do_something_set_dirty() {
        for m in [k(KeyCode::Down), k(KeyCode::Tab), ch('?'), ch('d'), ch('/')] {
            let mut s = state();
            update(&mut s, m.clone(), t(1001));
            assert!(s.dirty, "{m:?}");
        }
    }

    #[test]
    fn a_key_that_maps_to_nothing_leaves_dirty_false() {
        let mut s = state();
        for m in
            [ch('y'), ch('Z'), k(KeyCode::F(5)), k(KeyCode::Insert), press(KeyCode::Char('x'), KeyModifiers::CONTROL)]
        {
            assert_eq!(update(&mut s, m.clone(), t(1001)), vec![]);
            assert!(!s.dirty, "{m:?}");
        }
    }

    #[test]
    fn a_key_that_maps_to_nothing_keeps_a_pending_redraw() {
        let mut s = state();
        update(&mut s, samples(0, vec![(0, Sample::good(Value::UInt(5), t(1)))]), t(1001));
        assert!(s.dirty);
        update(&mut s, ch('x'), t(1001));
        assert!(s.dirty, "the new value must still be drawn");
    }

    #[test]
    fn unknown_tags_and_connections_are_ignored() {
        let mut s = state();
        let before = s.plant.store.clone();
        update(&mut s, samples(0, vec![(999, Sample::good(Value::UInt(1), t(1)))]), t(1001));
        update(&mut s, samples(77, vec![(u32::MAX, bad(Reason::Timeout, 1))]), t(1001));
        assert!(!s.dirty);
        assert_eq!(s.plant.store.len(), before.len());
        for i in 0..15 {
            assert_eq!(s.plant.store.get(TagId(i)), before.get(TagId(i)));
        }
        update(&mut s, Msg::Driver(DriverEvent::State { conn: ConnId(9), state: ConnectionState::Connected }), t(1001));
        let stats = Box::new(ConnStats { scans: 3, elapsed: Duration::from_secs(1), ..ConnStats::default() });
        update(&mut s, Msg::Driver(DriverEvent::Stats { conn: ConnId(9), stats }), t(1001));
        let diag = ConnDiagnostics::default();
        update(&mut s, Msg::Driver(DriverEvent::Diagnostics { conn: ConnId(9), diag }), t(1001));
        let raw = RawBlock { unit: 1, table: Table::Holding, start: 0, words: vec![1] };
        update(&mut s, Msg::Driver(DriverEvent::Samples { conn: ConnId(9), samples: vec![], raw: Some(raw) }), t(1001));
        assert!(!s.dirty);
        assert_eq!(s.plant.conns.len(), 2);
        assert!(s.plant.conns.iter().all(|c| c.state == ConnectionState::Connecting && c.diag.plan.is_empty()));
        assert_eq!(s.plant.raw_words(TagId(0)), None, "raw words of an unknown connection belong to no tag");
    }

    #[test]
    fn fresh_refreshes_receive_times_and_redraws_only_what_was_stale() {
        let mut s = state();
        // T00 polled every 1s (stale after 3s): Good at 1000.
        update(&mut s, samples(0, vec![(0, Sample::good(Value::UInt(5), t(1000)))]), t(1000));
        s.dirty = false;
        let fresh = |at: u64| {
            Msg::Driver(DriverEvent::Fresh {
                conn: ConnId(0),
                tags: Arc::from(vec![TagId(0), TagId(99)]),
                recv_ts: t(at),
            })
        };
        update(&mut s, fresh(1001), t(1001));
        assert!(!s.dirty, "a fresh read of a current value changes nothing on screen");
        assert_eq!(s.plant.store.get(TagId(0)).unwrap().recv_ts, t(1001));
        // Ten seconds without a read: shown stale; the next fresh read clears it.
        update(&mut s, fresh(1011), t(1011));
        assert!(s.dirty, "stale → current is a visible change");
        assert_eq!(s.plant.store.get(TagId(0)).unwrap().value, Some(Value::UInt(5)));
    }
}
