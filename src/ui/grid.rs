//! The grid panel: tag, description, value with units, the tag's alarm, quality reason, age.
//!
//! Columns are sized from what the shown rows hold: the value gets the room its longest value
//! needs, the quality column only the room its reasons need (none when every row is good), and
//! descriptions the rest. A value that still does not fit is shortened visibly (see
//! [`fit_value`]); the selected tag's full value is on the detail line under the panels.

use std::collections::HashMap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

use super::View;
use super::format::{fit_text, fit_value, shown_quality, width, with_units};
use super::theme::{Theme, priority_glyph, quality_glyph};
use crate::alarm::{Alarm, AlarmState, LimitKind, RuleKind};
use crate::tag::{Quality, Sample, TagId};
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

/// Column widths of a grid (0: the column is left out).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Cols {
    tag: u16,
    desc: u16,
    value: u16,
    units: u16,
    alarm: u16,
    quality: u16,
    age: u16,
    spark: u16,
}

impl Cols {
    fn list(&self) -> [u16; 8] {
        [self.tag, self.desc, self.value, self.units, self.alarm, self.quality, self.age, self.spark]
    }

    /// Columns and the one-column gaps between them.
    fn total(&self) -> u16 {
        let shown: Vec<u16> = self.list().into_iter().filter(|w| *w > 0).collect();
        shown.iter().sum::<u16>() + shown.len().saturating_sub(1) as u16
    }
}

/// Longest value shown whole on a terminal of up to 78 columns (wider: a third of its width): a
/// longer one (an array, a long text) is shortened on the grid and shown whole on the detail line.
const MAX_VALUE: u16 = 26;
/// A description narrower than this is left out.
const MIN_DESC: u16 = 8;

/// One column's width in [`Cols`].
type Field = fn(&mut Cols) -> &mut u16;

/// What each column gets in `width` columns, given what its content wants. Room goes first to
/// the value, then the quality reasons, the tag name, units, the alarm and the age; the
/// description takes what is left (and is left out when that is too little). When even that is
/// too much, the quality reasons, the tag names and the values give up room, in that order, down
/// to a floor each.
fn allocate(width: u16, want: Cols) -> Cols {
    let mut got = Cols {
        tag: want.tag.clamp(3, 24),
        desc: 0,
        // A long value (an array, a text) may have a third of a wide terminal.
        value: want.value.clamp(5, MAX_VALUE.max(width / 3)),
        units: if want.units == 0 { 0 } else { want.units.clamp(5, 10) },
        alarm: want.alarm,
        quality: if want.quality == 0 { 0 } else { want.quality.clamp(7, 48) },
        age: want.age.max(3),
        spark: want.spark,
    };
    let shrink: [(Field, u16); 5] = [
        (|c| &mut c.quality, want.quality.clamp(7, 16)),
        (|c| &mut c.tag, want.tag.clamp(3, 10)),
        (|c| &mut c.value, want.value.clamp(5, 10)),
        (|c| &mut c.quality, want.quality.min(7)),
        (|c| &mut c.value, want.value.min(5)),
    ];
    for (col, floor) in shrink {
        let over = got.total().saturating_sub(width);
        if over == 0 {
            break;
        }
        let w = col(&mut got);
        *w -= over.min(w.saturating_sub(floor));
    }
    let rest = width.saturating_sub(got.total());
    if want.desc > 0 && rest > MIN_DESC {
        got.desc = rest - 1;
    } else if got.quality > 0 {
        // No description: the reasons may use the rest.
        got.quality += rest.min(want.quality.saturating_sub(got.quality));
    }
    got
}

