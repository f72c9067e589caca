//! The client's PKI folder: `own/` (the console's certificate, made on first use), `private/`,
//! `trusted/` (server certificates the operator trusts) and `rejected/` (server certificates
//! seen but not trusted — never trusted silently).
//!
//! async-opcua's certificate store names a certificate file after the certificate itself:
//! `<common name> [<SHA-1 thumbprint>].der`. The messages here find the file of the certificate
//! a server presented by that name, so with several rejected certificates each connection names
//! its own. Everything read from a certificate is text from outside: it goes through
//! [`crate::sanitize::clean`] before it is shown.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use opcua::crypto::{CertificateStore, X509};
use opcua::types::StatusCode;
use sha2::Digest as _;
use x509_cert::der::Decode as _;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::sanitize::clean;

/// Largest certificate file read (certificates are a few KiB; OPC UA allows 32 KiB).
const MAX_CERT_FILE: u64 = 1 << 20;

/// A certificate as a person checks it before trusting it. The texts are as in the certificate
/// (untrusted): show them through [`describe`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertSummary {
    /// The subject, e.g. `CN=PLC 7,O=ACME`.
    pub subject: String,
    /// The DNS names and IP addresses among its subject alternative names.
    pub hosts: Vec<String>,
    /// The URIs among them (the application URI first).
    pub uris: Vec<String>,
    pub not_before: Option<SystemTime>,
    pub not_after: Option<SystemTime>,
    /// SHA-1 of the DER form (OPC UA's thumbprint), lower-case hex without separators.
    pub sha1: String,
    /// SHA-256 of the DER form, lower-case hex without separators.
    pub sha256: String,
    /// The name of its file in `trusted/` or `rejected/`.
    pub file_name: String,
}

/// Reads a DER certificate.
pub fn summary(der: &[u8]) -> Result<CertSummary, String> {
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| format!("not a DER certificate: {e}"))?;
    let ua = X509::from_der(der).map_err(|e| format!("not a certificate: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let (mut hosts, mut uris) = (Vec::new(), Vec::new());
    if let Ok(Some((_, SubjectAltName(names)))) = tbs.get::<SubjectAltName>() {
        for n in names {
            match n {
                GeneralName::DnsName(d) => hosts.push(d.to_string()),
                GeneralName::IpAddress(ip) => hosts.push(ip_text(ip.as_bytes())),
                GeneralName::UniformResourceIdentifier(u) => uris.push(u.to_string()),
                _ => {}
            }
        }
    }
    let time = |t: &x509_cert::time::Time| SystemTime::UNIX_EPOCH.checked_add(t.to_unix_duration());
    Ok(CertSummary {
        subject: tbs.subject.to_string(),
        hosts,
        uris,
        not_before: time(&tbs.validity.not_before),
        not_after: time(&tbs.validity.not_after),
        sha1: ua.thumbprint().as_hex_string().to_ascii_lowercase(),
        sha256: hex(&sha2::Sha256::digest(der)),
        file_name: CertificateStore::cert_file_name(&ua),
    })
}

/// A certificate file (a regular file, size capped) as a summary, with its bytes.
pub fn read_summary(path: &Path) -> Result<(CertSummary, Vec<u8>), String> {
    let bytes = crate::files::read_regular(path, MAX_CERT_FILE)
        .map_err(|e| format!("cannot read {}: {e}", clean(&path.display().to_string())))?;
    let s = summary(&bytes).map_err(|e| format!("{}: {e}", clean(&path.display().to_string())))?;
    Ok((s, bytes))
}

fn ip_text(b: &[u8]) -> String {
    if let Ok(a) = <[u8; 4]>::try_from(b) {
        std::net::Ipv4Addr::from(a).to_string()
    } else if let Ok(a) = <[u8; 16]>::try_from(b) {
        std::net::Ipv6Addr::from(a).to_string()
    } else {
        format!("IP address of {} bytes", b.len())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `AB:CD:…`, as fingerprints are usually shown.
fn fingerprint(hex: &str) -> String {
    let upper = hex.to_ascii_uppercase();
    let pairs: Vec<&str> = upper.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap_or("??")).collect();
    pairs.join(":")
}

/// Whether the certificate is valid at `now`, in words: `valid`, `EXPIRED 3 days ago`,
/// `NOT YET VALID (from …)`.
pub fn validity(s: &CertSummary, now: SystemTime) -> String {
    match (s.not_before, s.not_after) {
        (Some(b), _) if now < b => "NOT YET VALID".into(),
        (_, Some(a)) if now > a => {
            let ago = now.duration_since(a).unwrap_or(Duration::ZERO);
            format!("EXPIRED {} ago", crate::timefmt::age_long(ago))
        }
        (Some(_), Some(_)) => "valid".into(),
        _ => "no validity period".into(),
    }
}

/// The summary as lines for a terminal (two spaces of indent), every text from the certificate
/// made safe.
pub fn describe(s: &CertSummary, now: SystemTime) -> String {
    let list = |v: &[String]| if v.is_empty() { "(none)".to_string() } else { clean(&v.join(", ")).into_owned() };
    let time = |t: Option<SystemTime>| t.map_or("?".to_string(), crate::timefmt::date_time_utc);
    let mut out = String::new();
    let _ = writeln!(out, "  subject:     {}", clean(&s.subject));
    let _ = writeln!(out, "  hosts:       {}", list(&s.hosts));
    let _ = writeln!(out, "  URIs:        {}", list(&s.uris));
    let _ = writeln!(out, "  valid:       {} to {} ({})", time(s.not_before), time(s.not_after), validity(s, now));
    let _ = writeln!(out, "  SHA-1:       {}", fingerprint(&s.sha1));
    let _ = writeln!(out, "  SHA-256:     {}", fingerprint(&s.sha256));
    out
}

/// The host of an `opc.tcp://host:port/path` URL (`[::1]` without brackets).
pub fn endpoint_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

/// `url` with its host replaced by `host`.
fn with_host(url: &str, host: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("opc.tcp", url));
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or("", |(_, p)| p),
        None => authority.find(':').map_or("", |i| &authority[i..]),
    };
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    format!("{scheme}://{host}{port}{path}")
}

