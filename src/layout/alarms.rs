//! The `alarms:` and `alarm_options:` sections, and the alarms panel of screens.
//!
//! `alarms:` maps a tag name to its rules (`hihi`, `hi`, `lo`, `lolo`, `discrete`, `rate`,
//! `deviation`, `bad_quality`), or a connection name to its `comms` rule. Every rule is checked
//! on its own against the tags and connections of the layout, so one bad rule does not hide the
//! others. Each rule becomes one [`Rule`] keyed `NAME.rule`, in the order written.

use std::collections::HashSet;
use std::time::Duration;

use super::ctx::{Ctx, entries, key_text};
use super::de::{Sp, from_node};
use super::duration::{Dur, format_duration};
use super::model::*;
use super::node::{Loc, Node, NodeKind};
use super::raw::*;
use super::suggest::did_you_mean;
use super::value_kind::{ValueKind, kind_text};
use crate::alarm::{Discrete, LimitKind, Priority, Rule, RuleKind, Suppress};
use crate::tag::TagId;

/// The longest `max_shelve` allowed: a week.
const MAX_SHELVE: Duration = Duration::from_secs(7 * 24 * 3600);

const RULE_NAMES: [&str; 9] = ["hihi", "hi", "lo", "lolo", "discrete", "rate", "deviation", "bad_quality", "comms"];

const PRIORITY_NAMES: &str = "critical, high, medium or low";

/// What the alarm section may refer to.
pub(super) struct Known<'a> {
    /// The valid tags, indexed by [`TagId`].
    pub tags: &'a [Tag],
    /// The valid connections, indexed by [`ConnId`].
    pub conns: &'a [Connection],
    /// Every tag name written, valid or not.
    pub declared_tags: &'a HashSet<String>,
    /// Every connection name written, valid or not.
    pub declared_conns: &'a HashSet<String>,
    /// The connections some written tag reads from, valid or not.
    pub sources: &'a HashSet<String>,
}

/// A name that is defined: valid, or with errors of its own (reported where it is defined).
#[derive(Clone, Copy)]
enum Found<T> {
    Valid(T),
    Broken,
}

impl<T: Copy> Found<T> {
    fn valid(&self) -> Option<T> {
        match self {
            Found::Valid(v) => Some(*v),
            Found::Broken => None,
        }
    }
}

impl<'a> Known<'a> {
    fn find_tag(&self, name: &str) -> Option<Found<(TagId, &'a Tag)>> {
        match self.tags.iter().position(|t| t.name == name) {
            Some(i) => Some(Found::Valid((TagId(i as u32), &self.tags[i]))),
            None => self.declared_tags.contains(name).then_some(Found::Broken),
        }
    }

    fn find_conn(&self, name: &str) -> Option<Found<ConnId>> {
        match self.conns.iter().position(|c| c.name == name) {
            Some(i) => Some(Found::Valid(ConnId(i as u16))),
            None => self.declared_conns.contains(name).then_some(Found::Broken),
        }
    }

    /// The hint for a tag name that is not defined.
    fn unknown_tag_hint(&self, name: &str) -> String {
        match did_you_mean(name, sorted(self.declared_tags)) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "define it under tags:".into(),
        }
    }
}

fn sorted(names: &HashSet<String>) -> Vec<&str> {
    let mut v: Vec<&str> = names.iter().map(String::as_str).collect();
    v.sort_unstable();
    v
}

/// The `alarm_options:` section (defaults when it is absent or has errors).
pub(super) fn alarm_options(cx: &mut Ctx, node: Option<&Node>) -> AlarmOptions {
    let mut opts = AlarmOptions::default();
    let Some(node) = node.filter(|n| n.kind != NodeKind::Null) else { return opts };
    let raw = match from_node::<RawAlarmOptions>(node) {
        Ok(r) => r,
        Err(e) => {
            cx.de(e);
            return opts;
        }
    };
    if let Some(bell) = &raw.bell {
        opts.bell.clear();
        for p in bell.iter().filter_map(|p| priority(cx, p)) {
            if !opts.bell.contains(&p) {
                opts.bell.push(p);
            }
        }
    }
    if let Some(d) = raw.max_shelve.as_ref().and_then(|m| max_shelve(cx, m)) {
        opts.max_shelve = d;
    }
    opts
}

