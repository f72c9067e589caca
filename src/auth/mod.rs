//! Who is at the console and what they may do.
//!
//! - Identity: the OS account running the process (over SSH, the SSH login), from
//!   [`Person::current`]. Never a command-line flag or an environment variable a user can set.
//! - Roles: [`Role`], viewer < operator < engineer < admin.
//! - The users file (see [`users_file`](UsersFile) for the format) maps accounts to roles and
//!   argon2id PIN hashes. [`locate`] finds the files that apply: the roles file (`--users PATH`,
//!   else [`SYSTEM_USERS_FILE`] if it exists) and the person's own `users.yaml` in their config
//!   folder. Like sshd's StrictModes a file is considered only when it and its folders are
//!   writable by nobody but root or its owner; then a role above viewer comes only from a file
//!   owned by root (or by the console's service account, for other people): a file the person
//!   owns can lower their role, never raise it ([`standing`]). A refused, unreadable or
//!   malformed roles file makes everyone a viewer; [`Identity::warning`] says why (for the status
//!   bar) and [`role_hint`] what to do.
//! - PINs: 4 to 32 characters without control characters ([`check_pin_rules`]), hashed with
//!   argon2id at no less than the OWASP minimum ([`hash_pin`], [`verify_pin`]); [`PinGuard`]
//!   locks writing for five minutes after five wrong PINs in a row; the plant keeps one per user
//!   in [`Lockouts`], shared by all of that user's sessions and kept across a restart.
//!   [`set_user`] is `ttyhmi passwd USER [--role ROLE]`, [`describe`] and [`role_hint`] are
//!   `ttyhmi whoami`.
//!
//! ```
//! use ttyhmi::auth::{Person, Role, UsersFiles, describe, resolve};
//! let alice = Person { name: "alice".into(), uid: Some(1000) };
//! let id = resolve(&alice, 1000, &UsersFiles::default());
//! assert_eq!(id.role, Role::Viewer);
//! assert_eq!(describe(&id), "alice: viewer (no users file)");
//! ```

mod identity;
mod lockout;
mod passwd;
mod pin;
mod role;
mod ssh_key;
mod trust;
mod users_file;
mod yaml_edit;

use std::path::{Path, PathBuf};

pub use identity::{Identity, Person, RoleSource, describe, granted, identify, passwd_command, resolve, role_hint};
pub use lockout::Lockouts;
pub use passwd::{passwd_target, prepare_edit, set_pin, set_pin_hash, set_user};
pub use pin::{
    Locked, MAX_PIN_CHARS, MAX_PIN_FAILURES, MIN_M_COST_KIB, MIN_P_COST, MIN_PIN_CHARS, MIN_T_COST, PIN_LOCKOUT,
    PinGuard, check_pin_rules, hash_pin, prompt_new_pin, read_new_pin, verify_pin,
};
pub use role::{Role, UnknownRole};
pub use ssh_key::PublicKey;
pub use trust::{Standing, TrustedFile, USERS_FILE, load_trusted, open_trusted, standing};
pub use users_file::{
    MAX_USERS_FILE_BYTES, SYSTEM_USERS_FILE, UserChange, UserEntry, UsersFile, UsersFiles, load, locate, locate_in,
    parse,
};

/// This machine's host name (empty when it cannot be read), as audit records name it.
pub fn host_name() -> String {
    nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The name of the account running this process, or `uid N` when it has no name.
pub fn current_user() -> String {
    #[cfg(unix)]
    {
        let uid = nix::unistd::Uid::current();
        match nix::unistd::User::from_uid(uid) {
            Ok(Some(u)) => u.name,
            _ => format!("uid {uid}"),
        }
    }
    #[cfg(not(unix))]
    {
        "unknown".to_string()
    }
}

/// What can go wrong with users files and PINs. Messages never contain a PIN or a hash.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read users file {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    /// A YAML or content error; `line`/`col` are 1-based, 0 when unknown.
    #[error("{}", located(path, *line, *col, message))]
    Syntax { path: PathBuf, line: u64, col: u64, message: String },
    /// The file is not trusted; `reason` names the file and the problem, `fix` is the command
    /// that makes it trusted.
    #[error("{reason}")]
    Untrusted { path: PathBuf, reason: String, fix: String },
    #[error("{0}")]
    PinRules(String),
    #[error("the two PINs differ; nothing was changed")]
    PinMismatch,
    #[error("cannot hash the PIN: {0}")]
    Hash(String),
    #[error("cannot write users file {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
    /// This account may not change the file; `why` says what stands in the way, `command` is
    /// what an administrator runs instead.
    #[error("you cannot change users file {}: {why}; an administrator can: `{command}`", path.display())]
    NotPermitted { path: PathBuf, why: String, command: String },
    #[error("cannot read the PIN: {0}")]
    Prompt(String),
    #[error("`{0}` is not an account name")]
    BadUserName(String),
}

fn located(path: &Path, line: u64, col: u64, message: &str) -> String {
    if line == 0 {
        format!("{}: {message}", path.display())
    } else {
        format!("{}:{line}:{col}: {message}", path.display())
    }
}

impl AuthError {
    pub(crate) fn read(path: &Path, e: &std::io::Error) -> AuthError {
        AuthError::Read { path: path.to_path_buf(), message: e.to_string() }
    }

    pub(crate) fn write(path: &Path, e: &std::io::Error) -> AuthError {
        AuthError::Write { path: path.to_path_buf(), message: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_account_has_a_name() {
        assert!(!super::current_user().is_empty());
    }
}

#[cfg(test)]
mod fuzz;
