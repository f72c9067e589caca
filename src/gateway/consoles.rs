//! The consoles file (`ttyhmi gateway LAYOUT --consoles FILE`): the consoles whose write
//! commands the gateway considers, by Sparkplug host id, each with the public half of its
//! command key (the line `ttyhmi key` prints on that console) and the highest role it may claim.
//!
//! ```yaml
//! control-room-1: { key: "ttyhmi-ed25519 AAAA…", max_role: operator }
//! laptop-7:       { key: "ttyhmi-ed25519 BBBB…", max_role: viewer }
//! ```
//!
//! Both fields are required. Unknown fields, unknown roles, keys that are not a `ttyhmi key`
//! line, host ids written twice and host ids Sparkplug does not allow (empty, or with `/`, `+`,
//! `#` or a control character) are errors with the file, line and column. An empty file lists
//! no console (every command is refused).
//!
//! Whoever can change this file can let any console write, so it is trusted only like the users
//! file ([`crate::auth::open_trusted`]): a regular file, neither it nor its folders writable by
//! group or others, owned by root or by the account the gateway runs as.

use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::auth::{AuthError, Role, Standing, TrustedFile};
use crate::driver::sparkplug::command::parse_public_line;
use crate::sanitize::clean;

/// A consoles file larger than this is refused (it is surely not one).
pub const MAX_CONSOLES_FILE_BYTES: u64 = 1 << 20;

/// The consoles file, in the trust checks' messages.
pub const CONSOLES_FILE: TrustedFile = TrustedFile {
    noun: "consoles file",
    grants: "the consoles allowed to write come only from a consoles file",
    program: "gateway",
};

/// One console of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleEntry {
    /// The public half of the console's command key.
    pub key: VerifyingKey,
    /// The highest role a command from this console may claim.
    pub max_role: Role,
}

/// The consoles a gateway takes commands from, by Sparkplug host id, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Consoles {
    entries: IndexMap<String, ConsoleEntry>,
}

impl Consoles {
    /// The console with this host id, if listed.
    pub fn get(&self, host_id: &str) -> Option<&ConsoleEntry> {
        self.entries.get(host_id)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Host id and entry, in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ConsoleEntry)> {
        self.entries.iter().map(|(h, e)| (h.as_str(), e))
    }

    /// Adds a console (for tests and tools); `Err` says why the host id is not one, or that it
    /// is listed already.
    pub fn insert(&mut self, host_id: &str, entry: ConsoleEntry) -> Result<(), String> {
        check_host_id(host_id)?;
        if self.entries.contains_key(host_id) {
            return Err(format!("console `{}` is listed twice", clean(host_id)));
        }
        self.entries.insert(host_id.to_string(), entry);
        Ok(())
    }
}

/// Why a consoles file is not used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsolesError {
    #[error("cannot read consoles file {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    /// `reason` names the file and the problem, `fix` is the command that makes it trusted.
    #[error("{reason}; the gateway takes no commands from a file others can change: run `{fix}`")]
    Untrusted { path: PathBuf, reason: String, fix: String },
    /// A YAML or content error; `line`/`col` are 1-based, 0 when unknown.
    #[error("{}", located(path, *line, *col, message))]
    Syntax { path: PathBuf, line: u64, col: u64, message: String },
}

fn located(path: &Path, line: u64, col: u64, message: &str) -> String {
    if line == 0 {
        format!("{}: {message}", path.display())
    } else {
        format!("{}:{line}:{col}: {message}", path.display())
    }
}

/// Opens, checks and parses the consoles file at `path` for a gateway running as `process_uid`:
/// the same ownership and mode checks as the users file (the file and its folders writable by
/// nobody but root or its owner; owned by root or by `process_uid`). Only a regular file is read
/// (a FIFO or a device is refused without blocking), and at most [`MAX_CONSOLES_FILE_BYTES`].
pub fn load_trusted(path: &Path, process_uid: u32) -> Result<Consoles, ConsolesError> {
    let (file, standing) = crate::auth::open_trusted(path, &CONSOLES_FILE, None, process_uid).map_err(from_auth)?;
    if standing != Standing::Grants {
        // Without a person at the gateway a file grants or is refused; this is for safety only.
        return Err(ConsolesError::Untrusted {
            path: path.to_path_buf(),
            reason: format!("consoles file {} is not owned by root or by the gateway's account", path.display()),
            fix: format!("sudo chown root: {}", path.display()),
        });
    }
    let read = |message: String| ConsolesError::Read { path: path.to_path_buf(), message };
    let bytes = crate::files::read_capped(file, MAX_CONSOLES_FILE_BYTES).map_err(|e| read(e.to_string()))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| read(format!("it is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to())))?;
    parse(&text, path)
}

fn from_auth(e: AuthError) -> ConsolesError {
    match e {
        AuthError::Untrusted { path, reason, fix } => ConsolesError::Untrusted { path, reason, fix },
        AuthError::Read { path, message } => ConsolesError::Read { path, message },
        other => ConsolesError::Read { path: PathBuf::new(), message: other.to_string() },
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsole {
    key: Spanned<String>,
    max_role: Role,
}

/// Parses consoles-file text; `file` is only used in messages.
pub fn parse(src: &str, file: &Path) -> Result<Consoles, ConsolesError> {
    let syntax =
        |line: u64, col: u64, message: String| ConsolesError::Syntax { path: file.to_path_buf(), line, col, message };
    let raw: Option<IndexMap<String, Spanned<RawConsole>>> =
        serde_saphyr::from_str_with_options(src, crate::yaml::options()).map_err(|e| {
            let p = crate::yaml::explain(&e);
            let general = p.hint.is_empty() || p.hint == crate::yaml::SYNTAX_HINT;
            let message = if general { p.message } else { format!("{} ({})", p.message, p.hint) };
            syntax(p.line, p.col, message)
        })?;
    let mut consoles = Consoles::default();
    for (host, entry) in raw.into_iter().flatten() {
        let at = &entry.referenced;
        check_host_id(&host).map_err(|why| syntax(at.line(), at.column(), why))?;
        let key_at = &entry.value.key.referenced;
        let key = parse_public_line(&entry.value.key.value).map_err(|why| {
            syntax(
                key_at.line(),
                key_at.column(),
                format!(
                    "the key of console `{}` is not usable ({why}); paste the line `ttyhmi key` prints on that console",
                    clean(&host)
                ),
            )
        })?;
        consoles
            .insert(&host, ConsoleEntry { key, max_role: entry.value.max_role })
            .map_err(|why| syntax(at.line(), at.column(), why))?;
    }
    Ok(consoles)
}

/// Whether `host_id` can be a Sparkplug host id (it names a topic level: no `/`, `+` or `#`).
fn check_host_id(host_id: &str) -> Result<(), String> {
    if host_id.is_empty() {
        return Err("a console's host id is empty; write the host_id of its sparkplug connection".into());
    }
    if let Some(c) = host_id.chars().find(|c| matches!(c, '/' | '+' | '#') || c.is_control()) {
        let shown = if c.is_control() { format!("U+{:04X}", c as u32) } else { format!("`{c}`") };
        return Err(format!(
            "host id `{}` contains {shown}, which a Sparkplug host id cannot (no `/`, `+`, `#` or control \
             characters); use the host_id of the console's sparkplug connection",
            clean(host_id)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fuzz;
