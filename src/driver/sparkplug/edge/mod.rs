//! The edge node's Sparkplug session (the gateway's side), pure and sans-IO: it owns bdSeq, seq,
//! aliases, the birth builder, report by exception, device births and deaths, rebirth debounce
//! and the publish gate, and turns NCMD/DCMD payloads into [`EdgeCommand`]s. The caller (the
//! gateway runtime) does the MQTT I/O: it sets [`EdgeSession::will`] on every CONNECT,
//! subscribes [`EdgeSession::subscriptions`], then calls [`EdgeSession::online`] and publishes
//! what every call returns, in order. Time comes in as arguments.
//!
//! MQTT QoS and retain follow Sparkplug 3.0.0: the Will (NDEATH) QoS 1, everything this node
//! publishes itself QoS 0, nothing retained.

mod birth;
mod command;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::Publish;
use super::codec::{DataType, SpValue};
use super::proto;
use super::topic::{MsgType, NAMESPACE, Topic, valid_id};
use crate::tag::TagId;

/// The node metric that carries a bdSeq (NBIRTH, NDEATH).
pub const BD_SEQ: &str = "bdSeq";
/// The node metric a host application sets to true to ask for a rebirth (never aliased).
pub const REBIRTH: &str = "Node Control/Rebirth";
/// The node metric this node publishes the outcome of a command on.
pub const WRITE_RESULT: &str = "Node Control/Write Result";
/// Rebirth requests closer together than this are merged into one more rebirth.
pub const REBIRTH_WINDOW: Duration = Duration::from_secs(5);
/// More metrics than this in one command message: the whole message is refused.
pub const MAX_COMMAND_METRICS: usize = 256;

/// The alias of [`WRITE_RESULT`]; device metrics follow from 2 on.
const WRITE_RESULT_ALIAS: u64 = 1;

/// Which edge node this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeConfig {
    pub group: String,
    pub node: String,
}

/// One metric of a device (one layout tag).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricDef {
    pub tag: TagId,
    pub name: String,
    pub datatype: DataType,
    pub units: Option<String>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub description: Option<String>,
    /// The tag has a `write` block (a DCMD for it is passed on; otherwise refused here).
    pub writable: bool,
}

/// One device (one layout connection; its id is the connection name).
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceDef {
    pub id: String,
    pub metrics: Vec<MetricDef>,
}

/// A metric's value with its quality and source timestamp (ms since the epoch, UTC).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricValue {
    pub value: Option<SpValue>,
    pub quality: SpQuality,
    pub timestamp_ms: u64,
}

/// The quality a metric carries in its `Quality` property (Int32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpQuality {
    Good,
    Bad,
    Stale,
}

impl SpQuality {
    /// The Sparkplug quality code: 192, 0, 500.
    pub fn code(self) -> i32 {
        match self {
            SpQuality::Good => 192,
            SpQuality::Bad => 0,
            SpQuality::Stale => 500,
        }
    }
}

/// What a command message asks of this node.
#[derive(Clone, Debug, PartialEq)]
pub enum EdgeCommand {
    /// `Node Control/Rebirth` = true (pass it to [`EdgeSession::rebirth`]).
    Rebirth,
    /// A write to a metric: which device (None = node), its MetricDef's tag and name, the
    /// datatype as sent (the birth's when the command left it out; always equal to it), the
    /// value, and the metric's properties as sent (the proto PropertySet; the caller checks the
    /// signature in them).
    Write {
        device: Option<usize>,
        tag: TagId,
        metric: String,
        datatype: DataType,
        value: SpValue,
        properties: Option<proto::payload::PropertySet>,
    },
    /// Not a command this node takes, in words (`metric`: the metric's name, cleaned of
    /// control characters, when known): the caller refuses, audits and answers it.
    Refused { metric: Option<String>, why: String },
}

/// Why a configuration cannot make a valid Sparkplug node.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EdgeError {
    #[error("`{0}` cannot be a Sparkplug id (it must not be empty or contain / + # or control characters): rename it")]
    Id(String),
    #[error("device `{0}` is named twice: device ids must be unique on a node")]
    DuplicateDevice(String),
    #[error("device `{device}` has two metrics named `{metric}`: rename one")]
    DuplicateMetric { device: String, metric: String },
    #[error("device `{device}` has a metric with an empty name: give it a name")]
    EmptyMetric { device: String },
}

