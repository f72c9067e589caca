//! The help screen, generated from the key bindings.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::keymap::BINDINGS;
use super::theme::Theme;

pub fn render(theme: Theme, frame: &mut Frame, area: Rect) {
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
    lines.push(Line::styled("Press any key to close help.", theme.muted()));
    let p = Paragraph::new(lines)
        .block(Block::default().borders(Borders::TOP).title(" Help ").border_style(theme.muted()))
        .wrap(Wrap { trim: false });
    frame.render_widget(p, area);
}
