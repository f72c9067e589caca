//! The settings of a Sparkplug B connection (this console a host application reading one edge
//! node through an MQTT broker), and what every `sparkplug:` block has, also the one of
//! `publish:`: the broker (host, port, TLS, login) and the Sparkplug ids.

use std::path::PathBuf;
use std::time::Duration;

use crate::layout::ctx::Ctx;
use crate::layout::de::Sp;
use crate::layout::model::*;
use crate::layout::node::Loc;
use crate::layout::raw::*;

/// The time a Sparkplug write waits for the edge node's result when the layout does not say:
/// the command goes through the broker and the gateway, which audits, writes and reads back.
pub(in crate::layout) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// `reorder_timeout` when the layout does not say, and the range it may have.
pub const DEFAULT_REORDER_TIMEOUT: Duration = Duration::from_secs(2);
const REORDER_TIMEOUT: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(60));

/// `rebirth_cooldown` when the layout does not say, and the range it may have.
pub const DEFAULT_REBIRTH_COOLDOWN: Duration = Duration::from_secs(10);
const REBIRTH_COOLDOWN: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(600));

/// The broker's port without `port:`: 1883, or 8883 with TLS (the IANA ports of MQTT).
pub const MQTT_PORT: u16 = 1883;
pub const MQTTS_PORT: u16 = 8883;

/// Whether `id` may be a Sparkplug group, edge node, device or host id: not empty, no `/`, `+`
/// or `#` (topic levels and wildcards), no control character. The same rule as
/// `driver::sparkplug::topic::valid_id` (the layout does not depend on drivers), and also no
/// bidirectional or invisible character: a layout names only what it can show as written.
pub(in crate::layout) fn valid_id(id: &str) -> bool {
    !id.is_empty() && !id.contains(['/', '+', '#']) && !id.chars().any(crate::sanitize::is_unsafe)
}

/// `sparkplug:` of a connection.
pub(super) fn connection(cx: &mut Ctx, sp: &Sp<RawSparkplug>) -> Option<ConnectionKind> {
    let before = cx.diags.len();
    let broker = broker(cx, &sp.broker(sp.loc));
    let group = required_id(cx, sp.loc, &sp.group, "group", "Plant (the Sparkplug group id)");
    let node = required_id(cx, sp.loc, &sp.node, "node", "Edge1 (the edge node id)");
    let host_id = required_id(
        cx,
        sp.loc,
        &sp.host_id,
        "host_id",
        "control-room-1 (this console's Sparkplug host id, one per console)",
    );
    let reorder_timeout = sp.reorder_timeout.as_ref().map_or(Some(DEFAULT_REORDER_TIMEOUT), |d| {
        cx.within(d, "reorder_timeout", REORDER_TIMEOUT, "use 100ms to 60s (default 2s)")
    });
    let rebirth_cooldown = sp.rebirth_cooldown.as_ref().map_or(Some(DEFAULT_REBIRTH_COOLDOWN), |d| {
        cx.within(d, "rebirth_cooldown", REBIRTH_COOLDOWN, "use 1s to 10m (default 10s)")
    });
    if cx.diags.len() > before {
        return None;
    }
    Some(ConnectionKind::Sparkplug(SparkplugConn {
        broker: broker?,
        group: group?,
        node: node?,
        host_id: host_id?,
        reorder_timeout: reorder_timeout?,
        rebirth_cooldown: rebirth_cooldown?,
    }))
}

/// A Sparkplug connection with every setting at its default, to check the tags of one that has
/// errors itself.
pub(super) fn placeholder() -> SparkplugConn {
    SparkplugConn {
        broker: MqttBroker { host: String::new(), port: MQTT_PORT, tls: None, login: None },
        group: String::new(),
        node: String::new(),
        host_id: String::new(),
        reorder_timeout: DEFAULT_REORDER_TIMEOUT,
        rebirth_cooldown: DEFAULT_REBIRTH_COOLDOWN,
    }
}

/// A Sparkplug id the block at `at` must have (`field: example` says what to add).
pub(in crate::layout) fn required_id(
    cx: &mut Ctx,
    at: Loc,
    v: &Option<Sp<String>>,
    field: &str,
    example: &str,
) -> Option<String> {
    match v {
        None => {
            cx.err(at, format!("`sparkplug` needs `{field}`"), Some(format!("add {field}: {example}")));
            None
        }
        Some(v) => id(cx, v, field),
    }
}

/// A Sparkplug id (group, node, device, host id), or a diagnostic naming `what`.
pub(in crate::layout) fn id(cx: &mut Ctx, v: &Sp<String>, what: &str) -> Option<String> {
    if valid_id(&v.value) {
        return Some(v.value.clone());
    }
    let (message, hint) = if v.value.is_empty() {
        (format!("{what} is empty"), "write the id as the edge node and the other Sparkplug clients use it".into())
    } else if let Some(c) = v.value.chars().find(|c| ['/', '+', '#'].contains(c)) {
        (
            format!("{what} `{}` contains `{c}`", v.value),
            "Sparkplug ids cannot contain `/`, `+` or `#` (MQTT topic levels and wildcards)".to_string(),
        )
    } else {
        (format!("{what} `{}` contains a control or invisible character", v.value), "write it in plain text".into())
    };
    cx.err(v.loc, message, Some(hint));
    None
}

