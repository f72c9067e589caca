//! The messages of an edge node, one kind at a time.

use std::collections::HashMap;
use std::time::{Instant, SystemTime};

use prost::Message;

use super::catalog::{Catalog, Found};
use super::convert::{self, epoch_ms};
use super::out::{Out, cut, shown};
use super::reorder::Verdict;
use super::{Device, HostSession, Node, WRITE_RESULT_METRIC, stale};
use crate::driver::sparkplug::codec::DataType;
use crate::driver::sparkplug::proto::{Payload, payload::Metric, payload::metric::Value as Wire};
use crate::driver::sparkplug::topic::{MsgType, Topic};
use crate::tag::{Quality, Reason, Sample, TagId};

/// A write result's request id and text are cut to these many characters.
const MAX_REQUEST_ID: usize = 128;
const MAX_RESULT_TEXT: usize = 1024;

/// `NDATA`, or `DDATA Pump1`, for log lines.
fn what(topic: &Topic) -> String {
    match &topic.device {
        Some(d) => format!("{} {}", topic.kind.as_str(), shown(d)),
        None => topic.kind.as_str().to_string(),
    }
}

/// The bdSeq of an NBIRTH or NDEATH: Int64 or UInt64 (or no datatype), either integer field.
fn bd_seq(p: &Payload) -> Option<u64> {
    let m = p.metrics.iter().find(|m| m.name.as_deref() == Some("bdSeq"))?;
    if !matches!(m.datatype, None | Some(4) | Some(8)) {
        return None;
    }
    match m.value.as_ref()? {
        Wire::IntValue(v) => Some(u64::from(*v)),
        Wire::LongValue(v) => Some(*v),
        _ => None,
    }
}

impl HostSession {
    pub(super) fn receive(&mut self, topic: &Topic, bytes: &[u8], now: Instant, wall: SystemTime, out: &mut Out) {
        let p = match Payload::decode(bytes) {
            Ok(p) => p,
            Err(e) => {
                self.stats.dropped += 1;
                out.log(format!(
                    "{topic}: not a Sparkplug B payload ({} bytes): {}",
                    bytes.len(),
                    cut(&e.to_string(), 80)
                ));
                return;
            }
        };
        match topic.kind {
            MsgType::NDeath => self.on_ndeath(&p, wall, out),
            MsgType::NBirth => self.on_nbirth(&p, wall, out),
            _ => self.sequenced(topic, &p, bytes, now, wall, out),
        }
    }

    fn on_nbirth(&mut self, p: &Payload, wall: SystemTime, out: &mut Out) {
        let seq = match p.seq {
            Some(0) => 0,
            Some(s @ 1..=255) => {
                out.log(format!("NBIRTH of {}/{} with seq {s} (0 expected); taken", self.cfg.group, self.cfg.node));
                s as u8
            }
            other => {
                out.log(format!("NBIRTH with seq {other:?} (0 expected); taken as 0"));
                0
            }
        };
        // Device metrics of the last session are stale until their DBIRTH.
        let stale_devices: Vec<TagId> = self.device_tags.keys().flat_map(|d| self.live_tags(Some(d))).collect();
        let s = stale(None, wall);
        out.samples.extend(stale_devices.into_iter().map(|id| (id, s.clone())));
        let bd = bd_seq(p);
        if bd.is_none() {
            out.log("NBIRTH without a bdSeq metric (Int64): its NDEATH cannot be told from an old one".into());
        }
        let catalog = Catalog::from_birth(&p.metrics, "NBIRTH", out);
        let devices: HashMap<String, Device> =
            self.device_tags.keys().map(|d| (d.clone(), Device::default())).collect();
        self.birth_samples(None, &catalog, p, wall, out);
        self.node = Some(Node { bd_seq: bd, catalog, devices, in_sync: true });
        self.reorder.reset(seq);
        self.rebirth.birth();
        self.ever_born = true;
        self.stats.births += 1;
        self.stats.bd_seq = bd;
        self.stats.seq = Some(seq);
    }

    fn on_ndeath(&mut self, p: &Payload, wall: SystemTime, out: &mut Out) {
        let who = format!("{}/{}", self.cfg.group, self.cfg.node);
        let Some(node) = &self.node else {
            self.stats.ignored += 1;
            out.log(format!("NDEATH of {who} while it is not born; ignored"));
            return;
        };
        let bd = bd_seq(p);
        if let (Some(born), Some(dead)) = (node.bd_seq, bd)
            && born != dead
        {
            self.stats.ignored += 1;
            out.log(format!("NDEATH of {who} with bdSeq {dead}, not the NBIRTH's {born}: an old session's; ignored"));
            return;
        }
        // tck-id-operational-behavior-edge-node-termination-host-action-ndeath-node-tags-stale and
        // -devices-tags-stale: stale at the host's time.
        self.stale_all(wall, out);
        self.node = None;
        self.reorder.clear();
        self.rebirth.cancel();
        self.stats.deaths += 1;
        out.log(format!(
            "NDEATH of {who} (bdSeq {}): its metrics are stale",
            bd.map(|b| b.to_string()).unwrap_or("-".into())
        ));
    }

