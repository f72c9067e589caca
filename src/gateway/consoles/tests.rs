use super::*;
use crate::driver::sparkplug::command::public_line;
use ed25519_dalek::SigningKey;

fn line(n: u8) -> String {
    public_line(&SigningKey::from_bytes(&[n; 32]).verifying_key())
}

fn p(src: &str) -> Result<Consoles, String> {
    parse(src, Path::new("c.yaml")).map_err(|e| e.to_string())
}

#[test]
fn the_example_parses_in_file_order() {
    let src = format!(
        "control-room-1: {{ key: \"{}\", max_role: operator }}\nlaptop-7:       {{ key: \"{}\", max_role: viewer }}\n",
        line(1),
        line(2)
    );
    let c = p(&src).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.len(), 2);
    let room = c.get("control-room-1").expect("listed");
    assert_eq!(room.max_role, Role::Operator);
    assert_eq!(room.key, SigningKey::from_bytes(&[1; 32]).verifying_key());
    assert_eq!(c.get("laptop-7").map(|e| e.max_role), Some(Role::Viewer));
    assert_eq!(c.get("laptop-8"), None);
    assert_eq!(c.iter().map(|(h, _)| h).collect::<Vec<_>>(), ["control-room-1", "laptop-7"]);
    // Block style too.
    let block = format!("room:\n  key: {}\n  max_role: engineer\n", line(3));
    assert_eq!(p(&block).map(|c| c.get("room").map(|e| e.max_role)), Ok(Some(Role::Engineer)));
}

#[test]
fn an_empty_file_lists_no_console() {
    for src in ["", "# no consoles yet\n", "{}\n"] {
        assert_eq!(p(src).map(|c| c.len()), Ok(0), "{src:?}");
    }
}

#[test]
fn an_unknown_field_is_an_error_at_its_line() {
    let e = p(&format!("a: {{ key: \"{}\", max_role: operator, colour: red }}\n", line(1))).unwrap_err();
    assert!(e.starts_with("c.yaml:1:") && e.contains("unknown field `colour`") && e.contains("key, max_role"), "{e}");
}

#[test]
fn a_missing_field_is_an_error() {
    let e = p("a: { max_role: operator }\n").unwrap_err();
    assert!(e.starts_with("c.yaml:1:") && e.contains("key"), "{e}");
    let e = p(&format!("a: {{ key: \"{}\" }}\n", line(1))).unwrap_err();
    assert!(e.starts_with("c.yaml:1:") && e.contains("max_role"), "{e}");
}

#[test]
fn an_unknown_role_is_an_error_at_its_line() {
    let e = p(&format!(
        "a: {{ key: \"{}\", max_role: operator }}\nb: {{ key: \"{}\", max_role: boss }}\n",
        line(1),
        line(2)
    ))
    .unwrap_err();
    assert!(e.starts_with("c.yaml:2:"), "{e}");
    assert!(e.contains("unknown role `boss` (allowed roles: viewer, operator, engineer, admin)"), "{e}");
}

#[test]
fn a_bad_key_is_an_error_at_its_line_saying_what_to_paste() {
    let e = p("a: { key: \"ssh-ed25519 AAAA\", max_role: operator }\n").unwrap_err();
    assert_eq!(
        e,
        "c.yaml:1:11: the key of console `a` is not usable (the key line starts with `ssh-ed25519`, not \
         `ttyhmi-ed25519`; copy the line `ttyhmi key` prints); paste the line `ttyhmi key` prints on that console"
    );
    let e = p("a:\n  max_role: operator\n  key: ttyhmi-ed25519 AAAA\n").unwrap_err();
    assert!(e.starts_with("c.yaml:3:8: the key of console `a` is not usable (the key is 3 bytes, not 32)"), "{e}");
}

#[test]
fn a_host_id_written_twice_is_an_error() {
    let e = p(&format!(
        "a: {{ key: \"{}\", max_role: operator }}\na: {{ key: \"{}\", max_role: viewer }}\n",
        line(1),
        line(2)
    ))
    .unwrap_err();
    assert!(e.starts_with("c.yaml:2:1: `a` is written twice in the same mapping"), "{e}");
}

#[test]
fn invalid_host_ids_are_errors() {
    for (host, what) in
        [("\"a/b\"", "`/`"), ("\"a+b\"", "`+`"), ("\"a#b\"", "`#`"), ("\"a\\tb\"", "U+0009"), ("\"\"", "empty")]
    {
        let e = p(&format!(
            "x: {{ key: \"{}\", max_role: viewer }}\n{host}: {{ key: \"{}\", max_role: viewer }}\n",
            line(1),
            line(2)
        ))
        .unwrap_err();
        assert!(e.starts_with("c.yaml:2:"), "{host}: {e}");
        assert!(e.contains(what), "{host}: {e}");
        assert!(!e.contains('\t'), "{e:?}");
    }
    let mut c = Consoles::default();
    let entry = ConsoleEntry { key: SigningKey::from_bytes(&[1; 32]).verifying_key(), max_role: Role::Operator };
    assert!(c.insert("ok", entry.clone()).is_ok());
    assert_eq!(c.insert("ok", entry.clone()), Err("console `ok` is listed twice".into()));
    assert!(c.insert("a/b", entry).is_err());
}

