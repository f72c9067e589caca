//! The command line as a user runs it: `ttyhmi sim` serves, `ttyhmi watch` polls it and prints
//! JSON lines and a summary, and bad input gets a clear message and a failing exit code.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

fn exe() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ttyhmi"));
    let state = std::env::temp_dir().join(format!("ttyhmi-cli-{}", std::process::id()));
    c.env("XDG_STATE_HOME", &state);
    c
}

struct Sim(Child, SocketAddr);

impl Sim {
    fn start() -> Sim {
        let mut child = exe().args(["sim", "--modbus-port", "0"]).stdout(Stdio::piped()).spawn().unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let addr: SocketAddr =
            first.split_whitespace().find_map(|w| w.parse().ok()).unwrap_or_else(|| panic!("{first}"));
        assert_eq!(addr.ip(), std::net::IpAddr::from([127, 0, 0, 1]), "the simulator stays on loopback");
        Sim(child, addr)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn layout_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ttyhmi-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn watch_prints_json_lines_and_a_summary() {
    let sim = Sim::start();
    let layout = layout_file(
        "watch.yaml",
        &format!(
            "connections:\n  plc1: {{ modbus_tcp: {{ host: 127.0.0.1, port: {} }}, poll: 100ms }}\ntags:\n  COUNT: {{ source: plc1, holding: 100 }}\n  NAME: {{ source: plc1, holding: 10, type: string, length: 20 }}\n  F32: {{ source: plc1, holding: 210, type: f32 }}\n",
            sim.1.port()
        ),
    );
    let out = exe().args(["watch"]).arg(&layout).args(["--json", "--for", "1500ms"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect();
    let of = |tag: &str| lines.iter().filter(|v| v["tag"] == tag).collect::<Vec<_>>();
    assert!(of("COUNT").len() >= 3, "the counter changes every 100 ms: {text}");
    assert!(of("COUNT").iter().all(|v| v["quality"] == "good" && v["recv_ts"].as_str().unwrap().ends_with('Z')));
    assert_eq!(of("NAME").len(), 1, "an unchanging value is printed once: {text}");
    assert_eq!(of("NAME")[0]["value"], "BOILER HOUSE SIM");
    let summary = lines.last().unwrap();
    assert_eq!(summary["summary"], "plc1");
    assert!(summary["requests"].as_u64().unwrap() >= 10, "{summary}");
    assert_eq!(summary["errors"], 0);
    assert!(summary["response_p99_us"].as_f64().unwrap() > 0.0);
    assert!(summary["scans_per_second"].as_f64().unwrap() > 1.0);
}

#[test]
fn watch_reports_a_device_that_is_not_there() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let layout = layout_file(
        "absent.yaml",
        &format!(
            "connections:\n  plc1: {{ modbus_tcp: {{ host: 127.0.0.1, port: {port} }} }}\ntags:\n  A: {{ source: plc1, holding: 0 }}\n"
        ),
    );
    let out = exe().args(["watch"]).arg(&layout).args(["--for", "700ms"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(" A ---- bad: not connected"), "{text}");
    assert!(text.contains("summary plc1: 0 requests"), "{text}");
}

#[test]
fn bad_input_is_explained_and_fails() {
    let out = exe().args(["run", "no/such/layout.yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/layout.yaml") && err.contains("cannot read the layout file"), "{err}");
    assert!(err.contains("nothing was started"), "{err}");

    let out =
        exe().args(["watch", "tests/fixtures/invalid/all_problems_at_once.yaml", "--for", "1s"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("5 problems"), "{err}");

    let out = exe().args(["watch", "layouts/demo.yaml", "--for", "soon"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "clap rejects a bad duration");
    assert!(String::from_utf8_lossy(&out.stderr).contains("500ms"));
}

#[test]
fn serial_mistakes_are_explained_and_fail() {
    // A serial port that is not there: nothing is started.
    let out =
        exe().args(["sim", "--modbus-port", "0", "--opcua-port", "0", "--rtu", "/dev/no-such-tty"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot open serial port /dev/no-such-tty"), "{err}");
    // Units outside 1..247, settings without --rtu, an unknown parity: refused by the parser.
    for (args, says) in [
        (&["--rtu", "/dev/null", "--rtu-units", "0,1"][..], "0 is broadcast"),
        (&["--rtu", "/dev/null", "--rtu-units", "5-2"][..], "lower unit first"),
        (&["--rtu", "/dev/null", "--parity", "maybe"][..], "none, even or odd"),
        (&["--baud", "9600"][..], "--rtu"),
    ] {
        let out = exe().arg("sim").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn ports_lists_serial_ports_or_says_there_are_none() {
    let out = exe().arg("ports").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("/sys/class/tty is missing") {
        assert_eq!(out.status.code(), Some(1), "a system without sysfs: said, and failed");
        return;
    }
    assert!(out.status.success(), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.trim().is_empty(), "ports prints something");
    for line in text.lines() {
        assert!(line.starts_with('/') || line.starts_with("no serial ports found"), "{line}");
    }
}
