//! The top-level `history:`: how long trend history is kept, and the most memory it may take.
//!
//! `history: 2h`, or `history: { keep: 48h, budget: 1GiB }`. What a layout's history can take is
//! known before anything runs: every tag on a trend, bar or sparkline keeps at most 10 points a
//! second of `keep`, 16 bytes each ([`History::worst_case_bytes`]). A layout whose worst case is
//! over its budget (default [`DEFAULT_HISTORY_BUDGET`]) is refused, naming the panels that keep
//! the most and what to do.

use std::collections::HashSet;
use std::time::Duration;

use super::ctx::{Ctx, key_text};
use super::de::{Sp, from_node};
use super::duration::{Dur, format_duration};
use super::model::{DEFAULT_HISTORY, DEFAULT_HISTORY_BUDGET, Panel};
use super::node::{Loc, Node, NodeKind};
use super::panels::Placed;
use super::size::{SIZE_HINT, Size, format_size, size_at_least};
use super::suggest::did_you_mean;
use crate::tag::history::History;

/// `history:` (or `keep:`) bounds.
const MIN_HISTORY: Duration = Duration::from_secs(60);
const MAX_HISTORY: Duration = Duration::from_secs(48 * 3600);

/// `budget:` bounds: less than 1 MiB holds hardly a tag; more than 1 TiB is a typo.
const MIN_BUDGET: u64 = 1 << 20;
const MAX_BUDGET: u64 = 1 << 40;

/// The keys of `history: { … }`.
const KEYS: [&str; 2] = ["keep", "budget"];

/// The most contributors a budget error names.
const NAMED: usize = 3;

/// `history:` as written.
pub(super) struct HistorySettings {
    /// How long history is kept; `None` when what is written has errors.
    pub keep: Option<Duration>,
    /// The most bytes it may take; `None` when what is written has errors.
    pub budget: Option<u64>,
    /// Where `history:` is written, if it is.
    pub at: Option<Loc>,
}

/// `history: DURATION` or `history: { keep, budget }`; defaults for what is not written.
pub(super) fn settings(cx: &mut Ctx, node: Option<&Node>) -> HistorySettings {
    let Some(node) = node else {
        return HistorySettings { keep: Some(DEFAULT_HISTORY), budget: Some(DEFAULT_HISTORY_BUDGET), at: None };
    };
    let mut s =
        HistorySettings { keep: Some(DEFAULT_HISTORY), budget: Some(DEFAULT_HISTORY_BUDGET), at: Some(node.loc) };
    let NodeKind::Map(entries) = &node.kind else {
        s.keep = keep(cx, node);
        return s;
    };
    for (k, v) in entries {
        match key_text(k).as_str() {
            "keep" => s.keep = keep(cx, v),
            "budget" => s.budget = budget(cx, v),
            other => {
                let hint = match did_you_mean(other, KEYS) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => "allowed here: keep, budget".into(),
                };
                cx.err(k.loc, format!("unknown field `{other}`"), Some(hint));
            }
        }
    }
    s
}

/// How long history is kept: 1m to 48h.
fn keep(cx: &mut Ctx, node: &Node) -> Option<Duration> {
    let hint = "history is how long trend values are kept: 1m to 48h (default 2h)";
    match from_node::<Sp<Dur>>(node) {
        Ok(d) => cx.within(&d, "history", (MIN_HISTORY, MAX_HISTORY), hint),
        Err(e) => {
            cx.de(e);
            None
        }
    }
}

/// The most memory history may take: 1 MiB to 1 TiB.
fn budget(cx: &mut Ctx, node: &Node) -> Option<u64> {
    let what = "the budget is the most memory all trend history may take, e.g. `budget: 512MiB`";
    match from_node::<Sp<Size>>(node) {
        Err(e) => {
            cx.err(e.loc.unwrap_or(node.loc), e.message, Some(SIZE_HINT.into()));
            None
        }
        Ok(b) if b.value.0 < MIN_BUDGET => {
            let message = format!("a history budget of {} is less than 1 MiB", format_size(b.value.0));
            cx.err(b.loc, message, Some(what.into()));
            None
        }
        Ok(b) if b.value.0 > MAX_BUDGET => {
            let message = format!("a history budget of {} is more than 1 TiB", format_size(b.value.0));
            cx.err(b.loc, message, Some(format!("is this the right number? {what}")));
            None
        }
        Ok(b) => Some(b.value.0),
    }
}

/// One panel's share of the history: the tags it is the first panel to keep.
struct Share<'a> {
    screen: &'a str,
    panel: &'a Panel,
    loc: Loc,
    tags: usize,
}

