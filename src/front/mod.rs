//! Front ends: where sessions meet people. [`hub`] runs one plant runtime and its sessions and
//! draws each session on its own [`hub::Screen`]; [`local`] is the local terminal (`ttyhmi run`,
//! `ttyhmi demo`) with its terminal guard ([`terminal`]) and signals; [`watch`] prints a plant's
//! values on standard output, with no session at all.

pub mod ansi;
pub mod hub;
pub mod keys;
pub mod local;
pub mod mailbox;
pub mod terminal;
pub mod watch;
