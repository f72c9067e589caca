use std::fmt;

/// How far a value can be trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Quality {
    Good,
    Uncertain(Reason),
    Bad(Reason),
}

impl Quality {
    pub fn is_good(&self) -> bool {
        matches!(self, Quality::Good)
    }

    pub fn reason(&self) -> Option<&Reason> {
        match self {
            Quality::Good => None,
            Quality::Uncertain(r) | Quality::Bad(r) => Some(r),
        }
    }

    /// Short word for lists and JSON: `good`, `uncertain`, `bad`.
    pub fn level(&self) -> &'static str {
        match self {
            Quality::Good => "good",
            Quality::Uncertain(_) => "uncertain",
            Quality::Bad(_) => "bad",
        }
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quality::Good => f.write_str("good"),
            Quality::Uncertain(r) => write!(f, "uncertain: {r}"),
            Quality::Bad(r) => write!(f, "bad: {r}"),
        }
    }
}

/// Why a value is not Good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// No connection to the device yet (or the console is stopping).
    NotConnected,
    /// The connection is down, and why (`connection refused (10.0.0.20:502)`,
    /// `Bad_UserAccessDenied: wrong user name or password`): every tag of the connection says it.
    Disconnected(String),
    /// The device did not answer within the connection's timeout.
    Timeout,
    /// The device answered with a Modbus exception code.
    Exception(u8),
    /// The bytes received cannot be decoded as the configured type.
    Decode(String),
    /// No update for three poll periods.
    Stale,
    /// A damaged answer (RTU: CRC error, truncated frame, another unit answering, noise).
    Frame(String),
    /// Anything else a driver reports, in its own words.
    Other(String),
}

impl Reason {
    /// The Modbus exception name for a code, as in the Modbus application protocol spec.
    pub fn exception_name(code: u8) -> &'static str {
        match code {
            0x01 => "illegal function",
            0x02 => "illegal data address",
            0x03 => "illegal data value",
            0x04 => "server device failure",
            0x05 => "acknowledge",
            0x06 => "server device busy",
            0x08 => "memory parity error",
            0x0A => "gateway path unavailable",
            0x0B => "gateway target failed to respond",
            _ => "unknown exception",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotConnected => f.write_str("not connected"),
            Reason::Disconnected(why) => write!(f, "not connected: {}", crate::sanitize::clean(why)),
            Reason::Timeout => f.write_str("timeout"),
            Reason::Exception(c) => write!(f, "exception {c:02}: {}", Reason::exception_name(*c)),
            Reason::Stale => f.write_str("stale"),
            Reason::Decode(m) => write!(f, "decode error: {}", crate::sanitize::clean(m)),
            Reason::Frame(m) | Reason::Other(m) => f.write_str(&crate::sanitize::clean(m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_well() {
        assert_eq!(Quality::Bad(Reason::Exception(2)).to_string(), "bad: exception 02: illegal data address");
        assert_eq!(Quality::Uncertain(Reason::Stale).to_string(), "uncertain: stale");
        assert_eq!(Reason::exception_name(0x42), "unknown exception");
        assert_eq!(
            Quality::Bad(Reason::Disconnected("connection refused (127.0.0.1:5020)".into())).to_string(),
            "bad: not connected: connection refused (127.0.0.1:5020)"
        );
    }

    #[test]
    fn reasons_from_devices_cannot_reach_a_terminal_raw() {
        for r in [
            Reason::Other("\u{1b}]52;c;eA==\u{7}".into()),
            Reason::Frame("x\u{9b}2J".into()),
            Reason::Decode("\u{202e}x".into()),
            Reason::Disconnected("\u{1b}c".into()),
        ] {
            let s = r.to_string();
            assert!(!s.chars().any(crate::sanitize::is_unsafe), "{s:?}");
        }
    }
}
