//! Issue 16, item 2: the Debian package. Its systemd units pass `systemd-analyze verify` (where it
//! is installed), every file the package ships exists (or is one of the generated files committed
//! with item 1), the units run the binary where the package puts it, agree with the code (the
//! attach socket's folder, the state folder) and with each other, and the serve unit's own
//! command line starts a console server that SIGTERM stops cleanly.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{BIN, TempDir};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const UNITS: [&str; 2] = ["ttyhmi-serve@.service", "ttyhmi-gateway@.service"];
const SYSUSERS: &str = "packaging/sysusers.d/ttyhmi.conf";
/// Where the package installs the binary, and what the units start.
const INSTALLED_BIN: &str = "/usr/bin/ttyhmi";
/// Generated from the command line (`ttyhmi man`, `ttyhmi completions SHELL`) and committed;
/// `cargo deb` stops when one is missing.
const GENERATED: [&str; 4] = [
    "assets/man/ttyhmi.1",
    "assets/completions/ttyhmi.bash",
    "assets/completions/_ttyhmi",
    "assets/completions/ttyhmi.fish",
];
/// Built by `cargo deb` itself.
const BUILT: &str = "target/release/ttyhmi";

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn unit(name: &str) -> String {
    read(&format!("packaging/systemd/{name}"))
}

/// The values of `key=` in a unit, in order (comments skipped).
fn values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    let prefix = format!("{key}=");
    unit.lines().filter_map(|l| l.trim().strip_prefix(prefix.as_str())).collect()
}

fn value<'a>(unit: &'a str, key: &str) -> &'a str {
    match values(unit, key).as_slice() {
        [one] => one,
        other => panic!("{key}= is set {} times: {other:?}", other.len()),
    }
}

/// `[package.metadata.deb] assets`: (source, destination, mode), read from Cargo.toml.
fn deb_assets(cargo_toml: &str) -> Vec<(String, String, String)> {
    let section = cargo_toml.split("[package.metadata.deb]").nth(1).expect("a [package.metadata.deb] section");
    let section = section.split("\n[").next().unwrap_or(section);
    let list = section.split("assets = [").nth(1).expect("assets = [ in [package.metadata.deb]");
    let list = &list[..list.find("\n]").expect("the end of assets")];
    list.lines()
        .map(str::trim)
        .filter(|l| l.starts_with('['))
        .map(|l| {
            let parts: Vec<&str> = l.split('"').skip(1).step_by(2).collect();
            assert_eq!(parts.len(), 3, "an asset is [source, destination, mode]: {l}");
            (parts[0].to_string(), parts[1].to_string(), parts[2].to_string())
        })
        .collect()
}

/// The installed path of `src` copied to `dest` (a folder when it ends in `/`).
fn installed(src: &str, dest: &str) -> String {
    match dest.strip_suffix('/') {
        Some(dir) => format!("/{dir}/{}", src.rsplit('/').next().unwrap_or(src)),
        None => format!("/{dest}"),
    }
}

/// `systemd-analyze verify` on `text` saved as `dir/name`, with ExecStart on the binary this test
/// built (verify wants it to exist): None when systemd-analyze is not installed, else whether it
/// passed (exit 0 and nothing said: an unknown directive or a value it cannot parse is only a
/// warning) and what it said.
fn verify(dir: &Path, name: &str, text: &str) -> Option<(bool, String)> {
    let path = dir.join(name);
    std::fs::write(&path, text.replace(INSTALLED_BIN, BIN)).expect("write the unit");
    let out = match Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&path).output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        r => r.expect("run systemd-analyze"),
    };
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Some((out.status.success() && said.trim().is_empty(), said))
}

#[test]
fn the_units_pass_systemd_analyze_verify_and_a_misspelled_directive_does_not() {
    let dir = TempDir::new("packaging-verify");
    for name in UNITS {
        let text = unit(name);
        let Some((ok, said)) = verify(&dir.0, name, &text) else {
            println!("systemd-analyze is not installed: the units were not verified");
            return;
        };
        assert!(ok, "{name}: systemd-analyze verify:\n{said}");

        // The check can fail: the same unit with one directive misspelled, or a value systemd
        // cannot parse, does not pass.
        let cases = [
            ("\nProtectClock=", "\nProtectClok=", "Unknown key 'ProtectClok'"),
            ("\nDevicePolicy=closed\n", "\nDevicePolicy=clsed\n", "device policy"),
        ];
        for (good, bad, expected) in cases {
            let broken = text.replacen(good, bad, 1);
            assert_ne!(broken, text, "{name} has {good:?}");
            let (ok, said) = verify(&dir.0, name, &broken).expect("installed a moment ago");
            assert!(!ok, "{name} with {bad:?} passed systemd-analyze verify:\n{said}");
            assert!(said.contains(expected), "{name}: {said}");
        }
    }
}

