//! The users file: where it is and what it says.
//!
//! ```yaml
//! default_role: viewer
//! users:
//!   alice: { role: operator, pin: "$argon2id$v=19$m=19456,t=2,p=1$...", keys: ["ssh-ed25519 AAAA… alice@laptop"] }
//!   bob:   { role: engineer }
//! ```
//!
//! Both keys are optional (an empty file makes everyone a viewer); an entry without `role` gets
//! `default_role`. `keys` lists the SSH public keys a console server accepts for that user (one
//! OpenSSH public key line each); a key belongs to one user only. Unknown keys, unknown roles,
//! duplicate users, PINs that are not argon2 PHC strings and SSH keys that are not public keys
//! are errors with the file, line and column.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::AuthError;
use super::pin::check_pin_hash;
use super::role::Role;
use super::ssh_key::PublicKey;

/// The system-wide users file, used when `--users` is not given and it exists.
pub const SYSTEM_USERS_FILE: &str = "/etc/ttyhmi/users.yaml";

/// A users file larger than this is refused (it is surely not one).
pub const MAX_USERS_FILE_BYTES: u64 = 1 << 20;

/// The users files that apply (see [`locate`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsersFiles {
    /// Where roles and PINs come from: `--users PATH`, else [`SYSTEM_USERS_FILE`] if it exists.
    pub roles: Option<PathBuf>,
    /// The person's own `users.yaml` in their config folder, if it exists: it can only lower
    /// their role.
    pub personal: Option<PathBuf>,
}

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
    /// The SSH public keys a console server accepts for this user.
    pub keys: Vec<PublicKey>,
}

impl UsersFile {
    /// The role of `user` under this file.
    pub fn role_of(&self, user: &str) -> Role {
        self.users.get(user).and_then(|e| e.role).unwrap_or(self.default_role)
    }

    /// The user `key` is listed under, if any (the comment does not count).
    pub fn user_of_key(&self, key: &PublicKey) -> Option<&str> {
        self.users.iter().find(|(_, e)| e.keys.iter().any(|k| k.same_key(key))).map(|(name, _)| name.as_str())
    }
}

/// What `passwd` changes in one entry; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserChange {
    pub role: Option<Role>,
    /// An argon2id PHC string (from [`super::hash_pin`]).
    pub pin_hash: Option<String>,
}

impl UserChange {
    /// `users` with the change made (the user added when not listed).
    pub(crate) fn apply(&self, users: &mut UsersFile, user: &str) {
        let entry = users.users.entry(user.to_string()).or_default();
        if let Some(role) = self.role {
            entry.role = Some(role);
        }
        if let Some(hash) = &self.pin_hash {
            entry.pin = Some(hash.clone());
        }
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
    pub role: Option<Spanned<Role>>,
    #[serde(default)]
    pub pin: Option<Spanned<String>>,
    #[serde(default)]
    pub keys: Option<Vec<Spanned<String>>>,
}

/// Parses users-file text; `file` is only used in messages.
pub fn parse(src: &str, file: &Path) -> Result<UsersFile, AuthError> {
    parse_located(src, file, Pins::Checked).map(|(_, model)| model)
}

/// Whether PIN hashes are checked while parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pins {
    /// An unusable hash is an error: the file is being used.
    Checked,
    /// Any string is kept: the file is being edited by `passwd`, which must be able to replace
    /// a hash the checks refuse.
    AsWritten,
}

