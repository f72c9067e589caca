//! The supervisor with a scripted fake driver, on tokio's paused clock: time moves only when every
//! task waits, straight to the next timer, so backoff delays are exact and nothing sleeps.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::*;
use crate::driver::{WriteDone, WriteError, WritePlan};

/// A write of `value` to the first tag (an i32 holding register).
fn plan_of(value: i64) -> WritePlan {
    let src = "connections:\n  c: { modbus_tcp: { host: h } }\ntags:\n  T: { source: c, holding: 0, type: i32 }\n";
    let layout = crate::layout::parse(src, "fake.yaml").unwrap_or_else(|e| panic!("{e}"));
    crate::driver::plan::plan(&layout, TAGS[0], &Value::Int(value), None).unwrap_or_else(|e| panic!("{e}"))
}
use crate::tag::{Quality, Value};

const BASE: Duration = Duration::from_millis(100);
const TAGS: [TagId; 2] = [TagId(0), TagId(1)];

/// What the next connection attempt does.
enum Attempt {
    Refused(&'static str),
    /// Never completes.
    Hang,
    /// Connects, then the session does this.
    Up(Then),
}

#[derive(Clone, Copy)]
enum Then {
    /// Ends after this long, lost with this reason and retry.
    Lose(Duration, &'static str, Retry),
    /// A bug.
    Panic,
    /// Runs until shutdown.
    Stay,
}

/// A driver that follows a script (shared by its clones, so a restarted one goes on with it)
/// and answers every write it is handed by "writing" it.
#[derive(Clone)]
struct Fake {
    conn: ConnId,
    script: Arc<Mutex<VecDeque<Attempt>>>,
    /// When each connection attempt began (paused clock).
    attempts: Arc<Mutex<Vec<Instant>>>,
    /// The values written to the fake device.
    written: Arc<Mutex<Vec<Value>>>,
}

impl Fake {
    fn new(conn: u16, script: Vec<Attempt>) -> Fake {
        Fake {
            conn: ConnId(conn),
            script: Arc::new(Mutex::new(script.into())),
            attempts: Arc::default(),
            written: Arc::default(),
        }
    }

    fn attempts(&self) -> Vec<Instant> {
        self.attempts.lock().unwrap().clone()
    }

    fn written(&self) -> Vec<Value> {
        self.written.lock().unwrap().clone()
    }
}

impl Driver for Fake {
    type Link = Then;
    const BACKOFF_BASE: Duration = BASE;

    fn conn(&self) -> ConnId {
        self.conn
    }

    fn name(&self) -> &str {
        "fake"
    }

    fn tags(&self) -> Vec<TagId> {
        TAGS.to_vec()
    }

    async fn connect(&mut self) -> Result<Then, String> {
        self.attempts.lock().unwrap().push(Instant::now());
        let next = self.script.lock().unwrap().pop_front();
        match next.unwrap_or(Attempt::Up(Then::Stay)) {
            Attempt::Refused(why) => Err(why.to_string()),
            Attempt::Hang => std::future::pending().await,
            Attempt::Up(then) => Ok(then),
        }
    }

    async fn session<M: Event>(&mut self, then: Then, out: &mut Out<M>) -> Ended {
        out.state(ConnectionState::Connected).await;
        out.up();
        let good = TAGS.iter().map(|&t| (t, Sample::good(Value::Int(7), SystemTime::now()))).collect();
        out.samples(good).await;
        let end = match then {
            Then::Panic => panic!("a bug in the fake driver"),
            Then::Lose(after, reason, retry) => Some((Instant::now() + after, reason, retry)),
            Then::Stay => None,
        };
        loop {
            tokio::select! {
                _ = until(end.map(|e| e.0)) => {
                    let (_, reason, retry) = end.unwrap();
                    return Ended::Lost { reason: reason.to_string(), retry };
                }
                cmd = out.next_write() => {
                    self.written.lock().unwrap().push(cmd.plan.expected().clone());
                    let done = WriteDone::of(&cmd.plan, Some(cmd.plan.expected().clone()));
                    let _ = cmd.reply.send(Ok(done));
                }
            }
        }
    }
}

async fn until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// A running supervisor and what it said.
struct Run {
    rx: mpsc::Receiver<DriverEvent>,
    seen: Vec<DriverEvent>,
    stop: watch::Sender<bool>,
    writes: mpsc::Sender<WriteCommand>,
    task: tokio::task::JoinHandle<()>,
}

impl Run {
    fn start(fake: &Fake) -> Run {
        Self::start_seeded(fake, SystemTime::now())
    }