/// The alarm mark of a tag: its most urgent annunciated alarm (highest priority, unacknowledged
/// before acknowledged, active before returned), else a muted word when one of its alarms is
/// shelved, suppressed or out of service.
pub(super) fn alarm_marks<'a>(state: &View<'a>) -> HashMap<TagId, &'a Alarm> {
    let mut best: HashMap<TagId, &Alarm> = HashMap::new();
    let rank = |a: &Alarm| {
        let s = a.state();
        let shown =
            matches!(s, AlarmState::Unacknowledged | AlarmState::Acknowledged | AlarmState::ReturnedUnacknowledged);
        (shown, shown.then_some(a.rule.priority), s.is_unacknowledged(), a.active)
    };
    for a in state.plant.alarms.alarms() {
        if a.state() == AlarmState::Normal || a.rule.connection.is_some() {
            continue;
        }
        let slot = best.entry(a.rule.tag).or_insert(a);
        if rank(a) > rank(slot) {
            *slot = a;
        }
    }
    best
}

/// The short name of what an alarm watches: `HIHI`, `HI`, `LO`, `LOLO`, `ALM`, `ROC`, `DEV`, `BAD`.
pub fn rule_label(kind: &RuleKind) -> &'static str {
    match kind {
        RuleKind::Limit { kind: LimitKind::HiHi, .. } => "HIHI",
        RuleKind::Limit { kind: LimitKind::Hi, .. } => "HI",
        RuleKind::Limit { kind: LimitKind::Lo, .. } => "LO",
        RuleKind::Limit { kind: LimitKind::LoLo, .. } => "LOLO",
        RuleKind::Discrete(_) => "ALM",
        RuleKind::Rate { .. } => "ROC",
        RuleKind::Deviation { .. } => "DEV",
        RuleKind::BadQuality { .. } => "BAD",
    }
}

/// The alarm cell: `*▲HI` (blinking `*` while unacknowledged, the priority's glyph and colour,
/// what tripped), or `SHLV`, `SUPP`, `OOS` muted.
fn alarm_cell(theme: Theme, a: &Alarm) -> Line<'static> {
    let p = a.rule.priority;
    let muted = |t: &'static str| Line::from(Span::styled(format!("  {t}"), theme.muted()));
    match a.state() {
        AlarmState::Shelved => muted("SHLV"),
        AlarmState::Suppressed => muted("SUPP"),
        AlarmState::OutOfService => muted("OOS"),
        s => {
            let star = if s.is_unacknowledged() { "*" } else { " " };
            let style = if a.active { theme.priority(p) } else { theme.muted() };
            Line::from(vec![
                Span::styled(star, theme.unacknowledged(p)),
                Span::styled(priority_glyph(p), theme.priority(p)),
                Span::styled(rule_label(&a.rule.kind), style),
            ])
        }
    }
}

/// Width of the alarm column: glyphs and the longest label.
const ALARM_WIDTH: u16 = 6;

/// What a row shows before it is fitted to its columns.
struct RowText<'a> {
    id: TagId,
    name: String,
    desc: &'a str,
    sample: Sample,
    quality: Quality,
    units: &'a str,
    age: String,
    alarm: Option<&'a Alarm>,
}

fn row_text<'a>(state: &'a View<'a>, marks: &HashMap<TagId, &'a Alarm>, id: TagId) -> RowText<'a> {
    let tag = state.layout.tag(id);
    let sample = state.plant.store.get(id).cloned().unwrap_or_else(|| Sample::no_data(state.now));
    let quality = shown_quality(tag, &sample, state.now);
    RowText {
        id,
        // Writable tags are marked `[w]`.
        name: if tag.write.is_some() { format!("{} [w]", tag.name) } else { tag.name.clone() },
        desc: &tag.description,
        age: value_age(state, &sample),
        sample,
        quality,
        units: &tag.units,
        alarm: marks.get(&id).copied(),
    }
}

/// Age of the value shown; nothing received yet has no age.
fn value_age(state: &View, sample: &Sample) -> String {
    match sample.value {
        None => "-".to_string(),
        Some(_) => state.now.duration_since(sample.recv_ts).map(timefmt::age).unwrap_or_else(|_| "0s".into()),
    }
}

fn reason(q: &Quality) -> String {
    q.reason().map(|r| r.to_string()).unwrap_or_default()
}

