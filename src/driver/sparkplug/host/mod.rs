//! The Sparkplug B host application's session with one edge node (Sparkplug 3.0.0), pure and
//! sans-IO: the MQTT task hands it what the broker delivered and the time, and carries out the
//! effects it returns (samples for the tag store, a rebirth request to publish, log lines).
//!
//! - Births (NBIRTH for the node's metrics, DBIRTH per device) define names, datatypes and
//!   aliases; data (NDATA, DDATA) is matched by name or alias, tags by (device, metric name).
//! - NDEATH with the bdSeq of the NBIRTH, a DDEATH, an unhealed seq gap or the loss of the broker
//!   make the metrics concerned stale (the value stays, marked); nothing shows Good again before
//!   a new birth.
//! - One `seq` per node orders NBIRTH/DBIRTH/NDATA/DDATA/DDEATH; out-of-order messages wait in a
//!   bounded buffer for the reorder timeout ([`reorder`]).
//! - A seq gap not healed in time, an unknown alias or metric, data before a birth, or no birth
//!   seen within the reorder timeout of connecting → one rebirth request per jittered cooldown
//!   ([`rebirth`]).

mod catalog;
mod convert;
#[cfg(test)]
mod fuzz;
mod handle;
mod out;
mod rebirth;
mod reorder;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use self::catalog::Catalog;
use self::out::Out;
use self::rebirth::Rebirth;
use self::reorder::Reorder;
use crate::driver::sparkplug::codec::DataType;
use crate::driver::sparkplug::topic::{MsgType, Topic};
use crate::layout::SpPoint;
use crate::tag::{Reason, Sample, TagId};

pub use self::out::HostEffect;
pub use self::rebirth::{REBIRTH_METRIC, rebirth_request};

/// The metric an edge node (`ttyhmi gateway`) answers a write with: `<request id> <text>`.
pub const WRITE_RESULT_METRIC: &str = "Node Control/Write Result";

/// The cooldown between rebirth requests is at least this long, whatever the configuration says.
pub const MIN_REBIRTH_COOLDOWN: Duration = Duration::from_secs(1);
/// Timers longer than this are taken as this long (an `Instant` cannot hold any duration).
const MAX_TIMER: Duration = Duration::from_secs(86_400);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostConfig {
    pub group: String,
    pub node: String,
    pub host_id: String,
    pub reorder_timeout: Duration,
    pub rebirth_cooldown: Duration,
}

/// The state of an edge node between its NBIRTH and its death.
#[derive(Debug)]
struct Node {
    bd_seq: Option<u64>,
    catalog: Catalog,
    devices: HashMap<String, Device>,
    /// False after a seq gap that did not heal: data waits for the rebirth asked for.
    in_sync: bool,
}

/// A device of the layout: its last DBIRTH, and whether it is online.
#[derive(Debug, Default)]
struct Device {
    online: bool,
    catalog: Catalog,
}

#[derive(Debug, Default)]
struct Stats {
    messages: u64,
    births: u64,
    device_births: u64,
    deaths: u64,
    device_deaths: u64,
    dropped: u64,
    ignored: u64,
    bd_seq: Option<u64>,
    seq: Option<u8>,
}

pub struct HostSession {
    cfg: HostConfig,
    tags: Vec<(TagId, SpPoint)>,
    /// Tags by metric name: the node's, and each device's.
    node_tags: HashMap<String, Vec<TagId>>,
    device_tags: BTreeMap<String, HashMap<String, Vec<TagId>>>,
    connected: bool,
    ever_born: bool,
    node: Option<Node>,
    reorder: Reorder,
    rebirth: Rebirth,
    stats: Stats,
}

impl HostSession {
    /// tags: every tag of the connection and its metric. jitter_seed: seeds the cooldown jitter.
    pub fn new(mut cfg: HostConfig, tags: Vec<(TagId, SpPoint)>, jitter_seed: u64) -> HostSession {
        cfg.reorder_timeout = cfg.reorder_timeout.min(MAX_TIMER);
        cfg.rebirth_cooldown = cfg.rebirth_cooldown.clamp(MIN_REBIRTH_COOLDOWN, MAX_TIMER);
        let mut node_tags: HashMap<String, Vec<TagId>> = HashMap::new();
        let mut device_tags: BTreeMap<String, HashMap<String, Vec<TagId>>> = BTreeMap::new();
        for (id, p) in &tags {
            let map = match &p.device {
                Some(d) => device_tags.entry(d.clone()).or_default(),
                None => &mut node_tags,
            };
            map.entry(p.metric.clone()).or_default().push(*id);
        }
        let rebirth = Rebirth::new(cfg.rebirth_cooldown, jitter_seed);
        HostSession {
            cfg,
            tags,
            node_tags,
            device_tags,
            connected: false,
            ever_born: false,
            node: None,
            reorder: Reorder::default(),
            rebirth,
            stats: Stats::default(),
        }
    }

