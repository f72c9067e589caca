//! A layout screen: its panels stacked top to bottom. Grids take the rows they need, bars three
//! lines, trends share what is left; without a trend the last grid takes the rest. Under them,
//! the selected tag's detail line.

use std::collections::HashMap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;

use super::View;
use super::grid::{GridRows, render_grid, wants_of};
use super::theme::Theme;
use crate::layout::Panel;
use crate::tag::TagId;

pub fn render(state: &View, theme: Theme, frame: &mut Frame, area: Rect) {
    let Some(screen) = state.layout.screens.get(state.screen).filter(|s| !s.panels.is_empty()) else {
        frame.render_widget(Line::styled("this screen has no panels", theme.muted()), area);
        return;
    };
    let rows: HashMap<usize, Vec<TagId>> = state.visible_panels().into_iter().collect();
    // The selected tag's detail line (its full value, quality, age, alarm) under the panels.
    let area = match state.selected_tag() {
        Some(id) if area.height > 4 => {
            let [panels, detail] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
            frame.render_widget(super::grid::detail_line(state, theme, id), detail);
            panels
        }
        _ => area,
    };
    let has_trend = screen.panels.iter().any(|p| matches!(p, Panel::Trend(_)));
    let last = screen.panels.len() - 1;
    let constraints: Vec<Constraint> = screen
        .panels
        .iter()
        .enumerate()
        .map(|(i, p)| match p {
            Panel::Grid(_) if i == last && !has_trend => Constraint::Min(4),
            Panel::Grid(_) => {
                let n = rows.get(&i).map_or(0, Vec::len) as u16;
                Constraint::Max((n + 2).max(4))
            }
            Panel::Bar(_) => Constraint::Length(super::bar::HEIGHT),
            Panel::Trend(_) => Constraint::Fill(1),
            Panel::Alarms(_) => Constraint::Fill(1),
        })
        .collect();
    let areas = Layout::vertical(constraints).split(area);
    let first_grid = screen.panels.iter().position(|p| matches!(p, Panel::Grid(_)));
    // The grids of a screen, each with its rows and where the selection is in them.
    let mut grids: Vec<(usize, GridRows)> = Vec::new();
    let mut first_row = 0;
    for (i, panel) in screen.panels.iter().enumerate() {
        if let Panel::Grid(g) = panel {
            let tags = rows.get(&i).map(Vec::as_slice).unwrap_or_default();
            let selected = state.selected.checked_sub(first_row).filter(|s| *s < tags.len());
            first_row += tags.len();
            let first = first_grid == Some(i);
            grids.push((
                i,
                GridRows { title: g.title.as_deref(), rows: tags, selected, first, sparklines: g.sparklines },
            ));
        }
    }
    // One set of column widths for every grid, so their columns line up.
    let shared = grids.iter().map(|(i, g)| wants_of(state, g, areas[*i])).reduce(|a, b| a.max(b)).unwrap_or_default();
    let mut grids = grids.into_iter().peekable();
    for (i, (panel, rect)) in screen.panels.iter().zip(areas.iter()).enumerate() {
        match panel {
            Panel::Grid(_) => {
                if let Some((_, grid)) = grids.next_if(|(g, _)| *g == i) {
                    render_grid(state, theme, frame, *rect, grid, shared);
                }
            }
            Panel::Trend(t) => super::trend::render(state, t, theme, frame, *rect),
            Panel::Bar(b) => super::bar::render(state, b, theme, frame, *rect),
            Panel::Alarms(a) => super::alarms::render_list(state, a.title.as_deref(), theme, frame, *rect),
        }
    }
}
