//! From the YAML node tree to a typed [`Layout`], collecting every problem on the way: the
//! document's sections are checked one by one, each in its own file (`connections`, `tags`,
//! screens in `panels`, `history`, `alarms`, `publish`).

use super::alarms;
use super::connections;
use super::ctx::{Ctx, key_text};
use super::de::from_node;
use super::diag::Diagnostic;
use super::history;
use super::model::*;
use super::node::{Loc, Node, NodeKind};
use super::panels;
use super::publish;
use super::raw::TOP_LEVEL;
use super::suggest::did_you_mean;
use super::tags;

pub use super::address::parse_modicon;

/// The top-level sections of a layout, as written.
#[derive(Default)]
struct Sections<'n> {
    title: Option<String>,
    connections: Option<&'n Node>,
    tags: Option<&'n Node>,
    screens: Option<&'n Node>,
    alarms: Option<&'n Node>,
    alarm_options: Option<&'n Node>,
    history: Option<&'n Node>,
    publish: Option<&'n Node>,
}

/// Validates a parsed document. `default_title` is used when the layout has no `title`.
pub fn build(root: &Node, file: &str, default_title: &str) -> Result<Layout, Vec<Diagnostic>> {
    let mut cx = Ctx::new(file);
    let Some(top) = sections(&mut cx, root) else { return Err(cx.diags) };
    let conns = connections::connections(&mut cx, root, top.connections);
    let tags = tags::tags(&mut cx, root, top.tags, &conns);

    // Screens, and the memory their history may take.
    let history = history::settings(&mut cx, top.history);
    let refs = panels::Refs { tags: &tags.valid, declared: &tags.declared, history: history.keep };
    let placed = panels::screens(&mut cx, top.screens, &refs);
    history::check_budget(&mut cx, &history, &placed);
    let mut screens: Vec<Screen> = placed.into_iter().map(|(s, _)| s).collect();

    // Alarms.
    let known = alarms::Known {
        tags: &tags.valid,
        conns: &conns.valid,
        declared_tags: &tags.declared,
        declared_conns: &conns.declared,
        sources: &tags.sources,
    };
    let alarms = alarms::alarms(&mut cx, top.alarms, &known);
    let alarm_options = alarms::alarm_options(&mut cx, top.alarm_options);
    alarms::ensure_alarms_screen(&mut screens, &alarms);
    let publish = publish::publish(&mut cx, top.publish, &conns);

    if cx.diags.is_empty() {
        Ok(Layout {
            title: top.title.unwrap_or_else(|| default_title.to_string()),
            connections: conns.valid,
            tags: tags.valid,
            screens,
            alarms,
            alarm_options,
            history: history.keep.unwrap_or(DEFAULT_HISTORY),
            history_budget: history.budget.unwrap_or(DEFAULT_HISTORY_BUDGET),
            warnings: sorted(cx.warnings),
            publish,
        }
        .with_safe_texts())
    } else {
        let mut all = cx.diags;
        all.extend(cx.warnings);
        Err(sorted(all))
    }
}

/// The top-level keys of the document; `None` (reported) when it is not a mapping.
fn sections<'n>(cx: &mut Ctx, root: &'n Node) -> Option<Sections<'n>> {
    let top = match &root.kind {
        NodeKind::Map(e) => e.as_slice(),
        NodeKind::Null => {
            cx.err(
                Loc::default(),
                "the layout file is empty",
                Some("start from layouts/demo.yaml or the example in README.md".into()),
            );
            return None;
        }
        other => {
            cx.err(
                root.loc,
                format!("a layout is a mapping of title, connections, tags and screens, found {}", other.describe()),
                None,
            );
            return None;
        }
    };
    let mut s = Sections::default();
    for (k, v) in top {
        let key = key_text(k);
        match key.as_str() {
            "title" => match from_node::<String>(v) {
                Ok(t) => s.title = Some(t),
                Err(e) => cx.de(e),
            },
            "connections" => s.connections = Some(v),
            "tags" => s.tags = Some(v),
            "screens" => s.screens = Some(v),
            "alarms" => s.alarms = Some(v),
            "alarm_options" => s.alarm_options = Some(v),
            "history" => s.history = Some(v),
            "publish" => s.publish = Some(v),
            _ => {
                let hint = match did_you_mean(&key, TOP_LEVEL.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("allowed here: {}", TOP_LEVEL.join(", ")),
                };
                cx.err(k.loc, format!("unknown field `{key}`"), Some(hint));
            }
        }
    }
    Some(s)
}

/// Diagnostics in the order they stand in the file; at one place, errors first (the sort is stable).
fn sorted(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diags.sort_by_key(|d| (d.loc, d.severity));
    diags
}
