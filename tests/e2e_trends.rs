//! End to end, trends: the real binary in a pseudo-terminal on the in-process simulated plant.
//! The header pressure rises from a cold start; the trend draws it live, the window changes, the
//! cursor freezes it, and `e` exports the shown window to a CSV file whose values rise as the
//! plant's did.

use std::path::Path;

mod common;

use common::{Console, TempDir, plant, ttyhmi};

fn layout(dir: &Path, port: u16) -> std::path::PathBuf {
    let src = format!(
        "title: Trend test\n\
         connections:\n  plc: {{ modbus_tcp: {{ host: 127.0.0.1, port: {port}, unit: 1 }}, timeout: 500ms, poll: 200ms }}\n\
         tags:\n\
         \x20 P: {{ source: plc, holding: 1, type: f32, units: bar, decimals: 2, description: Header pressure }}\n\
         \x20 SP: {{ source: plc, holding: 30, type: f32, units: bar, decimals: 2, description: Pressure setpoint }}\n\
         screens:\n\
         \x20 - title: Trend\n\
         \x20   panels:\n\
         \x20     - trend: {{ title: Pressure, pens: [P, {{ tag: SP, range: [0, 16] }}], window: 2m }}\n\
         \x20     - bar: {{ tag: P, range: [0, 16], normal: [6, 9] }}\n"
    );
    let path = dir.join("layout.yaml");
    std::fs::write(&path, src).unwrap();
    let (ok, out) = ttyhmi(&["check", path.to_str().unwrap()]);
    assert!(ok, "the test layout is valid:\n{out}");
    path
}

#[test]
fn a_live_trend_zooms_freezes_and_exports_what_it_shows() {
    let dir = TempDir::new("trend");
    let (_rt, sim) = plant();
    let l = layout(&dir.0, sim.modbus_addr.port());
    let mut c = Console::start(&dir.0, &["run", l.to_str().unwrap()]);
    c.wait_for("the live trend with a value", |t| {
        t.contains("Pressure · 2m · live") && t.lines().any(|l| l.starts_with("1 P ") && l.contains(" bar"))
    });
    // Braille dots appear as the pressure rises.
    c.wait_for("the pen drawn", |t| t.chars().any(|ch| ('\u{2801}'..='\u{28ff}').contains(&ch)));
    std::thread::sleep(std::time::Duration::from_secs(3));

    c.send(b"-");
    c.wait_for("a narrower window", |t| t.contains("Pressure · 1m · live"));
    c.send(b"c");
    let t = c.wait_for("frozen with a cursor read-out", |t| t.contains("frozen, cursor") && t.contains("@"));
    assert!(t.lines().any(|l| l.starts_with('@') && l.contains("1 P ")), "{t}");
    c.send(b"l");
    c.wait_for("live again", |t| t.contains("Pressure · 1m · live"));

    c.send(b"e");
    let t = c.wait_for("the export", |t| t.contains("exported") && t.contains(".csv"));
    let joined: String = t.lines().map(str::trim_end).collect();
    let start = joined.find("exported").unwrap();
    let rest = &joined[start..];
    let path = &rest[rest.find(" to ").unwrap() + 4..rest.find(".csv").unwrap() + 4];
    let csv = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "time_utc,P,P_quality,SP,SP_quality");
    let p: Vec<f64> = lines[1..].iter().filter_map(|l| l.split(',').nth(1)?.parse().ok()).collect();
    assert!(p.len() >= 5, "several samples of a rising pressure: {csv}");
    assert!(p.windows(2).all(|w| w[1] >= w[0]) && p[p.len() - 1] > p[0], "rising: {p:?}");
    assert!(lines[1..].iter().all(|l| l.ends_with(",8,good") || l.ends_with(",,")), "the setpoint held at 8: {csv}");
    c.quit();
    assert!(c.wait_exit().success());
}