    fn start_seeded(fake: &Fake, seed_time: SystemTime) -> Run {
        let (tx, rx) = mpsc::channel(1024);
        let (stop, stop_rx) = watch::channel(false);
        let (writes, inbox) = mpsc::channel(1);
        let inbox = Some(Arc::new(tokio::sync::Mutex::new(inbox)));
        let task = tokio::spawn(run_seeded(fake.clone(), tx, stop_rx, inbox, seed_time));
        Run { rx, seen: Vec::new(), stop, writes, task }
    }

    /// Takes events until one matches `pred` (which the test fails without, an hour of paused
    /// time later); returns it.
    async fn until(&mut self, what: &str, pred: impl Fn(&DriverEvent) -> bool) -> DriverEvent {
        let deadline = Instant::now() + Duration::from_secs(3600);
        loop {
            let e = match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(e)) => e,
                Ok(None) => panic!("the supervisor ended before: {what}\n{:#?}", self.seen),
                Err(_) => panic!("never: {what}\n{:#?}", self.seen),
            };
            self.seen.push(e.clone());
            if pred(&e) {
                return e;
            }
        }
    }

    async fn state(&mut self, want: &ConnectionState) {
        self.until(&format!("{want:?}"), |e| matches!(e, DriverEvent::State { state, .. } if state == want)).await;
    }

    /// Connected, and the values of the fake device delivered.
    async fn up(&mut self) {
        self.state(&ConnectionState::Connected).await;
        self.until("samples", |e| matches!(e, DriverEvent::Samples { .. })).await;
        assert!(self.qualities().iter().all(Quality::is_good), "{:?}", self.qualities());
    }

    /// The next Disconnected state: its reason and retry delay.
    async fn down(&mut self) -> (String, Duration) {
        let e = self.until("Disconnected", |e| {
            matches!(e, DriverEvent::State { state: ConnectionState::Disconnected { .. }, .. })
        });
        match e.await {
            DriverEvent::State { state: ConnectionState::Disconnected { reason, retry_in }, .. } => (reason, retry_in),
            _ => unreachable!(),
        }
    }

    /// The quality every tag was last given.
    fn qualities(&self) -> Vec<Quality> {
        TAGS.iter()
            .map(|&t| {
                self.seen
                    .iter()
                    .rev()
                    .find_map(|e| match e {
                        DriverEvent::Samples { samples, .. } => {
                            samples.iter().rev().find(|(id, _)| *id == t).map(|(_, s)| s.quality.clone())
                        }
                        _ => None,
                    })
                    .unwrap_or_else(|| panic!("no sample of {t:?}"))
            })
            .collect()
    }

    /// Sends a write sent at `sent_at`; its answer.
    async fn write_sent_at(
        &self,
        value: i64,
        sent_at: std::time::Instant,
    ) -> oneshot::Receiver<Result<WriteDone, WriteError>> {
        let (reply, answer) = oneshot::channel();
        let cmd = WriteCommand { plan: plan_of(value), sent_at, by: Default::default(), reply };
        self.writes.send(cmd).await.expect("the supervisor holds the inbox");
        answer
    }

    /// Writes `value` now; the answer, which must come without time passing.
    async fn write(&self, value: i64) -> Result<WriteDone, String> {
        // The refusals are compared as the operator reads them.
        let answer = self.write_sent_at(value, std::time::Instant::now()).await;
        let t0 = Instant::now();
        let reply = tokio::time::timeout(Duration::from_secs(3600), answer).await.expect("answered").expect("a reply");
        assert_eq!(Instant::now(), t0, "answered at once, not after some wait");
        reply.map_err(|e| e.to_string())
    }

    async fn stop(mut self) -> Vec<DriverEvent> {
        self.stop.send(true).expect("the supervisor listens");
        self.state(&ConnectionState::Stopped).await;
        self.task.await.expect("the supervisor ends cleanly");
        self.seen
    }
}

