//! One fixture per invalid-layout case in `tests/fixtures/invalid/`, and one per warning case in
//! `tests/fixtures/warnings/`. Each fixture starts with `# expect: LINE:COL message | hint` lines
//! (errors) and `# warn: LINE:COL message | hint` lines (warnings); an invalid layout must fail
//! with exactly those diagnostics, a layout with warnings must load with exactly those warnings
//! (message and hint matched as substrings, line and column exactly).

use std::path::Path;

use ttyhmi::layout::{self, Diagnostic, Severity};

struct Expect {
    severity: Severity,
    line: u32,
    col: u32,
    message: String,
    hint: Option<String>,
}

fn expectations(src: &str) -> Vec<Expect> {
    src.lines()
        .filter_map(|l| {
            l.strip_prefix("# expect: ")
                .map(|e| (Severity::Error, e))
                .or_else(|| l.strip_prefix("# warn: ").map(|e| (Severity::Warning, e)))
        })
        .map(|(severity, e)| {
            let (pos, rest) = e.split_once(' ').expect("`# expect: L:C message`");
            let (line, col) = pos.split_once(':').expect("L:C");
            let (message, hint) = match rest.split_once(" | ") {
                Some((m, h)) => (m.trim().to_string(), Some(h.trim().to_string())),
                None => (rest.trim().to_string(), None),
            };
            Expect { severity, line: line.parse().unwrap(), col: col.parse().unwrap(), message, hint }
        })
        .collect()
}

/// What of `expected` is not in `got`, and whether the counts differ, as failure texts.
fn compare(path: &Path, expected: &[Expect], got: &[Diagnostic], rendered: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for x in expected {
        let found = got.iter().any(|d| {
            d.severity == x.severity
                && d.loc.line == x.line
                && d.loc.col == x.col
                && d.message.contains(&x.message)
                && x.hint.as_ref().is_none_or(|h| d.hint.as_deref().unwrap_or("").contains(h.as_str()))
        });
        if !found {
            failures.push(format!(
                "{}: expected {:?} {}:{} `{}` (hint {:?}), got:\n{rendered}",
                path.display(),
                x.severity,
                x.line,
                x.col,
                x.message,
                x.hint
            ));
        }
    }
    if got.len() != expected.len() {
        failures.push(format!(
            "{}: expected {} diagnostics, got {}:\n{rendered}",
            path.display(),
            expected.len(),
            got.len()
        ));
    }
    failures
}

/// The `.yaml` files of a fixture folder with their text.
fn fixtures(dir: &str) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("yaml") {
            let src = std::fs::read_to_string(&path).unwrap();
            out.push((path, src));
        }
    }
    out
}

#[test]
fn every_invalid_fixture_fails_with_its_diagnostics() {
    let mut failures = Vec::new();
    let all = fixtures("tests/fixtures/invalid");
    for (path, src) in &all {
        let expected = expectations(src);
        assert!(expected.iter().any(|x| x.severity == Severity::Error), "{} has no `# expect:` line", path.display());
        let err = match layout::load(path) {
            Ok(_) => {
                failures.push(format!("{}: loaded, but should fail", path.display()));
                continue;
            }
            Err(e) => e,
        };
        let rendered = err.to_string();
        failures.extend(compare(path, &expected, &err.diagnostics, &rendered));
        // Every diagnostic names the file, and those with a line print it as file:line:col.
        assert!(rendered.contains(&path.display().to_string()));
    }
    assert!(all.len() >= 15, "fixtures went missing: {}", all.len());
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn every_warning_fixture_loads_with_its_warnings() {
    let mut failures = Vec::new();
    let all = fixtures("tests/fixtures/warnings");
    for (path, src) in &all {
        let expected = expectations(src);
        assert!(expected.iter().all(|x| x.severity == Severity::Warning), "{}: warnings only", path.display());
        match layout::load(path) {
            Err(e) => failures.push(format!("{}: should load, but:\n{e}", path.display())),
            Ok(l) => {
                let rendered: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
                let rendered = rendered.join("\n");
                failures.extend(compare(path, &expected, &l.warnings, &rendered));
                for w in &l.warnings {
                    assert!(rendered.contains(&format!("{}:{}:{}: warning: ", path.display(), w.loc.line, w.loc.col)));
                }
            }
        }
    }
    assert!(all.len() >= 6, "fixtures went missing: {}", all.len());
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn missing_and_unreadable_files_are_explained() {
    let e = layout::load(Path::new("tests/fixtures/no-such-file.yaml")).unwrap_err();
    assert!(e.to_string().contains("cannot read the layout file"), "{e}");
    let e = layout::load(Path::new("tests/fixtures")).unwrap_err();
    assert!(e.to_string().contains("folder"), "{e}");
    let e = layout::parse("- just\n- a list\n", "l.yaml").unwrap_err();
    assert!(e.to_string().contains("a layout is a mapping"), "{e}");
}

/// A folder of its own for one test.
fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ttyhmi-layout-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `layout::load(path)` on a thread; `None` if it has not returned after 30 s (it hangs: the
/// test fails, the thread is left behind).
fn load_or_hang(path: &Path) -> Option<Result<layout::Layout, layout::LayoutError>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(layout::load(&path));
    });
    rx.recv_timeout(std::time::Duration::from_secs(30)).ok()
}

