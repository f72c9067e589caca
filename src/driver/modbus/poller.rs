//! The Modbus connection task (TCP, RTU on a serial line, RTU over TCP): connect, poll the
//! planned blocks on schedule, decode, report.
//!
//! It runs under the driver [`supervisor`], which connects, reconnects and refuses writes while
//! the connection is down. One request in flight per connection: on a serial line that
//! serialises the bus, several units sharing it. Every request runs under the connection's
//! timeout (tokio-modbus has none of its own). On a transport error the session ends: the
//! context is dropped, the tags go Bad with their last values kept, and the connection is made
//! again (the port reopened) with exponential backoff and jitter (cap 30 s). A unit that does
//! not answer costs one timeout a round after its first: its other unanswered blocks wait for
//! the next round, taking turns (see `defer_unit`). A damaged RTU answer (CRC error, truncated,
//! another unit answering, noise) marks that block's tags Bad with the reason and the line is
//! kept. An RTU line that is never quiet (the client gives a request up within its budget of
//! bytes) is dropped with the reason, and the driver backs off before reopening it, even if
//! reads worked before: reconnecting into a flood at once would be a busy loop. A block refused
//! with exception 02 is split in halves until the bad addresses are found; only their tags go
//! Bad, and the split is kept.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_modbus::client::{Client, Context};
use tokio_modbus::prelude::SlaveContext;
use tokio_modbus::{ExceptionCode, Request, Response, Slave};

use super::codec;
use super::planner::{self, Block, Limits, MAX_READ_BITS, MAX_READ_REGISTERS};
use super::rtu_link::{self, NeverQuiet, RtuClient, Timing};
use super::serial;
use crate::driver::plan::{ModbusOp, ModbusWrite};
use crate::driver::supervisor::{self, Driver, Ended, Event, Out, Retry};
use crate::driver::{
    BlockInfo, ConnDiagnostics, ConnStats, ConnectionState, DriverEvent, NotSent, RawBlock, Refusal, Unknown,
    WriteCommand, WriteDone, WriteError, WriteInbox,
};
use crate::layout::{ConnId, ConnectionKind, Layout, Modbus, ModbusLink, ModbusPoint, Table, TagSource};
use crate::tag::{Reason, Sample, TagId, Value};

const BACKOFF_BASE: Duration = Duration::from_millis(250);
/// Unchanged reads of a block refresh its tags' receive time at most this often. Staleness is
/// judged over at least a second, so this is fine-grained enough.
const FRESH_EVERY: Duration = Duration::from_millis(200);

/// A planned block and what the task knows of it.
#[derive(Clone)]
struct Run {
    block: Block,
    /// Its tags, shared with every `Fresh` event.
    tags: Arc<[TagId]>,
    /// When it is next due. Kept across reconnects, so a block whose device times out does not
    /// starve the blocks after it.
    due: Instant,
    /// The words last delivered as samples, while they are current (all Good). A read that
    /// returns the same words changes no tag: it is reported as a cheap [`DriverEvent::Fresh`]
    /// instead of being decoded again.
    last_words: Option<Vec<u16>>,
    /// When the last `Fresh` (or delivery) was sent.
    fresh_sent: Instant,
    /// Read since the current scan began.
    seen: bool,
    /// Its last request went unanswered (no answer at all, not even a damaged one).
    timed_out: bool,
}

impl Run {
    fn new(block: Block, now: Instant) -> Run {
        Run {
            tags: block.tags().collect(),
            block,
            due: now,
            last_words: None,
            fresh_sent: now,
            seen: false,
            timed_out: false,
        }
    }
}

/// Everything a connection task needs, taken from the layout.
#[derive(Clone, Debug)]
pub struct ModbusJob {
    pub conn: ConnId,
    pub name: String,
    pub modbus: Modbus,
    pub timeout: Duration,
    pub points: Vec<(TagId, ModbusPoint, Duration)>,
    /// When set, every block is polled at this period instead of its own (`watch --poll`);
    /// zero polls back to back, as fast as the device answers.
    pub poll_override: Option<Duration>,
}

impl ModbusJob {
    /// The job of connection `conn`, if it is a Modbus connection.
    pub fn from_layout(layout: &Layout, conn: ConnId) -> Option<ModbusJob> {
        match &layout.connection(conn).kind {
            ConnectionKind::Modbus(modbus) => Some(ModbusJob::new(layout, conn, modbus)),
            _ => None,
        }
    }

