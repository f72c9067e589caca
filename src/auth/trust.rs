//! Whether the users file (and files trusted like it: a gateway's consoles file) may be believed,
//! like sshd's StrictModes, and how far.
//!
//! A file is considered at all only when
//! - it is a regular file, not writable by group or others;
//! - its folder is owned by root or by the file's owner, not writable by group or others;
//! - every folder above is owned by root or by the file's owner and not writable by group or
//!   others, unless it has the sticky bit (like `/tmp`: nobody else can rename entries there).
//!
//! Then its owner decides what it may do ([`standing`]):
//! - owned by root, or by the account the console runs as when the person at the console is
//!   someone else (a service account serving many people): its roles and PINs count;
//! - owned by the person: it can lower their role, never raise it (anyone can write a file of
//!   their own that says they are an admin);
//! - owned by anyone else: refused.
//!
//! Symbolic links are followed: the real file and its real folders are checked, and the folder
//! holding the link as well.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::AuthError;
use super::users_file::{UsersFile, open_regular, parse, read_text};

/// How far a users file is believed, from who owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Owned by root, or by the console's service account: its roles and PINs count.
    Grants,
    /// Owned by the person at the console: it can lower their role, not raise it.
    LowersOnly,
}

/// What a file owned by `owner` may do for the person with uid `person_uid` (`None`: no local
/// account, e.g. identified by an SSH key) at a console running as `process_uid`; `None` when it
/// is owned by someone else and must be refused.
///
/// For `ttyhmi run` the person is the process's own account, so only root-owned files grant
/// roles. A console that runs as a service account for other people (`ttyhmi serve`) may also
/// use a file owned by that account, which the people it serves cannot write.
pub fn standing(owner: u32, person_uid: Option<u32>, process_uid: u32) -> Option<Standing> {
    if owner == 0 {
        return Some(Standing::Grants);
    }
    let person_is_process = person_uid == Some(process_uid);
    if owner == process_uid && !person_is_process {
        return Some(Standing::Grants);
    }
    if Some(owner) == person_uid {
        return Some(Standing::LowersOnly);
    }
    None
}

/// What a file trusted like the users file is called in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedFile {
    /// What it is: `users file`.
    pub noun: &'static str,
    /// What only a file owned by root (or the service account) gives: `roles come only from a
    /// users file`.
    pub grants: &'static str,
    /// What runs as the service account: `console`.
    pub program: &'static str,
}

/// The users file, in messages.
pub const USERS_FILE: TrustedFile =
    TrustedFile { noun: "users file", grants: "roles come only from a users file", program: "console" };

/// Opens, checks and parses the users file at `path` for the person with uid `person_uid` at a
/// console running as `process_uid`, and says how far it is believed. A FIFO or a device is
/// refused without blocking, and at most [`super::MAX_USERS_FILE_BYTES`] are read.
/// [`AuthError::Untrusted`] says why the file is not trusted and how to fix it.
pub fn load_trusted(
    path: &Path,
    person_uid: Option<u32>,
    process_uid: u32,
) -> Result<(UsersFile, Standing), AuthError> {
    let (file, standing) = open_trusted(path, &USERS_FILE, person_uid, process_uid)?;
    let text = read_text(file, path)?;
    Ok((parse(&text, path)?, standing))
}

/// Opens the file at `path` if it may be believed as a `kind` (see the module's rules: a regular
/// file, neither it nor its folders writable by others, owned by root or as [`standing`] says),
/// and says how far. The checks are made on the open file, so the file read is the file checked.
/// A FIFO or a device is refused without blocking. [`AuthError::Untrusted`] says why the file is
/// not trusted and how to fix it; [`AuthError::Read`] carries only the path and the message.
pub fn open_trusted(
    path: &Path,
    kind: &TrustedFile,
    person_uid: Option<u32>,
    process_uid: u32,
) -> Result<(std::fs::File, Standing), AuthError> {
    let real = std::fs::canonicalize(path).map_err(|e| AuthError::read(path, &e))?;
    // Never blocks (a FIFO is refused, not waited on) and reads nothing that is not a regular file.
    let file = open_regular(&real).map_err(|e| relabel(e, path))?;
    let meta = file.metadata().map_err(|e| AuthError::read(path, &e))?;
    check_mode(path, kind, &meta)?;
    let standing = standing(meta.uid(), person_uid, process_uid)
        .ok_or_else(|| foreign(path, kind, meta.uid(), person_uid, process_uid))?;
    check_folders(path, kind, &real, meta.uid())?;
    Ok((file, standing))
}

/// An error about the real file, named as the person gave it.
fn relabel(e: AuthError, path: &Path) -> AuthError {
    match e {
        AuthError::Read { message, .. } => AuthError::Read { path: path.to_path_buf(), message },
        e => e,
    }
}

