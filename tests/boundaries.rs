//! The module boundaries of DESIGN.md, checked on the source tree: a module must not `use` what
//! it must not depend on. Cheap, and it stops drift. Unit tests (an inline `#[cfg(test)] mod … {`
//! at the end of a file, or a `tests.rs` file) are not checked: a driver's tests may start the
//! simulator. Also: no `unwrap()`/`expect()` outside tests.

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().and_then(|x| x.to_str()) == Some("rs") {
            out.push((p.display().to_string(), std::fs::read_to_string(&p).unwrap()));
        }
    }
}

/// The code of a source file outside its unit tests: nothing for a `tests.rs` file, else the text
/// before an inline `#[cfg(test)] mod name {` (a `#[cfg(test)] mod tests;` declaration near the
/// top does not end the code).
fn code_outside_tests<'a>(path: &str, text: &'a str) -> &'a str {
    if path.ends_with("/tests.rs") {
        return "";
    }
    let mut at = 0;
    while let Some(i) = text[at..].find("#[cfg(test)]") {
        let start = at + i;
        let rest = &text[start + "#[cfg(test)]".len()..];
        let next = rest.trim_start().lines().next().unwrap_or("");
        if next.starts_with("mod ") && next.trim_end().ends_with('{') {
            return &text[..start];
        }
        at = start + 1;
    }
    text
}

/// (module folder, forbidden path prefixes)
const RULES: &[(&str, &[&str])] = &[
    ("src/tag", &["tokio", "ratatui", "crossterm", "crate::driver", "crate::layout", "crate::ui", "crate::session"]),
    ("src/layout", &["tokio", "ratatui", "crossterm", "crate::driver", "crate::ui", "crate::session", "crate::sim"]),
    ("src/driver", &["ratatui", "crossterm", "crate::ui", "crate::session", "crate::sim"]),
    ("src/ui", &["tokio", "crate::driver::modbus", "crate::sim"]),
    ("src/sim", &["ratatui", "crossterm", "crate::ui", "crate::session", "crate::driver"]),
    (
        "src/alarm",
        &[
            "tokio",
            "ratatui",
            "crossterm",
            "crate::driver",
            "crate::ui",
            "crate::session",
            "crate::layout",
            "crate::sim",
        ],
    ),
    ("src/auth", &["ratatui", "crossterm", "crate::ui", "crate::session", "crate::driver", "tokio"]),
    ("src/audit", &["ratatui", "crossterm", "tokio", "crate::ui", "crate::session", "crate::driver", "crate::auth"]),
];

#[test]
fn modules_keep_their_boundaries() {
    let mut violations = Vec::new();
    for (dir, forbidden) in RULES {
        let mut files = Vec::new();
        sources(Path::new(dir), &mut files);
        assert!(!files.is_empty(), "{dir} has no sources");
        for (path, text) in files {
            // Unit tests may use anything (a test server, say).
            let code = code_outside_tests(&path, &text);
            for (n, line) in code.lines().enumerate() {
                let l = line.trim_start();
                if l.starts_with("//") {
                    continue;
                }
                for f in *forbidden {
                    let uses = l.starts_with(&format!("use {f}")) || l.contains(&format!("{f}::"));
                    if uses {
                        violations.push(format!("{path}:{}: {dir} must not depend on {f}: {l}", n + 1));
                    }
                }
            }
        }
    }
    assert!(violations.is_empty(), "\n{}", violations.join("\n"));
}

/// `cli` is the edge: it may use everything, and nothing uses it (DESIGN.md §2). Only `main.rs`
/// calls into it.
#[test]
fn nothing_depends_on_cli() {
    let mut files = Vec::new();
    sources(Path::new("src"), &mut files);
    let mut found = Vec::new();
    for (path, text) in &files {
        if path.starts_with("src/cli/") || path == "src/main.rs" {
            continue;
        }
        for (n, line) in code_outside_tests(path, text).lines().enumerate() {
            let l = line.trim_start();
            if !l.starts_with("//") && (l.contains("crate::cli") || l.contains("super::cli")) {
                found.push(format!("{path}:{}: {l}", n + 1));
            }
        }
    }
    assert!(found.is_empty(), "only main.rs may use cli:\n{}", found.join("\n"));
}

/// Outside tests, a failure is handled or reported, never a panic: no `unwrap()` or `expect()` in
/// `src/` (doc comments, whose examples are tests, are not code).
#[test]
fn no_unwrap_or_expect_outside_tests() {
    let mut files = Vec::new();
    sources(Path::new("src"), &mut files);
    let mut found = Vec::new();
    for (path, text) in &files {
        for (n, line) in code_outside_tests(path, text).lines().enumerate() {
            let l = line.trim_start();
            if !l.starts_with("//") && (l.contains(".unwrap()") || l.contains(".expect(")) {
                found.push(format!("{path}:{}: {l}", n + 1));
            }
        }
    }
    assert!(found.is_empty(), "handle these errors instead:\n{}", found.join("\n"));
}

/// Building needs nothing but the Rust toolchain: serial ports are opened and listed without
/// libudev (tokio-serial without its default features), so no system library or header is needed.
#[test]
fn no_libudev_in_the_dependency_tree() {
    let lock = std::fs::read_to_string("Cargo.lock").unwrap();
    let udev: Vec<&str> = lock.lines().filter(|l| l.starts_with("name = ") && l.contains("udev")).collect();
    assert!(udev.is_empty(), "a dependency pulls libudev in: {udev:?}; keep default-features = false on tokio-serial");
}
