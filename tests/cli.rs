//! The command line as a user runs it: `ttyhmi sim` serves, `ttyhmi watch` polls it and prints
//! JSON lines and a summary, and bad input gets a clear message and a failing exit code.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
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
        let mut child =
            exe().args(["sim", "--modbus-port", "0", "--opcua-port", "0"]).stdout(Stdio::piped()).spawn().unwrap();
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
    // Issue 12 A.5: it said only `bad: not connected` and `0 errors`. Why, and where.
    let refused = format!("connection refused (127.0.0.1:{port})");
    assert!(text.contains(&format!(" A ---- bad: not connected: {refused}")), "{text}");
    assert!(text.contains("summary plc1: 0 requests"), "{text}");
    assert!(text.contains("connection down ") && text.contains(&format!("(last: {refused})")), "{text}");
    let out = exe().args(["watch"]).arg(&layout).args(["--json", "--for", "700ms"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(lines[0]["reason"], format!("not connected: {refused}"), "{text}");
    let summary = lines.last().expect("a summary");
    assert!(summary["connection_down"].as_u64().is_some_and(|n| n >= 1), "{summary}");
    assert_eq!(summary["reason"].as_str(), Some(refused.as_str()));
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

/// Runs `cmd` (stdin closed) and returns its output; kills it and fails the test when it has not
/// finished after half a minute (a command blocked on a FIFO would never finish).
fn output_or_kill(mut cmd: Command, what: &str) -> std::process::Output {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} hangs");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A folder of its own for the users-file tests, with a config folder of its own so the
/// per-user file of whoever runs the tests plays no part.
fn users_dir(name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("ttyhmi-cli-users-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Issue 12, item 21: `whoami` and `passwd` given a FIFO or a device say so and stop.
#[test]
fn a_fifo_or_a_device_as_users_file_does_not_hang_whoami_or_passwd() {
    let dir = users_dir("fifo");
    let fifo = dir.join("users.yaml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    for path in [fifo.as_path(), std::path::Path::new("/dev/zero")] {
        let mut c = exe();
        c.env("XDG_CONFIG_HOME", dir.join("config")).arg("whoami").arg("--users").arg(path);
        let out = output_or_kill(c, "whoami --users FIFO");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(": viewer") && text.contains("not a regular file"), "{text}");

        let mut c = exe();
        c.env("XDG_CONFIG_HOME", dir.join("config")).args(["passwd", "alice", "--users"]).arg(path);
        let out = output_or_kill(c, "passwd --users FIFO");
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not a regular file"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The arguments of one `--help` text that have no help of their own (a `[default: …]` alone is
/// no help), and the subcommands it lists.
fn undocumented(help: &str) -> (Vec<String>, Vec<String>) {
    let (mut missing, mut commands) = (Vec::new(), Vec::new());
    let mut section = "";
    // The entry being read: its spec and its help so far.
    let mut entry: Option<(String, String)> = None;
    let mut finish = |entry: &mut Option<(String, String)>, section: &str| {
        if let Some((spec, text)) = entry.take() {
            let mut text = text;
            for bracket in ["[default: ", "[possible values: ", "[aliases: ", "[env: "] {
                while let Some(i) = text.find(bracket) {
                    let end = text[i..].find(']').map_or(text.len(), |e| i + e + 1);
                    text.replace_range(i..end, "");
                }
            }
            if text.trim().is_empty() {
                missing.push(format!("{section}: {spec}"));
            }
            if section == "Commands" && spec != "help" {
                commands.push(spec);
            }
        }
    };
    for line in help.lines() {
        if let Some(name) = line.strip_suffix(':').filter(|l| !l.starts_with(' ') && !l.contains(' ')) {
            finish(&mut entry, section);
            section = name;
            continue;
        }
        if !["Arguments", "Options", "Commands"].contains(&section) {
            continue;
        }
        let body = line.trim_start();
        let indent = line.len() - body.len();
        if body.is_empty() {
            continue;
        }
        let starts_entry = (2..=6).contains(&indent)
            && (section == "Commands" || body.starts_with('-') || body.starts_with('<') || body.starts_with('['));
        if starts_entry {
            finish(&mut entry, section);
            let (spec, text) = body.split_once("  ").unwrap_or((body, ""));
            entry = Some((spec.trim().to_string(), text.trim().to_string()));
        } else if let Some((_, text)) = entry.as_mut() {
            text.push(' ');
            text.push_str(body);
        }
    }
    finish(&mut entry, section);
    (missing, commands)
}

#[test]
fn undocumented_finds_arguments_without_help() {
    let help = "Walk\n\nUsage: x\n\nArguments:\n  <ENDPOINT>  The server\n  [PATH]  \n\nOptions:\n      --depth <DEPTH>  Levels [default: 6]\n      --password-file <PASSWORD_FILE>  \n  -n, --lines <LINES>  [default: 20]\n  -h, --help  Print help\n";
    let (missing, commands) = undocumented(help);
    assert_eq!(
        missing,
        ["Arguments: [PATH]", "Options: --password-file <PASSWORD_FILE>", "Options: -n, --lines <LINES>"]
    );
    assert!(commands.is_empty());
    // Help on the lines below the argument (clap's layout when some help is long).
    let long =
        "Options:\n      --rtu <PATH>\n          Also serve RTU\n\n      --baud <BAUD>\n          [default: 19200]\n";
    assert_eq!(undocumented(long).0, ["Options: --baud <BAUD>"]);
    let top = "Commands:\n  run     Run the console\n  schema  \n  help    Print this message\n";
    assert_eq!(
        undocumented(top),
        (vec!["Commands: schema".to_string()], vec!["run".to_string(), "schema".to_string()])
    );
}

/// Issue 12, item 10: every option and argument of every subcommand says what it is for.
#[test]
fn every_argument_of_every_command_has_help() {
    let mut missing = Vec::new();
    let mut walked = Vec::new();
    let mut queue: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(path) = queue.pop() {
        let out = exe().args(&path).arg("--help").output().unwrap();
        assert!(out.status.success(), "{path:?}: {}", String::from_utf8_lossy(&out.stderr));
        let (m, commands) = undocumented(&String::from_utf8(out.stdout).unwrap());
        missing.extend(m.into_iter().map(|m| format!("ttyhmi {}: {m}", path.join(" "))));
        for c in commands {
            queue.push(path.iter().cloned().chain([c]).collect());
        }
        walked.push(path.join(" "));
    }
    for sub in [
        "run",
        "passwd",
        "whoami",
        "audit verify",
        "audit tail",
        "sim",
        "browse",
        "trust",
        "serve",
        "attach",
        "sessions",
    ] {
        assert!(walked.iter().any(|w| w == sub), "the walk missed `{sub}`: {walked:?}");
    }
    assert!(missing.is_empty(), "arguments without help:\n{}", missing.join("\n"));
}

fn is_root() -> bool {
    nix::unistd::getuid().is_root()
}

fn me() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid()).unwrap().unwrap().name
}

/// `ttyhmi ARGS` with the config folder of `dir` (so only the per-user file the test writes
/// counts), stdin closed, killed if it hangs.
fn run_in(dir: &std::path::Path, args: &[&str], users: &std::path::Path) -> (i32, String, String) {
    let mut c = exe();
    c.env("XDG_CONFIG_HOME", dir.join("config")).args(args).arg("--users").arg(users);
    let out = output_or_kill(c, &format!("{args:?}"));
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

/// Issue 12, items 10 and 16: `whoami` says where the role came from and, for a viewer, how to
/// get one.
#[test]
fn whoami_says_where_the_role_comes_from_and_how_to_get_one() {
    if !is_root() {
        eprintln!("skipped: a users file that gives roles must be owned by root");
        return;
    }
    let dir = users_dir("whoami");
    let file = dir.join("users.yaml");
    let me = me();
    std::fs::write(&file, "default_role: viewer\n").unwrap();
    let (code, out, _) = run_in(&dir, &["whoami"], &file);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!(
            "{me}: viewer (default_role of users file {f})\nto get a role: ask an administrator to run `sudo ttyhmi \
             passwd {me} --role operator --users {f}`\n",
            f = file.display()
        )
    );

    std::fs::write(&file, format!("users:\n  {me}: {{ role: engineer }}\n")).unwrap();
    let (_, out, _) = run_in(&dir, &["whoami"], &file);
    assert_eq!(out, format!("{me}: engineer (users file {})\n", file.display()));

    // The per-user file lowers the role, and whoami says so.
    let own = dir.join("config/ttyhmi/users.yaml");
    std::fs::create_dir_all(own.parent().unwrap()).unwrap();
    std::fs::write(&own, format!("users:\n  {me}: {{ role: viewer }}\n")).unwrap();
    let (_, out, _) = run_in(&dir, &["whoami"], &file);
    assert!(
        out.contains(&format!(
            "users file {} gives engineer; your own users file {} lowers it",
            file.display(),
            own.display()
        )),
        "{out}"
    );
    assert!(out.contains("to get a role: your own users file"), "{out}");

    // A file anyone may write: refused, and the fix is named.
    std::fs::remove_file(&own).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let (_, out, _) = run_in(&dir, &["whoami"], &file);
    assert!(out.contains("is writable by others (mode 0666): everyone is a viewer"), "{out}");
    assert!(
        out.contains(&format!("to get a role: ask an administrator to run `sudo chmod go-w {}`", file.display())),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12, item 10: `passwd --role` sets a role (here without a PIN), showing it before and
/// after, and a viewer is told how to get a role.
#[test]
fn passwd_sets_a_role_and_shows_it_before_and_after() {
    let dir = users_dir("passwd-role");
    let file = dir.join("etc/users.yaml");
    let f = file.display();
    let (code, out, err) = run_in(&dir, &["passwd", "alice", "--role", "operator", "--role-only"], &file);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(&format!("alice: viewer in {f} (the file does not exist yet)\nalice: now operator (was viewer); PIN unchanged in {f}\n")), "{out}");
    assert_eq!(ttyhmi::auth::load(&file).unwrap().role_of("alice"), ttyhmi::auth::Role::Operator);

    let (_, out, _) = run_in(&dir, &["passwd", "alice", "--role", "operator", "--role-only"], &file);
    assert!(
        out.starts_with(&format!("alice: operator in {f} (its entry)\nalice: still operator; PIN unchanged")),
        "{out}"
    );

    let (_, out, _) = run_in(&dir, &["passwd", "bob", "--role", "viewer", "--role-only"], &file);
    assert!(
        out.contains(&format!("bob is a viewer and cannot write: give a role with `sudo ttyhmi passwd bob --role operator --users {f} --role-only`")),
        "{out}"
    );
    if is_root() {
        assert!(!out.contains("note:"), "a root-owned file needs no note: {out}");
    }

    let (code, _, err) = run_in(&dir, &["passwd", "alice", "--role-only"], &file);
    assert_eq!(code, 2, "--role-only needs --role: {err}");
    let (code, _, err) = run_in(&dir, &["passwd", "alice", "--role", "boss"], &file);
    assert_eq!(code, 2);
    assert!(err.contains("unknown role `boss` (allowed roles: viewer, operator, engineer, admin)"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12, item 10: `passwd` by an account that cannot change the file fails at once, saying
/// why and what an administrator runs, without asking for a PIN.
#[test]
fn passwd_by_an_account_that_cannot_change_the_file_fails_before_asking() {
    if !is_root() {
        eprintln!("skipped: running as another account needs root");
        return;
    }
    let dir = users_dir("passwd-other");
    let file = dir.join("users.yaml");
    std::fs::write(&file, "users: {}\n").unwrap();
    // A state folder of its own (the log file goes there).
    std::fs::create_dir_all(dir.join("state")).unwrap();
    std::os::unix::fs::chown(dir.join("state"), Some(4242), Some(4242)).unwrap();
    let as_other = |args: &[&str]| as_another_account(&dir, &dir.join("state"), args);
    let f = file.to_str().unwrap();
    let out = as_other(&["passwd", "alice", "--role", "operator", "--users", f]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing asked, nothing said: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        format!(
            "ttyhmi: you cannot change users file {f}: it belongs to uid 0 (root); an administrator can: `sudo ttyhmi \
             passwd alice --role operator --users {f}`\n"
        )
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "users: {}\n", "unchanged");

    // The default file, /etc/ttyhmi/users.yaml: root's, whether it exists or not.
    let out = as_other(&["passwd", "alice"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("ttyhmi: you cannot change users file /etc/ttyhmi/users.yaml: "), "{err}");
    assert!(err.ends_with("an administrator can: `sudo ttyhmi passwd alice`\n"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A state folder this account cannot write costs the log, not the command (it was a panic,
/// exit 101, in the log's set-up).
#[test]
fn an_unwritable_state_folder_does_not_stop_a_command() {
    if !is_root() {
        eprintln!("skipped: running as another account needs root");
        return;
    }
    let dir = users_dir("state-unwritable");
    let state = dir.join("state");
    std::fs::create_dir_all(state.join("ttyhmi")).unwrap();
    std::fs::set_permissions(state.join("ttyhmi"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = as_another_account(&dir, &state, &["check", "layouts/demo.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `ttyhmi ARGS` as uid 4242 (needs root), its config folder in `dir`, its state folder `state`.
fn as_another_account(dir: &std::path::Path, state: &std::path::Path, args: &[&str]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut c = exe();
    c.uid(4242).gid(4242).env("XDG_CONFIG_HOME", dir.join("config")).env("XDG_STATE_HOME", state);
    c.args(args);
    output_or_kill(c, &format!("{args:?} as uid 4242"))
}

/// `ttyhmi ARGS`: whether it succeeded, and its output (both streams).
fn run_text(args: &[&str]) -> (bool, String) {
    let out = exe().args(args).output().expect("run ttyhmi");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn completions_and_the_manual_page_cover_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let (ok, text) = run_text(&["completions", shell]);
        assert!(ok && text.contains("gateway") && text.contains("serve"), "{shell}: {text}");
    }
    let (ok, text) = run_text(&["completions", "tcsh"]);
    assert!(!ok && text.contains("tcsh"), "an unknown shell is refused, named: {text}");
    let (ok, man) = run_text(&["man"]);
    assert!(ok && man.contains(".TH ttyhmi"), "{man}");
    for sub in
        ["RUN", "SERVE", "ATTACH", "GATEWAY", "KEY", "DEMO", "CHECK", "WATCH", "COMPLETIONS", "MAN", "AUDIT VERIFY"]
    {
        assert!(man.contains(&format!(".SH \"TTYHMI {sub}\"")), "no section for {sub}");
    }
    assert!(!man.contains("ttyhmi\\-run(1)"), "no references to pages that do not exist");
    assert!(man.contains(".SS Examples\n.nf\nttyhmi gateway /etc/ttyhmi/"), "examples are preformatted");
    assert!(man.contains("consoles"), "the gateway's options are in it");
}

/// The manual page and completions the package installs are committed (cargo-deb takes files);
/// they must be what the binary prints. `TTYHMI_BLESS=1 cargo test --test cli packaged` writes
/// them again.
#[test]
fn the_packaged_manual_page_and_completions_are_current() {
    let files: [(&str, &[&str]); 4] = [
        ("assets/man/ttyhmi.1", &["man"]),
        ("assets/completions/ttyhmi.bash", &["completions", "bash"]),
        ("assets/completions/_ttyhmi", &["completions", "zsh"]),
        ("assets/completions/ttyhmi.fish", &["completions", "fish"]),
    ];
    let bless = std::env::var_os("TTYHMI_BLESS").is_some();
    let mut stale = Vec::new();
    for (file, args) in files {
        let out = exe().args(args).output().expect("run ttyhmi");
        assert!(out.status.success(), "ttyhmi {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &out.stdout).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&out.stdout[..]) {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "{stale:?} differ from what `ttyhmi` prints now: run `TTYHMI_BLESS=1 cargo test --test cli packaged` and commit them"
    );
}