/// What the shown rows want of each column (no sparklines).
fn wants(state: &View, rows: &[RowText]) -> Cols {
    let max = |f: &dyn Fn(&RowText) -> usize| rows.iter().map(f).max().unwrap_or(0) as u16;
    Cols {
        tag: max(&|r| width(&r.name)).max(3),
        desc: max(&|r| width(r.desc)),
        // The quality glyph, then the value.
        value: 1 + max(&|r| {
            let tag = state.layout.tag(r.id);
            r.sample.value.as_ref().map_or(4, |v| width(&tag.format(v)))
        })
        .max(5),
        units: max(&|r| width(r.units)),
        alarm: if rows.iter().any(|r| r.alarm.is_some()) { ALARM_WIDTH } else { 0 },
        quality: max(&|r| width(&reason(&r.quality))),
        age: max(&|r| width(&r.age)),
        spark: 0,
    }
}

impl Cols {
    /// Each column as wide as the wider of the two.
    pub(super) fn max(self, o: Cols) -> Cols {
        Cols {
            tag: self.tag.max(o.tag),
            desc: self.desc.max(o.desc),
            value: self.value.max(o.value),
            units: self.units.max(o.units),
            alarm: self.alarm.max(o.alarm),
            quality: self.quality.max(o.quality),
            age: self.age.max(o.age),
            spark: self.spark.max(o.spark),
        }
    }
}

/// The rows of a grid that fit in `height` lines: the window keeps the selected row in view, at
/// the bottom when scrolled, as ratatui would; when rows are hidden, the last line says how many.
struct Window<'a> {
    rows: &'a [TagId],
    /// Rows hidden above.
    offset: usize,
    /// Rows that fit.
    fits: usize,
    /// The selected row within the window.
    selected: Option<usize>,
}

fn window<'a>(rows: &'a [TagId], selected: Option<usize>, height: u16) -> Window<'a> {
    let room = height.saturating_sub(2) as usize;
    let fits = if rows.len() > room { room.saturating_sub(1) } else { room };
    let offset = match selected {
        Some(s) if s >= fits => s + 1 - fits,
        _ => 0,
    };
    let shown = &rows[offset.min(rows.len())..(offset + fits).min(rows.len())];
    let selected = selected.and_then(|s| s.checked_sub(offset)).filter(|s| *s < shown.len());
    Window { rows: shown, offset, fits, selected }
}

/// What the rows a grid shows in an area want of each column: the screen sizes the columns of
/// all its grids alike, so they line up (a grid without sparklines leaves their column empty).
pub(super) fn wants_of(state: &View, panel: &GridRows, area: Rect) -> Cols {
    let marks = alarm_marks(state);
    let w = window(panel.rows, panel.selected, area.height);
    let texts: Vec<RowText> = w.rows.iter().map(|&id| row_text(state, &marks, id)).collect();
    let spark = match (panel.sparklines, area.width >= 100) {
        (false, _) => 0,
        (true, true) => 12,
        (true, false) => 8,
    };
    Cols { spark, ..wants(state, &texts) }
}

