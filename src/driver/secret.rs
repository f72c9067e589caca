//! Passwords a layout points at (`password_file`, `password_env`), never written in it.

use crate::layout::SecretSource;

/// A password file larger than this is not one.
const MAX_SECRET_BYTES: u64 = 64 << 10;

/// The password `source` holds for `user`: the first line of the file, or the variable's value.
/// Says in words what is wrong (unset variable, unreadable file) and names it.
pub fn read(source: &SecretSource, user: &str) -> Result<String, String> {
    match source {
        SecretSource::Env(var) => {
            std::env::var(var).map_err(|_| format!("the password variable {var} is not set (for user `{user}`)"))
        }
        SecretSource::File(path) => {
            let bytes = crate::files::read_regular(path, MAX_SECRET_BYTES)
                .map_err(|e| format!("cannot read the password file {}: {e}", path.display()))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("the password file {} is not UTF-8 text", path.display()))?;
            Ok(text.lines().next().unwrap_or("").to_string())
        }
    }
}
