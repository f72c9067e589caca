//! The users file on a real file system: where it is, when it is trusted and how far, what a
//! malformed one does, PINs, and `passwd` editing it. Some tests change owners and so need root;
//! as another user they say so and check nothing else.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ttyhmi::auth::{
    AuthError, Identity, Person, PinGuard, Role, RoleSource, UserChange, UsersFiles, check_pin_rules, describe,
    hash_pin, load, prepare_edit, resolve, role_hint, set_pin, set_user, verify_pin,
};

/// A fresh folder (mode 0755) removed at the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ttyhmi-auth-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        chmod(&dir, 0o755);
        TempDir(dir)
    }

    /// Writes `name` with `text` and mode 0644.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        chmod(&p, 0o644);
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    nix::unistd::getuid().is_root()
}

fn me() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// A uid that is neither root nor the invoking user.
const STRANGER: u32 = 4242;
/// The uid of a service account a console runs as for other people.
const SERVICE: u32 = 4343;

/// `user` (with the uid of whoever runs the tests) at a console of their own, roles from `file`.
fn resolve_file(user: &str, file: &Path) -> Identity {
    resolve_as(user, me(), me(), Some(file), None)
}

/// `user` with uid `uid` at a console running as `process`, under these files.
fn resolve_as(user: &str, uid: u32, process: u32, roles: Option<&Path>, personal: Option<&Path>) -> Identity {
    let person = Person { name: user.into(), uid: Some(uid) };
    let files = UsersFiles { roles: roles.map(Path::to_path_buf), personal: personal.map(Path::to_path_buf) };
    resolve(&person, process, &files)
}

const SAMPLE: &str = "\
default_role: viewer
users:
  alice: { role: operator, pin: \"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\" }   # PHC
  bob:   { role: engineer }
  dave:  { pin: \"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\" }
";

fn untrusted_reason(id: &Identity) -> String {
    assert_eq!(id.role, Role::Viewer, "{id:?}");
    assert_eq!(id.pin_hash, None);
    match &id.source {
        RoleSource::Untrusted { reason, .. } => reason.clone(),
        other => panic!("expected an untrusted file, got {other:?}"),
    }
}

#[test]
fn the_example_users_file_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/users.example.yaml");
    let users = load(&path).unwrap();
    assert_eq!(users.default_role, Role::Viewer);
    assert_eq!(users.role_of("alice"), Role::Operator);
    assert_eq!(users.role_of("bob"), Role::Engineer);
    assert_eq!(users.role_of("carol"), Role::Admin);
    assert_eq!(users.role_of("mallory"), Role::Viewer);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("ttyhmi passwd USER"), "the example says how to set PINs");
}

#[test]
fn a_trusted_file_gives_roles_and_pins() {
    let dir = TempDir::new("trusted");
    let file = dir.file("users.yaml", SAMPLE);
    let alice = resolve_file("alice", &file);
    assert_eq!(alice.role, Role::Operator);
    assert_eq!(alice.source, RoleSource::UsersFile { path: file.clone() });
    assert!(alice.pin_hash.as_deref().unwrap().starts_with("$argon2id$"));
    assert_eq!(alice.warning(), None);
    assert_eq!(describe(&alice), format!("alice: operator (users file {})", file.display()));

    let bob = resolve_file("bob", &file);
    assert_eq!((bob.role, bob.pin_hash), (Role::Engineer, None));

    // Listed without a role: default_role, but the PIN counts.
    let dave = resolve_file("dave", &file);
    assert_eq!(dave.role, Role::Viewer);
    assert_eq!(dave.source, RoleSource::DefaultRole { path: file.clone() });
    assert!(dave.pin_hash.is_some());

    let eve = resolve_file("eve", &file);
    assert_eq!((eve.role, &eve.pin_hash), (Role::Viewer, &None));
    assert_eq!(describe(&eve), format!("eve: viewer (default_role of users file {})", file.display()));

    assert_eq!(resolve_as("alice", me(), me(), None, None).source, RoleSource::NoUsersFile);
}