    /// The job of Modbus connection `conn` (whose settings are `modbus`).
    pub fn new(layout: &Layout, conn: ConnId, modbus: &Modbus) -> ModbusJob {
        let c = layout.connection(conn);
        let points = layout
            .tags_of(conn)
            .filter_map(|(id, t)| match t.source {
                TagSource::Modbus(p) => Some((id, p, t.poll)),
                _ => None,
            })
            .collect();
        ModbusJob {
            conn,
            name: c.name.clone(),
            modbus: modbus.clone(),
            timeout: c.timeout,
            points,
            poll_override: None,
        }
    }

    pub fn plan(&self) -> Vec<Block> {
        let limits = Limits {
            max_registers: self.modbus.max_registers,
            max_bits: self.modbus.max_bits,
            max_gap: self.modbus.max_gap,
        };
        let points: Vec<_> = match self.poll_override {
            Some(p) => self.points.iter().map(|&(t, pt, _)| (t, pt, p)).collect(),
            None => self.points.clone(),
        };
        planner::plan(&points, limits)
    }
}

/// Why a read failed.
enum ReadError {
    /// The device answered with an exception.
    Exception(u8),
    /// No answer in time.
    Timeout,
    /// The request did not complete within its limit: on a link whose client reports missing
    /// answers itself (RTU), the link is stuck.
    Elapsed,
    /// A damaged RTU answer; the line is still usable.
    Frame(String),
    /// An RTU line that never goes quiet: it is dropped, and the driver backs off.
    Flooded(NeverQuiet),
    /// The connection broke, or the answer made no sense.
    Transport(String),
}

/// What the poll loop keeps between the requests of a session.
struct Session {
    /// The unit the context currently addresses.
    unit: u8,
    /// Some read succeeded.
    worked: bool,
    timeouts_in_a_row: u32,
}

/// The link was lost during a write: why, and whether the line was never quiet.
struct Lost {
    reason: String,
    flooded: bool,
}

/// Why a session (one connection, from connect to failure) ended: `reason` in words for the
/// operator; `worked` when some read succeeded; `flooded` when the line was never quiet.
///
/// A session that worked and then failed (one timeout, a server restart) is retried at once;
/// one that never worked backs off, and so does one that ended on a line that was never quiet
/// (retrying into a flood would spin).
fn ended(reason: String, worked: bool, flooded: bool) -> Ended {
    let retry = if worked && !flooded { Retry::AtOnce } else { Retry::Backoff };
    Ended::Lost { reason, retry }
}

/// Runs a connection until `shutdown` turns true, under the driver supervisor. Sends into `tx`;
/// when the receiver is gone, the task ends.
pub async fn run<M: From<DriverEvent> + Send + 'static>(
    job: ModbusJob,
    tx: mpsc::Sender<M>,
    shutdown: watch::Receiver<bool>,
    writes: Option<WriteInbox>,
) {
    supervisor::run(Task::new(job), tx, shutdown, writes).await;
}

/// The Modbus side of a connection: the plan, and what it knows of each block.
#[derive(Clone)]
struct Task {
    job: ModbusJob,
    /// The planned blocks, in plan order (a split appends its second half).
    runs: Vec<Run>,
    scan_start: Instant,
    /// The line's timing on RTU links (serial, or RTU over TCP); `None` for Modbus TCP.
    timing: Option<Timing>,
    /// When the last read ended: on a serial line, the next waits for the bus's silence after it.
    line_free: Instant,
}

impl Driver for Task {
    type Link = Context;
    const BACKOFF_BASE: Duration = BACKOFF_BASE;

    fn conn(&self) -> ConnId {
        self.job.conn
    }

    fn name(&self) -> &str {
        &self.job.name
    }

    fn tags(&self) -> Vec<TagId> {
        self.job.points.iter().map(|(id, _, _)| *id).collect()
    }

    async fn start<M: Event>(&mut self, out: &mut Out<M>) {
        self.send_plan(out).await;
    }

    async fn connect(&mut self) -> Result<Context, String> {
        self.open().await
    }

