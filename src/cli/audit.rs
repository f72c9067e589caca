//! `ttyhmi audit verify|tail`: the audit log's chain, or its last records.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::common::default_audit_path;

#[derive(clap::Subcommand)]
pub(super) enum AuditCommand {
    /// Check the hash chain and the head file; report the first break. Exit 1 if broken.
    #[command(after_help = "Example: ttyhmi audit verify /var/lib/ttyhmi/audit.jsonl")]
    Verify {
        /// The audit log (default: audit.jsonl in the state folder).
        path: Option<PathBuf>,
    },
    /// Print the last records readably.
    #[command(after_help = "Example: ttyhmi audit tail -n 50")]
    Tail {
        /// The audit log (default: audit.jsonl in the state folder).
        path: Option<PathBuf>,
        /// How many records to print.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
    },
}

pub(super) fn audit(what: AuditCommand) -> Result<ExitCode> {
    match what {
        AuditCommand::Verify { path } => {
            let path = path.unwrap_or_else(default_audit_path);
            let report = crate::audit::verify(&path).map_err(anyhow::Error::msg)?;
            println!("{report}");
            Ok(if report.is_intact() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        AuditCommand::Tail { path, lines } => {
            let path = path.unwrap_or_else(default_audit_path);
            for l in crate::audit::tail(&path, lines).map_err(anyhow::Error::msg)? {
                println!("{l}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