    /// NBIRTH/DBIRTH/NDATA/DDATA/DDEATH: in `seq` order.
    fn sequenced(&mut self, topic: &Topic, p: &Payload, bytes: &[u8], now: Instant, wall: SystemTime, out: &mut Out) {
        let Some(node) = &self.node else {
            self.stats.ignored += 1;
            let reason = match topic.kind {
                MsgType::DBirth => "DBIRTH before NBIRTH".to_string(),
                _ => format!("{} before a birth", what(topic)),
            };
            out.want(reason);
            return;
        };
        if !node.in_sync {
            // Asked already; if that request was lost, the next window asks again.
            self.stats.ignored += 1;
            out.want(format!("{} while out of sequence", what(topic)));
            return;
        }
        let seq = match p.seq {
            Some(s) if s <= 255 => s as u8,
            Some(s) => {
                self.stats.dropped += 1;
                out.log(format!("{}: seq {s} is not 0..=255; dropped", what(topic)));
                return;
            }
            None => {
                out.log(format!("{}: no seq; taken in arrival order", what(topic)));
                return self.apply(topic, p, wall, out);
            }
        };
        match self.reorder.offer(seq, topic, bytes, now, self.cfg.reorder_timeout) {
            Verdict::Apply => {
                self.apply(topic, p, wall, out);
                self.reorder.advance();
                self.stats.seq = Some(seq);
                self.drain(wall, out);
            }
            Verdict::Held => {
                out.log(format!("{}: seq {seq} while {} is expected; held", what(topic), self.reorder.expected()))
            }
            Verdict::Late => {
                // Edge nodes publish data at QoS 0: nothing comes twice. A seq behind is an edge
                // node that restarted without its NDEATH and NBIRTH reaching us, or a lost
                // session: only a birth sets it right.
                let expected = self.reorder.expected();
                self.stats.dropped += 1;
                out.log(format!("{}: seq {seq} is late or repeated (expected {expected}); dropped", what(topic)));
                out.want(format!("seq {seq} behind the expected {expected}"));
            }
            Verdict::Full => {
                let reason =
                    format!("seq gap: reorder buffer full (expected seq {}, got {seq})", self.reorder.expected());
                self.stats.dropped += 1;
                self.lose_sync(reason, wall, out);
            }
        }
    }

    /// Applies the held messages whose turn came.
    fn drain(&mut self, wall: SystemTime, out: &mut Out) {
        while let Some(h) = self.reorder.take_next() {
            // Decoded once already when it arrived.
            if let Ok(p) = Payload::decode(h.bytes.as_slice()) {
                self.apply(&h.topic, &p, wall, out);
            }
            self.stats.seq = Some(self.reorder.expected());
            self.reorder.advance();
        }
    }

    /// A sequenced message in its turn.
    fn apply(&mut self, topic: &Topic, p: &Payload, wall: SystemTime, out: &mut Out) {
        let device = topic.device.as_deref();
        match (topic.kind, device) {
            (MsgType::NData, None) => self.data(topic, None, p, wall, out),
            (MsgType::DBirth, Some(d)) => self.on_dbirth(d, p, wall, out),
            (MsgType::DData, Some(d)) => {
                let online = self.node.as_ref().and_then(|n| n.devices.get(d)).map(|x| x.online);
                match online {
                    None => {} // not a device of the layout
                    Some(false) => out.want(format!("DDATA of device {} before its DBIRTH", shown(d))),
                    Some(true) => self.data(topic, Some(d), p, wall, out),
                }
            }
            (MsgType::DDeath, Some(d)) => self.on_ddeath(d, p, wall, out),
            _ => {}
        }
    }

    fn on_dbirth(&mut self, d: &str, p: &Payload, wall: SystemTime, out: &mut Out) {
        self.stats.device_births += 1;
        if !self.device_tags.contains_key(d) {
            return;
        }
        let catalog = Catalog::from_birth(&p.metrics, &format!("DBIRTH {}", shown(d)), out);
        self.birth_samples(Some(d), &catalog, p, wall, out);
        if let Some(n) = &mut self.node {
            n.devices.insert(d.to_string(), Device { online: true, catalog });
        }
    }

    fn on_ddeath(&mut self, d: &str, p: &Payload, wall: SystemTime, out: &mut Out) {
        self.stats.device_deaths += 1;
        // tck-id-operational-behavior-edge-node-termination-host-action-ddeath-devices-tags-stale:
        // stale with the DDEATH's timestamp.
        let s = stale(p.timestamp.and_then(epoch_ms), wall);
        let ids = self.live_tags(Some(d));
        out.samples.extend(ids.into_iter().map(|id| (id, s.clone())));
        if let Some(dev) = self.node.as_mut().and_then(|n| n.devices.get_mut(d)) {
            dev.online = false;
        }
    }

