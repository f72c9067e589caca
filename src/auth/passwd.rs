//! `ttyhmi passwd USER [--role ROLE]`: set a user's role and PIN in the users file.
//!
//! [`prepare_edit`] checks, before any PIN is asked for, that the file is one this account may
//! change (a regular file, not writable by group or others, in a folder this account can
//! write, owned by it or changed by root) and returns what it holds now. [`set_user`] then
//! changes it: in place where that is simple ([`super::yaml_edit`]), so comments and layout stay;
//! each edit is checked by parsing the result and comparing it with the intended content, and
//! when it does not match, the file is written afresh from its content (comments are then lost,
//! and a comment at the top says so). The new text replaces the file atomically (a temporary file
//! in the same folder, renamed over it), keeping its mode, owner and group.

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::AuthError;
use super::identity::passwd_command;
use super::pin::{check_pin_hash, hash_pin};
use super::role::Role;
use super::trust::{uid_text, writable_by};
use super::users_file::{Pins, SYSTEM_USERS_FILE, UserChange, UsersFile, open_regular, parse_located, read_text};
use super::yaml_edit::{edit_in_place, render};
use crate::files::{folder_of, write_atomic};

const NEW_FILE_HEADER: &str = "\
# ttyhmi users file: accounts, their roles (viewer < operator < engineer < admin) and PIN hashes.
# Set a role and a PIN with `sudo ttyhmi passwd USER --role ROLE`. Accounts not listed get default_role.
";

const REWRITTEN_HEADER: &str = "\
# ttyhmi users file, rewritten by `ttyhmi passwd` (earlier comments were not kept).
# Roles: viewer < operator < engineer < admin. Set them with `sudo ttyhmi passwd USER --role ROLE`.
";

/// The file `ttyhmi passwd` writes: `--users PATH` if given, else [`SYSTEM_USERS_FILE`] (roles
/// and PINs come only from a file owned by root; a file of one's own could only lower a role).
pub fn passwd_target(explicit: Option<&Path>) -> PathBuf {
    explicit.map_or_else(|| PathBuf::from(SYSTEM_USERS_FILE), Path::to_path_buf)
}

/// Checks, before anything is asked or changed, that this account may change `file` for `user`
/// (and `role`, for the command shown when it may not), and returns what it holds now (`None`
/// when it does not exist yet). Refuses a FIFO or a device without blocking, a file or folder
/// writable by group or others, a file owned by someone else (unless run by root), a folder this
/// account cannot write, and a file with syntax errors.
pub fn prepare_edit(file: &Path, user: &str, role: Option<Role>) -> Result<Option<UsersFile>, AuthError> {
    check_user_name(user)?;
    let not_permitted = |why: String| AuthError::NotPermitted {
        path: file.to_path_buf(),
        why,
        command: passwd_command(user, role, Some(file)),
    };
    let euid = nix::unistd::geteuid();
    match std::fs::symlink_metadata(file) {
        Ok(_) => {
            let (real, f, meta) = open_existing(file)?;
            if !euid.is_root() && meta.uid() != euid.as_raw() {
                return Err(not_permitted(format!("it belongs to {}", uid_text(meta.uid()))));
            }
            let dir = folder_of(&real);
            if nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_err() {
                return Err(not_permitted(format!("its folder {} is not writable by you", dir.display())));
            }
            let text = read_text(f, file)?;
            Ok(Some(parse_located(&text, file, Pins::AsWritten)?.1))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let existing = folder_of(file).ancestors().find(|d| d.as_os_str().is_empty() || d.exists());
            let existing = existing.filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if nix::unistd::access(existing, nix::unistd::AccessFlags::W_OK).is_err() {
                return Err(not_permitted(format!(
                    "it does not exist, and folder {} is not writable by you",
                    existing.display()
                )));
            }
            Ok(None)
        }
        Err(e) => Err(AuthError::read(file, &e)),
    }
}

/// Sets `user`'s PIN in the users file `file` (adding the user, with no role of its own, when not
/// listed; creating the file when missing). Refuses PINs that break the rules and files or folders
/// writable by group or others.
pub fn set_pin(file: &Path, user: &str, pin: &str) -> Result<(), AuthError> {
    check_user_name(user)?;
    let hash = hash_pin(pin)?;
    set_pin_hash(file, user, &hash)
}

/// [`set_pin`] with a PHC string already made.
pub fn set_pin_hash(file: &Path, user: &str, hash: &str) -> Result<(), AuthError> {
    set_user(file, user, &UserChange { role: None, pin_hash: Some(hash.to_string()) })
}