fn max_shelve(cx: &mut Ctx, m: &Sp<Dur>) -> Option<Duration> {
    let d = m.value.0;
    if d.is_zero() {
        cx.err(m.loc, "max_shelve must be longer than 0", Some("e.g. max_shelve: 8h".into()));
        return None;
    }
    if d > MAX_SHELVE {
        cx.err(
            m.loc,
            format!("max_shelve of {} is longer than 7 days", format_duration(d)),
            Some("a shelved alarm is hidden from operators: shelve for at most 168h".into()),
        );
        return None;
    }
    Some(d)
}

fn priority(cx: &mut Ctx, p: &Sp<RawPriority>) -> Option<Priority> {
    let name = p.value.0.as_str();
    if let Some(found) = Priority::ALL.into_iter().find(|x| x.as_str() == name) {
        return Some(found);
    }
    let hint = match did_you_mean(name, Priority::ALL.map(Priority::as_str)) {
        Some(s) => format!("did you mean `{s}`? one of {PRIORITY_NAMES}"),
        None => format!("one of {PRIORITY_NAMES}"),
    };
    cx.err(p.loc, format!("unknown priority `{name}`"), Some(hint));
    None
}

/// The `alarms:` section: every rule, in the order written.
pub(super) fn alarms(cx: &mut Ctx, node: Option<&Node>, known: &Known) -> Vec<Rule> {
    let mut rules = Vec::new();
    let Some(node) = node else { return rules };
    match entries(node) {
        Ok(list) => {
            for (k, v) in list {
                alarm_key(cx, known, k, v, &mut rules);
            }
        }
        Err(e) => cx.de(e),
    }
    rules
}

/// What an alarm key names: a tag, a connection, or both (one name can be both).
struct Target<'a> {
    name: Sp<String>,
    tag: Option<Found<(TagId, &'a Tag)>>,
    conn: Option<Found<ConnId>>,
}

impl<'a> Target<'a> {
    fn resolve(cx: &mut Ctx, known: &Known<'a>, name: Sp<String>) -> Self {
        let (tag, conn) = (known.find_tag(&name), known.find_conn(&name));
        if tag.is_none() && conn.is_none() {
            let mut names = sorted(known.declared_tags);
            names.extend(sorted(known.declared_conns));
            let hint = match did_you_mean(&name, names) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "alarms go under a tag name, or under a connection name for comms:".into(),
            };
            cx.err(name.loc, format!("`{}` is neither a tag nor a connection", *name), Some(hint));
        }
        Target { name, tag, conn }
    }

    /// A connection to give as an example: the tag's own, else any.
    fn example_conn(&self, known: &Known) -> String {
        let own = self.tag.and_then(|t| t.valid()).map(|(_, t)| known.conns[t.conn.index()].name.clone());
        own.or_else(|| sorted(known.declared_conns).first().map(|s| s.to_string())).unwrap_or_else(|| "plc1".into())
    }
}

