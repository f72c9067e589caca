//! The settings of an OPC UA connection: endpoint, security, user and publishing interval.

use std::time::Duration;

use crate::layout::ctx::Ctx;
use crate::layout::de::Sp;
use crate::layout::model::*;
use crate::layout::raw::*;
use crate::layout::suggest::did_you_mean;

pub(super) fn connection(cx: &mut Ctx, name: &str, ua: &Sp<RawOpcUa>, raw: &RawConnection) -> Option<ConnectionKind> {
    let before = cx.diags.len();
    let endpoint = ua.endpoint.value.trim().to_string();
    let host = endpoint.strip_prefix("opc.tcp://").map(|r| r.split(['/', ':']).next().unwrap_or(""));
    if !matches!(host, Some(h) if !h.is_empty()) {
        cx.err(
            ua.endpoint.loc,
            format!("`{endpoint}` is not an OPC UA endpoint"),
            Some("write opc.tcp://host:4840".into()),
        );
    }
    let security = match &ua.security {
        // Secure unless the layout says otherwise.
        None => Some(UaSecurity::Secure { policy: UaPolicy::Basic256Sha256, mode: UaMode::SignAndEncrypt }),
        Some(s) => ua_security(cx, s),
    };
    let user = match &ua.user {
        None => Some(UaUser::Anonymous),
        Some(u) => ua_user(cx, u),
    };
    let publishing_interval = raw
        .publishing_interval
        .as_ref()
        .map_or(Some(Duration::from_millis(500)), |p| cx.period(p, "publishing_interval"));
    let accept_host_name_mismatch = ua.accept_host_name_mismatch.as_ref().is_some_and(|a| a.value);
    if let Some(a) = &ua.accept_host_name_mismatch
        && a.value
        && security == Some(UaSecurity::None)
    {
        cx.err(
            a.loc,
            format!("`accept_host_name_mismatch` applies to secure connections; `{name}` has security: none"),
            Some("remove it: with security none no certificate is checked".into()),
        );
    }
    if cx.diags.len() > before {
        return None;
    }
    Some(ConnectionKind::OpcUa(OpcUaConn {
        endpoint,
        security: security?,
        user: user?,
        publishing_interval: publishing_interval?,
        accept_host_name_mismatch,
    }))
}

const POLICIES: [&str; 3] = ["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"];
const MODES: [&str; 2] = ["Sign", "SignAndEncrypt"];

fn ua_security(cx: &mut Ctx, s: &Sp<RawSecurity>) -> Option<UaSecurity> {
    match &s.value {
        RawSecurity::Named(n) if n == "none" => Some(UaSecurity::None),
        RawSecurity::Named(n) => {
            cx.err(
                s.loc,
                format!("security `{n}` is not known"),
                Some("write `none`, or `{ policy: Basic256Sha256, mode: SignAndEncrypt }`".into()),
            );
            None
        }
        RawSecurity::Policy { policy, mode, unknown } => {
            for k in unknown {
                cx.err(k.loc, format!("unknown field `{}`", k.value), Some("allowed here: policy, mode".into()));
            }
            let policy = match policy {
                None => {
                    cx.err(s.loc, "security needs a `policy`", Some(format!("one of {}", POLICIES.join(", "))));
                    None
                }
                Some(p) => match p.value.as_str() {
                    "Basic256Sha256" => Some(UaPolicy::Basic256Sha256),
                    "Aes128_Sha256_RsaOaep" => Some(UaPolicy::Aes128Sha256RsaOaep),
                    "Aes256_Sha256_RsaPss" => Some(UaPolicy::Aes256Sha256RsaPss),
                    other => {
                        let hint = match did_you_mean(other, POLICIES) {
                            Some(m) => format!("did you mean `{m}`?"),
                            None if ["Basic128Rsa15", "Basic256"].contains(&other) => {
                                "this policy is deprecated and insecure; use Basic256Sha256".into()
                            }
                            None => format!("one of {}", POLICIES.join(", ")),
                        };
                        cx.err(p.loc, format!("security policy `{other}` is not supported"), Some(hint));
                        None
                    }
                },
            };
            let mode = match mode {
                None => {
                    cx.err(s.loc, "security needs a `mode`", Some("Sign or SignAndEncrypt".into()));
                    None
                }
                Some(m) => match m.value.as_str() {
                    "Sign" => Some(UaMode::Sign),
                    "SignAndEncrypt" => Some(UaMode::SignAndEncrypt),
                    other => {
                        let hint = did_you_mean(other, MODES)
                            .map_or("Sign or SignAndEncrypt".to_string(), |m| format!("did you mean `{m}`?"));
                        cx.err(m.loc, format!("security mode `{other}` is not known"), Some(hint));
                        None
                    }
                },
            };
            Some(UaSecurity::Secure { policy: policy?, mode: mode? })
        }
    }
}

fn ua_user(cx: &mut Ctx, u: &Sp<RawUser>) -> Option<UaUser> {
    if let Some(p) = &u.password {
        cx.err(
            p.loc,
            "a password never stands in the layout",
            Some("put it in a file (password_file:) or an environment variable (password_env:)".into()),
        );
        return None;
    }
    match (&u.username, &u.certificate) {
        (Some(_), Some(c)) => {
            cx.err(c.loc, "a user is either a username or a certificate", None);
            None
        }
        (None, None) => {
            cx.err(u.loc, "user needs a `username` (with password_file or password_env) or a `certificate`", None);
            None
        }
        (None, Some(c)) => {
            for f in [&u.password_file, &u.password_env].into_iter().flatten() {
                cx.err(f.loc, "a certificate user has no password", Some("remove it".into()));
            }
            Some(UaUser::Certificate { cert: c.cert.value.clone().into(), key: c.key.value.clone().into() })
        }
        (Some(name), None) => {
            let password = match (&u.password_file, &u.password_env) {
                (Some(f), None) => SecretSource::File(f.value.clone().into()),
                (None, Some(e)) => SecretSource::Env(e.value.clone()),
                (Some(_), Some(e)) => {
                    cx.err(e.loc, "give the password one way: password_file or password_env", None);
                    return None;
                }
                (None, None) => {
                    cx.err(u.loc, "a username needs password_file or password_env", None);
                    return None;
                }
            };
            if name.value.is_empty() {
                cx.err(name.loc, "the username is empty", None);
                return None;
            }
            Some(UaUser::UserName { username: name.value.clone(), password })
        }
    }
}