#[cfg(unix)]
#[test]
fn a_fifo_or_a_device_is_refused_at_once_without_reading() {
    let d = scratch("fifo");
    let fifo = d.join("plant.yaml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // Nobody writes to the FIFO: reading it would wait forever.
    let e = load_or_hang(&fifo).expect("loading a FIFO hangs").unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with(&format!("{}: error: ", fifo.display())), "{text}");
    assert!(text.contains("this is a FIFO (named pipe), not a regular file"), "{text}");
    assert!(text.contains("hint: name the layout's .yaml file"), "{text}");
    for dev in ["/dev/null", "/dev/zero"] {
        let e = load_or_hang(Path::new(dev)).expect("loading a device hangs").unwrap_err();
        let text = e.to_string();
        assert!(text.contains(&format!("{dev}: error: cannot read the layout file: this is a device")), "{text}");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_file_over_the_limit_is_refused_before_it_is_read() {
    let d = scratch("large");
    let big = d.join("big.yaml");
    let f = std::fs::File::create(&big).unwrap();
    // Sparse: 17 MiB without writing them.
    f.set_len(17 << 20).unwrap();
    let e = layout::load(&big).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("larger than 16 MiB"), "{text}");
    assert!(text.contains("hint: is this the right file? layouts are at most 16 MiB"), "{text}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// Words of the YAML library's own options and internals, which mean nothing to a user.
const LIBRARY_WORDS: &[&str] =
    &["Policy", "Options", "budget", "Budget", "breached", "Nodes {", "Depth {", "Option<", "saphyr", "serde"];

/// The one diagnostic of `src`: (line, column, message, hint), checked for library words.
fn only_problem(src: &str) -> (u32, u32, String, String) {
    let e = layout::parse(src, "l.yaml").unwrap_err();
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    let d = &e.diagnostics[0];
    let hint = d.hint.clone().unwrap_or_default();
    for w in LIBRARY_WORDS {
        assert!(!d.message.contains(w) && !hint.contains(w), "`{w}` in: {e}");
    }
    (d.loc.line, d.loc.col, d.message.clone(), hint)
}

#[test]
fn yaml_limits_and_duplicate_keys_are_explained_in_our_words() {
    let (line, col, message, hint) = only_problem("title: a\nconnections: {}\ntitle: b\n");
    assert_eq!((line, col), (3, 1));
    assert_eq!(message, "`title` is written twice in the same mapping");
    assert!(hint.contains("keep one"), "{hint}");

    // Billion laughs: ten levels of nine aliases each would be 10^9 values.
    let mut bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10u8 {
        let (prev, cur) = ((b'a' + i - 1) as char, (b'a' + i) as char);
        bomb.push_str(&format!("{cur}: &{cur} [{}]\n", vec![format!("*{prev}"); 9].join(", ")));
    }
    let (line, _, message, hint) = only_problem(&bomb);
    assert!(line > 0);
    assert!(message.contains("aliases"), "{message}");
    assert!(hint.contains("write the values out"), "{hint}");

    for deep in [format!("title: {}{}\n", "[".repeat(100), "]".repeat(100)), {
        let mut s = String::from("title:\n");
        for i in 1..=100 {
            s.push_str(&format!("{}k:\n", "  ".repeat(i)));
        }
        s
    }] {
        let (line, col, message, hint) = only_problem(&deep);
        assert!(line > 0 && col > 0);
        assert_eq!(message, "values are nested more than 24 levels deep here");
        assert!(hint.contains("a layout nests a few levels"), "{hint}");
    }

    let huge = format!("title: x\nx: [{}]\n", vec!["1"; 250_001].join(","));
    let (line, col, message, hint) = only_problem(&huge);
    assert_eq!(line, 2);
    assert!(col > 1);
    assert_eq!(message, "the file has more than 250000 values");
    assert!(hint.contains("is this the right file?"), "{hint}");
}

#[test]
fn text_from_the_file_is_shown_escaped() {
    let src = "connections:\n  c: { modbus_tcp: { host: h } }\ntags:\n  \"A\\e[2J\": { source: c, holding: 0 }\n\"ab\\u202Ecd\": 1\n";
    let e = layout::parse(src, "x\u{1b}]0;owned\u{7}.yaml").unwrap_err();
    let text = e.to_string();
    assert!(!text.contains('\u{1b}') && !text.contains('\u{202e}') && !text.contains('\u{7}'), "{text:?}");
    assert!(text.contains("x\\x1b]0;owned\\x07.yaml:4:3: error: tag name `A\\x1b[2J` is not valid"), "{text}");
    assert!(text.contains("unknown field `ab\\u{202e}cd`"), "{text}");
}

#[test]
fn a_history_over_the_default_budget_is_placed_at_its_biggest_panel() {
    // Without `history:` the 500 tags keep the default 2h: 549 MiB, over the default 512 MiB.
    let path = "tests/fixtures/invalid/history_over_budget.yaml";
    let src = std::fs::read_to_string(path).unwrap().replace("history: 48h\n", "");
    let e = layout::parse(&src, path).unwrap_err();
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    let d = &e.diagnostics[0];
    assert_eq!((d.loc.line, d.loc.col), (509, 9), "at the grid that keeps the most: {e}");
    assert_eq!(
        d.message,
        "trend history may take up to 549 MiB of memory, more than its budget of 512 MiB: 500 tags keep 2h each (up to 1.1 MiB a tag)"
    );
    let hint = d.hint.as_deref().unwrap_or("");
    assert!(hint.contains("keep less (`history: 1h` fits)"), "{hint}");
    assert!(hint.ends_with("raise the budget: `history: { keep: 2h, budget: 550MiB }`"), "{hint}");
}