    /// After a birth of the node (`device` None) or of a device: its tags' samples and datatypes.
    fn birth_samples(&self, device: Option<&str>, catalog: &Catalog, p: &Payload, wall: SystemTime, out: &mut Out) {
        let tags = match device {
            None => Some(&self.node_tags),
            Some(d) => self.device_tags.get(d),
        };
        let Some(tags) = tags else { return };
        for (name, ids) in tags {
            let at = point(device, name);
            let (datatype, sample) = match catalog.get(name).map(|d| (d, d.datatype)) {
                None => {
                    let why = format!("unknown metric {at}");
                    (Err(why.clone()), (Sample::bad(Reason::Other(why), wall), false))
                }
                Some((_, Err(n))) => {
                    let why = format!("metric {at} has datatype {n}, which this console does not take");
                    (Err(why.clone()), (Sample::bad(Reason::Other(why), wall), false))
                }
                Some((def, Ok(dt))) => {
                    let Some(m) = p.metrics.get(def.index) else { continue };
                    let datatype =
                        if super::catalog::writable(dt) { Ok(dt) } else { Err(format!("a {dt:?} cannot be written")) };
                    (datatype, self.metric_sample(device, name, m, dt, p.timestamp, wall, out))
                }
            };
            out.datatypes.extend(ids.iter().map(|id| (*id, datatype.clone())));
            emit(ids, sample, out);
        }
    }

    /// An NDATA or DDATA's metrics.
    fn data(&mut self, topic: &Topic, device: Option<&str>, p: &Payload, wall: SystemTime, out: &mut Out) {
        let Some(node) = &self.node else { return };
        let catalog = match device {
            None => &node.catalog,
            Some(d) => match node.devices.get(d) {
                Some(dev) => &dev.catalog,
                None => return,
            },
        };
        let tags = match device {
            None => Some(&self.node_tags),
            Some(d) => self.device_tags.get(d),
        };
        let mut unknown = 0usize;
        for m in &p.metrics {
            let (name, def) = match catalog.find(m) {
                Found::Known(n, d) => (n, d),
                Found::UnknownAlias(a) => {
                    unknown += 1;
                    out.want(format!("unknown alias {a} in {}", what(topic)));
                    continue;
                }
                Found::UnknownName(n) => {
                    unknown += 1;
                    out.want(format!("unknown metric {} in {}", shown(n), what(topic)));
                    continue;
                }
                Found::NoName => {
                    unknown += 1;
                    continue;
                }
            };
            let Ok(dt) = def.datatype else { continue };
            if device.is_none() && name == WRITE_RESULT_METRIC {
                write_result(m, out);
            }
            if let Some(ids) = tags.and_then(|t| t.get(name)) {
                let s = self.metric_sample(device, name, m, dt, p.timestamp, wall, out);
                if matches!(s.0.quality, Quality::Bad(Reason::Decode(_))) {
                    // The node and our birth disagree: only a birth sets the tag right (the
                    // next value of a setpoint may be hours away).
                    out.want(format!("metric {} is not a {dt:?} as born", shown(&point(device, name))));
                }
                emit(ids, s, out);
            }
        }
        if unknown > 0 {
            out.log(format!(
                "{}: {unknown} metrics not in the birth (unknown alias or name, or none); skipped",
                what(topic)
            ));
        }
    }

    /// One metric's sample (and whether it is historical), with a log line if it did not decode.
    #[allow(clippy::too_many_arguments)]
    fn metric_sample(
        &self,
        device: Option<&str>,
        name: &str,
        m: &Metric,
        dt: DataType,
        payload_ts: Option<u64>,
        wall: SystemTime,
        out: &mut Out,
    ) -> (Sample, bool) {
        let (s, err) = convert::sample(m, dt, payload_ts, wall);
        if let Some(e) = err {
            out.log(format!("metric {}: {}", shown(&point(device, name)), cut(&e, 100)));
        }
        (s, m.is_historical == Some(true))
    }
}

fn point(device: Option<&str>, name: &str) -> String {
    match device {
        Some(d) => format!("{d}/{name}"),
        None => name.to_string(),
    }
}

fn emit(ids: &[TagId], (sample, historical): (Sample, bool), out: &mut Out) {
    let to = if historical { &mut out.historical } else { &mut out.samples };
    to.extend(ids.iter().map(|id| (*id, sample.clone())));
}

/// `Node Control/Write Result` = `<request id> <text>`.
fn write_result(m: &Metric, out: &mut Out) {
    let Some(Wire::StringValue(s)) = &m.value else {
        out.log(format!("{WRITE_RESULT_METRIC}: not a string; ignored"));
        return;
    };
    let (id, text) = s.split_once(' ').unwrap_or((s.as_str(), ""));
    out.write_results.push((cut(id, MAX_REQUEST_ID), cut(text, MAX_RESULT_TEXT)));
}
