//! What a record holds, how it is written, and how a person reads it.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What happened. Serialized in snake_case (`write_attempt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A confirmed write is about to be sent (recorded before it is sent).
    WriteAttempt,
    /// What came of a write: `result` says ok or why not, `new` what was read back.
    WriteResult,
    /// A write refused before anything was sent (role, limits, connection, lockout).
    WriteDenied,
    PinFailure,
    Lockout,
    AlarmAcknowledge,
    AlarmShelve,
    AlarmUnshelve,
    AlarmOutOfService,
    AlarmReturnToService,
    /// An alarm operation refused (role, read-only, audit log): `result` says why.
    AlarmDenied,
    ReadOnlyStart,
    ConsoleStart,
    ConsoleStop,
}

impl Action {
    pub const ALL: [Action; 14] = [
        Action::WriteAttempt,
        Action::WriteResult,
        Action::WriteDenied,
        Action::PinFailure,
        Action::Lockout,
        Action::AlarmAcknowledge,
        Action::AlarmShelve,
        Action::AlarmUnshelve,
        Action::AlarmOutOfService,
        Action::AlarmReturnToService,
        Action::AlarmDenied,
        Action::ReadOnlyStart,
        Action::ConsoleStart,
        Action::ConsoleStop,
    ];

    /// The name written to the log: `write_attempt`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::WriteAttempt => "write_attempt",
            Action::WriteResult => "write_result",
            Action::WriteDenied => "write_denied",
            Action::PinFailure => "pin_failure",
            Action::Lockout => "lockout",
            Action::AlarmAcknowledge => "alarm_acknowledge",
            Action::AlarmShelve => "alarm_shelve",
            Action::AlarmUnshelve => "alarm_unshelve",
            Action::AlarmOutOfService => "alarm_out_of_service",
            Action::AlarmReturnToService => "alarm_return_to_service",
            Action::AlarmDenied => "alarm_denied",
            Action::ReadOnlyStart => "read_only_start",
            Action::ConsoleStart => "console_start",
            Action::ConsoleStop => "console_stop",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of a write, on a `write_result` record: the device took it (`result` says whether
/// the read-back confirmed it), or which way it failed. Serialized in snake_case (`not_sent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteOutcome {
    /// The device accepted the write.
    Written,
    /// Nothing reached the device.
    NotSent,
    /// The device (or server) refused it.
    Refused,
    /// Sent, and no usable answer: the value may or may not have been written.
    Unknown,
    /// The connection broke after the write was sent.
    ConnectionLost,
}

impl WriteOutcome {
    pub const ALL: [WriteOutcome; 5] = [
        WriteOutcome::Written,
        WriteOutcome::NotSent,
        WriteOutcome::Refused,
        WriteOutcome::Unknown,
        WriteOutcome::ConnectionLost,
    ];

    /// The name written to the log: `not_sent`.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOutcome::Written => "written",
            WriteOutcome::NotSent => "not_sent",
            WriteOutcome::Refused => "refused",
            WriteOutcome::Unknown => "unknown",
            WriteOutcome::ConnectionLost => "connection_lost",
        }
    }

    /// For people: `not sent`, `outcome unknown`.
    pub fn words(self) -> &'static str {
        match self {
            WriteOutcome::Written => "written",
            WriteOutcome::NotSent => "not sent",
            WriteOutcome::Refused => "refused",
            WriteOutcome::Unknown => "outcome unknown",
            WriteOutcome::ConnectionLost => "connection lost",
        }
    }
}

/// Who acts: fixed for a console session, so built once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The OS account (see the `auth` module), never a flag or an environment variable.
    pub user: String,
    pub host: String,
    /// Where an SSH session comes from, as sshd reports it: [`ssh_client_from_env`].
    pub ssh_client: Option<SocketAddr>,
    /// The role at the time of the record (`operator`).
    pub role: String,
    /// The console server's session number (several sessions of one user at once).
    pub session: Option<u64>,
    /// How the server knows the user: `key SHA256:…` (SSH) or `uid 1001` (the attach socket).
    pub via: Option<String>,
}

