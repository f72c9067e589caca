//! Alarms on screen: the banner shown on every screen, the alarm list (`alarms:` panel) and its
//! shelve / out-of-service dialog. Priority is colour and a text label; an unacknowledged alarm
//! has a blinking `*` marker.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::View;
use super::format::with_units;
use super::theme::{Theme, priority_label};
use crate::alarm::{Alarm, AlarmState, Discrete, Priority, RuleKind};
use crate::layout::duration::format_duration;
use crate::session::alarms::{AlarmList, Dialog, DialogKind, Field, rows, state_text};
use crate::timefmt;

/// Alarm counts for the banner.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    /// Active (unacknowledged or acknowledged, condition present) per priority, highest first.
    by_priority: [usize; 4],
    unacked: usize,
    shelved: usize,
    suppressed: usize,
    out_of_service: usize,
}

fn counts(state: &View) -> Counts {
    let mut c = Counts::default();
    for a in state.plant.alarms.alarms() {
        let s = a.state();
        // Active means the condition is: a returned-to-normal alarm waiting for its acknowledge
        // is not counted (the list shows it as RTN).
        if matches!(s, AlarmState::Unacknowledged | AlarmState::Acknowledged) && a.active {
            let i = Priority::ALL.iter().position(|p| *p == a.rule.priority).unwrap_or(3);
            c.by_priority[i] += 1;
        }
        match s {
            AlarmState::Shelved => c.shelved += 1,
            AlarmState::Suppressed => c.suppressed += 1,
            AlarmState::OutOfService => c.out_of_service += 1,
            s if s.is_unacknowledged() => c.unacked += 1,
            _ => {}
        }
    }
    c
}

/// The highest-priority unacknowledged alarm: active before returned-to-normal, then the newest.
fn top<'a>(state: &View<'a>) -> Option<&'a Alarm> {
    state.plant.alarms.alarms().iter().filter(|a| a.state().is_unacknowledged()).max_by(|a, b| {
        let key = |a: &Alarm| (a.rule.priority, a.active, alarm_time(a));
        key(a).cmp(&key(b))
    })
}

/// The alarm's time: when its condition last became active (else its last change).
fn alarm_time(a: &Alarm) -> Option<SystemTime> {
    a.active_since.or(a.since)
}

fn age(state: &View, since: Option<SystemTime>) -> String {
    since.map(|t| timefmt::age_long(state.now.duration_since(t).unwrap_or_default())).unwrap_or_default()
}

/// The tag name and, for rules about a value, the value with its units.
fn value_text(state: &View, a: &Alarm) -> String {
    let Some(tag) = state.layout.tags.get(a.rule.tag.index()) else { return String::new() };
    if matches!(a.rule.kind, RuleKind::BadQuality { .. }) {
        return String::new();
    }
    with_units(tag, a.value.as_ref())
}

/// The value in at most `width` columns: with units, else without, else `#` marks — never a
/// number cut short.
fn value_cell(state: &View, a: &Alarm, width: usize) -> String {
    let full = value_text(state, a);
    if full.chars().count() <= width {
        return full;
    }
    let bare = match (&a.value, state.layout.tags.get(a.rule.tag.index())) {
        (Some(v), Some(tag)) => tag.format(v),
        _ => String::new(),
    };
    if bare.chars().count() <= width { bare } else { "#".repeat(width) }
}

/// The banner: one line on every screen of a layout with alarms. When the line is short of
/// room, counts that are zero go first, then the "+N unack" note, then the alarm's tag and value;
/// the message is cut last (with `…`).
pub fn render_banner(state: &View, theme: Theme, frame: &mut Frame, area: Rect) {
    let c = counts(state);
    let width = area.width as usize;
    let all = banner_counts(state, theme, &c, Zeros::All, false);
    let priorities = banner_counts(state, theme, &c, Zeros::Priorities, false);
    let essential = banner_counts(state, theme, &c, Zeros::None, false);
    let short = banner_counts(state, theme, &c, Zeros::None, true);
    let left = |room: usize, tag: bool, more: bool| banner_left(state, theme, &c, room, tag, more);
    let choices = [
        (&all, true, true),
        (&priorities, true, true),
        (&essential, true, true),
        (&short, true, true),
        (&short, true, false),
        (&short, false, false),
    ];
    let (right, l) = choices
        .into_iter()
        .find_map(|(right, tag, more)| {
            let room = width.saturating_sub(right.width());
            let (l, whole) = left(room, tag, more);
            whole.then_some((right, l))
        })
        .unwrap_or_else(|| (&short, left(width.saturating_sub(short.width()), false, false).0));
    let rw = (right.width() as u16).min(area.width);
    let [left_area, right_area] = Layout::horizontal([Constraint::Min(0), Constraint::Length(rw)]).areas(area);
    frame.render_widget(l, left_area);
    frame.render_widget(right.clone(), right_area);
}