/// Parses and also returns the located mirror.
pub(crate) fn parse_located(src: &str, file: &Path, pins: Pins) -> Result<(RawFile, UsersFile), AuthError> {
    // The project's YAML limits, and the library's errors in the project's words.
    let raw: RawFile = serde_saphyr::from_str_with_options(src, crate::yaml::options()).map_err(|e| {
        let p = crate::yaml::explain(&e);
        // The layout's general "fix the syntax first" says nothing more here.
        let general = p.hint.is_empty() || p.hint == crate::yaml::SYNTAX_HINT;
        let message = if general { p.message } else { format!("{} ({})", p.message, p.hint) };
        AuthError::Syntax { path: file.to_path_buf(), line: p.line, col: p.col, message }
    })?;
    let mut users = IndexMap::new();
    if let Some(map) = &raw.users {
        for (name, entry) in &map.value {
            let pin = match &entry.value.pin {
                Some(pin) if pins == Pins::AsWritten => Some(pin.value.clone()),
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
            let keys = keys_of(name, &entry.value, &users, file)?;
            users.insert(name.clone(), UserEntry { role: entry.value.role.as_ref().map(|r| r.value), pin, keys });
        }
    }
    let model = UsersFile { default_role: raw.default_role.unwrap_or_default(), users };
    Ok((raw, model))
}

/// The SSH keys of `name`'s entry, each a public key and listed under no other user (`before`:
/// the entries read so far).
fn keys_of(
    name: &str,
    entry: &RawUser,
    before: &IndexMap<String, UserEntry>,
    file: &Path,
) -> Result<Vec<PublicKey>, AuthError> {
    let mut keys: Vec<PublicKey> = Vec::new();
    for (i, text) in entry.keys.iter().flatten().enumerate() {
        let at = |message: String| AuthError::Syntax {
            path: file.to_path_buf(),
            line: text.referenced.line(),
            col: text.referenced.column(),
            message,
        };
        let key = PublicKey::parse(&text.value).map_err(|why| {
            at(format!(
                "key {} of `{name}` is not an SSH public key ({why}); copy the whole line of the user's \
                 public key file, e.g. ~/.ssh/id_ed25519.pub",
                i + 1
            ))
        })?;
        let other = before.iter().find(|(_, e)| e.keys.iter().any(|k| k.same_key(&key))).map(|(n, _)| n.as_str());
        let twice = keys.iter().any(|k| k.same_key(&key));
        if let Some(other) = other.or(twice.then_some(name)) {
            return Err(at(format!(
                "key {} of `{name}` ({}) is also listed for `{other}`: a key belongs to one user; remove one",
                i + 1,
                key.fingerprint()
            )));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Reads and parses a users file without checking who may write it (see
/// [`super::load_trusted`] for that). Only a regular file is read (a FIFO or a device is refused
/// without blocking), and at most [`MAX_USERS_FILE_BYTES`].
pub fn load(path: &Path) -> Result<UsersFile, AuthError> {
    let file = open_regular(path)?;
    let text = read_text(file, path)?;
    parse(&text, path)
}

/// Opens `path` if it is a regular file, without blocking on a FIFO ([`crate::files`]).
pub(crate) fn open_regular(path: &Path) -> Result<std::fs::File, AuthError> {
    crate::files::open_regular(path).map_err(|e| AuthError::Read { path: path.to_path_buf(), message: e.to_string() })
}

/// Reads at most [`MAX_USERS_FILE_BYTES`] of UTF-8 text from a file [`open_regular`] opened.
pub(crate) fn read_text(file: std::fs::File, path: &Path) -> Result<String, AuthError> {
    let bytes = crate::files::read_capped(file, MAX_USERS_FILE_BYTES)
        .map_err(|e| AuthError::Read { path: path.to_path_buf(), message: e.to_string() })?;
    String::from_utf8(bytes).map_err(|e| AuthError::Read {
        path: path.to_path_buf(),
        message: format!("it is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()),
    })
}

/// The users files that apply: roles from `--users PATH` if given, else from
/// [`SYSTEM_USERS_FILE`] if it exists; and `users.yaml` in the user's config folder if it exists,
/// which can only lower the role.
pub fn locate(explicit: Option<&Path>) -> UsersFiles {
    locate_in(explicit, Path::new(SYSTEM_USERS_FILE), &crate::paths::config_dir().join("users.yaml"))
}

/// [`locate`] with the system and per-user paths given (for tests).
///
/// A path that exists but cannot be looked at (a folder without search permission, say) counts as
/// existing, so the system file is never skipped merely because it is hidden from the user;
/// reading it then fails and everyone is a viewer.
pub fn locate_in(explicit: Option<&Path>, system: &Path, per_user: &Path) -> UsersFiles {
    let roles = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => present(system).then(|| system.to_path_buf()),
    };
    let personal = present(per_user).then(|| per_user.to_path_buf());
    UsersFiles { roles, personal }
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

    const ALICE: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINvxqTtf0RBAJn27pTStb2bx+yTkezj8maFkUq7gor0Y alice@laptop";
    const BOB: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBH7Wtd0r6vKsJPqqKvFtc9hTLBP9JN466dbwEPsQE5CaHnLwbJG4u84kY+YJ1vJGiUyZCq5tDB4lu9/U1HMgFaU= bob@hmi";

    #[test]
    fn ssh_keys_map_to_the_one_user_they_are_listed_under() {
        let src = format!(
            "users:\n  alice: {{ role: operator, keys: [\"{ALICE}\"] }}\n  bob:\n    role: engineer\n    keys:\n      - \"{BOB}\"\n  carol: {{}}\n"
        );
        let f = p(&src).unwrap_or_else(|e| panic!("{e}"));
        let alice = PublicKey::parse(ALICE).unwrap();
        assert_eq!(f.users["alice"].keys, vec![alice.clone()]);
        assert_eq!(f.user_of_key(&alice), Some("alice"));
        let renamed = PublicKey { comment: "alice@other-laptop".into(), ..alice };
        assert_eq!(f.user_of_key(&renamed), Some("alice"), "the comment does not matter");
        assert_eq!(f.user_of_key(&PublicKey::parse(BOB).unwrap()), Some("bob"));
        assert!(f.users["carol"].keys.is_empty());
        let stranger = PublicKey { blob: vec![0, 0, 0, 11], ..PublicKey::parse(ALICE).unwrap() };
        assert_eq!(f.user_of_key(&stranger), None, "an unknown key is nobody's");
        // passwd's rewrite keeps them.
        assert_eq!(p(&crate::auth::yaml_edit::render("", &f)).unwrap(), f);
    }

    #[test]
    fn a_key_that_is_not_one_or_is_listed_twice_is_an_error_at_its_line() {
        let bad = p("users:\n  alice:\n    keys:\n      - ssh-ed25519 AAAA\n").unwrap_err();
        assert!(bad.starts_with("u.yaml:4:"), "{bad}");
        assert!(bad.contains("key 1 of `alice` is not an SSH public key") && bad.contains("id_ed25519.pub"), "{bad}");
        let twice =
            p(&format!("users:\n  alice: {{ keys: [\"{ALICE}\"] }}\n  bob: {{ keys: [\"{BOB}\", \"{ALICE}\"] }}\n"))
                .unwrap_err();
        assert!(twice.starts_with("u.yaml:3:"), "{twice}");
        assert!(
            twice.contains(
                "key 2 of `bob` (SHA256:uJOO0sD65zYSL2QJcko7bF4CRAYwhai9IjtSzcN6B3Y) is also listed for `alice`"
            ),
            "{twice}"
        );
        let same = p(&format!("users:\n  alice: {{ keys: [\"{ALICE}\", \"{ALICE}\"] }}\n")).unwrap_err();
        assert!(same.contains("is also listed for `alice`"), "{same}");
        let not_a_list = p("users:\n  alice: { keys: \"ssh-ed25519 x\" }\n").unwrap_err();
        assert!(not_a_list.starts_with("u.yaml:2:"), "{not_a_list}");
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
            "u.yaml:2:26: unknown field `colour` (allowed here: role, pin, keys) (remove it, or fix its name)"
        );
        // Issue 12 D.23: no library option names (it said `set DuplicateKeyPolicy in Options`).
        let dup = p("users:\n  a: {}\n  a: {}\n").unwrap_err();
        assert!(dup.starts_with("u.yaml:3:3: `a` is written twice in the same mapping (keep one of them"), "{dup}");
        assert!(!dup.contains("Options") && !dup.contains("Policy"), "{dup}");
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
    fn roles_come_from_explicit_or_system_and_the_per_user_file_only_lowers() {
        let dir = std::env::temp_dir().join(format!("ttyhmi-auth-locate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (sys, own) = (dir.join("sys.yaml"), dir.join("own.yaml"));
        let given = Path::new("/nowhere/u.yaml");
        let files = |roles: Option<&Path>, personal: Option<&Path>| UsersFiles {
            roles: roles.map(Path::to_path_buf),
            personal: personal.map(Path::to_path_buf),
        };
        assert_eq!(locate_in(Some(given), &sys, &own), files(Some(given), None));
        assert_eq!(locate_in(None, &sys, &own), files(None, None));
        std::fs::write(&own, "").unwrap();
        assert_eq!(locate_in(None, &sys, &own), files(None, Some(&own)), "never a roles file");
        std::fs::write(&sys, "").unwrap();
        assert_eq!(locate_in(None, &sys, &own), files(Some(&sys), Some(&own)));
        assert_eq!(locate_in(Some(given), &sys, &own), files(Some(given), Some(&own)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
