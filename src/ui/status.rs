//! The status bar: connections with state and scan rate, user, READ-ONLY, clock.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::theme::Theme;
use crate::app::state::State;
use crate::driver::ConnectionState;
use crate::timefmt;

pub fn render(state: &State, theme: Theme, frame: &mut Frame, area: Rect) {
    // (abnormal?, text, style) per connection.
    let mut conns: Vec<(bool, String, ratatui::style::Style)> = Vec::new();
    for (c, view) in state.layout.connections.iter().zip(&state.conns) {
        conns.push(match &view.state {
            ConnectionState::Connected => (false, format!("{} up {:.1}/s", c.name, view.scan_rate), theme.ok()),
            ConnectionState::Connecting => (true, format!("{} connecting", c.name), theme.uncertain()),
            ConnectionState::Disconnected { retry_in, .. } => {
                (true, format!("{} DOWN! retry {}", c.name, timefmt::short(*retry_in)), theme.bad())
            }
            ConnectionState::Stopped => (true, format!("{} stopped", c.name), theme.muted()),
        });
    }
    let mut right: Vec<Span> = Vec::new();
    if state.read_only {
        right.push(Span::styled(" READ-ONLY ", theme.notice()));
        right.push(Span::raw(" "));
    }
    if let Some(pin) = &state.demo_pin {
        right.push(Span::styled(format!(" demo PIN {pin} "), theme.notice()));
        right.push(Span::raw(" "));
    }
    right.push(Span::styled(format!("{} ({}) ", state.user, state.identity.role), theme.muted()));
    right.push(Span::styled(timefmt::clock(state.now, state.utc_offset), theme.value()));
    right.push(Span::raw(" "));
    let right_width: usize = right.iter().map(|s| s.width()).sum();
    let avail = (area.width as usize).saturating_sub(right_width);
    // Connections first, separated by " | "; when they do not all fit, abnormal ones go first
    // and the rest is cut with "…".
    let total: usize = conns.iter().map(|(_, t, _)| t.chars().count() + 3).sum();
    if total > avail {
        conns.sort_by_key(|(abnormal, _, _)| !*abnormal);
    }
    let mut used = 0;
    let mut shown: Vec<Span> = Vec::new();
    for (i, (_, text, style)) in conns.into_iter().enumerate() {
        let sep = if i == 0 { 0 } else { 3 };
        let w = text.chars().count() + sep;
        if used + w > avail {
            if avail > used + 2 {
                shown.push(Span::styled(" …", theme.muted()));
                used += 2;
            }
            break;
        }
        if sep > 0 {
            shown.push(Span::styled(" | ", theme.muted()));
        }
        used += w;
        shown.push(Span::styled(text, style));
    }
    shown.push(Span::raw(" ".repeat(avail.saturating_sub(used))));
    shown.extend(right);
    frame.render_widget(Line::from(shown), area);
}
