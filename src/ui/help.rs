//! The help screen, generated from the key bindings.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::keymap::BINDINGS;
use super::theme::Theme;

/// Lines of the help text (scrolling stops there).
pub const LINES: u16 = BINDINGS.len() as u16 + 10;

pub fn render(theme: Theme, scroll: u16, frame: &mut Frame, area: Rect) {
    let mut lines = vec![Line::styled("Keys", theme.header())];
    for (keys, what) in BINDINGS {
        lines.push(Line::from(vec![Span::styled(format!("  {keys:<18}"), theme.value()), Span::raw(*what)]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Values", theme.header()));
    lines.push(Line::from(vec![
        Span::styled("  !", theme.bad()),
        Span::raw(" bad: not current; the last known value is shown, the reason under Quality"),
    ]));
    lines.push(Line::from(vec![
        Span::styled("  ?", theme.uncertain()),
        Span::raw(" uncertain: e.g. stale, no update for three poll periods"),
    ]));
    lines.push(Line::raw("  ---- no value received yet"));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "No single key writes to a device: a write needs the editor, then a confirmation.",
        theme.muted(),
    ));
    lines.push(Line::styled("Up/Down scroll; any other key closes help.", theme.muted()));
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