/// A device, its values and whether its DBIRTH went out in the current MQTT session.
#[derive(Debug)]
struct Device {
    def: DeviceDef,
    /// The alias of `def.metrics[0]`; metric `i` has `first_alias + i`.
    first_alias: u64,
    /// The current value of each metric (None: never given one).
    values: Vec<Option<MetricValue>>,
    /// Metric index by name (the first of a name).
    names: HashMap<String, usize>,
    up: bool,
    born: bool,
}

/// Where a metric lives: device index and metric index.
type Slot = (usize, usize);

/// The edge node's session. See the module documentation.
#[derive(Debug)]
pub struct EdgeSession {
    cfg: EdgeConfig,
    devices: Vec<Device>,
    by_tag: HashMap<TagId, Slot>,
    by_alias: HashMap<u64, Slot>,
    by_device_id: HashMap<String, usize>,
    bd_seq: u8,
    /// The seq of the next message (NBIRTH resets it to 0).
    next_seq: u8,
    /// The publish gate: births went out on the current MQTT connection.
    online: bool,
    /// End of the current rebirth debounce window.
    window_end: Option<Instant>,
    /// A rebirth was requested inside the window: one more at its end.
    rebirth_pending: bool,
}

/// Checks that `cfg` and `devices` make a valid node: ids usable in topics, unique device ids,
/// unique non-empty metric names per device. [`EdgeSession::new`] does not refuse; call this first.
pub fn validate(cfg: &EdgeConfig, devices: &[DeviceDef]) -> Result<(), EdgeError> {
    for id in [&cfg.group, &cfg.node] {
        if !valid_id(id) {
            return Err(EdgeError::Id(crate::sanitize::clean(id).into_owned()));
        }
    }
    let mut ids = std::collections::HashSet::new();
    for d in devices {
        if !valid_id(&d.id) {
            return Err(EdgeError::Id(crate::sanitize::clean(&d.id).into_owned()));
        }
        if !ids.insert(d.id.as_str()) {
            return Err(EdgeError::DuplicateDevice(d.id.clone()));
        }
        let mut names = std::collections::HashSet::new();
        for m in &d.metrics {
            if m.name.is_empty() {
                return Err(EdgeError::EmptyMetric { device: d.id.clone() });
            }
            if !names.insert(m.name.as_str()) {
                return Err(EdgeError::DuplicateMetric { device: d.id.clone(), metric: m.name.clone() });
            }
        }
    }
    Ok(())
}

impl EdgeSession {
    /// bd_seq: the bdSeq of the NEXT MQTT connection (the caller persists it). All devices
    /// start down (no value) until [`EdgeSession::device_up`].
    pub fn new(cfg: EdgeConfig, devices: Vec<DeviceDef>, bd_seq: u8) -> EdgeSession {
        let mut next_alias = WRITE_RESULT_ALIAS + 1;
        let mut s = EdgeSession {
            cfg,
            devices: Vec::with_capacity(devices.len()),
            by_tag: HashMap::new(),
            by_alias: HashMap::new(),
            by_device_id: HashMap::new(),
            bd_seq,
            next_seq: 0,
            online: false,
            window_end: None,
            rebirth_pending: false,
        };
        for (d, def) in devices.into_iter().enumerate() {
            for (m, metric) in def.metrics.iter().enumerate() {
                s.by_tag.entry(metric.tag).or_insert((d, m));
                s.by_alias.insert(next_alias + m as u64, (d, m));
            }
            s.by_device_id.entry(def.id.clone()).or_insert(d);
            let n = def.metrics.len();
            let mut names = HashMap::with_capacity(n);
            for (m, metric) in def.metrics.iter().enumerate() {
                names.entry(metric.name.clone()).or_insert(m);
            }
            let values = vec![None; n];
            s.devices.push(Device { def, first_alias: next_alias, values, names, up: false, born: false });
            next_alias += n as u64;
        }
        s
    }

    pub fn bd_seq(&self) -> u8 {
        self.bd_seq
    }

