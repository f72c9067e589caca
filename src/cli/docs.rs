//! `ttyhmi completions SHELL` and `ttyhmi man`: shell completions and the manual page, made from
//! the command line's own definition (so they never disagree with it).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;

use super::Cli;

#[derive(clap::Args)]
#[command(after_help = "Example: ttyhmi completions bash > /etc/bash_completion.d/ttyhmi")]
pub(super) struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

/// Prints the completion script for the shell.
pub(super) fn completions(args: CompletionsArgs) -> Result<ExitCode> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "ttyhmi", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

/// Prints the manual page (roff) with every subcommand.
pub(super) fn man() -> Result<ExitCode> {
    let cmd = Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out).context("rendering the manual page")?;
    // Each subcommand: its heading, what it does, and its arguments and options.
    for sub in cmd.get_subcommands() {
        out.extend_from_slice(format!(".SH \"TTYHMI {}\"\n", sub.get_name().to_uppercase()).as_bytes());
        if let Some(about) = sub.get_about() {
            out.extend_from_slice(format!("{}\n", roff_text(&about.to_string())).as_bytes());
        }
        let mut options = Vec::new();
        clap_mangen::Man::new(sub.clone()).render_options_section(&mut options).context("rendering the manual page")?;
        // A subsection of the subcommand's section, not a section of its own.
        let options = String::from_utf8_lossy(&options).replacen(".SH OPTIONS", ".SS Options", 1);
        out.extend_from_slice(options.as_bytes());
    }
    use std::io::Write;
    std::io::stdout().write_all(&out).context("writing the manual page")?;
    Ok(ExitCode::SUCCESS)
}

/// Text safe as a roff line: no leading `.` or `'`, backslashes doubled.
fn roff_text(s: &str) -> String {
    let s = s.replace('\\', "\\\\");
    if s.starts_with(['.', '\'']) { format!("\\&{s}") } else { s }
}
