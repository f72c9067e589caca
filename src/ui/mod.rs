//! Rendering: pure functions from a session and the plant to a frame. Nothing here mutates
//! state or does I/O.

pub mod alarms;
pub mod bar;
pub mod diagnostics;
pub mod dialog;
pub mod format;
pub mod grid;
pub mod help;
pub mod screen;
pub mod status;
pub mod theme;
pub mod trend;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::plant::Plant;
use crate::session::state::{Overlay, Session};
use theme::Theme;

/// What one session sees: its own state over the shared plant. Reads as the session (its
/// screen, selection, filter, dialogs); the plant's values and alarms are in `plant`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub session: &'a Session,
    pub plant: &'a Plant,
}

impl std::ops::Deref for View<'_> {
    type Target = Session;

    fn deref(&self) -> &Session {
        self.session
    }
}

/// Draws the whole console as `session` sees it.
pub fn render(session: &Session, plant: &Plant, frame: &mut Frame) {
    let view = View { session, plant };
    let state = &view;
    let theme = Theme { color: state.color };
    let area = frame.area();
    if area.width < 20 || area.height < 5 {
        frame.render_widget(Line::from("too small"), area);
        return;
    }
    // The message line: the last write result or denial; else why writing is off, when it
    // matters (an operator who cannot write, or a users file that was refused).
    let lock = state.write_lock(plant);
    let message = state.message.is_some()
        || lock.is_some()
            && (state.identity.role.at_least(crate::auth::Role::Operator) || state.identity.warning().is_some());
    let message_line = message.then(|| match &state.message {
        Some(m) => Line::styled(
            format!("{}{}", if m.bad { "! " } else { "" }, m.text),
            if m.bad { theme.bad() } else { theme.value() },
        ),
        None => {
            Line::styled(format!("writing is off: {}", lock.map(|l| l.to_string()).unwrap_or_default()), theme.notice())
        }
    });
    let message_rows = match &message_line {
        Some(l) if l.width() > area.width as usize => 2,
        Some(_) => 1,
        None => 0,
    };
    // The alarm banner, on every screen of a layout with alarms.
    let banner = !state.layout.alarms.is_empty();
    let [top, banner_area, main, msg, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(banner)),
        Constraint::Min(1),
        // A long message (an export path) wraps onto a second line rather than being cut.
        Constraint::Length(message_rows),
        Constraint::Length(1),
    ])
    .areas(area);
    tabs(state, theme, frame, top);
    if banner {
        alarms::render_banner(state, theme, frame, banner_area);
    }
    if let Overlay::Help { scroll } = state.overlay {
        help::render(theme, scroll, frame, main);
    } else if state.diagnostics {
        diagnostics::render(state, theme, frame, main);
    } else {
        screen::render(state, theme, frame, main);
    }
    match &state.overlay {
        Overlay::Write(d) => dialog::render(state, d, theme, frame, main),
        Overlay::Alarm(d) => alarms::render_dialog(state, d, theme, frame, main),
        Overlay::Quit => quit_question(theme, frame, main),
        Overlay::None | Overlay::Help { .. } | Overlay::Filter => {}
    }
    if let Some(line) = message_line {
        frame.render_widget(Paragraph::new(line).wrap(Wrap { trim: false }), msg);
    }
    status::render(state, theme, frame, bottom);
}

/// "Quit the console? y/n", over the screen.
fn quit_question(theme: Theme, frame: &mut Frame, area: Rect) {
    let lines = vec![
        Line::styled("Quit the console? y/n", theme.header()),
        Line::styled("y or q: quit · any other key: stay", theme.muted()),
    ];
    dialog::boxed(frame, area, Line::raw(""), theme.notice(), Vec::new(), lines);
}

/// The top line: layout title and screen tabs.
/// When the full line does not fit, only the active tab keeps its title (the others show their
/// number), so every screen stays reachable at a glance on 80 columns.
fn tabs(state: &View, theme: Theme, frame: &mut Frame, area: Rect) {
    let line = |short: bool| {
        let mut spans = vec![Span::styled(format!(" {} ", state.layout.title), theme.title()), Span::raw(" ")];
        for (i, s) in state.layout.screens.iter().enumerate() {
            let active = !state.diagnostics && !state.help() && i == state.screen;
            let label = if short && !active { format!(" {} ", i + 1) } else { format!(" {} {} ", i + 1, s.title) };
            spans.push(Span::styled(label, if active { theme.active_tab() } else { theme.muted() }));
        }
        let diag = state.diagnostics && !state.help();
        let d = if short && !diag { " d " } else { " d Diagnostics " };
        spans.push(Span::styled(d, if diag { theme.active_tab() } else { theme.muted() }));
        spans.push(Span::styled(if short { " ?" } else { "  ? help" }, theme.muted()));
        Line::from(spans)
    };
    let full = line(false);
    let l = if full.width() <= area.width as usize { full } else { line(true) };
    frame.render_widget(l, area);
}