    /// Whether the publish gate is open (births went out on this MQTT connection).
    pub fn is_online(&self) -> bool {
        self.online
    }

    /// The alias of a device's metric in the births (stable for the session's life).
    pub fn alias(&self, device: usize, metric: usize) -> Option<u64> {
        let d = self.devices.get(device)?;
        (metric < d.def.metrics.len()).then(|| d.first_alias + metric as u64)
    }

    /// The index of the device with this id.
    pub fn device_index(&self, id: &str) -> Option<usize> {
        self.by_device_id.get(id).copied()
    }

    /// The Will of the next connection: NDEATH, exactly one metric `bdSeq` (Int64) = bd_seq,
    /// QoS 1, not retained.
    pub fn will(&self) -> Publish {
        Publish { topic: self.topic(MsgType::NDeath, None), payload: birth::ndeath(self.bd_seq), qos: 1, retain: false }
    }

    /// Clean shutdown: the NDEATH to publish before disconnecting (same as the Will).
    pub fn death(&self) -> Publish {
        self.will()
    }

    /// Subscribe these at QoS 1 before the births.
    pub fn subscriptions(&self) -> Vec<String> {
        let (g, n) = (&self.cfg.group, &self.cfg.node);
        vec![format!("{NAMESPACE}/{g}/NCMD/{n}"), format!("{NAMESPACE}/{g}/DCMD/{n}/+")]
    }

    /// Connected and subscribed: NBIRTH (seq 0, bdSeq = the Will's) then a DBIRTH for every
    /// device that is up; opens the publish gate.
    pub fn online(&mut self, now_ms: u64) -> Vec<Publish> {
        self.online = true;
        self.window_end = None;
        self.rebirth_pending = false;
        self.births(now_ms)
    }

    /// The MQTT connection is gone: gate closed (nothing is produced until `online` again);
    /// bdSeq += 1 wrapping 255→0; returns the new bdSeq to persist.
    pub fn offline(&mut self) -> u8 {
        self.online = false;
        self.window_end = None;
        self.rebirth_pending = false;
        for d in &mut self.devices {
            d.born = false;
        }
        self.bd_seq = self.bd_seq.wrapping_add(1);
        self.bd_seq
    }

