//! Signed write commands: what a console sends to write a Sparkplug tag, and what the gateway
//! checks before it writes anything.
//!
//! A console writes a metric with a DCMD (an NCMD for a metric of the node itself) carrying one
//! metric: its alias from the birth (or its name), its datatype and the value, with these
//! properties (Sparkplug property sets, 6.4.10):
//!
//! | key | type | what |
//! |---|---|---|
//! | `user` | String | the person at the console |
//! | `role` | String | their role there (`viewer`, `operator`, `engineer`, `admin`) |
//! | `host` | String | the console's Sparkplug host id (names its key in the gateway's consoles file) |
//! | `request_id` | String | unique per write; the answer names it |
//! | `time` | UInt64 | when it was sent, ms since the epoch (UTC) |
//! | `signature` | String | Ed25519 over [`WriteRequest::signed_bytes`], standard base64 (Sparkplug properties have no bytes type) |
//!
//! The signature covers every property, the group, node and device ids, the metric's **name**
//! (resolved from the birth, so the alias is not signed: both ends know the name), the datatype
//! number and the value as this codec encodes it ([`codec::encode`], canonical: a peer's
//! unextended Int8 reads and re-encodes the same). Each field is length-prefixed after a domain
//! tag, so no two requests sign the same bytes.
//!
//! The key ([`load_or_create_key`]) is made once per installation in the state folder, mode
//! 0600; its public half is one line ([`public_line`]) that goes into a gateway's consoles file.
//! The gateway keeps recent request ids ([`Replay`]) and refuses a command whose id it has seen
//! or whose time is more than [`REPLAY_WINDOW`] from its own clock.
//!
//! Everything here is pure (no network, time passed in) except the key file.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use prost::Message as _;

use super::codec::{DataType, SpValue, encode};
use super::proto::payload::property_value::Value as PropValue;
use super::proto::payload::{Metric, PropertySet, PropertyValue};
use crate::sanitize::clean;

/// What the signature starts with: a signature for anything else never verifies as a write.
const DOMAIN: &[u8] = b"ttyhmi sparkplug write v1";

/// How far a command's `time` may be from the gateway's clock, either way.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(30);

/// The most request ids [`Replay`] keeps by default (within one window).
pub const MAX_RECENT_REQUESTS: usize = 100_000;

/// The longest `user`, `role`, `host` or `request_id` property accepted (bytes).
pub const MAX_CLAIM_BYTES: usize = 256;

/// The key file's name in the state folder ([`key_path`]).
pub const KEY_FILE: &str = "command.key";

/// Where this installation's command key is: [`KEY_FILE`] in the state folder.
pub fn key_path() -> PathBuf {
    crate::paths::state_dir().join(KEY_FILE)
}

/// A new request id: 128 random bits in hex (unique without coordination between consoles).
pub fn new_request_id() -> Result<String, KeyError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The first word of a public key line.
pub const PUBLIC_PREFIX: &str = "ttyhmi-ed25519";

/// The first word of the key file.
const SECRET_PREFIX: &str = "ttyhmi-ed25519-secret";

/// The largest key file read (it is one short line).
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Property keys.
pub const PROP_USER: &str = "user";
pub const PROP_ROLE: &str = "role";
pub const PROP_HOST: &str = "host";
pub const PROP_REQUEST_ID: &str = "request_id";
pub const PROP_TIME: &str = "time";
pub const PROP_SIGNATURE: &str = "signature";

/// Sparkplug datatype numbers of the properties.
const TYPE_UINT64: u32 = DataType::UInt64 as u32;
const TYPE_STRING: u32 = DataType::String as u32;

/// One write, as signed by the console and rebuilt by the gateway.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteRequest {
    pub group: String,
    pub node: String,
    /// `None`: a metric of the node itself (NCMD).
    pub device: Option<String>,
    /// The metric's name (from the birth, also when the command carries only its alias).
    pub metric: String,
    pub datatype: DataType,
    pub value: SpValue,
    pub user: String,
    pub role: String,
    /// The console's Sparkplug host id.
    pub host: String,
    pub request_id: String,
    /// When the console sent it, ms since the epoch.
    pub time_ms: u64,
}

