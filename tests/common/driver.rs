//! The Modbus driver tasks of a layout, run against real servers, with their events folded into
//! what an operator would see. Every wait is for a condition with a deadline
//! ([`Harness::wait_for`]); a timed-out wait fails with a summary of the view.

use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use ttyhmi::driver::modbus::poller::{ModbusJob, run};
use ttyhmi::driver::{BlockInfo, ConnStats, ConnectionState, DriverEvent};
use ttyhmi::layout::{self, ConnId, Layout};
use ttyhmi::tag::{Quality, Reason, Sample, TagStore, Value};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What an operator would see, plus the event history the tests assert on.
pub struct View {
    pub layout: Layout,
    pub store: TagStore,
    /// Samples received per tag, and how many of them were Good / not Good.
    pub good: Vec<u32>,
    pub not_good: Vec<u32>,
    /// Not-Good samples received after the tag's first Good one.
    pub bad_after_good: Vec<u32>,
    pub states: Vec<(ConnId, ConnectionState)>,
    pub plans: Vec<(ConnId, Vec<BlockInfo>)>,
    pub stats: Vec<(ConnId, ConnStats)>,
    /// `Samples` and `Fresh` events received.
    pub sample_events: usize,
    pub fresh_events: usize,
}

impl View {
    pub fn new(layout: Layout) -> Self {
        let n = layout.tags.len();
        View {
            layout,
            store: TagStore::new(n, SystemTime::now()),
            good: vec![0; n],
            not_good: vec![0; n],
            bad_after_good: vec![0; n],
            states: Vec::new(),
            plans: Vec::new(),
            stats: Vec::new(),
            sample_events: 0,
            fresh_events: 0,
        }
    }

    pub fn fold(&mut self, e: DriverEvent) {
        match e {
            DriverEvent::Samples { samples, .. } => {
                self.sample_events += 1;
                for (id, s) in samples {
                    let i = id.index();
                    if s.quality.is_good() {
                        self.good[i] += 1;
                    } else {
                        self.not_good[i] += 1;
                        if self.good[i] > 0 {
                            self.bad_after_good[i] += 1;
                        }
                    }
                    self.store.apply(id, s);
                }
            }
            // An unchanged read: every tag of the block read Good again, same value.
            DriverEvent::Fresh { tags, recv_ts, .. } => {
                self.fresh_events += 1;
                for &id in tags.iter() {
                    self.good[id.index()] += 1;
                    self.store.refresh(id, recv_ts);
                }
            }
            DriverEvent::State { conn, state } => self.states.push((conn, state)),
            DriverEvent::Diagnostics { conn, diag } => {
                assert!(diag.items.is_empty() && diag.facts.is_empty(), "a Modbus driver reports only its read plan");
                self.plans.push((conn, diag.plan))
            }
            DriverEvent::Stats { conn, stats } => self.stats.push((conn, *stats)),
            DriverEvent::DataTypes { .. } => panic!("a Modbus driver reports no OPC UA data types"),
            DriverEvent::Historical { .. } => panic!("a Modbus driver reports no history"),
        }
    }

    pub fn index(&self, name: &str) -> usize {
        self.layout.tag_id(name).unwrap_or_else(|| panic!("no tag {name} in the layout")).index()
    }

    pub fn sample(&self, name: &str) -> &Sample {
        self.store.get(self.layout.tag_id(name).expect("tag")).expect("every tag has a slot")
    }

    pub fn quality(&self, name: &str) -> &Quality {
        &self.sample(name).quality
    }

    pub fn value(&self, name: &str) -> Option<&Value> {
        self.sample(name).value.as_ref()
    }

    /// Samples of `name` received so far (Good or not).
    pub fn received(&self, name: &str) -> u32 {
        let i = self.index(name);
        self.good[i] + self.not_good[i]
    }

    pub fn goods(&self, name: &str) -> u32 {
        self.good[self.index(name)]
    }

    pub fn not_goods(&self, name: &str) -> u32 {
        self.not_good[self.index(name)]
    }

    /// `name` received a sample and its quality is `q`.
    pub fn is(&self, name: &str, q: &Quality) -> bool {
        self.received(name) > 0 && self.quality(name) == q
    }

    /// The tag is Bad because its connection is down, with a reason holding every word of `words`.
    pub fn is_down(&self, name: &str, words: &[&str]) -> bool {
        self.received(name) > 0
            && matches!(self.quality(name), Quality::Bad(Reason::Disconnected(r)) if words.iter().all(|w| r.contains(w)))
    }

    pub fn all_good(&self) -> bool {
        self.layout.tags.iter().all(|t| self.quality(&t.name).is_good())
    }

    pub fn state(&self, conn: u16) -> Option<&ConnectionState> {
        self.states.iter().rev().find(|(c, _)| c.0 == conn).map(|(_, s)| s)
    }