    /// New values (one poll round, any devices): stores them; when online, one DDATA per
    /// device with only the metrics whose value or quality changed. Unknown tags are ignored;
    /// a device that is down (or not born) gets nothing, its DBIRTH carries what was stored.
    pub fn update(&mut self, changes: &[(TagId, MetricValue)], now_ms: u64) -> Vec<Publish> {
        // Per device: the metrics that changed, with the quality they had before this round
        // (what the host last heard; no value is Bad).
        let mut changed: Vec<Vec<(usize, SpQuality)>> = vec![Vec::new(); self.devices.len()];
        for (tag, v) in changes {
            let Some(&(d, m)) = self.by_tag.get(tag) else { continue };
            let dev = &mut self.devices[d];
            let old = dev.values[m].as_ref();
            if old.is_some_and(|old| birth::same(old, v)) {
                continue;
            }
            changed[d].push((m, birth::quality_sent(&dev.def.metrics[m], old)));
            dev.values[m] = Some(v.clone());
        }
        if !self.online {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (d, mut ms) in changed.into_iter().enumerate() {
            // A tag given twice in a round: once, with the quality from before the first.
            ms.sort_by_key(|&(m, _)| m);
            ms.dedup_by_key(|&mut (m, _)| m);
            if ms.is_empty() || !self.devices[d].born {
                continue;
            }
            let seq = self.take_seq();
            let payload = birth::ddata(&self.devices[d], &ms, seq, now_ms);
            out.push(self.data_publish(MsgType::DData, Some(d), payload));
        }
        out
    }

    /// A device's PLC connection went down: DDEATH (if it was born and we are online). Its
    /// Good values become Stale (a DBIRTH before new ones arrive says so).
    pub fn device_down(&mut self, device: usize, now_ms: u64) -> Vec<Publish> {
        let Some(dev) = self.devices.get_mut(device) else { return Vec::new() };
        dev.up = false;
        for v in dev.values.iter_mut().flatten() {
            if v.quality == SpQuality::Good {
                v.quality = SpQuality::Stale;
            }
        }
        if !(dev.born && self.online) {
            dev.born = false;
            return Vec::new();
        }
        dev.born = false;
        let seq = self.take_seq();
        let payload = birth::ddeath(seq, now_ms);
        vec![self.data_publish(MsgType::DDeath, Some(device), payload)]
    }

    /// A device's PLC connection is up: DBIRTH with the current values (when online and not
    /// already born).
    pub fn device_up(&mut self, device: usize, now_ms: u64) -> Vec<Publish> {
        let Some(dev) = self.devices.get_mut(device) else { return Vec::new() };
        dev.up = true;
        if !self.online || dev.born {
            return Vec::new();
        }
        vec![self.dbirth(device, now_ms)]
    }

    /// A rebirth request: the first goes at once (NBIRTH + every DBIRTH, same bdSeq, seq
    /// from 0); more within [`REBIRTH_WINDOW`] are merged into ONE more rebirth at the end of
    /// the window (see [`EdgeSession::tick`], [`EdgeSession::next_deadline`]). Data keeps
    /// flowing meanwhile. Offline: nothing (the births follow `online`).
    pub fn rebirth(&mut self, now: Instant, now_ms: u64) -> Vec<Publish> {
        if !self.online {
            return Vec::new();
        }
        match self.window_end {
            Some(end) if now < end => {
                self.rebirth_pending = true;
                Vec::new()
            }
            _ => {
                self.window_end = Some(now + REBIRTH_WINDOW);
                self.births(now_ms)
            }
        }
    }

    /// Time passes: the merged rebirth when its window is over.
    pub fn tick(&mut self, now: Instant, now_ms: u64) -> Vec<Publish> {
        let Some(end) = self.window_end else { return Vec::new() };
        if now < end {
            return Vec::new();
        }
        if !self.rebirth_pending || !self.online {
            self.window_end = None;
            self.rebirth_pending = false;
            return Vec::new();
        }
        self.rebirth_pending = false;
        self.window_end = Some(now + REBIRTH_WINDOW);
        self.births(now_ms)
    }

    /// When [`EdgeSession::tick`] has something to do (a merged rebirth is waiting).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.window_end.filter(|_| self.rebirth_pending)
    }

    /// Publishes `text` as the node metric `Node Control/Write Result` (String) in an NDATA
    /// (nothing when offline).
    pub fn write_result(&mut self, text: &str, now_ms: u64) -> Vec<Publish> {
        if !self.online {
            return Vec::new();
        }
        let seq = self.take_seq();
        let payload = birth::write_result(text, seq, now_ms);
        vec![self.data_publish(MsgType::NData, None, payload)]
    }

    /// NBIRTH (seq 0) and a DBIRTH for every device that is up.
    fn births(&mut self, now_ms: u64) -> Vec<Publish> {
        self.next_seq = 0;
        let seq = self.take_seq();
        let payload = birth::nbirth(self.bd_seq, seq, now_ms);
        let mut out = vec![self.data_publish(MsgType::NBirth, None, payload)];
        for d in &mut self.devices {
            d.born = false;
        }
        for d in 0..self.devices.len() {
            if self.devices[d].up {
                out.push(self.dbirth(d, now_ms));
            }
        }
        out
    }

    fn dbirth(&mut self, device: usize, now_ms: u64) -> Publish {
        let seq = self.take_seq();
        let payload = birth::dbirth(&self.devices[device], seq, now_ms);
        self.devices[device].born = true;
        self.data_publish(MsgType::DBirth, Some(device), payload)
    }

    fn take_seq(&mut self) -> u8 {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        seq
    }

    fn topic(&self, kind: MsgType, device: Option<usize>) -> String {
        let device = device.and_then(|d| self.devices.get(d)).map(|d| d.def.id.as_str());
        Topic::new(&self.cfg.group, kind, &self.cfg.node, device).to_string()
    }

    /// A message this node publishes itself: QoS 0, not retained (Sparkplug 3.0.0).
    fn data_publish(&self, kind: MsgType, device: Option<usize>, payload: Vec<u8>) -> Publish {
        Publish { topic: self.topic(kind, device), payload, qos: 0, retain: false }
    }
}
