//! One supervisor for every protocol. A [`Driver`] only connects, runs a session (reads or
//! subscribes, and carries out the writes it is handed) and says how the session ended; the
//! supervisor does the rest, the same way for every connection:
//!
//! - connect → session → on a loss, every tag of the connection goes Bad with
//!   `Reason::Disconnected(why)` (its last value kept), the connection says
//!   `Disconnected { reason, retry_in }`, and the next attempt waits for the backoff
//!   (exponential, capped, with jitter seeded per connection so connections that fail together
//!   do not retry in lockstep);
//! - writes: a write that arrives while the connection is not up (connecting, backing off,
//!   restarting) is refused at once, and so is one sent before the current connection was made:
//!   a write is never queued across a reconnect ([`refuse`] gives every such answer);
//! - statistics, about once a second and when the connection stops;
//! - shutdown: tags Bad(not connected), last statistics, `Stopped`;
//! - a driver that panics (a bug, never expected) is restarted after [`RESTART_DELAY`]; its tags
//!   go Bad and the connection says why meanwhile, instead of freezing on their last values.

use std::convert::Infallible;
use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::backoff::Backoff;
use super::{ConnDiagnostics, ConnStats, ConnectionState, DriverEvent, NotSent, WriteCommand, WriteInbox};
use crate::layout::ConnId;
use crate::sanitize::clean;
use crate::tag::{Reason, Sample, TagId};

/// The longest wait between two connection attempts.
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// The pause before a driver that panicked is started again.
pub const RESTART_DELAY: Duration = Duration::from_secs(1);
/// Statistics are sent about this often while a session runs.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// What the application takes driver events as (its message type, or `DriverEvent` itself).
pub trait Event: From<DriverEvent> + Send + 'static {}
impl<M: From<DriverEvent> + Send + 'static> Event for M {}

/// The protocol side of one connection. It is cloned when the driver starts (and again after a
/// panic): a clone is a driver that has not run yet.
pub trait Driver: Clone + Send + 'static {
    /// An open connection, handed from [`Driver::connect`] to [`Driver::session`].
    type Link: Send;
    /// The first delay after a failure; it doubles up to [`BACKOFF_CAP`], with jitter in [½, 1).
    const BACKOFF_BASE: Duration;
    /// When the connection is lost its tags turn stale (Uncertain, value kept) rather than Bad:
    /// a report-by-exception source (Sparkplug) whose values were right when last heard.
    const LOSS_IS_STALE: bool = false;

    fn conn(&self) -> ConnId;
    /// The connection's name in the layout (for messages and logs).
    fn name(&self) -> &str;
    /// Every tag of the connection: all of them go Bad when it is down.
    fn tags(&self) -> Vec<TagId>;

    /// When the driver starts, before it first connects (e.g. it reports its read plan).
    fn start<M: Event>(&mut self, _out: &mut Out<M>) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Opens the connection, or says why not in words for the operator. Writes that arrive
    /// meanwhile are refused by the supervisor.
    fn connect(&mut self) -> impl Future<Output = Result<Self::Link, String>> + Send;

    /// Runs a session on the open connection until it ends. It says `Connected` and calls
    /// [`Out::up`] when the connection works, takes the writes [`Out::next_write`] hands over,
    /// and returns why it ended; the supervisor marks the tags, reports and backs off.
    fn session<M: Event>(&mut self, link: Self::Link, out: &mut Out<M>) -> impl Future<Output = Ended> + Send;
}

/// How a session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Lost or failed: why, in words for the operator, and when to connect again.
    Lost { reason: String, retry: Retry },
    /// Connect again at once, without a word: the driver has said what happened (OPC UA: after
    /// finding the values it cannot decode and leaving them out).
    Again,
}

/// When to connect again after a loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// At once, and the backoff starts over: the session worked before it ended (a device
    /// restart, one dropped link).
    AtOnce,
    /// After the next backoff delay.
    Backoff,
}

/// Why a write was answered without being tried.
enum Refusal<'a> {
    /// The connection (named) is not up.
    Down(&'a str),
    /// The write was sent before the current connection was made.
    Reconnected,
}

/// Answers, at once, a write the connection cannot take now. Every refusal of a write because
/// the connection is down (or came up again after it was sent) goes through here.
fn refuse(cmd: WriteCommand, why: Refusal) {
    let why = match why {
        Refusal::Down(name) => NotSent::ConnectionDown(name.to_string()),
        Refusal::Reconnected => NotSent::Reconnected,
    };
    let _ = cmd.reply.send(Err(why.into()));
}

/// The supervisor's side of a connection, lent to its driver: events out, writes in, statistics.
pub struct Out<M> {
    conn: ConnId,
    name: String,
    tags: Vec<TagId>,
    tx: mpsc::Sender<M>,
    writes: Option<WriteInbox>,
    /// When the current connection came up; `None` while it is not up.
    up_since: Option<std::time::Instant>,
    backoff: Backoff,
    /// What the connection has done since the driver started; the driver counts its requests.
    pub stats: ConnStats,
    started: Instant,
    last_stats: Instant,
    loss_is_stale: bool,
}

