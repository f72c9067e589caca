//! The grid panel: tag, description, value with units, quality marker and reason, age.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

use super::format::{quality_text, shown_quality, value_text};
use super::theme::{Theme, quality_glyph};
use crate::app::state::State;
use crate::tag::TagId;
use crate::timefmt;

/// One grid panel's rows as shown now.
pub(super) struct GridRows<'a> {
    pub title: Option<&'a str>,
    pub rows: &'a [TagId],
    /// Index into `rows` of the selected row, when it is in this panel.
    pub selected: Option<usize>,
    /// The first panel of the screen carries the filter line.
    pub first: bool,
    /// A column of sparklines.
    pub sparklines: bool,
}

/// How far back a sparkline reaches.
const SPARK_SPAN: std::time::Duration = std::time::Duration::from_secs(600);

pub(super) fn render_grid(state: &State, theme: Theme, frame: &mut Frame, area: Rect, panel: GridRows) {
    let GridRows { title, rows, selected, first, sparklines } = panel;
    let spark_w: u16 = if area.width >= 100 { 12 } else { 8 };

    let mut block = Block::default().borders(Borders::TOP).border_style(theme.muted());
    // The filter is shown once, on the first panel.
    let filter = if !first || (state.filter.is_empty() && !state.filter_editing) {
        String::new()
    } else {
        format!(" filter: {}{} ", state.filter, if state.filter_editing { "_" } else { "" })
    };
    block = block.title(Line::from(vec![
        Span::styled(format!(" {} ", title.unwrap_or("Tags")), theme.title()),
        Span::styled(filter, theme.notice()),
    ]));
    let wide = area.width >= 100;
    let right = |t: &'static str| Cell::from(Line::from(t).right_aligned());
    let header_cells: Vec<Cell> = if wide {
        vec!["Tag".into(), "Description".into(), right("Value"), "Units".into(), "Quality".into(), right("Age")]
    } else {
        vec!["Tag".into(), right("Value"), "Units".into(), "Quality".into(), right("Age")]
    };
    let mut header_cells = header_cells;
    if sparklines {
        header_cells.push("Last 10m".into());
    }
    let header = Row::new(header_cells).style(theme.header());
    // Build only the rows that fit (a screen can hold thousands of tags): the window keeps the
    // selected row in view, at the bottom when scrolled, as ratatui would.
    let fits = area.height.saturating_sub(2) as usize;
    let offset = match selected {
        Some(s) if s >= fits => s + 1 - fits,
        _ => 0,
    };
    let window = &rows[offset.min(rows.len())..(offset + fits).min(rows.len())];
    let selected = selected.and_then(|s| s.checked_sub(offset)).filter(|s| *s < window.len());
    let table_rows: Vec<Row> = window
        .iter()
        .map(|&id| {
            let tag = state.layout.tag(id);
            let sample = state.store.get(id).cloned().unwrap_or_else(|| crate::tag::Sample::no_data(state.now));
            let q = shown_quality(tag, &sample, state.now);
            let value = format!("{}{}", quality_glyph(&q), value_text(tag, &sample));
            // Age of the last value; nothing received yet has no age.
            let age = match sample.value {
                None => "-".to_string(),
                Some(_) => state.now.duration_since(sample.recv_ts).map(timefmt::age).unwrap_or_else(|_| "0s".into()),
            };
            // Writable tags are marked `[w]`.
            let name = if tag.write.is_some() { format!("{} [w]", tag.name) } else { tag.name.clone() };
            let mut cells = vec![Cell::from(Span::styled(name, theme.value()))];
            if wide {
                cells.push(Cell::from(Span::styled(tag.description.clone(), theme.muted())));
            }
            cells.push(Cell::from(Line::from(Span::styled(value, theme.quality(&q))).right_aligned()));
            cells.push(Cell::from(Span::styled(tag.units.clone(), theme.muted())));
            // Narrow: the glyph already says bad or uncertain; the column says why.
            let qt = if wide { quality_text(&q) } else { q.reason().map(|r| r.to_string()).unwrap_or_default() };
            cells.push(Cell::from(Span::styled(qt, theme.quality(&q))));
            cells.push(Cell::from(Line::from(Span::styled(age, theme.muted())).right_aligned()));
            if sparklines {
                let line = super::trend::sparkline(state, id, spark_w as usize, SPARK_SPAN);
                cells.push(Cell::from(Span::styled(line, theme.value())));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths: Vec<Constraint> = if wide {
        vec![
            Constraint::Length(16),
            Constraint::Fill(1),
            Constraint::Length(if area.width >= 140 { 22 } else { 20 }),
            Constraint::Length(6),
            // Room for "bad: exception 02: illegal data address" where there is room.
            Constraint::Length(if area.width >= 140 { 40 } else { 26 }),
            Constraint::Length(4),
        ]
    } else {
        vec![
            Constraint::Length(15),
            Constraint::Length(17),
            Constraint::Length(5),
            Constraint::Fill(1),
            Constraint::Length(4),
        ]
    };
    if sparklines {
        widths.push(Constraint::Length(spark_w));
    }
    let empty = rows.is_empty();
    let table = Table::new(table_rows, widths).header(header).block(block).row_highlight_style(theme.selected());
    let mut ts = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut ts);
    if empty && area.height > 2 {
        let msg = if state.filter.is_empty() { "no tags" } else { "no tag matches the filter" };
        let r = Rect { x: area.x + 1, y: area.y + 2, width: area.width.saturating_sub(2), height: 1 };
        frame.render_widget(Line::styled(msg, theme.muted()), r);
    }
}