#[test]
fn yaml_that_is_not_a_mapping_of_consoles_is_an_error() {
    assert!(p("- a\n- b\n").unwrap_err().starts_with("c.yaml:1:"));
    assert!(p("a: 5\n").unwrap_err().starts_with("c.yaml:1:"));
    assert!(p("a: {").is_err());
}

// ----- trust ---------------------------------------------------------------------------------

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("ttyhmi-consoles-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        chmod(&d, 0o755);
        TempDir(d)
    }

    fn file(&self, text: &str) -> PathBuf {
        let f = self.0.join("consoles.yaml");
        std::fs::write(&f, text).expect("write");
        chmod(&f, 0o644);
        f
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        chmod(&self.0, 0o755);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn me() -> u32 {
    nix::unistd::getuid().as_raw()
}

#[test]
fn a_file_owned_by_the_gateway_account_and_private_to_it_is_trusted() {
    let d = TempDir::new("ok");
    let f = d.file(&format!("room: {{ key: \"{}\", max_role: operator }}\n", line(1)));
    let c = load_trusted(&f, me()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.get("room").map(|e| e.max_role), Some(Role::Operator));
}

#[test]
fn a_file_writable_by_group_or_others_is_refused_with_the_fix() {
    let d = TempDir::new("writable");
    let f = d.file("");
    for (mode, who) in [(0o664, "its group"), (0o646, "others")] {
        chmod(&f, mode);
        let e = load_trusted(&f, me()).unwrap_err();
        assert!(matches!(e, ConsolesError::Untrusted { .. }), "{e:?}");
        let e = e.to_string();
        assert!(e.contains(&format!("consoles file {} is writable by {who} (mode {mode:04o})", f.display())), "{e}");
        assert!(e.contains(&format!("run `sudo chmod go-w {}`", f.display())), "{e}");
    }
}

#[test]
fn a_file_in_a_folder_writable_by_others_is_refused() {
    let d = TempDir::new("folder");
    let f = d.file("");
    chmod(&d.0, 0o777);
    let e = load_trusted(&f, me()).unwrap_err().to_string();
    assert!(e.contains(&format!("is in folder {}, which is writable by others", d.0.display())), "{e}");
    assert!(e.contains(&format!("sudo chmod go-w {}", d.0.display())), "{e}");
}

#[test]
fn a_file_owned_by_someone_else_is_refused_with_the_fix() {
    let d = TempDir::new("foreign");
    let f = d.file("");
    // As root, give the file to a stranger; otherwise run the gateway as a stranger.
    let (owner, process) = if me() == 0 {
        std::os::unix::fs::chown(&f, Some(4242), None).expect("chown");
        std::os::unix::fs::chown(&d.0, Some(4242), None).expect("chown");
        (4242, 0)
    } else {
        (me(), me() + 1)
    };
    if process == 0 {
        // Root's gateway is given a file owned by uid 4242: refused.
        let e = load_trusted(&f, 0).unwrap_err().to_string();
        assert!(e.contains(&format!("consoles file {} is owned by uid {owner}", f.display())), "{e}");
        assert!(e.contains("come only from a consoles file owned by root"), "{e}");
        assert!(e.contains(&format!("run `sudo chown root: {}`", f.display())), "{e}");
    } else {
        let e = load_trusted(&f, process).unwrap_err().to_string();
        assert!(e.contains(&format!("is owned by uid {owner}")), "{e}");
        assert!(e.contains("or by the account this gateway runs as"), "{e}");
    }
}

#[test]
fn a_missing_file_a_folder_and_a_fifo_are_read_errors() {
    let d = TempDir::new("kinds");
    let e = load_trusted(&d.0.join("nope.yaml"), me()).unwrap_err().to_string();
    assert!(e.starts_with(&format!("cannot read consoles file {}", d.0.join("nope.yaml").display())), "{e}");
    let e = load_trusted(&d.0, me()).unwrap_err().to_string();
    assert!(e.contains("this is a folder, not a regular file"), "{e}");
    let fifo = d.0.join("fifo.yaml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("fifo");
    let e = load_trusted(&fifo, me()).unwrap_err().to_string();
    assert!(e.contains("FIFO"), "{e}");
}

#[test]
fn a_huge_or_binary_file_is_refused() {
    let d = TempDir::new("huge");
    let f = d.file("");
    std::fs::write(&f, vec![b'#'; (MAX_CONSOLES_FILE_BYTES + 1) as usize]).expect("write");
    let e = load_trusted(&f, me()).unwrap_err().to_string();
    assert!(e.contains("larger than 1 MiB"), "{e}");
    std::fs::write(&f, b"a: \xff\n").expect("write");
    let e = load_trusted(&f, me()).unwrap_err().to_string();
    assert!(e.contains("not UTF-8"), "{e}");
}