/// Draws a grid with its columns sized for `shared` (what every grid of the screen wants).
pub(super) fn render_grid(state: &View, theme: Theme, frame: &mut Frame, area: Rect, panel: GridRows, shared: Cols) {
    let GridRows { title, rows, selected, first, sparklines } = panel;
    let w = window(rows, selected, area.height);
    let marks = alarm_marks(state);
    let texts: Vec<RowText> = w.rows.iter().map(|&id| row_text(state, &marks, id)).collect();
    let cols = allocate(area.width, shared);

    let header = header(cols, sparklines).style(theme.header());
    let table_rows: Vec<Row> = texts.iter().map(|r| grid_row(state, theme, cols, r, sparklines)).collect();
    let widths: Vec<Constraint> = cols.list().into_iter().filter(|w| *w > 0).map(Constraint::Length).collect();
    let title = title_line(state, theme, title, first);
    let block = Block::default().borders(Borders::TOP).border_style(theme.muted()).title(title);
    let table = Table::new(table_rows, widths).header(header).block(block).row_highlight_style(theme.selected());
    let mut ts = TableState::default().with_selected(w.selected);
    let table_area = Rect { height: area.height.min(w.fits as u16 + 2), ..area };
    frame.render_stateful_widget(table, table_area, &mut ts);
    let below = rows.len().saturating_sub(w.offset + w.rows.len());
    if (w.offset > 0 || below > 0) && area.height > table_area.height {
        let mut more = Vec::new();
        if w.offset > 0 {
            more.push(format!("↑ {} above", w.offset));
        }
        if below > 0 {
            more.push(format!("↓ {below} more"));
        }
        let r = Rect { y: area.y + table_area.height, height: 1, ..area };
        frame.render_widget(Line::styled(more.join(" · "), theme.notice()).right_aligned(), r);
    }
    if rows.is_empty() && area.height > 2 {
        let msg = if state.filter.is_empty() { "no tags" } else { "no tag matches the filter" };
        let r = Rect { x: area.x + 1, y: area.y + 2, width: area.width.saturating_sub(2), height: 1 };
        frame.render_widget(Line::styled(msg, theme.muted()), r);
    }
}

/// The panel's title, and the filter on the first panel.
fn title_line<'a>(state: &View, theme: Theme, title: Option<&'a str>, first: bool) -> Line<'a> {
    let filter = if !first || (state.filter.is_empty() && !state.filter_editing()) {
        String::new()
    } else {
        format!(" filter: {}{} ", state.filter, if state.filter_editing() { "_" } else { "" })
    };
    Line::from(vec![
        Span::styled(format!(" {} ", title.unwrap_or("Tags")), theme.title()),
        Span::styled(filter, theme.notice()),
    ])
}

fn header(cols: Cols, sparklines: bool) -> Row<'static> {
    let right = |t: &'static str| Cell::from(Line::from(t).right_aligned());
    let names: [(u16, Cell); 8] = [
        (cols.tag, "Tag".into()),
        (cols.desc, "Description".into()),
        (cols.value, right("Value")),
        (cols.units, "Units".into()),
        (cols.alarm, "Alarm".into()),
        (cols.quality, "Quality".into()),
        (cols.age, right("Age")),
        (cols.spark, if sparklines { "Last 10m".into() } else { "".into() }),
    ];
    Row::new(names.into_iter().filter(|(w, _)| *w > 0).map(|(_, c)| c))
}

fn grid_row<'a>(state: &View, theme: Theme, cols: Cols, r: &RowText<'a>, sparklines: bool) -> Row<'a> {
    let tag = state.layout.tag(r.id);
    let q = &r.quality;
    let value_room = cols.value.saturating_sub(1) as usize;
    let value = match &r.sample.value {
        Some(v) => fit_value(tag, v, value_room).0,
        None => "----".to_string(),
    };
    let mut cells: Vec<Cell> = vec![Cell::from(Span::styled(fit_text(&r.name, cols.tag as usize), theme.value()))];
    let text = |s: &str, w: u16, style: Style| Cell::from(Span::styled(fit_text(s, w as usize), style));
    if cols.desc > 0 {
        cells.push(text(r.desc, cols.desc, theme.muted()));
    }
    let shown = format!("{}{value}", quality_glyph(q));
    cells.push(Cell::from(Line::from(Span::styled(shown, theme.quality(q))).right_aligned()));
    if cols.units > 0 {
        cells.push(text(r.units, cols.units, theme.muted()));
    }
    if cols.alarm > 0 {
        cells.push(Cell::from(r.alarm.map(|a| alarm_cell(theme, a)).unwrap_or_default()));
    }
    if cols.quality > 0 {
        // The glyph says bad or uncertain; the column says why.
        cells.push(text(&reason(q), cols.quality, theme.quality(q)));
    }
    cells.push(Cell::from(Line::from(Span::styled(r.age.clone(), theme.muted())).right_aligned()));
    if cols.spark > 0 {
        let line = if sparklines {
            super::trend::sparkline(state, r.id, cols.spark as usize, SPARK_SPAN)
        } else {
            String::new()
        };
        cells.push(Cell::from(Span::styled(line, theme.value())));
    }
    Row::new(cells)
}