    async fn session<M: Event>(&mut self, ctx: Context, out: &mut Out<M>) -> Ended {
        self.poll(ctx, out).await
    }
}

impl Task {
    fn new(job: ModbusJob) -> Self {
        let now = Instant::now();
        let runs = job.plan().into_iter().map(|b| Run::new(b, now)).collect();
        let timing = match &job.modbus.link {
            ModbusLink::Tcp { .. } => None,
            ModbusLink::RtuOverTcp { .. } => Some(Timing::tcp(job.timeout)),
            ModbusLink::Serial(l) => Some(Timing::serial(l.baud, l.bits_per_char(), l.turnaround, job.timeout)),
        };
        Task { job, runs, scan_start: now, timing, line_free: now }
    }

    async fn send_plan<M: Event>(&self, out: &Out<M>) {
        let blocks = self
            .runs
            .iter()
            .map(|r| &r.block)
            .map(|b| BlockInfo {
                unit: b.unit,
                table: b.table,
                start: b.start,
                count: b.count,
                poll: b.poll,
                tags: b.items.len(),
            })
            .collect();
        out.diagnostics(ConnDiagnostics { plan: blocks, ..ConnDiagnostics::default() }).await;
    }

    async fn open(&self) -> Result<Context, String> {
        let modbus = &self.job.modbus;
        let unit = modbus.unit;
        let (host, port) = match &modbus.link {
            ModbusLink::Serial(line) => {
                let stream = serial::open(line)?;
                tracing::info!(connection = %self.job.name, port = %line.port.display(), "serial port open");
                return Ok(self.rtu(stream));
            }
            ModbusLink::Tcp { host, port } | ModbusLink::RtuOverTcp { host, port } => (host, *port),
        };
        let t = self.job.timeout.max(Duration::from_secs(1));
        let addrs: Vec<SocketAddr> = match timeout(t, tokio::net::lookup_host((host.as_str(), port))).await {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => return Err(format!("cannot resolve {host}: {e}")),
            Err(_) => return Err(format!("resolving {host} timed out")),
        };
        let Some(addr) = addrs.first().copied() else {
            return Err(format!("{host} has no address"));
        };
        let stream = match timeout(t, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(format!("{} ({addr})", crate::driver::io_words(&e))),
            Err(_) => return Err(format!("connect timeout after {} ({addr})", crate::timefmt::short(t))),
        };
        // Requests are small and latency-bound; do not let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        tracing::info!(connection = %self.job.name, %addr, link = ?modbus.link, "connected");
        Ok(match modbus.link {
            // RTU frames with their CRC, passed through by a serial gateway.
            ModbusLink::RtuOverTcp { .. } => self.rtu(stream),
            _ => tokio_modbus::client::tcp::attach_slave(stream, Slave(unit)),
        })
    }

    /// The RTU master on a byte stream, with the line's timing.
    fn rtu<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(&self, stream: S) -> Context {
        let timing = self.timing.unwrap_or(Timing::tcp(self.job.timeout));
        Context::from(Box::new(RtuClient::new(stream, self.job.modbus.unit, timing)) as Box<dyn Client>)
    }

    /// The longest one request may take before the task gives up on it: the timeout, and on RTU
    /// links the line's silences too (the RTU client reports a missing answer itself).
    fn call_limit(&self) -> Duration {
        self.timing.map_or(self.job.timeout, |t| t.call_limit())
    }

