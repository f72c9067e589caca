//! The status bar: connections with state and scan rate (and why one is down), READ-ONLY, the
//! demo PIN, user, clock.
//!
//! When the line is short, what goes first is what matters least: a connection that is down,
//! and why, is never dropped for the demo PIN or the user name. READ-ONLY and the clock stay.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::View;
use super::format::{fit_text, width};
use super::theme::Theme;
use crate::plant::ConnectionState;
use crate::sanitize::clean;
use crate::timefmt;

/// A connection as the status bar shows it.
struct Conn {
    abnormal: bool,
    /// With the reason when it is down.
    full: String,
    /// The least it may be cut to.
    least: String,
    style: Style,
}

fn conns(state: &View, theme: Theme) -> Vec<Conn> {
    let conn = |abnormal, full: String, least: String, style| Conn { abnormal, full, least, style };
    state
        .layout
        .connections
        .iter()
        .zip(&state.plant.conns)
        .map(|(c, view)| match &view.state {
            ConnectionState::Connected => {
                conn(false, format!("{} up {:.1}/s", c.name, view.scan_rate), format!("{} up", c.name), theme.ok())
            }
            ConnectionState::Connecting => {
                conn(true, format!("{} connecting", c.name), format!("{} conn…", c.name), theme.uncertain())
            }
            ConnectionState::Disconnected { reason, retry_in } => conn(
                true,
                format!("{} DOWN: {} · retry {}", c.name, clean(reason), timefmt::short(*retry_in)),
                format!("{} DOWN!", c.name),
                theme.bad(),
            ),
            ConnectionState::Stopped => conn(true, format!("{} stopped", c.name), c.name.clone(), theme.muted()),
        })
        .collect()
}

pub fn render(state: &View, theme: Theme, frame: &mut Frame, area: Rect) {
    let w = area.width as usize;
    let mut conns = conns(state, theme);
    let sep = 3; // " | "
    let total = |cs: &[Conn], f: fn(&Conn) -> usize| cs.iter().map(f).sum::<usize>() + sep * cs.len().saturating_sub(1);
    // The right side: READ-ONLY and the clock always; the demo PIN and the user when the
    // connections that are not up still fit whole.
    let clock = Span::styled(format!("{} ", timefmt::clock(state.now, state.utc_offset)), theme.value());
    let read_only = state.read_only.then(|| Span::styled(" READ-ONLY  ", theme.notice()));
    let pin = state.demo_pin.as_ref().map(|p| Span::styled(format!(" demo PIN {p}  "), theme.notice()));
    let user = Span::styled(format!("{} ({}) ", state.identity.user, state.identity.role), theme.muted());
    let abnormal: Vec<&Conn> = conns.iter().filter(|c| c.abnormal).collect();
    let needed = abnormal.iter().map(|c| width(&c.full)).sum::<usize>() + sep * abnormal.len().saturating_sub(1);
    let mut right: Vec<Span> = read_only.into_iter().collect();
    let fixed = right.iter().map(Span::width).sum::<usize>() + clock.width();
    let mut optional = [pin, Some(user)].into_iter().flatten().collect::<Vec<_>>();
    while !optional.is_empty() && fixed + optional.iter().map(Span::width).sum::<usize>() + needed + 1 > w {
        // The user goes before the demo PIN.
        optional.pop();
    }
    right.extend(optional);
    right.push(clock);
    let room = w.saturating_sub(right.iter().map(Span::width).sum::<usize>() + 1);
    // Connections in layout order when they all fit, else the ones that are not up first.
    if total(&conns, |c| width(&c.full)) > room {
        conns.sort_by_key(|c| !c.abnormal);
    }
    let mut spans = connection_spans(&conns, room, theme);
    let used: usize = spans.iter().map(Span::width).sum();
    spans.push(Span::raw(" ".repeat(w.saturating_sub(used + right.iter().map(Span::width).sum::<usize>()))));
    spans.extend(right);
    frame.render_widget(Line::from(spans), area);
}

/// The connections in `room` columns: each whole while it fits, one that is not up cut (with
/// `…`, down to its name and state) rather than left out, the rest left out with ` …`.
fn connection_spans(conns: &[Conn], room: usize, theme: Theme) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut used = 0;
    for (i, c) in conns.iter().enumerate() {
        let sep = if i == 0 { 0 } else { 3 };
        // Room for ` …` after it when more connections follow.
        let more = if i + 1 < conns.len() { 2 } else { 0 };
        let whole_fits = width(&c.full) + used + sep + more <= room || i + 1 == conns.len();
        let left = room.saturating_sub(used + sep + if whole_fits { 0 } else { more });
        let text = if width(&c.full) <= left {
            c.full.clone()
        } else if c.abnormal && width(&c.least) <= left {
            fit_text(&c.full, left)
        } else {
            if room >= used + 2 {
                spans.push(Span::styled(" …", theme.muted()));
            }
            break;
        };
        if sep > 0 {
            spans.push(Span::styled(" | ", theme.muted()));
        }
        used += sep + width(&text);
        spans.push(Span::styled(text, c.style));
    }
    spans
}