/// The rules of one alarm key.
fn alarm_key(cx: &mut Ctx, known: &Known, k: &Node, v: &Node, out: &mut Vec<Rule>) {
    let target = Target::resolve(cx, known, Sp::new(key_text(k), k.loc));
    let list = match entries(v) {
        Ok(list) => list,
        Err(e) => {
            cx.de(e);
            return;
        }
    };
    if list.is_empty() {
        let example = if target.tag.is_none() && target.conn.is_some() {
            "comms: { priority: high }"
        } else {
            "hi: { limit: 80, priority: high }"
        };
        let hint = format!("add e.g. {example}, or remove {}", *target.name);
        cx.err(k.loc, format!("no alarm rules for {}", *target.name), Some(hint));
        return;
    }
    let mut limits = Vec::new();
    for (rk, rv) in list {
        let name = Sp::new(key_text(rk), rk.loc);
        let Some(rule) = rule_name(cx, &name) else { continue };
        let Some(about) = about(cx, known, &target, rule, &name) else { continue };
        let head = Head { key: format!("{}.{}", *target.name, *name), loc: name.loc, name: &target.name, about };
        if let Some(r) = rule_of(cx, known, &head, rule, rv, &mut limits) {
            out.push(r);
        }
    }
    limit_order(cx, &mut limits);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RuleName {
    Limit(LimitKind),
    Discrete,
    Rate,
    Deviation,
    BadQuality,
    Comms,
}

fn rule_name(cx: &mut Ctx, name: &Sp<String>) -> Option<RuleName> {
    let rule = match name.as_str() {
        "hihi" => RuleName::Limit(LimitKind::HiHi),
        "hi" => RuleName::Limit(LimitKind::Hi),
        "lo" => RuleName::Limit(LimitKind::Lo),
        "lolo" => RuleName::Limit(LimitKind::LoLo),
        "discrete" => RuleName::Discrete,
        "rate" => RuleName::Rate,
        "deviation" => RuleName::Deviation,
        "bad_quality" => RuleName::BadQuality,
        "comms" => RuleName::Comms,
        other => {
            let hint = match did_you_mean(other, RULE_NAMES) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("allowed here: {}", RULE_NAMES.join(", ")),
            };
            cx.err(name.loc, format!("unknown alarm rule `{other}`"), Some(hint));
            return None;
        }
    };
    Some(rule)
}

/// What a rule is about: a tag, or a connection (`comms`). `None` inside: the tag or connection
/// has errors of its own or the key is unknown; the rule is checked but not built.
#[derive(Clone, Copy)]
enum About<'a> {
    Tag(Option<(TagId, &'a Tag)>),
    Conn(Option<ConnId>),
}

/// Whether `rule` may stand under the key; `None` (with a diagnostic) when it may not.
fn about<'a>(cx: &mut Ctx, known: &Known, target: &Target<'a>, rule: RuleName, name: &Sp<String>) -> Option<About<'a>> {
    match (rule, target.tag, target.conn) {
        (RuleName::Comms, _, Some(c)) => Some(About::Conn(c.valid())),
        (RuleName::Comms, Some(_), None) => {
            let hint = format!("comms alarms belong under a connection name, e.g. {}", target.example_conn(known));
            cx.err(name.loc, format!("`comms` under tag `{}`", *target.name), Some(hint));
            None
        }
        (RuleName::Comms, None, None) => Some(About::Conn(None)),
        (_, Some(t), _) => Some(About::Tag(t.valid())),
        (_, None, Some(_)) => {
            cx.err(
                name.loc,
                format!("`{}` alarms belong under a tag name; `{}` is a connection", **name, *target.name),
                Some("only comms: goes under a connection name".into()),
            );
            None
        }
        (_, None, None) => Some(About::Tag(None)),
    }
}

/// The rule being checked: its key (`T_102.hi`), where its name stands, and what it is about.
struct Head<'a> {
    key: String,
    loc: Loc,
    /// The alarm key: a tag or a connection name.
    name: &'a str,
    about: About<'a>,
}

impl<'a> Head<'a> {
    fn tag(&self) -> Option<(TagId, &'a Tag)> {
        match self.about {
            About::Tag(t) => t,
            About::Conn(_) => None,
        }
    }

    /// What the default message calls the tag: its description, else its name.
    fn label(&self) -> &str {
        match self.tag() {
            Some((_, t)) if !t.description.trim().is_empty() => t.description.trim(),
            _ => self.name,
        }
    }
}

/// The fields every rule has, and the deadband of those that take one.
struct Common<'r> {
    priority: Option<&'r Sp<RawPriority>>,
    message: Option<&'r String>,
    deadband: Option<&'r Sp<f64>>,
    on_delay: Option<&'r Sp<Dur>>,
    off_delay: Option<&'r Sp<Dur>>,
    suppress_when: Option<&'r Sp<RawSuppress>>,
}

macro_rules! common {
    ($raw:expr, $deadband:expr) => {
        Common {
            priority: $raw.priority.as_ref(),
            message: $raw.message.as_ref(),
            deadband: $deadband,
            on_delay: $raw.on_delay.as_ref(),
            off_delay: $raw.off_delay.as_ref(),
            suppress_when: $raw.suppress_when.as_ref(),
        }
    };
}