impl<M: Event> Out<M> {
    fn new<D: Driver>(driver: &D, tx: mpsc::Sender<M>, writes: Option<WriteInbox>, seed_time: SystemTime) -> Self {
        let now = Instant::now();
        Out {
            conn: driver.conn(),
            name: driver.name().to_string(),
            tags: driver.tags(),
            tx,
            writes,
            up_since: None,
            backoff: Backoff::new(D::BACKOFF_BASE, BACKOFF_CAP, seed(driver.conn(), seed_time)),
            stats: ConnStats::default(),
            started: now,
            last_stats: now,
            loss_is_stale: D::LOSS_IS_STALE,
        }
    }

    /// Whether this connection takes writes at all (read-only: never).
    pub fn writable(&self) -> bool {
        self.writes.is_some()
    }

    pub fn conn(&self) -> ConnId {
        self.conn
    }

    pub async fn send(&self, e: DriverEvent) {
        // A closed channel means the application is gone; the task ends at the next shutdown check.
        let _ = self.tx.send(e.into()).await;
    }

    pub async fn state(&self, state: ConnectionState) {
        self.send(DriverEvent::State { conn: self.conn, state }).await;
    }

    /// New samples (nothing is sent for none).
    pub async fn samples(&self, samples: Vec<(TagId, Sample)>) {
        if !samples.is_empty() {
            self.send(DriverEvent::Samples { conn: self.conn, samples, raw: None }).await;
        }
    }

    /// What the diagnostics view shows of the connection (replaces the last report).
    pub async fn diagnostics(&self, diag: ConnDiagnostics) {
        self.send(DriverEvent::Diagnostics { conn: self.conn, diag }).await;
    }

    /// Every tag of the connection Bad with `reason`, its last value kept.
    pub async fn mark_all(&self, reason: Reason) {
        self.mark_all_as(Sample::bad(reason, SystemTime::now())).await;
    }

    /// Every tag of the connection given `mark` (a sample without a value: the last one is kept).
    async fn mark_all_as(&self, mark: Sample) {
        self.samples(self.tags.iter().map(|&id| (id, mark.clone())).collect()).await;
    }

    pub async fn send_stats(&mut self) {
        self.stats.elapsed = self.started.elapsed();
        self.last_stats = Instant::now();
        self.send(DriverEvent::Stats { conn: self.conn, stats: Box::new(self.stats.clone()) }).await;
    }

    /// Sends the statistics if the last were sent a second ago or more.
    pub async fn stats_if_due(&mut self) {
        if self.last_stats.elapsed() >= STATS_EVERY {
            self.send_stats().await;
        }
    }

    /// The connection is up (again): writes sent from now on are handed to the driver; older
    /// ones are refused.
    pub fn up(&mut self) {
        self.up_since = Some(std::time::Instant::now());
    }

    /// The connection works: the next failure waits the shortest delay again.
    pub fn reset_backoff(&mut self) {
        self.backoff.reset();
    }

    /// The connection was lost within a session that goes on (a protocol that reconnects by
    /// itself): writes are refused, the tags go Bad with `reason` and the state says it.
    pub async fn lost(&mut self, reason: String) {
        self.up_since = None;
        self.mark_all(Reason::Disconnected(reason.clone())).await;
        self.state(ConnectionState::Disconnected { reason, retry_in: Duration::ZERO }).await;
    }

    /// The next write for the driver to carry out; never, without a write inbox. A write that
    /// arrives while the connection is not up, or was sent before it came up, is refused here.
    pub async fn next_write(&mut self) -> WriteCommand {
        loop {
            let cmd = self.receive_write().await;
            match self.up_since {
                Some(since) if cmd.sent_at >= since => return cmd,
                Some(_) => refuse(cmd, Refusal::Reconnected),
                None => refuse(cmd, Refusal::Down(&self.name)),
            }
        }
    }

    async fn receive_write(&mut self) -> WriteCommand {
        loop {
            let Some(inbox) = &self.writes else { return std::future::pending().await };
            let next = inbox.lock().await.recv().await;
            match next {
                Some(cmd) => return cmd,
                // Every sender is gone: no write can come any more.
                None => self.writes = None,
            }
        }
    }

    /// Runs `f` while the connection is not up, refusing every write that arrives meanwhile.
    pub async fn while_down<F: Future>(&mut self, f: F) -> F::Output {
        self.up_since = None;
        tokio::select! {
            out = f => out,
            never = self.refuse_writes() => match never {},
        }
    }

    async fn refuse_writes(&mut self) -> Infallible {
        loop {
            let cmd = self.next_write().await;
            // `next_write` refuses everything while down; a write it hands over (the connection
            // came up meanwhile, which `while_down` rules out) is refused all the same.
            refuse(cmd, Refusal::Down(&self.name));
        }
    }

