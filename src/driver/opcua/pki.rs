//! The client's PKI folder: `own/` (the console's certificate, made on first use), `private/`,
//! `trusted/` (server certificates the operator trusts) and `rejected/` (server certificates
//! seen but not trusted — never trusted silently).

use std::path::{Path, PathBuf};

/// What to do about an untrusted server certificate, naming the files.
pub fn untrusted_hint(pki: &Path) -> String {
    let rejected = pki.join("rejected");
    let newest = newest_file(&rejected);
    match newest {
        Some(f) => format!(
            "the server's certificate is not trusted; it was saved as {} — check it, then run `ttyhmi trust \"{}\"` (or move it into {})",
            f.display(),
            f.display(),
            pki.join("trusted").display()
        ),
        None => format!(
            "the server's certificate is not trusted (or the server does not trust ours: the console's certificate is {})",
            pki.join("own").join("cert.der").display()
        ),
    }
}

fn newest_file(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max_by_key(|(t, _)| *t)
        .map(|(_, p)| p)
}

/// Moves a rejected certificate into `trusted/`. `file` may be a path or a name in `rejected/`.
pub fn trust(pki: &Path, file: &Path) -> Result<PathBuf, String> {
    let src = if file.exists() { file.to_path_buf() } else { pki.join("rejected").join(file) };
    if !src.is_file() {
        return Err(format!(
            "{} is not a certificate file (rejected certificates are in {})",
            file.display(),
            pki.join("rejected").display()
        ));
    }
    let dst = install_trusted(pki, &src)?;
    if src.starts_with(pki.join("rejected")) {
        let _ = std::fs::remove_file(&src);
    }
    Ok(dst)
}

/// Certificates in `rejected/`, newest first.
pub fn rejected(pki: &Path) -> Vec<PathBuf> {
    let mut v: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(pki.join("rejected"))
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
    let bytes = std::fs::read(cert_der).map_err(|e| format!("cannot read {}: {e}", cert_der.display()))?;
    let x509 = opcua::crypto::X509::from_der(&bytes)
        .map_err(|e| format!("{} is not a certificate: {e}", cert_der.display()))?;
    let trusted = pki.join("trusted");
    std::fs::create_dir_all(&trusted).map_err(|e| format!("cannot create {}: {e}", trusted.display()))?;
    let dst = trusted.join(opcua::crypto::CertificateStore::cert_file_name(&x509));
    std::fs::write(&dst, &bytes).map_err(|e| format!("cannot write {}: {e}", dst.display()))?;
    Ok(dst)
}