    /// Polls until the connection fails; returns why and how the session went.
    async fn poll<M: Event>(&mut self, mut ctx: Context, out: &mut Out<M>) -> Ended {
        out.state(ConnectionState::Connected).await;
        out.up();
        // The tags went Bad when the last connection was lost: deliver every block whole again.
        self.runs.iter_mut().for_each(|r| r.last_words = None);
        let mut s = Session { unit: self.job.modbus.unit, worked: false, timeouts_in_a_row: 0 };
        loop {
            let Some((i, when)) = self.runs.iter().map(|r| r.due).enumerate().min_by_key(|(_, d)| *d) else {
                // No tags on this connection: nothing to poll.
                std::future::pending::<()>().await;
                continue;
            };
            if when > Instant::now() {
                tokio::select! {
                    _ = sleep_until(when) => {}
                    cmd = out.next_write() => {
                        if let Err(lost) = self.write(&mut ctx, &mut s.unit, cmd, &mut out.stats).await {
                            return ended(lost.reason, s.worked, lost.flooded);
                        }
                        continue;
                    }
                }
            }
            out.stats_if_due().await;
            let block = &self.runs[i].block;
            if block.unit != s.unit {
                ctx.set_slave(Slave(block.unit));
                s.unit = block.unit;
            }
            let (start, count, table, unit, period) = (block.start, block.count, block.table, block.unit, block.poll);
            // The bus's silence is kept here rather than inside the request, so the response
            // time measures the device, not the turnaround.
            if let Some(t) = self.timing {
                sleep_until(self.line_free + t.before_request).await;
            }
            let sent = Instant::now();
            let result = read(&mut ctx, table, start, count, self.call_limit()).await;
            let rtt = sent.elapsed();
            self.line_free = Instant::now();
            let result = match result {
                Err(ReadError::Elapsed) if self.timing.is_some() => Err(ReadError::Transport(format!(
                    "a request to unit {unit} did not complete within {:?}: the line is stuck",
                    self.call_limit()
                ))),
                Err(ReadError::Elapsed) => Err(ReadError::Timeout),
                r => r,
            };
            self.runs[i].timed_out = matches!(result, Err(ReadError::Timeout));
            out.stats.requests += 1;
            self.runs[i].due = if period.is_zero() { Instant::now() } else { (when + period).max(Instant::now()) };
            if !matches!(result, Err(ReadError::Timeout)) {
                s.timeouts_in_a_row = 0;
            }
            if let Some(ended) = self.settle(i, result, rtt, &mut s, out).await {
                return ended;
            }
        }
    }

    /// Takes the outcome of a read of block `i` into the tags and statistics; `Some` when it
    /// ends the session.
    async fn settle<M: Event>(
        &mut self,
        i: usize,
        result: Result<Vec<u16>, ReadError>,
        rtt: Duration,
        s: &mut Session,
        out: &mut Out<M>,
    ) -> Option<Ended> {
        let block = &self.runs[i].block;
        let (start, count, table, unit) = (block.start, block.count, block.table, block.unit);
        match result {
            Ok(words) => {
                out.stats.response.record(rtt);
                s.worked = true;
                self.got(i, words, out).await;
            }
            Err(ReadError::Exception(code)) => {
                out.stats.response.record(rtt);
                out.stats.errors += 1;
                out.stats.exceptions += 1;
                // Illegal data address for a merged block: split it to find the bad
                // addresses; the split is kept. A block that cannot be split is Bad.
                if code == 2
                    && let Some((a, b)) = self.runs[i].block.split()
                {
                    tracing::info!(connection = %self.job.name, start, count, "exception 02: splitting block");
                    let now = Instant::now();
                    self.runs[i] = Run::new(a, now);
                    self.runs.push(Run::new(b, now));
                    self.send_plan(out).await;
                    return None;
                }
                self.mark_block(i, Reason::Exception(code), out).await;
                self.scan_done(i, &mut out.stats);
            }
            Err(ReadError::Frame(why)) => {
                out.stats.errors += 1;
                out.stats.bad_frames += 1;
                tracing::info!(connection = %self.job.name, unit, start, count, %why, "bad answer");
                self.mark_block(i, Reason::Frame(why), out).await;
                self.scan_done(i, &mut out.stats);
            }
            // (`Elapsed` was turned into a timeout or a transport failure by the caller.)
            Err(ReadError::Timeout | ReadError::Elapsed) => {
                // One unit behind a gateway or on a bus may be silent while the others
                // answer: keep the connection, and give the unit one request a round (its
                // other blocks wait for the next round, Bad). Over TCP, three timeouts in a
                // row with no answer between mean the device (or the path to it) is gone:
                // reconnect. A serial port that is still open is kept.
                out.stats.errors += 1;
                out.stats.timeouts += 1;
                self.mark_block(i, Reason::Timeout, out).await;
                self.defer_unit(i);
                self.scan_done(i, &mut out.stats);
                s.timeouts_in_a_row += 1;
                if s.timeouts_in_a_row >= 3 && !matches!(self.job.modbus.link, ModbusLink::Serial(_)) {
                    let reason = format!(
                        "no answer within {:?} to {} requests in a row (last: unit {} {} {start}+{count})",
                        self.job.timeout,
                        s.timeouts_in_a_row,
                        unit,
                        table.name()
                    );
                    return Some(ended(reason, s.worked, false));
                }
            }
            // A line that never goes quiet is left, and the driver backs off before it tries
            // again: reading a flood (or reconnecting into it at once) is a busy loop.
            Err(ReadError::Flooded(why)) => {
                out.stats.errors += 1;
                out.stats.bad_frames += 1;
                let reason = self.on_the_link(why.to_string());
                tracing::warn!(connection = %self.job.name, %reason, "line never quiet: dropping it");
                return Some(ended(reason, s.worked, true));
            }
            Err(ReadError::Transport(e)) => {
                out.stats.errors += 1;
                return Some(ended(self.link_failed(e), s.worked, false));
            }
        }
        None
    }

