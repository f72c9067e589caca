//! The help screen, generated from the key bindings.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::theme::Theme;
use crate::session::help::{HelpLine, Tone};

fn line(theme: Theme, l: HelpLine) -> Line<'static> {
    match l {
        HelpLine::Heading(h) => Line::styled(h, theme.header()),
        HelpLine::Key(keys, what) => {
            Line::from(vec![Span::styled(format!("  {keys:<18}"), theme.value()), Span::raw(what)])
        }
        HelpLine::Legend(sign, tone, meaning) => {
            let style = match tone {
                Tone::Bad => theme.bad(),
                Tone::Uncertain => theme.uncertain(),
                Tone::Value => theme.value(),
                Tone::Notice => theme.notice(),
            };
            Line::from(vec![Span::styled(format!("  {sign:<18}"), style), Span::raw(meaning)])
        }
        HelpLine::Blank => Line::raw(""),
        HelpLine::Note(n) => Line::styled(n, theme.muted()),
    }
}

fn lines(theme: Theme) -> Vec<Line<'static>> {
    crate::session::help::lines().into_iter().map(|l| line(theme, l)).collect()
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
