//! The structure of DESIGN.md §2, checked on the text of `src/`:
//!
//! - every module depends only on the modules its row of [`RULES`] names (plus itself and the
//!   utilities), and uses none of the external crates its row forbids; nothing but `main.rs` uses
//!   `cli`;
//! - no import cycle between files;
//! - no function over [`MAX_FN_LINES`] lines outside tests (a short allow-list, each with a reason);
//! - no `unwrap()`/`expect()` outside tests; no libudev in the dependency tree.
//!
//! A dependency is any path the code names: `use` declarations (grouped `use crate::{a, b::{c, d}}`
//! and groups over several lines included), paths inside the code (`crate::x::f()`), and
//! `super::…` paths that climb out of the module. Comments, strings and char literals are not code.
//! A path is judged by what it names, not by where a re-export leads: `crate::plant::X` is a
//! dependency on `plant` even if `plant` re-exports `X` from elsewhere.
//!
//! Unit tests (an inline `#[cfg(test)] mod … {` at the end of a file, or a `tests.rs` file) and fuzz
//! targets (a `fuzz.rs` file, declared `#[cfg(test)] mod fuzz;`) are not checked: a driver's tests
//! may start the simulator.
//!
//! Limits (the checks read text, they do not resolve names): a path that starts with a child
//! module's bare name (`state::Session` in `session/mod.rs`) stays inside its module and is not an
//! edge of the file graph (as in the `structure.py` review tool); a path reached through an alias
//! (`use crate::driver as d;`) is checked at its `use`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// The table (DESIGN.md §2). Keep the two in step.
// ---------------------------------------------------------------------------------------------

/// Small leaf files anyone may use.
const UTILITIES: &[&str] = &["files", "sanitize", "yaml", "paths", "timefmt"];

struct Rule {
    module: &'static str,
    /// Modules of this crate it may use, besides itself and the [`UTILITIES`]. An entry with a
    /// `/` is one file (relative to `src/`): only what that file declares or re-exports.
    may_use: &'static [&'static str],
    /// External crates it must not use (path prefixes)...
    must_not_use: &'static [&'static str],
    /// ...except these paths under them.
    except: &'static [&'static str],
}

const EVERYTHING: &[&str] = &["*"];

const RULES: &[Rule] = &[
    Rule { module: "tag", may_use: &[], must_not_use: &["tokio", "ratatui", "crossterm"], except: &[] },
    Rule { module: "alarm", may_use: &["tag"], must_not_use: &["tokio", "ratatui", "crossterm"], except: &[] },
    Rule { module: "auth", may_use: &[], must_not_use: &["ratatui", "crossterm"], except: &[] },
    Rule { module: "audit", may_use: &[], must_not_use: &["ratatui", "crossterm", "tokio"], except: &[] },
    Rule {
        module: "layout",
        may_use: &["tag", "alarm", "auth"],
        must_not_use: &["tokio", "ratatui", "crossterm"],
        except: &[],
    },
    Rule { module: "driver", may_use: &["tag", "layout"], must_not_use: &["ratatui", "crossterm"], except: &[] },
    // The simulated plant serves the protocols itself: it shares no code with the drivers.
    Rule { module: "sim", may_use: &["tag", "layout"], must_not_use: &["ratatui", "crossterm"], except: &[] },
    Rule {
        module: "plant",
        may_use: &["tag", "layout", "driver", "alarm", "auth", "audit"],
        must_not_use: &["ratatui", "crossterm"],
        except: &[],
    },
    // A session is pure per-person state: no I/O, no drivers. Key events arrive as crossterm's
    // event types, which are plain data; the rest of crossterm (the terminal) belongs to `front`.
    Rule {
        module: "session",
        may_use: &["plant", "tag", "layout", "alarm", "auth", "audit"],
        must_not_use: &["tokio", "crossterm"],
        except: &["crossterm::event"],
    },
    Rule {
        module: "ui",
        may_use: &["session", "plant", "tag", "layout", "alarm", "auth", "audit"],
        must_not_use: &["tokio", "crossterm"],
        except: &[],
    },
    Rule {
        module: "front",
        may_use: &["session", "ui", "plant", "tag", "layout", "alarm", "auth", "audit"],
        must_not_use: &[],
        except: &[],
    },
    // DESIGN.md: the gateway stands on the plant (and the Sparkplug codec and commands of
    // `driver::sparkplug`), so it may use what the plant may; never a terminal.
    Rule {
        module: "gateway",
        may_use: &["plant", "driver", "tag", "layout", "alarm", "auth", "audit"],
        must_not_use: &["ratatui", "crossterm"],
        except: &[],
    },
    // The console steps one session on its own plant purely, for tests and benches. It feeds the
    // plant driver events itself (there are no drivers), so it may name the driver's own types
    // (`DriverEvent`, `WriteDone`: what `src/driver/mod.rs` declares), never a protocol.
    Rule {
        module: "console",
        may_use: &["plant", "session", "tag", "layout", "alarm", "audit", "auth", "driver/mod.rs"],
        must_not_use: &[],
        except: &[],
    },
    // The edge: one file per command. Nothing but `main.rs` uses it (see `nothing_depends_on_cli`).
    Rule { module: "cli", may_use: EVERYTHING, must_not_use: &[], except: &[] },
    // The utilities use nothing of the crate but each other.
    Rule { module: "files", may_use: &[], must_not_use: &[], except: &[] },
    Rule { module: "sanitize", may_use: &[], must_not_use: &[], except: &[] },
    Rule { module: "yaml", may_use: &[], must_not_use: &[], except: &[] },
    Rule { module: "paths", may_use: &[], must_not_use: &[], except: &[] },
    Rule { module: "timefmt", may_use: &[], must_not_use: &[], except: &[] },
    // The fuzzing harness (tests only): it drives proptest and knows no module.
    Rule { module: "fuzzing", may_use: &[], must_not_use: &[], except: &[] },
];

