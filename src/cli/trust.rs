//! `ttyhmi trust`: lists the rejected OPC UA server certificates, or shows one and trusts it once
//! the user confirms (or with `--yes`). Everything from a certificate is shown sanitized.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::common::pki_dir;
use crate::driver::opcua::pki as opcua_pki;
use crate::sanitize::clean;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  ttyhmi trust            (list the rejected certificates)\n  ttyhmi trust 3f2a9c     (show that one, then ask)"
)]
pub(super) struct TrustArgs {
    /// A rejected certificate: its file (path or name in the rejected folder) or the start of
    /// its SHA-1 thumbprint, as the connection's message prints it.
    cert: Option<PathBuf>,
    /// Trust it without asking (needed without a terminal).
    #[arg(long)]
    yes: bool,
}

pub(super) fn trust(args: TrustArgs) -> Result<ExitCode> {
    use std::io::IsTerminal as _;
    let yes = args.yes;
    let pki = pki_dir();
    let now = std::time::SystemTime::now();
    let shown = |p: &Path| clean(&p.display().to_string()).into_owned();
    let Some(cert) = args.cert.as_deref() else {
        let list = opcua_pki::rejected(&pki);
        if list.is_empty() {
            say!("no rejected server certificates in {}", shown(&pki.join("rejected")));
            return Ok(ExitCode::SUCCESS);
        }
        say!("rejected server certificates (newest first); trust one with `ttyhmi trust SHA-1` after checking it:");
        for f in list {
            say!("\n{}", shown(&f));
            match opcua_pki::read_summary(&f) {
                Ok((s, _)) => print!("{}", opcua_pki::describe(&s, now)),
                Err(e) => say!("  not readable as a certificate: {e}"),
            }
        }
        return Ok(ExitCode::SUCCESS);
    };
    let file = opcua_pki::find(&pki, cert).map_err(anyhow::Error::msg)?;
    let (summary, _) = opcua_pki::read_summary(&file).map_err(anyhow::Error::msg)?;
    say!("{}", shown(&file));
    print!("{}", opcua_pki::describe(&summary, now));
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "not trusted: nobody can confirm without a terminal; check the certificate above, then run again with --yes"
            );
        }
        print!("Trust this certificate? [y/N] ");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).context("reading the answer")?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            say!("not trusted");
            return Ok(ExitCode::FAILURE);
        }
    }
    let dst = opcua_pki::trust(&pki, &file).map_err(anyhow::Error::msg)?;
    say!("trusted: {}", shown(&dst));
    Ok(ExitCode::SUCCESS)
}
