//! The RTU master: one request at a time on a byte stream (a serial port, or TCP to a serial
//! gateway), framed by [`super::rtu`], behind tokio-modbus's [`Client`] trait so the poller
//! drives every link the same way.
//!
//! Before each request the bus is given its silence (the turnaround, at least 3.5 character
//! times) and stale bytes are dropped. The answer is read until it is complete, the line goes
//! quiet, or the time is up. A bad answer is reported by name ([`FrameError`], wrapped in an
//! `io::Error` of kind `InvalidData`) and the line is drained until it is quiet, so the next
//! exchange starts clean; no answer at all is an `io::Error` of kind `TimedOut`. Either way the
//! link stays usable: only the transport failing (the port gone, the socket closed) ends it.

use std::fmt;
use std::io;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tokio_modbus::client::Client;
use tokio_modbus::prelude::SlaveContext;
use tokio_modbus::{Request, Response, Slave};

use super::rtu::{self, FrameError, MAX_FRAME, Scan};

/// The line's timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Silence before each request, measured from the end of the last byte on the line.
    pub before_request: Duration,
    /// Time on the wire of one character (0 over TCP).
    pub char_time: Duration,
    /// A pause this long after some bytes of an answer means the sender has stopped.
    pub quiet: Duration,
    /// Time allowed for an answer to begin after the request has left.
    pub timeout: Duration,
}

impl Timing {
    /// A serial line: `baud`, `bits_per_char` on the wire, the layout's turnaround.
    pub fn serial(baud: u32, bits_per_char: u32, turnaround: Duration, timeout: Duration) -> Timing {
        let silence = rtu::frame_silence(baud);
        Timing {
            before_request: turnaround.max(silence),
            char_time: rtu::char_time(baud, bits_per_char),
            // USB adapters deliver bytes in bursts (latency timers of 1..16 ms): far longer
            // than 1.5 character times, so the gap that ends a frame is generous.
            quiet: (silence * 10).max(Duration::from_millis(50)),
            timeout,
        }
    }

    /// RTU frames over TCP: no line timing; TCP segments may split a frame.
    pub fn tcp(timeout: Duration) -> Timing {
        Timing { before_request: Duration::ZERO, char_time: Duration::ZERO, quiet: Duration::from_millis(200), timeout }
    }

    /// The longest a call can take: silence, sending the longest frame, the timeout, the quiet
    /// gap after a partial answer and the drain after a bad one.
    pub fn call_limit(&self) -> Duration {
        self.before_request + self.char_time * (2 * MAX_FRAME as u32) + self.timeout + self.quiet * 3 + DRAIN_MAX
    }
}

/// A line that keeps chattering is left after this long; the next request purges it again.
const DRAIN_MAX: Duration = Duration::from_millis(500);

/// The answer was bad: `Some(what)` for an error from [`RtuClient::call`] that names a bad frame.
pub fn frame_error(e: &tokio_modbus::Error) -> Option<&FrameError> {
    match e {
        tokio_modbus::Error::Transport(io) => io.get_ref().and_then(|inner| inner.downcast_ref::<FrameError>()),
        tokio_modbus::Error::Protocol(_) => None,
    }
}

pub struct RtuClient<S> {
    stream: S,
    unit: u8,
    timing: Timing,
    /// When the last byte on the line was sent or received.
    last_activity: Instant,
    buf: Vec<u8>,
}

impl<S> fmt::Debug for RtuClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtuClient").field("unit", &self.unit).field("timing", &self.timing).finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> RtuClient<S> {
    pub fn new(stream: S, unit: u8, timing: Timing) -> Self {
        RtuClient { stream, unit, timing, last_activity: Instant::now(), buf: Vec::with_capacity(2 * MAX_FRAME) }
    }

    /// Drops whatever is waiting on the line (a late answer, noise) without waiting for more.
    async fn purge(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; MAX_FRAME];
        for _ in 0..64 {
            match timeout(Duration::ZERO, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the line closed")),
                Ok(Ok(n)) => tracing::debug!(bytes = n, "rtu: dropped stale bytes before a request"),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(()),
            }
        }
        Ok(())
    }

    /// After a bad answer: reads until the line has been quiet for the quiet gap (at most
    /// [`DRAIN_MAX`]), so the rest of a garbled frame is not taken for the next answer.
    async fn drain(&mut self) -> io::Result<()> {
        let give_up = Instant::now() + DRAIN_MAX;
        let mut chunk = [0u8; MAX_FRAME];
        loop {
            let until = (Instant::now() + self.timing.quiet).min(give_up);
            match timeout_at(until, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the line closed")),
                Ok(Ok(_)) => self.last_activity = Instant::now(),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(()),
            }
        }
    }

    async fn exchange(&mut self, request: &Request<'_>) -> tokio_modbus::Result<Response> {
        let unit = self.unit;
        let Some(frame) = rtu::encode(unit, request) else {
            let what = format!("function {:02X} is not sent over RTU by the console", rtu::function(request));
            return Err(io::Error::new(io::ErrorKind::InvalidInput, what).into());
        };
        sleep_until(self.last_activity + self.timing.before_request).await;
        self.purge().await?;
        self.stream.write_all(&frame).await?;
        self.stream.flush().await?;
        // `write_all` returns once the bytes are queued; the line carries them for this long.
        let sent = Instant::now() + self.timing.char_time * frame.len() as u32;
        self.last_activity = sent;
        let deadline = sent + self.timing.timeout;
        self.buf.clear();
        let mut chunk = [0u8; MAX_FRAME];
        let verdict = loop {
            let until =
                if self.buf.is_empty() { deadline } else { (self.last_activity + self.timing.quiet).min(deadline) };
            match timeout_at(until, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the line closed").into()),
                Ok(Ok(n)) => {
                    self.last_activity = Instant::now();
                    self.buf.extend_from_slice(&chunk[..n]);
                    let quiet = self.buf.len() >= 2 * MAX_FRAME;
                    if let Scan::Done(v, _) = rtu::scan(unit, request, &self.buf, quiet) {
                        break v;
                    }
                }
                Ok(Err(e)) => return Err(e.into()),
                Err(_) if self.buf.is_empty() => {
                    let what = format!("no answer from unit {unit} within {:?}", self.timing.timeout);
                    return Err(io::Error::new(io::ErrorKind::TimedOut, what).into());
                }
                Err(_) => match rtu::scan(unit, request, &self.buf, true) {
                    Scan::Done(v, _) => break v,
                    Scan::More => break Err(FrameError::Noise { received: self.buf.len() }),
                },
            }
        };
        match verdict {
            Ok(answer) => Ok(answer),
            Err(bad) => {
                tracing::debug!(unit, %bad, bytes = ?self.buf, "rtu: bad answer");
                self.drain().await?;
                Err(io::Error::new(io::ErrorKind::InvalidData, bad).into())
            }
        }
    }
}

impl<S> SlaveContext for RtuClient<S> {
    fn set_slave(&mut self, slave: Slave) {
        self.unit = slave.0;
    }
}

#[async_trait]
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Client for RtuClient<S> {
    async fn call(&mut self, request: Request<'_>) -> tokio_modbus::Result<Response> {
        self.exchange(&request).await
    }

    async fn disconnect(&mut self) -> io::Result<()> {
        self.stream.shutdown().await
    }
}
