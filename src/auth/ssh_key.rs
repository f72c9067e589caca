//! SSH public keys as a users file lists them: one OpenSSH public key line each
//! (`ssh-ed25519 AAAA… alice@laptop`, as in `~/.ssh/id_ed25519.pub`). A console server maps the
//! key a client proves it holds to the one user it is listed under.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

/// Key types a user may list (what OpenSSH's `ssh-keygen` makes, hardware keys included).
pub const ALGORITHMS: [&str; 7] = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-rsa",
];

/// A public key line longer than this is refused (an RSA 16384-bit key is about 2,800 bytes).
pub const MAX_KEY_LINE: usize = 16 * 1024;

/// One public key: its type, the key itself (the SSH wire blob) and the comment after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: String,
    pub blob: Vec<u8>,
    pub comment: String,
}

impl PublicKey {
    /// Parses one OpenSSH public key line, or says what is wrong with it.
    pub fn parse(line: &str) -> Result<PublicKey, String> {
        if line.len() > MAX_KEY_LINE {
            return Err(format!("longer than {MAX_KEY_LINE} bytes"));
        }
        let mut words = line.split_whitespace();
        let (Some(algorithm), Some(data)) = (words.next(), words.next()) else {
            return Err("expected `type base64 [comment]`".into());
        };
        if !ALGORITHMS.contains(&algorithm) {
            let hint = if algorithm.contains('=') || algorithm.contains(',') {
                "authorized_keys options are not supported here: list the key alone"
            } else {
                "expected one of ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa or a security-key type"
            };
            return Err(format!("`{}` is not a key type ({hint})", crate::sanitize::clean(algorithm)));
        }
        let blob = STANDARD.decode(data).map_err(|_| "the key is not valid base64".to_string())?;
        match wire_string(&blob) {
            Some(inner) if inner == algorithm.as_bytes() => {}
            _ => return Err(format!("the key data is not a {algorithm} key")),
        }
        let comment = words.collect::<Vec<_>>().join(" ");
        Ok(PublicKey { algorithm: algorithm.to_string(), blob, comment })
    }

    /// The key as OpenSSH prints it (`ssh-keygen -l`): `SHA256:` and the unpadded base64 of the
    /// SHA-256 of the key blob.
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(&self.blob)))
    }

    /// The key line again: type, base64, comment.
    pub fn line(&self) -> String {
        let data = STANDARD.encode(&self.blob);
        if self.comment.is_empty() {
            format!("{} {data}", self.algorithm)
        } else {
            format!("{} {data} {}", self.algorithm, self.comment)
        }
    }

    /// The same key (the comment does not count).
    pub fn same_key(&self, other: &PublicKey) -> bool {
        self.algorithm == other.algorithm && self.blob == other.blob
    }
}

/// The first SSH wire string of `blob` (a 32-bit big-endian length, then that many bytes).
fn wire_string(blob: &[u8]) -> Option<&[u8]> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    blob.get(4..4usize.checked_add(len)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINvxqTtf0RBAJn27pTStb2bx+yTkezj8maFkUq7gor0Y alice@laptop";
    const BOB: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBH7Wtd0r6vKsJPqqKvFtc9hTLBP9JN466dbwEPsQE5CaHnLwbJG4u84kY+YJ1vJGiUyZCq5tDB4lu9/U1HMgFaU= bob@hmi";

    #[test]
    fn keys_from_ssh_keygen_parse_and_print_the_same_fingerprint() {
        // The fingerprints are `ssh-keygen -lf` of the same keys.
        let a = PublicKey::parse(ALICE).expect("ed25519");
        assert_eq!((a.algorithm.as_str(), a.comment.as_str()), ("ssh-ed25519", "alice@laptop"));
        assert_eq!(a.fingerprint(), "SHA256:uJOO0sD65zYSL2QJcko7bF4CRAYwhai9IjtSzcN6B3Y");
        assert_eq!(a.line(), ALICE);
        let b = PublicKey::parse(BOB).expect("ecdsa");
        assert_eq!(b.fingerprint(), "SHA256:9ksGRnh5iYI8ubg8ZiVc+1/oeZiOB6zukzq2/85MmsI");
        assert!(!a.same_key(&b));
        let no_comment = PublicKey::parse(ALICE.trim_end_matches(" alice@laptop")).expect("without a comment");
        assert!(a.same_key(&no_comment), "the comment does not make another key");
        assert_eq!(no_comment.comment, "");
    }

    #[test]
    fn what_is_not_a_public_key_says_why() {
        let data = ALICE.split(' ').nth(1).unwrap_or_default();
        let cases = [
            ("", "expected `type base64 [comment]`"),
            ("ssh-ed25519", "expected `type base64 [comment]`"),
            ("ssh-dss AAAAB3NzaC1kc3M=", "is not a key type"),
            (&format!("from=\"10.0.0.1\" ssh-ed25519 {data}"), "options are not supported"),
            ("ssh-ed25519 not!base64", "not valid base64"),
            (&format!("ssh-rsa {data}"), "is not a ssh-rsa key"),
            ("ssh-ed25519 AAAA", "is not a ssh-ed25519 key"),
            ("ssh-ed25519 /////w==", "is not a ssh-ed25519 key"),
        ];
        for (line, why) in cases {
            let e = PublicKey::parse(line).expect_err(line);
            assert!(e.contains(why), "{line:?}: {e}");
        }
        assert!(PublicKey::parse(&"A".repeat(MAX_KEY_LINE + 1)).is_err());
        // A control character in a bad type is not echoed as is.
        let e = PublicKey::parse("\u{1b}[2Jx AAAA").expect_err("escape");
        assert!(!e.contains('\u{1b}'), "{e:?}");
    }
}
