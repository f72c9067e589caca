//! Front ends: where sessions meet people. [`hub`] runs one plant runtime and its sessions and
//! draws each session on its own [`hub::Screen`]; [`local`] is the local terminal (`ttyhmi run`,
//! `ttyhmi demo`) with its terminal guard ([`terminal`]) and signals; [`watch`] prints a plant's
//! values on standard output, with no session at all. For a terminal at the far end of a byte
//! stream, [`keys`] reads the keys it sends and [`ansi`] writes the frames it is shown.

pub mod ansi;
pub mod hub;
pub mod keys;
pub mod local;
pub mod mailbox;
pub mod terminal;
pub mod watch;