    /// After a loss: the tags go Bad, the state says why and when the next attempt comes
    /// (counting a reconnect when a session had run). Returns the wait before that attempt.
    async fn down(&mut self, reason: String, retry: Retry, after_session: bool) -> Duration {
        self.up_since = None;
        let now = SystemTime::now();
        let mark = if self.loss_is_stale {
            Sample::stale(None, now)
        } else {
            Sample::bad(Reason::Disconnected(reason.clone()), now)
        };
        self.mark_all_as(mark).await;
        let delay = match retry {
            Retry::AtOnce => {
                self.backoff.reset();
                Duration::ZERO
            }
            Retry::Backoff => self.backoff.next_delay(),
        };
        if after_session {
            self.stats.reconnects += 1;
        }
        tracing::warn!(connection = %self.name, reason = %clean(&reason), retry_in = ?delay, "connection down");
        self.state(ConnectionState::Disconnected { reason, retry_in: delay }).await;
        self.send_stats().await;
        delay
    }

    /// The connection stops: its tags are no longer read.
    async fn stopped(&mut self) {
        self.up_since = None;
        self.mark_all(Reason::NotConnected).await;
        self.send_stats().await;
        self.state(ConnectionState::Stopped).await;
    }
}

/// The jitter seed of a connection: the start time mixed with the connection, so connections
/// started together (one layout, one process) do not retry in lockstep.
pub fn seed(conn: ConnId, start: SystemTime) -> u64 {
    let nanos = start.duration_since(SystemTime::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
    // splitmix64 of the connection: neighbouring ids give unrelated seeds.
    let mut z = (conn.0 as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    nanos ^ z ^ (z >> 31)
}

/// Runs a connection until `shutdown` turns true (or its sender is gone), restarting the driver
/// if it panics. Events go into `tx`; writes come from `writes` (`None`: read-only, no write
/// can reach the device).
pub async fn run<D: Driver, M: Event>(
    driver: D,
    tx: mpsc::Sender<M>,
    shutdown: watch::Receiver<bool>,
    writes: Option<WriteInbox>,
) {
    run_seeded(driver, tx, shutdown, writes, SystemTime::now()).await;
}

/// [`run`], with the time the jitter is seeded with.
async fn run_seeded<D: Driver, M: Event>(
    driver: D,
    tx: mpsc::Sender<M>,
    mut shutdown: watch::Receiver<bool>,
    writes: Option<WriteInbox>,
    seed_time: SystemTime,
) {
    loop {
        let out = Out::new(&driver, tx.clone(), writes.clone(), seed_time);
        let task = tokio::spawn(supervise(driver.clone(), out, shutdown.clone()));
        let _abort = AbortOnDrop(task.abort_handle());
        match task.await {
            Ok(()) => return,
            Err(e) if e.is_panic() => {
                let e = clean(&e.to_string()).into_owned();
                tracing::error!(connection = %driver.name(), "driver task panicked; restarting it: {e}");
                let mut out = Out::new(&driver, tx.clone(), writes.clone(), seed_time);
                if restart_pause(&mut out, &mut shutdown).await {
                    out.stopped().await;
                    return;
                }
            }
            // Cancelled: the runtime is shutting down.
            Err(_) => return,
        }
    }
}

/// Ends the driver's task with its supervisor (dropped when the runtime shuts down).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// After a panic: the tags go Bad and the state says why, for [`RESTART_DELAY`], writes refused.
/// True when shutting down.
async fn restart_pause<M: Event>(out: &mut Out<M>, shutdown: &mut watch::Receiver<bool>) -> bool {
    out.mark_all(Reason::Other("driver failed; restarting".into())).await;
    let reason = "driver failed (see the log); restarting".to_string();
    out.state(ConnectionState::Disconnected { reason, retry_in: RESTART_DELAY }).await;
    tokio::select! {
        _ = out.while_down(tokio::time::sleep(RESTART_DELAY)) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

/// Connect, session, loss, backoff, again, until shutdown.
async fn supervise<D: Driver, M: Event>(mut driver: D, mut out: Out<M>, mut shutdown: watch::Receiver<bool>) {
    driver.start(&mut out).await;
    loop {
        if *shutdown.borrow() {
            break;
        }
        out.state(ConnectionState::Connecting).await;
        let connected = tokio::select! {
            r = out.while_down(driver.connect()) => r,
            _ = shutdown.changed() => break,
        };
        let (reason, retry, after_session) = match connected {
            Err(reason) => (reason, Retry::Backoff, false),
            Ok(link) => {
                let ended = tokio::select! {
                    e = driver.session(link, &mut out) => e,
                    _ = shutdown.changed() => break,
                };
                match ended {
                    Ended::Again => continue,
                    Ended::Lost { reason, retry } => (reason, retry, true),
                }
            }
        };
        let delay = out.down(reason, retry, after_session).await;
        if !delay.is_zero() {
            tokio::select! {
                _ = out.while_down(tokio::time::sleep(delay)) => {}
                _ = shutdown.changed() => break,
            }
        }
    }
    out.stopped().await;
}

#[cfg(test)]
mod tests;