/// Deserializes and checks one rule.
fn rule_of(
    cx: &mut Ctx,
    known: &Known,
    head: &Head,
    rule: RuleName,
    node: &Node,
    limits: &mut Vec<(LimitKind, Sp<f64>)>,
) -> Option<Rule> {
    let parsed = match rule {
        RuleName::Limit(kind) => from_node(node).map(|r| limit_rule(cx, known, head, kind, &r, limits)),
        RuleName::Discrete => from_node(node).map(|r| discrete_rule(cx, known, head, &r)),
        RuleName::Rate => from_node(node).map(|r| rate_rule(cx, known, head, &r)),
        RuleName::Deviation => from_node(node).map(|r| deviation_rule(cx, known, head, &r)),
        RuleName::BadQuality => from_node(node).map(|r| bad_quality_rule(cx, known, head, &r)),
        RuleName::Comms => from_node(node).map(|r| comms_rule(cx, known, head, &r)),
    };
    parsed.unwrap_or_else(|e| {
        cx.de(e);
        None
    })
}

fn limit_rule(
    cx: &mut Ctx,
    known: &Known,
    head: &Head,
    kind: LimitKind,
    raw: &RawLimitRule,
    limits: &mut Vec<(LimitKind, Sp<f64>)>,
) -> Option<Rule> {
    let before = cx.diags.len();
    numeric_tag(cx, head, kind.as_str());
    if raw.limit.is_finite() {
        limits.push((kind, raw.limit.clone()));
    } else {
        cx.err(raw.limit.loc, "limit must be a finite number", None);
    }
    let words = match kind {
        LimitKind::HiHi => "high high",
        LimitKind::Hi => "high",
        LimitKind::Lo => "low",
        LimitKind::LoLo => "low low",
    };
    let message = format!("{} {words}", head.label());
    let kind = RuleKind::Limit { kind, limit: raw.limit.value };
    finish(cx, known, head, before, Some(kind), common!(raw, raw.deadband.as_ref()), message)
}

fn discrete_rule(cx: &mut Ctx, known: &Known, head: &Head, raw: &RawDiscreteRule) -> Option<Rule> {
    let before = cx.diags.len();
    let tag = head.tag().map(|(_, t)| t);
    let when = match tag.map(ValueKind::of) {
        Some(ValueKind::Float | ValueKind::Text) => {
            let hint = format!("`{}` is {}", head.name, tag.map(kind_text).unwrap_or_default());
            cx.err(head.loc, "discrete alarms need a boolean or integer tag", Some(hint));
            None
        }
        _ => when_value(cx, &raw.when, "when", tag),
    };
    let message = when.as_ref().map(|w| format!("{} is {}", head.label(), when_text(w))).unwrap_or_default();
    finish(cx, known, head, before, when.map(RuleKind::Discrete), common!(raw, None), message)
}

fn rate_rule(cx: &mut Ctx, known: &Known, head: &Head, raw: &RawRateRule) -> Option<Rule> {
    let before = cx.diags.len();
    numeric_tag(cx, head, "rate");
    if raw.per.value.0.is_zero() {
        cx.err(raw.per.loc, "rate `per` must be longer than 0", Some("e.g. per: 1s".into()));
    }
    positive_limit(cx, &raw.limit, "rate", "the largest normal change per `per`, e.g. limit: 2.5");
    let kind = RuleKind::Rate { per: raw.per.value.0, limit: raw.limit.value };
    let message = format!("{} rate of change", head.label());
    finish(cx, known, head, before, Some(kind), common!(raw, raw.deadband.as_ref()), message)
}

fn deviation_rule(cx: &mut Ctx, known: &Known, head: &Head, raw: &RawDeviationRule) -> Option<Rule> {
    let before = cx.diags.len();
    numeric_tag(cx, head, "deviation");
    positive_limit(cx, &raw.limit, "deviation", "the largest normal difference, e.g. limit: 5");
    let from = deviation_from(cx, known, head, &raw.from);
    let kind = from.map(|from| RuleKind::Deviation { from, limit: raw.limit.value });
    let message = format!("{} deviates from {}", head.label(), *raw.from);
    finish(cx, known, head, before, kind, common!(raw, raw.deadband.as_ref()), message)
}

