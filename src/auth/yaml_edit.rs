//! Editing the users file's text in place, so comments and layout stay: replacing a field of an
//! entry, adding one to an entry, adding an entry. Each result is checked by the caller, which
//! parses it and compares it with the intended content.

use std::path::Path;

use super::users_file::{Pins, UserChange, UsersFile, parse_located};

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
pub(crate) fn render(header: &str, model: &UsersFile) -> String {
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
        if !e.keys.is_empty() {
            let keys: Vec<String> = e.keys.iter().map(|k| quoted(&k.line())).collect();
            fields.push(format!("keys: [{}]", keys.join(", ")));
        }
        let body = if fields.is_empty() { "{}".to_string() } else { format!("{{ {} }}", fields.join(", ")) };
        out.push_str(&format!("  {}: {body}\n", yaml_key(name)));
    }
    out
}

/// The text with `user`'s entry changed as `change` says, changed as little as possible, or
/// None where that is not simple. The caller checks the result.
pub(crate) fn edit_in_place(src: &str, user: &str, change: &UserChange) -> Option<String> {
    let mut text = src.to_string();
    if let Some(role) = change.role {
        text = set_field(&text, user, Field::Role, role.as_str())?;
    }
    if let Some(hash) = &change.pin_hash {
        text = set_field(&text, user, Field::Pin, &quoted(hash))?;
    }
    Some(text)
}

#[derive(Clone, Copy)]
enum Field {
    Role,
    Pin,
}

/// `src` with one field of `user`'s entry set to `value` (YAML text).
fn set_field(src: &str, user: &str, field: Field, value: &str) -> Option<String> {
    let (raw, _) = parse_located(src, Path::new(""), Pins::AsWritten).ok()?;
    let key = match field {
        Field::Role => "role",
        Field::Pin => "pin",
    };
    let byte_at = |loc: &serde_saphyr::Location| loc.span().byte_offset().and_then(|o| usize::try_from(o).ok());
    let Some(users) = &raw.users else {
        // No `users` key (a `users:` left empty also lands here; the check then catches the
        // duplicate key).
        let sep = if src.is_empty() || src.ends_with('\n') { "" } else { "\n" };
        return Some(format!("{src}{sep}users:\n  {}: {{ {key}: {value} }}\n", yaml_key(user)));
    };
    if let Some(entry) = users.value.get(user) {
        let old = match field {
            Field::Role => entry.value.role.as_ref().map(|r| &r.referenced),
            Field::Pin => entry.value.pin.as_ref().map(|p| &p.referenced),
        };
        if let Some(old) = old {
            let start = byte_at(old)?;
            let len = usize::try_from(old.span().byte_len()?).ok()?;
            return splice(src, start, start.checked_add(len)?, value);
        }
        let at = byte_at(&entry.referenced)?;
        return insert_into_mapping(src, at, &format!("{key}: {value}"));
    }
    let at = byte_at(&users.referenced)?;
    insert_into_mapping(src, at, &format!("{}: {{ {key}: {value} }}", yaml_key(user)))
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
    use crate::auth::Role;
    use crate::auth::users_file::{UserEntry, parse};

    const H1: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    const H2: &str = "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNob3RoZXJoYXNo";

    fn edited(src: &str, user: &str) -> String {
        edited_with(src, user, &UserChange { role: None, pin_hash: Some(H2.into()) })
    }

    fn edited_with(src: &str, user: &str, change: &UserChange) -> String {
        let (_, mut expected) = parse_located(src, Path::new("u.yaml"), Pins::AsWritten).unwrap();
        change.apply(&mut expected, user);
        let out = edit_in_place(src, user, change).expect("edited in place");
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
    fn sets_a_role_beside_the_pin_keeping_comments() {
        let op = |pin: Option<&str>| UserChange { role: Some(Role::Operator), pin_hash: pin.map(String::from) };
        // A role replaced, a pin left alone.
        assert_eq!(
            edited_with(&format!("users:\n  alice: {{ role: viewer, pin: \"{H1}\" }}  # A\n"), "alice", &op(None)),
            format!("users:\n  alice: {{ role: operator, pin: \"{H1}\" }}  # A\n")
        );
        // A role added to an entry with a pin, in block style.
        assert_eq!(
            edited_with(&format!("users:\n  alice:\n    pin: '{H1}'\n"), "alice", &op(None)),
            format!("users:\n  alice:\n    role: operator\n    pin: '{H1}'\n")
        );
        // A new entry with both.
        assert_eq!(
            edited_with("# people\nusers:\n  bob: { role: engineer }\n", "carol", &op(Some(H2))),
            format!("# people\nusers:\n  carol: {{ role: operator, pin: \"{H2}\" }}\n  bob: {{ role: engineer }}\n")
        );
        assert_eq!(
            edited_with("default_role: viewer\n", "carol", &op(None)),
            "default_role: viewer\nusers:\n  carol: { role: operator }\n"
        );
        // A weak hash of someone else's stays as written (the file is edited, not used).
        let weak = "$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        let src = format!("users:\n  bob: {{ pin: \"{weak}\" }}\n");
        let out = edit_in_place(&src, "bob", &UserChange { role: None, pin_hash: Some(H2.into()) }).unwrap();
        assert_eq!(out, src.replace(weak, H2));
    }

    #[test]
    fn a_role_changed_in_place_keeps_the_users_ssh_keys() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINvxqTtf0RBAJn27pTStb2bx+yTkezj8maFkUq7gor0Y alice@laptop";
        let src = format!("users:\n  alice: {{ role: viewer, keys: [\"{key}\"] }}  # shift A\n");
        let change = UserChange { role: Some(Role::Operator), pin_hash: None };
        let out = edit_in_place(&src, "alice", &change).expect("in place");
        assert!(out.contains("# shift A"), "{out}");
        let f = parse(&out, Path::new("u.yaml")).unwrap();
        assert_eq!(f.users["alice"].role, Some(Role::Operator));
        assert_eq!(f.users["alice"].keys.len(), 1, "{out}");
    }

    #[test]
    fn an_empty_users_key_is_rewritten() {
        let src = "default_role: viewer\nusers:\n";
        let out = edit_in_place(src, "carol", &UserChange { role: None, pin_hash: Some(H2.into()) }).unwrap();
        assert!(parse(&out, Path::new("u.yaml")).is_err(), "a duplicate key, caught by the check");
        let mut model = UsersFile::default();
        model.users.insert("carol".into(), UserEntry { role: None, pin: Some(H2.into()), keys: Vec::new() });
        model.users.insert("x y\"z".into(), UserEntry { role: Some(Role::Admin), pin: None, keys: Vec::new() });
        assert_eq!(parse(&render("# header\n", &model), Path::new("u.yaml")).unwrap(), model);
    }
}
