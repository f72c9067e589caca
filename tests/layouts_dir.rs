//! Every layout in `layouts/` is valid, and the JSON schema in `assets/` matches the code.

use std::path::Path;

use ttyhmi::layout;

#[test]
fn every_layout_in_layouts_is_valid() {
    let mut n = 0;
    let mut problems = Vec::new();
    for entry in std::fs::read_dir("layouts").unwrap() {
        let path = entry.unwrap().path();
        if !matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            continue;
        }
        n += 1;
        if let Err(e) = layout::load(&path) {
            problems.push(e.to_string());
        }
    }
    assert!(n >= 2, "layouts/ should hold the demo and at least one more example");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_command_agrees() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ttyhmi"))
        .args(["check", "layouts/demo.yaml", "layouts/boiler-house.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ttyhmi"))
        .args(["check", "layouts/demo.yaml", "tests/fixtures/invalid/unknown_field.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown_field.yaml:6:37: error: unknown field `holdng`"), "{err}");
    assert!(err.contains("did you mean `holding`?"), "{err}");
}

#[test]
fn the_schema_in_assets_is_current() {
    let path = Path::new("assets/layout.schema.json");
    let current = layout::schema::json_schema();
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    if on_disk != current {
        if std::env::var_os("TTYHMI_UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &current).unwrap();
        } else {
            panic!(
                "assets/layout.schema.json is out of date: run `TTYHMI_UPDATE_SCHEMA=1 cargo test --test layouts_dir` (or `cargo run -- schema > assets/layout.schema.json`)"
            );
        }
    }
    // The schema knows every top-level key the validator accepts.
    let v: serde_json::Value = serde_json::from_str(&current).unwrap();
    let props = v["properties"].as_object().unwrap();
    let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut top = layout::raw::TOP_LEVEL.to_vec();
    top.sort_unstable();
    assert_eq!(keys, top);
}

/// `ttyhmi check ARGS` with its logs in `state`, at most 1 GiB of address space
/// (a check that reads `/dev/zero` into memory fails instead of taking the machine's) and killed
/// after 30 s (a check that hangs fails the test). Returns the exit code and standard error.
#[cfg(unix)]
fn check_with_guard(args: &[&str], state: &std::path::Path) -> (Option<i32>, String) {
    use std::io::Read;
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576; exec \"$0\" check \"$@\"")
        .arg(env!("CARGO_BIN_EXE_ttyhmi"))
        .args(args)
        .env("XDG_STATE_HOME", state)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`ttyhmi check {}` hangs", args.join(" "));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status.code(), err)
}

#[cfg(unix)]
#[test]
fn check_refuses_a_fifo_a_device_and_a_folder_at_once() {
    let dir = std::env::temp_dir().join(format!("ttyhmi-layouts-dir-fifo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("plant.yaml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let fifo = fifo.display().to_string();
    let folder = dir.display().to_string();
    for (file, says) in [
        ("/dev/zero", "this is a device, not a regular file"),
        (fifo.as_str(), "this is a FIFO (named pipe), not a regular file"),
        (folder.as_str(), "this is a folder, not a regular file"),
    ] {
        let (code, err) = check_with_guard(&[file], &dir.join("state"));
        assert_eq!(code, Some(1), "{file}: {err}");
        assert!(err.contains(&format!("{file}: error: cannot read the layout file: {says}")), "{file}: {err}");
        assert!(err.contains("hint: name the layout's .yaml file"), "{file}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn check_prints_text_from_the_file_escaped() {
    let dir = std::env::temp_dir().join(format!("ttyhmi-layouts-dir-escape-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let head = "connections:\n  c: { modbus_tcp: { host: h } }\ntags:\n";
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, format!("{head}  \"A\\e[2J\": {{ source: c, holding: 0 }}\n\"ab\\u202Ecd\": 1\n")).unwrap();
    // A file name can hold an escape sequence too.
    let good = dir.join("good\u{1b}]0;owned\u{7}.yaml");
    std::fs::write(&good, format!("{head}  A: {{ source: c, holding: 0 }}\n")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ttyhmi"))
        .arg("check")
        .args([&bad, &good])
        .env("XDG_STATE_HOME", &dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for text in [&stdout, &stderr] {
        assert!(!text.contains(['\u{1b}', '\u{7}', '\u{202e}']), "{text:?}");
    }
    assert!(stderr.contains("bad.yaml:4:3: error: tag name `A\\x1b[2J` is not valid"), "{stderr}");
    assert!(stderr.contains("bad.yaml:5:1: error: unknown field `ab\\u{202e}cd`"), "{stderr}");
    assert!(stdout.contains("good\\x1b]0;owned\\x07.yaml: ok (1 connections, 1 tags, 1 screens)"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn check_prints_warnings_and_exits_0_when_there_are_only_warnings() {
    let state = std::env::temp_dir().join(format!("ttyhmi-layouts-dir-warn-{}", std::process::id()));
    let check = |files: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ttyhmi"))
            .arg("check")
            .args(files)
            .env("XDG_STATE_HOME", &state)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let warned = "tests/fixtures/warnings/modicon_holding_40100.yaml";
    let (code, stdout, stderr) = check(&[warned, "layouts/demo.yaml"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{warned}:6:31: warning: holding: 40100 is PDU address 40100, which looks like the Modicon number 40100\n  hint: for Modicon 40100 write `modicon: \"40100\"` or `holding: 99`"
        )),
        "{stderr}"
    );
    assert!(stdout.contains(&format!("{warned}: ok (1 connections, 1 tags, 1 screens), 1 warning\n")), "{stdout}");
    let demo = stdout.lines().find(|l| l.starts_with("layouts/demo.yaml: ok (")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(demo.ends_with(" of 512 MiB)"), "the history's worst case and budget, no warnings: {demo}");

    // With errors too: every warning is still shown, and the exit code is 1.
    let (code, _, stderr) = check(&[warned, "tests/fixtures/invalid/modicon_warning_with_errors.yaml"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("modicon_warning_with_errors.yaml:7:31: warning: holding: 40001 is PDU address 40001"),
        "{stderr}"
    );
    assert!(stderr.contains("modicon_warning_with_errors.yaml:8:31: error: address 70000 is out of range"), "{stderr}");
    assert!(stderr.contains(&format!("{warned}:6:31: warning: ")), "{stderr}");
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn check_names_what_a_layout_reads_from_and_publishes_to_mqtt() {
    let state = std::env::temp_dir().join(format!("ttyhmi-layouts-dir-mqtt-{}", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ttyhmi"))
        .args(["check", "layouts/demo.yaml", "layouts/sparkplug-console.yaml", "layouts/boiler-house.yaml"])
        .env("XDG_STATE_HOME", &state)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("\n  publish: `ttyhmi gateway` publishes Sparkplug edge node Plant/Boiler1 to mqtt://127.0.0.1:1883 (2 devices, 72 metrics)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n  site: reads Sparkplug edge node Plant/Boiler1 as host application control-room-1 from mqtt://127.0.0.1:1883 (9 metrics)\n"),
        "{stdout}"
    );
    // A layout without MQTT gets no such line.
    let boiler = stdout.split("layouts/boiler-house.yaml: ok").nth(1).unwrap_or_else(|| panic!("{stdout}"));
    assert!(!boiler.contains("\n  "), "{stdout}");
    let _ = std::fs::remove_dir_all(&state);
}