const MAX_FN_LINES: usize = 100;

/// Functions allowed over [`MAX_FN_LINES`] for now: (file, fn name, reason). An entry that no
/// longer matches a long function fails the test, so it is removed when its function is split.
const LONG_FN_ALLOWED: &[(&str, &str, &str)] = &[];

// ---------------------------------------------------------------------------------------------
// Reading the sources
// ---------------------------------------------------------------------------------------------

/// One source file: its path relative to `src/` and its code outside unit tests, with comments,
/// strings and char literals blanked (lines and columns kept).
struct Source {
    rel: String,
    code: Vec<char>,
    newlines: Vec<usize>,
}

impl Source {
    fn new(rel: &str, text: &str) -> Source {
        let blanked = blank(text);
        let code: Vec<char> = if ["tests.rs", "fuzz.rs"].iter().any(|f| rel == *f || rel.ends_with(&format!("/{f}"))) {
            Vec::new()
        } else {
            outside_tests(&blanked).chars().collect()
        };
        let newlines = code.iter().enumerate().filter(|(_, c)| **c == '\n').map(|(i, _)| i).collect();
        Source { rel: rel.to_string(), code, newlines }
    }

    /// 1-based line of a char offset.
    fn line(&self, at: usize) -> usize {
        self.newlines.partition_point(|&n| n < at) + 1
    }

    fn at(&self, at: usize) -> String {
        format!("src/{}:{}", self.rel, self.line(at))
    }

    /// The module path of the file: `session/state.rs` → [session, state], `session/mod.rs` →
    /// [session], `lib.rs` → [].
    fn module_path(&self) -> Vec<String> {
        module_path(&self.rel)
    }

    fn is_main(&self) -> bool {
        self.rel == "main.rs"
    }
}

fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel.trim_end_matches(".rs").split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