/// Which counts of zero the banner shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Zeros {
    All,
    /// Those per priority (`C0 H1 M0 L0` reads as a whole), not shelved, suppressed, out of service.
    Priorities,
    None,
}

/// The counts on the right of the banner: active alarms per priority (`C0 H1 M1 L0`), shelved,
/// suppressed and out of service, FLOOD and the bell. `zeros`: which counts that are 0 are shown;
/// `short`: `shv`, `sup`, `oos`.
fn banner_counts(state: &View, theme: Theme, c: &Counts, zeros: Zeros, short: bool) -> Line<'static> {
    let mut right: Vec<Span> = vec![Span::raw(" ")];
    for (i, p) in Priority::ALL.iter().enumerate() {
        let n = c.by_priority[i];
        if n > 0 || zeros != Zeros::None {
            let style = if n > 0 { theme.priority(*p) } else { theme.muted() };
            right.push(Span::styled(format!("{}{n} ", &priority_label(*p)[..1]), style));
        }
    }
    let labels = if short { ["shv", "sup", "oos"] } else { ["shelved", "suppressed", "out of service"] };
    for (label, n) in labels.into_iter().zip([c.shelved, c.suppressed, c.out_of_service]) {
        if n > 0 || zeros == Zeros::All {
            right.push(Span::styled(format!("{label} {n} "), if n > 0 { theme.notice() } else { theme.muted() }));
        }
    }
    if state.plant.alarms.flood() {
        right.push(Span::styled("FLOOD", theme.bad().add_modifier(ratatui::style::Modifier::REVERSED)));
        right.push(Span::raw(" "));
    }
    if state.alarm_view.horn {
        right.push(Span::styled("BELL x ", theme.notice()));
    }
    Line::from(right)
}

/// What the alarm is about: its connection for a comms alarm, else its tag.
fn subject<'a>(state: &'a View<'a>, a: &'a Alarm) -> &'a str {
    match &a.rule.connection {
        Some(conn) => conn,
        None => state.layout.tags.get(a.rule.tag.index()).map(|t| t.name.as_str()).unwrap_or(""),
    }
}

/// The left of the banner in `room` columns: the most urgent unacknowledged alarm, with its tag
/// (or connection) and value when `tag`, and how many more wait when `more`. Also whether all of
/// it fits with the message whole.
fn banner_left(state: &View, theme: Theme, c: &Counts, room: usize, tag: bool, more: bool) -> (Line<'static>, bool) {
    let Some(a) = top(state) else {
        let active: usize = c.by_priority.iter().sum();
        let text = match active {
            0 => " no active alarms".to_string(),
            1 => " 1 active alarm, acknowledged".to_string(),
            n => format!(" {n} active alarms, all acknowledged"),
        };
        let whole = text.chars().count() <= room;
        return (Line::styled(fit(&text, room), theme.muted()), whole);
    };
    let p = a.rule.priority;
    let mut spans = vec![
        Span::styled("*", theme.unacknowledged(p)),
        Span::styled(format!("{} ", priority_label(p).trim_end()), theme.priority(p)),
        Span::styled(format!("{} ", age(state, alarm_time(a))), theme.muted()),
    ];
    if !a.active {
        // Returned to normal, still to be acknowledged.
        spans.push(Span::styled("RTN ", theme.muted()));
    }
    let mut tail: Vec<(String, ratatui::style::Style)> = Vec::new();
    if tag {
        let value = value_text(state, a);
        let text = if value.is_empty() {
            format!(" {}", subject(state, a))
        } else {
            format!(" {} {value}", subject(state, a))
        };
        tail.push((text, theme.value()));
    }
    if more && c.unacked > 1 {
        tail.push((format!(" (+{} unack)", c.unacked - 1), theme.muted()));
    }
    let fixed = Line::from(spans.clone()).width() + tail.iter().map(|(t, _)| t.chars().count()).sum::<usize>();
    let message_room = room.saturating_sub(fixed);
    let whole = a.rule.message.chars().count() <= message_room;
    spans.push(Span::styled(fit(&a.rule.message, message_room), theme.priority(p)));
    spans.extend(tail.into_iter().map(|(t, s)| Span::styled(t, s)));
    (Line::from(spans), whole)
}

/// `text` in at most `room` columns, with `…` when cut.
fn fit(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut s: String = text.chars().take(room.saturating_sub(1)).collect();
    if room > 0 {
        s.push('…');
    }
    s
}