/// Appends `bytes` with its length before it (8 bytes, big-endian).
fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

impl WriteRequest {
    /// Canonical bytes signed: a domain tag ("ttyhmi sparkplug write v1") and every field
    /// length-prefixed (no ambiguity), the value as its codec wire encoding.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        field(&mut out, DOMAIN);
        field(&mut out, self.group.as_bytes());
        field(&mut out, self.node.as_bytes());
        match &self.device {
            None => out.push(0),
            Some(d) => {
                out.push(1);
                field(&mut out, d.as_bytes());
            }
        }
        field(&mut out, self.metric.as_bytes());
        out.extend_from_slice(&(self.datatype as u32).to_be_bytes());
        // The value as the metric's value field alone encodes it (protobuf: deterministic for
        // one field); a value that is not one of the datatype is marked and signs as nothing.
        match encode(self.datatype, &self.value) {
            Some(wire) => {
                out.push(1);
                field(&mut out, &Metric { value: Some(wire), ..Metric::default() }.encode_to_vec());
            }
            None => out.push(0),
        }
        field(&mut out, self.user.as_bytes());
        field(&mut out, self.role.as_bytes());
        field(&mut out, self.host.as_bytes());
        field(&mut out, self.request_id.as_bytes());
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        out
    }

    /// The signature of this request with `key`.
    pub fn sign(&self, key: &SigningKey) -> Signature {
        key.sign(&self.signed_bytes())
    }

    /// The DCMD/NCMD metric: alias (or name when None), datatype, value, timestamp, the
    /// properties incl. the signature made with `key`.
    pub fn to_metric(&self, alias: Option<u64>, key: &SigningKey) -> Metric {
        let text = |s: &str| PropertyValue {
            r#type: Some(TYPE_STRING),
            is_null: None,
            value: Some(PropValue::StringValue(s.to_string())),
        };
        let signature = B64.encode(self.sign(key).to_bytes());
        let props = [
            (PROP_USER, text(&self.user)),
            (PROP_ROLE, text(&self.role)),
            (PROP_HOST, text(&self.host)),
            (PROP_REQUEST_ID, text(&self.request_id)),
            (
                PROP_TIME,
                PropertyValue {
                    r#type: Some(TYPE_UINT64),
                    is_null: None,
                    value: Some(PropValue::LongValue(self.time_ms)),
                },
            ),
            (PROP_SIGNATURE, text(&signature)),
        ];
        Metric {
            name: alias.is_none().then(|| self.metric.clone()),
            alias,
            timestamp: Some(self.time_ms),
            datatype: Some(self.datatype as u32),
            value: encode(self.datatype, &self.value),
            properties: Some(PropertySet {
                keys: props.iter().map(|(k, _)| k.to_string()).collect(),
                values: props.into_iter().map(|(_, v)| v).collect(),
            }),
            ..Metric::default()
        }
    }

    /// The topic: `spBv1.0/<group>/DCMD/<node>/<device>` or `spBv1.0/<group>/NCMD/<node>`.
    pub fn topic(&self) -> String {
        match &self.device {
            Some(d) => format!("spBv1.0/{}/DCMD/{}/{d}", self.group, self.node),
            None => format!("spBv1.0/{}/NCMD/{}", self.group, self.node),
        }
    }
}

/// What a command's properties say (before any check), from the metric the gateway received.
/// The texts came from the network: clean them ([`crate::sanitize::clean`]) before they reach a
/// terminal or a log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    pub user: String,
    pub role: String,
    pub host: String,
    pub request_id: String,
    pub time_ms: u64,
    /// The signature's bytes (decoded from base64; 64 bytes).
    pub signature: Vec<u8>,
}

impl Claims {
    /// The request these claims sign, for the metric the gateway resolved (its name from the
    /// birth, the datatype and value as received) on the topic's group, node and device.
    pub fn request(
        &self,
        group: &str,
        node: &str,
        device: Option<&str>,
        metric: &str,
        datatype: DataType,
        value: SpValue,
    ) -> WriteRequest {
        WriteRequest {
            group: group.to_string(),
            node: node.to_string(),
            device: device.map(str::to_string),
            metric: metric.to_string(),
            datatype,
            value,
            user: self.user.clone(),
            role: self.role.clone(),
            host: self.host.clone(),
            request_id: self.request_id.clone(),
            time_ms: self.time_ms,
        }
    }
}