fn all_bad_with(q: &[Quality], reason: &Reason) -> bool {
    q.iter().all(|q| q == &Quality::Bad(reason.clone()))
}

#[tokio::test(start_paused = true)]
async fn a_refused_connection_marks_the_tags_bad_says_why_and_backs_off() {
    let fake = Fake::new(0, vec![Attempt::Refused("connection refused"), Attempt::Refused("connection refused")]);
    let mut r = Run::start(&fake);
    r.state(&ConnectionState::Connecting).await;
    let (reason, first) = r.down().await;
    assert_eq!(reason, "connection refused");
    assert!(all_bad_with(&r.qualities(), &Reason::Disconnected("connection refused".into())), "{:?}", r.qualities());
    let (_, second) = r.down().await;
    r.state(&ConnectionState::Connected).await;
    // Exponential with jitter in [½, 1): [50, 100) ms, then [100, 200) ms.
    assert!(first >= BASE / 2 && first < BASE, "{first:?}");
    assert!(second >= BASE && second < BASE * 2, "{second:?}");
    // The attempts waited for those delays (the clock is paused: it moves to the timers, which
    // tick in whole milliseconds).
    let a = fake.attempts();
    assert_eq!(a.len(), 3);
    for (waited, delay) in [(a[1] - a[0], first), (a[2] - a[1], second)] {
        assert!(waited >= delay && waited < delay + Duration::from_millis(2), "{waited:?} for {delay:?}");
    }
    let events = r.stop().await;
    assert!(events.iter().any(|e| matches!(e, DriverEvent::Stats { .. })), "statistics with every failure");
}

