//! Who is at the console: the OS account running the process (over SSH, the SSH login). Never a
//! command-line flag or an environment variable a user can set.

/// The name of the account running this process, or `uid N` when it has no name.
pub fn current_user() -> String {
    #[cfg(unix)]
    {
        let uid = nix::unistd::Uid::current();
        match nix::unistd::User::from_uid(uid) {
            Ok(Some(u)) => u.name,
            _ => format!("uid {uid}"),
        }
    }
    #[cfg(not(unix))]
    {
        "unknown".to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_account_has_a_name() {
        assert!(!super::current_user().is_empty());
    }
}
