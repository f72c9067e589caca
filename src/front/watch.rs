//! `ttyhmi watch`: the drivers without a terminal UI. One line per tag value change on standard
//! output (text or JSON lines), and one summary line per connection at the end.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::layout::Layout;
use crate::plant::runtime::{DriverOptions, DriverSet, Outcome};
use crate::plant::{ConnStats, ConnectionState, Input, Plant, PlantEffect, PlantEvent, apply};
use crate::sanitize::push_json_str as json_str;
use crate::tag::{Sample, TagId, Value};
use crate::timefmt;

pub struct WatchOptions {
    pub json: bool,
    /// Stop after this long; `None` runs until Ctrl-C.
    pub duration: Option<Duration>,
    pub drivers: DriverOptions,
}

/// Per-connection totals at the end of a watch.
#[derive(Clone, Debug)]
pub struct Summary {
    pub connection: String,
    pub stats: ConnStats,
    /// Times the connection went down (refused, lost, timed out), and the last reason.
    pub failures: u64,
    pub last_failure: Option<String>,
}

/// What a watch has seen so far.
struct Watch<'a, W: Write> {
    layout: &'a Layout,
    json: bool,
    out: &'a mut W,
    plant: Plant,
    failures: Vec<(u64, Option<String>)>,
    stopped: usize,
    /// Printing failed (a closed pipe: `| head`).
    write_failed: bool,
}

/// A plant core with no session: the layout's drivers feed a [`Plant`]; every change an
/// operator would see is printed as it arrives.
pub async fn run_watch<W: Write>(layout: &Layout, opts: WatchOptions, out: &mut W) -> io::Result<Vec<Summary>> {
    let (tx, mut rx) = mpsc::channel::<Outcome>(4096);
    // `watch` never writes: no write inbox, whatever the options say.
    let no_writes = DriverOptions { writable: false, ..opts.drivers.clone() };
    let drivers = DriverSet::start(layout, &tx, &no_writes);
    drop(tx);
    let n = layout.connections.len();
    let plant = Plant::new(Arc::new(layout.clone()), SystemTime::now());
    let mut w =
        Watch { layout, json: opts.json, out, plant, failures: vec![(0, None); n], stopped: 0, write_failed: false };
    let deadline = opts.duration.map(|d| Instant::now() + d);
    let mut stopping = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let outcome = tokio::select! {
            o = rx.recv() => o,
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() && !stopping => {
                stopping = true;
                drivers.signal_stop();
                continue;
            }
            _ = &mut ctrl_c, if !stopping => {
                stopping = true;
                drivers.signal_stop();
                continue;
            }
        };
        let Some(Outcome::Input(input)) = outcome else { break };
        if w.step(input, stopping) && !stopping {
            // A closed pipe: stop printing, stop cleanly.
            stopping = true;
            drivers.signal_stop();
        }
        if w.stopped == drivers.len() {
            break;
        }
    }
    drivers.stop(Duration::from_secs(2)).await;
    let stats = w.plant.conns.iter().map(|c| c.stats.clone()).collect();
    let summaries = summaries(layout, stats, w.failures);
    if !w.write_failed {
        for s in &summaries {
            let line = if opts.json { summary_json(s) } else { summary_text(s) };
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }
    Ok(summaries)
}