    /// Block `i` was read: its tags get the words (or a cheap `Fresh` if they did not change).
    async fn got<M: Event>(&mut self, i: usize, words: Vec<u16>, out: &mut Out<M>) {
        let received = Instant::now();
        let run = &mut self.runs[i];
        if run.last_words.as_ref() == Some(&words) {
            out.stats.unchanged += 1;
            if run.fresh_sent.elapsed() >= FRESH_EVERY {
                run.fresh_sent = Instant::now();
                let tags = run.tags.clone();
                let now = SystemTime::now();
                out.send(DriverEvent::Fresh { conn: self.job.conn, tags, recv_ts: now }).await;
            }
        } else {
            self.deliver(i, words, out).await;
            out.stats.processing_changed.record(received.elapsed());
        }
        out.stats.processing.record(received.elapsed());
        self.scan_done(i, &mut out.stats);
    }

    /// Carries out one write (exactly its plan; sent while the connection is up: the supervisor
    /// refuses the others) and reads the value back. `Err` only when the connection broke (the
    /// caller reconnects); the command's own outcome goes to its reply.
    async fn write(
        &mut self,
        ctx: &mut Context,
        current_unit: &mut u8,
        cmd: WriteCommand,
        stats: &mut ConnStats,
    ) -> Result<(), Lost> {
        let WriteCommand { plan, reply, .. } = cmd;
        let tag = plan.tag();
        let Some(&(_, point, _)) = self.job.points.iter().find(|(t, _, _)| *t == tag) else {
            let _ = reply.send(Err(NotSent::NotOnConnection.into()));
            return Ok(());
        };
        let w = match plan.modbus_for(self.job.conn, &point, self.job.modbus.mask_write) {
            Ok(w) => w,
            Err(why) => {
                let _ = reply.send(Err(NotSent::PlanMismatch(why).into()));
                return Ok(());
            }
        };
        if w.unit != *current_unit {
            ctx.set_slave(Slave(w.unit));
            *current_unit = w.unit;
        }
        let (outcome, broken) = write_point(ctx, w, self.call_limit()).await;
        let outcome = outcome.map(|readback| WriteDone::of(&plan, readback));
        stats.requests += 1;
        if outcome.is_err() {
            stats.errors += 1;
        }
        tracing::info!(connection = %self.job.name, tag = tag.0, ?outcome, "write");
        let _ = reply.send(outcome);
        // The next poll reads the new value; force it now for a quick screen update.
        for run in self.runs.iter_mut().filter(|r| r.tags.contains(&tag)) {
            run.due = Instant::now();
            run.last_words = None;
        }
        match broken {
            Some(mut lost) => {
                if lost.flooded {
                    lost.reason = self.on_the_link(lost.reason);
                }
                Err(lost)
            }
            None => Ok(()),
        }
    }

    /// Block `i`'s unit did not answer. Its other blocks whose last request went unanswered too
    /// are put off to their next round, so a silent unit costs one timeout a round, not one per
    /// block (after its first round). The probe rotates: the block that just timed out is due a
    /// period from now, after the others. A block that answered last time is never put off, so
    /// a block a device ignores does not starve its neighbours.
    fn defer_unit(&mut self, i: usize) {
        let unit = self.runs[i].block.unit;
        let now = Instant::now();
        for (j, run) in self.runs.iter_mut().enumerate() {
            if j != i && run.block.unit == unit && run.timed_out && run.due <= now + run.block.poll {
                run.due = run.due.max(now + run.block.poll);
                run.seen = true;
            }
        }
    }

