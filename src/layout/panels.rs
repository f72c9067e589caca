//! The `screens:` section and its panels (grid, trend, bar, alarms). The top-level `history:`
//! (see [`super::history`]) bounds trend windows.
//!
//! Each screen and each panel is deserialized and checked on its own, so one bad panel does not
//! hide the problems of the others.

use std::collections::HashSet;
use std::time::Duration;

use super::ctx::Ctx;
use super::de::{Sp, from_node};
use super::duration::{Dur, format_duration};
use super::model::*;
use super::node::{Loc, Node, NodeKind};
use super::raw::*;
use super::suggest::did_you_mean;
use super::value_kind::{ValueKind, kind_text};
use crate::tag::TagId;

/// A trend's `window:` bounds and default.
const MIN_WINDOW: Duration = Duration::from_secs(60);
const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_WINDOW: Duration = Duration::from_secs(10 * 60);

/// The most pens a trend has: more lines cannot be told apart.
const MAX_PENS: usize = 8;

const PENS_HINT: &str = "list 1 to 8 tags, e.g. pens: [P_101, T_102]";

/// What panels may refer to.
pub(super) struct Refs<'a> {
    /// The valid tags, indexed by [`TagId`].
    pub tags: &'a [Tag],
    /// Every tag name written, valid or not.
    pub declared: &'a HashSet<String>,
    /// The trend history kept; `None` when `history:` has errors (windows are then not compared).
    pub history: Option<Duration>,
}

impl<'a> Refs<'a> {
    /// The tag `name` of screen `screen`. `None` when it is not defined (reported here) or has
    /// errors of its own (reported where it is defined).
    fn tag(&self, cx: &mut Ctx, screen: &str, name: &Sp<String>) -> Option<(TagId, &'a Tag)> {
        if let Some(i) = self.tags.iter().position(|t| t.name == **name) {
            return Some((TagId(i as u32), &self.tags[i]));
        }
        if !self.declared.contains(&**name) {
            let hint = match did_you_mean(name, self.tags.iter().map(|t| t.name.as_str())) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "define it under tags:".into(),
            };
            cx.err(name.loc, format!("tag `{}` referenced by screen `{screen}` is not defined", **name), Some(hint));
        }
        None
    }
}

/// A screen and where each of its panels is written.
pub(super) type Placed = (Screen, Vec<Loc>);

/// The `screens:` section; without one, a screen `Tags` shows every tag.
pub(super) fn screens(cx: &mut Ctx, node: Option<&Node>, refs: &Refs) -> Vec<Placed> {
    let Some(n) = node else {
        let tags = (0..refs.tags.len() as u32).map(TagId).collect();
        let grid = GridPanel { title: None, tags, sparklines: false };
        return vec![(Screen { title: "Tags".into(), panels: vec![Panel::Grid(grid)] }, vec![Loc::default()])];
    };
    let items = match &n.kind {
        NodeKind::Seq(items) => items.as_slice(),
        other => {
            cx.err(
                n.loc,
                format!("`screens` is a list, found {}", other.describe()),
                Some("write each screen as `- title: ...`".into()),
            );
            &[]
        }
    };
    if items.is_empty() && matches!(n.kind, NodeKind::Seq(_)) {
        cx.err(
            n.loc,
            "`screens` is empty",
            Some("add a screen, or remove `screens` to get one screen of all tags".into()),
        );
    }
    items.iter().filter_map(|item| screen(cx, item, refs)).collect()
}

/// The value of `key` in a mapping node.
fn field<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    let NodeKind::Map(entries) = &node.kind else { return None };
    entries.iter().find(|(k, _)| k.kind.scalar_text().as_deref() == Some(key)).map(|(_, v)| v)
}

/// One screen. Its panels are checked even when the screen itself has errors.
fn screen(cx: &mut Ctx, item: &Node, refs: &Refs) -> Option<Placed> {
    let head = from_node::<RawScreen>(item).map_err(|e| cx.de(e)).ok();
    let title = match &head {
        Some(h) => h.title.value.clone(),
        None => field(item, "title").and_then(|t| t.kind.scalar_text()).unwrap_or_else(|| "(untitled)".into()),
    };
    if let Some(h) = head.as_ref().filter(|h| h.panels.is_empty()) {
        cx.err(
            h.title.loc,
            format!("screen `{title}` has no panels"),
            Some("add panels: [ { grid: { tags: [...] } } ]".into()),
        );
    }
    let nodes = match field(item, "panels").map(|p| &p.kind) {
        Some(NodeKind::Seq(nodes)) => nodes.as_slice(),
        _ => &[],
    };
    let raw: Vec<Sp<RawPanel>> = nodes.iter().filter_map(|n| from_node(n).map_err(|e| cx.de(e)).ok()).collect();
    alarms_panels_alone(cx, &title, &raw);
    let (panels, locs) =
        raw.into_iter().filter_map(|p| Some((p.loc, panel(cx, refs, &title, p)?))).map(|(l, p)| (p, l)).unzip();
    head.map(|_| (Screen { title, panels }, locs))
}

