//! The users file: where it is and what it says.
//!
//! ```yaml
//! default_role: viewer
//! users:
//!   alice: { role: operator, pin: "$argon2id$v=19$m=19456,t=2,p=1$..." }   # standard PHC string
//!   bob:   { role: engineer }
//! ```
//!
//! Both keys are optional (an empty file makes everyone a viewer); an entry without `role` gets
//! `default_role`. Unknown keys, unknown roles, duplicate users and PINs that are not argon2 PHC
//! strings are errors with the file, line and column.

use std::io::Read;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::AuthError;
use super::pin::check_pin_hash;
use super::role::Role;

/// The system-wide users file, used when `--users` is not given and it exists.
pub const SYSTEM_USERS_FILE: &str = "/etc/ttyhmi/users.yaml";

/// A users file larger than this is refused (it is surely not one).
pub const MAX_USERS_FILE_BYTES: u64 = 1 << 20;

/// A parsed users file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsersFile {
    /// The role of accounts that are not listed, and of listed accounts without a `role`.
    pub default_role: Role,
    /// Account name → entry, in file order.
    pub users: IndexMap<String, UserEntry>,
}

/// One account of the users file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserEntry {
    pub role: Option<Role>,
    /// An argon2 PHC string (checked when the file is parsed).
    pub pin: Option<String>,
}

impl UsersFile {
    /// The role of `user` under this file.
    pub fn role_of(&self, user: &str) -> Role {
        self.users.get(user).and_then(|e| e.role).unwrap_or(self.default_role)
    }
}

/// The serde mirror of the file, with the locations that `passwd` edits in place.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub default_role: Option<Role>,
    #[serde(default)]
    pub users: Option<Spanned<IndexMap<String, Spanned<RawUser>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUser {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub pin: Option<Spanned<String>>,
}

/// Parses users-file text; `file` is only used in messages.
pub fn parse(src: &str, file: &Path) -> Result<UsersFile, AuthError> {
    parse_located(src, file).map(|(_, model)| model)
}

/// Parses and also returns the located mirror.
pub(crate) fn parse_located(src: &str, file: &Path) -> Result<(RawFile, UsersFile), AuthError> {
    let options = serde_saphyr::options! { strict_booleans: true, with_snippet: false };
    let raw: RawFile = serde_saphyr::from_str_with_options(src, options).map_err(|e| {
        let (line, col) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
        let message = strip_location_suffix(&e.without_snippet().to_string());
        AuthError::Syntax { path: file.to_path_buf(), line, col, message }
    })?;
    let mut users = IndexMap::new();
    if let Some(map) = &raw.users {
        for (name, entry) in &map.value {
            let pin = match &entry.value.pin {
                Some(pin) => {
                    check_pin_hash(&pin.value).map_err(|why| AuthError::Syntax {
                        path: file.to_path_buf(),
                        line: pin.referenced.line(),
                        col: pin.referenced.column(),
                        message: format!(
                            "the pin of `{name}` is not a usable argon2 PHC string ({why}); \
                             set it again with `ttyhmi passwd {name}`"
                        ),
                    })?;
                    Some(pin.value.clone())
                }
                None => None,
            };
            users.insert(name.clone(), UserEntry { role: entry.value.role, pin });
        }
    }
    let model = UsersFile { default_role: raw.default_role.unwrap_or_default(), users };
    Ok((raw, model))
}

/// serde-saphyr ends messages with " at line L, column C"; the location goes in front instead.
fn strip_location_suffix(m: &str) -> String {
    match m.rfind(" at line ") {
        Some(i) => m[..i].to_string(),
        None => m.to_string(),
    }
}

/// Reads and parses a users file without checking who may write it (see
/// [`super::load_trusted`] for that).
pub fn load(path: &Path) -> Result<UsersFile, AuthError> {
    let file = std::fs::File::open(path).map_err(|e| AuthError::read(path, &e))?;
    let text = read_text(file, path)?;
    parse(&text, path)
}