    /// Why the link failed, with the serial port named.
    fn link_failed(&self, e: String) -> String {
        match &self.job.modbus.link {
            ModbusLink::Serial(l) => format!("serial port {}: {e} (adapter unplugged?)", l.port.display()),
            _ => e,
        }
    }

    /// `what` happened on the link: on a serial line, the port is named.
    fn on_the_link(&self, what: String) -> String {
        match &self.job.modbus.link {
            ModbusLink::Serial(l) => format!("serial port {}: {what}", l.port.display()),
            _ => what,
        }
    }

    /// Block `i` was read (or answered): a scan is complete when every block has been.
    fn scan_done(&mut self, i: usize, stats: &mut ConnStats) {
        self.runs[i].seen = true;
        if self.runs.iter().all(|r| r.seen) {
            stats.scans += 1;
            stats.last_scan = Some(self.scan_start.elapsed());
            self.scan_start = Instant::now();
            self.runs.iter_mut().for_each(|r| r.seen = false);
        }
    }

    async fn mark_block<M: Event>(&mut self, i: usize, reason: Reason, out: &Out<M>) {
        self.runs[i].last_words = None;
        let now = SystemTime::now();
        let samples = self.runs[i].tags.iter().map(|&id| (id, Sample::bad(reason.clone(), now))).collect();
        out.send(DriverEvent::Samples { conn: self.job.conn, samples, raw: None }).await;
    }

    async fn deliver<M: Event>(&mut self, i: usize, words: Vec<u16>, out: &Out<M>) {
        let now = SystemTime::now();
        let block = &self.runs[i].block;
        let samples: Vec<(TagId, Sample)> = block
            .items
            .iter()
            .map(|item| {
                let from = item.offset as usize;
                let to = from + item.point.count() as usize;
                let decoded = match words.get(from..to) {
                    None => Err(format!("short response: {} of {} words", words.len(), block.count)),
                    Some(w) if block.table.is_bits() => {
                        codec::decode_bit(&w.iter().map(|&b| b != 0).collect::<Vec<_>>()).map_err(|e| e.to_string())
                    }
                    Some(w) => codec::decode_point(&item.point, w).map_err(|e| e.to_string()),
                };
                let sample = match decoded {
                    Ok(v) => Sample::good(v, now),
                    Err(e) => Sample::bad(Reason::Decode(e), now),
                };
                (item.tag, sample)
            })
            .collect();
        // Only an all-Good read is remembered: `Fresh` then always means "Good, unchanged".
        let all_good = samples.iter().all(|(_, s)| s.quality.is_good());
        let raw = RawBlock { unit: block.unit, table: block.table, start: block.start, words };
        let run = &mut self.runs[i];
        run.last_words = all_good.then(|| raw.words.clone());
        run.fresh_sent = Instant::now();
        out.send(DriverEvent::Samples { conn: self.job.conn, samples, raw: Some(raw) }).await;
    }
}

/// Sends a planned write and reads the point back. Returns the value read back (`None` when the
/// readback failed), and `Some` when the connection broke on the way.
async fn write_point(
    ctx: &mut Context,
    w: &ModbusWrite,
    limit: Duration,
) -> (Result<Option<Value>, WriteError>, Option<Lost>) {
    let a = w.address;
    let sent = match &w.op {
        ModbusOp::Coil(on) => flatten(timeout(limit, ctx.call(Request::WriteSingleCoil(a, *on))).await, limit),
        ModbusOp::MaskWrite { and, or, .. } => {
            flatten(timeout(limit, ctx.call(Request::MaskWriteRegister(a, *and, *or))).await, limit)
        }
        ModbusOp::ReadModifyWrite { and, or, .. } => {
            // Read-modify-write: another writer between the two requests would be overwritten.
            let word = match read_for_change(ctx, a, limit).await {
                Ok(word) => word,
                Err((e, lost)) => return (Err(e), lost),
            };
            let new = (word & and) | (or & !and);
            flatten(timeout(limit, ctx.call(Request::WriteSingleRegister(a, new))).await, limit)
        }
        ModbusOp::Register(word) => {
            flatten(timeout(limit, ctx.call(Request::WriteSingleRegister(a, *word))).await, limit)
        }
        ModbusOp::Registers(words) => {
            let request = Request::WriteMultipleRegisters(a, std::borrow::Cow::Borrowed(words.as_slice()));
            flatten(timeout(limit, ctx.call(request)).await, limit)
        }
    };
    if let Some((e, lost)) = sent.failure() {
        return (Err(e), lost);
    }
    let p = &w.point;
    match read(ctx, p.table, a, p.count(), limit).await {
        Ok(words) if p.table.is_bits() => {
            (Ok(codec::decode_bit(&words.iter().map(|&w| w != 0).collect::<Vec<_>>()).ok()), None)
        }
        Ok(words) => (Ok(codec::decode_point(p, &words).ok()), None),
        Err(ReadError::Flooded(why)) => (Ok(None), Lost::flooded(&why)),
        Err(ReadError::Transport(e)) => (Ok(None), Lost::broke(e)),
        Err(_) => (Ok(None), None),
    }
}

