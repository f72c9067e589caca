//! Who is at the console and what they may do.
//!
//! - Identity: the OS account running the process (over SSH, the SSH login), from
//!   [`current_user`]. Never a command-line flag or an environment variable a user can set.
//! - Roles: [`Role`], viewer < operator < engineer < admin.
//! - The users file (see [`users_file`](UsersFile) for the format) maps accounts to roles and
//!   argon2id PIN hashes. Found by [`locate`]: `--users PATH`, else [`SYSTEM_USERS_FILE`] if it
//!   exists, else `users.yaml` in the user's config folder. Like sshd's StrictModes it is trusted
//!   only when it and its folders are writable by nobody but root or its owner, and its owner is
//!   root or the invoking user. An untrusted, unreadable or malformed file makes everyone a viewer,
//!   and [`Identity::warning`] says why (for the status bar).
//! - PINs: 4 to 32 characters without control characters ([`check_pin_rules`]), hashed with
//!   argon2id ([`hash_pin`], [`verify_pin`]); [`PinGuard`] locks writing for five minutes after
//!   five wrong PINs in a row. [`set_pin`] is `ttyhmi passwd USER`, [`describe`] is `ttyhmi whoami`.
//!
//! ```
//! let id = ttyhmi::auth::resolve("alice", None);
//! assert_eq!(id.role, ttyhmi::auth::Role::Viewer);
//! assert_eq!(ttyhmi::auth::describe(&id), "alice: viewer (no users file)");
//! ```

mod passwd;
mod pin;
mod role;
mod trust;
mod users_file;

use std::path::{Path, PathBuf};

pub use passwd::{passwd_target, set_pin, set_pin_hash};
pub use pin::{
    Locked, MAX_PIN_CHARS, MAX_PIN_FAILURES, MIN_PIN_CHARS, PIN_LOCKOUT, PinGuard, check_pin_rules, hash_pin,
    prompt_new_pin, read_new_pin, verify_pin,
};
pub use role::{Role, UnknownRole};
pub use trust::{check_trust, load_trusted};
pub use users_file::{MAX_USERS_FILE_BYTES, SYSTEM_USERS_FILE, UserEntry, UsersFile, load, locate, locate_in, parse};

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
    /// The file is not trusted; `reason` names the file and the problem.
    #[error("{reason}")]
    Untrusted { path: PathBuf, reason: String },
    #[error("{0}")]
    PinRules(String),
    #[error("the two PINs differ; nothing was changed")]
    PinMismatch,
    #[error("cannot hash the PIN: {0}")]
    Hash(String),
    #[error("cannot write users file {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
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

/// Where a role came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleSource {
    /// The user's own entry in the users file.
    UsersFile { path: PathBuf },
    /// The file's `default_role` (the user is not listed, or listed without a role).
    DefaultRole { path: PathBuf },
    /// There is no users file: everyone is a viewer.
    NoUsersFile,
    /// The file may have been changed by someone else: everyone is a viewer.
    Untrusted { path: PathBuf, reason: String },
    /// The file cannot be read: everyone is a viewer.
    Unreadable { path: PathBuf, reason: String },
    /// The file has errors: everyone is a viewer.
    Malformed { path: PathBuf, reason: String },
    /// `ttyhmi demo`: an operator with a demo PIN, against the simulated plant only.
    Demo,
}

/// Who is at the console, with which role, and where the role came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub role: Role,
    pub source: RoleSource,
    /// The argon2 PHC string of the user's PIN; without one, a write is confirmed by typing the
    /// value again.
    pub pin_hash: Option<String>,
}

impl Identity {
    /// For the status bar: why everyone is a viewer, when the users file was refused.
    pub fn warning(&self) -> Option<String> {
        match &self.source {
            RoleSource::Untrusted { reason, .. } => Some(format!("{reason}: everyone is a viewer")),
            RoleSource::Unreadable { reason, .. } | RoleSource::Malformed { reason, .. } => {
                Some(format!("{reason}: everyone is a viewer"))
            }
            _ => None,
        }
    }

    /// The identity of `ttyhmi demo`: an operator whose PIN is `pin`.
    pub fn demo(user: &str, pin: &str) -> Result<Identity, AuthError> {
        Ok(Identity {
            user: user.to_string(),
            role: Role::Operator,
            source: RoleSource::Demo,
            pin_hash: Some(hash_pin(pin)?),
        })
    }

