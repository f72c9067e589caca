//! A layout screen: its panels stacked top to bottom. Grids take the rows they need, bars three
//! lines, trends share what is left; without a trend the last grid takes the rest.

use std::collections::HashMap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;

use super::grid::{GridRows, render_grid};
use super::theme::Theme;
use crate::app::state::State;
use crate::layout::Panel;
use crate::tag::TagId;

pub fn render(state: &State, theme: Theme, frame: &mut Frame, area: Rect) {
    let Some(screen) = state.layout.screens.get(state.screen).filter(|s| !s.panels.is_empty()) else {
        frame.render_widget(Line::styled("this screen has no panels", theme.muted()), area);
        return;
    };
    let rows: HashMap<usize, Vec<TagId>> = state.visible_panels().into_iter().collect();
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
    let mut first_row = 0;
    for (i, (panel, rect)) in screen.panels.iter().zip(areas.iter()).enumerate() {
        match panel {
            Panel::Grid(g) => {
                let tags = rows.get(&i).map(Vec::as_slice).unwrap_or_default();
                let selected = state.selected.checked_sub(first_row).filter(|s| *s < tags.len());
                let grid = GridRows {
                    title: g.title.as_deref(),
                    rows: tags,
                    selected,
                    first: first_grid == Some(i),
                    sparklines: g.sparklines,
                };
                render_grid(state, theme, frame, *rect, grid);
                first_row += tags.len();
            }
            Panel::Trend(t) => super::trend::render(state, t, theme, frame, *rect),
            Panel::Bar(b) => super::bar::render(state, b, theme, frame, *rect),
            Panel::Alarms(a) => super::alarms::render_list(state, a.title.as_deref(), theme, frame, *rect),
        }
    }
}
