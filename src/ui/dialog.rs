//! The write dialog: editor, confirmation (tag, description, connection and address, current →
//! new with units, the raw value sent, the user's role; PIN masked), and the wait for the device.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::theme::Theme;
use crate::app::state::State;
use crate::app::write::{DIALOG_TIMEOUT, Dialog};
use crate::layout::{Tag, TagSource};

pub fn render(state: &State, dialog: &Dialog, theme: Theme, frame: &mut Frame, area: Rect) {
    let tag = state.layout.tag(dialog.tag());
    let kv = |k: &str, v: String| Line::from(vec![Span::styled(format!("{k:<11}"), theme.muted()), Span::raw(v)]);
    let conn = state.layout.connection(tag.conn);
    let mut lines = vec![
        kv("tag", format!("{}  {}", tag.name, tag.description)),
        kv("where", format!("{} {}", conn.name, address(tag))),
    ];
    let current =
        state.store.get(dialog.tag()).and_then(|s| s.value.as_ref()).map(|v| tag.format(v)).unwrap_or("-".into());
    let limits = limits(tag);
    let left = |opened: SystemTime| {
        let gone = state.now.duration_since(opened).unwrap_or_default();
        DIALOG_TIMEOUT.saturating_sub(gone).as_secs()
    };
    let title = match dialog {
        Dialog::Edit { input, error, opened, .. } => {
            lines.push(kv("now", format!("{current} {}", tag.units)));
            lines.push(kv("allowed", limits));
            lines.push(Line::raw(""));
            lines.push(Line::from(vec![
                Span::styled(format!("{:<11}", "new value"), theme.header()),
                Span::styled(format!("{input}_"), theme.notice()),
                Span::raw(format!(" {}", tag.units)),
            ]));
            if let Some(e) = error {
                lines.push(Line::styled(format!("! {e}"), theme.bad()));
            }
            lines.push(Line::styled(
                format!("Enter: next · Esc: cancel · cancels itself in {} s", left(*opened)),
                theme.muted(),
            ));
            " Write: new value "
        }
        Dialog::Confirm(c) => {
            let old = c.old.as_ref().map(|v| tag.format(v)).unwrap_or("-".into());
            lines.push(Line::from(vec![
                Span::styled(format!("{:<11}", "change"), theme.muted()),
                Span::raw(format!("{old} → ")),
                Span::styled(tag.format(&c.new), theme.notice()),
                Span::raw(format!(" {}", tag.units)),
            ]));
            lines.push(kv("will send", c.raw.clone()));
            lines.push(kv("allowed", limits.clone()));
            lines.push(kv("you", format!("{} ({})", state.identity.user, state.identity.role)));
            if let Some(wn) = &c.warning {
                lines.push(Line::styled(format!("? {wn}"), theme.uncertain()));
            }
            lines.push(Line::raw(""));
            let (label, shown) = if c.needs_pin {
                ("PIN", "*".repeat(c.secret.chars().count()))
            } else {
                ("value again", c.secret.clone())
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{label:<11}"), theme.header()),
                Span::styled(format!("{shown}_"), theme.notice()),
            ]));
            if let Some(e) = &c.error {
                lines.push(Line::styled(format!("! {e}"), theme.bad()));
            }
            lines.push(Line::styled(
                format!("Enter: WRITE · Esc: cancel · cancels itself in {} s", left(c.opened)),
                theme.muted(),
            ));
            " Write: confirm "
        }
        Dialog::Pending { new, .. } => {
            lines.push(kv("writing", format!("{} {}", tag.format(new), tag.units)));
            lines.push(Line::styled(
                "waiting for the device to answer and for the read-back (up to 30 s)…",
                theme.muted(),
            ));
            " Write: sent "
        }
    };
    // Sized to its content, centred; never larger than the screen.
    let w = area.width.saturating_sub(2).clamp(20, 78).min(area.width);
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = Rect {
        x: area.x + area.width.saturating_sub(w) / 2,
        y: area.y + area.height.saturating_sub(h) / 2,
        width: w,
        height: h,
    };
    frame.render_widget(Clear, r);
    let p = Paragraph::new(lines)
        .block(Block::default().borders(Borders::ALL).title(title).border_style(theme.notice()))
        .wrap(Wrap { trim: false });
    frame.render_widget(p, r);
}

fn address(tag: &Tag) -> String {
    match &tag.source {
        TagSource::Modbus(p) => {
            let bit = p.bit.map(|b| format!(" bit {b}")).unwrap_or_default();
            format!("unit {} {} {}{bit} (Modicon {}), {}", p.unit, p.table.name(), p.address, p.modicon(), p.ty.name())
        }
        TagSource::OpcUa(u) => u.node.to_string(),
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
