//! `ttyhmi trust` as a user runs it: rejected server certificates listed with what to check
//! (subject, hosts, URIs, validity, SHA-1 and SHA-256 fingerprints), nothing trusted without a
//! confirmation (a terminal's answer or `--yes`), and nothing from a certificate reaching the
//! terminal raw. The certificates are made by the test.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{BIN, Console, TempDir};
use ttyhmi::driver::opcua::pki;

/// The PKI folder `ttyhmi` uses with its data folder in `dir`.
fn pki_dir(dir: &Path) -> PathBuf {
    dir.join("data").join("ttyhmi").join("pki")
}

/// `ttyhmi ARGS` without a terminal (standard input empty).
fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdin(Stdio::null())
        .output()
        .expect("run ttyhmi")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A certificate as a server would present it, saved in `rejected/` as async-opcua saves it.
fn rejected_certificate(dir: &Path, cn: &str, uri: &str, hosts: &[&str]) -> (PathBuf, pki::CertSummary) {
    let hosts = hosts.iter().map(|h| h.to_string()).collect();
    let data = opcua::crypto::X509Data {
        key_size: 2048,
        common_name: cn.into(),
        organization: "ttyhmi tests".into(),
        organizational_unit: "trust".into(),
        country: "IE".into(),
        state: "Dublin".into(),
        alt_host_names: opcua::crypto::X509Data::alt_host_names(uri, Some(hosts), false, false, false),
        certificate_duration_days: 30,
    };
    let (cert, _) = opcua::crypto::X509::cert_and_pkey(&data).expect("a certificate");
    let der = cert.to_der().expect("DER");
    let s = pki::summary(&der).expect("readable");
    let rejected = pki_dir(dir).join("rejected");
    std::fs::create_dir_all(&rejected).expect("rejected/");
    let file = rejected.join(&s.file_name);
    std::fs::write(&file, &der).expect("write the certificate");
    (file, s)
}

/// `AB:CD:…`
fn colons(hex: &str) -> String {
    hex.to_ascii_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn the_list_shows_what_to_check_and_nothing_raw() {
    let dir = TempDir::new("trust-list");
    let out = run(&dir.0, &["trust"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("no rejected server certificates"), "{}", text(&out));

    let (plain, p) = rejected_certificate(&dir.0, "PLC 7", "urn:acme:plc7", &["vm", "192.0.2.2"]);
    let (hostile, h) = rejected_certificate(&dir.0, "evil\u{1b}[2J\u{202e}txt", "urn:evil:\u{7}x", &["h\u{1b}]0;x"]);
    let out = run(&dir.0, &["trust"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(!t.chars().any(|c| ttyhmi::sanitize::is_unsafe(c) && c != '\n'), "nothing raw from a certificate: {t:?}");
    assert!(t.contains(&plain.display().to_string()), "{t}");
    assert!(t.contains("CN=PLC 7"), "{t}");
    assert!(t.contains("hosts:       vm, 192.0.2.2"), "{t}");
    assert!(t.contains("URIs:        urn:acme:plc7"), "{t}");
    assert!(t.contains("(valid)"), "{t}");
    assert!(t.contains(&format!("SHA-1:       {}", colons(&p.sha1))), "{t}");
    assert!(t.contains(&format!("SHA-256:     {}", colons(&p.sha256))), "{t}");
    // The subject as the certificate library writes it (RFC 4514 escapes ESC as `\1b`), the
    // right-to-left override made visible; the host name's ESC made visible.
    assert!(t.contains("CN=evil\\1b[2J\\u{202e}txt"), "the hostile subject, made visible: {t}");
    assert!(t.contains("hosts:       h\\x1b]0;x"), "{t}");
    assert!(t.contains(&format!("SHA-1:       {}", colons(&h.sha1))), "{t}");
    assert!(hostile.is_file());
}

#[test]
fn without_a_terminal_nothing_is_trusted_unless_yes() {
    let dir = TempDir::new("trust-yes");
    let (file, s) = rejected_certificate(&dir.0, "PLC 7", "urn:acme:plc7", &["vm"]);
    let trusted = pki_dir(&dir.0).join("trusted").join(&s.file_name);

    let out = run(&dir.0, &["trust", &s.sha1[..12]]);
    let t = text(&out);
    assert!(!out.status.success(), "refused: {t}");
    assert!(t.contains("not trusted") && t.contains("--yes"), "{t}");
    assert!(t.contains(&format!("SHA-256:     {}", colons(&s.sha256))), "shown before refusing: {t}");
    assert!(file.is_file() && !trusted.exists(), "nothing moved");

    let out = run(&dir.0, &["trust", "0123456789abcdef"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("neither a certificate file nor the thumbprint"), "{}", text(&out));

    let out = run(&dir.0, &["trust", &s.sha1, "--yes"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("trusted: ") && t.contains(&trusted.display().to_string()), "{t}");
    assert!(trusted.is_file() && !file.exists(), "moved from rejected/ to trusted/");
}

#[test]
fn on_a_terminal_it_asks_and_only_yes_trusts() {
    let dir = TempDir::new("trust-ask");
    let (file, s) = rejected_certificate(&dir.0, "PLC 7", "urn:acme:plc7", &["vm"]);
    let trusted = pki_dir(&dir.0).join("trusted").join(&s.file_name);

    let mut c = Console::start(&dir.0, &["trust", &s.sha1[..10]]);
    let screen = c.wait_for("the question", |t| t.contains("Trust this certificate? [y/N]"));
    assert!(screen.contains(&colons(&s.sha1)), "the fingerprint before the question: {screen}");
    c.send(b"\r");
    assert!(!c.wait_exit().success(), "Enter alone is no");
    assert!(file.is_file() && !trusted.exists());

    let mut c = Console::start(&dir.0, &["trust", &s.sha1[..10]]);
    c.wait_for("the question", |t| t.contains("Trust this certificate? [y/N]"));
    c.send(b"y\r");
    assert!(c.wait_exit().success(), "{}", c.text());
    assert!(c.text().contains("trusted: "), "{}", c.text());
    assert!(trusted.is_file() && !file.exists(), "moved to trusted/");
}