/// Why a secure connection failed over a certificate, in words, naming the server's own
/// certificate file (found by its thumbprint) and what to do. `server_cert` is the certificate
/// the server's endpoint presented (DER; empty when unknown).
pub fn certificate_problem(
    pki: &Path,
    status: StatusCode,
    server_cert: &[u8],
    endpoint: &str,
    now: SystemTime,
) -> String {
    let own = pki.join("own").join("cert.der");
    let Ok(s) = summary(server_cert) else {
        return format!(
            "the server's certificate is not trusted (or the server does not trust ours: the console's certificate is {})",
            own.display()
        );
    };
    let short = &s.sha1[..s.sha1.len().min(12)];
    match status {
        StatusCode::BadCertificateHostNameInvalid => host_name_mismatch(&s, endpoint),
        StatusCode::BadCertificateTimeInvalid => format!(
            "the server's certificate (SHA-1 {short}…) is not valid now: valid from {} to {} ({})",
            s.not_before.map_or("?".into(), crate::timefmt::date_time_utc),
            s.not_after.map_or("?".into(), crate::timefmt::date_time_utc),
            validity(&s, now)
        ),
        StatusCode::BadCertificateUriInvalid => format!(
            "the server's certificate (SHA-1 {short}…) is for the application {}, not the one the server says it is",
            clean(s.uris.first().map_or("(none)", String::as_str))
        ),
        _ => {
            let rejected = pki.join("rejected").join(&s.file_name);
            let trusted = pki.join("trusted").join(&s.file_name);
            if rejected.is_file() {
                untrusted_hint(pki, &rejected, &s)
            } else if trusted.is_file() {
                format!(
                    "the server refused the secure channel: it does not trust the console's certificate {} (trust that on the server); the server's own certificate is trusted here",
                    own.display()
                )
            } else {
                format!(
                    "the server's certificate (SHA-1 {}) is not trusted, or the server does not trust ours (the console's certificate is {})",
                    s.sha1,
                    own.display()
                )
            }
        }
    }
}

/// What to do about a server certificate that was saved to `rejected/` as `file`.
pub fn untrusted_hint(pki: &Path, file: &Path, s: &CertSummary) -> String {
    format!(
        "the server's certificate is not trusted; it was saved as {} — check it, then run `ttyhmi trust {}` (or move the file into {})",
        clean(&file.display().to_string()),
        s.sha1,
        pki.join("trusted").display()
    )
}

/// The certificate does not name the endpoint's host: which hosts it names, and the two ways on.
fn host_name_mismatch(s: &CertSummary, endpoint: &str) -> String {
    let host = endpoint_host(endpoint);
    let names = if s.hosts.is_empty() {
        "names no host".to_string()
    } else {
        format!("names the hosts `{}`", clean(&s.hosts.join(", ")))
    };
    let by_name = match s.hosts.first() {
        Some(h) => format!(" (`{}`)", clean(&with_host(endpoint, h))),
        None => String::new(),
    };
    format!(
        "the server's certificate {names}, but the endpoint is `{}`: connect by a name in the certificate{by_name}, or, if this is the right server, add `accept_host_name_mismatch: true` to this connection's `opcua:` (everything else about the certificate is still checked)",
        clean(host)
    )
}