#[test]
fn every_deb_asset_exists_and_the_units_run_the_installed_binary() {
    let assets = deb_assets(&read("Cargo.toml"));
    let bin = assets.iter().find(|a| a.0 == BUILT).expect("the binary is an asset");
    assert_eq!(installed(&bin.0, &bin.1), INSTALLED_BIN);
    for (src, dest, mode) in &assets {
        assert!(u32::from_str_radix(mode, 8).is_ok_and(|m| m <= 0o755), "{src}: mode {mode}");
        assert!(!dest.starts_with('/'), "{src}: the destination is relative to / ({dest})");
        if src == BUILT || GENERATED.contains(&src.as_str()) {
            continue;
        }
        if let Some((dir, suffix)) = src.split_once("/*") {
            let found = std::fs::read_dir(Path::new(ROOT).join(dir))
                .unwrap_or_else(|e| panic!("{src}: {e}"))
                .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(suffix)))
                .count();
            assert!(found > 0, "{src} matches no file");
        } else {
            assert!(Path::new(ROOT).join(src).is_file(), "{src} is an asset of the package but no file");
        }
    }
    let shipped = |src: &str| assets.iter().find(|a| a.0 == src).map(|a| installed(&a.0, &a.1));
    for g in GENERATED {
        assert!(shipped(g).is_some(), "{g} is not in the package");
    }
    // Everything under packaging/systemd and packaging/sysusers.d is shipped, where systemd looks.
    for (dir, to) in
        [("packaging/systemd", "/usr/lib/systemd/system/"), ("packaging/sysusers.d", "/usr/lib/sysusers.d/")]
    {
        for e in std::fs::read_dir(Path::new(ROOT).join(dir)).expect(dir) {
            let name = e.expect(dir).file_name().to_string_lossy().into_owned();
            let src = format!("{dir}/{name}");
            assert_eq!(shipped(&src), Some(format!("{to}{name}")), "{src}");
        }
    }
    for name in UNITS {
        let u = unit(name);
        let exec = value(&u, "ExecStart");
        assert_eq!(exec.split_whitespace().next(), Some(INSTALLED_BIN), "{name}: ExecStart={exec}");
    }
    // The maintainer scripts are there and can run.
    for script in ["postinst", "prerm", "postrm"] {
        let path = Path::new(ROOT).join("packaging/debian").join(script);
        let mode = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{script}: {e}")).permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{script} is not executable");
        assert!(read(&format!("packaging/debian/{script}")).starts_with("#!/bin/sh\n"), "{script}");
    }
}

#[test]
fn the_units_agree_with_the_code_the_account_and_each_other() {
    let sysusers = read(SYSUSERS);
    let account = sysusers
        .lines()
        .find_map(|l| l.strip_prefix("u "))
        .and_then(|l| l.split_whitespace().next())
        .expect("a u line in sysusers.d");
    // The attach socket is given to group `ttyhmi` (src/front/attach/listen.rs): the account's.
    assert_eq!(account, "ttyhmi");
    assert!(sysusers.contains(" /var/lib/ttyhmi "), "its home is the state folder: {sysusers}");
    for name in UNITS {
        let u = unit(name);
        assert_eq!(value(&u, "User"), account, "{name}");
        assert_eq!(value(&u, "Group"), account, "{name}");
        assert!(values(&u, "PrivateDevices").is_empty(), "{name}: PrivateDevices hides the serial ports");
        assert_eq!(value(&u, "CapabilityBoundingSet"), "", "{name}: no capabilities");
        // ttyhmi's state folder ($XDG_STATE_HOME/ttyhmi, src/paths.rs) is the StateDirectory.
        let env = value(&u, "Environment");
        let state = env.split_whitespace().find_map(|v| v.strip_prefix("XDG_STATE_HOME=")).expect("XDG_STATE_HOME");
        let data = env.split_whitespace().find_map(|v| v.strip_prefix("XDG_DATA_HOME=")).expect("XDG_DATA_HOME");
        assert_eq!(format!("{state}/ttyhmi"), format!("/var/lib/{}", value(&u, "StateDirectory")), "{name}");
        assert_eq!(data, state, "{name}: the PKI folder is in the state folder too");
        // The instance is the layout's name under /etc/ttyhmi.
        let exec = value(&u, "ExecStart");
        assert!(exec.contains(" /etc/ttyhmi/%i.yaml"), "{name}: {exec}");
        assert_eq!(value(&u, "AssertPathExists"), "/etc/ttyhmi/%i.yaml", "{name}");
    }
    // The attach sockets live where the code looks for a packaged server's socket.
    let serve = unit(UNITS[0]);
    let run_dir = Path::new(ttyhmi::front::attach::SYSTEM_SOCKET).parent().expect("a folder");
    assert_eq!(Path::new("/run").join(value(&serve, "RuntimeDirectory")), run_dir);
    let exec = value(&serve, "ExecStart");
    assert!(exec.contains(&format!(" --socket {}/%i.sock ", run_dir.display())), "{exec}");
    // The README's sshd example attaches to that socket.
    let readme = read("README.md");
    assert!(readme.contains(&format!("ForceCommand {INSTALLED_BIN} attach {}/", run_dir.display())), "README");
}