fn bad_quality_rule(cx: &mut Ctx, known: &Known, head: &Head, raw: &RawQualityRule) -> Option<Rule> {
    let before = cx.diags.len();
    let message = format!("{} bad quality", head.label());
    finish(cx, known, head, before, Some(RuleKind::BadQuality { also: Vec::new() }), common!(raw, None), message)
}

/// `comms` of a connection: one bad-quality rule over all its tags, about the first of them.
fn comms_rule(cx: &mut Ctx, known: &Known, head: &Head, raw: &RawQualityRule) -> Option<Rule> {
    let before = cx.diags.len();
    let conn = match head.about {
        About::Conn(c) => c,
        About::Tag(_) => None,
    };
    let tags: Vec<TagId> =
        known.tags.iter().enumerate().filter(|(_, t)| Some(t.conn) == conn).map(|(i, _)| TagId(i as u32)).collect();
    if conn.is_some() && tags.is_empty() && !known.sources.contains(head.name) {
        cx.err(
            head.loc,
            format!("connection `{}` has no tags", head.name),
            Some(format!("comms alarms watch the tags of a connection: add a tag with source: {}", head.name)),
        );
    }
    let first = tags.first().map(|&id| (id, &known.tags[id.index()]));
    let head = Head { key: head.key.clone(), loc: head.loc, name: head.name, about: About::Tag(first) };
    let kind = RuleKind::BadQuality { also: tags.get(1..).unwrap_or_default().to_vec() };
    let message = format!("{} communications lost", head.name);
    let rule = finish(cx, known, &head, before, Some(kind), common!(raw, None), message)?;
    Some(crate::alarm::Rule { connection: Some(head.name.to_string()), ..rule })
}

/// The checks every rule shares (priority, deadband, suppression), then the rule itself when
/// nothing since `before` went wrong and its tag is valid.
fn finish(
    cx: &mut Ctx,
    known: &Known,
    head: &Head,
    before: usize,
    kind: Option<RuleKind>,
    c: Common,
    default_message: String,
) -> Option<Rule> {
    let priority = match c.priority {
        Some(p) => priority(cx, p),
        None => {
            let hint = format!("add priority: {PRIORITY_NAMES}");
            cx.err(head.loc, format!("alarm `{}` has no priority", head.key), Some(hint));
            None
        }
    };
    if let Some(d) = c.deadband
        && !(d.value.is_finite() && d.value >= 0.0)
    {
        cx.err(d.loc, "deadband must be a finite number ≥ 0", Some("in the tag's units, e.g. deadband: 1".into()));
    }
    let suppress = c.suppress_when.and_then(|s| suppress(cx, known, s));
    let (Some((tag, _)), Some(kind), Some(priority)) = (head.tag(), kind, priority) else { return None };
    if cx.diags.len() > before {
        return None;
    }
    let message = c.message.map(|m| m.trim()).filter(|m| !m.is_empty()).map_or(default_message, str::to_string);
    let mut rule = Rule::new(tag, kind, priority, message)
        .key(head.key.clone())
        .deadband(c.deadband.map_or(0.0, |d| d.value))
        .on_delay(c.on_delay.map_or(Duration::ZERO, |d| d.value.0))
        .off_delay(c.off_delay.map_or(Duration::ZERO, |d| d.value.0));
    rule.suppress = suppress;
    Some(rule)
}

/// Limit, rate and deviation rules compare numbers: not booleans, not strings.
fn numeric_tag(cx: &mut Ctx, head: &Head, rule: &str) {
    let Some((_, tag)) = head.tag() else { return };
    let hint = match ValueKind::of(tag) {
        ValueKind::Bool => "use discrete: for a boolean tag",
        ValueKind::Text => "a string has no value to compare with a limit",
        _ => return,
    };
    let message = format!("a `{rule}` alarm needs a numeric tag; `{}` is {}", tag.name, kind_text(tag));
    cx.err(head.loc, message, Some(hint.into()));
}