/// The register a read-modify-write changes, read first; nothing is written when that fails.
async fn read_for_change(ctx: &mut Context, a: u16, limit: Duration) -> Result<u16, (WriteError, Option<Lost>)> {
    let before = |why: String| WriteError::NotSent(NotSent::Before(why));
    match read(ctx, Table::Holding, a, 1, limit).await {
        Ok(w) if w.len() == 1 => Ok(w[0]),
        Ok(_) => Err((before("short answer to the read".into()), None)),
        Err(ReadError::Exception(c)) => Err((before(format!("the read refused: exception {c:02}")), None)),
        Err(ReadError::Timeout | ReadError::Elapsed) => Err((before("no answer to the read".into()), None)),
        Err(ReadError::Frame(why)) => Err((before(format!("the read failed: {why}")), None)),
        Err(ReadError::Flooded(why)) => Err((before(why.to_string()), Lost::flooded(&why))),
        Err(ReadError::Transport(e)) => Err((before(e.clone()), Lost::broke(e))),
    }
}

impl Lost {
    fn broke(reason: String) -> Option<Lost> {
        Some(Lost { reason, flooded: false })
    }

    fn flooded(why: &NeverQuiet) -> Option<Lost> {
        Some(Lost { reason: why.to_string(), flooded: true })
    }
}

impl Sent {
    /// What the operator is told of a write the device did not confirm, and whether the link
    /// was lost; `None` when it confirmed.
    fn failure(self) -> Option<(WriteError, Option<Lost>)> {
        Some(match self {
            Sent::Ok => return None,
            Sent::Refused(code) => (Refusal::Exception(exception_code(code)).into(), None),
            Sent::NoAnswer(what) => (Unknown::NoAnswer(what).into(), None),
            Sent::BadAnswer(why) => (Unknown::Damaged(why).into(), None),
            Sent::Flooded(why) if !why.sent => (NotSent::Before(why.to_string()).into(), Lost::flooded(&why)),
            Sent::Flooded(why) => (Unknown::Dropped(why.to_string()).into(), Lost::flooded(&why)),
            Sent::Broken(e) => (WriteError::ConnectionLost(e.clone()), Lost::broke(e)),
        })
    }
}

/// What became of a write request.
enum Sent {
    Ok,
    Refused(ExceptionCode),
    /// No answer, in words.
    NoAnswer(String),
    /// A damaged RTU answer: the line is fine, the outcome unknown.
    BadAnswer(String),
    /// The line was never quiet (before or after the request went out).
    Flooded(NeverQuiet),
    Broken(String),
}

fn flatten(
    r: Result<Result<Result<Response, ExceptionCode>, tokio_modbus::Error>, tokio::time::error::Elapsed>,
    limit: Duration,
) -> Sent {
    match r {
        Err(_) => Sent::NoAnswer(format!("no answer within {limit:?}")),
        Ok(Err(e)) => match failure(&e) {
            // The RTU client says which unit and how long.
            ReadError::Timeout | ReadError::Elapsed => Sent::NoAnswer(e.to_string()),
            ReadError::Frame(why) => Sent::BadAnswer(why),
            ReadError::Flooded(why) => Sent::Flooded(why),
            ReadError::Exception(_) | ReadError::Transport(_) => Sent::Broken(transport_reason(&e)),
        },
        Ok(Ok(Err(code))) => Sent::Refused(code),
        Ok(Ok(Ok(_))) => Sent::Ok,
    }
}