    /// MQTT connected and the node filter subscribed. Tags keep what they have until a birth
    /// (tags never born yet say they wait for one). If no birth comes within the reorder
    /// timeout, a rebirth is asked for (an idle node sends nothing else).
    pub fn connected(&mut self, now: Instant, wall: SystemTime) -> Vec<HostEffect> {
        self.connected = true;
        let mut out = Out::default();
        if !self.ever_born {
            let bad = Sample::bad(Reason::Other("waiting for a birth".into()), wall);
            out.samples = self.tags.iter().map(|(id, _)| (*id, bad.clone())).collect();
        }
        if self.node.is_none() {
            let at = now.checked_add(self.cfg.reorder_timeout).unwrap_or(now);
            self.rebirth.want("no birth since connecting".into(), at);
        }
        self.finish(out, now, wall)
    }

    /// The broker connection was lost: every tag stale (value kept), node state unknown (a
    /// birth is needed again).
    pub fn disconnected(&mut self, wall: SystemTime) -> Vec<HostEffect> {
        self.connected = false;
        let mut out = Out::default();
        self.stale_all(wall, &mut out);
        self.node = None;
        self.reorder.clear();
        self.rebirth.cancel();
        out.into_effects()
    }

    /// A message the broker delivered on the node filter (topic already parsed; other groups
    /// and nodes, and commands, are ignored).
    pub fn message(&mut self, topic: &Topic, payload: &[u8], now: Instant, wall: SystemTime) -> Vec<HostEffect> {
        if topic.group != self.cfg.group || topic.node != self.cfg.node {
            self.stats.ignored += 1;
            return Vec::new();
        }
        if matches!(topic.kind, MsgType::NCmd | MsgType::DCmd) {
            // Our own rebirth requests and other consoles' commands come back on the filter.
            return Vec::new();
        }
        self.stats.messages += 1;
        let mut out = Out::default();
        self.receive(topic, payload, now, wall, &mut out);
        self.finish(out, now, wall)
    }

    /// Timers: the reorder timeout, a rebirth request whose cooldown ended.
    pub fn tick(&mut self, now: Instant, wall: SystemTime) -> Vec<HostEffect> {
        let mut out = Out::default();
        if self.reorder.expired(now) {
            let reason = format!(
                "seq gap not healed in {} ms (expected seq {}, {} held from seq {})",
                self.cfg.reorder_timeout.as_millis(),
                self.reorder.expected(),
                self.reorder.held(),
                self.reorder.first_held().map(|s| s.to_string()).unwrap_or_default()
            );
            self.lose_sync(reason, wall, &mut out);
        }
        self.finish(out, now, wall)
    }