/// Changes `user`'s entry in the users file `file` as `change` says (adding the user when not
/// listed; creating the file when missing). Refuses hashes that are not usable argon2id PHC
/// strings, and files or folders writable by group or others.
pub fn set_user(file: &Path, user: &str, change: &UserChange) -> Result<(), AuthError> {
    check_user_name(user)?;
    if let Some(hash) = &change.pin_hash {
        check_pin_hash(hash).map_err(|why| AuthError::Hash(format!("not a usable argon2 PHC string: {why}")))?;
    }
    match std::fs::symlink_metadata(file) {
        Ok(_) => update_file(file, user, change),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_file(file, user, change),
        Err(e) => Err(AuthError::read(file, &e)),
    }
}

fn check_user_name(user: &str) -> Result<(), AuthError> {
    if user.is_empty() || user.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(AuthError::BadUserName(user.escape_debug().to_string()));
    }
    Ok(())
}

fn refuse_writable(file: &Path, what: &str, path: &Path, mode: u32) -> Result<(), AuthError> {
    match writable_by(mode) {
        Some(who) => Err(AuthError::Untrusted {
            path: file.to_path_buf(),
            reason: format!(
                "{what} {} is writable by {who} (mode {:04o}); nothing was changed: run `chmod go-w {}` first",
                path.display(),
                mode & 0o7777,
                path.display()
            ),
            fix: format!("sudo chmod go-w {}", path.display()),
        }),
        None => Ok(()),
    }
}

/// Opens an existing users file to change it: where a link points (so the link stays), a
/// regular file only (never blocking on a FIFO), neither it nor its folder writable by group or
/// others.
fn open_existing(file: &Path) -> Result<(PathBuf, File, std::fs::Metadata), AuthError> {
    let real = std::fs::canonicalize(file).map_err(|e| AuthError::read(file, &e))?;
    let f = open_regular(&real).map_err(|e| match e {
        AuthError::Read { message, .. } => AuthError::Write { path: file.to_path_buf(), message },
        e => e,
    })?;
    let meta = f.metadata().map_err(|e| AuthError::read(file, &e))?;
    refuse_writable(file, "users file", file, meta.mode())?;
    let dir = folder_of(&real);
    let dir_meta = std::fs::metadata(dir).map_err(|e| AuthError::read(file, &e))?;
    refuse_writable(file, "folder", dir, dir_meta.mode())?;
    Ok((real, f, meta))
}

fn update_file(file: &Path, user: &str, change: &UserChange) -> Result<(), AuthError> {
    let (real, f, meta) = open_existing(file)?;
    let text = read_text(f, file)?;
    // Hashes are kept as written: a hash the checks refuse must be replaceable.
    let (_, mut expected) = parse_located(&text, file, Pins::AsWritten)?;
    change.apply(&mut expected, user);

    let matches = |t: &String| parse_located(t, file, Pins::AsWritten).is_ok_and(|(_, m)| m == expected);
    let new_text = match edit_in_place(&text, user, change).filter(matches) {
        Some(t) => t,
        None => {
            let t = render(REWRITTEN_HEADER, &expected);
            if !matches(&t) {
                return Err(AuthError::Write {
                    path: file.to_path_buf(),
                    message: "the new content would not read back as written; nothing was changed".into(),
                });
            }
            t
        }
    };
    write_atomic(&real, &new_text, meta.mode() & 0o7777, Some((meta.uid(), meta.gid())))
        .map_err(|e| AuthError::write(file, &e))
}

fn create_file(file: &Path, user: &str, change: &UserChange) -> Result<(), AuthError> {
    let dir = folder_of(file);
    create_folders(dir).map_err(|e| AuthError::write(file, &e))?;
    let dir_meta = std::fs::metadata(dir).map_err(|e| AuthError::read(file, &e))?;
    refuse_writable(file, "folder", dir, dir_meta.mode())?;
    let mut model = UsersFile::default();
    change.apply(&mut model, user);
    let text = render(NEW_FILE_HEADER, &model);
    // The system file is read by every operator's console; a file of one's own only by oneself.
    let mode = if nix::unistd::getuid().is_root() { 0o644 } else { 0o600 };
    write_atomic(file, &text, mode, None).map_err(|e| AuthError::write(file, &e))
}

/// Creates the missing folders of `dir` as rwxr-xr-x whatever the umask.
fn create_folders(dir: &Path) -> std::io::Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.as_os_str().is_empty() && !d.exists()).collect();
    for d in missing.into_iter().rev() {
        match std::fs::DirBuilder::new().mode(0o755).create(d) {
            Ok(()) => std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
