//! The trend panel and grid sparklines: each pen decimated to screen columns (braille gives two
//! per cell), min and max of every column drawn so a one-sample spike shows; Bad spans are gaps
//! and columns with Bad or Uncertain data are marked `!` / `?` under the plot. Pens have a colour
//! and a number (legend, and at the line's right end), so a monochrome terminal tells them apart.

use std::time::{Duration, SystemTime};

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};

use super::View;
use super::format::with_units;
use super::theme::Theme;
use crate::layout::{Pen, TrendPanel};
use crate::tag::TagId;
use crate::tag::history::{Column, PointQuality, decimate};
use crate::timefmt;

const PEN_COLORS: [Color; 8] = [
    Color::Cyan,
    Color::Yellow,
    Color::Magenta,
    Color::Green,
    Color::LightBlue,
    Color::LightRed,
    Color::White,
    Color::LightGreen,
];
/// Width of the y-axis labels.
const Y_AXIS: u16 = 8;

fn pen_style(theme: Theme, i: usize) -> Style {
    if theme.color { Style::new().fg(PEN_COLORS[i % PEN_COLORS.len()]) } else { Style::new() }
}

/// One pen decimated to the plot, with the range it is drawn in.
struct Drawn {
    cols: Vec<Option<Column>>,
    lo: f64,
    hi: f64,
}

/// Every pen decimated to `n` columns. Pens without a `range` share one axis scaled to all their
/// values (so the axis labels read true for each of them); a pen with a `range` has its own.
fn drawn(state: &View, pens: &[Pen], t0: SystemTime, t1: SystemTime, n: usize) -> Vec<Drawn> {
    let cols: Vec<Vec<Option<Column>>> = pens
        .iter()
        .map(|pen| {
            state
                .plant
                .history
                .series(pen.tag)
                .map(|s| decimate(s, t0, t1, n, state.now))
                .unwrap_or_else(|| vec![None; n])
        })
        .collect();
    let auto: Vec<Option<Column>> =
        pens.iter().zip(&cols).filter(|(p, _)| p.range.is_none()).flat_map(|(_, c)| c.iter().copied()).collect();
    let shared = auto_range(&auto);
    pens.iter()
        .zip(cols)
        .map(|(pen, cols)| {
            let (lo, hi) = pen.range.unwrap_or(shared);
            Drawn { cols, lo, hi }
        })
        .collect()
}

