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
    let out = manual(&Cli::command())?;
    use std::io::Write;
    std::io::stdout().write_all(&out).context("writing the manual page")?;
    Ok(ExitCode::SUCCESS)
}

/// The manual page: the program's name, synopsis and options, its commands, examples, then a
/// section per command (nested ones too: `TTYHMI AUDIT VERIFY`) with what it does, its usage,
/// its options and its examples. One page: the commands are sections, not pages of their own.
fn manual(cmd: &clap::Command) -> Result<Vec<u8>> {
    let page = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    let render = |r: std::io::Result<()>| r.context("rendering the manual page");
    render(page.render_title(&mut out))?;
    render(page.render_name_section(&mut out))?;
    render(page.render_synopsis_section(&mut out))?;
    render(page.render_options_section(&mut out))?;
    out.extend_from_slice(b".SH COMMANDS\nEach command has a section of its own below.\n");
    for sub in commands(cmd) {
        let about = sub.get_about().map(|a| roff_text(&a.to_string())).unwrap_or_default();
        out.extend_from_slice(format!(".TP\n\\fB{} {}\\fR\n{about}\n", cmd.get_name(), sub.get_name()).as_bytes());
    }
    examples(cmd, ".SH EXAMPLES", &mut out);
    for sub in commands(cmd) {
        section(sub, cmd.get_name(), &mut out)?;
    }
    render(page.render_version_section(&mut out))?;
    Ok(out)
}

/// A command's subcommands, without clap's own `help`.
fn commands(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|s| s.get_name() != "help")
}

/// The command's `after_help` (its examples), as preformatted text under `heading`.
fn examples(cmd: &clap::Command, heading: &str, out: &mut Vec<u8>) {
    let Some(text) = cmd.get_after_help().map(|t| t.to_string()) else { return };
    // The heading says it already.
    let text = text.strip_prefix("Examples:").or(text.strip_prefix("Example:")).unwrap_or(&text);
    let lines: Vec<&str> = text.trim_start_matches('\n').lines().collect();
    let indent = lines.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min();
    out.extend_from_slice(format!("{heading}\n.nf\n").as_bytes());
    for line in lines {
        let line = line.get(indent.unwrap_or(0)..).unwrap_or(line.trim_start());
        out.extend_from_slice(format!("{}\n", roff_text(line)).as_bytes());
    }
    out.extend_from_slice(b".fi\n");
}

/// One subcommand's section, then its own subcommands'.
fn section(cmd: &clap::Command, parent: &str, out: &mut Vec<u8>) -> Result<()> {
    let name = format!("{parent} {}", cmd.get_name());
    out.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
    if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
        out.extend_from_slice(format!("{}\n", roff_text(&about.to_string())).as_bytes());
    }
    // Rendered as if the subcommand were a program named by its whole path.
    let named = cmd.clone().bin_name(name.clone());
    let page = clap_mangen::Man::new(named);
    let mut usage = Vec::new();
    page.render_synopsis_section(&mut usage).context("rendering the manual page")?;
    out.extend_from_slice(String::from_utf8_lossy(&usage).replacen(".SH SYNOPSIS", ".SS Usage", 1).as_bytes());
    let mut options = Vec::new();
    page.render_options_section(&mut options).context("rendering the manual page")?;
    out.extend_from_slice(String::from_utf8_lossy(&options).replacen(".SH OPTIONS", ".SS Options", 1).as_bytes());
    examples(cmd, ".SS Examples", out);
    for sub in commands(cmd) {
        section(sub, &name, out)?;
    }
    Ok(())
}

/// Text safe as a roff line: no leading `.` or `'`, backslashes doubled.
fn roff_text(s: &str) -> String {
    let s = s.replace('\\', "\\\\");
    if s.starts_with(['.', '\'']) { format!("\\&{s}") } else { s }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command and subcommand says what it does, and every argument and option has help
    /// text (clap's own --help and --version aside): `--help`, the man page and the shells'
    /// completions show it.
    #[test]
    fn every_command_and_option_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            if cmd.get_about().is_none() {
                missing.push(format!("{path}: no about"));
            }
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none_or(|h| h.to_string().trim().is_empty()) {
                    missing.push(format!("{path} {id}: no help"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "ttyhmi", &mut missing);
        assert!(missing.is_empty(), "{missing:#?}");
    }
}