/// Reads at most [`MAX_USERS_FILE_BYTES`] of UTF-8 text.
pub(crate) fn read_text(file: std::fs::File, path: &Path) -> Result<String, AuthError> {
    let mut bytes = Vec::new();
    file.take(MAX_USERS_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| AuthError::read(path, &e))?;
    if bytes.len() as u64 > MAX_USERS_FILE_BYTES {
        return Err(AuthError::Read {
            path: path.to_path_buf(),
            message: format!("it is larger than {MAX_USERS_FILE_BYTES} bytes; is this the right file?"),
        });
    }
    String::from_utf8(bytes).map_err(|e| AuthError::Read {
        path: path.to_path_buf(),
        message: format!("it is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()),
    })
}

/// The users file to use: `--users PATH` if given, else [`SYSTEM_USERS_FILE`] if it exists, else
/// `users.yaml` in the user's config folder if it exists, else none.
pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    locate_in(explicit, Path::new(SYSTEM_USERS_FILE), &crate::paths::config_dir().join("users.yaml"))
}

/// [`locate`] with the system and per-user paths given (for tests).
///
/// A path that exists but cannot be looked at (a folder without search permission, say) counts as
/// existing, so the system file is never skipped in favour of a file the user controls merely
/// because it is hidden from them; reading it then fails and everyone is a viewer.
pub fn locate_in(explicit: Option<&Path>, system: &Path, per_user: &Path) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    [system, per_user].into_iter().find(|p| present(p)).map(Path::to_path_buf)
}

fn present(p: &Path) -> bool {
    match std::fs::symlink_metadata(p) {
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(src: &str) -> Result<UsersFile, String> {
        parse(src, Path::new("u.yaml")).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_roles_and_defaults() {
        let f = p("default_role: operator\nusers:\n  alice: { role: admin }\n  bob: {}\n").unwrap();
        assert_eq!(f.role_of("alice"), Role::Admin);
        assert_eq!(f.role_of("bob"), Role::Operator);
        assert_eq!(f.role_of("carol"), Role::Operator);
        assert_eq!(p("").unwrap(), UsersFile::default());
        assert_eq!(p("# nothing yet\n").unwrap().role_of("x"), Role::Viewer);
        assert_eq!(p("users:\n").unwrap().users.len(), 0);
    }

    #[test]
    fn errors_are_located() {
        assert_eq!(
            p("default_role: viewer\nusers:\n  alice: { role: boss }\n").unwrap_err(),
            "u.yaml:3:18: unknown role `boss` (allowed roles: viewer, operator, engineer, admin)"
        );
        assert_eq!(
            p("default_role: root\n").unwrap_err(),
            "u.yaml:1:15: unknown role `root` (allowed roles: viewer, operator, engineer, admin)"
        );
        assert_eq!(
            p("users:\n  alice: { role: viewer, colour: red }\n").unwrap_err(),
            "u.yaml:2:26: unknown field `colour`, expected one of role, pin"
        );
        assert!(p("users:\n  a: {}\n  a: {}\n").unwrap_err().starts_with("u.yaml:3:3: duplicate mapping key: a"));
        assert_eq!(
            p("users:\n  alice: { pin: \"1234\" }\n").unwrap_err(),
            "u.yaml:2:17: the pin of `alice` is not a usable argon2 PHC string (not a PHC string: \
             $argon2id$v=19$m=...,t=...,p=...$salt$hash); set it again with `ttyhmi passwd alice`"
        );
        assert!(p("users: yes\n").is_err());
        // Issue 12, item 19: a hash cheaper than the OWASP minimum.
        assert_eq!(
            p("users:\n  bob: { role: operator, pin: \"$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\" }\n")
                .unwrap_err(),
            "u.yaml:2:31: the pin of `bob` is not a usable argon2 PHC string (its parameters m=4096,t=3,p=1 are \
             weaker than the minimum m=19456,t=2,p=1 (OWASP)); set it again with `ttyhmi passwd bob`"
        );
    }

    #[test]
    fn locate_prefers_explicit_then_system_then_per_user() {
        let dir = std::env::temp_dir().join(format!("ttyhmi-auth-locate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (sys, own) = (dir.join("sys.yaml"), dir.join("own.yaml"));
        let given = Path::new("/nowhere/u.yaml");
        assert_eq!(locate_in(Some(given), &sys, &own), Some(given.to_path_buf()));
        assert_eq!(locate_in(None, &sys, &own), None);
        std::fs::write(&own, "").unwrap();
        assert_eq!(locate_in(None, &sys, &own), Some(own.clone()));
        std::fs::write(&sys, "").unwrap();
        assert_eq!(locate_in(None, &sys, &own), Some(sys.clone()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
