//! `ttyhmi watch`: the drivers without a terminal UI. One line per tag value change on standard
//! output (text or JSON lines), and one summary line per connection at the end.

use std::io::{self, Write};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::drivers;
use crate::driver::{ConnStats, ConnectionState, DriverEvent};
use crate::layout::Layout;
use crate::tag::{Quality, Sample, TagId, Value};
use crate::timefmt;

pub struct WatchOptions {
    pub json: bool,
    /// Stop after this long; `None` runs until Ctrl-C.
    pub duration: Option<Duration>,
    /// Poll every block at this period instead of the layout's (zero: back to back).
    pub poll: Option<Duration>,
}

/// Per-connection totals at the end of a watch.
#[derive(Clone, Debug)]
pub struct Summary {
    pub connection: String,
    pub stats: ConnStats,
}

pub async fn run_watch<W: Write>(layout: &Layout, opts: WatchOptions, out: &mut W) -> io::Result<Vec<Summary>> {
    let (tx, mut rx) = mpsc::channel::<DriverEvent>(4096);
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks = drivers::spawn(layout, &tx, &stop_rx, opts.poll);
    drop(tx);

    let mut last: Vec<Option<(Option<Value>, Quality)>> = vec![None; layout.tags.len()];
    let mut stats: Vec<ConnStats> = vec![ConnStats::default(); layout.connections.len()];
    let mut stopped = 0;
    let deadline = opts.duration.map(|d| Instant::now() + d);
    let mut stopping = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut write_failed = false;
    loop {
        let event = tokio::select! {
            e = rx.recv() => e,
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() && !stopping => {
                stopping = true;
                let _ = stop_tx.send(true);
                continue;
            }
            _ = &mut ctrl_c, if !stopping => {
                stopping = true;
                let _ = stop_tx.send(true);
                continue;
            }
        };
        let Some(event) = event else { break };
        match event {
            DriverEvent::Samples { samples, .. } if !write_failed => {
                for (id, s) in samples {
                    let Some(slot) = last.get_mut(id.index()) else { continue };
                    // A Bad update keeps the last value; compare what a person would see.
                    let value = s.value.clone().or_else(|| slot.as_ref().and_then(|(v, _)| v.clone()));
                    let seen = (value, s.quality.clone());
                    if slot.as_ref() != Some(&seen) {
                        *slot = Some(seen);
                        let line = if opts.json { json_line(layout, id, &s) } else { text_line(layout, id, &s) };
                        if writeln!(out, "{line}").is_err() {
                            // A closed pipe (`| head`): stop printing, stop cleanly.
                            write_failed = true;
                            stopping = true;
                            let _ = stop_tx.send(true);
                            break;
                        }
                    }
                }
            }
            DriverEvent::Stats { conn, stats: s } => {
                if let Some(slot) = stats.get_mut(conn.index()) {
                    *slot = *s;
                }
            }
            DriverEvent::State { state: ConnectionState::Stopped, .. } => {
                stopped += 1;
                if stopped == tasks.len() {
                    break;
                }
            }
            DriverEvent::State { conn, state: ConnectionState::Disconnected { reason, .. } } => {
                tracing::warn!(connection = %layout.connection(conn).name, %reason, "disconnected");
            }
            _ => {}
        }
    }
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    let summaries: Vec<Summary> =
        layout.connections.iter().zip(stats).map(|(c, stats)| Summary { connection: c.name.clone(), stats }).collect();
    if !write_failed {
        for s in &summaries {
            let line = if opts.json { summary_json(s) } else { summary_text(s) };
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }
    Ok(summaries)
}

fn text_line(layout: &Layout, id: TagId, s: &Sample) -> String {
    let tag = layout.tag(id);
    let value = s.value.as_ref().map(|v| tag.format(v)).unwrap_or_else(|| "----".into());
    let units = if tag.units.is_empty() { String::new() } else { format!(" {}", tag.units) };
    format!("{} {} {value}{units} {}", timefmt::rfc3339_utc(s.recv_ts), tag.name, s.quality)
}

fn json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::UInt(u) => (*u).into(),
        Value::Float(f) if f.is_finite() => (*f).into(),
        Value::Float(f) => f.to_string().into(),
        Value::Text(t) => t.clone().into(),
    }
}

fn json_line(layout: &Layout, id: TagId, s: &Sample) -> String {
    let tag = layout.tag(id);
    serde_json::json!({
        "tag": tag.name,
        "value": s.value.as_ref().map(json_value),
        "quality": s.quality.level(),
        "reason": s.quality.reason().map(|r| r.to_string()),
        "source_ts": s.source_ts.map(timefmt::rfc3339_utc),
        "recv_ts": timefmt::rfc3339_utc(s.recv_ts),
    })
    .to_string()
}

fn us(d: Option<Duration>) -> u64 {
    d.map(|d| d.as_micros() as u64).unwrap_or(0)
}

pub fn summary_text(s: &Summary) -> String {
    let st = &s.stats;
    format!(
        "summary {}: {} requests, {} errors ({} timeouts, {} exceptions), response mean {} p99 {}, driver processing mean {}, {:.1} scans/s, {:.0} requests/s over {:.1}s",
        s.connection,
        st.requests,
        st.errors,
        st.timeouts,
        st.exceptions,
        st.response.mean().map(timefmt::short).unwrap_or_else(|| "-".into()),
        st.response.quantile(0.99).map(timefmt::short).unwrap_or_else(|| "-".into()),
        st.processing.mean().map(timefmt::short).unwrap_or_else(|| "-".into()),
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
        "response_mean_us": us(st.response.mean()),
        "response_p99_us": us(st.response.quantile(0.99)),
        "processing_mean_us": us(st.processing.mean()),
        "scans_per_second": st.scans_per_second(),
        "requests_per_second": st.requests_per_second(),
        "seconds": st.elapsed.as_secs_f64(),
    })
    .to_string()
}