/// The unit's ExecStart, for instance `instance`, with /etc/ttyhmi and /run/ttyhmi moved to `dir`
/// and the installed binary replaced by the one this test built.
fn exec_start(unit: &str, instance: &str, dir: &Path) -> Vec<String> {
    let line = value(unit, "ExecStart")
        .replace("%i", instance)
        .replace("/etc/ttyhmi/", &format!("{}/etc/", dir.display()))
        .replace("/run/ttyhmi/", &format!("{}/run/", dir.display()))
        .replace(INSTALLED_BIN, BIN);
    line.split_whitespace().filter(|w| !w.starts_with('$')).map(String::from).collect()
}

/// `dir/etc` (0755) with the layout `NAME.yaml` and a users file; `dir/run`.
fn etc(dir: &Path, instance: &str, layout: &str) -> PathBuf {
    let etc = dir.join("etc");
    for d in [&etc, &dir.join("run")] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(etc.join(format!("{instance}.yaml")), layout).unwrap();
    std::fs::write(etc.join("users.yaml"), "default_role: viewer\nusers: {}\n").unwrap();
    etc
}

const LAYOUT: &str = "connections:\n  plc1: { modbus_tcp: { host: 127.0.0.1, port: 1, unit: 1 }, poll: 1s }\n\
                      tags:\n  P: { source: plc1, holding: 0, type: u16 }\n\
                      screens:\n  - title: Main\n    panels:\n      - grid: { tags: [P] }\n";

#[test]
fn the_serve_units_command_starts_a_server_that_sigterm_stops() {
    let dir = TempDir::new("packaging-serve");
    etc(&dir.0, "boiler", LAYOUT);
    let args = exec_start(&unit(UNITS[0]), "boiler", &dir.0);
    let socket = dir.0.join("run/boiler.sock");
    let mut child = Command::new(&args[0])
        .args(&args[1..])
        .env("XDG_STATE_HOME", dir.0.join("state"))
        .env("XDG_DATA_HOME", dir.0.join("state"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ttyhmi serve");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut printed = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !printed.contains("Stop it with") && Instant::now() < deadline {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        printed.push_str(&line);
    }
    if !printed.contains(&format!("socket     {}", socket.display())) {
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait");
        panic!("ttyhmi {args:?} did not start:\n{printed}{}", String::from_utf8_lossy(&out.stderr));
    }
    // The server answers on the unit's socket.
    let sessions = Command::new(BIN).arg("sessions").arg(&socket).output().expect("ttyhmi sessions");
    assert!(sessions.status.success(), "{}", String::from_utf8_lossy(&sessions.stderr));

    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let status = child.wait().expect("wait");
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut out, &mut rest);
    assert!(status.success(), "SIGTERM: {status}\n{printed}{rest}");
    assert!(rest.contains("stopped (SIGTERM)"), "{rest}");
}

#[test]
fn the_gateway_units_command_is_accepted() {
    // A layout without a publish block: the gateway refuses it after reading its options, so a
    // flag of the unit that the command line does not know would show as a usage error (exit 2)
    // instead. (A gateway that runs and stops on SIGTERM: tests/sparkplug.rs.)
    let dir = TempDir::new("packaging-gateway");
    etc(&dir.0, "boiler", LAYOUT);
    let args = exec_start(&unit(UNITS[1]), "boiler", &dir.0);
    let out = Command::new(&args[0])
        .args(&args[1..])
        .env("XDG_STATE_HOME", dir.0.join("state"))
        .env("XDG_DATA_HOME", dir.0.join("state"))
        .output()
        .expect("run ttyhmi gateway");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {said}");
    assert!(said.contains("the layout has no publish block"), "{said}");
}