/// The alarm list: the selected list's alarms, highest priority first, then newest.
pub fn render_list(state: &View, title: Option<&str>, theme: Theme, frame: &mut Frame, area: Rect) {
    let ids = rows(state.session, state.plant);
    let block =
        Block::default().borders(Borders::TOP).border_style(theme.muted()).title(list_title(state, title, theme));
    let detail_lines = if area.width < 120 { 2 } else { 1 };
    let [table_area, detail_area, hint_area] =
        Layout::vertical([Constraint::Min(2), Constraint::Length(detail_lines), Constraint::Length(1)]).areas(area);

    let wide = area.width >= 110;
    let value_width = if wide { 14 } else { 10 };
    let mut header = vec!["", "Prio", "Time"];
    if wide {
        header.push("Age");
    }
    header.extend(["Alarm", "Message", "Value", "State"]);
    let header = Row::new(header).style(theme.header());
    let fits = table_area.height.saturating_sub(2) as usize;
    let selected = (!ids.is_empty()).then(|| state.selected.min(ids.len() - 1));
    let offset = match selected {
        Some(s) if s >= fits => s + 1 - fits,
        _ => 0,
    };
    let window = &ids[offset.min(ids.len())..(offset + fits).min(ids.len())];
    let table_rows: Vec<Row> = window
        .iter()
        .filter_map(|id| state.plant.alarms.alarm(*id))
        .map(|a| {
            let p = a.rule.priority;
            let s = a.state();
            let unack = s.is_unacknowledged();
            let mut cells = vec![
                Cell::from(Span::styled(if unack { "*" } else { " " }, theme.unacknowledged(p))),
                Cell::from(Span::styled(priority_label(p), theme.priority(p))),
                Cell::from(Span::styled(
                    alarm_time(a).map(|t| timefmt::clock(t, state.utc_offset)).unwrap_or_default(),
                    theme.muted(),
                )),
            ];
            if wide {
                cells.push(Cell::from(Span::styled(age(state, alarm_time(a)), theme.muted())));
            }
            let state_style = if unack { theme.priority(p) } else { theme.value() };
            // The active list says the state; the others (where the state is the list) say
            // whether the condition is active now.
            let state_text = match (AlarmList::Active.holds(s), a.active) {
                (true, _) => state_text(s),
                (false, true) => "ACTIVE",
                (false, false) => "normal",
            };
            cells.extend([
                Cell::from(Span::styled(a.rule.key.clone(), theme.value())),
                Cell::from(Span::styled(a.rule.message.clone(), if unack { theme.priority(p) } else { theme.value() })),
                Cell::from(Line::from(Span::styled(value_cell(state, a, value_width), theme.value())).right_aligned()),
                Cell::from(Span::styled(state_text, state_style)),
            ]);
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(1), Constraint::Length(4), Constraint::Length(8)];
    if wide {
        widths.push(Constraint::Length(6));
    }
    widths.extend([
        Constraint::Length(if wide { 22 } else { 16 }),
        Constraint::Fill(1),
        Constraint::Length(value_width as u16),
        Constraint::Length(if wide { 18 } else { 10 }),
    ]);
    let shown = selected.map(|s| s - offset);
    let table = Table::new(table_rows, widths)
        .header(header)
        .block(block)
        .column_spacing(1)
        .row_highlight_style(theme.selected());
    frame.render_stateful_widget(table, table_area, &mut TableState::default().with_selected(shown));
    if ids.is_empty() && table_area.height > 2 {
        let msg = if !state.filter.is_empty() {
            "no alarm matches the filter".to_string()
        } else {
            format!("no {} alarms", state.alarm_view.list.title().to_lowercase())
        };
        let r = Rect { x: table_area.x + 1, y: table_area.y + 2, width: table_area.width.saturating_sub(2), height: 1 };
        frame.render_widget(Line::styled(msg, theme.muted()), r);
    }
    let detail = selected.and_then(|s| state.plant.alarms.alarm(ids[s])).map(|a| details(state, a)).unwrap_or_default();
    frame.render_widget(Paragraph::new(detail).style(theme.muted()).wrap(Wrap { trim: true }), detail_area);
    let hint = "Space ack · A ack all shown · s shelve · o out of service · v list · x silence";
    frame.render_widget(Line::styled(hint, theme.muted()), hint_area);
}

/// The list's title: the lists and their counts (the shown one highlighted), and the filter.
fn list_title(state: &View, title: Option<&str>, theme: Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(format!(" {} ", title.unwrap_or("Alarms")), theme.title())];
    for l in AlarmList::ALL {
        let of = |a: &&Alarm| l.holds(a.state());
        let style = if l == state.alarm_view.list { theme.active_tab() } else { theme.muted() };
        let text = if l == AlarmList::Active {
            // Returned-to-normal alarms are on this list until acknowledged, but not active.
            let rtn =
                state.plant.alarms.alarms().iter().filter(|a| a.state() == AlarmState::ReturnedUnacknowledged).count();
            let active = state.plant.alarms.alarms().iter().filter(of).count() - rtn;
            if rtn > 0 { format!(" Active {active} · RTN {rtn} ") } else { format!(" Active {active} ") }
        } else {
            format!(" {} {} ", l.title(), state.plant.alarms.alarms().iter().filter(of).count())
        };
        spans.push(Span::styled(text, style));
    }
    if !state.filter.is_empty() || state.filter_editing() {
        let cursor = if state.filter_editing() { "_" } else { "" };
        spans.push(Span::styled(format!(" filter: {}{cursor} ", state.filter), theme.notice()));
    }
    Line::from(spans)
}

