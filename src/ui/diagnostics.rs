//! The diagnostics view: per-connection statistics, the planned read blocks, and the selected
//! tag's address (both forms) and raw registers; on a console server, who is connected.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};

use super::View;
use super::format::{quality_text, shown_quality, value_text};
use super::theme::Theme;
use crate::layout::{TagSource, duration::format_duration};
use crate::plant::ConnectionState;
use crate::sanitize::clean;
use crate::timefmt;

pub fn render(state: &View, theme: Theme, frame: &mut Frame, area: Rect) {
    let conn_rows = state.layout.connections.len() as u16 + 2;
    // Why a connection is down (and what it was told to accept), wrapped, never cut.
    let notes = notes(state, theme);
    let width = area.width.max(1) as usize;
    let note_rows = notes.iter().map(|l| l.width().max(1).div_ceil(width)).sum::<usize>() as u16;
    // A console server's sessions (a console of its own has none with a server identity).
    let served = state.plant.sessions.iter().any(|s| s.via.is_some());
    let session_rows = if served { (state.plant.sessions.len() as u16 + 1).min(area.height / 4 + 1) } else { 0 };
    let [conns, notes_area, sessions_area, middle] = Layout::vertical([
        Constraint::Length(conn_rows),
        Constraint::Length(note_rows.min(area.height / 2)),
        Constraint::Length(session_rows),
        Constraint::Min(4),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(notes).wrap(Wrap { trim: false }), notes_area);
    if served {
        sessions(state, theme, frame, sessions_area);
    }
    // Side by side when there is room, else stacked (the selected tag first).
    let [plan, tag] = if area.width >= 120 {
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(middle)
    } else {
        let [t, p] = Layout::vertical([Constraint::Length(11), Constraint::Min(3)]).areas(middle);
        [p, t]
    };
    connections(state, theme, frame, conns);
    blocks(state, theme, frame, plan);
    selected_tag(state, theme, frame, tag);
}

/// A line per connection that is down (why, in full) or runs with a security exception.
fn notes(state: &View, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (c, v) in state.layout.connections.iter().zip(&state.plant.conns) {
        if let ConnectionState::Disconnected { reason, retry_in } = &v.state {
            lines.push(Line::from(vec![
                Span::styled(format!("{} DOWN: ", c.name), theme.bad()),
                Span::styled(clean(reason).into_owned(), theme.bad()),
                Span::styled(format!(" (retry in {})", timefmt::short(*retry_in)), theme.muted()),
            ]));
        }
        if matches!(&c.kind, crate::layout::ConnectionKind::OpcUa(u) if u.accept_host_name_mismatch) {
            lines.push(Line::styled(
                format!(
                    "{}: accepts a server certificate that does not name its host (accept_host_name_mismatch)",
                    c.name
                ),
                theme.notice(),
            ));
        }
    }
    lines
}

/// Who is connected to this console server: session, user, role, from where, since when (this
/// session marked); what does not fit is counted.
fn sessions(state: &View, theme: Theme, frame: &mut Frame, area: Rect) {
    let all = &state.plant.sessions;
    let room = (area.height as usize).saturating_sub(1);
    let shown = if all.len() > room { room.saturating_sub(1) } else { all.len() };
    let header = Row::new(["Session", "User", "Role", "From", "Since", "Identified by"]).style(theme.header());
    let mut rows: Vec<Row> = all
        .iter()
        .take(shown)
        .map(|s| {
            let me = if s.id == state.id { " (you)" } else { "" };
            Row::new([
                format!("{}{me}", s.id.0),
                clean(&s.user).into_owned(),
                s.role.clone(),
                clean(&s.from).into_owned(),
                timefmt::clock(s.since, state.utc_offset),
                s.via.as_deref().map(short_via).unwrap_or_default(),
            ])
        })
        .collect();
    if shown < all.len() {
        rows.push(Row::new([format!("+{} more", all.len() - shown)]).style(theme.muted()));
    }
    let widths = [
        Constraint::Length(12),
        Constraint::Length(12),
        Constraint::Length(10),
        Constraint::Length(22),
        Constraint::Length(8),
        Constraint::Min(10),
    ];
    frame.render_widget(Table::new(rows, widths).header(header), area);
}

/// `key SHA256:OlI59QA6…`: a key's fingerprint shortened, and marked so (`ttyhmi sessions`
/// shows it whole).
fn short_via(via: &str) -> String {
    const KEEP: usize = "key SHA256:".len() + 8;
    let via = clean(via);
    if via.chars().count() > KEEP + 1 {
        format!("{}…", via.chars().take(KEEP).collect::<String>())
    } else {
        via.into_owned()
    }
}

fn dur(d: Option<std::time::Duration>) -> String {
    d.map(timefmt::short).unwrap_or_else(|| "-".into())
}

fn connections(state: &View, theme: Theme, frame: &mut Frame, area: Rect) {
    let wide = area.width >= 120;
    let first = if wide { "Connection" } else { "Conn" };
    let header =
        Row::new([first, "State", "Req", "Err", "T/O", "Exc", "Frame", "Mean", "p99", "Scan", "Scan/s", "Reconn"])
            .style(theme.header());
    let rows = state.layout.connections.iter().zip(&state.plant.conns).map(|(c, v)| {
        let (st, style) = match &v.state {
            ConnectionState::Connected => ("up".to_string(), theme.ok()),
            ConnectionState::Connecting => ("connecting".to_string(), theme.uncertain()),
            // Why: on the lines under the table, whole.
            ConnectionState::Disconnected { .. } => ("DOWN (below)".to_string(), theme.bad()),
            ConnectionState::Stopped => ("stopped".to_string(), theme.muted()),
        };
        let s = &v.stats;
        let name = if wide { format!("{} {}", c.name, c.endpoint()) } else { c.name.clone() };
        Row::new(vec![
            Span::styled(name, theme.value()),
            Span::styled(st, style),
            Span::raw(s.requests.to_string()),
            Span::raw(s.errors.to_string()),
            Span::raw(s.timeouts.to_string()),
            Span::raw(s.exceptions.to_string()),
            // Damaged RTU answers: on a serial bus, the sign of wiring, termination or baud trouble.
            Span::raw(s.bad_frames.to_string()),
            Span::raw(dur(s.response.mean())),
            Span::raw(dur(s.response.quantile(0.99))),
            Span::raw(dur(s.last_scan)),
            Span::raw(format!("{:.1}", v.scan_rate)),
            Span::raw(s.reconnects.to_string()),
        ])
    });
    let widths = if wide {
        vec![
            Constraint::Fill(2),
            Constraint::Fill(2),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(6),
        ]
    } else {
        // 80 columns: the state (with the reason) gets the room; the rarer counters go.
        vec![
            Constraint::Length(8),
            Constraint::Fill(1),
            Constraint::Length(6),
            Constraint::Length(4),
            Constraint::Length(0),
            Constraint::Length(0),
            Constraint::Length(0),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(0),
            Constraint::Length(6),
            Constraint::Length(0),
        ]
    };
    let t = Table::new(rows, widths)
        .header(header)
        .block(Block::default().borders(Borders::TOP).title(" Connections ").border_style(theme.muted()));
    frame.render_widget(t, area);
}

fn blocks(state: &View, theme: Theme, frame: &mut Frame, area: Rect) {
    let header = Row::new(["Conn", "Unit", "Table", "Start", "Count", "Poll", "Tags"]).style(theme.header());
    let total: usize = state.plant.conns.iter().map(|c| c.diag.plan.len()).sum();
    let rows = state.layout.connections.iter().zip(&state.plant.conns).flat_map(|(c, v)| {
        v.diag.plan.iter().map(move |b| {
            Row::new(vec![
                c.name.clone(),
                b.unit.to_string(),
                b.table.name().to_string(),
                b.start.to_string(),
                b.count.to_string(),
                format_duration(b.poll),
                b.tags.to_string(),
            ])
        })
    });
    let widths = [
        Constraint::Min(4),
        Constraint::Length(4),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Length(4),
    ];
    let t = Table::new(rows, widths).header(header).block(
        Block::default()
            .borders(Borders::TOP)
            .title(format!(" Read plan: {total} requests per scan "))
            .border_style(theme.muted()),
    );
    frame.render_widget(t, area);
}

fn selected_tag(state: &View, theme: Theme, frame: &mut Frame, area: Rect) {
    let block =
        Block::default().borders(Borders::TOP | Borders::LEFT).title(" Selected tag ").border_style(theme.muted());
    let Some(id) = state.selected_tag() else {
        let p = Paragraph::new("select a tag on a screen first, then press d").style(theme.muted()).block(block);
        frame.render_widget(p, area);
        return;
    };
    let tag = state.layout.tag(id);
    let conn = state.layout.connection(tag.conn);
    let sample = state.plant.store.get(id).cloned().unwrap_or_else(|| crate::tag::Sample::no_data(state.now));
    let q = shown_quality(tag, &sample, state.now);
    let kv = |k: &str, v: String| Line::from(vec![Span::styled(format!("{k:<9} "), theme.muted()), Span::raw(v)]);
    let mut lines = vec![kv("tag", format!("{}  {}", tag.name, tag.description))];
    // What the connection's driver last reported (the monitored items, facts like the
    // publishing interval), whatever its protocol.
    let diag = state.plant.conns.get(tag.conn.index()).map(|c| &c.diag);
    match &tag.source {
        TagSource::Modbus(p) => modbus_lines(state, id, p, &conn.name, &kv, &mut lines),
        TagSource::OpcUa(u) => {
            lines.push(kv("source", format!("{} {}", conn.name, conn.endpoint())));
            lines.push(kv("node", clean(&u.node.to_string()).into_owned()));
            let sampling = u.sampling.map(format_duration).unwrap_or_else(|| "publishing interval".into());
            let revised = match diag.and_then(|d| d.item(id)) {
                Some(i) => format!(
                    " → server: {}, queue {}{}",
                    timefmt::short(i.revised_sampling),
                    i.revised_queue,
                    if i.status == "Good" { String::new() } else { format!(", {}", clean(&i.status)) }
                ),
                None => String::new(),
            };
            lines.push(kv("sampling", format!("{sampling}, queue {}{revised}", u.queue_size)));
        }
        TagSource::Sparkplug(p) => {
            lines.push(kv("source", format!("{} {}", conn.name, conn.endpoint())));
            lines.push(kv("metric", p.to_string()));
        }
    }
    for f in diag.iter().flat_map(|d| &d.facts) {
        lines.push(kv(&clean(&f.label), clean(&f.value).into_owned()));
    }
    if let Some(ts) = sample.source_ts {
        lines.push(kv("source ts", timefmt::clock_ms(ts, state.utc_offset)));
    }
    if let Some(ts) = sample.server_ts {
        lines.push(kv("server ts", timefmt::clock_ms(ts, state.utc_offset)));
    }
    lines.push(Line::from(vec![
        Span::styled(format!("{:<10}", "value"), theme.muted()),
        Span::styled(format!("{} {}", value_text(tag, &sample), tag.units), theme.quality(&q)),
    ]));
    let qt = quality_text(&q);
    lines.push(kv("quality", if qt.is_empty() { "good".into() } else { qt }));
    lines.push(kv("received", timefmt::clock_ms(sample.recv_ts, state.utc_offset)));
    lines.push(kv("poll", format_duration(tag.poll)));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn modbus_lines<'a>(
    state: &View,
    id: crate::tag::TagId,
    p: &crate::layout::ModbusPoint,
    conn: &str,
    kv: &impl Fn(&str, String) -> Line<'a>,
    lines: &mut Vec<Line<'a>>,
) {
    lines.extend([
        kv("source", format!("{conn} unit {}", p.unit)),
        kv("address", format!("{} {}  (Modicon {})", p.table.name(), p.address, p.modicon())),
        kv(
            "type",
            format!(
                "{}{}{}",
                p.ty.name(),
                if p.ty.registers() >= 2 && !matches!(p.ty, crate::layout::DataType::String { .. }) {
                    format!(", byte order {}", p.order.name())
                } else {
                    String::new()
                },
                p.bit.map(|b| format!(", bit {b}")).unwrap_or_default()
            ),
        ),
    ]);
    if let Some(s) = p.scale {
        lines.push(kv("scale", format!("raw {:?} → eu {:?}", s.raw, s.eu)));
    }
    let raw = match state.plant.raw_words(id) {
        Some(w) if p.table.is_bits() => w.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(" "),
        Some(w) => w.iter().map(|x| format!("{x:04X}")).collect::<Vec<_>>().join(" "),
        None => "-".into(),
    };
    lines.push(kv("raw", raw));
}