/// The one value of property `key`, or why there is none usable.
fn property<'a>(props: &'a PropertySet, key: &str) -> Result<&'a PropertyValue, String> {
    let mut found = props.keys.iter().enumerate().filter(|(_, k)| k.as_str() == key).map(|(i, _)| i);
    let (Some(i), None) = (found.next(), found.next()) else {
        let n = props.keys.iter().filter(|k| k.as_str() == key).count();
        return Err(if n == 0 {
            format!("property `{key}` is missing")
        } else {
            format!("property `{key}` is given {n} times")
        });
    };
    props.values.get(i).ok_or_else(|| format!("property `{key}` has no value"))
}

fn text_property(props: &PropertySet, key: &str) -> Result<String, String> {
    let v = property(props, key)?;
    match (&v.value, v.r#type, v.is_null) {
        (_, _, Some(true)) => Err(format!("property `{key}` is null")),
        (Some(PropValue::StringValue(s)), Some(TYPE_STRING), _) => {
            if s.is_empty() {
                Err(format!("property `{key}` is empty"))
            } else if s.len() > MAX_CLAIM_BYTES {
                Err(format!("property `{key}` is longer than {MAX_CLAIM_BYTES} bytes"))
            } else {
                Ok(s.clone())
            }
        }
        _ => Err(format!("property `{key}` is not a String")),
    }
}

/// What a command's properties say (before any check); `Err(why)` if a property is missing,
/// given twice, null, empty or of the wrong type, or the signature is not 64 bytes of base64.
pub fn claims(props: Option<&PropertySet>) -> Result<Claims, String> {
    let props = props.ok_or("the metric has no properties")?;
    if props.keys.len() != props.values.len() {
        return Err(format!("the properties have {} keys but {} values", props.keys.len(), props.values.len()));
    }
    let time = property(props, PROP_TIME)?;
    let time_ms = match (&time.value, time.r#type, time.is_null) {
        (Some(PropValue::LongValue(t)), Some(TYPE_UINT64), None | Some(false)) => *t,
        _ => return Err(format!("property `{PROP_TIME}` is not a UInt64")),
    };
    let signature = text_property(props, PROP_SIGNATURE)?;
    let signature = B64.decode(signature.trim()).map_err(|_| format!("property `{PROP_SIGNATURE}` is not base64"))?;
    if signature.len() != Signature::BYTE_SIZE {
        return Err(format!(
            "property `{PROP_SIGNATURE}` holds {} bytes, not an Ed25519 signature ({})",
            signature.len(),
            Signature::BYTE_SIZE
        ));
    }
    Ok(Claims {
        user: text_property(props, PROP_USER)?,
        role: text_property(props, PROP_ROLE)?,
        host: text_property(props, PROP_HOST)?,
        request_id: text_property(props, PROP_REQUEST_ID)?,
        time_ms,
        signature,
    })
}

/// Checks a signature: the request rebuilt by the gateway from the topic, the metric (as the
/// gateway resolved it) and the claims. Strict verification (no malleable signatures, no weak
/// keys).
pub fn verify(req: &WriteRequest, signature: &[u8], key: &VerifyingKey) -> bool {
    let Ok(sig) = Signature::from_slice(signature) else { return false };
    key.verify_strict(&req.signed_bytes(), &sig).is_ok()
}

/// Replay protection: a request id seen (within the window) or a time outside ±window of now is
/// refused. Memory is bounded: an id is forgotten once its time is outside the window (it would
/// be refused for its time then), and at most a set number are kept: when that many are recent,
/// a new request is refused rather than an id forgotten early.
///
/// Ids are forgotten as the clock passes them: if the gateway's clock is set back by more than
/// the window, a command captured before could be accepted again (keep the clock on NTP).
#[derive(Clone, Debug)]
pub struct Replay {
    window_ms: u64,
    capacity: usize,
    /// Request id → its time.
    seen: HashMap<String, u64>,
    /// (time, id), oldest first, to forget them in order.
    by_time: BTreeSet<(u64, String)>,
}