#[test]
fn a_file_writable_by_others_makes_everyone_a_viewer() {
    let dir = TempDir::new("file0666");
    let file = dir.file("users.yaml", SAMPLE);
    chmod(&file, 0o666);
    let id = resolve_file("alice", &file);
    let reason = untrusted_reason(&id);
    assert_eq!(reason, format!("users file {} is writable by others (mode 0666)", file.display()));
    assert_eq!(
        id.warning().unwrap(),
        format!("users file {} is writable by others (mode 0666): everyone is a viewer", file.display())
    );

    chmod(&file, 0o664);
    let reason = untrusted_reason(&resolve_file("alice", &file));
    assert_eq!(reason, format!("users file {} is writable by its group (mode 0664)", file.display()));

    chmod(&file, 0o600);
    assert_eq!(resolve_file("alice", &file).role, Role::Operator);
}

#[test]
fn a_folder_writable_by_others_makes_everyone_a_viewer() {
    let dir = TempDir::new("dir0777");
    let file = dir.file("users.yaml", SAMPLE);
    chmod(&dir.0, 0o777);
    let reason = untrusted_reason(&resolve_file("alice", &file));
    assert_eq!(
        reason,
        format!(
            "users file {} is in folder {}, which is writable by others (mode 0777)",
            file.display(),
            dir.0.display()
        )
    );
    // The sticky bit does not excuse the file's own folder.
    chmod(&dir.0, 0o1777);
    untrusted_reason(&resolve_file("alice", &file));
    chmod(&dir.0, 0o755);
    assert_eq!(resolve_file("alice", &file).role, Role::Operator);
}

#[test]
fn a_file_owned_by_someone_else_is_untrusted() {
    if !is_root() {
        eprintln!("skipped: changing owners needs root");
        return;
    }
    let dir = TempDir::new("owner");
    let file = dir.file("users.yaml", SAMPLE);
    std::os::unix::fs::chown(&file, Some(STRANGER), None).unwrap();
    let id = resolve_file("alice", &file);
    let reason = untrusted_reason(&id);
    assert_eq!(
        reason,
        format!(
            "users file {} is owned by uid {STRANGER}: roles come only from a users file owned by root",
            file.display()
        )
    );
    assert_eq!(role_hint(&id).unwrap(), format!("ask an administrator to run `sudo chown root: {}`", file.display()));
    // For its owner, at a console of their own, it can only lower: a viewer.
    let own = resolve_as("alice", STRANGER, STRANGER, Some(&file), None);
    assert_eq!((own.role, own.source), (Role::Viewer, RoleSource::OwnFile { path: file.clone() }));

    // A folder owned by someone other than root or the file's owner.
    std::os::unix::fs::chown(&file, Some(0), None).unwrap();
    std::os::unix::fs::chown(&dir.0, Some(STRANGER), None).unwrap();
    let reason = untrusted_reason(&resolve_file("alice", &file));
    assert!(
        reason.contains(&format!("is in folder {}, which is owned by uid {STRANGER}", dir.0.display())),
        "{reason}"
    );
}

#[test]
fn a_link_is_checked_where_it_points() {
    let dir = TempDir::new("link");
    std::fs::create_dir(dir.0.join("real")).unwrap();
    chmod(&dir.0.join("real"), 0o755);
    let target = dir.file("real/users.yaml", SAMPLE);
    let link = dir.0.join("users.yaml");
    symlink(&target, &link).unwrap();
    assert_eq!(resolve_file("alice", &link).role, Role::Operator);
    chmod(&target, 0o646);
    untrusted_reason(&resolve_file("alice", &link));
}

#[test]
fn a_malformed_file_makes_everyone_a_viewer_with_a_clear_error() {
    let dir = TempDir::new("malformed");
    let file = dir.file("users.yaml", "default_role: viewer\nusers:\n  alice: { role: operator\n");
    let id = resolve_file("alice", &file);
    assert_eq!((id.role, &id.pin_hash), (Role::Viewer, &None));
    let RoleSource::Malformed { reason, .. } = &id.source else { panic!("{id:?}") };
    assert!(reason.starts_with(&format!("users file {}:", file.display())), "{reason}");
    assert!(id.warning().unwrap().ends_with(": everyone is a viewer"));

    let file = dir.file("typo.yaml", "default_role: viewer\nuser:\n  alice: { role: operator }\n");
    let RoleSource::Malformed { reason, .. } = resolve_file("alice", &file).source else { panic!() };
    assert_eq!(
        reason,
        format!(
            "users file {}:2:1: unknown field `user` (allowed here: default_role, users) (remove it, or fix its name)",
            file.display()
        )
    );

    let file = dir.file("binary.yaml", "");
    std::fs::write(&file, [0xffu8, 0xfe, 0x00]).unwrap();
    assert!(matches!(resolve_file("alice", &file).source, RoleSource::Unreadable { .. }));
}