    /// Whether `pin` is this user's PIN (false when the user has none).
    pub fn verify_pin(&self, pin: &str) -> bool {
        self.pin_hash.as_deref().is_some_and(|h| verify_pin(h, pin))
    }
}

/// The identity of `user` (from [`current_user`]) under the users file `file` (from [`locate`]).
pub fn resolve(user: &str, file: Option<&Path>) -> Identity {
    resolve_as(user, nix::unistd::getuid().as_raw(), file)
}

/// [`resolve`] for the account with uid `invoking_uid` (the file's owner must be root or this
/// account).
pub fn resolve_as(user: &str, invoking_uid: u32, file: Option<&Path>) -> Identity {
    let viewer = |source| Identity { user: user.to_string(), role: Role::Viewer, source, pin_hash: None };
    let Some(path) = file else {
        return viewer(RoleSource::NoUsersFile);
    };
    let path_buf = path.to_path_buf();
    match load_trusted(path, invoking_uid) {
        Ok(users) => match users.users.get(user) {
            Some(UserEntry { role: Some(role), pin }) => Identity {
                user: user.to_string(),
                role: *role,
                source: RoleSource::UsersFile { path: path_buf },
                pin_hash: pin.clone(),
            },
            entry => Identity {
                user: user.to_string(),
                role: users.default_role,
                source: RoleSource::DefaultRole { path: path_buf },
                pin_hash: entry.and_then(|e| e.pin.clone()),
            },
        },
        Err(AuthError::Untrusted { reason, .. }) => viewer(RoleSource::Untrusted { path: path_buf, reason }),
        Err(e @ AuthError::Read { .. }) => viewer(RoleSource::Unreadable { path: path_buf, reason: e.to_string() }),
        Err(e) => viewer(RoleSource::Malformed { path: path_buf, reason: format!("users file {e}") }),
    }
}

/// The `ttyhmi whoami` line: "alice: operator (users file /etc/ttyhmi/users.yaml)".
pub fn describe(id: &Identity) -> String {
    let whence = match &id.source {
        RoleSource::UsersFile { path } => format!("users file {}", path.display()),
        RoleSource::DefaultRole { path } => format!("default_role of users file {}", path.display()),
        RoleSource::NoUsersFile => "no users file".to_string(),
        RoleSource::Demo => "demo".to_string(),
        RoleSource::Untrusted { .. } | RoleSource::Unreadable { .. } | RoleSource::Malformed { .. } => {
            id.warning().unwrap_or_default()
        }
    };
    format!("{}: {} ({whence})", id.user, id.role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_has_a_name() {
        assert!(!super::current_user().is_empty());
    }

    #[test]
    fn describe_says_where_the_role_came_from() {
        let id = |role, source| Identity { user: "alice".into(), role, source, pin_hash: None };
        assert_eq!(
            describe(&id(Role::Operator, RoleSource::UsersFile { path: "/etc/ttyhmi/users.yaml".into() })),
            "alice: operator (users file /etc/ttyhmi/users.yaml)"
        );
        assert_eq!(
            describe(&id(Role::Viewer, RoleSource::DefaultRole { path: "/u.yaml".into() })),
            "alice: viewer (default_role of users file /u.yaml)"
        );
        let untrusted = id(
            Role::Viewer,
            RoleSource::Untrusted {
                path: "/x/users.yaml".into(),
                reason: "users file /x/users.yaml is writable by others (mode 0666)".into(),
            },
        );
        assert_eq!(
            untrusted.warning().unwrap(),
            "users file /x/users.yaml is writable by others (mode 0666): everyone is a viewer"
        );
        assert_eq!(
            describe(&untrusted),
            "alice: viewer (users file /x/users.yaml is writable by others (mode 0666): everyone is a viewer)"
        );
        assert_eq!(id(Role::Viewer, RoleSource::NoUsersFile).warning(), None);
    }

    #[test]
    fn a_missing_file_makes_a_viewer() {
        let id = resolve("alice", Some(Path::new("/nonexistent/ttyhmi/users.yaml")));
        assert_eq!(id.role, Role::Viewer);
        assert!(matches!(id.source, RoleSource::Unreadable { .. }));
        assert_eq!(
            id.warning().unwrap(),
            "cannot read users file /nonexistent/ttyhmi/users.yaml: No such file or directory (os error 2): \
             everyone is a viewer"
        );
    }
}