/// Refuses a layout whose history can take more memory than its budget.
pub(super) fn check_budget(cx: &mut Ctx, s: &HistorySettings, screens: &[Placed]) {
    let (Some(keep), Some(budget)) = (s.keep, s.budget) else { return };
    // Each tag counts once, for the first panel that keeps it (the history is per tag).
    let mut seen = HashSet::new();
    let mut shares = Vec::new();
    for (screen, locs) in screens {
        for (panel, loc) in screen.panels.iter().zip(locs) {
            let tags = panel.history_tags().into_iter().filter(|t| seen.insert(*t)).count();
            if tags > 0 {
                shares.push(Share { screen: &screen.title, panel, loc: *loc, tags });
            }
        }
    }
    let total = History::worst_case_bytes(seen.len(), keep);
    if total <= budget {
        return;
    }
    // The biggest first; equal ones in file order (the sort is stable).
    shares.sort_by_key(|s| std::cmp::Reverse(s.tags));
    let named: Vec<String> = shares
        .iter()
        .take(NAMED)
        .map(|s| {
            let bytes = format_size(History::worst_case_bytes(s.tags, keep));
            format!("{} on screen `{}` at line {} ({} tags, {bytes})", describe(s.panel), s.screen, s.loc.line, s.tags)
        })
        .collect();
    let more = if shares.len() > NAMED { ", …" } else { "" };
    let shorter = match longest_keep_within(seen.len(), budget, keep) {
        Some(d) => format!("keep less (`history: {}` fits), ", format_duration(d)),
        None => String::new(),
    };
    let message = format!(
        "trend history may take up to {} of memory, more than its budget of {}: {} tags keep {} each (up to {} a tag)",
        format_size(total),
        format_size(budget),
        seen.len(),
        format_duration(keep),
        format_size(History::worst_case_bytes(1, keep))
    );
    let hint = format!(
        "kept the most: {}{more}; {shorter}show fewer tags on trends, bars and sparklines, or raise the budget: `history: {{ keep: {}, budget: {} }}`",
        named.join(", "),
        format_duration(keep),
        size_at_least(total)
    );
    let at = s.at.or(shares.first().map(|s| s.loc)).unwrap_or_default();
    cx.err(at, message, Some(hint));
}

/// What a panel is, for people: `trend `Flows``, `a bar`, `grid `All` with sparklines`.
fn describe(panel: &Panel) -> String {
    let named = |kind: &str, title: &Option<String>, tail: &str| match title {
        Some(t) => format!("{kind} `{t}`{tail}"),
        None => format!("a {kind}{tail}"),
    };
    match panel {
        Panel::Trend(t) => named("trend", &t.title, ""),
        Panel::Bar(b) => named("bar", &b.title, ""),
        Panel::Grid(g) => named("grid", &g.title, " with sparklines"),
        Panel::Alarms(_) => "the alarm list".into(),
    }
}

/// The longest history shorter than `keep` that keeps `tags` within `budget`: whole hours from
/// an hour up, else whole minutes; `None` when not even the shortest history fits.
fn longest_keep_within(tags: usize, budget: u64, keep: Duration) -> Option<Duration> {
    let fits = |minutes: u64| History::worst_case_bytes(tags, Duration::from_secs(minutes * 60)) <= budget;
    let (mut lo, mut hi) = (MIN_HISTORY.as_secs() / 60, keep.as_secs() / 60);
    if !fits(lo) {
        return None;
    }
    // `lo` fits, `hi` does not (it is `keep`, over the budget, or shorter).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) { lo = mid } else { hi = mid }
    }
    let minutes = if lo >= 60 { lo / 60 * 60 } else { lo };
    Some(Duration::from_secs(minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_history_that_fits() {
        let h = |hours: u64| Duration::from_secs(hours * 3600);
        // 500 tags: 4,800,000 bytes a minute; 512 MiB holds 111 minutes of it.
        assert_eq!(longest_keep_within(500, 512 << 20, h(48)), Some(h(1)));
        // 10 tags: 96,000 bytes a minute; 100 MiB holds 18.2 hours.
        assert_eq!(longest_keep_within(10, 100 << 20, h(48)), Some(h(18)));
        // 4000 tags: 2 minutes (1200 points a tag, 73 MiB) fit 100 MiB; 3 minutes do not.
        assert_eq!(longest_keep_within(4000, 100 << 20, h(48)), Some(Duration::from_secs(120)));
        assert_eq!(longest_keep_within(100_000, 512 << 20, h(2)), None);
        for (tags, budget) in [(1, 1 << 20), (7, 3 << 20), (500, 512 << 20), (3000, 1 << 30)] {
            if let Some(d) = longest_keep_within(tags, budget, h(48)) {
                assert!(History::worst_case_bytes(tags, d) <= budget, "{tags} {budget}");
            }
        }
    }
}
