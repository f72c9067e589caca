//! The lockouts file: the plant's PIN lockouts ([`Lockouts`]) across a restart. It lives in the
//! server's state folder, which belongs to the account the server runs as; it is replaced whole
//! (written beside, synced, renamed over) so a crash leaves the old file or the new one, never
//! half of one.

use std::fs::DirBuilder;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use crate::auth::Lockouts;

/// A lockouts file is a few hundred bytes per user locked out; anything larger is not one.
const MAX_LOCKOUTS_BYTES: u64 = 1 << 20;

/// What the start-up found in the lockouts file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Loaded {
    pub lockouts: Lockouts,
    /// Said on screen (as a problem) when a session starts: the file could not be read, or
    /// parts of it were skipped.
    pub note: Option<String>,
}

/// Reads the lockouts at `path` as of `now`. A missing file holds no lockouts. A file that
/// cannot be read or makes no sense is said in the log and on screen, and the plant starts
/// without lockouts (see the README, "PIN lockouts": only the server's account can write the
/// file, and it could as well delete it; refusing every write would stop the operators of a
/// plant over a damaged file).
pub fn load(path: &Path, now: SystemTime) -> Loaded {
    let text = match crate::files::read_regular(path, MAX_LOCKOUTS_BYTES) {
        Ok(t) => t,
        Err(crate::files::FileError::Io(e)) if e.kind() == io::ErrorKind::NotFound => return Loaded::default(),
        Err(e) => return not_read(path, &e.to_string()),
    };
    match Lockouts::from_json(&text, now) {
        Ok((lockouts, skipped)) => {
            for why in &skipped {
                tracing::warn!("PIN lockouts {}: skipped {why}", path.display());
            }
            let users = lockouts.users(now).len();
            tracing::info!("PIN lockouts {}: {users} user(s) with wrong PINs counted or locked", path.display());
            let note = (!skipped.is_empty()).then(|| {
                format!(
                    "PIN lockouts {}: {} damaged entr{} skipped; the rest restored (see the log)",
                    path.display(),
                    skipped.len(),
                    if skipped.len() == 1 { "y" } else { "ies" }
                )
            });
            Loaded { lockouts, note }
        }
        Err(why) => not_read(path, &why),
    }
}

fn not_read(path: &Path, why: &str) -> Loaded {
    let why = crate::sanitize::clean(why);
    tracing::error!("PIN lockouts {}: not restored, every count starts at zero: {why}", path.display());
    let note = format!(
        "PIN lockouts not restored from {} ({why}); every count starts at zero: check the file, it is replaced \
         at the next wrong PIN",
        path.display()
    );
    Loaded { lockouts: Lockouts::default(), note: Some(note) }
}

/// Replaces the file at `path` with `text`: written to a new file beside it (mode 0600), synced,
/// renamed over it, and the folder synced. The folder is made (0700) if missing.
pub fn save(path: &Path, text: &str) -> io::Result<()> {
    let dir = crate::files::folder_of(path);
    let mut b = DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)?;
    crate::files::write_atomic(path, text, 0o600, None)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    struct Dir(std::path::PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let d = std::env::temp_dir().join(format!("ttyhmi-lockouts-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            Dir(d)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn saved_lockouts_load_back_and_a_missing_file_holds_none() {
        let dir = Dir::new("round");
        let path = dir.0.join("state").join("lockouts.json");
        assert_eq!(load(&path, t(0)), Loaded::default());
        let mut l = Lockouts::default();
        for _ in 0..5 {
            l.record("alice", false, t(0));
        }
        l.record("bob", false, t(0));
        save(&path, &l.to_json(t(0))).expect("saved");
        let loaded = load(&path, t(10));
        assert_eq!(loaded.note, None);
        assert!(loaded.lockouts.check("alice", t(10)).is_err());
        assert_eq!(loaded.lockouts.attempts_left("bob", t(10)), 4);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap_or(Path::new("/"))), 0o700);
        }
        // Saved again: replaced whole, nothing left beside it.
        save(&path, &Lockouts::default().to_json(t(0))).expect("saved");
        assert_eq!(load(&path, t(10)).lockouts, Lockouts::default());
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap_or(Path::new("/")))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(names, ["lockouts.json"]);
    }

    #[test]
    fn a_damaged_or_foreign_file_is_said_and_no_lockout_is_restored() {
        let dir = Dir::new("damaged");
        std::fs::create_dir_all(&dir.0).expect("a folder");
        let path = dir.0.join("lockouts.json");
        for text in [&b"{\"version\":1,\"users\":{\"alice\":"[..], b"\x00\x01", &[b' '; 1 << 21][..]] {
            std::fs::write(&path, text).expect("written");
            let loaded = load(&path, t(0));
            assert_eq!(loaded.lockouts, Lockouts::default());
            let note = loaded.note.expect("said on screen");
            assert!(note.starts_with("PIN lockouts not restored from") && note.contains("lockouts.json"), "{note}");
        }
        let folder = load(&dir.0, t(0)).note.expect("a folder is no lockouts file");
        assert!(folder.contains("not a regular file"), "{folder}");
        std::fs::write(&path, br#"{"version":1,"users":{"a":{"failures":5,"locked_until":"x"},"b":{"failures":1}}}"#)
            .expect("written");
        let loaded = load(&path, t(0));
        assert_eq!(loaded.lockouts.users(t(0)), ["b"]);
        assert!(loaded.note.is_some_and(|n| n.contains("1 damaged entry skipped")));
    }
}
