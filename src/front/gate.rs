//! Who connects to a console server, and as whom: the SSH key a user logs in with (listed under
//! that user in the users file), or the peer credentials of the attach socket. Never what a
//! client says about itself. The users file is read at each login, under the same ownership
//! rules as a console's (`auth::load_trusted`): a file anyone else can write trusts no key.

use std::path::PathBuf;

use crate::audit::Actor;
use crate::auth::{self, Identity, PublicKey, Standing, UsersFiles};
use crate::session::state::Person;

/// How a server's sessions are made.
#[derive(Clone, Debug)]
pub struct Gate {
    /// The users file (`--users`, else the system one if it exists).
    pub users: Option<PathBuf>,
    /// The account the server runs as.
    pub process_uid: u32,
    /// This machine's name, for audit records.
    pub host: String,
    /// Every session is read-only (`--read-only`).
    pub read_only: bool,
    pub utc_offset: time::UtcOffset,
}

/// How a terminal asked to be shown.
#[derive(Clone, Debug, Default)]
pub struct Looks {
    /// The client's `TERM` (`dumb` gets no colour).
    pub term: String,
    /// The client sent a non-empty `NO_COLOR`.
    pub no_color: bool,
}

impl Looks {
    pub fn color(&self) -> bool {
        !self.no_color && self.term != "dumb"
    }
}

impl Gate {
    /// The identity of the SSH login `login` with `key`, or why it is refused. The key must be
    /// listed under `login` itself in a trusted users file.
    pub fn key_login(&self, login: &str, key: &PublicKey) -> Result<Identity, String> {
        let Some(path) = &self.users else {
            return Err("no users file: SSH keys are listed per user in one (--users)".into());
        };
        let (users, standing) = auth::load_trusted(path, None, self.process_uid).map_err(|e| e.to_string())?;
        if standing != Standing::Grants {
            return Err(format!("users file {} is not owned by root or the server's account", path.display()));
        }
        let listed = users.users.get(login).is_some_and(|e| e.keys.iter().any(|k| k.same_key(key)));
        if !listed {
            return Err(match users.user_of_key(key) {
                Some(other) => format!("the key is listed under another user ({})", crate::sanitize::clean(other)),
                None => "the key is not listed in the users file".into(),
            });
        }
        // The file as checked and read just now (not read again).
        Ok(auth::granted(login, path.clone(), &users))
    }

    /// The identity of the local account `uid` (the attach socket's peer).
    pub fn local_user(&self, uid: u32) -> Identity {
        let name = match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
            Ok(Some(u)) => u.name,
            _ => format!("uid {uid}"),
        };
        let files = UsersFiles { roles: self.users.clone(), personal: None };
        auth::resolve(&auth::Person { name, uid: Some(uid) }, self.process_uid, &files)
    }

    /// The person of a new session.
    pub fn person(&self, identity: Identity, from: Option<std::net::SocketAddr>, via: String, looks: &Looks) -> Person {
        let actor = Actor {
            user: identity.user.clone(),
            host: self.host.clone(),
            ssh_client: from,
            role: identity.role.as_str().to_string(),
            session: None,
            via: Some(via),
        };
        Person {
            identity,
            actor,
            read_only: self.read_only,
            color: looks.color(),
            utc_offset: self.utc_offset,
            demo_pin: None,
        }
    }
}
