//! The help screen, generated from the key bindings.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::keymap::BINDINGS;
use super::theme::Theme;

/// Lines of the help text (scrolling stops there).
pub fn line_count() -> u16 {
    lines(Theme { color: false }).len() as u16
}

/// A legend entry: the sign, and what it means.
fn legend(sign: &'static str, style: ratatui::style::Style, meaning: &'static str) -> Line<'static> {
    Line::from(vec![Span::styled(format!("  {sign:<18}"), style), Span::raw(meaning)])
}

fn lines(theme: Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled("Keys", theme.header())];
    for (keys, what) in BINDINGS {
        lines.push(Line::from(vec![Span::styled(format!("  {keys:<18}"), theme.value()), Span::raw(*what)]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Values", theme.header()));
    lines.extend([
        legend("!", theme.bad(), "bad: not current; the last known value is shown, the reason under Quality"),
        legend("?", theme.uncertain(), "uncertain: e.g. stale, no update for three poll periods"),
        legend("----", theme.value(), "no value received yet"),
        legend("-1.2346e18~", theme.value(), "rounded to fit the column: the full value is on the detail line"),
        legend("…", theme.value(), "text cut to fit: in full on the detail line"),
        legend("↓ 3 more", theme.notice(), "rows below (or above) the panel; move the selection to see them"),
    ]);
    lines.push(Line::raw(""));
    lines.push(Line::styled("Alarms", theme.header()));
    lines.extend([
        legend("*", theme.value(), "unacknowledged (blinks)"),
        legend("◆ ▲ ■ ●", theme.value(), "priority critical, high, medium, low (CRIT HIGH MED LOW; also colour)"),
        legend("HIHI HI LO LOLO", theme.value(), "beside a value: the limit it is past (ALM discrete, ROC rate,"),
        legend("", theme.value(), "DEV deviation, BAD bad quality); SHLV SUPP OOS shelved, suppressed,"),
        legend("", theme.value(), "out of service"),
        legend("C H M L", theme.value(), "banner: active alarms per priority (critical, high, medium, low)"),
        legend("RTN", theme.value(), "returned to normal, still to be acknowledged"),
        legend("FLOOD", theme.value(), "more than 10 new alarms in the last 10 minutes"),
        legend("BELL x", theme.value(), "the bell rings for unacknowledged alarms: x silences it"),
    ]);
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "No single key writes to a device: a write needs the editor, then a confirmation.",
        theme.muted(),
    ));
    lines.push(Line::styled("Up/Down scroll; any other key closes help.", theme.muted()));
    lines
}

pub fn render(theme: Theme, scroll: u16, frame: &mut Frame, area: Rect) {
    let lines = lines(theme);
    let fits = area.height.saturating_sub(1);
    let width = area.width.max(1) as usize;
    let total = lines.iter().map(|l| l.width().max(1).div_ceil(width)).sum::<usize>() as u16;
    let p = Paragraph::new(lines).wrap(Wrap { trim: false });
    let scroll = scroll.min(total.saturating_sub(fits));
    let more = if total > fits + scroll { " more: Down " } else { "" };
    let block = Block::default()
        .borders(Borders::TOP)
        .title(" Help ")
        .title(Line::styled(more, theme.notice()).right_aligned())
        .border_style(theme.muted());
    frame.render_widget(p.block(block).scroll((scroll, 0)), area);
}