fn positive_limit(cx: &mut Ctx, limit: &Sp<f64>, rule: &str, hint: &str) {
    if !limit.is_finite() {
        cx.err(limit.loc, "limit must be a finite number", None);
    } else if limit.value <= 0.0 {
        cx.err(limit.loc, format!("{rule} limit must be more than 0"), Some(hint.into()));
    }
}

/// The tag a deviation compares with: defined, not the alarm's own tag, numeric.
fn deviation_from(cx: &mut Ctx, known: &Known, head: &Head, from: &Sp<String>) -> Option<TagId> {
    if **from == head.name {
        let hint = "compare with another tag, e.g. its setpoint";
        cx.err(from.loc, format!("`{}` cannot deviate from itself", head.name), Some(hint.into()));
        return None;
    }
    let (id, tag) = match known.find_tag(from) {
        Some(Found::Valid(t)) => t,
        Some(Found::Broken) => return None,
        None => {
            let hint = known.unknown_tag_hint(from);
            cx.err(from.loc, format!("tag `{}` named by `from` is not defined", **from), Some(hint));
            return None;
        }
    };
    if matches!(ValueKind::of(tag), ValueKind::Bool | ValueKind::Text) {
        cx.err(
            from.loc,
            format!("`from` needs a numeric tag; `{}` is {}", tag.name, kind_text(tag)),
            Some("compare with a numeric tag such as a setpoint".into()),
        );
        return None;
    }
    Some(id)
}

/// `suppress_when: { tag, is }`.
fn suppress(cx: &mut Ctx, known: &Known, s: &Sp<RawSuppress>) -> Option<Suppress> {
    let (id, tag) = match known.find_tag(&s.tag) {
        Some(Found::Valid(t)) => t,
        Some(Found::Broken) => return None,
        None => {
            let hint = known.unknown_tag_hint(&s.tag);
            cx.err(s.tag.loc, format!("tag `{}` named by suppress_when is not defined", *s.tag), Some(hint));
            return None;
        }
    };
    if matches!(ValueKind::of(tag), ValueKind::Float | ValueKind::Text) {
        cx.err(
            s.tag.loc,
            format!("suppress_when needs a boolean or integer tag; `{}` is {}", tag.name, kind_text(tag)),
            Some("suppress by a coil, discrete input, bit or integer register".into()),
        );
        return None;
    }
    let when = when_value(cx, &s.is, "is", Some(tag))?;
    Some(Suppress { tag: id, when })
}

/// The value `field` (`when` or `is`) matches, of the type of `tag` (any when it is unknown).
fn when_value(cx: &mut Ctx, w: &Sp<RawWhen>, field: &str, tag: Option<&Tag>) -> Option<Discrete> {
    let problem = match (&w.value, tag.map(ValueKind::of)) {
        (RawWhen::Ints(v), _) if v.is_empty() => Some(("is an empty list", "list the values to match, e.g. [3, 4]")),
        (RawWhen::Ints(_), Some(ValueKind::Bool)) => Some(("must be true or false", "")),
        (RawWhen::Bool(_), Some(ValueKind::Int)) => Some(("must be an integer or a list of integers", "")),
        _ => None,
    };
    if let Some((what, hint)) = problem {
        let hint = match tag {
            Some(t) if hint.is_empty() => format!("`{}` is {}", t.name, kind_text(t)),
            _ => hint.to_string(),
        };
        cx.err(w.loc, format!("`{field}` {what}"), Some(hint));
        return None;
    }
    Some(match &w.value {
        RawWhen::Bool(b) => Discrete::Bool(*b),
        RawWhen::Ints(v) => Discrete::AnyOf(v.clone()),
    })
}

/// `false`, `3`, `3 or 4`, `3, 4 or 5`.
fn when_text(d: &Discrete) -> String {
    match d {
        Discrete::Bool(b) => b.to_string(),
        Discrete::AnyOf(v) => {
            let texts: Vec<String> = v.iter().map(i64::to_string).collect();
            match texts.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                _ => texts.join(""),
            }
        }
    }
}

