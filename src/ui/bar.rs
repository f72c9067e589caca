//! The bar panel (an ISA-101 analog indicator): the value as a bar across its range, the normal
//! band and alarm limits marked on the scale under it, a value outside the band flagged by a
//! glyph (`▲` above, `▼` below) as well as colour.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};

use super::View;
use super::format::{shown_quality, value_text};
use super::theme::{Theme, quality_glyph};
use crate::alarm::{LimitKind, RuleKind};
use crate::layout::BarPanel;
use crate::tag::Quality;

/// Rows a bar panel takes: title, bar, scale.
pub const HEIGHT: u16 = 3;

/// Alarm limits of the tag: (value, mark).
fn limits(state: &View, panel: &BarPanel) -> Vec<(f64, char)> {
    state
        .layout
        .alarms
        .iter()
        .filter(|r| r.tag == panel.tag)
        .filter_map(|r| match r.kind {
            RuleKind::Limit { kind, limit } => {
                Some((limit, if matches!(kind, LimitKind::HiHi | LimitKind::Hi) { 'H' } else { 'L' }))
            }
            _ => None,
        })
        .collect()
}

pub fn render(state: &View, panel: &BarPanel, theme: Theme, frame: &mut Frame, area: Rect) {
    let tag = state.layout.tag(panel.tag);
    let title = format!(" {} ", panel.title.as_deref().unwrap_or(&tag.name));
    let block =
        Block::default().borders(Borders::TOP).border_style(theme.muted()).title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width < 20 {
        return;
    }
    let sample = state.plant.store.get(panel.tag).cloned().unwrap_or_else(|| crate::tag::Sample::no_data(state.now));
    let q = shown_quality(tag, &sample, state.now);
    let v = sample.value.as_ref().and_then(|v| v.as_f64()).filter(|v| v.is_finite());
    let (lo, hi) = panel.range;
    let out = match (v, panel.normal) {
        (Some(v), Some((_, nhi))) if v > nhi => Some('▲'),
        (Some(v), Some((nlo, _))) if v < nlo => Some('▼'),
        _ => None,
    };
    let value = format!("{}{} {}", quality_glyph(&q), value_text(tag, &sample), tag.units);
    let value_w = 16usize.max(value.chars().count() + 2);
    let w = (inner.width as usize).saturating_sub(value_w + 2);
    let pos = |x: f64| (((x - lo) / (hi - lo)).clamp(0.0, 1.0) * w as f64).round() as usize;

    // The bar: filled up to the value, hatched when the value cannot be trusted.
    let fill = v.map(pos).unwrap_or(0);
    let (full, empty) = if matches!(q, Quality::Good) { ('█', '·') } else { ('░', '·') };
    let bar: String = (0..w).map(|i| if i < fill { full } else { empty }).collect();
    let bar_style = match (&q, out) {
        (Quality::Bad(_), _) => theme.bad(),
        (Quality::Uncertain(_), _) => theme.uncertain(),
        (_, Some(_)) => theme.notice(),
        _ => theme.value(),
    };
    let mark = out.map(|c| format!(" {c}")).unwrap_or_else(|| "  ".into());
    let line = Line::from(vec![
        Span::styled("▕", theme.muted()),
        Span::styled(bar, bar_style),
        Span::styled("▏", theme.muted()),
        Span::styled(mark, theme.notice()),
        Span::styled(format!("{value:>value_w$}", value_w = value_w - 2), theme.quality(&q)),
    ]);
    frame.render_widget(line, Rect { height: 1, ..inner });
    if inner.height < 2 {
        return;
    }
    // The scale: range ends, the normal band as [ ], alarm limits as H / L.
    let mut scale: Vec<char> = vec![' '; w + 2];
    if let Some((nlo, nhi)) = panel.normal {
        let (a, b) = (pos(nlo) + 1, pos(nhi) + 1);
        for c in scale.iter_mut().take(b).skip(a) {
            *c = '─';
        }
        scale[a.min(w + 1)] = '[';
        scale[b.min(w + 1)] = ']';
    }
    for (l, m) in limits(state, panel) {
        if (lo..=hi).contains(&l) {
            scale[(pos(l) + 1).min(w + 1)] = m;
        }
    }
    let scale: String = scale.into_iter().collect();
    let ends = format!("  {} … {}", trim(lo), trim(hi));
    let r = Rect { y: inner.y + 1, height: 1, ..inner };
    frame.render_widget(Line::from(vec![Span::styled(scale, theme.muted()), Span::styled(ends, theme.muted())]), r);
}

fn trim(v: f64) -> String {
    let s = format!("{v}");
    if s.len() > 10 { format!("{v:.3e}") } else { s }
}
