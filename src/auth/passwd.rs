//! `ttyhmi passwd USER`: set a user's PIN in the users file.
//!
//! The file is edited in place where that is simple (replacing an existing `pin`, adding one to an
//! entry, adding an entry), so comments and layout stay; each edit is checked by parsing the result
//! and comparing it with the intended content, and when it does not match, the file is written
//! afresh from its content (comments are then lost, and a comment at the top says so). The new text
//! replaces the file atomically (a temporary file in the same folder, renamed over it), keeping its
//! mode, owner and group.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::AuthError;
use super::pin::{check_pin_hash, hash_pin};
use super::trust::writable_by;
use super::users_file::{RawFile, SYSTEM_USERS_FILE, UserEntry, UsersFile, locate, parse, parse_located, read_text};

const NEW_FILE_HEADER: &str = "\
# ttyhmi users file: accounts, their roles (viewer < operator < engineer < admin) and PIN hashes.
# Set a PIN with `ttyhmi passwd USER`. Accounts not listed get default_role.
";

const REWRITTEN_HEADER: &str = "\
# ttyhmi users file, rewritten by `ttyhmi passwd` (earlier comments were not kept).
# Roles: viewer < operator < engineer < admin. Set a PIN with `ttyhmi passwd USER`.
";

/// The file `ttyhmi passwd` writes: `--users PATH` if given, else the users file in use (see
/// [`locate`]), else [`SYSTEM_USERS_FILE`] when run as root, else `users.yaml` in the user's config
/// folder.
pub fn passwd_target(explicit: Option<&Path>) -> PathBuf {
    locate(explicit).unwrap_or_else(|| {
        if nix::unistd::getuid().is_root() {
            PathBuf::from(SYSTEM_USERS_FILE)
        } else {
            crate::paths::config_dir().join("users.yaml")
        }
    })
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
    check_user_name(user)?;
    check_pin_hash(hash).map_err(|why| AuthError::Hash(format!("not a usable argon2 PHC string: {why}")))?;
    match std::fs::symlink_metadata(file) {
        Ok(_) => update_file(file, user, hash),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_file(file, user, hash),
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
        }),
        None => Ok(()),
    }
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn update_file(file: &Path, user: &str, hash: &str) -> Result<(), AuthError> {
    // Write where a link points, so the link stays.
    let real = std::fs::canonicalize(file).map_err(|e| AuthError::read(file, &e))?;
    let f = File::open(&real).map_err(|e| AuthError::read(file, &e))?;
    let meta = f.metadata().map_err(|e| AuthError::read(file, &e))?;
    if !meta.is_file() {
        return Err(AuthError::Write { path: file.to_path_buf(), message: "it is not a regular file".into() });
    }
    refuse_writable(file, "users file", file, meta.mode())?;
    let dir = folder_of(&real);
    let dir_meta = std::fs::metadata(dir).map_err(|e| AuthError::read(file, &e))?;
    refuse_writable(file, "folder", dir, dir_meta.mode())?;

    let text = read_text(f, file)?;
    let (raw, mut expected) = parse_located(&text, file)?;
    expected.users.entry(user.to_string()).or_default().pin = Some(hash.to_string());

    let matches = |t: &String| parse(t, file).is_ok_and(|m| m == expected);
    let new_text = match edit_in_place(&text, &raw, user, hash).filter(matches) {
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

fn create_file(file: &Path, user: &str, hash: &str) -> Result<(), AuthError> {
    let dir = folder_of(file);
    create_folders(dir).map_err(|e| AuthError::write(file, &e))?;
    let dir_meta = std::fs::metadata(dir).map_err(|e| AuthError::read(file, &e))?;
    refuse_writable(file, "folder", dir, dir_meta.mode())?;
    let mut model = UsersFile::default();
    model.users.insert(user.to_string(), UserEntry { role: None, pin: Some(hash.to_string()) });
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

/// Writes `text` to a new file beside `path`, gives it `mode` (and `owner` = (uid, gid)), syncs it
/// and renames it over `path`.
fn write_atomic(path: &Path, text: &str, mode: u32, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    let dir = folder_of(path);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "users.yaml".into());
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let tmp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(text.as_bytes())?;
        if let Some((uid, gid)) = owner {
            let now = f.metadata()?;
            if now.uid() != uid || now.gid() != gid {
                std::os::unix::fs::fchown(&f, Some(uid), Some(gid))?;
            }
        }
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A key as YAML: plain when it is a simple name, else double-quoted.
fn yaml_key(s: &str) -> String {
    let simple = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !["true", "false", "null", "yes", "no", "on", "off", "y", "n"].contains(&s.to_ascii_lowercase().as_str());
    if simple { s.to_string() } else { quoted(s) }
}

fn quoted(s: &str) -> String {
    // A JSON string is a YAML double-quoted scalar; serializing a &str cannot fail.
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.escape_default()))
}

/// The whole file from its content, one flow mapping per user as in the documentation.
fn render(header: &str, model: &UsersFile) -> String {
    let mut out = format!("{header}default_role: {}\nusers:", model.default_role);
    if model.users.is_empty() {
        out.push_str(" {}");
    }
    out.push('\n');
    for (name, e) in &model.users {
        let mut fields = Vec::new();
        if let Some(r) = e.role {
            fields.push(format!("role: {r}"));
        }
        if let Some(p) = &e.pin {
            fields.push(format!("pin: {}", quoted(p)));
        }
        let body = if fields.is_empty() { "{}".to_string() } else { format!("{{ {} }}", fields.join(", ")) };
        out.push_str(&format!("  {}: {body}\n", yaml_key(name)));
    }
    out
}

/// The text with `user`'s pin set, changed as little as possible, or None where that is not
/// simple. The caller checks the result.
fn edit_in_place(src: &str, raw: &RawFile, user: &str, hash: &str) -> Option<String> {
    let pin = quoted(hash);
    let byte_at = |loc: &serde_saphyr::Location| loc.span().byte_offset().and_then(|o| usize::try_from(o).ok());
    let Some(users) = &raw.users else {
        // No `users` key (a `users:` left empty also lands here; the check then catches the
        // duplicate key).
        let sep = if src.is_empty() || src.ends_with('\n') { "" } else { "\n" };
        return Some(format!("{src}{sep}users:\n  {}: {{ pin: {pin} }}\n", yaml_key(user)));
    };
    if let Some(entry) = users.value.get(user) {
        if let Some(old) = &entry.value.pin {
            let start = byte_at(&old.referenced)?;
            let len = usize::try_from(old.referenced.span().byte_len()?).ok()?;
            return splice(src, start, start.checked_add(len)?, &pin);
        }
        let at = byte_at(&entry.referenced)?;
        return insert_into_mapping(src, at, &format!("pin: {pin}"));
    }
    let at = byte_at(&users.referenced)?;
    insert_into_mapping(src, at, &format!("{}: {{ pin: {pin} }}", yaml_key(user)))
}

fn splice(src: &str, start: usize, end: usize, with: &str) -> Option<String> {
    let (head, tail) = (src.get(..start)?, src.get(end..)?);
    Some(format!("{head}{with}{tail}"))
}

/// Adds the entry `item` (`key: value`) to the mapping that starts at byte `at`: a flow mapping
/// (`{ … }`) gets it before its closing brace; a block mapping (`at` is its first key) gets it as
/// a new first line with the same indentation.
fn insert_into_mapping(src: &str, at: usize, item: &str) -> Option<String> {
    let rest = src.get(at..)?;
    if rest.starts_with('{') {
        let close = at + closing_brace(rest)?;
        let inner = src.get(at + 1..close)?;
        if inner.trim().is_empty() {
            return splice(src, at, close + 1, &format!("{{ {item} }}"));
        }
        let end = at + 1 + inner.trim_end().len();
        let sep = if inner.trim_end().ends_with(',') { " " } else { ", " };
        return splice(src, end, end, &format!("{sep}{item}"));
    }
    let line_start = src.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let indent = src.get(line_start..at)?;
    if !indent.chars().all(|c| c == ' ') {
        return None;
    }
    splice(src, at, at, &format!("{item}\n{indent}"))
}

/// The byte index of the `}` closing the flow mapping at the start of `s`.
fn closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '{' | '[' => depth += 1,
                '}' | ']' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return (c == '}').then_some(i);
                    }
                }
                '#' => return None,
                _ => {}
            },
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    const H2: &str = "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNob3RoZXJoYXNo";

    fn edited(src: &str, user: &str) -> String {
        let (raw, mut expected) = parse_located(src, Path::new("u.yaml")).unwrap();
        expected.users.entry(user.to_string()).or_default().pin = Some(H2.to_string());
        let out = edit_in_place(src, &raw, user, H2).expect("edited in place");
        assert_eq!(parse(&out, Path::new("u.yaml")).unwrap(), expected, "{out}");
        out
    }

    #[test]
    fn replaces_an_existing_pin_keeping_comments() {
        let src = format!(
            "# site users\ndefault_role: viewer\nusers:\n  alice: {{ role: operator, pin: \"{H1}\" }}   # shift A\n  bob: {{ role: engineer }}\n"
        );
        let out = edited(&src, "alice");
        assert_eq!(out, src.replace(H1, H2));
        let block = format!("users:\n  alice:\n    role: operator\n    pin: '{H1}'  # old\n");
        assert_eq!(
            edited(&block, "alice"),
            format!("users:\n  alice:\n    role: operator\n    pin: \"{H2}\"  # old\n")
        );
    }

    #[test]
    fn adds_a_pin_to_an_entry() {
        assert_eq!(
            edited("users:\n  bob:   { role: engineer }  # night\n", "bob"),
            format!("users:\n  bob:   {{ role: engineer, pin: \"{H2}\" }}  # night\n")
        );
        assert_eq!(edited("users:\n  bob: {}\n", "bob"), format!("users:\n  bob: {{ pin: \"{H2}\" }}\n"));
        assert_eq!(
            edited("users:\n  bob:\n    role: engineer\n", "bob"),
            format!("users:\n  bob:\n    pin: \"{H2}\"\n    role: engineer\n")
        );
    }

    #[test]
    fn adds_an_entry() {
        assert_eq!(
            edited("users:\n  # people\n  bob: { role: engineer }\n", "carol"),
            format!("users:\n  # people\n  carol: {{ pin: \"{H2}\" }}\n  bob: {{ role: engineer }}\n")
        );
        assert_eq!(
            edited("users: { bob: { role: admin } }\n", "carol"),
            format!("users: {{ bob: {{ role: admin }}, carol: {{ pin: \"{H2}\" }} }}\n")
        );
        assert_eq!(edited("users: {}\n", "carol"), format!("users: {{ carol: {{ pin: \"{H2}\" }} }}\n"));
        assert_eq!(
            edited("default_role: operator", "carol"),
            format!("default_role: operator\nusers:\n  carol: {{ pin: \"{H2}\" }}\n")
        );
        edited("users:\n  bob: {}\n", "true");
        edited("users:\n  bob: {}\n", "a:b #c");
    }

    #[test]
    fn an_empty_users_key_is_rewritten() {
        let src = "default_role: viewer\nusers:\n";
        let (raw, _) = parse_located(src, Path::new("u.yaml")).unwrap();
        let out = edit_in_place(src, &raw, "carol", H2).unwrap();
        assert!(parse(&out, Path::new("u.yaml")).is_err(), "a duplicate key, caught by the check");
        let mut model = UsersFile::default();
        model.users.insert("carol".into(), UserEntry { role: None, pin: Some(H2.into()) });
        model.users.insert("x y\"z".into(), UserEntry { role: Some(super::super::Role::Admin), pin: None });
        assert_eq!(parse(&render(REWRITTEN_HEADER, &model), Path::new("u.yaml")).unwrap(), model);
    }
}