impl<W: Write> Watch<'_, W> {
    /// One driver event through the plant; prints what changed. True when printing failed.
    fn step(&mut self, input: Input, stopping: bool) -> bool {
        // The samples as they came: a Bad update is printed as it is, not with the last value.
        let incoming: Vec<(TagId, Sample)> = match &input {
            Input::Driver(crate::plant::DriverEvent::Samples { samples, .. }) if !stopping && !self.write_failed => {
                samples.clone()
            }
            _ => Vec::new(),
        };
        for effect in apply(&mut self.plant, input, SystemTime::now()) {
            match effect {
                // After a stop the drivers mark their tags not connected: that is us, not the device.
                PlantEffect::Event(PlantEvent::Values(ids)) if !incoming.is_empty() => {
                    let printed = self.print(&incoming, &ids);
                    if printed.is_err() {
                        self.write_failed = true;
                        return true;
                    }
                }
                PlantEffect::Event(PlantEvent::Connection { conn, state }) => match state {
                    ConnectionState::Stopped => self.stopped += 1,
                    ConnectionState::Disconnected { reason, .. } if !stopping => {
                        tracing::warn!(connection = %self.layout.connection(conn).name, %reason, "disconnected");
                        if let Some(f) = self.failures.get_mut(conn.index()) {
                            *f = (f.0 + 1, Some(reason));
                        }
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        false
    }

    /// The lines of the samples whose tags changed (samples of one read share their receive
    /// time: it is formatted once).
    fn print(&mut self, incoming: &[(TagId, Sample)], changed: &[TagId]) -> io::Result<()> {
        let mut ts_cache: Option<(SystemTime, String)> = None;
        for (id, s) in incoming.iter().filter(|(id, _)| changed.contains(id)) {
            let ts = match &ts_cache {
                Some((t, text)) if *t == s.recv_ts => text.clone(),
                _ => {
                    let text = timefmt::rfc3339_utc(s.recv_ts);
                    ts_cache = Some((s.recv_ts, text.clone()));
                    text
                }
            };
            let line =
                if self.json { json_line(self.layout, *id, s, &ts) } else { text_line(self.layout, *id, s, &ts) };
            writeln!(self.out, "{line}")?;
        }
        Ok(())
    }
}

/// One summary per connection: its statistics, and how often (and last why) it went down.
fn summaries(layout: &Layout, stats: Vec<ConnStats>, failures: Vec<(u64, Option<String>)>) -> Vec<Summary> {
    layout
        .connections
        .iter()
        .zip(stats)
        .zip(failures)
        .map(|((c, stats), (failures, last_failure))| Summary {
            connection: c.name.clone(),
            stats,
            failures,
            last_failure,
        })
        .collect()
}

fn text_line(layout: &Layout, id: TagId, s: &Sample, recv_ts: &str) -> String {
    let tag = layout.tag(id);
    let value = s.value.as_ref().map(|v| tag.format(v)).unwrap_or_else(|| "----".into());
    let units = if tag.units.is_empty() { String::new() } else { format!(" {}", tag.units) };
    format!("{recv_ts} {} {value}{units} {}", tag.name, s.quality)
}

/// One JSON object per line, written directly (this runs for every value change, often
/// hundreds of thousands a second).
fn json_line(layout: &Layout, id: TagId, s: &Sample, recv_ts: &str) -> String {
    use std::fmt::Write as _;
    let tag = layout.tag(id);
    let mut o = String::with_capacity(128);
    o.push_str("{\"tag\":");
    json_str(&mut o, &tag.name);
    o.push_str(",\"value\":");
    match &s.value {
        None => o.push_str("null"),
        Some(Value::Bool(b)) => o.push_str(if *b { "true" } else { "false" }),
        Some(Value::Int(i)) => {
            let _ = write!(o, "{i}");
        }
        Some(Value::UInt(u)) => {
            let _ = write!(o, "{u}");
        }
        Some(Value::Float(f)) if f.is_finite() => {
            let _ = write!(o, "{f:?}");
        }
        Some(Value::Float(f)) => json_str(&mut o, &f.to_string()),
        Some(Value::Text(t)) => json_str(&mut o, t),
    }
    o.push_str(",\"quality\":\"");
    o.push_str(s.quality.level());
    o.push_str("\",\"reason\":");
    match s.quality.reason() {
        Some(r) => json_str(&mut o, &r.to_string()),
        None => o.push_str("null"),
    }
    o.push_str(",\"source_ts\":");
    match s.source_ts {
        Some(t) => json_str(&mut o, &timefmt::rfc3339_utc(t)),
        None => o.push_str("null"),
    }
    o.push_str(",\"server_ts\":");
    match s.server_ts {
        Some(t) => json_str(&mut o, &timefmt::rfc3339_utc(t)),
        None => o.push_str("null"),
    }
    o.push_str(",\"recv_ts\":");
    json_str(&mut o, recv_ts);
    o.push('}');
    o
}

fn us(d: Option<Duration>) -> f64 {
    d.map(|d| d.as_nanos() as f64 / 1000.0).unwrap_or(0.0)
}

pub fn summary_text(s: &Summary) -> String {
    let st = &s.stats;
    // Why nothing was read, first: a connection that never came up has no requests to count.
    let down = match (&s.last_failure, s.failures) {
        (Some(why), n) => format!(
            ", connection down {n} {} (last: {})",
            if n == 1 { "time" } else { "times" },
            crate::sanitize::clean(why)
        ),
        (None, _) => String::new(),
    };
    format!(
        "summary {}: {} requests, {} errors ({} timeouts, {} exceptions, {} bad frames){down}, response mean {} p99 {}, driver processing mean {} ({} when values changed, {} reads unchanged), {:.1} scans/s, {:.0} requests/s over {:.1}s",
        s.connection,
        st.requests,
        st.errors,
        st.timeouts,
        st.exceptions,
        st.bad_frames,
        st.response.mean().map(timefmt::short).unwrap_or_else(|| "-".into()),
        st.response.quantile(0.99).map(timefmt::short).unwrap_or_else(|| "-".into()),
        st.processing.mean().map(timefmt::short).unwrap_or_else(|| "-".into()),
        st.processing_changed.mean().map(timefmt::short).unwrap_or_else(|| "-".into()),
        st.unchanged,
        st.scans_per_second(),
        st.requests_per_second(),
        st.elapsed.as_secs_f64(),
    )
}

fn summary_json(s: &Summary) -> String {
    let st = &s.stats;
    serde_json::json!({
        "summary": s.connection,
        "requests": st.requests,
        "errors": st.errors,
        "timeouts": st.timeouts,
        "exceptions": st.exceptions,
        "bad_frames": st.bad_frames,
        "connection_down": s.failures,
        "reason": s.last_failure,
        "response_mean_us": us(st.response.mean()),
        "response_p99_us": us(st.response.quantile(0.99)),
        "processing_mean_us": us(st.processing.mean()),
        "processing_changed_mean_us": us(st.processing_changed.mean()),
        "unchanged_reads": st.unchanged,
        "scans_per_second": st.scans_per_second(),
        "requests_per_second": st.requests_per_second(),
        "seconds": st.elapsed.as_secs_f64(),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tag::{Quality, Reason};

    #[test]
    fn json_lines_are_valid_json_with_every_field() {
        let l = crate::layout::parse(
            "connections:\n  c: { modbus_tcp: { host: h } }\ntags:\n  T: { source: c, holding: 0, type: string, length: 8 }\n",
            "t.yaml",
        )
        .unwrap();
        let t = SystemTime::UNIX_EPOCH;
        for (value, quality) in [
            (Some(Value::Text("a\"b\\c\nd\u{1}é".into())), Quality::Good),
            (Some(Value::Float(2.5)), Quality::Good),
            (Some(Value::Float(f64::NAN)), Quality::Good),
            (Some(Value::Int(-3)), Quality::Uncertain(Reason::Stale)),
            (None, Quality::Bad(Reason::Exception(2))),
        ] {
            let s = Sample {
                value: value.clone(),
                quality: quality.clone(),
                source_ts: Some(t),
                server_ts: None,
                recv_ts: t,
            };
            let line = json_line(&l, TagId(0), &s, &timefmt::rfc3339_utc(t));
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(v["tag"], "T");
            assert_eq!(v["quality"], quality.level());
            assert_eq!(v["recv_ts"], "1970-01-01T00:00:00Z");
            assert_eq!(v["source_ts"], "1970-01-01T00:00:00Z");
            assert!(v["server_ts"].is_null());
            match value {
                Some(Value::Text(x)) => assert_eq!(v["value"], x.as_str()),
                Some(Value::Float(f)) if f.is_finite() => assert_eq!(v["value"], f),
                Some(Value::Float(_)) => assert_eq!(v["value"], "NaN"),
                Some(Value::Int(i)) => assert_eq!(v["value"], i),
                _ => assert!(v["value"].is_null()),
            }
            assert_eq!(v["reason"].as_str().map(String::from), quality.reason().map(|r| r.to_string()));
        }
    }
}
