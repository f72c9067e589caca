//! The status bar: connections with state and scan rate, user, READ-ONLY, clock.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::theme::Theme;
use crate::app::state::State;
use crate::driver::ConnectionState;
use crate::timefmt;

pub fn render(state: &State, theme: Theme, frame: &mut Frame, area: Rect) {
    let mut left: Vec<Span> = Vec::new();
    for (c, view) in state.layout.connections.iter().zip(&state.conns) {
        let (text, style) = match &view.state {
            ConnectionState::Connected => (format!("{} up {:.1}/s", c.name, view.scan_rate), theme.ok()),
            ConnectionState::Connecting => (format!("{} connecting", c.name), theme.uncertain()),
            ConnectionState::Disconnected { retry_in, .. } => {
                (format!("{} DOWN! retry {}", c.name, timefmt::short(*retry_in)), theme.bad())
            }
            ConnectionState::Stopped => (format!("{} stopped", c.name), theme.muted()),
        };
        left.push(Span::styled(text, style));
        left.push(Span::styled(" | ", theme.muted()));
    }
    let mut right: Vec<Span> = Vec::new();
    if state.read_only {
        right.push(Span::styled(" READ-ONLY ", theme.notice()));
        right.push(Span::raw(" "));
    }
    right.push(Span::styled(format!("{} ", state.user), theme.muted()));
    right.push(Span::styled(timefmt::clock(state.now, state.utc_offset), theme.value()));
    right.push(Span::raw(" "));
    let right_width: usize = right.iter().map(|s| s.width()).sum();
    let avail = (area.width as usize).saturating_sub(right_width);
    // Connections first; cut them with "…" if they do not fit.
    let mut used = 0;
    let mut shown: Vec<Span> = Vec::new();
    for s in left {
        let w = s.width();
        if used + w > avail {
            if avail > used {
                shown.push(Span::styled("…", theme.muted()));
                used += 1;
            }
            break;
        }
        used += w;
        shown.push(s);
    }
    shown.push(Span::raw(" ".repeat(avail.saturating_sub(used))));
    shown.extend(right);
    frame.render_widget(Line::from(shown), area);
}
