//! The attach socket: a terminal on this machine reaches a running console server through a
//! Unix socket (`ttyhmi attach`), for sites that keep sshd (`ForceCommand ttyhmi attach`). The
//! server knows the user from the socket's peer credentials (`SO_PEERCRED`), never from what the
//! client says. [`protocol`] is the wire format, [`listen`] the server's side, [`client`] the
//! terminal's (`ttyhmi attach`, `ttyhmi sessions`).

pub mod client;
#[cfg(test)]
mod fuzz;
pub mod listen;
pub mod protocol;

use std::path::PathBuf;

/// Where a packaged server listens (systemd's `RuntimeDirectory=ttyhmi`).
pub const SYSTEM_SOCKET: &str = "/run/ttyhmi/console.sock";

/// The socket a server listens on when not told: [`SYSTEM_SOCKET`] when its folder exists,
/// else `console.sock` in the state folder.
pub fn default_socket() -> PathBuf {
    let system = PathBuf::from(SYSTEM_SOCKET);
    match system.parent() {
        Some(dir) if dir.is_dir() => system,
        _ => crate::paths::state_dir().join("console.sock"),
    }
}

/// The socket a client connects to when not told: [`SYSTEM_SOCKET`] when it exists; else the one
/// socket in its folder (the systemd units' `/run/ttyhmi/NAME.sock`), or, with several there, an
/// error naming them; else the one in this account's state folder.
pub fn default_client_socket() -> Result<PathBuf, String> {
    let system = PathBuf::from(SYSTEM_SOCKET);
    let dir = system.parent().unwrap_or(std::path::Path::new("/"));
    let mut found: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|entries| entries.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    found.sort();
    pick_client_socket(&system, &found, crate::paths::state_dir().join("console.sock"))
}

/// [`default_client_socket`] on what is in the system socket's folder.
fn pick_client_socket(system: &std::path::Path, in_dir: &[PathBuf], own: PathBuf) -> Result<PathBuf, String> {
    if in_dir.iter().any(|p| p == system) {
        return Ok(system.to_path_buf());
    }
    let sockets: Vec<&PathBuf> = in_dir.iter().filter(|p| p.extension().is_some_and(|e| e == "sock")).collect();
    match sockets.as_slice() {
        [] => Ok(own),
        [one] => Ok((*one).clone()),
        several => Err(format!(
            "{} console servers run on this machine ({}): name one, e.g. `ttyhmi attach {}`",
            several.len(),
            several.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            several[0].display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::pick_client_socket;

    #[test]
    fn a_client_finds_the_servers_socket_or_asks_which_one() {
        let system = Path::new("/run/ttyhmi/console.sock");
        let own = PathBuf::from("/home/op/.local/state/ttyhmi/console.sock");
        let p = |s: &str| PathBuf::from(s);
        // Nothing in /run/ttyhmi: this account's own server.
        assert_eq!(pick_client_socket(system, &[], own.clone()), Ok(own.clone()));
        assert_eq!(pick_client_socket(system, &[p("/run/ttyhmi/notes.txt")], own.clone()), Ok(own.clone()));
        // The default name wins over the others.
        let both = [p("/run/ttyhmi/boiler.sock"), p("/run/ttyhmi/console.sock")];
        assert_eq!(pick_client_socket(system, &both, own.clone()), Ok(p("/run/ttyhmi/console.sock")));
        // One instance of the systemd unit: its socket.
        assert_eq!(pick_client_socket(system, &both[..1], own.clone()), Ok(p("/run/ttyhmi/boiler.sock")));
        // Several: which ones, and how to name one.
        let two = [p("/run/ttyhmi/boiler.sock"), p("/run/ttyhmi/turbine.sock")];
        let e = pick_client_socket(system, &two, own).unwrap_err();
        assert_eq!(
            e,
            "2 console servers run on this machine (/run/ttyhmi/boiler.sock, /run/ttyhmi/turbine.sock): name one, \
             e.g. `ttyhmi attach /run/ttyhmi/boiler.sock`"
        );
    }
}
