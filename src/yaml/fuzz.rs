//! YAML text damaged at the level of its lines, keys and values, from valid files: lines
//! dropped, duplicated, swapped and re-indented, keys renamed, values replaced by hostile ones
//! (huge, negative, non-finite, wrong type, control characters), deep nesting, anchors and
//! aliases, alias bombs. Most results still parse as YAML, so the checks after parsing see them.

use proptest::prelude::*;
use proptest::sample::Index;

/// Values that break assumptions: numbers out of every range, non-finite floats, other types,
/// tags, anchors, text with terminal escapes and bidi controls.
pub const HOSTILE_VALUES: &[&str] = &[
    "-1",
    "0",
    "-0",
    "65535",
    "65536",
    "4294967296",
    "99999999999999999999999999",
    "-9223372036854775809",
    "18446744073709551616",
    "1e309",
    "-1e309",
    "4.9e-324",
    ".nan",
    ".NaN",
    "NaN",
    ".inf",
    "-.inf",
    "0x7fffffff",
    "0o777",
    "0b101",
    "1_000",
    "00001",
    "40001",
    "400001",
    "~",
    "null",
    "''",
    "\"\"",
    "[]",
    "{}",
    "[1, [2, [3]]]",
    "{a: 1}",
    "true",
    "yes",
    "!!binary aGVsbG8=",
    "!custom x",
    "!!str 12",
    "&anchor 5",
    "*anchor",
    "*undefined",
    "\"\\e[31mred\\e[0m\"",
    "\"\\u0000nul\"",
    "\"\\u202eevil\"",
    "\"line\\nbreak\"",
    "\"\\x07bell\"",
    "'10 ms'",
    "10 years",
    "-5 s",
    "0 s",
    "1e400 s",
    "2026-13-45",
    "\u{feff}bom",
    "|\n  block\n  text",
    ">-",
    "\"a very long value ..........................................................................\"",
];

/// Keys that are not what a file expects, or look almost right.
const HOSTILE_KEYS: &[&str] =
    &["", "\"\"", "<<", "? complex", "type", "tags", "x\u{7}y", "\"\\e]0;title\\a\"", "holding", "write", "role"];

