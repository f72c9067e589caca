//! Values a connection cannot decode.
//!
//! async-opcua decodes a response whole: one value it cannot decode (a String over the decoding
//! limit, text that is not UTF-8, an array too long, …) fails the whole response and closes the
//! connection. In a publish response, that is every value that changed with it; after the
//! reconnect the subscription is resumed and the lost values are not sent again, so the tags
//! stay dark while the connection looks up.
//!
//! The driver therefore ends such a session and finds the culprits with a *probe*: a separate
//! session that only reads. The values are read in groups; a group whose answer cannot be
//! decoded (the probe's connection closes on it, the probe reconnects) is split in halves until
//! single nodes remain. A second probe with [`Limits::DIAGNOSE`] then tells why each one failed
//! (its size against the limit, or not decodable at all). The culprits stay out of the
//! subscription, Bad with that reason, and are read again every [`RECHECK`]; one that decodes
//! again goes back into the subscription.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use opcua::client::{Session, SessionPollResult};
use opcua::types::{AttributeId, DataValue, NodeId, ReadValueId, StatusCode, TimestampsToReturn, Variant};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{AbortOnDrop, Limits, UaJob, convert, prepare_with};
use crate::tag::TagId;

/// How often values that cannot be decoded are read again.
pub const RECHECK: Duration = Duration::from_secs(5);

/// Nodes read in one request at first (servers limit the nodes per Read; 100 is safe).
const GROUP: usize = 100;

/// Reconnects a probe may make in a row before it gives up (each one after an answer it could
/// not decode).
const PROBE_RETRIES: i32 = 3;

/// A status with which a response could not be decoded: the connection closed on it
/// (`Bad_DecodingError`), or it had more chunks than allowed (`Bad_EncodingLimitsExceeded`).
pub fn undecodable(s: StatusCode) -> bool {
    matches!(s, StatusCode::BadDecodingError | StatusCode::BadEncodingLimitsExceeded)
}

/// What the probe's session event loop reports.
enum Event {
    Up,
    Lost(StatusCode),
    Gone(StatusCode),
}

/// Why a read of the probe failed.
enum ReadFail {
    /// The answer could not be decoded (the probe has reconnected since).
    Undecodable,
    /// The server refused this many nodes in one Read.
    TooMany,
    /// Anything else, in words.
    Other(String),
}

/// A session that only reads, and survives answers it cannot decode (it reconnects).
pub struct Probe {
    session: Arc<Session>,
    events: mpsc::UnboundedReceiver<Event>,
    limit: Duration,
    _event_loop: AbortOnDrop,
}

impl Probe {
    /// Connects with `limits`, as the connection of `job` does.
    pub async fn open(job: &UaJob, limits: &Limits) -> Result<Probe, String> {
        let prepared = prepare_with(job, limits, PROBE_RETRIES).await?;
        let (tx, events) = mpsc::unbounded_channel();
        let event_loop = prepared.event_loop;
        let task = tokio::spawn(async move {
            let mut stream = std::pin::pin!(event_loop.enter());
            while let Some(r) = stream.next().await {
                let e = match r {
                    Ok(SessionPollResult::Reconnected(_)) => Event::Up,
                    Ok(SessionPollResult::ConnectionLost(s)) => Event::Lost(s),
                    Err(s) => Event::Gone(s),
                    Ok(_) => continue,
                };
                if tx.send(e).is_err() {
                    return;
                }
            }
            let _ = tx.send(Event::Gone(StatusCode::BadConnectionClosed));
        });
        let limit = job.timeout.max(Duration::from_secs(5));
        let mut probe = Probe { session: prepared.session, events, limit, _event_loop: AbortOnDrop(task) };
        probe.wait_up().await?;
        Ok(probe)
    }

    /// Waits until the session is (again) connected.
    async fn wait_up(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + self.limit;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => return Err(format!("the probe session did not connect within {:?}", self.limit)),
                Ok(None) => return Err("the probe session ended".into()),
                Ok(Some(Event::Up)) => return Ok(()),
                Ok(Some(Event::Lost(_))) => {}
                Ok(Some(Event::Gone(s))) => {
                    return Err(format!("the probe session failed: {}", convert::status_name(s)));
                }
            }
        }
    }

    /// The status with which the connection closed, if it does within a moment.
    async fn lost(&mut self) -> Option<StatusCode> {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(Event::Lost(s))) | Ok(Some(Event::Gone(s))) => return Some(s),
                Ok(Some(Event::Up)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Reads the Value attribute of `nodes` (with both timestamps, as a subscription reports).
    async fn read(&mut self, nodes: &[NodeId]) -> Result<Vec<DataValue>, ReadFail> {
        let ids: Vec<ReadValueId> = nodes
            .iter()
            .map(|n| ReadValueId { node_id: n.clone(), attribute_id: AttributeId::Value as u32, ..Default::default() })
            .collect();
        let e = match self.session.read(&ids, TimestampsToReturn::Both, 0.0).await {
            Ok(v) if v.len() == nodes.len() => return Ok(v),
            Ok(v) => {
                return Err(ReadFail::Other(format!(
                    "the server answered {} values for {} nodes",
                    v.len(),
                    nodes.len()
                )));
            }
            Err(e) => e.status(),
        };
        match e {
            StatusCode::BadTooManyOperations => return Err(ReadFail::TooMany),
            s if undecodable(s) => return Err(ReadFail::Undecodable),
            // The answer was lost with the connection: find out why it closed.
            StatusCode::BadConnectionClosed => {}
            s => return Err(ReadFail::Other(convert::status_name(s))),
        }
        match self.lost().await {
            Some(s) if undecodable(s) => {
                self.wait_up().await.map_err(ReadFail::Other)?;
                Err(ReadFail::Undecodable)
            }
            Some(s) => Err(ReadFail::Other(format!("the connection closed: {}", convert::status_name(s)))),
            None => Err(ReadFail::Other(convert::status_name(e))),
        }
    }

    /// Closes the session (the server frees it at once).
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.session.disconnect()).await;
    }
}

