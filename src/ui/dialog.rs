//! The write dialog: editor, confirmation (tag, description, connection and address, current →
//! new with units, the raw value sent, the user's role; PIN masked), and the wait for the device.
//!
//! Every dialog is drawn by [`boxed`]: long lines wrap, the box grows to fit, and its input and
//! key lines are always on screen, even when the lines above them (a long OPC UA node id) must
//! give up room.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::View;
use super::format::width;
use super::theme::Theme;
use crate::layout::{Tag, TagSource};
use crate::session::write::{Confirm, DIALOG_TIMEOUT, Dialog};

/// Widest a dialog grows.
const MAX_WIDTH: u16 = 78;

/// Rows a line takes when word-wrapped to `inner` columns as ratatui wraps (a word longer than a
/// row is broken).
fn line_rows(line: &Line, inner: u16) -> u16 {
    let inner = inner.max(1) as usize;
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    let (mut rows, mut col) = (1usize, 0usize);
    for word in text.split(' ') {
        let w = width(word);
        if col > 0 && col + 1 + w <= inner {
            col += 1 + w;
            continue;
        }
        if col > 0 {
            rows += 1;
        }
        // A word longer than a row takes several.
        rows += w.saturating_sub(1) / inner;
        col = if w == 0 { 0 } else { (w - 1) % inner + 1 };
    }
    rows as u16
}

fn wrapped_rows(lines: &[Line], inner: u16) -> u16 {
    lines.iter().map(|l| line_rows(l, inner)).sum()
}

/// A bordered box centred in `area`: `info` (wrapped; cut at its end when the screen is too
/// short), then `fixed` (wrapped, always shown: the input line, errors, the keys).
pub(super) fn boxed(frame: &mut Frame, area: Rect, title: Line, border: Style, info: Vec<Line>, fixed: Vec<Line>) {
    let inner = fitted_width(area, &title, &info.iter().chain(fixed.iter()).collect::<Vec<_>>());
    // Borders and a column of padding on each side.
    let w = inner + 4;
    let (fixed_rows, info_rows) = (wrapped_rows(&fixed, inner), wrapped_rows(&info, inner));
    let h = (info_rows + fixed_rows + 2).min(area.height);
    let r = Rect {
        x: area.x + area.width.saturating_sub(w) / 2,
        y: area.y + area.height.saturating_sub(h) / 2,
        width: w,
        height: h,
    };
    frame.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .padding(ratatui::widgets::Padding::horizontal(1))
        .title(title)
        .border_style(border);
    let inside = block.inner(r);
    frame.render_widget(block, r);
    // The fixed lines from the bottom up: the key line is the last to go.
    let mut bottom = inside.y + inside.height;
    for line in fixed.into_iter().rev() {
        let rows = line_rows(&line, inside.width).min(bottom - inside.y);
        if rows == 0 {
            break;
        }
        bottom -= rows;
        let at = Rect { y: bottom, height: rows, ..inside };
        frame.render_widget(Paragraph::new(line).wrap(Wrap { trim: false }), at);
    }
    let info_area = Rect { height: bottom - inside.y, ..inside };
    frame.render_widget(Paragraph::new(info).wrap(Wrap { trim: false }), info_area);
}

/// Width of a box in `area` inside its borders and padding, at most that of a full-size box.
fn inner_width(area: Rect) -> u16 {
    area.width.saturating_sub(2).clamp(20, MAX_WIDTH).min(area.width).saturating_sub(4)
}

/// Width inside its borders of a box for these lines: as wide as its widest line (and its
/// title), within [`inner_width`].
fn fitted_width(area: Rect, title: &Line, lines: &[&Line]) -> u16 {
    let widest = lines.iter().map(|l| l.width()).chain([title.width() + 2]).max().unwrap_or(0);
    (widest as u16).clamp(18.min(inner_width(area)), inner_width(area))
}