    /// When `tick` must next be called; None when no timer runs.
    pub fn next_deadline(&self) -> Option<Instant> {
        let rebirth = if self.connected { self.rebirth.due() } else { None };
        match (self.reorder.deadline(), rebirth) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Hands the rebirth reason found to the policy, sends a request that is due, and returns
    /// the effects.
    fn finish(&mut self, mut out: Out, now: Instant, wall: SystemTime) -> Vec<HostEffect> {
        if let Some(reason) = out.want.take() {
            self.rebirth.want(reason, now);
        }
        if self.connected
            && let Some(reason) = self.rebirth.poll(now)
        {
            out.log(format!("asked {}/{} for a rebirth: {reason}", self.cfg.group, self.cfg.node));
            out.publishes.push(rebirth_request(&self.cfg.group, &self.cfg.node, wall));
        }
        out.into_effects()
    }

    /// For a write to `point`: its alias (if the birth gave one) and its datatype as born;
    /// Err(why, in words) if not born, not in the birth, or the node or device is offline.
    pub fn metric_for_write(&self, point: &SpPoint) -> Result<(Option<u64>, DataType), String> {
        let who = format!("{}/{}", self.cfg.group, self.cfg.node);
        if !self.connected {
            return Err("not connected to the MQTT broker".into());
        }
        let Some(node) = &self.node else {
            return Err(format!("edge node {who} is offline or not born yet (waiting for its NBIRTH)"));
        };
        if !node.in_sync {
            return Err(format!("edge node {who} lost messages (waiting for its rebirth)"));
        }
        let catalog = match &point.device {
            None => &node.catalog,
            Some(d) => match node.devices.get(d) {
                Some(dev) if dev.online => &dev.catalog,
                _ => return Err(format!("device {d} of {who} is offline or not born yet (waiting for its DBIRTH)")),
            },
        };
        let Some(def) = catalog.get(&point.metric) else {
            return Err(format!("metric {point} is not in the birth of {who}"));
        };
        match def.datatype {
            Ok(d) if catalog::writable(d) => Ok((def.alias, d)),
            Ok(d) => Err(format!("metric {point} is a {d:?}, which a console cannot write")),
            Err(n) => Err(format!("metric {point} has datatype {n}, which this console does not take")),
        }
    }

    /// Diagnostics, like Ignition's node info.
    pub fn facts(&self) -> Vec<(String, String)> {
        let s = &self.stats;
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let online = match &self.node {
            Some(n) if n.in_sync => "yes",
            Some(_) => "yes (out of sequence)",
            None => "no",
        };
        let devices = self.node.as_ref().map(|n| {
            let on: Vec<&str> = n.devices.iter().filter(|(_, d)| d.online).map(|(k, _)| k.as_str()).collect();
            format!("{} of {}", on.len(), self.device_tags.len())
        });
        let mut v = vec![
            ("edge node", format!("{}/{}", self.cfg.group, self.cfg.node)),
            ("online", online.to_string()),
            ("bdSeq", opt(s.bd_seq.map(|b| b.to_string()))),
            ("seq", opt(s.seq.map(|b| b.to_string()))),
            ("devices online", opt(devices)),
            ("births (NBIRTH)", s.births.to_string()),
            ("device births (DBIRTH)", s.device_births.to_string()),
            ("deaths (NDEATH)", s.deaths.to_string()),
            ("device deaths (DDEATH)", s.device_deaths.to_string()),
            ("rebirths requested", self.rebirth.sent.to_string()),
            ("last rebirth reason", opt(self.rebirth.last_reason.clone())),
            ("messages", s.messages.to_string()),
            ("dropped messages", s.dropped.to_string()),
            ("ignored messages", s.ignored.to_string()),
            ("held out of order", self.reorder.held().to_string()),
        ];
        v.push(("waiting for a birth", opt(self.waiting())));
        v.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// Some(text for the operator) while the console waits for a birth.
    pub fn waiting(&self) -> Option<String> {
        if !self.connected {
            return None;
        }
        let who = format!("{}/{}", self.cfg.group, self.cfg.node);
        let what = match &self.node {
            None => format!("waiting for a birth of {who}"),
            Some(n) if !n.in_sync => format!("waiting for a rebirth of {who}"),
            Some(n) => {
                let missing: Vec<&str> = self
                    .device_tags
                    .keys()
                    .filter(|d| !n.devices.get(*d).is_some_and(|x| x.online))
                    .map(|d| d.as_str())
                    .collect();
                let first = missing.first()?;
                let more = if missing.len() > 1 { format!(" and {} more", missing.len() - 1) } else { String::new() };
                format!("waiting for a birth of device {who}/{first}{more}")
            }
        };
        Some(match (self.rebirth.pending(), &self.rebirth.last_reason) {
            (Some(r), _) => format!("{what} (rebirth request due: {r})"),
            (None, Some(r)) if self.rebirth.since_birth => format!("{what} (rebirth requested: {r})"),
            _ => what,
        })
    }

    /// The tags whose metric is in a current birth: of the node, and of the online devices.
    fn live_tags(&self, device: Option<&str>) -> Vec<TagId> {
        let Some(node) = &self.node else { return Vec::new() };
        let mut v = Vec::new();
        if device.is_none() {
            for (name, ids) in &self.node_tags {
                if node.catalog.get(name).is_some() {
                    v.extend(ids);
                }
            }
        }
        for (d, names) in &self.device_tags {
            if device.is_some_and(|x| x != d) {
                continue;
            }
            let Some(dev) = node.devices.get(d).filter(|x| x.online) else { continue };
            for (name, ids) in names {
                if dev.catalog.get(name).is_some() {
                    v.extend(ids);
                }
            }
        }
        v
    }

    /// Every live tag stale, received at `wall` (the store keeps the last value).
    fn stale_all(&self, wall: SystemTime, out: &mut Out) {
        let s = stale(None, wall);
        out.samples.extend(self.live_tags(None).into_iter().map(|id| (id, s.clone())));
    }

    /// A seq gap that did not heal: what is held is dropped, the node's values are stale, data
    /// waits for the rebirth asked for.
    fn lose_sync(&mut self, reason: String, wall: SystemTime, out: &mut Out) {
        self.stats.dropped += self.reorder.held() as u64;
        self.reorder.clear();
        self.stale_all(wall, out);
        if let Some(n) = &mut self.node {
            n.in_sync = false;
        }
        out.log(format!("{}/{}: {reason}", self.cfg.group, self.cfg.node));
        out.want(reason);
    }
}

/// A stale sample: no value (the store keeps the last one), Uncertain(stale).
fn stale(source_ts: Option<SystemTime>, wall: SystemTime) -> Sample {
    Sample::stale(source_ts, wall)
}