/// The detail line of the selected tag: its full value with units (never shortened), quality,
/// age, and the alarm it is in — what a grid row had no room for.
pub(super) fn detail_line(state: &View, theme: Theme, id: TagId) -> Line<'static> {
    let marks = alarm_marks(state);
    let r = row_text(state, &marks, id);
    let tag = state.layout.tag(id);
    let value = match &r.sample.value {
        Some(v) => with_units(tag, Some(v)),
        None => "no value yet".into(),
    };
    let mut spans = vec![
        Span::styled(format!("{} = ", tag.name), theme.muted()),
        Span::styled(value, theme.quality(&r.quality)),
        Span::styled(format!(" · {}", super::format::quality_word(&r.quality)), theme.quality(&r.quality)),
    ];
    if r.sample.value.is_some() {
        spans.push(Span::styled(format!(" · age {}", r.age), theme.muted()));
    }
    if let Some(a) = r.alarm.filter(|a| a.state() != AlarmState::Normal) {
        spans.push(Span::styled(
            format!(" · {} {} {}", a.rule.key, crate::session::alarms::state_text(a.state()), a.rule.message),
            theme.priority(a.rule.priority),
        ));
    }
    if !tag.description.is_empty() {
        spans.push(Span::styled(format!(" · {}", tag.description), theme.muted()));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(tag: u16, desc: u16, value: u16, units: u16, quality: u16) -> Cols {
        Cols { tag, desc, value, units, alarm: 0, quality, age: 3, spark: 0 }
    }

    #[test]
    fn an_all_good_grid_has_no_quality_column_and_gives_the_room_to_descriptions() {
        let c = allocate(100, want(10, 40, 9, 4, 0));
        assert_eq!(c.quality, 0);
        assert_eq!((c.tag, c.value, c.units, c.age), (10, 9, 5, 3));
        assert_eq!(c.desc, 100 - (10 + 9 + 5 + 3) - 4, "the description takes the rest");
        assert_eq!(c.total(), 100);
    }

    #[test]
    fn the_longest_value_is_shown_whole_at_80_columns() {
        // TV_I64 = -1234567890123456789 (20 characters and the quality glyph).
        let c = allocate(80, want(10, 20, 21, 0, 0));
        assert_eq!(c.value, 21);
        assert!(c.total() <= 80);
    }

    #[test]
    fn reasons_give_up_room_before_names_and_values() {
        let c = allocate(80, want(15, 20, 21, 4, 51));
        assert!(c.total() <= 80, "{c:?}");
        assert_eq!((c.value, c.tag), (21, 15), "value and name whole: {c:?}");
        assert!(c.quality >= 16 && c.quality < 51, "{c:?}");
        assert_eq!(c.desc, 0, "no room for descriptions: {c:?}");
    }

    #[test]
    fn a_narrow_terminal_shrinks_everything_to_its_floor_in_order() {
        let c = allocate(40, want(20, 20, 21, 4, 30));
        assert_eq!((c.tag, c.value), (10, 10), "{c:?}");
        assert!(c.quality >= 7, "{c:?}");
        let tiny = allocate(20, want(20, 20, 21, 4, 30));
        assert_eq!((tiny.value, tiny.quality), (5, 7), "{tiny:?}");
    }

    #[test]
    fn widths_never_exceed_the_terminal_when_they_can_fit() {
        for width in 40..=200 {
            for (tag, value, quality) in [(24, 26, 48), (3, 5, 0), (16, 21, 33)] {
                let c = allocate(width, want(tag, 30, value, 6, quality));
                assert!(c.total() <= width, "{width}: {c:?}");
            }
        }
    }
}