/// The server certificate's own problems apart from its host name, which the layout accepts
/// (`accept_host_name_mismatch`): it must be valid at `now` and be for `application_uri`.
pub fn check_except_host_name(der: &[u8], application_uri: &str, now: SystemTime) -> Result<(), String> {
    let s = summary(der)?;
    let valid = validity(&s, now);
    if valid != "valid" {
        return Err(format!(
            "the server's certificate is not valid now ({valid}); the host name mismatch the layout accepts is not the only problem"
        ));
    }
    let ua = X509::from_der(der).map_err(|e| format!("not a certificate: {e}"))?;
    ua.is_application_uri_valid(application_uri).map_err(|_| {
        format!("the server's certificate is not for the application {} it says it is", clean(application_uri))
    })
}

/// The certificate to trust: `arg` is a file, a file name in `rejected/`, or the start of a
/// rejected certificate's SHA-1 thumbprint (8 hex digits at least, as the messages print it).
pub fn find(pki: &Path, arg: &Path) -> Result<PathBuf, String> {
    if arg.is_file() {
        return Ok(arg.to_path_buf());
    }
    let named = pki.join("rejected").join(arg);
    if named.is_file() {
        return Ok(named);
    }
    let want = arg.to_string_lossy().to_ascii_lowercase();
    if want.len() >= 8 && want.chars().all(|c| c.is_ascii_hexdigit()) {
        let matching: Vec<PathBuf> = rejected(pki)
            .into_iter()
            .filter(|f| read_summary(f).is_ok_and(|(s, _)| s.sha1.starts_with(&want)))
            .collect();
        match matching.as_slice() {
            [one] => return Ok(one.clone()),
            [] => {}
            _ => {
                return Err(format!(
                    "{want} is the start of several rejected certificates' thumbprints: give more of it"
                ));
            }
        }
    }
    Err(format!(
        "{} is neither a certificate file nor the thumbprint of one in {}",
        clean(&arg.display().to_string()),
        pki.join("rejected").display()
    ))
}

/// Moves a certificate into `trusted/` (under the name the certificate store looks for); a
/// file from `rejected/` leaves it.
pub fn trust(pki: &Path, file: &Path) -> Result<PathBuf, String> {
    let dst = install_trusted(pki, file)?;
    if file.starts_with(pki.join("rejected")) {
        let _ = std::fs::remove_file(file);
    }
    Ok(dst)
}

/// Certificates in `rejected/`, newest first.
pub fn rejected(pki: &Path) -> Vec<PathBuf> {
    let mut v: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(pki.join("rejected"))
        .map(|rd| {
            rd.filter_map(|e| e.ok()).filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path()))).collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|e| std::cmp::Reverse(e.0));
    v.into_iter().map(|(_, p)| p).collect()
}