#[test]
fn an_unknown_role_is_an_error_naming_the_line_and_the_roles() {
    let dir = TempDir::new("role");
    let file =
        dir.file("users.yaml", "default_role: viewer\nusers:\n  alice: { role: operator }\n  bob: { role: boss }\n");
    let id = resolve_file("alice", &file);
    assert_eq!(id.role, Role::Viewer, "one bad entry spoils the whole file");
    assert_eq!(
        id.warning().unwrap(),
        format!(
            "users file {}:4:16: unknown role `boss` (allowed roles: viewer, operator, engineer, admin): everyone is a \
             viewer",
            file.display()
        )
    );
    let err = load(&file).unwrap_err();
    assert!(matches!(err, AuthError::Syntax { line: 4, .. }), "{err:?}");
}

#[test]
fn pin_hash_and_verify() {
    let hash = hash_pin("204816").unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert!(verify_pin(&hash, "204816"));
    assert!(!verify_pin(&hash, "204817"));
    assert!(!verify_pin(&hash, ""));
    assert!(!verify_pin("not a hash", "204816"));
    assert_ne!(hash_pin("204816").unwrap(), hash, "a fresh salt each time");

    for bad in ["", "123", &"7".repeat(33)] {
        let err = hash_pin(bad).unwrap_err();
        assert!(matches!(err, AuthError::PinRules(_)));
        assert_eq!(err.to_string(), format!("a PIN has 4 to 32 characters; this one has {}", bad.chars().count()));
        assert!(check_pin_rules(bad).is_err());
    }
}

#[test]
fn five_wrong_pins_lock_writing_for_five_minutes() {
    let id = Identity::demo("alice", "4711").unwrap();
    assert_eq!((id.role, &id.source), (Role::Operator, &RoleSource::Demo));
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
    let mut guard = PinGuard::new();
    for i in 0..5 {
        let now = t0 + Duration::from_secs(i);
        assert!(guard.check(now).is_ok());
        let wrong = if i % 2 == 0 { "0000" } else { "12" };
        assert!(!id.verify_pin(wrong));
        let lock = guard.record_failure(now);
        assert_eq!(lock.is_some(), i == 4);
    }
    let locked = guard.check(t0 + Duration::from_secs(60)).unwrap_err();
    assert_eq!(locked.until, t0 + Duration::from_secs(4 + 300));
    assert!(guard.check(t0 + Duration::from_secs(303)).is_err());
    assert!(guard.check(t0 + Duration::from_secs(304)).is_ok());
    assert!(id.verify_pin("4711"));
    guard.record_success();
    assert_eq!(guard.attempts_left(t0 + Duration::from_secs(305)), 5);
}

#[test]
fn set_pin_keeps_other_users_comments_mode_and_owner() {
    let dir = TempDir::new("passwd");
    let file = dir.file("users.yaml", &format!("# plant users\n{SAMPLE}"));
    chmod(&file, 0o640);
    if is_root() {
        std::os::unix::fs::chown(&file, Some(STRANGER), Some(STRANGER)).unwrap();
    }
    let before = std::fs::metadata(&file).unwrap();
    // Held open, the original inode cannot be reused by the replacement: its number proves a rename.
    let _original = std::fs::File::open(&file).unwrap();

    set_pin(&file, "bob", "bob-1234").unwrap();
    set_pin(&file, "alice", "alice-99").unwrap();
    set_pin(&file, "carol", "carol-77").unwrap();

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# plant users\n") && text.contains("# PHC"), "comments kept:\n{text}");
    let users = load(&file).unwrap();
    assert_eq!(users.users.len(), 4);
    assert_eq!(users.role_of("alice"), Role::Operator);
    assert_eq!(users.role_of("bob"), Role::Engineer);
    assert_eq!(users.role_of("carol"), Role::Viewer, "a PIN grants no role");
    assert_eq!(
        users.users["dave"].pin.as_deref(),
        Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
    );
    assert!(verify_pin(users.users["bob"].pin.as_deref().unwrap(), "bob-1234"));
    assert!(verify_pin(users.users["alice"].pin.as_deref().unwrap(), "alice-99"));
    assert!(verify_pin(users.users["carol"].pin.as_deref().unwrap(), "carol-77"));

    let after = std::fs::metadata(&file).unwrap();
    assert_eq!(after.mode() & 0o7777, 0o640);
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    assert_ne!(after.ino(), before.ino(), "replaced by rename, not rewritten in place");
    let leftovers: Vec<_> = std::fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("users.yaml")], "no temporary file left");
}