/// `text` in at most `room` characters: when longer, its start and its end with `…` between, so
/// two long node ids that differ only at their end still read differently.
fn middle_cut(text: &str, room: usize) -> String {
    let n = text.chars().count();
    if n <= room || room < 3 {
        return text.to_string();
    }
    let tail = (room - 1) / 2;
    let head = room - 1 - tail;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

pub fn render(state: &View, dialog: &Dialog, theme: Theme, frame: &mut Frame, area: Rect) {
    let tag = state.layout.tag(dialog.tag());
    // A line that names a node (or the request) gets at most two rows: an OPC UA node id may be
    // thousands of characters, and the lines under it must stay on screen.
    let two_rows = (2 * inner_width(area) as usize).saturating_sub(11);
    let kv = move |k: &str, v: String| {
        Line::from(vec![Span::styled(format!("{k:<11}"), theme.muted()), Span::raw(middle_cut(&v, two_rows))])
    };
    let conn = state.layout.connection(tag.conn);
    let mut info = vec![
        kv("tag", format!("{}  {}", tag.name, tag.description)),
        kv("where", format!("{} {}", conn.name, address(tag))),
    ];
    let current =
        state.plant.store.get(dialog.tag()).and_then(|s| s.value.as_ref()).map(|v| tag.format(v)).unwrap_or("-".into());
    let left = |opened: SystemTime| {
        let gone = state.now.duration_since(opened).unwrap_or_default();
        DIALOG_TIMEOUT.saturating_sub(gone).as_secs()
    };
    let mut fixed = vec![Line::raw("")];
    let title = match dialog {
        Dialog::Edit { input, error, opened, .. } => {
            info.push(kv("now", format!("{current} {}", tag.units)));
            info.push(kv("allowed", limits(tag)));
            fixed.push(Line::from(vec![
                Span::styled(format!("{:<11}", "new value"), theme.header()),
                Span::styled(format!("{input}_"), theme.notice()),
                Span::raw(format!(" {}", tag.units)),
            ]));
            if let Some(e) = error {
                fixed.push(Line::styled(format!("! {e}"), theme.bad()));
            }
            fixed.push(Line::styled(
                format!("Enter: next · Esc: cancel · cancels itself in {} s", left(*opened)),
                theme.muted(),
            ));
            " Write: new value "
        }
        Dialog::Confirm(c) => {
            confirm_lines(state, tag, c, theme, &kv, &mut info, &mut fixed);
            fixed.push(Line::styled(
                format!("Enter: WRITE · Esc: cancel · cancels itself in {} s", left(c.opened)),
                theme.muted(),
            ));
            " Write: confirm "
        }
        Dialog::Pending { new, .. } => {
            info.push(kv("writing", format!("{} {}", tag.format(new), tag.units)));
            fixed = vec![Line::styled(
                "waiting for the device to answer and for the read-back (up to 30 s)…",
                theme.muted(),
            )];
            " Write: sent "
        }
    };
    boxed(frame, area, Line::from(title), theme.notice(), info, fixed);
}

/// The confirmation: old → new (the value the device will hold, and what was typed when that
/// differs), what goes on the wire, the limits, who; then the PIN (or the value again).
fn confirm_lines<'a>(
    state: &View,
    tag: &Tag,
    c: &Confirm,
    theme: Theme,
    kv: &impl Fn(&str, String) -> Line<'a>,
    info: &mut Vec<Line<'a>>,
    fixed: &mut Vec<Line<'a>>,
) {
    let old = c.old.as_ref().map(|v| tag.format(v)).unwrap_or("-".into());
    // A value the device holds only rounded is shown to its last digit.
    let new = if c.typed.is_some() { c.new_value().to_string() } else { tag.format(c.new_value()) };
    info.push(Line::from(vec![
        Span::styled(format!("{:<11}", "change"), theme.muted()),
        Span::raw(format!("{old} → ")),
        Span::styled(new.clone(), theme.notice()),
        Span::raw(format!(" {}", tag.units)),
    ]));
    if let Some(typed) = &c.typed {
        info.push(Line::styled(
            format!("? you typed {typed}: the device will hold {new} {}, the closest value it can hold", tag.units),
            theme.uncertain(),
        ));
    }
    info.push(kv("will send", c.plan.description()));
    info.push(kv("allowed", limits(tag)));
    info.push(kv("you", format!("{} ({})", state.identity.user, state.identity.role)));
    if let Some(wn) = c.plan.warning() {
        info.push(Line::styled(format!("? {wn}"), theme.uncertain()));
    }
    let (label, shown) =
        if c.needs_pin { ("PIN", "*".repeat(c.secret.chars().count())) } else { ("value again", c.secret.clone()) };
    fixed.push(Line::from(vec![
        Span::styled(format!("{label:<11}"), theme.header()),
        Span::styled(format!("{shown}_"), theme.notice()),
    ]));
    if let Some(e) = &c.error {
        fixed.push(Line::styled(format!("! {e}"), theme.bad()));
    }
}