/// Trusts a server certificate given as a DER file (e.g. the simulated plant's own
/// certificate in `ttyhmi demo`): copied into `trusted/` under the name the certificate store
/// looks for.
pub fn install_trusted(pki: &Path, cert_der: &Path) -> Result<PathBuf, String> {
    let (s, bytes) = read_summary(cert_der)?;
    let trusted = pki.join("trusted");
    std::fs::create_dir_all(&trusted).map_err(|e| format!("cannot create {}: {e}", trusted.display()))?;
    let dst = trusted.join(&s.file_name);
    std::fs::write(&dst, &bytes).map_err(|e| format!("cannot write {}: {e}", clean(&dst.display().to_string())))?;
    Ok(dst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opcua::crypto::X509Data;

    /// A certificate made here: `cn`, the given alternative names (the first an application URI),
    /// valid for `days` from now.
    fn certificate(cn: &str, names: &[&str], days: u32) -> Vec<u8> {
        let (uri, hosts) = names.split_first().expect("an application URI");
        let hosts = hosts.iter().map(|h| h.to_string()).collect();
        let alt = X509Data::alt_host_names(uri, Some(hosts), false, false, false);
        let data = X509Data {
            key_size: 2048,
            common_name: cn.into(),
            organization: "ttyhmi tests".into(),
            organizational_unit: "pki".into(),
            country: "IE".into(),
            state: "Dublin".into(),
            alt_host_names: alt,
            certificate_duration_days: days,
        };
        let (cert, _) = X509::cert_and_pkey(&data).expect("a certificate");
        cert.to_der().expect("DER")
    }

    #[test]
    fn a_certificate_reads_as_subject_hosts_uris_validity_and_fingerprints() {
        let der = certificate("PLC 7", &["urn:acme:plc7", "vm", "192.0.2.2", "::1"], 365);
        let s = summary(&der).unwrap();
        assert!(s.subject.contains("CN=PLC 7"), "{}", s.subject);
        assert_eq!(s.hosts, ["vm", "192.0.2.2", "::1"]);
        assert_eq!(s.uris, ["urn:acme:plc7"]);
        assert_eq!(s.sha256, hex(&sha2::Sha256::digest(&der)));
        assert_eq!(s.sha1.len(), 40);
        // As async-opcua names it (its common name comes with `CN=`).
        assert_eq!(s.file_name, format!("CN=PLC 7 [{}].der", s.sha1));
        let now = SystemTime::now();
        assert_eq!(validity(&s, now), "valid");
        let text = describe(&s, now);
        assert!(text.contains("hosts:       vm, 192.0.2.2, ::1"), "{text}");
        assert!(text.contains(&format!("SHA-1:       {}", fingerprint(&s.sha1))), "{text}");
        assert!(text.contains("(valid)"), "{text}");
        assert!(summary(b"not a certificate").is_err());
    }

    #[test]
    fn validity_at_any_time() {
        let t = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let s = CertSummary {
            subject: String::new(),
            hosts: vec![],
            uris: vec![],
            not_before: Some(t(1000)),
            not_after: Some(t(2000)),
            sha1: String::new(),
            sha256: String::new(),
            file_name: String::new(),
        };
        assert_eq!(validity(&s, t(999)), "NOT YET VALID");
        assert_eq!(validity(&s, t(1000)), "valid");
        assert_eq!(validity(&s, t(2000)), "valid");
        assert!(validity(&s, t(2000 + 3 * 86400)).starts_with("EXPIRED 3"), "{}", validity(&s, t(2000 + 3 * 86400)));
        assert_eq!(validity(&CertSummary { not_after: None, ..s }, t(1500)), "no validity period");
    }

    #[test]
    fn texts_from_a_certificate_cannot_reach_a_terminal_raw() {
        let s = CertSummary {
            subject: "CN=\u{1b}[2Jevil\u{202e}".into(),
            hosts: vec!["h\u{7}".into()],
            uris: vec!["urn:\u{9b}x".into()],
            not_before: None,
            not_after: None,
            sha1: "00ff".into(),
            sha256: "ab".into(),
            file_name: String::new(),
        };
        let text = describe(&s, SystemTime::now());
        assert!(!text.chars().any(|c| crate::sanitize::is_unsafe(c) && c != '\n'), "{text:?}");
        assert!(text.contains("CN=\\x1b[2Jevil\\u{202e}"), "{text}");
        assert!(text.contains("SHA-1:       00:FF"), "{text}");
        let m = host_name_mismatch(&s, "opc.tcp://127.0.0.1:4840");
        assert!(!m.chars().any(crate::sanitize::is_unsafe), "{m:?}");
    }

    #[test]
    fn endpoint_hosts() {
        assert_eq!(endpoint_host("opc.tcp://127.0.0.1:4840"), "127.0.0.1");
        assert_eq!(endpoint_host("opc.tcp://plc7.local:4840/UA/Server"), "plc7.local");
        assert_eq!(endpoint_host("opc.tcp://[::1]:4840/"), "::1");
        assert_eq!(endpoint_host("opc.tcp://vm"), "vm");
        assert_eq!(with_host("opc.tcp://127.0.0.1:4840/x", "vm"), "opc.tcp://vm:4840/x");
        assert_eq!(with_host("opc.tcp://[::1]:4840", "vm"), "opc.tcp://vm:4840");
        assert_eq!(with_host("opc.tcp://vm:4840", "::1"), "opc.tcp://[::1]:4840");
    }

    #[test]
    fn a_host_name_mismatch_names_the_hosts_and_both_ways_on() {
        let der = certificate("PLC 7", &["urn:acme:plc7", "vm", "192.0.2.2"], 365);
        let m = certificate_problem(
            Path::new("/nowhere"),
            StatusCode::BadCertificateHostNameInvalid,
            &der,
            "opc.tcp://127.0.0.1:4840",
            SystemTime::now(),
        );
        assert!(m.contains("names the hosts `vm, 192.0.2.2`"), "{m}");
        assert!(m.contains("the endpoint is `127.0.0.1`"), "{m}");
        assert!(m.contains("`opc.tcp://vm:4840`"), "{m}");
        assert!(m.contains("accept_host_name_mismatch: true"), "{m}");
        assert!(!m.contains("not trusted"), "{m}");
    }
}
