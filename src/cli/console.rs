//! The options of a console (`run` and `demo`), built in one place.

use std::path::PathBuf;

use crate::auth;
use crate::driver::spawn::DriverOptions;
use crate::front::local::ConsoleOptions;
use crate::paths;

/// What a console command decides; everything else of [`ConsoleOptions`] follows from it.
pub(super) struct Console {
    pub(super) identity: auth::Identity,
    /// `--read-only`
    pub(super) read_only: bool,
    /// `--no-color`
    pub(super) no_color: bool,
    pub(super) utc_offset: time::UtcOffset,
    pub(super) audit_path: PathBuf,
    pub(super) journal_path: PathBuf,
    /// The PIN lockouts, kept across a restart.
    pub(super) lockouts_path: PathBuf,
    /// The PKI folder of the OPC UA connections.
    pub(super) pki: PathBuf,
    /// The PIN shown in the status bar (the demo's operator only).
    pub(super) demo_pin: Option<String>,
    /// The key that signs this console's Sparkplug commands.
    pub(super) command_key: PathBuf,
}

impl Console {
    pub(super) fn options(self) -> ConsoleOptions {
        // Structurally: a viewer's or a read-only console's drivers get no write inbox.
        let writable = !self.read_only && self.identity.role.at_least(auth::Role::Operator);
        ConsoleOptions {
            read_only: self.read_only,
            identity: self.identity,
            audit_path: self.audit_path,
            journal_path: self.journal_path,
            lockouts_path: self.lockouts_path,
            export_dir: paths::state_dir().join("exports"),
            demo_pin: self.demo_pin,
            color: color(self.no_color),
            utc_offset: self.utc_offset,
            drivers: DriverOptions {
                poll_override: None,
                pki: self.pki,
                writable,
                command_key: Some(self.command_key),
            },
        }
    }
}

/// Colour unless `--no-color` or a non-empty `NO_COLOR` says otherwise.
fn color(no_color: bool) -> bool {
    !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Identity, Role, RoleSource};

    fn console(role: Role, read_only: bool, no_color: bool) -> ConsoleOptions {
        Console {
            identity: Identity { user: "ann".into(), role, source: RoleSource::NoUsersFile, pin_hash: None },
            read_only,
            no_color,
            utc_offset: time::UtcOffset::UTC,
            audit_path: "a.jsonl".into(),
            journal_path: "j.jsonl".into(),
            lockouts_path: "l.json".into(),
            pki: "pki".into(),
            demo_pin: None,
            command_key: "k".into(),
        }
        .options()
    }

    #[test]
    fn only_an_operator_or_above_without_read_only_gets_a_write_inbox() {
        for role in [Role::Viewer, Role::Operator, Role::Engineer, Role::Admin] {
            for read_only in [false, true] {
                let o = console(role, read_only, false);
                let want = role != Role::Viewer && !read_only;
                assert_eq!(o.drivers.writable, want, "{role:?} read_only={read_only}");
                assert_eq!(o.read_only, read_only);
                assert_eq!(o.identity.user, "ann");
                assert_eq!(o.identity.role, role);
            }
        }
    }

    #[test]
    fn the_paths_given_are_the_paths_used() {
        let o = console(Role::Operator, false, true);
        assert!(!o.color);
        assert_eq!(o.audit_path, PathBuf::from("a.jsonl"));
        assert_eq!(o.journal_path, PathBuf::from("j.jsonl"));
        assert_eq!(o.lockouts_path, PathBuf::from("l.json"));
        assert_eq!(o.drivers.pki, PathBuf::from("pki"));
        assert_eq!(o.drivers.poll_override, None);
        assert_eq!(o.export_dir, paths::state_dir().join("exports"));
    }
}