#[test]
fn set_pin_creates_a_missing_file_that_is_not_writable_by_others() {
    let dir = TempDir::new("create");
    let file = dir.0.join("etc/ttyhmi/users.yaml");
    set_pin(&file, "alice", "2468").unwrap();
    let users = load(&file).unwrap();
    assert_eq!(users.default_role, Role::Viewer);
    assert!(verify_pin(users.users["alice"].pin.as_deref().unwrap(), "2468"));
    let mode = std::fs::metadata(&file).unwrap().mode() & 0o7777;
    assert_eq!(mode, if is_root() { 0o644 } else { 0o600 });
    assert_eq!(std::fs::metadata(dir.0.join("etc/ttyhmi")).unwrap().mode() & 0o777, 0o755);
    // The new file is trusted as it is.
    assert_eq!(resolve_file("alice", &file).source, RoleSource::DefaultRole { path: file });
}

#[test]
fn set_pin_refuses_files_writable_by_others_and_bad_pins() {
    let dir = TempDir::new("refuse");
    let file = dir.file("users.yaml", SAMPLE);
    chmod(&file, 0o666);
    let err = set_pin(&file, "bob", "1357").unwrap_err().to_string();
    assert!(err.contains("is writable by others (mode 0666); nothing was changed"), "{err}");
    chmod(&file, 0o644);
    chmod(&dir.0, 0o777);
    assert!(set_pin(&file, "bob", "1357").is_err());
    assert!(set_pin(&dir.0.join("new.yaml"), "bob", "1357").is_err(), "no new file in a folder others can write");
    assert!(!dir.0.join("new.yaml").exists());
    chmod(&dir.0, 0o755);

    assert!(matches!(set_pin(&file, "bob", "135"), Err(AuthError::PinRules(_))));
    assert!(matches!(set_pin(&file, "", "1357"), Err(AuthError::BadUserName(_))));
    let broken = dir.file("broken.yaml", "users:\n  bob: { role: chief }\n");
    assert!(matches!(set_pin(&broken, "bob", "1357"), Err(AuthError::Syntax { line: 2, .. })));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), SAMPLE, "nothing changed");
}

/// Runs `f` on a thread of its own and fails the test if it has not returned after half a
/// minute: a users file that blocks (a FIFO nobody writes to) would hang the console forever.
fn must_not_hang<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("{what} hangs"))
}

/// Issue 12, item 21: a FIFO or a device as the users file is refused at once, unread.
#[test]
fn a_fifo_or_a_device_as_users_file_is_refused_without_blocking() {
    let dir = TempDir::new("fifo");
    let fifo = dir.0.join("users.yaml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    for path in [fifo.clone(), PathBuf::from("/dev/zero")] {
        let p = path.clone();
        let id = must_not_hang("resolving the users file", move || resolve_file("alice", &p));
        assert_eq!((id.role, &id.pin_hash), (Role::Viewer, &None), "{path:?}");
        let warning = id.warning().unwrap();
        assert!(warning.contains("not a regular file"), "{warning}");
        let p = path.clone();
        let e = must_not_hang("loading the users file", move || load(&p)).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let p = path.clone();
        let e = must_not_hang("passwd", move || set_pin(&p, "alice", "2468")).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "still the FIFO");
}

/// A folder owned by `uid` holding `users.yaml` (also owned by `uid`) with `text`.
fn owned_file(dir: &TempDir, sub: &str, uid: u32, text: &str) -> PathBuf {
    let folder = dir.0.join(sub);
    std::fs::create_dir(&folder).unwrap();
    chmod(&folder, 0o755);
    let file = dir.file(&format!("{sub}/users.yaml"), text);
    std::os::unix::fs::chown(&folder, Some(uid), None).unwrap();
    std::os::unix::fs::chown(&file, Some(uid), None).unwrap();
    file
}