/// One line about the selected alarm: its rule, and who shelved it or took it out of service.
fn details(state: &View, a: &Alarm) -> String {
    let r = &a.rule;
    let mut s = format!("{}: {}", r.key, rule_text(state, a));
    if r.deadband > 0.0 {
        s.push_str(&format!(", deadband {}", r.deadband));
    }
    if !r.on_delay.is_zero() {
        s.push_str(&format!(", on delay {}", format_duration(r.on_delay)));
    }
    if !r.off_delay.is_zero() {
        s.push_str(&format!(", off delay {}", format_duration(r.off_delay)));
    }
    if let Some(sh) = &a.shelved {
        let until = timefmt::clock(sh.until, state.utc_offset);
        s.push_str(&format!(
            " · shelved by {} at {} until {until}: {}",
            sh.note.user,
            timefmt::clock(sh.note.at, state.utc_offset),
            sh.note.reason
        ));
    }
    if let Some(n) = &a.out_of_service {
        s.push_str(&format!(
            " · out of service by {} at {}: {}",
            n.user,
            timefmt::clock(n.at, state.utc_offset),
            n.reason
        ));
    }
    s
}

fn rule_text(state: &View, a: &Alarm) -> String {
    let name = |id: crate::tag::TagId| state.layout.tags.get(id.index()).map(|t| t.name.clone()).unwrap_or_default();
    match &a.rule.kind {
        RuleKind::Limit { kind, limit } => format!("{} limit {limit}", kind.as_str()),
        RuleKind::Discrete(Discrete::Bool(b)) => format!("when {b}"),
        RuleKind::Discrete(Discrete::AnyOf(v)) => {
            format!("when one of {}", v.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "))
        }
        RuleKind::Rate { per, limit } => format!("rate over {limit} per {}", format_duration(*per)),
        RuleKind::Deviation { from, limit } => format!("deviation from {} over {limit}", name(*from)),
        RuleKind::BadQuality { also } if also.is_empty() => "bad quality".into(),
        RuleKind::BadQuality { also } => format!("bad quality of any of {} tags", also.len() + 1),
    }
}

/// The shelve / out-of-service dialog, over the list.
pub fn render_dialog(state: &View, d: &Dialog, theme: Theme, frame: &mut Frame, area: Rect) {
    let Some(a) = state.plant.alarms.alarm(d.id) else { return };
    let field = |label: &str, text: &str, on: bool| {
        Line::from(vec![
            Span::styled(format!("{label:<10}"), if on { theme.header() } else { theme.muted() }),
            Span::styled(
                format!("{text}{}", if on { "_" } else { "" }),
                if on { theme.notice() } else { theme.value() },
            ),
        ])
    };
    let info = vec![Line::from(vec![
        Span::styled(priority_label(a.rule.priority), theme.priority(a.rule.priority)),
        Span::raw(format!(" {}  {}", a.rule.key, a.rule.message)),
    ])];
    let mut fixed = vec![Line::raw("")];
    let title = match d.kind {
        DialogKind::Shelve => {
            let max = format_duration(state.plant.alarms.max_shelve());
            fixed.push(field("for", &d.duration, d.field == Field::Duration));
            fixed.push(Line::styled(format!("          30m, 2h … up to {max}, or one-shot"), theme.muted()));
            " Shelve alarm "
        }
        DialogKind::OutOfService => " Take alarm out of service ",
    };
    fixed.push(field("reason", &d.reason, d.field == Field::Reason));
    if let Some(e) = &d.error {
        fixed.push(Line::styled(format!("! {e}"), theme.bad()));
    }
    let keys = if d.kind == DialogKind::Shelve {
        "Enter: next · Tab: field · Esc: cancel"
    } else {
        "Enter: done · Esc: cancel"
    };
    fixed.push(Line::styled(keys, theme.muted()));
    let title = Line::from(Span::styled(title, theme.title()));
    super::dialog::boxed(frame, area, title, theme.muted(), info, fixed);
}
