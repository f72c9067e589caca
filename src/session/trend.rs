//! Trends in the console: the time window shown (zoom, pan, back to live), the freeze cursor and
//! the CSV export of what is shown. Pure like `update`; the runtime writes the export file.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::keymap::Action;
use super::msg::Effect;
use super::state::Session;
pub use super::views::TrendView;
use crate::layout::{Panel, TrendPanel};
use crate::plant::Plant;
use crate::tag::history::{Point, PointQuality, Series};
use crate::timefmt;

/// The windows `+`/`-` step through.
pub const WINDOWS: [Duration; 10] = [
    Duration::from_secs(60),
    Duration::from_secs(120),
    Duration::from_secs(300),
    Duration::from_secs(600),
    Duration::from_secs(1800),
    Duration::from_secs(3600),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(4 * 3600),
    Duration::from_secs(8 * 3600),
    Duration::from_secs(24 * 3600),
];

/// Cursor steps per window.
const CURSOR_STEPS: u32 = 60;

/// The trend panels of the current screen.
pub fn panels(state: &Session) -> Vec<&TrendPanel> {
    if state.diagnostics {
        return Vec::new();
    }
    let Some(s) = state.layout.screens.get(state.screen) else { return Vec::new() };
    s.panels
        .iter()
        .filter_map(|p| match p {
            Panel::Trend(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// Keys of a screen with trends; `None` when `a` is not a trend key here.
pub fn key(state: &mut Session, plant: &Plant, a: Action, now: SystemTime) -> Option<Vec<Effect>> {
    let first = panels(state).first().map(|p| (*p).clone())?;
    let window = state.trend.window(&first);
    let history = state.layout.history;
    let v = &mut state.trend;
    match a {
        Action::WiderWindow | Action::NarrowerWindow => {
            let wider = a == Action::WiderWindow;
            let i = WINDOWS.iter().position(|w| *w >= window).unwrap_or(WINDOWS.len() - 1);
            let j = if wider { (i + 1).min(WINDOWS.len() - 1) } else { i.saturating_sub(1) };
            // Never wider than the history kept (or the panel's own window, if that is wider).
            let widest = WINDOWS.iter().rev().find(|w| **w <= history.max(first.window)).copied();
            v.zoom = Some(WINDOWS[j].min(widest.unwrap_or(WINDOWS[0])));
        }
        Action::Left | Action::Right => {
            let left = a == Action::Left;
            match v.cursor {
                Some(c) => {
                    let step = window / CURSOR_STEPS;
                    let end = v.end(now);
                    let c = if left { c.checked_sub(step).unwrap_or(c) } else { c + step };
                    v.cursor = Some(c.clamp(end.checked_sub(window).unwrap_or(end), end));
                }
                None => {
                    let step = window / 4;
                    let end = v.end(now);
                    let oldest = now.checked_sub(history).unwrap_or(now);
                    v.end = if left {
                        Some(end.checked_sub(step).unwrap_or(end).max(oldest))
                    } else {
                        // Panning past now is live again.
                        Some(end + step).filter(|e| *e < now)
                    };
                }
            }
        }
        Action::Cursor => {
            if v.cursor.is_some() {
                v.cursor = None;
            } else {
                // Freeze where the axis is, with the cursor at its right edge.
                let end = v.end(now);
                v.end = Some(end);
                v.cursor = Some(end);
            }
        }
        Action::Live => {
            v.end = None;
            v.cursor = None;
        }
        Action::Export => return Some(export(state, plant, now)),
        _ => return None,
    }
    Some(Vec::new())
}

/// Leaving a screen: back to live, each panel's own window.
pub fn reset(state: &mut Session) {
    state.trend = TrendView::default();
}

/// The shown window of every pen of the current screen's trends as CSV: one row per stored point
/// of any pen (UTC time, then value and quality of each pen as held at that time).
pub fn export(state: &mut Session, plant: &Plant, now: SystemTime) -> Vec<Effect> {
    let panels: Vec<TrendPanel> = panels(state).into_iter().cloned().collect();
    let mut pens = Vec::new();
    for p in &panels {
        for pen in &p.pens {
            if !pens.contains(&pen.tag) {
                pens.push(pen.tag);
            }
        }
    }
    let Some(first) = panels.first() else { return Vec::new() };
    let end = state.trend.end(now);
    let start = end.checked_sub(state.trend.window(first)).unwrap_or(end);
    // Each pen's points in the window, walked forward once alongside the merged times (no search
    // per row and pen).
    let series: Vec<Option<&Series>> = pens.iter().map(|t| plant.history.series(*t)).collect();
    let points: Vec<Vec<(SystemTime, Point)>> = series
        .iter()
        .map(|s| s.map(|s| s.between(start, end).map(|p| (s.time(p), *p)).collect()).unwrap_or_default())
        .collect();
    let mut held: Vec<Option<Point>> = series.iter().map(|s| s.and_then(|s| s.at(start)).copied()).collect();
    let mut next = vec![0usize; pens.len()];
    let mut times: Vec<SystemTime> = points.iter().flatten().map(|(t, _)| *t).collect();
    times.sort();
    times.dedup();
    let mut csv = String::from("time_utc");
    for t in &pens {
        let name = &state.layout.tag(*t).name;
        let _ = write!(csv, ",{name},{name}_quality");
    }
    csv.push('\n');
    for t in &times {
        csv.push_str(&timefmt::rfc3339_utc(*t));
        for (i, pts) in points.iter().enumerate() {
            while let Some((_, p)) = pts.get(next[i]).filter(|(pt, _)| pt <= t) {
                held[i] = Some(*p);
                next[i] += 1;
            }
            match held[i] {
                Some(p) => {
                    let q = match p.quality {
                        PointQuality::Good => "good",
                        PointQuality::Uncertain => "uncertain",
                        PointQuality::Bad => "bad",
                    };
                    let v = if p.value.is_finite() { p.value.to_string() } else { String::new() };
                    let _ = write!(csv, ",{v},{q}");
                }
                None => csv.push_str(",,"),
            }
        }
        csv.push('\n');
    }
    let stamp = timefmt::rfc3339_utc(now).replace([':', '-'], "").chars().take(15).collect::<String>();
    let screen = state.layout.screens.get(state.screen).map(|s| s.title.as_str()).unwrap_or("trend");
    let slug: String =
        screen.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let name = format!("trend-{slug}-{stamp}.csv");
    vec![Effect::Export { name, contents: csv, rows: times.len() }]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};

    use super::*;
    use crate::console::{Console as State, Effect, Msg, update};
    use crate::driver::DriverEvent;
    use crate::layout::{self, ConnId, Pen, Screen};
    use crate::tag::{Reason, Sample, TagId, Value};

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    /// One trend of A and B (window 10m) on screen 1; a grid on screen 2.
    fn state() -> State {
        let src = "connections:\n  c1: { modbus_tcp: { host: h } }\ntags:\n  A: { source: c1, holding: 0 }\n  B: { source: c1, holding: 1 }\n";
        let mut l = layout::parse(src, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
        let trend = TrendPanel {
            title: Some("T".into()),
            pens: vec![Pen { tag: TagId(0), range: None }, Pen { tag: TagId(1), range: Some((0.0, 10.0)) }],
            window: Duration::from_secs(600),
        };
        l.screens.insert(0, Screen { title: "Trends".into(), panels: vec![Panel::Trend(trend)] });
        l.history = Duration::from_secs(3600);
        State::new(Arc::new(l), "ann".into(), false, t(0))
    }

    fn value(s: &mut State, tag: u32, v: f64, at: u64) {
        let e = DriverEvent::Samples {
            conn: ConnId(0),
            samples: vec![(TagId(tag), Sample::good(Value::Float(v), t(at)))],
            raw: None,
        };
        update(s, Msg::Driver(e), t(at));
    }

    fn key(s: &mut State, code: KeyCode, at: u64) -> Vec<Effect> {
        let k = KeyEvent { code, modifiers: KeyModifiers::NONE, kind: KeyEventKind::Press, state: KeyEventState::NONE };
        update(s, Msg::Key(k), t(at))
    }

    #[test]
    fn samples_of_pens_go_to_the_history() {
        let mut s = state();
        value(&mut s, 0, 1.0, 1);
        value(&mut s, 0, 2.0, 2);
        value(&mut s, 1, 5.0, 2);
        assert_eq!(s.plant.history.series(TagId(0)).map(|s| s.len()), Some(2));
        assert_eq!(s.plant.history.series(TagId(1)).map(|s| s.len()), Some(1));
    }

    #[test]
    fn plus_and_minus_step_through_windows_up_to_the_history() {
        let mut s = state();
        key(&mut s, KeyCode::Char('+'), 1);
        assert_eq!(s.trend.zoom, Some(Duration::from_secs(1800)));
        for _ in 0..5 {
            key(&mut s, KeyCode::Char('+'), 1);
        }
        assert_eq!(s.trend.zoom, Some(Duration::from_secs(3600)), "not wider than the 1 h history");
        for _ in 0..20 {
            key(&mut s, KeyCode::Char('-'), 1);
        }
        assert_eq!(s.trend.zoom, Some(Duration::from_secs(60)));
        // Another screen: back to each panel's own window and live.
        key(&mut s, KeyCode::Left, 1);
        key(&mut s, KeyCode::Tab, 1);
        assert_eq!(s.trend, TrendView::default());
    }

    #[test]
    fn pan_back_and_return_to_live() {
        let mut s = state();
        key(&mut s, KeyCode::Left, 5000);
        assert_eq!(s.trend.end, Some(t(4850)), "a quarter of the 10 min window");
        for _ in 0..100 {
            key(&mut s, KeyCode::Left, 5000);
        }
        assert_eq!(s.trend.end, Some(t(1400)), "not before the history");
        key(&mut s, KeyCode::Right, 5000);
        assert_eq!(s.trend.end, Some(t(1550)));
        key(&mut s, KeyCode::Char('l'), 5000);
        assert_eq!(s.trend.end, None);
        key(&mut s, KeyCode::Left, 5000);
        key(&mut s, KeyCode::Right, 5000);
        assert_eq!(s.trend.end, None, "panning up to now is live");
    }

    #[test]
    fn the_cursor_freezes_and_moves_within_the_window() {
        let mut s = state();
        key(&mut s, KeyCode::Char('c'), 3000);
        assert_eq!((s.trend.end, s.trend.cursor), (Some(t(3000)), Some(t(3000))));
        key(&mut s, KeyCode::Left, 3010);
        assert_eq!(s.trend.cursor, Some(t(2990)), "10 s steps in a 10 min window");
        assert_eq!(s.trend.end, Some(t(3000)), "frozen");
        key(&mut s, KeyCode::Right, 3010);
        key(&mut s, KeyCode::Right, 3010);
        assert_eq!(s.trend.cursor, Some(t(3000)), "not past the right edge");
        for _ in 0..100 {
            key(&mut s, KeyCode::Left, 3010);
        }
        assert_eq!(s.trend.cursor, Some(t(2400)), "not past the left edge");
        key(&mut s, KeyCode::Char('c'), 3010);
        assert_eq!(s.trend.cursor, None);
    }

    #[test]
    fn export_writes_every_point_of_the_window_with_held_values() {
        let mut s = state();
        value(&mut s, 0, 1.5, 100);
        value(&mut s, 1, 7.0, 200);
        let bad = DriverEvent::Samples {
            conn: ConnId(0),
            samples: vec![(TagId(0), Sample::bad(Reason::Timeout, t(300)))],
            raw: None,
        };
        update(&mut s, Msg::Driver(bad), t(300));
        let e = key(&mut s, KeyCode::Char('e'), 400);
        let [Effect::Export { name, contents, rows }] = e.as_slice() else { panic!("{e:?}") };
        assert!(name.starts_with("trend-trends-") && name.ends_with(".csv"), "{name}");
        assert_eq!(*rows, 3);
        let lines: Vec<&str> = contents.lines().collect();
        assert_eq!(lines[0], "time_utc,A,A_quality,B,B_quality");
        assert!(lines[1].ends_with(",1.5,good,,"), "{}", lines[1]);
        assert!(lines[2].ends_with(",1.5,good,7,good"), "{}", lines[2]);
        assert!(lines[3].ends_with(",,bad,7,good"), "{}", lines[3]);
    }

    #[test]
    fn trend_keys_on_a_screen_without_trends_do_nothing() {
        let mut s = state();
        key(&mut s, KeyCode::Char('2'), 1);
        for c in [KeyCode::Char('+'), KeyCode::Char('c'), KeyCode::Left, KeyCode::Char('e')] {
            assert_eq!(key(&mut s, c, 1), vec![]);
        }
        assert_eq!(s.trend, TrendView::default());
    }
}