/// The outcome of reading a set of nodes through a probe.
#[derive(Debug, Default)]
pub struct Found {
    /// Values that decoded, as read.
    pub good: Vec<(TagId, DataValue)>,
    /// Nodes whose values could not be decoded.
    pub bad: Vec<(TagId, NodeId)>,
}

/// Reads every node, splitting groups whose answers cannot be decoded until the culprits are
/// single nodes. At most about `2 × nodes` reads; each undecodable answer costs a reconnect.
pub async fn sort(probe: &mut Probe, nodes: &[(TagId, NodeId)]) -> Result<Found, String> {
    let mut found = Found::default();
    let mut todo: Vec<&[(TagId, NodeId)]> = nodes.chunks(GROUP).rev().collect();
    while let Some(group) = todo.pop() {
        let ids: Vec<NodeId> = group.iter().map(|(_, n)| n.clone()).collect();
        match probe.read(&ids).await {
            Ok(values) => found.good.extend(group.iter().map(|(t, _)| *t).zip(values)),
            Err(ReadFail::Undecodable | ReadFail::TooMany) if group.len() > 1 => {
                let (a, b) = group.split_at(group.len() / 2);
                todo.push(b);
                todo.push(a);
            }
            // A group of one (groups are never empty).
            Err(ReadFail::Undecodable) => found.bad.extend(group.iter().cloned()),
            Err(ReadFail::TooMany) => return Err("the server refuses to read even one node".into()),
            Err(ReadFail::Other(m)) => return Err(m),
        }
    }
    Ok(found)
}

/// Reads `nodes` through a new probe with the connection's limits (a periodic check of the
/// values that could not be decoded).
pub async fn check(job: &UaJob, nodes: &[(TagId, NodeId)]) -> Result<Found, String> {
    let mut probe = Probe::open(job, &Limits::CONNECTION).await?;
    let found = sort(&mut probe, nodes).await;
    probe.close().await;
    found
}

/// Finds the nodes among `nodes` whose values cannot be decoded, and says why for each.
pub async fn culprits(job: &UaJob, nodes: &[(TagId, NodeId)]) -> Result<Vec<(TagId, NodeId, String)>, String> {
    let bad = check(job, nodes).await?.bad;
    if bad.is_empty() {
        return Ok(Vec::new());
    }
    let limits = Limits::CONNECTION;
    let again = format!("read again every {RECHECK:?}");
    // With larger limits, a value that was only too large decodes and shows its size.
    let diagnosed = match Probe::open(job, &Limits::DIAGNOSE).await {
        Ok(mut probe) => {
            let found = sort(&mut probe, &bad).await;
            probe.close().await;
            found.ok()
        }
        Err(_) => None,
    };
    Ok(bad
        .into_iter()
        .map(|(tag, node)| {
            let why = match &diagnosed {
                None => format!(
                    "the server's value is over the console's limits ({} per String, {} elements per array) or not valid (such as a String that is not UTF-8)",
                    bytes_text(limits.string),
                    limits.array
                ),
                Some(d) if d.bad.iter().any(|(t, _)| *t == tag) => format!(
                    "the server's value is not valid OPC UA binary (such as a String that is not UTF-8) or larger than {}",
                    bytes_text(Limits::DIAGNOSE.string)
                ),
                Some(d) => {
                    let value = d.good.iter().find(|(t, _)| *t == tag).and_then(|(_, dv)| dv.value.as_ref());
                    value.and_then(|v| over(v, &limits)).unwrap_or_else(|| {
                        format!(
                            "the server's value cannot be decoded within the console's limits ({} per message)",
                            bytes_text(limits.message)
                        )
                    })
                }
            };
            (tag, node, format!("{why}; {again}"))
        })
        .collect())
}

