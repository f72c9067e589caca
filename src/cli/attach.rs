//! `ttyhmi attach` and `ttyhmi sessions`: a terminal on this machine and a running console server.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::common::runtime;
use crate::front::attach::{client, default_client_socket};

#[derive(clap::Args)]
#[command(after_help = "Example (sshd_config):\n  Match User operator\n      ForceCommand ttyhmi attach")]
pub(super) struct AttachArgs {
    /// The server's socket (default: /run/ttyhmi/console.sock, else the one socket in /run/ttyhmi,
    /// else console.sock in the state folder).
    socket: Option<PathBuf>,
}

impl AttachArgs {
    fn socket(self) -> Result<PathBuf> {
        match self.socket {
            Some(p) => Ok(p),
            None => default_client_socket().map_err(anyhow::Error::msg),
        }
    }
}

pub(super) fn attach(args: AttachArgs) -> Result<ExitCode> {
    let path = args.socket()?;
    runtime()?.block_on(client::attach(&path))?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn sessions(args: AttachArgs) -> Result<ExitCode> {
    let path = args.socket()?;
    let table = runtime()?.block_on(client::sessions(&path))?;
    say!("{}", table.trim_end());
    Ok(ExitCode::SUCCESS)
}
