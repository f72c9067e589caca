//! The `ttyhmi` command line: parses the arguments and hands them to [`ttyhmi::cli`], where
//! errors become messages and exit codes.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use ttyhmi::cli::{self, Cli};

fn main() -> ExitCode {
    // The local offset must be read before any thread starts.
    let utc_offset = ttyhmi::timefmt::local_offset();
    let args = Cli::parse();
    let _log = cli::init_logging();
    match cli::dispatch(args, utc_offset) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ttyhmi: {e:#}");
            ExitCode::FAILURE
        }
    }
}
