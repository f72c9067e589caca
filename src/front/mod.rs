//! Front ends: where sessions meet people. [`hub`] runs one plant runtime and its sessions and
//! draws each session on its own [`hub::Screen`]; [`local`] is the local terminal (`ttyhmi run`,
//! `ttyhmi demo`) with its terminal guard ([`terminal`]) and signals; [`watch`] prints a plant's
//! values on standard output, with no session at all. For a terminal at the far end of a byte
//! stream, [`keys`] reads the keys it sends and [`ansi`] writes the frames it is shown;
//! [`remote`] is such a terminal as a hub screen. [`server`] is `ttyhmi serve`: the hub with
//! sessions over SSH ([`ssh`]) and the local attach socket ([`attach`]), who is who decided by
//! the [`gate`] (SSH keys in the users file, the socket's peer credentials).

pub mod ansi;
pub mod attach;
pub mod gate;
pub mod hub;
pub mod keys;
pub mod local;
pub mod mailbox;
pub mod remote;
pub mod server;
pub mod ssh;
pub mod terminal;
pub mod watch;