/// Which limit a decoded value is over, in words: `a String of 4194305 bytes, over the limit of
/// 4 MiB`. `None` when it is within every limit checked here.
pub fn over(v: &Variant, limits: &Limits) -> Option<String> {
    match v {
        Variant::String(s) => {
            let n = s.value().as_ref().map_or(0, |s| s.len());
            (n > limits.string)
                .then(|| format!("a String of {n} bytes, over the console's limit of {}", bytes_text(limits.string)))
        }
        Variant::LocalizedText(t) => {
            let n = t.text.value().as_ref().map_or(0, |s| s.len()) + t.locale.value().as_ref().map_or(0, |s| s.len());
            (n > limits.string).then(|| {
                format!("a LocalizedText of {n} bytes, over the console's limit of {}", bytes_text(limits.string))
            })
        }
        Variant::ByteString(b) => {
            let n = b.value.as_ref().map_or(0, |b| b.len());
            (n > limits.byte_string).then(|| {
                format!("a ByteString of {n} bytes, over the console's limit of {}", bytes_text(limits.byte_string))
            })
        }
        Variant::Array(a) if a.values.len() > limits.array => {
            Some(format!("an array of {} elements, over the console's limit of {}", a.values.len(), limits.array))
        }
        Variant::Array(a) => a.values.iter().find_map(|x| over(x, limits)).map(|w| format!("in an array: {w}")),
        Variant::Variant(inner) => over(inner, limits),
        _ => None,
    }
}

/// `4 MiB`, `64 KiB`, `1000 bytes`.
pub fn bytes_text(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opcua::types::{ByteString, LocalizedText, UAString};

    const SMALL: Limits = Limits { string: 10, byte_string: 4, array: 3, message: 1 << 20, chunks: 16 };

    #[test]
    fn sizes_in_words() {
        assert_eq!(bytes_text(4 << 20), "4 MiB");
        assert_eq!(bytes_text(64 << 10), "64 KiB");
        assert_eq!(bytes_text(65535), "65535 bytes");
        assert_eq!(bytes_text(0), "0 bytes");
    }

    #[test]
    fn the_limit_a_value_is_over_is_named() {
        let s = |n: usize| Variant::String(UAString::from("x".repeat(n)));
        assert_eq!(over(&s(10), &SMALL), None);
        assert_eq!(over(&s(11), &SMALL).as_deref(), Some("a String of 11 bytes, over the console's limit of 10 bytes"));
        assert_eq!(over(&Variant::String(UAString::null()), &SMALL), None);
        // Bytes, not characters: five é are ten bytes.
        assert_eq!(over(&Variant::String("ééééé".into()), &SMALL), None);
        assert!(over(&Variant::String("éééééé".into()), &SMALL).is_some_and(|w| w.contains("12 bytes")));
        let b = |n: usize| Variant::ByteString(ByteString::from(vec![0u8; n]));
        assert_eq!(over(&b(4), &SMALL), None);
        assert!(over(&b(5), &SMALL).is_some_and(|w| w.starts_with("a ByteString of 5 bytes")));
        assert_eq!(over(&Variant::ByteString(ByteString::null()), &SMALL), None);
        let lt = Variant::LocalizedText(Box::new(LocalizedText::new("en", "123456789")));
        assert!(over(&lt, &SMALL).is_some_and(|w| w.starts_with("a LocalizedText of 11 bytes")));
        let arr = |n: usize| Variant::from((0..n as i32).collect::<Vec<i32>>());
        assert_eq!(over(&arr(3), &SMALL), None);
        assert_eq!(over(&arr(4), &SMALL).as_deref(), Some("an array of 4 elements, over the console's limit of 3"));
        let strings = Variant::from(vec![UAString::from("ok"), UAString::from("x".repeat(11))]);
        assert!(over(&strings, &SMALL).is_some_and(|w| w.starts_with("in an array: a String of 11 bytes")));
        assert_eq!(over(&Variant::Double(1.0), &SMALL), None);
        assert_eq!(over(&Variant::Empty, &SMALL), None);
    }

    #[test]
    fn the_limits_fit_together() {
        for l in [Limits::CONNECTION, Limits::DIAGNOSE] {
            // A message of the largest size fits in the chunks allowed (chunks of 64 KiB).
            assert!(l.chunks * super::super::CHUNK >= l.message, "{l:?}");
            // A value at the limit fits in a message.
            assert!(l.string < l.message && l.byte_string < l.message && l.array * 8 < l.message, "{l:?}");
        }
        let (c, d) = (Limits::CONNECTION, Limits::DIAGNOSE);
        assert!(d.string > c.string && d.byte_string > c.byte_string && d.array > c.array && d.message > c.message);
        assert_eq!(bytes_text(c.string), "4 MiB");
    }

    #[test]
    fn only_decoding_statuses_count_as_undecodable() {
        assert!(undecodable(StatusCode::BadDecodingError));
        assert!(undecodable(StatusCode::BadEncodingLimitsExceeded));
        for s in
            [StatusCode::BadConnectionClosed, StatusCode::BadTimeout, StatusCode::Good, StatusCode::BadNodeIdUnknown]
        {
            assert!(!undecodable(s), "{s}");
        }
    }
}