fn load(root: &Path) -> Vec<Source> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<Source>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().and_then(|x| x.to_str()) == Some("rs") {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.push(Source::new(&rel, &std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

fn src() -> Vec<Source> {
    let s = load(Path::new("src"));
    assert!(s.len() > 20, "src/ has only {} .rs files: run the test from the crate's folder", s.len());
    s
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The text with comments, string literals (raw and byte ones too) and char literals replaced by
/// spaces, newlines kept, so offsets still give the line. Lifetimes (`'a`) stay.
fn blank(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = c.clone();
    let wipe = |out: &mut Vec<char>, from: usize, to: usize| {
        for ch in out.iter_mut().take(to.min(c.len())).skip(from) {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
    };
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            let end = c[i..].iter().position(|&x| x == '\n').map_or(c.len(), |p| i + p);
            wipe(&mut out, i, end);
            i = end;
        } else if c[i] == '/' && next == Some('*') {
            let (mut depth, mut j) = (1, i + 2);
            while j < c.len() && depth > 0 {
                if c[j] == '/' && c.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 1;
                } else if c[j] == '*' && c.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 1;
                }
                j += 1;
            }
            wipe(&mut out, i, j);
            i = j;
        } else if let Some((open, hashes)) = raw_string_at(&c, i) {
            let mut j = open + 1;
            while j < c.len() && !(c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#'))) {
                j += 1;
            }
            wipe(&mut out, open + 1, j);
            i = j + 1 + hashes;
        } else if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            wipe(&mut out, i + 1, j);
            i = j + 1;
        } else if c[i] == '\'' && next == Some('\\') {
            let mut j = i + 3;
            while j < c.len() && c[j] != '\'' && c[j] != '\n' {
                j += 1;
            }
            wipe(&mut out, i + 1, j);
            i = j + 1;
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            wipe(&mut out, i + 1, i + 2);
            i += 3;
        } else if is_ident(c[i]) {
            // A whole identifier at once, so that the `r` of `bar"` is not a raw string's.
            while i < c.len() && is_ident(c[i]) {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// At `i`, a raw string `r"…"`, `r#"…"#` or `br"…"`: the offset of its opening quote and the
/// number of `#`.
fn raw_string_at(c: &[char], i: usize) -> Option<(usize, usize)> {
    if i > 0 && is_ident(c[i - 1]) {
        return None;
    }
    let r = if c[i] == 'b' { i + 1 } else { i };
    if c.get(r) != Some(&'r') {
        return None;
    }
    let mut j = r + 1;
    while c.get(j) == Some(&'#') {
        j += 1;
    }
    (c.get(j) == Some(&'"')).then_some((j, j - r - 1))
}

/// The code before an inline `#[cfg(test)] mod name {` (a `#[cfg(test)] mod tests;` declaration
/// near the top does not end the code).
fn outside_tests(code: &str) -> &str {
    let mut at = 0;
    while let Some(i) = code[at..].find("#[cfg(test)]") {
        let start = at + i;
        let rest = code[start + "#[cfg(test)]".len()..].trim_start();
        let decl: String = rest.chars().take_while(|&ch| ch != '{' && ch != ';').collect();
        if (rest.starts_with("mod ") || rest.starts_with("pub mod ")) && rest[decl.len()..].starts_with('{') {
            return &code[..start];
        }
        at = start + 1;
    }
    code
}

// ---------------------------------------------------------------------------------------------
// Paths named by the code
// ---------------------------------------------------------------------------------------------

/// A path the code names: its segments as written (`crate`, `super`, … first) and where.
#[derive(Debug, Clone)]
struct Named {
    segs: Vec<String>,
    at: usize,
}

impl Named {
    fn written(&self) -> String {
        self.segs.join("::")
    }
}

#[derive(Debug, PartialEq)]
enum Tok {
    Ident(String),
    Path,
    Open,
    Close,
    Comma,
    Star,
}

fn word_at(c: &[char], i: usize, word: &str) -> bool {
    if c.get(i).copied() != word.chars().next() {
        return false;
    }
    let w: Vec<char> = word.chars().collect();
    c.get(i..i + w.len()) == Some(&w[..])
        && (i == 0 || !(is_ident(c[i - 1]) || c[i - 1] == '$'))
        && !c.get(i + w.len()).is_some_and(|&x| is_ident(x))
}

/// Every path the code names: the leaves of its `use` trees and the paths inside the code
/// (`a::b::c`, at least two segments).
fn named_paths(s: &Source) -> Vec<Named> {
    let c = &s.code;
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if word_at(c, i, "use") && c.get(i + 3).is_some_and(|x| x.is_whitespace() || *x == ':' || *x == '{') {
            let end = c[i..].iter().position(|&x| x == ';').map_or(c.len(), |p| i + p);
            let toks = tokens(c, i + 3, end);
            let mut pos = 0;
            while pos < toks.len() {
                pos = use_tree(&toks, pos, &[], &mut out);
                if pos < toks.len() {
                    pos += 1; // a stray token; move on
                }
            }
            i = end + 1;
        } else if (is_ident(c[i]) || c[i] == '$') && starts_a_path(c, i) {
            let (segs, end) = chain(c, i);
            if segs.len() > 1 {
                out.push(Named { segs, at: i });
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Whether a path may start at `i`: not inside an identifier, and not after `::` unless that is a
/// leading `::` (`::tokio::spawn`, not `Vec::<u8>::new` or `a::b`).
fn starts_a_path(c: &[char], i: usize) -> bool {
    let before = |k: usize| i.checked_sub(k).map(|j| c[j]);
    match before(1) {
        None => true,
        Some(x) if is_ident(x) => false,
        Some(':') => {
            before(2) == Some(':') && !before(3).is_some_and(|x| is_ident(x) || matches!(x, '>' | ')' | '$' | ':'))
        }
        Some(_) => true,
    }
}

/// `a::b::c` from `i`: its segments and where it ends.
fn chain(c: &[char], mut i: usize) -> (Vec<String>, usize) {
    let mut segs = Vec::new();
    loop {
        let start = i;
        if c.get(i) == Some(&'$') {
            i += 1;
        }
        while i < c.len() && is_ident(c[i]) {
            i += 1;
        }
        if i == start {
            break;
        }
        segs.push(c[start..i].iter().collect());
        if c.get(i) == Some(&':') && c.get(i + 1) == Some(&':') && c.get(i + 2).is_some_and(|&x| is_ident(x)) {
            i += 2;
        } else {
            break;
        }
    }
    (segs, i)
}

fn tokens(c: &[char], from: usize, to: usize) -> Vec<(Tok, usize)> {
    let mut out = Vec::new();
    let mut i = from;
    while i < to {
        let t = match c[i] {
            ':' if c.get(i + 1) == Some(&':') => Some((Tok::Path, 2)),
            '{' => Some((Tok::Open, 1)),
            '}' => Some((Tok::Close, 1)),
            ',' => Some((Tok::Comma, 1)),
            '*' => Some((Tok::Star, 1)),
            x if is_ident(x) || x == '$' => {
                let mut j = i + 1;
                while j < to && is_ident(c[j]) {
                    j += 1;
                }
                Some((Tok::Ident(c[i..j].iter().collect()), j - i))
            }
            _ => None,
        };
        match t {
            Some((t, n)) => {
                out.push((t, i));
                i += n;
            }
            None => i += 1,
        }
    }
    out
}

/// One use tree from `pos` under `prefix`; returns where it ends.
fn use_tree(toks: &[(Tok, usize)], mut pos: usize, prefix: &[String], out: &mut Vec<Named>) -> usize {
    let mut segs = prefix.to_vec();
    let mut at = toks.get(pos).map_or(0, |t| t.1);
    while let Some((t, off)) = toks.get(pos) {
        match t {
            Tok::Path => pos += 1, // a leading `::`, or the one after a segment
            Tok::Ident(w) if w == "as" => {
                pos += 2; // `as name`
                break;
            }
            Tok::Ident(w) => {
                segs.push(w.clone());
                at = *off;
                pos += 1;
                if toks.get(pos).map(|t| &t.0) != Some(&Tok::Path) {
                    if toks.get(pos).map(|t| &t.0) == Some(&Tok::Ident("as".into())) {
                        pos += 2;
                    }
                    break;
                }
            }
            Tok::Star => {
                pos += 1;
                break;
            }
            Tok::Open => {
                pos += 1;
                while pos < toks.len() && toks[pos].0 != Tok::Close {
                    pos = use_tree(toks, pos, &segs, out);
                    if toks.get(pos).map(|t| &t.0) == Some(&Tok::Comma) {
                        pos += 1;
                    }
                }
                return pos + 1;
            }
            Tok::Close | Tok::Comma => break,
        }
    }
    if segs.last().map(String::as_str) == Some("self") && segs.len() > 1 {
        segs.pop();
    }
    if !segs.is_empty() {
        out.push(Named { segs, at });
    }
    pos
}

/// What a path names, seen from the file whose module path is `me`.
enum Target {
    /// An item of this crate: its path from the crate root.
    Internal(Vec<String>),
    /// Anything else: an external crate (`tokio::…`), std, or a child module named bare.
    Other(Vec<String>),
}

fn target(n: &Named, me: &[String]) -> Option<Target> {
    let first = n.segs.first()?.as_str();
    match first {
        "crate" | "$crate" => Some(Target::Internal(n.segs[1..].to_vec())),
        "super" | "self" => {
            let mut base = me.to_vec();
            let mut i = 0;
            while let Some(s) = n.segs.get(i).filter(|s| *s == "super" || *s == "self") {
                if s == "super" {
                    base.pop()?;
                }
                i += 1;
            }
            base.extend(n.segs[i..].iter().cloned());
            Some(Target::Internal(base))
        }
        _ => Some(Target::Other(n.segs.clone())),
    }
}

/// The file that declares the longest prefix of `segs` as its module.
fn resolve<'a>(by_mod: &'a BTreeMap<Vec<String>, String>, segs: &[String]) -> Option<&'a String> {
    (1..=segs.len()).rev().find_map(|k| by_mod.get(&segs[..k]))
}

fn modules(sources: &[Source]) -> BTreeMap<Vec<String>, String> {
    sources.iter().filter(|s| !s.is_main()).map(|s| (s.module_path(), s.rel.clone())).collect()
}

/// A dependency of one file on an item of this crate.
struct Dep<'a> {
    from: &'a Source,
    named: Named,
    /// The path from the crate root.
    path: Vec<String>,
    /// The file it resolves to, if any.
    file: Option<String>,
}

/// Every crate-internal dependency of every library file (`main.rs` is another crate).
fn deps(sources: &[Source]) -> Vec<Dep<'_>> {
    let by_mod = modules(sources);
    let mut out = Vec::new();
    for s in sources.iter().filter(|s| !s.is_main()) {
        let me = s.module_path();
        for n in named_paths(s) {
            if let Some(Target::Internal(path)) = target(&n, &me) {
                if path.is_empty() {
                    continue;
                }
                let file = resolve(&by_mod, &path).cloned();
                out.push(Dep { from: s, named: n, path, file });
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The checks, as functions of a source tree (so that they can be tried on a bad one)
// ---------------------------------------------------------------------------------------------

fn rule(module: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.module == module)
}

fn top(rel: &str) -> String {
    module_path(rel).first().cloned().unwrap_or_default()
}

fn may_use(r: &Rule, module: &str, file: Option<&str>) -> bool {
    module == r.module
        || UTILITIES.contains(&module)
        || r.may_use.iter().any(|m| *m == "*" || *m == module || Some(*m) == file)
}

fn boundary_violations(sources: &[Source]) -> Vec<String> {
    let mut found: BTreeMap<(String, usize, String), Vec<String>> = BTreeMap::new();
    let mut push = |s: &Source, at: usize, what: String, written: String| {
        let v = found.entry((s.rel.clone(), s.line(at), what)).or_default();
        if !v.contains(&written) {
            v.push(written);
        }
    };
    for s in sources.iter().filter(|s| !s.is_main() && s.rel != "lib.rs") {
        let module = top(&s.rel);
        let Some(r) = rule(&module) else {
            push(s, 0, format!("module `{module}` has no row in RULES: add one (and to DESIGN.md §2)"), String::new());
            continue;
        };
        let me = s.module_path();
        for n in named_paths(s) {
            let Some(Target::Other(segs)) = target(&n, &me) else { continue };
            let written = segs.join("::");
            let banned = r.must_not_use.iter().find(|c| segs[0] == **c);
            let excepted = r.except.iter().any(|e| written == *e || written.starts_with(&format!("{e}::")));
            if let (Some(c), false) = (banned, excepted) {
                let under: Vec<&str> = r.except.iter().copied().filter(|e| e.starts_with(&format!("{c}::"))).collect();
                let only = if under.is_empty() { String::new() } else { format!(" beyond {}", under.join(", ")) };
                let what = format!(
                    "`{module}` must not use the `{c}` crate{only}: do that work in a module whose row allows it \
                     and hand `{module}` plain data"
                );
                push(s, n.at, what, written);
            }
        }
    }
    for d in deps(sources) {
        let module = top(&d.from.rel);
        let (Some(r), false) = (rule(&module), d.from.rel == "lib.rs") else { continue };
        let to = d.path[0].clone();
        if !may_use(r, &to, d.file.as_deref()) {
            let allowed: Vec<&str> = r.may_use.iter().copied().chain(["the utilities"]).collect();
            let what = format!("`{module}` must not depend on `{to}` (it may use {})", allowed.join(", "));
            push(d.from, d.named.at, what, format!("crate::{}", d.path.join("::")));
        }
    }
    let paths =
        |w: Vec<String>| if w.iter().all(String::is_empty) { String::new() } else { format!(" [{}]", w.join(", ")) };
    found.into_iter().map(|((rel, line, what), w)| format!("src/{rel}:{line}: {what}{}", paths(w))).collect()
}

fn cli_users(sources: &[Source]) -> Vec<String> {
    deps(sources)
        .into_iter()
        .filter(|d| d.path[0] == "cli" && top(&d.from.rel) != "cli")
        .map(|d| format!("{}: {}", d.from.at(d.named.at), d.named.written()))
        .collect()
}

/// The file graph: for each file, the files it names, each with the first place it does.
fn file_graph(sources: &[Source]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut g: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for s in sources.iter().filter(|s| !s.is_main()) {
        g.entry(s.rel.clone()).or_default();
    }
    for d in deps(sources) {
        if let Some(f) = d.file.filter(|f| *f != d.from.rel) {
            let place = format!("{} ({})", d.from.at(d.named.at), d.named.written());
            g.entry(d.from.rel.clone()).or_default().entry(f).or_insert(place);
        }
    }
    g
}

/// Strongly connected components of more than one node (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeMap<String, String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        let g = t.g;
        for w in g.get(v).into_iter().flat_map(|e| e.keys()) {
            if !t.index.contains_key(w.as_str()) {
                visit(t, w);
                let lw = t.low[w.as_str()];
                t.low.entry(v).and_modify(|l| *l = (*l).min(lw));
            } else if t.on.contains(w.as_str()) {
                let iw = t.index[w.as_str()];
                t.low.entry(v).and_modify(|l| *l = (*l).min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t =
        T { g, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on: BTreeSet::new(), out: vec![] };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn cycle_report(sources: &[Source]) -> Vec<String> {
    let g = file_graph(sources);
    cycles(&g)
        .into_iter()
        .map(|comp| {
            let mut s = format!("files that use each other in a circle: {}", comp.join(", "));
            for a in &comp {
                for (b, place) in &g[a] {
                    if comp.contains(b) {
                        s += &format!("\n    {place} uses src/{b}");
                    }
                }
            }
            s + "\n  break the circle: move what they share into a file that uses none of them, or turn one use around"
        })
        .collect()
}

/// Functions outside tests: (file, line of `fn`, name, lines from `fn` to its closing brace).
fn functions(s: &Source) -> Vec<(String, usize, String, usize)> {
    let c = &s.code;
    let mut out = Vec::new();
    for i in 0..c.len() {
        if !(word_at(c, i, "fn") && c.get(i + 2).is_some_and(|x| x.is_whitespace())) {
            continue;
        }
        let mut j = i + 2;
        while c.get(j).is_some_and(|x| x.is_whitespace()) {
            j += 1;
        }
        let name: String = c[j..].iter().take_while(|&&x| is_ident(x)).collect();
        if name.is_empty() {
            continue;
        }
        let Some(open) = c[j..].iter().position(|&x| x == '{' || x == ';').map(|p| j + p) else { continue };
        if c[open] == ';' {
            continue; // no body
        }
        let mut depth = 0;
        let mut close = open;
        for (k, &x) in c.iter().enumerate().skip(open) {
            depth += match x {
                '{' => 1,
                '}' => -1,
                _ => 0,
            };
            if depth == 0 {
                close = k;
                break;
            }
        }
        out.push((s.rel.clone(), s.line(i), name, s.line(close) - s.line(i) + 1));
    }
    out
}

/// Functions over the limit that the allow-list does not name, and allow-list entries that name
/// no long function.
fn long_function_report(sources: &[Source]) -> Vec<String> {
    let long: Vec<_> = sources.iter().flat_map(functions).filter(|f| f.3 > MAX_FN_LINES).collect();
    let mut out = Vec::new();
    for (rel, line, name, n) in &long {
        let path = format!("src/{rel}");
        if !LONG_FN_ALLOWED.iter().any(|(p, f, _)| *p == path && f == name) {
            out.push(format!(
                "{path}:{line}: fn `{name}` is {n} lines (at most {MAX_FN_LINES}): split it into named steps"
            ));
        }
    }
    for (p, f, why) in LONG_FN_ALLOWED {
        if !long.iter().any(|(rel, _, name, _)| format!("src/{rel}") == *p && name == f) {
            out.push(format!(
                "{p}: fn `{f}` is in LONG_FN_ALLOWED ({why}) but is no longer over {MAX_FN_LINES} lines (or gone): \
                 remove its entry from tests/boundaries.rs"
            ));
        }
    }
    out
}

fn unwrap_report(sources: &[Source]) -> Vec<String> {
    let mut out = Vec::new();
    for s in sources {
        let code: String = s.code.iter().collect();
        for pat in [".unwrap()", ".expect("] {
            let mut at = 0;
            while let Some(i) = code[at..].find(pat) {
                let off = code[..at + i].chars().count();
                out.push(format!("{}: `{pat}`", s.at(off)));
                at += i + 1;
            }
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// The tests on the real tree
// ---------------------------------------------------------------------------------------------

#[test]
fn modules_keep_their_boundaries() {
    let sources = src();
    let mut problems = boundary_violations(&sources);
    for r in RULES {
        if !sources.iter().any(|s| top(&s.rel) == r.module) {
            problems.push(format!(
                "RULES has a row for `{}` but src/ has no such module: remove the row (and from DESIGN.md §2)",
                r.module
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "module boundaries (DESIGN.md §2) broken. Move what a module needs into a module it may use (a \
         re-export there will do), or, if the design changed, change DESIGN.md §2 and RULES in \
         tests/boundaries.rs together:\n{}",
        problems.join("\n")
    );
}

/// The table itself has no cycle, so modules can be read (and built) bottom-up.
#[test]
fn the_table_has_no_cycles() {
    fn reach(from: &str, to: &str, seen: &mut BTreeSet<String>) -> bool {
        let Some(r) = rule(from) else { return false };
        r.may_use
            .iter()
            .map(|m| m.split('/').next().unwrap_or(m))
            .filter(|m| *m != "*")
            .any(|m| m == to || (seen.insert(m.to_string()) && reach(m, to, seen)))
    }
    let looped: Vec<&str> = RULES.iter().map(|r| r.module).filter(|m| reach(m, m, &mut BTreeSet::new())).collect();
    assert!(
        looped.is_empty(),
        "RULES lets these modules depend on themselves through others: {looped:?}; fix the table"
    );
}

/// `cli` is the edge: it may use everything, and nothing uses it (DESIGN.md §2). Only `main.rs`
/// calls into it.
#[test]
fn nothing_depends_on_cli() {
    let found = cli_users(&src());
    assert!(
        found.is_empty(),
        "only main.rs may use cli; move what these need out of cli into the module they belong to:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_import_cycles_between_files() {
    let found = cycle_report(&src());
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn no_function_over_100_lines_outside_tests() {
    let found = long_function_report(&src());
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// Outside tests, a failure is handled or reported, never a panic: no `unwrap()` or `expect()` in
/// `src/` (doc comments, whose examples are tests, are not code).
#[test]
fn no_unwrap_or_expect_outside_tests() {
    let found = unwrap_report(&src());
    assert!(
        found.is_empty(),
        "handle these errors (`?`, a match, a default) instead of panicking:\n{}",
        found.join("\n")
    );
}

/// Building needs nothing but the Rust toolchain: serial ports are opened and listed without
/// libudev (tokio-serial without its default features), so no system library or header is needed.
#[test]
fn no_libudev_in_the_dependency_tree() {
    let lock = std::fs::read_to_string("Cargo.lock").unwrap();
    let udev: Vec<&str> = lock.lines().filter(|l| l.starts_with("name = ") && l.contains("udev")).collect();
    assert!(udev.is_empty(), "a dependency pulls libudev in: {udev:?}; keep default-features = false on tokio-serial");
}

// ---------------------------------------------------------------------------------------------
// The checks can fail: each is tried on a small bad tree
// ---------------------------------------------------------------------------------------------

fn tree(files: &[(&str, &str)]) -> Vec<Source> {
    files.iter().map(|(rel, text)| Source::new(rel, text)).collect()
}

#[test]
fn every_form_of_path_is_seen_and_no_text_is() {
    let text = r##"//! crate::ui::in_a_doc_comment
use crate::{
    alarm::{self, Rule as R},
    tag::*,
};
use super::super::layout::Model;
/* crate::ui::in_a_block_comment /* nested */ crate::ui::still */
fn f() -> char {
    let _ = "crate::ui::in_a_string \" crate::ui::after_an_escape";
    let _ = r#"crate::ui::in_a_raw_string " crate::ui::x"#;
    let _ = br"crate::ui::in_a_raw_byte_string";
    let _: &'static str = crate::plant::name(x::y);
    ::tokio::spawn(Vec::<u8>::new());
    '{'
}
"##;
    let s = Source::new("driver/codec.rs", text);
    let seen: BTreeSet<String> = deps(std::slice::from_ref(&s)).iter().map(|d| d.path.join("::")).collect();
    let want: BTreeSet<String> =
        ["alarm", "alarm::Rule", "tag", "layout::Model", "plant::name"].iter().map(|x| x.to_string()).collect();
    assert_eq!(seen, want);
    let lines: Vec<usize> = deps(std::slice::from_ref(&s)).iter().map(|d| s.line(d.named.at)).collect();
    assert_eq!(lines, [3, 3, 4, 6, 12], "each path at its own line");
    assert!(named_paths(&s).iter().any(|n| n.written() == "tokio::spawn"));
    assert_eq!(functions(&s).iter().map(|f| (f.1, f.3)).collect::<Vec<_>>(), [(8, 8)], "the '{{' is not a brace");
}

#[test]
fn unit_tests_are_not_checked() {
    let s = Source::new(
        "tag/mod.rs",
        "#[cfg(test)]\nmod tests;\nuse crate::alarm::A;\n#[cfg(test)]\nmod t {\n use crate::ui::X;\n}\n",
    );
    assert_eq!(deps(std::slice::from_ref(&s)).len(), 1, "the code before `mod t {{` only");
    assert!(Source::new("tag/tests.rs", "use crate::ui::X;").code.is_empty());
    assert!(Source::new("tag/fuzz.rs", "use crate::ui::X;").code.is_empty());
}

#[test]
fn a_forbidden_dependency_fails() {
    let t = tree(&[
        ("tag/mod.rs", "use crate::{sanitize::clean, ui::Theme};\nfn f() { tokio::spawn(x); }\n"),
        ("tag/store.rs", "fn f() { super::super::driver::go(); }\n"),
        (
            "session/mod.rs",
            "use crossterm::event::KeyEvent;\nuse crossterm::terminal;\nuse crate::plant::X;\nuse tokio::io;\n",
        ),
        ("console.rs", "use crate::driver::{DriverEvent, modbus::codec};\n"),
        ("ui/mod.rs", "use crate::driver::ConnectionState;\n"),
        ("driver/mod.rs", "\n"),
        ("driver/modbus/codec.rs", "\n"),
        ("historian/mod.rs", "\n"),
        ("sanitize.rs", "\n"),
    ]);
    let v = boundary_violations(&t);
    let want = [
        ("src/console.rs:1:", "`console` must not depend on `driver`", "crate::driver::modbus::codec]"),
        ("src/historian/mod.rs:1:", "`historian` has no row", ""),
        ("src/session/mod.rs:2:", "`session` must not use the `crossterm` crate beyond crossterm::event", "terminal"),
        ("src/session/mod.rs:4:", "`session` must not use the `tokio` crate: do", "tokio::io"),
        ("src/tag/mod.rs:1:", "`tag` must not depend on `ui`", "crate::ui::Theme"),
        ("src/tag/mod.rs:2:", "`tag` must not use the `tokio` crate", "tokio::spawn"),
        ("src/tag/store.rs:1:", "`tag` must not depend on `driver`", "crate::driver::go"),
        ("src/ui/mod.rs:1:", "`ui` must not depend on `driver`", "ConnectionState"),
    ];
    assert_eq!(v.len(), want.len(), "{v:#?}");
    for (line, (at, what, path)) in v.iter().zip(want) {
        assert!(line.starts_with(at) && line.contains(what) && line.contains(path), "{line}");
    }
    let cli = tree(&[("ui/mod.rs", "fn f() { super::cli::run(); }\n"), ("cli/mod.rs", "\n")]);
    assert_eq!(cli_users(&cli), ["src/ui/mod.rs:1: super::cli::run"]);
}

#[test]
fn a_file_cycle_fails() {
    let t = tree(&[
        ("layout/mod.rs", "mod a;\n"),
        ("layout/a.rs", "use super::b::B;\npub struct A;\n"),
        ("layout/b.rs", "pub struct B(crate::layout::c::C);\n"),
        ("layout/c.rs", "pub struct C(Vec<super::a::A>);\n"),
        ("layout/d.rs", "use super::a::A;\n"),
    ]);
    let r = cycle_report(&t);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].starts_with("files that use each other in a circle: layout/a.rs, layout/b.rs, layout/c.rs"),
        "{}",
        r[0]
    );
    assert!(r[0].contains("src/layout/b.rs:1 (crate::layout::c::C) uses src/layout/c.rs"), "{}", r[0]);
}

#[test]
fn a_long_function_fails() {
    let body = "    let x = '}';\n".repeat(MAX_FN_LINES - 1);
    let long = format!("pub async fn long() {{\n{body}}}\nfn short() {{}}\ntrait T {{ fn decl(&self); }}\n");
    let ok = format!("fn fits() {{\n{}}}\n", "    f();\n".repeat(MAX_FN_LINES - 2));
    let t = tree(&[("tag/a.rs", &long), ("tag/b.rs", &ok)]);
    let r = long_function_report(&t);
    assert!(r[0].starts_with("src/tag/a.rs:1: fn `long` is 101 lines"), "{r:?}");
    // Here every entry of the allow-list names a function that is not (over the limit) in the tree.
    assert_eq!(r.len(), 1 + LONG_FN_ALLOWED.len(), "{r:?}");
    assert!(
        r[1..]
            .iter()
            .all(|l| l.contains("is in LONG_FN_ALLOWED") && l.ends_with("remove its entry from tests/boundaries.rs")),
        "{r:?}"
    );
    assert_eq!(functions(&t[0]).iter().map(|f| f.2.as_str()).collect::<Vec<_>>(), ["long", "short"]);
}

#[test]
fn an_unwrap_fails() {
    let t = tree(&[("tag/a.rs", "// x.unwrap()\nfn f() { let _ = \"a.expect(\"; g().expect(\"why\"); }\n")]);
    assert_eq!(unwrap_report(&t), ["src/tag/a.rs:2: `.expect(`"]);
}