/// One record to append. `seq` and `prev` are the log's business.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordInput {
    /// When it happened: the caller's clock. Written as UTC with milliseconds.
    pub time: SystemTime,
    pub actor: Actor,
    pub action: Action,
    pub tag: Option<String>,
    pub old: Option<Value>,
    pub new: Option<Value>,
    pub raw: Option<Value>,
    pub result: Option<String>,
    /// On a `write_result`: which way the write went.
    pub outcome: Option<WriteOutcome>,
}

impl RecordInput {
    pub fn new(time: SystemTime, actor: &Actor, action: Action) -> Self {
        RecordInput {
            time,
            actor: actor.clone(),
            action,
            tag: None,
            old: None,
            new: None,
            raw: None,
            result: None,
            outcome: None,
        }
    }

    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// The value before: best as shown on screen (`"2.50"`).
    pub fn old(mut self, old: impl Into<Value>) -> Self {
        self.old = Some(old.into());
        self
    }

    /// The value asked for (attempt, denial) or read back (result).
    pub fn new_value(mut self, new: impl Into<Value>) -> Self {
        self.new = Some(new.into());
        self
    }

    /// What goes on the wire (`"0x4040 0000"`).
    pub fn raw(mut self, raw: impl Into<Value>) -> Self {
        self.raw = Some(raw.into());
        self
    }

    /// `ok`, or what went wrong.
    pub fn result(mut self, result: impl Into<String>) -> Self {
        self.result = Some(result.into());
        self
    }

    /// Which way a write went (`write_result` records).
    pub fn outcome(mut self, outcome: WriteOutcome) -> Self {
        self.outcome = Some(outcome);
        self
    }
}

/// A record as stored: one line of the log. Reading accepts fields it does not know (the hashes
/// cover every byte anyway).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub time: String,
    pub user: String,
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_client: Option<String>,
    pub role: String,
    /// The console server's session (absent for a console of its own, and in older logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
    /// How the server identified the user: `key SHA256:…` or `uid 1001`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// On a `write_result`: which way the write went. Absent in logs written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<WriteOutcome>,
    /// SHA-256 of the damaged lines (joined by `\n`) between the previous record and this one,
    /// left by an interrupted append. Absent normally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// SHA-256 of the previous record's line; 64 zeros for the first.
    pub prev: String,
}

impl Record {
    pub(crate) fn from_input(
        input: RecordInput,
        time: String,
        seq: u64,
        prev: String,
        skipped: Option<String>,
    ) -> Self {
        let RecordInput { actor, action, tag, old, new, raw, result, outcome, .. } = input;
        Record {
            seq,
            time,
            user: actor.user,
            host: actor.host,
            ssh_client: actor.ssh_client.map(|a| a.to_string()),
            role: actor.role,
            session: actor.session,
            via: actor.via,
            action,
            tag,
            old,
            new,
            raw,
            result,
            outcome,
            skipped,
            prev,
        }
    }

    /// One line for a person:
    /// `2026-11-29T19:10:00.123Z alice@hmi1 operator write_result P_101 2.50 → 3.00 (raw 0x4040 0000) ok`.
    /// Control characters in the stored strings are shown escaped, never sent to the terminal.
    pub fn for_people(&self) -> String {
        let mut s = String::new();
        push_clean(&mut s, &self.time);
        s.push(' ');
        push_clean(&mut s, &self.user);
        s.push('@');
        push_clean(&mut s, &self.host);
        if let Some(from) = &self.ssh_client {
            s.push_str(" from ");
            push_clean(&mut s, from);
        }
        if let Some(via) = &self.via {
            s.push_str(" (");
            push_clean(&mut s, via);
            s.push(')');
        }
        if let Some(n) = self.session {
            s.push_str(&format!(" session {n}"));
        }
        s.push(' ');
        push_clean(&mut s, &self.role);
        s.push(' ');
        s.push_str(self.action.as_str());
        if let Some(tag) = &self.tag {
            s.push(' ');
            push_clean(&mut s, tag);
        }
        match (&self.old, &self.new) {
            (Some(old), Some(new)) => {
                s.push(' ');
                push_value(&mut s, old);
                s.push_str(" → ");
                push_value(&mut s, new);
            }
            (Some(old), None) => {
                s.push(' ');
                push_value(&mut s, old);
            }
            (None, Some(new)) => {
                s.push_str(" → ");
                push_value(&mut s, new);
            }
            (None, None) => {}
        }
        if let Some(raw) = &self.raw {
            s.push_str(" (raw ");
            push_value(&mut s, raw);
            s.push(')');
        }
        if let Some(result) = &self.result {
            s.push(' ');
            push_clean(&mut s, result);
        }
        // A write that failed says which way (the result is in words already when it worked).
        if let Some(o) = self.outcome.filter(|o| *o != WriteOutcome::Written) {
            s.push_str(" [");
            s.push_str(o.words());
            s.push(']');
        }
        s
    }
}

