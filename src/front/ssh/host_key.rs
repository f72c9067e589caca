//! The server's SSH host key: ed25519, generated once into the state folder (mode 0600) and
//! read from there afterwards. Its fingerprint is printed at start so the first connection can
//! be checked against it.

use std::io::Write;
use std::path::{Path, PathBuf};

use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey};

/// A host key file larger than this is not one.
const MAX_KEY_BYTES: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HostKeyError {
    #[error("host key {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("host key {path} can be read by others (mode {mode:o}): run `chmod 600 {path}`")]
    Exposed { path: PathBuf, mode: u32 },
    #[error("host key {path}: {message}: delete it to have a new one generated, or give another with --host-key")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot create the host key {path}: {message}")]
    Create { path: PathBuf, message: String },
}

/// The key at `path`, or a new one written there when there is none yet. The bool says it is new.
pub fn load_or_create(path: &Path) -> Result<(PrivateKey, bool), HostKeyError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => load(path).map(|k| (k, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path).map(|k| (k, true)),
        Err(e) => Err(HostKeyError::Read { path: path.into(), message: e.to_string() }),
    }
}

/// `SHA256:…`, as `ssh` shows it on a first connection.
pub fn fingerprint(key: &PrivateKey) -> String {
    key.public_key().fingerprint(HashAlg::Sha256).to_string()
}

fn load(path: &Path) -> Result<PrivateKey, HostKeyError> {
    let read = |message: String| HostKeyError::Read { path: path.into(), message };
    let file = crate::files::open_regular(path).map_err(|e| read(e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata().map_err(|e| read(e.to_string()))?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(HostKeyError::Exposed { path: path.into(), mode });
        }
    }
    let bytes = crate::files::read_capped(file, MAX_KEY_BYTES).map_err(|e| read(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| read("it is not an OpenSSH private key (not text)".into()))?;
    PrivateKey::from_openssh(text.trim())
        .map_err(|e| HostKeyError::Invalid { path: path.into(), message: format!("not an OpenSSH private key ({e})") })
}

fn create(path: &Path) -> Result<PrivateKey, HostKeyError> {
    let fail = |message: String| HostKeyError::Create { path: path.into(), message };
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| fail(format!("no random numbers: {e}")))?;
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    let text = key.to_openssh(LineEnding::LF).map_err(|e| fail(e.to_string()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir).map_err(|e| fail(e.to_string()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(path).map_err(|e| fail(e.to_string()))?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| fail(e.to_string()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_private_and_read_back_the_same() {
        let dir = std::env::temp_dir().join(format!("ttyhmi-hostkey-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("state/ssh_host_ed25519_key");
        let (made, new) = load_or_create(&path).expect("made");
        assert!(new);
        let (read, new) = load_or_create(&path).expect("read");
        assert!(!new);
        assert_eq!(fingerprint(&made), fingerprint(&read));
        assert!(fingerprint(&made).starts_with("SHA256:"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("there").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let e = load_or_create(&path).expect_err("exposed").to_string();
            assert!(e.contains("chmod 600"), "{e}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        std::fs::write(&path, "garbage").expect("written");
        let e = load_or_create(&path).expect_err("invalid").to_string();
        assert!(e.contains("not an OpenSSH private key") && e.contains("--host-key"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