/// Issue 12, item 16: a users file one can write oneself gives no role, whatever it says.
#[test]
fn a_users_file_of_ones_own_grants_no_role() {
    if !is_root() {
        eprintln!("skipped: changing owners needs root");
        return;
    }
    let dir = TempDir::new("own-file");
    let pin = hash_pin("1111").unwrap();
    let file = owned_file(&dir, "home", STRANGER, &format!("users:\n  mallory: {{ role: admin, pin: \"{pin}\" }}\n"));
    // `--users` naming it, at mallory's own console.
    let id = resolve_as("mallory", STRANGER, STRANGER, Some(&file), None);
    assert_eq!((id.role, &id.pin_hash), (Role::Viewer, &None), "{id:?}");
    assert_eq!(id.source, RoleSource::OwnFile { path: file.clone() });
    let warning = id.warning().unwrap();
    assert!(warning.contains("is yours: it can lower your role, not raise it"), "{warning}");
    assert_eq!(role_hint(&id).unwrap(), "ask an administrator to run `sudo ttyhmi passwd mallory --role operator`");
    // The same file as the per-user file, with no roles file: a viewer too.
    let id = resolve_as("mallory", STRANGER, STRANGER, None, Some(&file));
    assert_eq!((id.role, &id.pin_hash), (Role::Viewer, &None));
    assert_eq!(
        describe(&id),
        format!(
            "mallory: viewer (users file {} is yours: it can lower your role, not raise it; roles come only from a \
             users file owned by root such as /etc/ttyhmi/users.yaml: mallory is a viewer)",
            file.display()
        )
    );
}

/// Issue 12, item 16: a console running as a service account for other people believes the
/// service account's file; the service account itself gets no role from it.
#[test]
fn a_service_accounts_file_grants_roles_to_the_people_it_serves() {
    if !is_root() {
        eprintln!("skipped: changing owners needs root");
        return;
    }
    let dir = TempDir::new("service");
    let file = owned_file(&dir, "srv", SERVICE, "users:\n  alice: { role: operator }\n  ttyhmi: { role: admin }\n");
    let alice = resolve_as("alice", 1000, SERVICE, Some(&file), None);
    assert_eq!((alice.role, &alice.source), (Role::Operator, &RoleSource::UsersFile { path: file.clone() }));
    // A person known by an SSH key only, without a local account.
    let person = Person { name: "alice".into(), uid: None };
    let files = UsersFiles { roles: Some(file.clone()), personal: None };
    assert_eq!(resolve(&person, SERVICE, &files).role, Role::Operator);
    let itself = resolve_as("ttyhmi", SERVICE, SERVICE, Some(&file), None);
    assert_eq!(itself.role, Role::Viewer);
    // Another account's console does not believe it.
    untrusted_reason(&resolve_as("alice", 1000, 1000, Some(&file), None));
}

/// Issue 12, item 16: the per-user file lowers a role, never raises it; PINs come only from
/// the roles file; a broken per-user file makes a viewer.
#[test]
fn the_per_user_file_can_lower_a_role_never_raise_it() {
    let dir = TempDir::new("lower");
    let roles = dir.file("users.yaml", SAMPLE);
    let own = |name: &str, text: &str| dir.file(name, text);
    let pin = hash_pin("2222").unwrap();

    let lower = own("lower.yaml", "users:\n  alice: { role: viewer }\n  bob: { role: operator }\n");
    let alice = resolve_as("alice", me(), me(), Some(&roles), Some(&lower));
    assert_eq!(alice.role, Role::Viewer);
    assert_eq!(
        alice.source,
        RoleSource::Lowered { path: roles.clone(), personal: lower.clone(), from: Role::Operator }
    );
    assert_eq!(alice.warning(), None);
    assert!(role_hint(&alice).unwrap().contains("lowers your role from operator"));
    let bob = resolve_as("bob", me(), me(), Some(&roles), Some(&lower));
    assert_eq!(bob.role, Role::Operator, "engineer lowered to operator");
    assert!(describe(&bob).contains("gives engineer; your own users file"), "{}", describe(&bob));

    let raise = own("raise.yaml", &format!("default_role: admin\nusers:\n  dave: {{ role: admin, pin: \"{pin}\" }}\n"));
    for user in ["alice", "bob", "dave", "eve"] {
        let plain = resolve_file(user, &roles);
        let with_own = resolve_as(user, me(), me(), Some(&roles), Some(&raise));
        assert_eq!(with_own, plain, "{user}: an own file cannot raise a role, nor bring a PIN");
    }

    let broken = own("broken.yaml", "users:\n  alice: { role: boss }\n");
    let id = resolve_as("alice", me(), me(), Some(&roles), Some(&broken));
    assert_eq!((id.role, &id.pin_hash), (Role::Viewer, &None));
    assert!(matches!(id.source, RoleSource::OwnFileBroken { .. }), "{id:?}");
    assert!(id.warning().unwrap().ends_with("so alice is a viewer until it is fixed"), "{:?}", id.warning());
}

