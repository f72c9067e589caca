//! `ttyhmi passwd` and `ttyhmi whoami`: the users file, and who you are to the console.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use crate::auth;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  sudo ttyhmi passwd alice --role operator\n  sudo ttyhmi passwd bob --role viewer --role-only"
)]
pub(super) struct PasswdArgs {
    /// The account name, as the console knows it (the OS login).
    user: String,
    /// Also set the user's role: viewer, operator, engineer or admin.
    #[arg(long, value_parser = role_arg)]
    role: Option<auth::Role>,
    /// Set only the role (with --role): ask for no PIN, keep the user's PIN as it is.
    #[arg(long, requires = "role")]
    role_only: bool,
    /// The users file to change (default /etc/ttyhmi/users.yaml).
    #[arg(long, value_name = "PATH")]
    users: Option<PathBuf>,
}

#[derive(clap::Args)]
#[command(after_help = "Example: ttyhmi whoami --users ./users.yaml")]
pub(super) struct WhoamiArgs {
    /// The users file roles come from (default /etc/ttyhmi/users.yaml), as for `run`.
    #[arg(long, value_name = "PATH")]
    users: Option<PathBuf>,
}

fn role_arg(s: &str) -> Result<auth::Role, String> {
    s.parse().map_err(|e: auth::UnknownRole| e.to_string())
}

/// `ttyhmi whoami`: the identity, and how to get a role.
pub(super) fn whoami(args: WhoamiArgs) -> Result<ExitCode> {
    let id = auth::identify(args.users.as_deref());
    say!("{}", auth::describe(&id));
    if let Some(hint) = auth::role_hint(&id) {
        say!("to get a role: {hint}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `ttyhmi passwd USER [--role ROLE] [--role-only] [--users PATH]`: checks that the file can be
/// changed before asking for anything, shows the role before and after, and says when the result
/// still gives no role.
pub(super) fn passwd(args: PasswdArgs) -> Result<ExitCode> {
    let PasswdArgs { user, role, role_only, users } = args;
    let user = user.as_str();
    let file = auth::passwd_target(users.as_deref());
    let shown = file.display();
    let before = auth::prepare_edit(&file, user, role).map_err(anyhow::Error::msg)?;
    let (was, whence) = match &before {
        Some(f) if f.users.get(user).is_some_and(|e| e.role.is_some()) => (f.role_of(user), "its entry"),
        Some(f) => (f.role_of(user), "default_role"),
        None => (auth::Role::Viewer, "the file does not exist yet"),
    };
    say!("{user}: {was} in {shown} ({whence})");
    let pin_hash = match role_only {
        true => None,
        false => {
            let pin = auth::prompt_new_pin(user).map_err(anyhow::Error::msg)?;
            Some(auth::hash_pin(&pin).map_err(anyhow::Error::msg)?)
        }
    };
    let change = auth::UserChange { role, pin_hash };
    auth::set_user(&file, user, &change).map_err(anyhow::Error::msg)?;
    let now = role.unwrap_or(was);
    let pin = if change.pin_hash.is_some() { "PIN set" } else { "PIN unchanged" };
    match role {
        Some(r) if r != was => say!("{user}: now {r} (was {was}); {pin} in {shown}"),
        _ => say!("{user}: still {now}; {pin} in {shown}"),
    }
    if now == auth::Role::Viewer {
        say!(
            "{user} is a viewer and cannot write: give a role with `{} --role-only`",
            auth::passwd_command(user, Some(auth::Role::Operator), Some(&file))
        );
    }
    if let Err(e) = auth::load(&file) {
        say!("note: until this is fixed, the file gives nobody a role: {e}");
    }
    passwd_ownership_note(&file);
    Ok(ExitCode::SUCCESS)
}

/// Roles come only from a file owned by root (or by a console's service account, for others):
/// says so when the file just written is owned by someone else.
fn passwd_ownership_note(file: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(file) else { return };
    if meta.uid() != 0 {
        say!(
            "note: {} is owned by uid {}, not root: at a console run by that account it can only lower that \
             account's own role; roles come from a users file owned by root (or, for other people, by the service \
             account their console runs as)",
            file.display(),
            meta.uid()
        );
    }
}