/// An alarms panel fills its screen: alone, and only one.
fn alarms_panels_alone(cx: &mut Ctx, title: &str, panels: &[Sp<RawPanel>]) {
    let mut alarms = panels.iter().filter(|p| matches!(p.value, RawPanel::Alarms(_)));
    let Some(first) = alarms.next() else { return };
    if let Some(second) = alarms.next() {
        cx.err(
            second.loc,
            format!("screen `{title}` has two alarms panels"),
            Some("one alarms panel shows every alarm: remove this one".into()),
        );
    }
    if panels.iter().any(|p| !matches!(p.value, RawPanel::Alarms(_))) {
        cx.err(
            first.loc,
            format!("screen `{title}` has an alarms panel and other panels"),
            Some("an alarms panel fills its screen: put it on a screen of its own".into()),
        );
    }
}

fn panel(cx: &mut Ctx, refs: &Refs, screen: &str, p: Sp<RawPanel>) -> Option<Panel> {
    match p.value {
        RawPanel::Grid(g) => {
            let tags = g.tags.iter().filter_map(|n| refs.tag(cx, screen, n)).map(|(id, _)| id).collect();
            Some(Panel::Grid(GridPanel { title: g.title, tags, sparklines: g.sparklines.unwrap_or(false) }))
        }
        RawPanel::Alarms(a) => Some(Panel::Alarms(AlarmsPanel { title: a.and_then(|a| a.title) })),
        RawPanel::Trend(t) => trend(cx, refs, screen, p.loc, t).map(Panel::Trend),
        RawPanel::Bar(b) => bar(cx, refs, screen, p.loc, b).map(Panel::Bar),
    }
}

/// `trend:`; `at` is where the panel stands.
fn trend(cx: &mut Ctx, refs: &Refs, screen: &str, at: Loc, raw: RawTrend) -> Option<TrendPanel> {
    let before = cx.diags.len();
    let pens = match &raw.pens {
        Some(list) => pens(cx, refs, screen, list),
        None => {
            cx.err(at, "a trend needs `pens`", Some(PENS_HINT.into()));
            Vec::new()
        }
    };
    let window = window(cx, refs, raw.window.as_ref());
    if cx.diags.len() > before {
        return None;
    }
    Some(TrendPanel { title: raw.title, pens, window: window? })
}