/// Text from a users file (quoted in an error) is cleaned before anyone shows it.
#[test]
fn a_users_file_cannot_put_escapes_on_the_screen() {
    let dir = TempDir::new("escapes");
    for (i, text) in [
        "users:\n  alice: { role: \"\\e]0;owned\\a\\e[2J\" }\n",
        "users:\n  alice: { \"\\e[2Jrole\": operator }\n",
        "\"\\e[2J\u{202e}x\": 1\n",
        "users:\n  alice: { role: operator, pin: \"\\e[2J\" }\n",
    ]
    .into_iter()
    .enumerate()
    {
        let file = dir.file(&format!("u{i}.yaml"), text);
        let raw = load(&file).unwrap_err().to_string();
        let id = resolve_file("alice", &file);
        let shown = [id.warning().unwrap(), describe(&id), role_hint(&id).unwrap()].join("\n");
        assert!(i == 3 || shown.contains("2J"), "the quoted text is shown, escaped: {shown}");
        assert!(
            !shown.chars().any(|c| ttyhmi::sanitize::is_unsafe(c) && c != '\n'),
            "{text}: {shown:?} (raw: {raw:?})"
        );
    }
}

/// Issue 12, item 10: `passwd --role` sets a role, with or without a PIN, keeping the file's
/// comments; a hash the checks refuse can be replaced.
#[test]
fn set_user_sets_a_role_and_replaces_an_unusable_pin() {
    let dir = TempDir::new("set-role");
    let weak = "$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    let file = dir.file("users.yaml", &format!("# plant\n{SAMPLE}  carol: {{ pin: \"{weak}\" }}  # old hash\n"));
    assert!(load(&file).is_err(), "the weak hash spoils the file");
    let before = prepare_edit(&file, "carol", Some(Role::Operator)).unwrap().unwrap();
    assert_eq!(before.role_of("carol"), Role::Viewer);

    let hash = hash_pin("carol-42").unwrap();
    set_user(&file, "carol", &UserChange { role: Some(Role::Operator), pin_hash: Some(hash) }).unwrap();
    set_user(&file, "dave", &UserChange { role: Some(Role::Engineer), pin_hash: None }).unwrap();
    let users = load(&file).unwrap();
    assert_eq!(users.role_of("carol"), Role::Operator);
    assert!(verify_pin(users.users["carol"].pin.as_deref().unwrap(), "carol-42"));
    assert_eq!(users.role_of("dave"), Role::Engineer);
    assert_eq!(
        users.users["dave"].pin.as_deref(),
        load(&dir.file("s.yaml", SAMPLE)).unwrap().users["dave"].pin.as_deref(),
        "PIN kept"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# plant\n") && text.contains("# old hash") && text.contains("# PHC"), "{text}");
    assert_eq!(resolve_file("carol", &file).role, Role::Operator);
}

/// Issue 12, item 10: `passwd` refuses before asking anything when this account cannot change
/// the file.
#[test]
fn prepare_edit_refuses_a_file_this_account_cannot_change() {
    let dir = TempDir::new("prepare");
    let file = dir.file("users.yaml", SAMPLE);
    assert!(prepare_edit(&file, "alice", None).unwrap().is_some());
    assert_eq!(prepare_edit(&dir.0.join("new.yaml"), "alice", None).unwrap(), None);
    chmod(&file, 0o666);
    let e = prepare_edit(&file, "alice", None).unwrap_err().to_string();
    assert!(e.contains("writable by others"), "{e}");
    chmod(&file, 0o644);
    let broken = dir.file("broken.yaml", "users: [\n");
    assert!(matches!(prepare_edit(&broken, "alice", None), Err(AuthError::Syntax { .. })));
    assert!(matches!(prepare_edit(&file, "", None), Err(AuthError::BadUserName(_))));
    // As another account (the binary run as another uid): see tests/cli.rs.
}
