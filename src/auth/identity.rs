//! Who is at the console, with which role, where the role came from, and how to get one.

use std::path::{Path, PathBuf};

use super::pin::{hash_pin, verify_pin};
use super::role::Role;
use super::trust::{Standing, load_trusted};
use super::users_file::{SYSTEM_USERS_FILE, UserEntry, UsersFile, UsersFiles, load, locate};
use super::{AuthError, current_user};

/// The person at the console, as the system identified them (never a flag or an environment
/// variable they can set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// The account name, as the users file lists it.
    pub name: String,
    /// The local account's uid; `None` for a person with no local account (identified by an SSH
    /// key mapped to a name).
    pub uid: Option<u32>,
}

impl Person {
    /// The account running this process.
    pub fn current() -> Person {
        Person { name: current_user(), uid: Some(nix::unistd::getuid().as_raw()) }
    }
}

/// Where a role came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleSource {
    /// The user's own entry in the users file.
    UsersFile { path: PathBuf },
    /// The file's `default_role` (the user is not listed, or listed without a role).
    DefaultRole { path: PathBuf },
    /// The users file `path` gave `from`; the person's own file `personal` lowered it.
    Lowered { path: PathBuf, personal: PathBuf, from: Role },
    /// There is no users file: everyone is a viewer.
    NoUsersFile,
    /// The users file is the person's own (the one in their config folder, or `--users` names a
    /// file they own): it can lower a role, never give one, so they are a viewer.
    OwnFile { path: PathBuf },
    /// The person's own file cannot be read or has errors: they are a viewer until it is fixed
    /// (it may have been meant to lower their role).
    OwnFileBroken { path: PathBuf, reason: String },
    /// The file may have been changed by someone else: everyone is a viewer. `fix` is the
    /// command that makes it trusted.
    Untrusted { path: PathBuf, reason: String, fix: String },
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
    /// For the status bar: why the person is a viewer when a users file was refused or is their
    /// own; `None` when the role came out as the files say.
    pub fn warning(&self) -> Option<String> {
        self.warning_text().map(clean)
    }

    fn warning_text(&self) -> Option<String> {
        match &self.source {
            RoleSource::Untrusted { reason, .. }
            | RoleSource::Unreadable { reason, .. }
            | RoleSource::Malformed { reason, .. } => Some(format!("{reason}: everyone is a viewer")),
            RoleSource::OwnFile { path } => Some(format!(
                "users file {} is yours: it can lower your role, not raise it; roles come only from a users file \
                 owned by root such as {SYSTEM_USERS_FILE}: {} is a viewer",
                path.display(),
                self.user
            )),
            RoleSource::OwnFileBroken { reason, .. } => Some(format!(
                "{reason}: your own users file can only lower your role, so {} is a viewer until it is fixed",
                self.user
            )),
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

/// The identity of whoever runs this process, under the users files that apply (`explicit` is
/// `--users PATH`): what `ttyhmi run` and `ttyhmi whoami` use.
pub fn identify(explicit: Option<&Path>) -> Identity {
    resolve(&Person::current(), nix::unistd::getuid().as_raw(), &locate(explicit))
}

/// The identity of `person` at a console running as `process_uid`, under `files`.
///
/// A role above viewer comes only from a roles file that is trusted and owned by root (or by
/// the console's service account when the person is someone else); a roles file of the person's
/// own makes them a viewer ([`RoleSource::OwnFile`]). Their own per-user file can then only
/// lower that role (role = the lower of the two); PINs come only from the roles file.
pub fn resolve(person: &Person, process_uid: u32, files: &UsersFiles) -> Identity {
    let viewer = |source| Identity { user: person.name.clone(), role: Role::Viewer, source, pin_hash: None };
    let Some(path) = files.roles.as_deref() else {
        return viewer(match &files.personal {
            Some(p) => RoleSource::OwnFile { path: p.clone() },
            None => RoleSource::NoUsersFile,
        });
    };
    let path_buf = path.to_path_buf();
    let users = match load_trusted(path, person.uid, process_uid) {
        Ok((users, Standing::Grants)) => users,
        Ok((_, Standing::LowersOnly)) => return viewer(RoleSource::OwnFile { path: path_buf }),
        Err(AuthError::Untrusted { reason, fix, .. }) => {
            return viewer(RoleSource::Untrusted { path: path_buf, reason: clean(reason), fix: clean(fix) });
        }
        Err(e @ AuthError::Read { .. }) => {
            return viewer(RoleSource::Unreadable { path: path_buf, reason: clean(e.to_string()) });
        }
        Err(e) => return viewer(RoleSource::Malformed { path: path_buf, reason: clean(format!("users file {e}")) }),
    };
    let granted = granted(&person.name, path_buf, &users);
    match files.personal.as_deref() {
        Some(personal) => lower(granted, path, personal),
        None => granted,
    }
}

/// The role and PIN the trusted `users` (read from `path`) give `user`: for a console server,
/// which has already checked and read the file to find the user's key.
pub fn granted(user: &str, path: PathBuf, users: &UsersFile) -> Identity {
    match users.users.get(user) {
        Some(UserEntry { role: Some(role), pin, .. }) => Identity {
            user: user.to_string(),
            role: *role,
            source: RoleSource::UsersFile { path },
            pin_hash: pin.clone(),
        },
        entry => Identity {
            user: user.to_string(),
            role: users.default_role,
            source: RoleSource::DefaultRole { path },
            pin_hash: entry.and_then(|e| e.pin.clone()),
        },
    }
}

/// `id` (from the roles file `path`) lowered by the person's own file at `personal`, if it says
/// a lower role. A broken own file makes a viewer: it may have been meant to lower the role.
fn lower(id: Identity, path: &Path, personal: &Path) -> Identity {
    let own = match load(personal) {
        Ok(own) => own,
        Err(e) => {
            let reason = match e {
                AuthError::Read { .. } => e.to_string(),
                e => format!("users file {e}"),
            };
            let source = RoleSource::OwnFileBroken { path: personal.to_path_buf(), reason: clean(reason) };
            return Identity { role: Role::Viewer, source, pin_hash: None, ..id };
        }
    };
    let own_role = own.role_of(&id.user);
    if own_role >= id.role {
        return id;
    }
    let source = RoleSource::Lowered { path: path.to_path_buf(), personal: personal.to_path_buf(), from: id.role };
    Identity { role: own_role, source, ..id }
}

/// Text for a terminal: what came from a file (an error quoting it, a path) with control and
/// invisible characters escaped.
fn clean(s: String) -> String {
    match crate::sanitize::clean(&s) {
        std::borrow::Cow::Borrowed(_) => s,
        std::borrow::Cow::Owned(o) => o,
    }
}

/// The `ttyhmi whoami` line: "alice: operator (users file /etc/ttyhmi/users.yaml)".
pub fn describe(id: &Identity) -> String {
    let whence = match &id.source {
        RoleSource::UsersFile { path } => format!("users file {}", path.display()),
        RoleSource::DefaultRole { path } => format!("default_role of users file {}", path.display()),
        RoleSource::Lowered { path, personal, from } => {
            format!("users file {} gives {from}; your own users file {} lowers it", path.display(), personal.display())
        }
        RoleSource::NoUsersFile => "no users file".to_string(),
        RoleSource::Demo => "demo".to_string(),
        RoleSource::OwnFile { .. }
        | RoleSource::OwnFileBroken { .. }
        | RoleSource::Untrusted { .. }
        | RoleSource::Unreadable { .. }
        | RoleSource::Malformed { .. } => id.warning().unwrap_or_default(),
    };
    clean(format!("{}: {} ({whence})", id.user, id.role))
}

/// The `ttyhmi passwd` command an administrator runs for `user`: with `--role ROLE` when `role`
/// is given, with `--users FILE` when `file` is not the system users file.
pub fn passwd_command(user: &str, role: Option<Role>, file: Option<&Path>) -> String {
    let mut cmd = format!("sudo ttyhmi passwd {}", shell_word(user));
    if let Some(role) = role {
        cmd.push_str(&format!(" --role {role}"));
    }
    if let Some(f) = file.filter(|f| *f != Path::new(SYSTEM_USERS_FILE)) {
        cmd.push_str(&format!(" --users {}", shell_word(&f.display().to_string())));
    }
    cmd
}

/// `s` as one shell word: as it is when it is plain, else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.,/:@+=".contains(c));
    if plain { s.to_string() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

/// For a viewer: what to do to get a role (the console shows it beside "writing is disabled: …",
/// `ttyhmi whoami` under the role). `None` for a role above viewer and for the demo.
pub fn role_hint(id: &Identity) -> Option<String> {
    role_hint_text(id).map(clean)
}

fn role_hint_text(id: &Identity) -> Option<String> {
    if id.role > Role::Viewer {
        return None;
    }
    let ask = |file: Option<&Path>| {
        format!("ask an administrator to run `{}`", passwd_command(&id.user, Some(Role::Operator), file))
    };
    Some(match &id.source {
        RoleSource::Demo => return None,
        RoleSource::NoUsersFile | RoleSource::OwnFile { .. } => ask(None),
        RoleSource::UsersFile { path } | RoleSource::DefaultRole { path } => ask(Some(path)),
        RoleSource::Lowered { personal, from, .. } => {
            format!("your own users file {} lowers your role from {from}: change or remove it", personal.display())
        }
        RoleSource::OwnFileBroken { path, .. } => format!("fix or remove your own users file {}", path.display()),
        RoleSource::Untrusted { fix, .. } => format!("ask an administrator to run `{fix}`"),
        RoleSource::Unreadable { path, .. } => format!(
            "ask an administrator to make {} a regular file you can read (or give its right path with --users)",
            path.display()
        ),
        RoleSource::Malformed { path, .. } => {
            format!("ask an administrator to fix {} where the error says", path.display())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(role: Role, source: RoleSource) -> Identity {
        Identity { user: "alice".into(), role, source, pin_hash: None }
    }

    #[test]
    fn describe_says_where_the_role_came_from() {
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
                fix: "sudo chmod go-w /x/users.yaml".into(),
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
        assert_eq!(role_hint(&untrusted).unwrap(), "ask an administrator to run `sudo chmod go-w /x/users.yaml`");
        assert_eq!(id(Role::Viewer, RoleSource::NoUsersFile).warning(), None);
        let lowered = id(
            Role::Operator,
            RoleSource::Lowered {
                path: "/etc/ttyhmi/users.yaml".into(),
                personal: "/home/alice/.config/ttyhmi/users.yaml".into(),
                from: Role::Admin,
            },
        );
        assert_eq!(lowered.warning(), None, "lowering one's own role is no fault");
        assert_eq!(
            describe(&lowered),
            "alice: operator (users file /etc/ttyhmi/users.yaml gives admin; your own users file \
             /home/alice/.config/ttyhmi/users.yaml lowers it)"
        );
        let own = id(Role::Viewer, RoleSource::OwnFile { path: "/home/alice/.config/ttyhmi/users.yaml".into() });
        assert_eq!(
            own.warning().unwrap(),
            "users file /home/alice/.config/ttyhmi/users.yaml is yours: it can lower your role, not raise it; roles \
             come only from a users file owned by root such as /etc/ttyhmi/users.yaml: alice is a viewer"
        );
    }

    #[test]
    fn a_viewer_is_told_how_to_get_a_role() {
        assert_eq!(
            role_hint(&id(Role::Viewer, RoleSource::NoUsersFile)).unwrap(),
            "ask an administrator to run `sudo ttyhmi passwd alice --role operator`"
        );
        assert_eq!(
            role_hint(&id(Role::Viewer, RoleSource::DefaultRole { path: SYSTEM_USERS_FILE.into() })).unwrap(),
            "ask an administrator to run `sudo ttyhmi passwd alice --role operator`"
        );
        assert_eq!(
            role_hint(&id(Role::Viewer, RoleSource::UsersFile { path: "/srv/plant users.yaml".into() })).unwrap(),
            "ask an administrator to run `sudo ttyhmi passwd alice --role operator --users '/srv/plant users.yaml'`"
        );
        assert_eq!(role_hint(&id(Role::Operator, RoleSource::UsersFile { path: "/u".into() })), None);
        assert_eq!(role_hint(&id(Role::Viewer, RoleSource::Demo)), None);
        let malformed = id(Role::Viewer, RoleSource::Malformed { path: "/u.yaml".into(), reason: "x".into() });
        assert_eq!(role_hint(&malformed).unwrap(), "ask an administrator to fix /u.yaml where the error says");
        let mut odd = id(Role::Viewer, RoleSource::NoUsersFile);
        odd.user = "o'brien x".into();
        assert_eq!(
            role_hint(&odd).unwrap(),
            r"ask an administrator to run `sudo ttyhmi passwd 'o'\''brien x' --role operator`"
        );
    }

    #[test]
    fn a_missing_file_makes_a_viewer() {
        let files = UsersFiles { roles: Some("/nonexistent/ttyhmi/users.yaml".into()), personal: None };
        let id = resolve(&Person::current(), nix::unistd::getuid().as_raw(), &files);
        assert_eq!(id.role, Role::Viewer);
        assert!(matches!(id.source, RoleSource::Unreadable { .. }));
        assert_eq!(
            id.warning().unwrap(),
            "cannot read users file /nonexistent/ttyhmi/users.yaml: No such file or directory (os error 2): \
             everyone is a viewer"
        );
    }
}