fn untrusted(path: &Path, reason: String, fix: String) -> AuthError {
    AuthError::Untrusted { path: path.to_path_buf(), reason, fix }
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

pub(crate) fn uid_text(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => format!("uid {uid} ({})", u.name),
        _ => format!("uid {uid}"),
    }
}

fn check_mode(path: &Path, kind: &TrustedFile, meta: &Metadata) -> Result<(), AuthError> {
    let shown = path.display();
    let mode = meta.mode() & 0o7777;
    match writable_by(mode) {
        Some(who) => Err(untrusted(
            path,
            format!("{} {shown} is writable by {who} (mode {mode:04o})", kind.noun),
            format!("sudo chmod go-w {shown}"),
        )),
        None => Ok(()),
    }
}

fn foreign(path: &Path, kind: &TrustedFile, owner: u32, person_uid: Option<u32>, process_uid: u32) -> AuthError {
    let shown = path.display();
    let service = if person_uid == Some(process_uid) {
        String::new()
    } else {
        format!(" or by the account this {} runs as ({})", kind.program, uid_text(process_uid))
    };
    untrusted(
        path,
        format!("{} {shown} is owned by {}: {} owned by root{service}", kind.noun, uid_text(owner), kind.grants),
        format!("sudo chown root: {shown}"),
    )
}

fn check_folders(path: &Path, kind: &TrustedFile, real: &Path, owner: u32) -> Result<(), AuthError> {
    // The folder holding the name that was given (it may hold a link), then the real folders.
    let given_parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    check_folder(path, kind, given_parent, owner, false)?;
    let mut sticky_ok = false;
    for dir in real.ancestors().skip(1) {
        check_folder(path, kind, dir, owner, sticky_ok)?;
        sticky_ok = true;
    }
    Ok(())
}

fn check_folder(path: &Path, kind: &TrustedFile, dir: &Path, owner: u32, sticky_ok: bool) -> Result<(), AuthError> {
    let meta = std::fs::metadata(dir).map_err(|e| AuthError::read(path, &e))?;
    let (shown, dir_shown) = (path.display(), dir.display());
    let mode = meta.mode() & 0o7777;
    let sticky = mode & 0o1000 != 0;
    if let Some(who) = writable_by(mode)
        && !(sticky_ok && sticky)
    {
        return Err(untrusted(
            path,
            format!("{} {shown} is in folder {dir_shown}, which is writable by {who} (mode {mode:04o})", kind.noun),
            format!("sudo chmod go-w {dir_shown}"),
        ));
    }
    let dir_owner = meta.uid();
    if dir_owner != 0 && dir_owner != owner {
        return Err(untrusted(
            path,
            format!(
                "{} {shown} is in folder {dir_shown}, which is owned by {}, who is neither root nor the \
                 file's owner ({})",
                kind.noun,
                uid_text(dir_owner),
                uid_text(owner)
            ),
            format!("sudo chown root: {dir_shown}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of owner, person and process among root, two people and a service
    /// account.
    #[test]
    fn only_root_or_a_service_account_grants_roles() {
        const ALICE: u32 = 1000;
        const BOB: u32 = 1001;
        const SERVICE: u32 = 990;
        let uids = [0, ALICE, BOB, SERVICE];
        for owner in uids {
            for person in uids.iter().copied().map(Some).chain([None]) {
                for process in uids {
                    let got = standing(owner, person, process);
                    let case = format!("owner {owner}, person {person:?}, process {process}");
                    if owner == 0 {
                        assert_eq!(got, Some(Standing::Grants), "root's file always grants: {case}");
                    } else if person == Some(owner) {
                        assert_ne!(got, Some(Standing::Grants), "a person's own file never grants: {case}");
                        assert_eq!(got, Some(Standing::LowersOnly), "{case}");
                    } else if owner != process {
                        assert_eq!(got, None, "someone else's file is refused: {case}");
                    } else {
                        assert_eq!(got, Some(Standing::Grants), "the service account's, for others: {case}");
                    }
                }
            }
        }
        // `ttyhmi run` as alice: her own file lowers only, root's grants, bob's is refused.
        assert_eq!(standing(ALICE, Some(ALICE), ALICE), Some(Standing::LowersOnly));
        assert_eq!(standing(0, Some(ALICE), ALICE), Some(Standing::Grants));
        assert_eq!(standing(BOB, Some(ALICE), ALICE), None);
        // A console running as the service account for alice: the service account's file grants.
        assert_eq!(standing(SERVICE, Some(ALICE), SERVICE), Some(Standing::Grants));
        assert_eq!(standing(SERVICE, None, SERVICE), Some(Standing::Grants));
        assert_eq!(standing(ALICE, Some(ALICE), SERVICE), Some(Standing::LowersOnly));
        // The service account at its own console is a person like any other.
        assert_eq!(standing(SERVICE, Some(SERVICE), SERVICE), Some(Standing::LowersOnly));
    }
}