impl Replay {
    /// Replay protection over `window` either way, keeping at most [`MAX_RECENT_REQUESTS`] ids.
    pub fn new(window: Duration) -> Replay {
        Replay::with_capacity(window, MAX_RECENT_REQUESTS)
    }

    /// As [`Replay::new`], keeping at most `capacity` ids.
    pub fn with_capacity(window: Duration, capacity: usize) -> Replay {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        Replay { window_ms, capacity, seen: HashMap::new(), by_time: BTreeSet::new() }
    }

    /// How many request ids are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Whether a request `request_id` sent at `time_ms` may be carried out at `now_ms` (and if
    /// so, it is remembered); `Err` says why not.
    pub fn check(&mut self, request_id: &str, time_ms: u64, now_ms: u64) -> Result<(), String> {
        self.forget_before(now_ms);
        let off = i128::from(time_ms) - i128::from(now_ms);
        if off.unsigned_abs() > u128::from(self.window_ms) {
            let (how, secs) = if off < 0 { ("behind", -off) } else { ("ahead of", off) };
            return Err(format!(
                "its time is {:.3} s {how} this gateway's clock (at most {:.3} s either way): a replay, or a clock \
                 out of step (keep both on NTP)",
                secs as f64 / 1000.0,
                self.window_ms as f64 / 1000.0
            ));
        }
        if self.seen.contains_key(request_id) {
            return Err(format!("request id `{}` was used before: a replayed command", clean(request_id)));
        }
        if self.seen.len() >= self.capacity {
            return Err(format!(
                "{} write requests arrived within {:.0} s, the most this gateway keeps track of: try again shortly",
                self.capacity,
                self.window_ms as f64 / 1000.0
            ));
        }
        self.seen.insert(request_id.to_string(), time_ms);
        self.by_time.insert((time_ms, request_id.to_string()));
        Ok(())
    }

    /// Forgets the ids whose time is outside the window at `now_ms` (they are refused for their
    /// time from now on).
    fn forget_before(&mut self, now_ms: u64) {
        let oldest_valid = now_ms.saturating_sub(self.window_ms);
        while let Some((t, _)) = self.by_time.first()
            && *t < oldest_valid
        {
            if let Some((_, id)) = self.by_time.pop_first() {
                self.seen.remove(&id);
            }
        }
    }
}

/// Why the command key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the command key file {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error(
        "the command key file {} can be read by {who} (mode {mode:04o}): a private key must be readable by its \
         owner only; run `chmod 600 {}` (and consider the key exposed: make a new one if others could read it)",
        path.display(),
        path.display()
    )]
    Exposed { path: PathBuf, who: &'static str, mode: u32 },
    #[error(
        "the command key file {} is damaged ({why}); it is never replaced on its own: move it away and run again \
         to make a new key, then give the new `ttyhmi key` line to every gateway's consoles file",
        path.display()
    )]
    Damaged { path: PathBuf, why: String },
    #[error("cannot make the command key file {}: {message}", path.display())]
    Create { path: PathBuf, message: String },
    #[error("cannot make a command key: the system gives no random numbers ({0})")]
    Random(String),
}