/// A string value as is, anything else as JSON.
fn push_value(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => push_clean(out, s),
        other => push_clean(out, &other.to_string()),
    }
}

pub(crate) use crate::sanitize::push_clean;

/// `2026-11-29T19:10:00.123Z`: UTC, always three digits of milliseconds. `None` for a time the
/// calendar cannot show (years beyond ±9999).
pub(crate) fn rfc3339_ms(t: SystemTime) -> Option<String> {
    let nanos: i128 = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).ok()?,
        Err(e) => -i128::try_from(e.duration().as_nanos()).ok()?,
    };
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    dt.format(&fmt).ok()
}

/// The SSH client address of this session, from `SSH_CONNECTION` (else `SSH_CLIENT`) as sshd
/// sets them. Informational: the environment is the user's to change, so this never decides
/// anything, it is only recorded.
pub fn ssh_client_from_env() -> Option<SocketAddr> {
    let conn = std::env::var("SSH_CONNECTION").ok();
    let client = std::env::var("SSH_CLIENT").ok();
    parse_ssh_client(conn.as_deref(), client.as_deref())
}

/// `SSH_CONNECTION` is `client_ip client_port server_ip server_port`, `SSH_CLIENT` is
/// `client_ip client_port server_port`; both start with the client. Malformed values give `None`.
pub fn parse_ssh_client(ssh_connection: Option<&str>, ssh_client: Option<&str>) -> Option<SocketAddr> {
    fn client(v: &str) -> Option<SocketAddr> {
        let mut it = v.split_whitespace();
        let ip = it.next()?;
        // A link-local IPv6 address may carry a zone (`fe80::1%eth0`).
        let ip: IpAddr = ip.split('%').next()?.parse().ok()?;
        let port: u16 = it.next()?.parse().ok()?;
        Some(SocketAddr::new(ip, port))
    }
    ssh_connection.and_then(client).or_else(|| ssh_client.and_then(client))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn actions_are_snake_case() {
        for a in Action::ALL {
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{}\"", a.as_str()));
            assert_eq!(serde_json::from_str::<Action>(&format!("\"{a}\"")).unwrap(), a);
        }
        assert_eq!(Action::AlarmOutOfService.as_str(), "alarm_out_of_service");
    }

    #[test]
    fn time_is_utc_with_three_digits_of_milliseconds() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_979_400_123);
        assert_eq!(rfc3339_ms(t).unwrap(), "2026-11-29T19:10:00.123Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_979_400);
        assert_eq!(rfc3339_ms(t).unwrap(), "2026-11-29T19:10:00.000Z");
        let t = SystemTime::UNIX_EPOCH - Duration::from_millis(1);
        assert_eq!(rfc3339_ms(t).unwrap(), "1969-12-31T23:59:59.999Z");
        // Far beyond the calendar: no panic, no time.
        if let Some(t) = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(400_000_000_000)) {
            assert_eq!(rfc3339_ms(t), None);
        }
    }

    #[test]
    fn ssh_client_comes_from_sshd_variables() {
        let a = parse_ssh_client(Some("10.0.0.5 52144 10.0.0.1 22"), None).unwrap();
        assert_eq!(a.to_string(), "10.0.0.5:52144");
        let a = parse_ssh_client(None, Some("2001:db8::7 40000 22")).unwrap();
        assert_eq!(a.to_string(), "[2001:db8::7]:40000");
        let a = parse_ssh_client(Some("fe80::1%eth0 22222 fe80::2%eth0 22"), None).unwrap();
        assert_eq!(a.to_string(), "[fe80::1]:22222");
        // SSH_CONNECTION wins; a broken one falls back to SSH_CLIENT.
        let a = parse_ssh_client(Some("garbage"), Some("192.0.2.1 1000 22")).unwrap();
        assert_eq!(a.to_string(), "192.0.2.1:1000");
        assert_eq!(parse_ssh_client(Some("10.0.0.5 notaport 10.0.0.1 22"), None), None);
        assert_eq!(parse_ssh_client(Some(""), Some("")), None);
        assert_eq!(parse_ssh_client(None, None), None);
    }

    fn record() -> Record {
        let actor = Actor {
            user: "alice".into(),
            host: "hmi1".into(),
            ssh_client: None,
            role: "operator".into(),
            session: None,
            via: None,
        };
        let input = RecordInput::new(SystemTime::UNIX_EPOCH, &actor, Action::WriteResult)
            .tag("P_101")
            .old("2.50")
            .new_value("3.00")
            .raw("0x4040 0000")
            .result("ok");
        Record::from_input(input, "2026-11-29T19:10:00.123Z".into(), 1, "0".repeat(64), None)
    }

    #[test]
    fn a_record_reads_as_one_line() {
        let r = record();
        assert_eq!(
            r.for_people(),
            "2026-11-29T19:10:00.123Z alice@hmi1 operator write_result P_101 2.50 → 3.00 (raw 0x4040 0000) ok"
        );
        let r = Record {
            ssh_client: Some("10.0.0.5:52144".into()),
            action: Action::WriteDenied,
            old: None,
            new: Some(serde_json::json!(13.5)),
            raw: None,
            result: Some("above the maximum 12".into()),
            ..record()
        };
        assert_eq!(
            r.for_people(),
            "2026-11-29T19:10:00.123Z alice@hmi1 from 10.0.0.5:52144 operator write_denied P_101 → 13.5 above the maximum 12"
        );
        let r = Record {
            action: Action::ConsoleStart,
            tag: None,
            old: None,
            new: None,
            raw: None,
            result: None,
            ..record()
        };
        assert_eq!(r.for_people(), "2026-11-29T19:10:00.123Z alice@hmi1 operator console_start");
    }

    #[test]
    fn stored_strings_cannot_drive_the_terminal() {
        let r = Record { user: "eve\u{1b}[2J".into(), tag: Some("P\u{202e}101\n".into()), ..record() };
        let s = r.for_people();
        assert!(s.contains(r"eve\x1b[2J@hmi1"), "{s}");
        assert!(s.contains(r"P\u{202e}101\n"), "{s}");
        assert!(!s.chars().any(|c| c.is_control()));
    }

    #[test]
    fn write_outcomes_are_snake_case_and_a_failed_one_is_shown() {
        for o in WriteOutcome::ALL {
            assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{}\"", o.as_str()));
            assert_eq!(serde_json::from_str::<WriteOutcome>(&format!("\"{}\"", o.as_str())).unwrap(), o);
        }
        let r = Record {
            new: None,
            raw: None,
            result: Some("not written: connection `plc1` is down".into()),
            outcome: Some(WriteOutcome::NotSent),
            ..record()
        };
        assert_eq!(
            r.for_people(),
            "2026-11-29T19:10:00.123Z alice@hmi1 operator write_result P_101 2.50 not written: connection `plc1` is down [not sent]"
        );
        let line = serde_json::to_string(&r).unwrap();
        assert!(
            line.contains(r#""result":"not written: connection `plc1` is down","outcome":"not_sent","prev""#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), r);
        let ok = Record { outcome: Some(WriteOutcome::Written), ..record() };
        assert!(ok.for_people().ends_with(" ok"), "a write that worked reads as before: {}", ok.for_people());
    }

    #[test]
    fn fields_are_written_in_order_and_absent_ones_left_out() {
        let r = Record { tag: None, raw: None, ..record() };
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(
            line,
            format!(
                r#"{{"seq":1,"time":"2026-11-29T19:10:00.123Z","user":"alice","host":"hmi1","role":"operator","action":"write_result","old":"2.50","new":"3.00","result":"ok","prev":"{}"}}"#,
                "0".repeat(64)
            )
        );
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
    }
}