/// Limits go hihi > hi > lo > lolo. Each is compared with the closest higher one in order, so one
/// misplaced limit is reported once, at that limit.
fn limit_order(cx: &mut Ctx, limits: &mut [(LimitKind, Sp<f64>)]) {
    let rank =
        |k: LimitKind| [LimitKind::HiHi, LimitKind::Hi, LimitKind::Lo, LimitKind::LoLo].iter().position(|&x| x == k);
    limits.sort_by_key(|(k, _)| rank(*k));
    let mut bound: Option<&(LimitKind, Sp<f64>)> = None;
    for item in limits.iter() {
        let (kind, limit) = item;
        match bound {
            Some((upper, up)) if limit.value >= up.value => {
                let (k, u) = (kind.as_str(), upper.as_str());
                let rel = if limit.value == up.value { "equals" } else { "is above" };
                cx.err(
                    limit.loc,
                    format!("{k} ({}) {rel} {u} ({}): {k} must be below {u}", limit.value, up.value),
                    Some("limits go hihi > hi > lo > lolo".into()),
                );
            }
            _ => bound = Some(item),
        }
    }
}

/// A layout with alarms needs somewhere to acknowledge them: without an alarms panel on any
/// screen, a screen titled `Alarms` with one is added after the others.
pub(super) fn ensure_alarms_screen(screens: &mut Vec<Screen>, rules: &[Rule]) {
    let has_panel = screens.iter().flat_map(|s| &s.panels).any(|p| matches!(p, Panel::Alarms(_)));
    if !rules.is_empty() && !has_panel {
        screens.push(Screen { title: "Alarms".into(), panels: vec![Panel::Alarms(AlarmsPanel::default())] });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::node::parse_yaml;
    use crate::layout::validate::build;

    const LAYOUT: &str = "connections:\n  plc1: { modbus_tcp: { host: h } }\ntags:\n  T: { source: plc1, holding: 0, type: f32 }\nalarms:\n  T:\n    hi: { limit: 1, priority: high, deadband: 0 }\n    rate: { per: 1s, limit: 1, priority: low }\n";

    /// Replaces the value at `path` (mapping keys from the root).
    fn set(root: &mut Node, path: &[&str], kind: NodeKind) {
        let mut n = root;
        for key in path {
            let NodeKind::Map(entries) = &mut n.kind else { panic!("{key}: not a mapping") };
            n = &mut entries.iter_mut().find(|(k, _)| k.kind.scalar_text().as_deref() == Some(key)).unwrap().1;
        }
        n.kind = kind;
    }

    #[test]
    fn non_finite_numbers_are_refused_where_they_stand() {
        // The YAML reader refuses `.inf` and `.nan` itself; these checks stand behind it.
        let mut root = parse_yaml(LAYOUT).unwrap();
        set(&mut root, &["alarms", "T", "hi", "limit"], NodeKind::Float(f64::INFINITY));
        set(&mut root, &["alarms", "T", "hi", "deadband"], NodeKind::Float(f64::NAN));
        set(&mut root, &["alarms", "T", "rate", "limit"], NodeKind::Float(f64::NEG_INFINITY));
        let diags = build(&root, "l.yaml", "l").unwrap_err();
        let got: Vec<(u32, &str)> = diags.iter().map(|d| (d.loc.line, d.message.as_str())).collect();
        assert_eq!(
            got,
            [
                (7, "limit must be a finite number"),
                (7, "deadband must be a finite number ≥ 0"),
                (8, "limit must be a finite number")
            ]
        );
        assert!(build(&parse_yaml(LAYOUT).unwrap(), "l.yaml", "l").is_ok());
    }

    #[test]
    fn discrete_values_read_as_text() {
        assert_eq!(when_text(&Discrete::Bool(false)), "false");
        assert_eq!(when_text(&Discrete::AnyOf(vec![3])), "3");
        assert_eq!(when_text(&Discrete::AnyOf(vec![3, 4])), "3 or 4");
        assert_eq!(when_text(&Discrete::AnyOf(vec![3, 4, 5])), "3, 4 or 5");
    }
}