/// The broker fields of a `sparkplug:` block.
pub(in crate::layout) fn broker(cx: &mut Ctx, b: &RawBroker<'_>) -> Option<MqttBroker> {
    let before = cx.diags.len();
    let host = host(cx, b.at, b.host);
    let tls = b.tls.as_ref().map(|t| tls(cx, t));
    let default_port = if tls.is_some() { MQTTS_PORT } else { MQTT_PORT };
    let port = b.port.as_ref().map_or(Some(default_port), |p| cx.int(p, 1, 65535, "port", None));
    let login = login(cx, b);
    if cx.diags.len() > before {
        return None;
    }
    Some(MqttBroker { host: host?, port: port?, tls: tls.flatten(), login: login? })
}

fn host(cx: &mut Ctx, at: Loc, host: &Option<Sp<String>>) -> Option<String> {
    let Some(h) = host else {
        cx.err(at, "`sparkplug` needs `host`", Some("add host: the broker's host name or IP address".into()));
        return None;
    };
    let v = h.value.trim();
    let problem = if v.is_empty() {
        Some("host is empty".to_string())
    } else if v.contains("://") || v.contains(char::is_whitespace) || v.chars().any(crate::sanitize::is_unsafe) {
        Some(format!("`{v}` is not a host name or IP address"))
    } else {
        None
    };
    if let Some(message) = problem {
        let hint = "write only the broker's host name or IP address (port and tls are fields of their own)";
        cx.err(h.loc, message, Some(hint.into()));
        return None;
    }
    Some(v.to_string())
}

/// A file named in the layout, as written (like the OPC UA user's files: relative to the
/// working folder of the process).
fn path(cx: &mut Ctx, p: &Sp<String>, what: &str) -> Option<PathBuf> {
    if p.value.trim().is_empty() {
        cx.err(p.loc, format!("{what} is empty"), Some("name the file".into()));
        return None;
    }
    Some(PathBuf::from(&p.value))
}

/// `tls: { ca, cert, key }`; `None` (reported) when it has an error.
fn tls(cx: &mut Ctx, t: &Sp<RawMqttTls>) -> Option<MqttTls> {
    let before = cx.diags.len();
    let ca = match &t.ca {
        None => {
            let hint = "add ca: FILE, the CA certificate (PEM) that signs the broker's certificate";
            cx.err(t.loc, "tls needs `ca`", Some(hint.into()));
            None
        }
        Some(ca) => path(cx, ca, "ca"),
    };
    match (&t.cert, &t.key) {
        (Some(c), None) => {
            cx.err(c.loc, "a client certificate needs its key", Some("add key: FILE, or remove cert".into()))
        }
        (None, Some(k)) => {
            cx.err(k.loc, "a client key needs its certificate", Some("add cert: FILE, or remove key".into()))
        }
        _ => {}
    }
    let client_cert = t.cert.as_ref().and_then(|c| path(cx, c, "cert"));
    let client_key = t.key.as_ref().and_then(|k| path(cx, k, "key"));
    if cx.diags.len() > before {
        return None;
    }
    Some(MqttTls { ca: ca?, client_cert, client_key })
}

/// `username` with `password_file` or `password_env`: `Some(None)` without a login, `None`
/// (reported) when it has an error.
fn login(cx: &mut Ctx, b: &RawBroker<'_>) -> Option<Option<MqttLogin>> {
    if let Some(p) = b.password {
        cx.err(
            p.loc,
            "a password never stands in the layout",
            Some("put it in a file (password_file:) or an environment variable (password_env:)".into()),
        );
        return None;
    }
    let Some(username) = b.username else {
        let given = [("password_file", b.password_file), ("password_env", b.password_env)];
        for (field, v) in given.iter().filter_map(|(f, v)| Some((f, v.as_ref()?))) {
            cx.err(
                v.loc,
                format!("`{field}` needs a `username`"),
                Some(format!("add username: NAME, or remove {field}")),
            );
        }
        return if b.password_file.is_some() || b.password_env.is_some() { None } else { Some(None) };
    };
    if username.value.is_empty() {
        cx.err(username.loc, "the username is empty", None);
        return None;
    }
    let password = match (b.password_file, b.password_env) {
        (Some(f), None) => SecretSource::File(path(cx, f, "password_file")?),
        (None, Some(e)) if e.value.trim().is_empty() => {
            cx.err(e.loc, "password_env is empty", Some("name the environment variable".into()));
            return None;
        }
        (None, Some(e)) => SecretSource::Env(e.value.clone()),
        (Some(_), Some(e)) => {
            cx.err(e.loc, "give the password one way: password_file or password_env", None);
            return None;
        }
        (None, None) => {
            cx.err(
                username.loc,
                "a username needs password_file or password_env",
                Some("add password_file: FILE (its first line is the password) or password_env: VARIABLE".into()),
            );
            return None;
        }
    };
    Some(Some(MqttLogin { username: username.value.clone(), password }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_topic_rule() {
        for ok in ["Plant", "Edge 1", "control-room-1", "Ünïcode", "a.b_c"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", "a/b", "a+b", "a#", "a\u{1b}b", "a\nb", "a\u{202e}b", "\u{200b}"] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }
}