    /// Disconnected states reported since `from` (an index into `states`).
    pub fn disconnects_since(&self, from: usize) -> Vec<&str> {
        self.states[from.min(self.states.len())..]
            .iter()
            .filter_map(|(_, s)| match s {
                ConnectionState::Disconnected { reason, .. } => Some(reason.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn summary(&self) -> String {
        let not_good: Vec<String> = self
            .layout
            .tags
            .iter()
            .filter(|t| !self.quality(&t.name).is_good())
            .take(12)
            .map(|t| {
                format!(
                    "{} = {:?} ({}, {} samples)",
                    t.name,
                    self.value(&t.name),
                    self.quality(&t.name),
                    self.received(&t.name)
                )
            })
            .collect();
        let states: Vec<String> =
            self.states.iter().rev().take(6).rev().map(|(c, s)| format!("{}: {s:?}", c.0)).collect();
        format!("states (last 6): {states:#?}\nnot good (first 12): {not_good:#?}\nplans: {}", self.plans.len())
    }
}

/// The driver tasks of every connection of a layout, and their events.
pub struct Harness {
    pub view: View,
    pub rx: mpsc::Receiver<DriverEvent>,
    pub stop: watch::Sender<bool>,
    pub tasks: Vec<JoinHandle<()>>,
    pub started: Instant,
}

impl Harness {
    pub fn start(src: &str) -> Harness {
        Self::start_with(src, |_| {})
    }

    /// Starts one driver task per connection; `tweak` may change a job before it runs.
    pub fn start_with(src: &str, tweak: impl Fn(&mut ModbusJob)) -> Harness {
        let layout = layout::parse(src, "test.yaml").unwrap_or_else(|e| panic!("{e}\n--- layout:\n{src}"));
        let (tx, rx) = mpsc::channel::<DriverEvent>(1024);
        let (stop, stop_rx) = watch::channel(false);
        let tasks = (0..layout.connections.len())
            .map(|c| {
                let mut job = ModbusJob::from_layout(&layout, ConnId(c as u16)).expect("a Modbus TCP connection");
                tweak(&mut job);
                tokio::spawn(run(job, tx.clone(), stop_rx.clone(), None))
            })
            .collect();
        Harness { view: View::new(layout), rx, stop, tasks, started: Instant::now() }
    }

    /// Folds events until `pred` holds; fails the test at `deadline`. The predicate is also
    /// checked every 20 ms, for conditions outside the view (a server's counters).
    pub async fn wait_until(&mut self, deadline: Instant, what: &str, mut pred: impl FnMut(&View) -> bool) {
        loop {
            if pred(&self.view) {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                let failures = self.task_failures().await;
                panic!("timed out waiting for: {what}{failures}\n{}", self.view.summary());
            }
            match tokio::time::timeout_at(deadline.min(now + ms(20)), self.rx.recv()).await {
                Ok(Some(e)) => self.view.fold(e),
                Ok(None) => {
                    let failures = self.task_failures().await;
                    panic!("the driver stopped while waiting for: {what}{failures}\n{}", self.view.summary());
                }
                Err(_) => {}
            }
        }
    }

    /// [`Self::wait_until`] `within` from now; returns how long it took.
    pub async fn wait_for(&mut self, within: Duration, what: &str, pred: impl FnMut(&View) -> bool) -> Duration {
        let t0 = Instant::now();
        self.wait_until(t0 + within, what, pred).await;
        t0.elapsed()
    }

    /// Waits for the next Stats event and returns it.
    pub async fn next_stats(&mut self) -> ConnStats {
        let n = self.view.stats.len();
        self.wait_for(Duration::from_secs(3), "a Stats event", |v| v.stats.len() > n).await;
        self.view.stats.last().expect("just received").1.clone()
    }

    /// Why tasks that ended ended (a panic, in words).
    pub async fn task_failures(&mut self) -> String {
        let mut out = String::new();
        for t in &mut self.tasks {
            if t.is_finished()
                && let Err(e) = t.await
            {
                out += &format!("\n  driver task failed: {e}");
            }
        }
        out
    }

    pub fn assert_running(&self) {
        assert!(self.tasks.iter().all(|t| !t.is_finished()), "a driver task ended\n{}", self.view.summary());
    }

    /// Asks every task to stop; waits for each connection's Stopped and for the tasks to end.
    /// Returns the view and how long it took.
    pub async fn shutdown(mut self) -> (View, Duration) {
        let t0 = Instant::now();
        self.stop.send(true).expect("the tasks hold receivers");
        let n = self.view.layout.connections.len();
        self.wait_for(Duration::from_secs(1), "State(Stopped) of every connection", |v| {
            (0..n as u16).all(|c| v.state(c) == Some(&ConnectionState::Stopped))
        })
        .await;
        for t in std::mem::take(&mut self.tasks) {
            tokio::time::timeout(Duration::from_secs(1), t)
                .await
                .expect("the task ends after Stopped")
                .expect("the task did not panic");
        }
        let took = t0.elapsed();
        // What was sent before Stopped is already folded; fold anything left.
        while let Ok(e) = self.rx.try_recv() {
            self.view.fold(e);
        }
        (self.view, took)
    }
}