/// One damage to the lines of a file.
#[derive(Debug, Clone)]
pub enum Edit {
    Drop(Index),
    Duplicate(Index),
    Swap(Index, Index),
    Indent(Index, u8),
    Dedent(Index),
    Value(Index, Index),
    Key(Index, Index),
    /// Nesting `n` levels deep on a new line.
    Deep(Index, u8),
    /// Anchors a line's value and repeats it elsewhere with an alias.
    Alias(Index, Index),
    /// An alias bomb of `levels` levels of `width` aliases each, at the end.
    Bomb(u8, u8),
    /// A raw character (controls, tabs, quotes, colons) inserted into a line.
    Char(Index, Index, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    let odd = prop_oneof![
        Just('\t'),
        Just('\r'),
        Just('\0'),
        Just('\u{1b}'),
        Just(':'),
        Just('"'),
        Just('\''),
        Just('#'),
        Just('&'),
        Just('*'),
        Just('['),
        Just('{'),
        Just('-'),
        Just('\u{202e}'),
        any::<char>(),
    ];
    prop_oneof![
        any::<Index>().prop_map(Edit::Drop),
        any::<Index>().prop_map(Edit::Duplicate),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
        (any::<Index>(), 1u8..8).prop_map(|(a, n)| Edit::Indent(a, n)),
        any::<Index>().prop_map(Edit::Dedent),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Value(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Key(a, b)),
        (any::<Index>(), 1u8..=200).prop_map(|(a, n)| Edit::Deep(a, n)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Alias(a, b)),
        // Small enough to stay cheap in a debug build; the full size is a unit test of each reader.
        (2u8..=5, 2u8..=6).prop_map(|(l, w)| Edit::Bomb(l, w)),
        (any::<Index>(), any::<Index>(), odd).prop_map(|(a, b, c)| Edit::Char(a, b, c)),
    ]
}

/// One of `seeds`, damaged by up to `max_edits` edits.
pub fn mutated_text(seeds: Vec<String>, max_edits: usize) -> impl Strategy<Value = String> {
    (prop::sample::select(seeds), prop::collection::vec(edit(), 1..=max_edits)).prop_map(|(seed, edits)| {
        let mut lines: Vec<String> = seed.lines().map(String::from).collect();
        for e in &edits {
            apply(&mut lines, e);
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    })
}

/// One of `seeds` with bytes flipped, inserted, removed or cut ([`crate::fuzzing::mutated`]),
/// read as UTF-8 with invalid sequences replaced.
pub fn mutated_bytes(seeds: Vec<String>) -> impl Strategy<Value = String> {
    crate::fuzzing::mutated(prop::sample::select(seeds).prop_map(String::into_bytes))
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Random text made of YAML's punctuation, words and line breaks.
pub fn yamlish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just(": ".to_string()),
            Just("\n".to_string()),
            Just("\n  ".to_string()),
            Just("- ".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
            Just(", ".to_string()),
            Just("&a ".to_string()),
            Just("*a".to_string()),
            Just("<<: ".to_string()),
            Just("---\n".to_string()),
            Just("\"".to_string()),
            Just("#".to_string()),
            prop::sample::select(HOSTILE_VALUES).prop_map(String::from),
            "[a-z_]{1,8}",
            any::<char>().prop_map(String::from),
        ],
        0..80,
    )
    .prop_map(|parts| parts.concat())
}

fn at(lines: &[String], i: &Index) -> Option<usize> {
    (!lines.is_empty()).then(|| i.index(lines.len()))
}

fn apply(lines: &mut Vec<String>, e: &Edit) {
    match e {
        Edit::Drop(i) => {
            if let Some(i) = at(lines, i) {
                lines.remove(i);
            }
        }
        Edit::Duplicate(i) => {
            if let Some(i) = at(lines, i) {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
        }
        Edit::Swap(a, b) => {
            if let (Some(a), Some(b)) = (at(lines, a), at(lines, b)) {
                lines.swap(a, b);
            }
        }
        Edit::Indent(i, n) => {
            if let Some(i) = at(lines, i) {
                lines[i].insert_str(0, &" ".repeat(usize::from(*n)));
            }
        }
        Edit::Dedent(i) => {
            if let Some(i) = at(lines, i) {
                lines[i] = lines[i].trim_start().to_string();
            }
        }
        Edit::Value(i, v) => {
            if let Some(i) = at(lines, i) {
                let value = v.get(HOSTILE_VALUES);
                lines[i] = match lines[i].split_once(": ") {
                    Some((key, _)) => format!("{key}: {value}"),
                    None => format!("{}{value}", lines[i]),
                };
            }
        }
        Edit::Key(i, k) => {
            if let Some(i) = at(lines, i)
                && let Some((key, value)) = lines[i].split_once(':')
            {
                let indent = &key[..key.len() - key.trim_start().len()];
                let lead = if key.trim_start().starts_with("- ") { "- " } else { "" };
                lines[i] = format!("{indent}{lead}{}:{value}", k.get(HOSTILE_KEYS));
            }
        }
        Edit::Deep(i, n) => {
            let n = usize::from(*n);
            let deep = format!("deep: {}1{}", "[".repeat(n), "]".repeat(n));
            let i = at(lines, i).unwrap_or(0);
            lines.insert(i, deep);
        }
        Edit::Alias(a, b) => {
            if let (Some(a), Some(b)) = (at(lines, a), at(lines, b))
                && let (Some((ka, va)), Some((kb, _))) = (lines[a].split_once(": "), lines[b].split_once(": "))
            {
                let (ka, va, kb) = (ka.to_string(), va.to_string(), kb.to_string());
                lines[a] = format!("{ka}: &fz {va}");
                lines[b] = format!("{kb}: *fz");
            }
        }
        Edit::Bomb(levels, width) => lines.extend(bomb(usize::from(*levels), usize::from(*width))),
        Edit::Char(i, c, ch) => {
            if let Some(i) = at(lines, i) {
                let line = &mut lines[i];
                let stops: Vec<usize> = line.char_indices().map(|(p, _)| p).chain([line.len()]).collect();
                line.insert(stops[c.index(stops.len())], *ch);
            }
        }
    }
}

/// "Billion laughs": `levels` anchors, each a list of `width` aliases of the one before, as
/// top-level keys. Fully expanded, the last stands for `width^levels` values.
pub fn bomb(levels: usize, width: usize) -> Vec<String> {
    let mut out = vec!["bomb0: &b0 [\"lol\", \"lol\"]".to_string()];
    for l in 1..levels {
        let aliases = vec![format!("*b{}", l - 1); width].join(", ");
        out.push(format!("bomb{l}: &b{l} [{aliases}]"));
    }
    out
}