fn address(tag: &Tag) -> String {
    match &tag.source {
        TagSource::Modbus(p) => {
            let bit = p.bit.map(|b| format!(" bit {b}")).unwrap_or_default();
            format!("unit {} {} {}{bit} (Modicon {}), {}", p.unit, p.table.name(), p.address, p.modicon(), p.ty.name())
        }
        TagSource::OpcUa(u) => crate::sanitize::clean(&u.node.to_string()).into_owned(),
        TagSource::Sparkplug(p) => format!("Sparkplug metric {p}"),
    }
}

fn limits(tag: &Tag) -> String {
    let Some(w) = tag.write else { return "not writable".into() };
    let mut parts = Vec::new();
    match (w.min, w.max) {
        (Some(lo), Some(hi)) => parts.push(format!("{lo} .. {hi} {}", tag.units)),
        (Some(lo), None) => parts.push(format!("≥ {lo} {}", tag.units)),
        (None, Some(hi)) => parts.push(format!("≤ {hi} {}", tag.units)),
        (None, None) => {}
    }
    if let Some(s) = w.max_step {
        parts.push(format!("at most ±{s} {} per write", tag.units));
    }
    parts.push(format!("role {} and above", w.role));
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_id_keeps_its_start_and_its_end() {
        assert_eq!(middle_cut("ns=2;s=Plant.Area.Pump1.Speed", 100), "ns=2;s=Plant.Area.Pump1.Speed");
        assert_eq!(middle_cut("ns=2;s=Plant.Area.Pump1.Speed", 15), "ns=2;s=…1.Speed");
        assert_ne!(middle_cut("ns=2;s=Plant.Area.Pump1.Speed", 15), middle_cut("ns=2;s=Plant.Area.Pump2.Speed", 15));
        assert_eq!(middle_cut("abcdef", 2), "abcdef", "too little room to cut sensibly");
    }

    #[test]
    fn wrapped_rows_count_long_lines_as_several() {
        let lines = vec![Line::raw("x".repeat(100)), Line::raw(""), Line::raw("short")];
        assert_eq!(wrapped_rows(&lines, 40), 3 + 1 + 1);
        assert_eq!(line_rows(&Line::raw("aaaa bbbb cccc"), 9), 2, "words move to the next row whole");
        assert_eq!(line_rows(&Line::raw("aaaa bbbb cccc"), 14), 1);
    }

    /// Word wrapping as ratatui does it takes exactly the rows counted.
    #[test]
    fn the_count_matches_ratatui() {
        use ratatui::Terminal;
        use ratatui::backend::TestBackend;
        let texts = [
            "Enter: WRITE · Esc: cancel · cancels itself in 60 s",
            "! a change of 2.5 is more than the largest step 2 per write of this tag",
            "nsu=urn:a-very-long-namespace-uri:with:no:spaces:at:all;s=Plant.Area.Unit.Equipment.Tag",
            "short words in a row of several words that wrap more than once",
            "ab ab ab ab ab ab ab ab ab ab ",
            "double  spaces  between   words",
        ];
        for text in texts {
            for w in [10u16, 17, 26, 40, 56, 76] {
                let mut t = Terminal::new(TestBackend::new(w, 20)).expect("test backend");
                t.draw(|f| f.render_widget(Paragraph::new(Line::raw(text)).wrap(Wrap { trim: false }), f.area()))
                    .expect("test backend");
                let buf = t.backend().buffer();
                let used =
                    (0..20u16).filter(|&y| (0..w).any(|x| buf[(x, y)].symbol() != " ")).max().map_or(0, |y| y + 1);
                assert_eq!(line_rows(&Line::raw(text), w), used, "{text:?} in {w}");
            }
        }
    }
}