/// The installation's command key: made once (32 random bytes, file mode 0600, at `path`, in
/// the state folder), read back after; `true` when it was made now. A key file readable by group
/// or others is refused with a message saying `chmod 600 <path>`; a damaged file is an error
/// naming it (never silently replaced). Two processes making it at once end up with the same key.
pub fn load_or_create_key(path: &Path) -> Result<(SigningKey, bool), KeyError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => return read_key(path).map(|k| (k, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(KeyError::Read { path: path.to_path_buf(), message: e.to_string() }),
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    let created = create_key_file(path, &key)?;
    // What is on disk now is the key (another process may have made it first).
    let on_disk = read_key(path)?;
    Ok((on_disk, created))
}

/// Writes the key file if there is none yet; `false` when one appeared meanwhile.
fn create_key_file(path: &Path, key: &SigningKey) -> Result<bool, KeyError> {
    let err = |e: std::io::Error| KeyError::Create { path: path.to_path_buf(), message: e.to_string() };
    let dir = crate::files::folder_of(path);
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(err)?;
    }
    let text = format!("{SECRET_PREFIX} {}\n", B64.encode(key.to_bytes()));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "key".into());
    let staged = dir.join(format!(".{name}.new.{}", std::process::id()));
    crate::files::write_atomic(&staged, &text, 0o600, None).map_err(err)?;
    // A link never replaces a file that is there: the first key made stays the key.
    let linked = std::fs::hard_link(&staged, path);
    let _ = std::fs::remove_file(&staged);
    match linked {
        Ok(()) => {
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(err(e)),
    }
}

fn read_key(path: &Path) -> Result<SigningKey, KeyError> {
    use std::os::unix::fs::MetadataExt;
    let read_err = |message: String| KeyError::Read { path: path.to_path_buf(), message };
    let file = crate::files::open_regular(path).map_err(|e| read_err(e.to_string()))?;
    let meta = file.metadata().map_err(|e| read_err(e.to_string()))?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        let who = if mode & 0o007 != 0 { "others" } else { "its group" };
        return Err(KeyError::Exposed { path: path.to_path_buf(), who, mode });
    }
    let bytes = crate::files::read_capped(file, MAX_KEY_FILE_BYTES).map_err(|e| read_err(e.to_string()))?;
    let damaged = |why: &str| KeyError::Damaged { path: path.to_path_buf(), why: why.to_string() };
    let text = std::str::from_utf8(&bytes).map_err(|_| damaged("it is not text"))?;
    let words: Vec<&str> = text.split_whitespace().collect();
    let [prefix, b64] = words.as_slice() else {
        return Err(damaged(&format!("expected one line `{SECRET_PREFIX} <base64>`")));
    };
    if *prefix != SECRET_PREFIX {
        return Err(damaged(&format!("it does not start with `{SECRET_PREFIX}`")));
    }
    let seed = B64.decode(b64).map_err(|_| damaged("the key is not base64"))?;
    let seed: [u8; 32] = seed.try_into().map_err(|_| damaged("the key is not 32 bytes"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The public half on one line: `ttyhmi-ed25519 <base64 of 32 bytes>`.
pub fn public_line(key: &VerifyingKey) -> String {
    format!("{PUBLIC_PREFIX} {}", B64.encode(key.as_bytes()))
}

/// A public key line back ([`public_line`]): spaces and tabs around and between the two words
/// are fine; anything else (another prefix, a third word, base64 that is not 32 bytes, a point
/// that is not a usable key) is an error that says what.
pub fn parse_public_line(s: &str) -> Result<VerifyingKey, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let b64 = match words.as_slice() {
        [] => {
            return Err(format!(
                "the key line is empty; expected `{PUBLIC_PREFIX} <base64>` as `ttyhmi key` prints it"
            ));
        }
        [p, b] if *p == PUBLIC_PREFIX => *b,
        [p, ..] if *p != PUBLIC_PREFIX => {
            return Err(format!(
                "the key line starts with `{}`, not `{PUBLIC_PREFIX}`; copy the line `ttyhmi key` prints",
                clean(&p.chars().take(40).collect::<String>())
            ));
        }
        [_] => return Err(format!("the key line has no key after `{PUBLIC_PREFIX}`")),
        _ => {
            return Err(format!("the key line has {} words; expected two: `{PUBLIC_PREFIX} <base64>`", words.len()));
        }
    };
    let bytes = B64.decode(b64).map_err(|e| format!("the key is not base64 ({e})"))?;
    let n = bytes.len();
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| format!("the key is {n} bytes, not 32"))?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| "the key is not an Ed25519 public key".to_string())?;
    if key.is_weak() {
        return Err("the key is a weak Ed25519 key (of small order): it cannot be trusted".into());
    }
    Ok(key)
}

#[cfg(test)]
mod tests;
