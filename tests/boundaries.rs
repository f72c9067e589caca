//! The module boundaries of DESIGN.md, checked on the source tree: a module must not `use` what
//! it must not depend on. Cheap, and it stops drift. Unit tests (after `#[cfg(test)]`) are not
//! checked: a driver's tests may start the simulator.

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

/// (module folder, forbidden path prefixes)
const RULES: &[(&str, &[&str])] = &[
    ("src/tag", &["tokio", "ratatui", "crossterm", "crate::driver", "crate::layout", "crate::ui", "crate::app"]),
    ("src/layout", &["tokio", "ratatui", "crossterm", "crate::driver", "crate::ui", "crate::app", "crate::sim"]),
    ("src/driver", &["ratatui", "crossterm", "crate::ui", "crate::app", "crate::sim"]),
    ("src/ui", &["tokio", "crate::driver::modbus", "crate::sim"]),
    ("src/sim", &["ratatui", "crossterm", "crate::ui", "crate::app", "crate::driver"]),
    (
        "src/alarm",
        &["tokio", "ratatui", "crossterm", "crate::driver", "crate::ui", "crate::app", "crate::layout", "crate::sim"],
    ),
    ("src/auth", &["ratatui", "crossterm", "crate::ui", "crate::app", "crate::driver", "tokio"]),
    ("src/audit", &["ratatui", "crossterm", "tokio", "crate::ui", "crate::app", "crate::driver", "crate::auth"]),
];

#[test]
fn modules_keep_their_boundaries() {
    let mut violations = Vec::new();
    for (dir, forbidden) in RULES {
        let mut files = Vec::new();
        sources(Path::new(dir), &mut files);
        assert!(!files.is_empty(), "{dir} has no sources");
        for (path, text) in files {
            // Unit tests at the end of a file may use anything (a test server, say).
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
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