#[tokio::test(start_paused = true)]
async fn a_lost_session_marks_every_tag_bad_with_the_reason_and_reconnects() {
    let lose = Then::Lose(Duration::from_secs(5), "the device closed the connection", Retry::AtOnce);
    let fake = Fake::new(0, vec![Attempt::Up(lose), Attempt::Up(Then::Stay)]);
    let mut r = Run::start(&fake);
    r.up().await;
    let (reason, retry_in) = r.down().await;
    assert_eq!(reason, "the device closed the connection");
    assert_eq!(retry_in, Duration::ZERO, "a session that worked is retried at once");
    let why = Reason::Disconnected("the device closed the connection".into());
    assert!(all_bad_with(&r.qualities(), &why), "{:?}", r.qualities());
    let stats = r.until("Stats", |e| matches!(e, DriverEvent::Stats { .. })).await;
    assert!(matches!(stats, DriverEvent::Stats { stats, .. } if stats.reconnects == 1));
    r.state(&ConnectionState::Connected).await;
    assert_eq!(fake.attempts().len(), 2);
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_session_that_never_worked_backs_off_and_a_working_one_resets_the_backoff() {
    let never = Then::Lose(Duration::from_millis(10), "no answer", Retry::Backoff);
    let worked = Then::Lose(Duration::from_secs(1), "lost", Retry::AtOnce);
    let fake = Fake::new(0, vec![Attempt::Up(never), Attempt::Up(never), Attempt::Up(worked), Attempt::Up(never)]);
    let mut r = Run::start(&fake);
    let delays = [r.down().await.1, r.down().await.1, r.down().await.1, r.down().await.1];
    assert!(delays[0] >= BASE / 2 && delays[0] < BASE, "{delays:?}");
    assert!(delays[1] >= BASE && delays[1] < BASE * 2, "{delays:?}");
    assert_eq!(delays[2], Duration::ZERO, "{delays:?}");
    assert!(delays[3] >= BASE / 2 && delays[3] < BASE, "the backoff started over: {delays:?}");
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_write_while_connecting_is_refused_at_once() {
    let fake = Fake::new(0, vec![Attempt::Hang]);
    let mut r = Run::start(&fake);
    r.state(&ConnectionState::Connecting).await;
    let e = r.write(1).await.expect_err("refused");
    assert_eq!(e, "not written: connection `fake` is down");
    assert!(fake.written().is_empty());
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn writes_are_refused_while_down_and_never_sent_after_the_reconnect() {
    let fake = Fake::new(0, vec![Attempt::Refused("connection refused")]);
    let mut r = Run::start(&fake);
    r.down().await;
    // Backing off: refused at once.
    let e = r.write(1).await.expect_err("refused while backing off");
    assert_eq!(e, "not written: connection `fake` is down");
    let before_up = std::time::Instant::now();
    r.state(&ConnectionState::Connected).await;
    // Sent before the connection came up, arriving after: refused, not carried out.
    let answer = r.write_sent_at(2, before_up).await;
    let e = answer.await.expect("a reply").expect_err("refused").to_string();
    assert_eq!(e, "not written: the connection was re-established since the request; try again");
    // Up: carried out.
    let done = r.write(3).await.expect("written while up");
    assert!(done.confirmed());
    assert_eq!(fake.written(), vec![Value::Int(3)], "only the write sent while up reached the device");
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_driver_that_panics_is_restarted_and_its_tags_go_bad_meanwhile() {
    let fake = Fake::new(0, vec![Attempt::Up(Then::Panic), Attempt::Up(Then::Stay)]);
    let mut r = Run::start(&fake);
    r.up().await;
    let (reason, retry_in) = r.down().await;
    assert_eq!(reason, "driver failed (see the log); restarting");
    assert_eq!(retry_in, RESTART_DELAY);
    assert!(all_bad_with(&r.qualities(), &Reason::Other("driver failed; restarting".into())), "{:?}", r.qualities());
    let e = r.write(1).await.expect_err("refused while restarting");
    assert_eq!(e, "not written: connection `fake` is down");
    r.state(&ConnectionState::Connecting).await;
    r.up().await;
    assert_eq!(fake.attempts().len(), 2);
    assert!(r.write(2).await.is_ok(), "the restarted driver takes writes");
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_marks_the_tags_not_connected_and_says_stopped() {
    let down = |e: &DriverEvent| matches!(e, DriverEvent::State { state: ConnectionState::Disconnected { .. }, .. });
    let up = |e: &DriverEvent| matches!(e, DriverEvent::State { state: ConnectionState::Connected, .. });
    let connecting = |e: &DriverEvent| matches!(e, DriverEvent::State { state: ConnectionState::Connecting, .. });
    type Phase<'a> = &'a dyn Fn(&DriverEvent) -> bool;
    // While up, while backing off, while restarting after a panic, and while connecting.
    let cases: [(Attempt, Phase); 4] = [
        (Attempt::Up(Then::Stay), &up),
        (Attempt::Refused("connection refused"), &down),
        (Attempt::Up(Then::Panic), &down),
        (Attempt::Hang, &connecting),
    ];
    for (i, (attempt, phase)) in cases.into_iter().enumerate() {
        let fake = Fake::new(0, vec![attempt]);
        let mut r = Run::start(&fake);
        r.until("the phase", phase).await;
        let events = r.stop().await;
        let n = events.len();
        assert!(matches!(events[n - 2], DriverEvent::Stats { .. }), "case {i}: {events:#?}");
        let qualities = match &events[n - 3] {
            DriverEvent::Samples { samples, .. } => samples.iter().map(|(_, s)| s.quality.clone()).collect::<Vec<_>>(),
            e => panic!("case {i}: {e:?}"),
        };
        assert_eq!(qualities, vec![Quality::Bad(Reason::NotConnected); 2], "case {i}");
    }
}

/// Issue 13: only the Modbus driver seeded its jitter with the connection; OPC UA connections
/// that failed together retried together. Now every connection's jitter is seeded with it.
#[tokio::test(start_paused = true)]
async fn jitter_differs_between_two_connections_with_the_same_timing() {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_443_400);
    let refused = || (0..6).map(|_| Attempt::Refused("connection refused")).collect::<Vec<_>>();
    let mut delays = Vec::new();
    for conn in [0, 1, 0] {
        let mut r = Run::start_seeded(&Fake::new(conn, refused()), t);
        let mut d = Vec::new();
        for _ in 0..6 {
            d.push(r.down().await.1);
        }
        r.stop().await;
        delays.push(d);
    }
    assert_ne!(delays[0], delays[1], "two connections started at the same time jitter differently");
    assert_eq!(delays[0], delays[2], "the same connection at the same time: the same delays (it is the seed)");
    assert_ne!(seed(ConnId(0), t), seed(ConnId(1), t));
    assert_ne!(seed(ConnId(1), t), seed(ConnId(2), t));
}
