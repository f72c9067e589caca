//! Whether the users file may be believed, like sshd's StrictModes.
//!
//! The file is trusted only when
//! - it is a regular file owned by root or by the invoking user, not writable by group or others;
//! - its folder is owned by root or by the file's owner, not writable by group or others;
//! - every folder above is owned by root or by the file's owner and not writable by group or
//!   others, unless it has the sticky bit (like `/tmp`: nobody else can rename entries there).
//!
//! Symbolic links are followed: the real file and its real folders are checked, and the folder
//! holding the link as well.

use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::AuthError;
use super::users_file::{UsersFile, parse, read_text};

/// Opens, checks and parses the users file at `path` for the account with uid `invoking_uid`.
/// [`AuthError::Untrusted`] says why the file is not trusted.
pub fn load_trusted(path: &Path, invoking_uid: u32) -> Result<UsersFile, AuthError> {
    let real = std::fs::canonicalize(path).map_err(|e| AuthError::read(path, &e))?;
    let file = File::open(&real).map_err(|e| AuthError::read(path, &e))?;
    // The checks are made on the open file, so the file read is the file checked.
    let meta = file.metadata().map_err(|e| AuthError::read(path, &e))?;
    check_file(path, &meta, invoking_uid)?;
    check_folders(path, &real, meta.uid())?;
    let text = read_text(file, path)?;
    parse(&text, path)
}

/// Only the trust checks of [`load_trusted`].
pub fn check_trust(path: &Path, invoking_uid: u32) -> Result<(), AuthError> {
    let real = std::fs::canonicalize(path).map_err(|e| AuthError::read(path, &e))?;
    let meta = std::fs::metadata(&real).map_err(|e| AuthError::read(path, &e))?;
    check_file(path, &meta, invoking_uid)?;
    check_folders(path, &real, meta.uid())
}

fn untrusted(path: &Path, reason: String) -> AuthError {
    AuthError::Untrusted { path: path.to_path_buf(), reason }
}

/// "others" when others may write, "its group" when only the group may, none when neither.
pub(crate) fn writable_by(mode: u32) -> Option<&'static str> {
    if mode & 0o002 != 0 {
        Some("others")
    } else if mode & 0o020 != 0 {
        Some("its group")
    } else {
        None
    }
}

fn uid_text(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => format!("uid {uid} ({})", u.name),
        _ => format!("uid {uid}"),
    }
}

fn check_file(path: &Path, meta: &Metadata, me: u32) -> Result<(), AuthError> {
    let shown = path.display();
    if !meta.is_file() {
        return Err(untrusted(path, format!("users file {shown} is not a regular file")));
    }
    let mode = meta.mode() & 0o7777;
    if let Some(who) = writable_by(mode) {
        return Err(untrusted(path, format!("users file {shown} is writable by {who} (mode {mode:04o})")));
    }
    let owner = meta.uid();
    if owner != 0 && owner != me {
        return Err(untrusted(
            path,
            format!(
                "users file {shown} is owned by {}, who is neither root nor you ({})",
                uid_text(owner),
                uid_text(me)
            ),
        ));
    }
    Ok(())
}

fn check_folders(path: &Path, real: &Path, owner: u32) -> Result<(), AuthError> {
    // The folder holding the name that was given (it may hold a link), then the real folders.
    let given_parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    check_folder(path, given_parent, owner, false)?;
    let mut sticky_ok = false;
    for dir in real.ancestors().skip(1) {
        check_folder(path, dir, owner, sticky_ok)?;
        sticky_ok = true;
    }
    Ok(())
}

fn check_folder(path: &Path, dir: &Path, owner: u32, sticky_ok: bool) -> Result<(), AuthError> {
    let meta = std::fs::metadata(dir).map_err(|e| AuthError::read(path, &e))?;
    let (shown, dir_shown) = (path.display(), dir.display());
    let mode = meta.mode() & 0o7777;
    let sticky = mode & 0o1000 != 0;
    if let Some(who) = writable_by(mode)
        && !(sticky_ok && sticky)
    {
        return Err(untrusted(
            path,
            format!("users file {shown} is in folder {dir_shown}, which is writable by {who} (mode {mode:04o})"),
        ));
    }
    let dir_owner = meta.uid();
    if dir_owner != 0 && dir_owner != owner {
        return Err(untrusted(
            path,
            format!(
                "users file {shown} is in folder {dir_shown}, which is owned by {}, who is neither root nor the \
                 file's owner ({})",
                uid_text(dir_owner),
                uid_text(owner)
            ),
        ));
    }
    Ok(())
}