/// One read request, bounded by the protocol limits and by `limit` in time.
async fn read(ctx: &mut Context, table: Table, start: u16, count: u16, limit: Duration) -> Result<Vec<u16>, ReadError> {
    let max = if table.is_bits() { MAX_READ_BITS } else { MAX_READ_REGISTERS };
    if count == 0 || count > max || start as u32 + count as u32 > 65536 {
        // The planner never builds such a block; refuse rather than send it.
        return Err(ReadError::Transport(format!("refusing to build a read of {count} at {start}")));
    }
    let request = match table {
        Table::Holding => Request::ReadHoldingRegisters(start, count),
        Table::Input => Request::ReadInputRegisters(start, count),
        Table::Coil => Request::ReadCoils(start, count),
        Table::Discrete => Request::ReadDiscreteInputs(start, count),
    };
    // `Client::call`, not the `Reader` helpers: those only debug-assert the response length, and
    // a device that sends fewer registers than asked must not bring the task down.
    match timeout(limit, ctx.call(request)).await {
        Err(_) => Err(ReadError::Elapsed),
        Ok(Err(e)) => Err(failure(&e)),
        Ok(Ok(Err(code))) => Err(ReadError::Exception(exception_code(code))),
        Ok(Ok(Ok(response))) => words_of(table, count, response),
    }
}

/// The words of a read's answer, checked against the request: at most `count` registers, or
/// at most `count` bits padded to whole bytes (TCP answers come unpacked whole bytes), cut to
/// `count`. Over TCP the client library checks the function code but not the quantity: a device
/// that sends more than asked gets a damaged-answer error (its tags Bad, the link kept), never
/// extra words in the block; one that sends fewer has its words used and the tags it left out
/// read Bad (the decoder's short answer), as before.
fn words_of(table: Table, count: u16, response: Response) -> Result<Vec<u16>, ReadError> {
    let asked = usize::from(count);
    let padded = asked.div_ceil(8) * 8;
    match (table, response) {
        (Table::Holding, Response::ReadHoldingRegisters(w)) | (Table::Input, Response::ReadInputRegisters(w)) => {
            if w.len() <= asked {
                Ok(w)
            } else {
                Err(ReadError::Frame(format!("the answer holds {} registers, {asked} were asked", w.len())))
            }
        }
        (Table::Coil, Response::ReadCoils(b)) | (Table::Discrete, Response::ReadDiscreteInputs(b)) => {
            if b.len() <= padded {
                Ok(bits_to_words(b.into_iter().take(asked).collect()))
            } else {
                Err(ReadError::Frame(format!(
                    "the answer holds {} bytes of bits, {} were asked ({asked} bits)",
                    b.len().div_ceil(8),
                    asked.div_ceil(8)
                )))
            }
        }
        (_, other) => Err(ReadError::Transport(format!("protocol error: unexpected response {other:?}"))),
    }
}

fn bits_to_words(bits: Vec<bool>) -> Vec<u16> {
    bits.into_iter().map(u16::from).collect()
}

fn exception_code(code: ExceptionCode) -> u8 {
    u8::from(code)
}

/// What a client error means for the link: a damaged answer and a missing one (reported by the
/// RTU client) leave it usable; anything else broke it.
fn failure(e: &tokio_modbus::Error) -> ReadError {
    if let Some(why) = rtu_link::never_quiet(e) {
        return ReadError::Flooded(why.clone());
    }
    if let Some(bad) = rtu_link::frame_error(e) {
        return ReadError::Frame(bad.to_string());
    }
    if rtu_link::is_no_answer(e) {
        return ReadError::Timeout;
    }
    ReadError::Transport(transport_reason(e))
}

fn transport_reason(e: &tokio_modbus::Error) -> String {
    match e {
        tokio_modbus::Error::Transport(io) => match io.kind() {
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => {
                "the device closed the connection".to_string()
            }
            _ => format!("connection error: {io}"),
        },
        tokio_modbus::Error::Protocol(p) => format!("protocol error: {p}"),
    }
}

#[cfg(test)]
mod fuzz;
