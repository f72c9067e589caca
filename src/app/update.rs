//! `update`: the only place state changes. Pure: no I/O, no clock; time comes in as `now`.

use std::time::SystemTime;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::msg::{Effect, Msg};
use super::state::State;
use crate::driver::DriverEvent;
use crate::ui::keymap::{Action, action};

/// Rows moved by PgUp/PgDn.
const PAGE: usize = 10;

pub fn update(state: &mut State, msg: Msg, now: SystemTime) -> Vec<Effect> {
    state.now = now;
    match msg {
        Msg::Tick | Msg::Resize => {
            state.dirty = true;
            Vec::new()
        }
        Msg::Signal(_) => quit(state),
        Msg::Driver(e) => {
            driver_event(state, e);
            Vec::new()
        }
        Msg::Key(k) => key(state, k),
    }
}

fn quit(state: &mut State) -> Vec<Effect> {
    state.quit = true;
    vec![Effect::Quit]
}

/// Driver events mark the screen dirty only for what an operator sees change at once: values,
/// qualities and connection states. Statistics, raw words and the plan are shown as of the last
/// clock tick, so an idle console draws once a second and no more.
fn driver_event(state: &mut State, e: DriverEvent) {
    match e {
        DriverEvent::Samples { conn, samples, raw } => {
            for (id, s) in samples {
                state.dirty |= state.store.apply(id, s);
            }
            if let Some(r) = raw {
                state.raw.insert((conn, r.unit, r.table, r.start), r.words);
            }
        }
        DriverEvent::State { conn, state: s } => {
            if let Some(c) = state.conns.get_mut(conn.index())
                && c.state != s
            {
                c.state = s;
                state.dirty = true;
            }
        }
        DriverEvent::Stats { conn, stats } => {
            if let Some(c) = state.conns.get_mut(conn.index()) {
                let dt = stats.elapsed.saturating_sub(c.stats.elapsed).as_secs_f64();
                if dt > 0.0 {
                    c.scan_rate = stats.scans.saturating_sub(c.stats.scans) as f64 / dt;
                }
                c.stats = *stats;
            }
        }
        DriverEvent::Plan { conn, blocks } => {
            if let Some(c) = state.conns.get_mut(conn.index()) {
                c.plan = blocks;
                // A split block changes which raw blocks exist.
                state.raw.retain(|k, _| k.0 != conn);
            }
        }
    }
}

fn key(state: &mut State, k: KeyEvent) -> Vec<Effect> {
    if k.kind == KeyEventKind::Release {
        return Vec::new();
    }
    state.dirty = true;
    if state.filter_editing {
        match k.code {
            KeyCode::Esc => {
                state.filter.clear();
                state.filter_editing = false;
            }
            KeyCode::Enter => state.filter_editing = false,
            KeyCode::Backspace => {
                state.filter.pop();
            }
            KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => return quit(state),
            KeyCode::Char(c) if !c.is_control() && state.filter.chars().count() < 64 => state.filter.push(c),
            _ => {}
        }
        state.selected = 0;
        return Vec::new();
    }
    let Some(a) = action(&k) else {
        state.dirty = false;
        return Vec::new();
    };
    if state.help && !matches!(a, Action::Quit) {
        // Any key closes help.
        state.help = false;
        return Vec::new();
    }
    let screens = state.layout.screens.len().max(1);
    let rows = state.visible_rows().len();
    match a {
        Action::Quit => return quit(state),
        Action::Back => {
            if !state.filter.is_empty() {
                state.filter.clear();
            } else if state.diagnostics {
                state.diagnostics = false;
            } else {
                return quit(state);
            }
        }
        Action::Help => state.help = true,
        Action::NextScreen | Action::PrevScreen => {
            let cur = state.screen;
            state.screen = if a == Action::NextScreen { (cur + 1) % screens } else { (cur + screens - 1) % screens };
            state.diagnostics = false;
            state.selected = 0;
        }
        Action::Screen(i) => {
            if i < state.layout.screens.len() {
                state.screen = i;
                state.diagnostics = false;
                state.selected = 0;
            }
        }
        Action::Diagnostics => {
            // Keep the selection: diagnostics show the tag selected on the screen.
            state.diagnostics = !state.diagnostics;
        }
        Action::Up => state.selected = state.selected.saturating_sub(1),
        Action::Down => state.selected = (state.selected + 1).min(rows.saturating_sub(1)),
        Action::PageUp => state.selected = state.selected.saturating_sub(PAGE),
        Action::PageDown => state.selected = (state.selected + PAGE).min(rows.saturating_sub(1)),
        Action::Top => state.selected = 0,
        Action::Bottom => state.selected = rows.saturating_sub(1),
        Action::Filter => {
            if !state.diagnostics {
                state.filter_editing = true;
            }
        }
    }
    Vec::new()
}