/// The pens of a trend: 1 to 8, each tag once, none a string.
fn pens(cx: &mut Ctx, refs: &Refs, screen: &str, list: &Sp<Vec<Sp<RawPen>>>) -> Vec<Pen> {
    if list.is_empty() {
        cx.err(list.loc, "a trend needs at least one pen", Some(PENS_HINT.into()));
    }
    if let Some(extra) = list.get(MAX_PENS) {
        cx.err(
            extra.loc,
            format!("a trend has at most {MAX_PENS} pens; this one has {}", list.len()),
            Some("split it into two trends: more lines cannot be told apart".into()),
        );
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for p in list.iter() {
        let (name, range) = match &p.value {
            RawPen::Name(n) => (Sp::new(n.clone(), p.loc), None),
            RawPen::Settings(s) => {
                let range = s.range.as_ref().and_then(|r| span(cx, r, "range"));
                let Some(name) = s.tag.clone() else {
                    let hint = "write the tag name alone, or { tag: T_102, range: [0, 250] }";
                    cx.err(p.loc, "a pen needs a `tag`", Some(hint.into()));
                    continue;
                };
                (name, range)
            }
        };
        if !seen.insert(name.value.clone()) {
            let hint = "remove one: each tag is drawn once per trend";
            cx.err(name.loc, format!("`{}` is already a pen of this trend", *name), Some(hint.into()));
            continue;
        }
        if let Some(id) = pen_tag(cx, refs, screen, &name) {
            out.push(Pen { tag: id, range });
        }
    }
    out
}

/// A pen's tag: defined and not a string (booleans are drawn 0/1; OPC UA types are not known
/// before run time).
fn pen_tag(cx: &mut Ctx, refs: &Refs, screen: &str, name: &Sp<String>) -> Option<TagId> {
    let (id, tag) = refs.tag(cx, screen, name)?;
    if ValueKind::of(tag) == ValueKind::Text {
        cx.err(
            name.loc,
            format!("a trend needs numbers; `{}` is {}", tag.name, kind_text(tag)),
            Some(format!("show `{}` in a grid", tag.name)),
        );
        return None;
    }
    Some(id)
}

/// A trend's `window:`: 1m to 24h and not longer than the history kept (default 10m, or the
/// whole history when that is shorter).
fn window(cx: &mut Ctx, refs: &Refs, w: Option<&Sp<Dur>>) -> Option<Duration> {
    let Some(w) = w else { return Some(refs.history.map_or(DEFAULT_WINDOW, |h| h.min(DEFAULT_WINDOW))) };
    let hint = "the time a trend shows at first: 1m to 24h, e.g. window: 10m";
    let d = cx.within(w, "window", (MIN_WINDOW, MAX_WINDOW), hint)?;
    if let Some(h) = refs.history
        && d > h
    {
        cx.err(
            w.loc,
            format!("window of {} is longer than the history kept ({})", format_duration(d), format_duration(h)),
            Some("shorten the window, or keep more with `history:` at the top level (up to 48h)".into()),
        );
        return None;
    }
    Some(d)
}

/// `bar:`; `at` is where the panel stands.
fn bar(cx: &mut Ctx, refs: &Refs, screen: &str, at: Loc, raw: RawBar) -> Option<BarPanel> {
    let before = cx.diags.len();
    let tag = match &raw.tag {
        Some(name) => refs.tag(cx, screen, name).filter(|(_, t)| bar_tag(cx, name.loc, t)),
        None => {
            cx.err(at, "a bar needs a `tag`", Some("e.g. bar: { tag: LEVEL, normal: [20, 80] }".into()));
            None
        }
    };
    let written = raw.range.as_ref().and_then(|r| span(cx, r, "range"));
    let range = match (&raw.range, tag) {
        (Some(_), _) => written,
        (None, Some((_, t))) => {
            let scaled = scale_range(t);
            if scaled.is_none() {
                cx.err(
                    at,
                    format!("bar of `{}` needs range: [min, max] (the tag has no scale)", t.name),
                    Some("write the ends of the bar in the tag's units, e.g. range: [0, 100]".into()),
                );
            }
            scaled
        }
        (None, None) => None,
    };
    let normal = raw.normal.as_ref().and_then(|n| span(cx, n, "normal"));
    if let (Some(n), Some(r), Some(written)) = (normal, range, raw.normal.as_ref())
        && (n.0 < r.0 || n.1 > r.1)
    {
        let from = match (&raw.range, tag) {
            (None, Some((_, t))) => format!(" (from the scale of `{}`)", t.name),
            _ => String::new(),
        };
        cx.err(
            written.loc,
            format!("normal [{}, {}] is outside the bar's range [{}, {}]{from}", n.0, n.1, r.0, r.1),
            Some("the normal band lies within the range of the bar".into()),
        );
    }
    if cx.diags.len() > before {
        return None;
    }
    Some(BarPanel { title: raw.title, tag: tag?.0, range: range?, normal })
}

/// Whether a bar can show `tag` (a number, not a boolean or a string); a diagnostic at `loc` if not.
fn bar_tag(cx: &mut Ctx, loc: Loc, tag: &Tag) -> bool {
    let hint = match ValueKind::of(tag) {
        ValueKind::Bool => "use a grid: it shows the on/off text",
        ValueKind::Text => "use a grid to show text",
        ValueKind::Int | ValueKind::Float | ValueKind::Unknown => return true,
    };
    cx.err(loc, format!("a bar needs a numeric value; `{}` is {}", tag.name, kind_text(tag)), Some(hint.into()));
    false
}

/// The engineering-unit range of a tag's scale, low end first.
fn scale_range(tag: &Tag) -> Option<(f64, f64)> {
    match &tag.source {
        TagSource::Modbus(ModbusPoint { scale: Some(s), .. }) => {
            let [a, b] = s.eu;
            Some((a.min(b), a.max(b)))
        }
        _ => None,
    }
}

/// `what: [low, high]`: two finite numbers, low below high.
fn span(cx: &mut Ctx, v: &Sp<[f64; 2]>, what: &str) -> Option<(f64, f64)> {
    let [lo, hi] = v.value;
    let (message, hint) = if !(lo.is_finite() && hi.is_finite()) {
        (format!("{what} must be two finite numbers"), format!("e.g. {what}: [0, 100]"))
    } else if lo == hi {
        (format!("{what} [{lo}, {hi}] has no width"), "the two ends must differ".into())
    } else if lo > hi {
        (format!("{what} [{lo}, {hi}] is the wrong way round"), format!("write the low end first: [{hi}, {lo}]"))
    } else {
        return Some((lo, hi));
    };
    cx.err(v.loc, message, Some(hint));
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::parse;

    const HEAD: &str = "connections:\n  c: { modbus_tcp: { host: h } }\ntags:\n  A: { source: c, holding: 0, type: f32 }\n  B: { source: c, holding: 2, type: f32 }\n";

    /// The layout with `top` above the tags and one screen of `panel`.
    fn layout(top: &str, panel: &str) -> String {
        format!("{top}{HEAD}screens:\n  - title: S\n    panels:\n      - {panel}\n")
    }

    /// The diagnostics as (line, column, message).
    fn problems(top: &str, panel: &str) -> Vec<(u32, u32, String)> {
        match parse(&layout(top, panel), "t.yaml") {
            Ok(_) => Vec::new(),
            Err(e) => e.diagnostics.into_iter().map(|d| (d.loc.line, d.loc.col, d.message)).collect(),
        }
    }

    fn trend_window(top: &str, panel: &str) -> Duration {
        let l = parse(&layout(top, panel), "t.yaml").unwrap_or_else(|e| panic!("{e}"));
        let Panel::Trend(t) = &l.screens[0].panels[0] else { panic!("a trend") };
        t.window
    }

    #[test]
    fn windows_from_one_minute_to_a_day_within_the_history() {
        let h48 = "history: 48h\n";
        assert_eq!(trend_window(h48, "trend: { pens: [A], window: 1m }"), Duration::from_secs(60));
        assert_eq!(trend_window(h48, "trend: { pens: [A], window: 24h }"), Duration::from_secs(86_400));
        assert_eq!(
            problems(h48, "trend: { pens: [A], window: 1441m }"),
            [(10, 37, "window of 1441m is longer than 24h".to_string())]
        );
        assert_eq!(
            problems(h48, "trend: { pens: [A], window: 59s }"),
            [(10, 37, "window of 59s is shorter than 1m".to_string())]
        );
        // Without a window: 10m, or the whole history when that is shorter.
        assert_eq!(trend_window("", "trend: { pens: [A] }"), Duration::from_secs(600));
        assert_eq!(trend_window("history: 5m\n", "trend: { pens: [A] }"), Duration::from_secs(300));
        // With a broken history, windows are only held to their own bounds.
        assert_eq!(
            problems("history: 0s\n", "trend: { pens: [A], window: 3h }"),
            [(1, 10, "history of 0s is shorter than 1m".to_string())]
        );
    }

    #[test]
    fn history_from_one_minute_to_two_days() {
        let history = |h: &str| parse(&layout(&format!("history: {h}\n"), "grid: { tags: [A] }"), "t.yaml");
        assert_eq!(history("1m").map(|l| l.history), Ok(Duration::from_secs(60)));
        assert_eq!(history("48h").map(|l| l.history), Ok(Duration::from_secs(48 * 3600)));
        let e = history("49h").unwrap_err();
        assert_eq!(e.diagnostics[0].message, "history of 49h is longer than 48h");
        let e = history("2").unwrap_err();
        assert!(e.diagnostics[0].message.contains("no unit"), "{e}");
    }

    #[test]
    fn ranges_are_finite_and_go_low_to_high() {
        assert_eq!(
            problems("", "trend: { pens: [{ tag: A, range: [0, .inf] }, { tag: B, range: [5, 5] }] }"),
            [(9, 42, "range must be two finite numbers".to_string()), (9, 72, "range [5, 5] has no width".to_string())]
        );
        assert_eq!(
            problems("", "bar: { tag: A, range: [0, 10], normal: [.nan, 5] }"),
            [(9, 48, "normal must be two finite numbers".to_string())]
        );
    }

    #[test]
    fn a_pen_written_as_settings_needs_its_tag() {
        assert_eq!(
            problems("", "trend: { pens: [A, { range: [0, 1] }] }"),
            [(9, 28, "a pen needs a `tag`".to_string())]
        );
        assert_eq!(
            problems("", "trend: { pens: [A, 7] }"),
            [(9, 28, "expected a tag name or `{ tag: NAME, range: [low, high] }`, found integer `7`".to_string())]
        );
    }

    #[test]
    fn panels_are_checked_when_their_screen_has_errors() {
        let src = format!(
            "{HEAD}screens:\n  - titel: S\n    panels:\n      - grid: {{ tags: [C] }}\n      - bar: {{ tag: A }}\n"
        );
        let e = parse(&src, "t.yaml").unwrap_err();
        let got: Vec<(u32, &str)> = e.diagnostics.iter().map(|d| (d.loc.line, d.message.as_str())).collect();
        assert_eq!(
            got,
            [
                (7, "unknown field `titel`"),
                (9, "tag `C` referenced by screen `(untitled)` is not defined"),
                (10, "bar of `A` needs range: [min, max] (the tag has no scale)")
            ]
        );
    }
}