/// The range of the values shown, with a margin; a flat line sits in the middle.
fn auto_range(cols: &[Option<Column>]) -> (f64, f64) {
    let (lo, hi) =
        cols.iter().flatten().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), c| (l.min(c.min), h.max(c.max)));
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < f64::EPSILON * hi.abs().max(1.0) {
        let pad = (hi.abs() * 0.05).max(1.0);
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// A number for an axis label, in at most `w` columns.
fn label(v: f64, w: usize) -> String {
    let mut s = if v.abs() >= 1e6 || (v != 0.0 && v.abs() < 1e-3) { format!("{v:.2e}") } else { format!("{v:.2}") };
    if s.contains('.') && !s.contains('e') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s.chars().count() > w { "#".repeat(w) } else { s }
}

fn value_text(state: &View, tag: TagId, v: Option<f64>) -> String {
    with_units(state.layout.tag(tag), v.map(crate::tag::Value::Float).as_ref())
}

pub fn render(state: &View, panel: &TrendPanel, theme: Theme, frame: &mut Frame, area: Rect) {
    let view = &state.trend;
    let window = view.window(panel);
    let t1 = view.end(state.now);
    let t0 = t1.checked_sub(window).unwrap_or(t1);
    let mode = match (view.cursor, view.end) {
        (Some(_), _) => "frozen, cursor".to_string(),
        (None, Some(_)) => "paused (l: live)".to_string(),
        (None, None) => "live".to_string(),
    };
    let title = format!(
        " {} · {} · {mode} ",
        panel.title.as_deref().unwrap_or("Trend"),
        crate::layout::duration::format_duration(window)
    );
    let block =
        Block::default().borders(Borders::TOP).border_style(theme.muted()).title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 4 || inner.width < Y_AXIS + 10 {
        frame.render_widget(Line::styled("too small for a trend", theme.muted()), inner);
        return;
    }
    let [legend_area, plot_row, axis_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let [_, quality_area] = Layout::horizontal([Constraint::Length(Y_AXIS), Constraint::Min(1)]).areas(axis_area);
    let [yaxis_area, plot_area] = Layout::horizontal([Constraint::Length(Y_AXIS), Constraint::Min(1)]).areas(plot_row);
    let n = plot_area.width as usize * 2;
    let pens = drawn(state, &panel.pens, t0, t1, n);

    legend(state, panel, &pens, theme, frame, legend_area);
    y_axis(&pens, theme, frame, yaxis_area);
    plot(&pens, theme, frame, plot_area);
    quality_strip(state, &pens, (t0, t1), theme, frame, quality_area);
}

/// `1 P_101 6.25 bar  2 T_102 182.5 degC …`: the current values, or the values at the cursor.
fn legend(state: &View, panel: &TrendPanel, pens: &[Drawn], theme: Theme, frame: &mut Frame, area: Rect) {
    let mut spans = Vec::new();
    if let Some(c) = state.trend.cursor {
        spans.push(Span::styled(format!("@{} ", timefmt::clock(c, state.utc_offset)), theme.notice()));
    }
    for (i, (pen, d)) in panel.pens.iter().zip(pens).enumerate() {
        let name = &state.layout.tag(pen.tag).name;
        let shown = match state.trend.cursor {
            Some(c) => match state.plant.history.series(pen.tag).and_then(|s| s.at(c)) {
                Some(p) if p.quality == PointQuality::Bad => "!bad".to_string(),
                Some(p) => format!(
                    "{}{}",
                    if p.quality == PointQuality::Uncertain { "?" } else { "" },
                    value_text(state, pen.tag, p.usable())
                ),
                None => "no data".to_string(),
            },
            None => value_text(
                state,
                pen.tag,
                state.plant.store.get(pen.tag).and_then(|s| s.value.as_ref()).and_then(|v| v.as_f64()),
            ),
        };
        let range =
            if pen.range.is_some() { format!(" [{}…{}]", label(d.lo, 8), label(d.hi, 8)) } else { String::new() };
        spans.push(Span::styled(
            format!("{} ", i + 1),
            pen_style(theme, i).add_modifier(ratatui::style::Modifier::BOLD),
        ));
        spans.push(Span::styled(format!("{name} {shown}{range}  "), pen_style(theme, i)));
    }
    frame.render_widget(Line::from(spans), area);
}

/// Top, middle and bottom of the first pen's range (the legend gives fixed ranges of the others).
fn y_axis(pens: &[Drawn], theme: Theme, frame: &mut Frame, area: Rect) {
    let Some(p) = pens.first() else { return };
    let w = area.width.saturating_sub(1) as usize;
    let rows = [(0, p.hi), (area.height / 2, (p.lo + p.hi) / 2.0), (area.height.saturating_sub(1), p.lo)];
    for (dy, v) in rows {
        let r = Rect { x: area.x, y: area.y + dy, width: area.width, height: 1 };
        frame.render_widget(Line::styled(format!("{:>w$}┤", label(v, w)), theme.muted()), r);
    }
}

/// The bit of braille dot (x, y) of a cell, x in 0..2 from the left, y in 0..4 from the top.
const DOTS: [[u8; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];

/// Rasterises every pen into braille cells (2 x 4 dots each): each dot column gets the dots from
/// its min to its max. A cell takes the colour of the last pen that set a dot in it.
fn plot(pens: &[Drawn], theme: Theme, frame: &mut Frame, area: Rect) {
    let (w, h) = (area.width as usize, area.height as usize);
    let dots_high = h * 4;
    let mut cells = vec![(0u8, None::<usize>); w * h];
    for (i, p) in pens.iter().enumerate() {
        let span = p.hi - p.lo;
        // Dot row of a value: 0 at the top.
        let row = |v: f64| {
            let f = ((v - p.lo) / span).clamp(0.0, 1.0);
            ((1.0 - f) * (dots_high - 1) as f64).round() as usize
        };
        for (x, c) in p.cols.iter().enumerate() {
            let Some(c) = c.filter(|c| c.min.is_finite() && c.max.is_finite()) else { continue };
            let (top, bottom) = (row(c.max), row(c.min));
            for y in top..=bottom {
                if let Some(cell) = cells.get_mut(y / 4 * w + x / 2) {
                    cell.0 |= DOTS[x % 2][y % 4];
                    cell.1 = Some(i);
                }
            }
        }
    }
    let buf = frame.buffer_mut();
    for (k, (bits, pen)) in cells.into_iter().enumerate() {
        let Some(pen) = pen else { continue };
        let pos = (area.x + (k % w) as u16, area.y + (k / w) as u16);
        if let Some(cell) = buf.cell_mut(pos) {
            cell.set_char(char::from_u32(0x2800 + u32::from(bits)).unwrap_or(' '));
            cell.set_style(pen_style(theme, pen));
        }
    }
    // Each pen's number at its newest point, so pens are told apart without colour.
    for (i, p) in pens.iter().enumerate() {
        let newest = p.cols.iter().enumerate().rev().find_map(|(x, c)| c.filter(|c| c.max.is_finite()).map(|c| (x, c)));
        let Some((x, c)) = newest else { continue };
        let span = p.hi - p.lo;
        let fy = ((c.max - p.lo) / span).clamp(0.0, 1.0);
        let cx = area.x + (x / 2) as u16;
        let cy = area.y + ((1.0 - fy) * (area.height.saturating_sub(1)) as f64).round() as u16;
        if cx < area.right() && cy < area.bottom() {
            let cell = Rect { x: cx, y: cy, width: 1, height: 1 };
            frame.render_widget(Span::styled(format!("{}", i + 1), pen_style(theme, i)), cell);
        }
    }
}

/// The time axis (left, middle, right, local time) with `!`/`?` under columns whose data was Bad
/// or Uncertain, and `^` at the cursor.
fn quality_strip(
    state: &View,
    pens: &[Drawn],
    span: (SystemTime, SystemTime),
    theme: Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let (t0, t1) = span;
    let w = area.width as usize;
    let mut marks = vec![' '; w];
    for p in pens {
        for (x, c) in p.cols.iter().enumerate() {
            let m = match c.map(|c| c.quality) {
                Some(PointQuality::Bad) => '!',
                Some(PointQuality::Uncertain) => '?',
                _ => continue,
            };
            if let Some(cell) = marks.get_mut(x / 2)
                && *cell != '!'
            {
                *cell = m;
            }
        }
    }
    // Times first, then the quality marks over them: a mark matters more than a label.
    let clock = |t: SystemTime| timefmt::clock(t, state.utc_offset);
    let mut text: Vec<char> = vec![' '; w];
    let put = |text: &mut Vec<char>, at: usize, s: &str| {
        for (i, ch) in s.chars().enumerate() {
            if let Some(c) = text.get_mut(at + i) {
                *c = ch;
            }
        }
    };
    let mid = t0 + t1.duration_since(t0).unwrap_or_default() / 2;
    put(&mut text, 0, &clock(t0));
    if w > 30 {
        put(&mut text, w / 2 - 4, &clock(mid));
    }
    if w > 18 {
        put(&mut text, w - 8, &clock(t1));
    }
    for (c, m) in text.iter_mut().zip(marks) {
        if m != ' ' {
            *c = m;
        }
    }
    if let Some(c) = state.trend.cursor {
        let span = t1.duration_since(t0).unwrap_or_default().as_secs_f64();
        let f = c.duration_since(t0).unwrap_or_default().as_secs_f64() / span.max(f64::EPSILON);
        let x = ((f * w as f64) as usize).min(w.saturating_sub(1));
        put(&mut text, x, "^");
    }
    frame.render_widget(Line::styled(text.into_iter().collect::<String>(), theme.muted()), area);
}

/// A sparkline of a tag's recent history in `width` columns: `▁▂▃▄▅▆▇█`, blank where there is no
/// data, `!` where the data was Bad.
pub fn sparkline(state: &View, tag: TagId, width: usize, span: Duration) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let Some(s) = state.plant.history.series(tag) else { return " ".repeat(width) };
    let t1 = state.now;
    let t0 = t1.checked_sub(span).unwrap_or(t1);
    let cols = decimate(s, t0, t1, width, t1);
    let (lo, hi) = auto_range(&cols);
    cols.iter()
        .map(|c| match c {
            None => ' ',
            Some(c) if !c.min.is_finite() => '!',
            Some(c) => {
                let f = ((c.max - lo) / (hi - lo)).clamp(0.0, 1.0);
                BARS[((f * 7.0).round() as usize).min(7)]
            }
        })
        .collect()
}
