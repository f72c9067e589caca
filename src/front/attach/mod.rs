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

/// The socket a client connects to when not told: [`SYSTEM_SOCKET`] when it exists, else the
/// one in this account's state folder.
pub fn default_client_socket() -> PathBuf {
    let system = PathBuf::from(SYSTEM_SOCKET);
    if system.exists() { system } else { crate::paths::state_dir().join("console.sock") }
}
