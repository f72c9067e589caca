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
//!
//! Whatever the other end sends, a call reads at most [`CALL_BUDGET`] bytes: stale bytes before
//! the request, the wait for the answer and the drain after a bad one each have a budget of
//! bytes (and the drain one of time). A line that is still sending when a budget runs out is
//! [`NeverQuiet`]: the caller drops the link and backs off, rather than reading a flood for ever.

use std::fmt;
use std::io;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, sleep, sleep_until, timeout_at};
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

    /// The longest a call can take: silence (and a quiet gap after an unanswered request),
    /// sending the longest frame and receiving it, the timeout, the quiet gap after a partial
    /// answer and the drain after a bad one.
    pub fn call_limit(&self) -> Duration {
        self.before_request + self.char_time * (2 * MAX_FRAME as u32) + self.timeout + self.quiet * 4 + self.drain_max()
    }

    /// How long the drain after a bad answer waits for a quiet gap: [`DRAIN_MAX`], or two gaps
    /// on a line so slow that one gap is longer.
    fn drain_max(&self) -> Duration {
        DRAIN_MAX.max(self.quiet * 2)
    }
}

/// A line that is not quiet for a quiet gap within this long after a bad answer is never quiet.
const DRAIN_MAX: Duration = Duration::from_millis(500);

/// Bytes a call drops before its request (a late answer, noise). A line with more waiting is
/// never quiet: a late answer is one frame, and the next request purges whatever came since.
pub const PURGE_BUDGET: usize = 8 * MAX_FRAME;
/// Bytes a call reads while it waits for its answer: noise before it, an adapter's echo of the
/// request, other units' frames and the answer. Once they are in, the answer is judged as if
/// the line had gone quiet.
pub const ANSWER_BUDGET: usize = 4 * MAX_FRAME;
/// Bytes a call drops after a bad answer while it waits for the line to go quiet.
pub const DRAIN_BUDGET: usize = 8 * MAX_FRAME;
/// The most bytes one call reads, whatever the other end sends.
pub const CALL_BUDGET: usize = PURGE_BUDGET + ANSWER_BUDGET + DRAIN_BUDGET;

/// After a read that did not fill a chunk, the next read of the call waits this long: bytes
/// that trickle in one at a time are taken in batches, not one wake-up each. A millisecond is
/// about one character at 9600 baud, and a gateway sends an answer in one or two TCP segments.
const READ_PACE: Duration = Duration::from_millis(1);

/// The answer was bad: `Some(what)` for an error from [`RtuClient::call`] that names a bad frame.
pub fn frame_error(e: &tokio_modbus::Error) -> Option<&FrameError> {
    inner(e).and_then(|inner| inner.downcast_ref::<FrameError>())
}

/// The error from [`RtuClient::call`] says the unit did not answer in time.
pub fn is_no_answer(e: &tokio_modbus::Error) -> bool {
    inner(e).is_some_and(|inner| inner.is::<NoAnswer>())
}

/// The error from [`RtuClient::call`] says the line never went quiet.
pub fn never_quiet(e: &tokio_modbus::Error) -> Option<&NeverQuiet> {
    inner(e).and_then(|inner| inner.downcast_ref::<NeverQuiet>())
}

fn inner(e: &tokio_modbus::Error) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
    match e {
        tokio_modbus::Error::Transport(io) => io.get_ref(),
        tokio_modbus::Error::Protocol(_) => None,
    }
}

/// No answer began within the timeout.
#[derive(Debug)]
pub struct NoAnswer {
    pub unit: u8,
    pub within: Duration,
}

impl fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no answer from unit {} within {:?}", self.unit, self.within)
    }
}

impl std::error::Error for NoAnswer {}

/// The line kept sending: a call ran out of its budget of bytes (or the drain out of time)
/// without a quiet gap. Something on the line sends non-stop; reading on would only burn CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeverQuiet {
    pub unit: u8,
    /// Bytes the call received, none of them an answer.
    pub dropped: usize,
    /// How long the call read them for.
    pub within: Duration,
    /// The quiet gap the line never gave.
    pub quiet: Duration,
    /// The request had been sent: a write may have been carried out.
    pub sent: bool,
}

impl fmt::Display for NeverQuiet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::timefmt::short;
        write!(
            f,
            "noise on the line: never quiet ({} bytes dropped in {} {} the request to unit {}, no gap of {}); something on the line sends non-stop: check the wiring and termination, and that no other master or gateway is sending",
            self.dropped,
            short(self.within),
            if self.sent { "after" } else { "before" },
            self.unit,
            short(self.quiet),
        )
    }
}

impl std::error::Error for NeverQuiet {}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the line closed")
}

pub struct RtuClient<S> {
    stream: S,
    unit: u8,
    timing: Timing,
    /// When the last byte on the line was sent or received.
    last_activity: Instant,
    /// The last request went unanswered: its answer may still be on the way.
    unanswered: bool,
    buf: Vec<u8>,
    /// Bytes read in the current call, and when it began reading.
    received: usize,
    call_start: Instant,
    /// The next read waits until then (see [`READ_PACE`]).
    paced_until: Instant,
}

impl<S> fmt::Debug for RtuClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtuClient").field("unit", &self.unit).field("timing", &self.timing).finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> RtuClient<S> {
    pub fn new(stream: S, unit: u8, timing: Timing) -> Self {
        RtuClient {
            stream,
            unit,
            timing,
            last_activity: Instant::now(),
            unanswered: false,
            buf: Vec::with_capacity(2 * MAX_FRAME),
            received: 0,
            call_start: Instant::now(),
            paced_until: Instant::now(),
        }
    }

    /// Reads at most `max` bytes (at least 1, at most a chunk) until `until`; `None` when the
    /// time ran out first. A deadline already past still takes what is waiting. Paced: after a
    /// short read, the next one waits `pace` (but not past `until`).
    async fn read_until(
        &mut self,
        chunk: &mut [u8; MAX_FRAME],
        max: usize,
        until: Instant,
        pace: Duration,
    ) -> io::Result<Option<usize>> {
        let paced = self.paced_until.min(until);
        if paced > Instant::now() {
            sleep_until(paced).await;
        }
        let want = max.clamp(1, MAX_FRAME);
        match timeout_at(until, self.stream.read(&mut chunk[..want])).await {
            Ok(Ok(0)) => Err(closed()),
            Ok(Ok(n)) => {
                self.received += n;
                self.last_activity = Instant::now();
                if n < want {
                    self.paced_until = self.last_activity + pace;
                }
                Ok(Some(n))
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }

    fn never_quiet(&self, sent: bool) -> io::Error {
        let why = NeverQuiet {
            unit: self.unit,
            dropped: self.received,
            within: self.call_start.elapsed(),
            quiet: self.timing.quiet,
            sent,
        };
        tracing::debug!(%why, "rtu: the line is never quiet");
        io::Error::new(io::ErrorKind::InvalidData, why)
    }

    /// Drops whatever is waiting on the line (a late answer, noise) without waiting for more;
    /// [`NeverQuiet`] once [`PURGE_BUDGET`] bytes are dropped.
    async fn purge(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; MAX_FRAME];
        let mut dropped = 0;
        while dropped < PURGE_BUDGET {
            match self.read_until(&mut chunk, PURGE_BUDGET - dropped, Instant::now(), READ_PACE).await? {
                Some(n) => dropped += n,
                None => {
                    if dropped > 0 {
                        tracing::debug!(bytes = dropped, "rtu: dropped stale bytes before a request");
                    }
                    return Ok(());
                }
            }
        }
        Err(self.never_quiet(false))
    }

    /// After a bad answer: reads until the line has been quiet for the quiet gap, so the rest
    /// of a garbled frame is not taken for the next answer. [`NeverQuiet`] once
    /// [`DRAIN_BUDGET`] bytes are dropped or the drain's time is up.
    async fn drain(&mut self) -> io::Result<()> {
        let give_up = Instant::now() + self.timing.drain_max();
        // Nothing waits for the drain but the next request: it reads coarsely, a tenth of the
        // quiet gap apart.
        let pace = (self.timing.quiet / 10).max(READ_PACE);
        let mut chunk = [0u8; MAX_FRAME];
        let mut dropped = 0;
        while dropped < DRAIN_BUDGET {
            let quiet_at = Instant::now() + self.timing.quiet;
            match self.read_until(&mut chunk, DRAIN_BUDGET - dropped, quiet_at.min(give_up), pace).await? {
                Some(n) => dropped += n,
                None if quiet_at <= give_up => return Ok(()),
                None => break,
            }
        }
        Err(self.never_quiet(true))
    }

    async fn exchange(&mut self, request: &Request<'_>) -> tokio_modbus::Result<Response> {
        let unit = self.unit;
        let Some(frame) = rtu::encode(unit, request) else {
            let what = format!("function {:02X} is not sent over RTU by the console", rtu::function(request));
            return Err(io::Error::new(io::ErrorKind::InvalidInput, what).into());
        };
        sleep_until(self.last_activity + self.timing.before_request).await;
        if std::mem::take(&mut self.unanswered) {
            // A late answer to the last request, taken for the answer to this one, could carry
            // the right unit, function and length: give it a quiet gap to arrive and be dropped.
            sleep(self.timing.quiet).await;
        }
        self.received = 0;
        self.call_start = Instant::now();
        self.purge().await?;
        self.stream.write_all(&frame).await?;
        self.stream.flush().await?;
        // `write_all` returns once the bytes are queued; the line carries them for this long.
        let sent = Instant::now() + self.timing.char_time * frame.len() as u32;
        self.last_activity = sent;
        match self.receive(request, &frame, sent).await? {
            Ok(answer) => Ok(answer),
            Err(bad) => {
                tracing::debug!(unit, %bad, bytes = ?self.buf, "rtu: bad answer");
                self.drain().await?;
                Err(io::Error::new(io::ErrorKind::InvalidData, bad).into())
            }
        }
    }

    /// Reads the answer to `request` (sent as `frame`, off the wire at `sent`): the answer, a
    /// named reason to reject what came, or an I/O error (no answer at all, the line closed).
    async fn receive(
        &mut self,
        request: &Request<'_>,
        frame: &[u8],
        sent: Instant,
    ) -> io::Result<Result<Result<Response, tokio_modbus::ExceptionCode>, FrameError>> {
        let unit = self.unit;
        // The answer must begin within the timeout; once it has begun, it has the time its
        // length needs on the wire.
        let mut deadline = sent + self.timing.timeout;
        let fc = rtu::function(request);
        // RS-485 adapters without echo suppression hand back what was sent. A write of one
        // coil or register (and a mask write) is answered with its own bytes, so there the echo
        // and the answer cannot be told apart; every write is read back.
        let echo_like = matches!(fc, 0x05 | 0x06 | 0x16);
        self.buf.clear();
        let mut chunk = [0u8; MAX_FRAME];
        let mut read = 0;
        loop {
            // The quiet gap ends an answer once one has begun; a stray byte (a transceiver
            // turning round, an adapter's echo) does not cut the wait for the answer short.
            let echo_so_far = !echo_like && frame.starts_with(&self.buf);
            let begun = if echo_so_far { None } else { rtu::answer_start(unit, fc, &self.buf) };
            let until = match begun {
                Some(_) => (self.last_activity + self.timing.quiet).min(deadline),
                None => deadline,
            };
            match self.read_until(&mut chunk, ANSWER_BUDGET - read, until, READ_PACE).await? {
                Some(n) => {
                    read += n;
                    self.buf.extend_from_slice(&chunk[..n]);
                    if !echo_like && self.buf.starts_with(frame) {
                        tracing::debug!(unit, "rtu: the line echoes requests; echo skipped");
                        self.buf.drain(..frame.len());
                    }
                    if let Some(at) = rtu::answer_start(unit, fc, &self.buf) {
                        let len = rtu::frame_len(&self.buf[at..]).unwrap_or(MAX_FRAME);
                        let missing = len.saturating_sub(self.buf.len() - at) as u32;
                        deadline =
                            deadline.max(self.last_activity + self.timing.char_time * missing + self.timing.quiet);
                    }
                    // Enough bytes for any answer came: judge them as if the line were quiet.
                    let quiet = self.buf.len() >= 2 * MAX_FRAME || read >= ANSWER_BUDGET;
                    if let Scan::Done(v, _) = rtu::scan(unit, request, &self.buf, quiet) {
                        return Ok(v);
                    }
                }
                None if self.buf.is_empty() => {
                    self.unanswered = true;
                    let no = NoAnswer { unit, within: self.timing.timeout };
                    return Err(io::Error::new(io::ErrorKind::TimedOut, no));
                }
                None => {
                    return Ok(match rtu::scan(unit, request, &self.buf, true) {
                        Scan::Done(v, _) => v,
                        Scan::More => Err(FrameError::Noise { received: self.buf.len() }),
                    });
                }
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

#[cfg(test)]
mod tests {
    use tokio::io::{DuplexStream, duplex};
    use tokio::time::{Instant, timeout};
    use tokio_modbus::{ExceptionCode, Slave};

    use super::*;

    const TIMING: Timing = Timing {
        before_request: Duration::ZERO,
        char_time: Duration::ZERO,
        quiet: Duration::from_millis(20),
        timeout: Duration::from_millis(200),
    };

    /// A client for `unit` on one end of an in-memory line; the test plays the device on the other.
    fn line(unit: u8) -> (RtuClient<DuplexStream>, DuplexStream) {
        let (client, device) = duplex(1024);
        (RtuClient::new(client, unit, TIMING), device)
    }

    /// `bytes` followed by their CRC, as a device sends them.
    fn adu(bytes: &[u8]) -> Vec<u8> {
        let mut f = bytes.to_vec();
        rtu::push_crc(&mut f);
        f
    }

    /// The device reads one request of `len` bytes.
    async fn request_of(device: &mut DuplexStream, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        timeout(Duration::from_secs(1), device.read_exact(&mut buf)).await.expect("a request in time").unwrap();
        buf
    }

    /// The device reads one request for `unit` and checks it is `request`, byte for byte.
    async fn expect_request(device: &mut DuplexStream, unit: u8, request: &Request<'_>) {
        let want = rtu::encode(unit, request).unwrap();
        let got = request_of(device, want.len()).await;
        assert_eq!(got, want, "the request on the wire");
    }

    fn io_error(e: &tokio_modbus::Error) -> &io::Error {
        match e {
            tokio_modbus::Error::Transport(io) => io,
            tokio_modbus::Error::Protocol(p) => panic!("a protocol error, not a transport one: {p:?}"),
        }
    }

    const READ2: Request<'static> = Request::ReadHoldingRegisters(0, 2);

    /// The answer to [`READ2`] from unit 1: 0x1234, 0xABCD.
    fn read2_answer() -> Vec<u8> {
        adu(&[1, 0x03, 4, 0x12, 0x34, 0xAB, 0xCD])
    }

    fn read2_response() -> Response {
        Response::ReadHoldingRegisters(vec![0x1234, 0xABCD])
    }

    /// One good exchange of [`READ2`] with unit 1: the line is usable.
    async fn good_exchange(client: &mut RtuClient<DuplexStream>, device: &mut DuplexStream) {
        let (got, ()) = tokio::join!(client.call(READ2), async {
            expect_request(device, 1, &READ2).await;
            device.write_all(&read2_answer()).await.unwrap();
        });
        assert_eq!(got.unwrap(), Ok(read2_response()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_good_read_returns_the_registers() {
        let (mut client, mut device) = line(1);
        let (got, seen) = tokio::join!(client.call(READ2), async {
            let seen = request_of(&mut device, 8).await;
            device.write_all(&read2_answer()).await.unwrap();
            seen
        });
        assert_eq!(seen, rtu::encode(1, &READ2).unwrap());
        assert_eq!(seen, [0x01, 0x03, 0x00, 0x00, 0x00, 0x02, 0xC4, 0x0B]);
        assert_eq!(got.unwrap(), Ok(read2_response()));
        // And again on the same link.
        good_exchange(&mut client, &mut device).await;
    }

    #[tokio::test(start_paused = true)]
    async fn writes_go_out_as_encoded_and_their_echo_is_accepted() {
        let (mut client, mut device) = line(1);
        let req = Request::WriteMultipleCoils(
            0x13,
            vec![true, false, true, true, false, false, true, true, true, false].into(),
        );
        let (got, ()) = tokio::join!(client.call(req.clone()), async {
            let seen = request_of(&mut device, 11).await;
            assert_eq!(seen, [0x01, 0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01, 0x72, 0xCB]);
            device.write_all(&adu(&[1, 0x0F, 0x00, 0x13, 0x00, 0x0A])).await.unwrap();
        });
        assert_eq!(got.unwrap(), Ok(Response::WriteMultipleCoils(0x13, 10)));
    }

    #[tokio::test(start_paused = true)]
    async fn set_slave_changes_the_unit_of_the_next_request() {
        let (mut client, mut device) = line(1);
        good_exchange(&mut client, &mut device).await;
        client.set_slave(Slave(7));
        let (got, ()) = tokio::join!(client.call(READ2), async {
            let seen = request_of(&mut device, 8).await;
            assert_eq!(seen, rtu::encode(7, &READ2).unwrap());
            assert_eq!(seen[0], 7);
            device.write_all(&adu(&[7, 0x03, 4, 0, 1, 0, 2])).await.unwrap();
        });
        assert_eq!(got.unwrap(), Ok(Response::ReadHoldingRegisters(vec![1, 2])));
        // Unit 1's answer is now another unit's.
        let (got, ()) = tokio::join!(client.call(READ2), async {
            expect_request(&mut device, 7, &READ2).await;
            device.write_all(&read2_answer()).await.unwrap();
        });
        let e = got.unwrap_err();
        assert_eq!(frame_error(&e), Some(&FrameError::WrongUnit { asked: 7, answered: 1 }));
    }

    #[tokio::test(start_paused = true)]
    async fn no_answer_times_out() {
        let (mut client, mut device) = line(1);
        let started = Instant::now();
        let (got, ()) = tokio::join!(client.call(READ2), expect_request(&mut device, 1, &READ2));
        let elapsed = started.elapsed();
        let e = got.unwrap_err();
        assert_eq!(io_error(&e).kind(), io::ErrorKind::TimedOut, "{e}");
        assert_eq!(frame_error(&e), None);
        assert!(elapsed >= TIMING.timeout, "gave up after {elapsed:?}");
        assert!(elapsed < TIMING.timeout * 3, "took {elapsed:?}");
        // The link stays usable.
        good_exchange(&mut client, &mut device).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_crc_damaged_answer_is_named_and_the_next_call_succeeds() {
        let (mut client, mut device) = line(1);
        let good = read2_answer();
        let mut bad = good.clone();
        bad[4] ^= 0x01;
        let (got, ()) = tokio::join!(client.call(READ2), async {
            expect_request(&mut device, 1, &READ2).await;
            device.write_all(&bad).await.unwrap();
        });
        let e = got.unwrap_err();
        assert_eq!(io_error(&e).kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            frame_error(&e),
            Some(&FrameError::Crc {
                received: u16::from_le_bytes([good[7], good[8]]),
                computed: rtu::crc16(&bad[..7])
            })
        );
        good_exchange(&mut client, &mut device).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_damaged_answer_in_two_pieces_with_trailing_garbage_leaves_the_line_clean() {
        let (mut client, mut device) = line(1);
        let mut bad = read2_answer();
        bad[5] ^= 0x40;
        let (got, ()) = tokio::join!(client.call(READ2), async {
            expect_request(&mut device, 1, &READ2).await;
            device.write_all(&bad[..4]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(3)).await;
            device.write_all(&bad[4..]).await.unwrap();
            device.write_all(&[0x00, 0xFF, 0x01, 0x03]).await.unwrap();
            // More garbage after the verdict, within the quiet gap: the drain takes it.
            tokio::time::sleep(Duration::from_millis(5)).await;
            // The rest of a garbled transmission, looking like a frame of this unit (bad CRC):
            // taken for the next answer, it would show as a second CRC error.
            let mut tail = adu(&[1, 0x03, 4, 0xDE, 0xAD, 0xBE, 0xEF]);
            tail[6] ^= 0x01;
            device.write_all(&tail).await.unwrap();
        });
        let e = got.unwrap_err();
        assert!(matches!(frame_error(&e), Some(FrameError::Crc { .. })), "{e}");
        // The drain has read everything the device sent before the call returned.
        let mut rest = [0u8; 64];
        assert!(timeout(Duration::ZERO, client.stream.read(&mut rest)).await.is_err(), "bytes left on the line");
        good_exchange(&mut client, &mut device).await;
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_cut_short_is_truncated_after_the_quiet_gap() {
        let (mut client, mut device) = line(1);
        let started = Instant::now();
        let (got, ()) = tokio::join!(client.call(READ2), async {
            expect_request(&mut device, 1, &READ2).await;
            // 5 of the 9 bytes, then nothing (the line stays open).
            device.write_all(&read2_answer()[..5]).await.unwrap();
        });
        let elapsed = started.elapsed();
        let e = got.unwrap_err();
        assert_eq!(frame_error(&e), Some(&FrameError::Truncated { received: 5, expected: 9 }));
        assert_eq!(io_error(&e).kind(), io::ErrorKind::InvalidData);
        assert!(elapsed >= TIMING.quiet, "gave up after {elapsed:?}");
        assert!(elapsed < TIMING.timeout, "waited the full timeout: {elapsed:?}");
        good_exchange(&mut client, &mut device).await;
    }

    #[tokio::test(start_paused = true)]
    async fn stale_bytes_before_a_request_are_dropped() {
        let (mut client, mut device) = line(1);
        // A late answer with other values and some noise, already on the line.
        device.write_all(&adu(&[1, 0x03, 4, 0xDE, 0xAD, 0xBE, 0xEF])).await.unwrap();
        device.write_all(&[0x00, 0xFF, 0x55]).await.unwrap();
        good_exchange(&mut client, &mut device).await;
    }

    #[tokio::test(start_paused = true)]
    async fn noise_before_the_answer_is_skipped() {
        let (mut client, mut device) = line(1);
        let (got, ()) = tokio::join!(client.call(READ2), async {
            expect_request(&mut device, 1, &READ2).await;
            device.write_all(&[0x00, 0xFF]).await.unwrap();
            device.write_all(&read2_answer()).await.unwrap();
        });
        assert_eq!(got.unwrap(), Ok(read2_response()));
    }

    #[tokio::test(start_paused = true)]
    async fn the_stream_closing_is_a_transport_error() {
        let (mut client, device) = line(1);
        drop(device);
        let started = Instant::now();
        let e = client.call(READ2).await.unwrap_err();
        assert!(matches!(e, tokio_modbus::Error::Transport(_)), "{e:?}");
        assert_eq!(frame_error(&e), None);
        assert_ne!(io_error(&e).kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < TIMING.timeout, "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn the_stream_closing_mid_exchange_is_a_transport_error() {
        let (mut client, mut device) = line(1);
        let started = Instant::now();
        let (got, ()) = tokio::join!(client.call(READ2), async move {
            expect_request(&mut device, 1, &READ2).await;
            device.write_all(&read2_answer()[..3]).await.unwrap();
            drop(device);
        });
        let e = got.unwrap_err();
        assert!(matches!(e, tokio_modbus::Error::Transport(_)), "{e:?}");
        assert_eq!(frame_error(&e), None);
        assert_ne!(io_error(&e).kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < TIMING.timeout, "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn an_exception_answer_is_returned_as_such() {
        let (mut client, mut device) = line(1);
        let (got, ()) = tokio::join!(client.call(READ2), async {
            expect_request(&mut device, 1, &READ2).await;
            device.write_all(&[0x01, 0x83, 0x02, 0xC0, 0xF1]).await.unwrap();
        });
        assert_eq!(got.unwrap(), Err(ExceptionCode::IllegalDataAddress));
        good_exchange(&mut client, &mut device).await;
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_of_another_function_is_named() {
        let (mut client, mut device) = line(1);
        let (got, ()) = tokio::join!(client.call(READ2), async {
            expect_request(&mut device, 1, &READ2).await;
            device.write_all(&adu(&[1, 0x04, 4, 0x12, 0x34, 0xAB, 0xCD])).await.unwrap();
        });
        let e = got.unwrap_err();
        assert_eq!(frame_error(&e), Some(&FrameError::WrongFunction { asked: 3, answered: 4 }));
        good_exchange(&mut client, &mut device).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_the_console_does_not_send_is_refused_without_touching_the_line() {
        let (mut client, mut device) = line(1);
        let e = client.call(Request::ReportServerId).await.unwrap_err();
        assert_eq!(io_error(&e).kind(), io::ErrorKind::InvalidInput);
        assert_eq!(frame_error(&e), None);
        let mut buf = [0u8; 16];
        assert!(timeout(Duration::from_millis(10), device.read(&mut buf)).await.is_err(), "nothing was sent");
    }

    #[test]
    fn frame_error_ignores_other_errors() {
        let plain: tokio_modbus::Error = io::Error::new(io::ErrorKind::InvalidData, "not a frame").into();
        assert_eq!(frame_error(&plain), None);
        let framed: tokio_modbus::Error =
            io::Error::new(io::ErrorKind::InvalidData, FrameError::Noise { received: 3 }).into();
        assert_eq!(frame_error(&framed), Some(&FrameError::Noise { received: 3 }));
    }

    #[test]
    fn never_quiet_says_what_where_and_what_to_do() {
        let why = NeverQuiet {
            unit: 7,
            dropped: 2048,
            within: Duration::from_micros(40),
            quiet: Duration::from_millis(200),
            sent: false,
        };
        assert_eq!(
            why.to_string(),
            "noise on the line: never quiet (2048 bytes dropped in 40µs before the request to unit 7, no gap of 200.0ms); something on the line sends non-stop: check the wiring and termination, and that no other master or gateway is sending"
        );
        let after = NeverQuiet { sent: true, ..why };
        assert!(after.to_string().contains("after the request to unit 7"), "{after}");
        let e: tokio_modbus::Error = io::Error::new(io::ErrorKind::InvalidData, after.clone()).into();
        assert_eq!(never_quiet(&e), Some(&after));
        assert_eq!(frame_error(&e), None);
        assert!(!is_no_answer(&e));
        let plain: tokio_modbus::Error = io::Error::new(io::ErrorKind::InvalidData, "not a flood").into();
        assert_eq!(never_quiet(&plain), None);
    }

    #[test]
    fn serial_timing_follows_the_baud_rate() {
        let t = Timing::serial(9600, 11, Duration::ZERO, Duration::from_secs(1));
        assert_eq!(t.before_request, rtu::frame_silence(9600));
        assert_eq!(t.char_time, rtu::char_time(9600, 11));
        assert_eq!(t.quiet, Duration::from_millis(50), "ten silences (40 ms) are less than the 50 ms floor");
        assert_eq!(t.timeout, Duration::from_secs(1));
        // A turnaround longer than the silence wins.
        let slow = Timing::serial(9600, 11, Duration::from_millis(20), Duration::from_secs(1));
        assert_eq!(slow.before_request, Duration::from_millis(20));
        // At 1200 baud ten silences exceed the floor.
        let t = Timing::serial(1200, 11, Duration::ZERO, Duration::from_secs(1));
        assert_eq!(t.quiet, rtu::frame_silence(1200) * 10);
        let tcp = Timing::tcp(Duration::from_secs(2));
        assert_eq!(tcp.char_time, Duration::ZERO);
        assert_eq!(tcp.before_request, Duration::ZERO);
        assert_eq!(tcp.timeout, Duration::from_secs(2));
    }

    #[test]
    fn call_limit_covers_every_wait_of_a_call() {
        assert_eq!(TIMING.call_limit(), TIMING.timeout + TIMING.quiet * 4 + DRAIN_MAX);
        let t = Timing::serial(9600, 11, Duration::ZERO, Duration::from_secs(1));
        assert!(t.call_limit() > t.before_request + t.char_time * 512 + t.timeout + t.quiet * 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stray_byte_does_not_cut_the_wait_for_a_slow_answer() {
        let (mut client, mut device) = line(1);
        let (got, ()) = tokio::join!(client.call(READ2), async {
            expect_request(&mut device, 1, &READ2).await;
            // A transceiver turning round, then the device takes 3 quiet gaps to answer.
            device.write_all(&[0x00]).await.unwrap();
            tokio::time::sleep(TIMING.quiet * 3).await;
            device.write_all(&read2_answer()).await.unwrap();
        });
        assert_eq!(got.unwrap(), Ok(read2_response()));
    }

    #[tokio::test(start_paused = true)]
    async fn an_echoing_adapter_and_a_slow_answer_still_make_an_answer() {
        let (mut client, mut device) = line(1);
        let request = rtu::encode(1, &READ2).unwrap();
        let (got, ()) = tokio::join!(client.call(READ2), async {
            expect_request(&mut device, 1, &READ2).await;
            device.write_all(&request).await.unwrap();
            tokio::time::sleep(TIMING.quiet * 3).await;
            device.write_all(&read2_answer()).await.unwrap();
        });
        assert_eq!(got.unwrap(), Ok(read2_response()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_answer_at_a_low_baud_rate_may_take_longer_than_the_timeout() {
        // 1 ms a character: a 125-register answer is 255 ms on the wire, beyond the 200 ms
        // timeout, which bounds only the wait for its first byte.
        let timing = Timing { char_time: Duration::from_millis(1), ..TIMING };
        let (client, mut device) = duplex(1024);
        let mut client = RtuClient::new(client, 1, timing);
        let request = Request::ReadHoldingRegisters(0, 125);
        let mut answer = vec![1, 0x03, 250];
        answer.extend((0..250).map(|i| i as u8));
        rtu::push_crc(&mut answer);
        let started = Instant::now();
        let (got, ()) = tokio::join!(client.call(request.clone()), async {
            expect_request(&mut device, 1, &request).await;
            tokio::time::sleep(Duration::from_millis(150)).await;
            for piece in answer.chunks(15) {
                device.write_all(piece).await.unwrap();
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        });
        let Ok(Response::ReadHoldingRegisters(words)) = got.unwrap() else { panic!("registers") };
        assert_eq!(words.len(), 125);
        assert!(started.elapsed() > timing.timeout, "the answer ended after the timeout");
    }

    #[tokio::test(start_paused = true)]
    async fn another_units_answer_is_passed_over_for_the_right_one() {
        let (mut client, mut device) = line(1);
        let (got, ()) = tokio::join!(client.call(READ2), async {
            expect_request(&mut device, 1, &READ2).await;
            device.write_all(&adu(&[9, 0x03, 4, 0xDE, 0xAD, 0xBE, 0xEF])).await.unwrap();
            tokio::time::sleep(TIMING.quiet * 2).await;
            device.write_all(&read2_answer()).await.unwrap();
        });
        assert_eq!(got.unwrap(), Ok(read2_response()));
    }

    /// One end of an in-memory line that counts what the client reads from it.
    struct Counted {
        inner: DuplexStream,
        bytes: usize,
        reads: usize,
    }

    impl AsyncRead for Counted {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            let before = buf.filled().len();
            let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
            let n = buf.filled().len() - before;
            if n > 0 {
                self.bytes += n;
                self.reads += 1;
            }
            r
        }
    }

    impl AsyncWrite for Counted {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
        }

        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::pin::Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// The device sends `piece` every millisecond, `times` times: as far as one call can tell,
    /// a sender that never stops.
    async fn flood(device: &mut DuplexStream, piece: &[u8], times: usize) {
        for _ in 0..times {
            if device.write_all(piece).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// A peer that never lets the line go quiet (noise, one byte at a time, the request echoed
    /// over and over) costs a call a bounded number of bytes and reads, and the call says so
    /// instead of reading on; once the flood stops, the line works again.
    #[tokio::test(start_paused = true)]
    async fn a_line_that_is_never_quiet_is_given_up_within_a_budget() {
        let noise: Vec<u8> = (0..256u32).map(|i| (i * 37 + 11) as u8).collect();
        let echo = rtu::encode(1, &READ2).unwrap().repeat(8);
        for piece in [noise, vec![0x5A], echo] {
            let (client, mut device) = duplex(1024);
            let mut client = RtuClient::new(Counted { inner: client, bytes: 0, reads: 0 }, 1, TIMING);
            let got = tokio::select! {
                got = client.call(READ2) => got,
                () = flood(&mut device, &piece, 10_000) => panic!("{} bytes a ms: the call read on while the flood lasted", piece.len()),
            };
            let e = got.unwrap_err();
            assert!(e.to_string().contains("never quiet"), "{} bytes a ms: {e}", piece.len());
            let why = never_quiet(&e).expect("typed");
            assert!(why.sent && why.unit == 1 && why.dropped > 0, "{why:?}");
            assert_eq!(frame_error(&e), None);
            let (bytes, reads) = (client.stream.bytes, client.stream.reads);
            assert!(bytes <= CALL_BUDGET, "{} bytes a ms: {bytes} bytes read in one call", piece.len());
            assert!(reads <= bytes, "{reads} reads");
            // The flood is over (the device drops the request it may have had): the next call works.
            let mut old = [0u8; 64];
            while let Ok(Ok(1..)) = timeout(Duration::ZERO, device.read(&mut old)).await {}
            let (got, ()) = tokio::join!(client.call(READ2), async {
                expect_request(&mut device, 1, &READ2).await;
                device.write_all(&read2_answer()).await.unwrap();
            });
            assert_eq!(got.unwrap(), Ok(read2_response()), "{} bytes a ms", piece.len());
        }
    }

    /// The device sends `bytes` one at a time, and the client may run between any two (no
    /// time passes).
    async fn trickle(device: &mut DuplexStream, bytes: &[u8]) {
        for &b in bytes {
            device.write_all(&[b]).await.unwrap();
            tokio::task::yield_now().await;
        }
    }

    /// Bytes that trickle in one at a time are read in batches: the task is not woken for each.
    #[tokio::test(start_paused = true)]
    async fn an_answer_and_noise_trickling_in_a_byte_at_a_time_are_read_in_batches() {
        let (client, mut device) = duplex(1024);
        let mut client = RtuClient::new(Counted { inner: client, bytes: 0, reads: 0 }, 1, TIMING);
        let request = Request::ReadHoldingRegisters(0, 125);
        let mut answer = vec![1, 0x03, 250];
        answer.extend((0..250).map(|i| i as u8));
        rtu::push_crc(&mut answer);
        let mut bytes = vec![0x00, 0xFF, 0x13, 0x37];
        bytes.extend_from_slice(&answer);
        let (got, ()) = tokio::join!(client.call(request.clone()), async {
            let want = rtu::encode(1, &request).unwrap();
            let mut seen = vec![0u8; want.len()];
            device.read_exact(&mut seen).await.unwrap();
            trickle(&mut device, &bytes).await;
        });
        let Ok(Response::ReadHoldingRegisters(words)) = got.unwrap() else { panic!("registers") };
        assert_eq!(words.len(), 125);
        assert!(client.stream.reads <= 8, "{} reads for {} bytes", client.stream.reads, client.stream.bytes);
        // A bad answer, then noise trickling in for a while before the line goes quiet: the
        // drain takes it in batches too.
        let reads = client.stream.reads;
        let (got, ()) = tokio::join!(client.call(READ2), async {
            expect_request(&mut device, 1, &READ2).await;
            device.write_all(&adu(&[1, 0x04, 4, 0, 0, 0, 0])).await.unwrap();
            for _ in 0..5 {
                tokio::time::sleep(TIMING.quiet / 4).await;
                trickle(&mut device, &[0x55; 100]).await;
            }
        });
        assert!(matches!(frame_error(&got.unwrap_err()), Some(FrameError::WrongFunction { .. })));
        let (bytes, reads) = (client.stream.bytes, client.stream.reads - reads);
        assert!(reads <= 16, "{reads} reads in the second call ({bytes} bytes in all)");
    }

    /// More than the purge's budget waiting before a request: the request is not sent into it.
    #[tokio::test(start_paused = true)]
    async fn a_request_is_not_sent_into_a_line_already_flooded() {
        let (client, mut device) = duplex(4 * PURGE_BUDGET);
        let mut client = RtuClient::new(client, 1, TIMING);
        device.write_all(&vec![0x55; PURGE_BUDGET + 100]).await.unwrap();
        let e = client.call(READ2).await.unwrap_err();
        assert_eq!(never_quiet(&e).map(|w| (w.sent, w.dropped)), Some((false, PURGE_BUDGET)), "{e}");
        assert!(e.to_string().contains("before the request to unit 1"), "{e}");
        let mut buf = [0u8; 16];
        assert!(timeout(Duration::ZERO, device.read(&mut buf)).await.is_err(), "nothing was sent");
        // What is left is dropped by the next call, which then works.
        good_exchange(&mut client, &mut device).await;
    }

    /// On a line so slow that its quiet gap is longer than [`DRAIN_MAX`], a drain still ends on
    /// a quiet gap (it is not taken for a line that is never quiet).
    #[tokio::test(start_paused = true)]
    async fn a_drain_on_a_very_slow_line_waits_for_its_long_quiet_gap() {
        let timing = Timing { quiet: DRAIN_MAX + Duration::from_millis(100), ..TIMING };
        assert!(timing.call_limit() >= timing.timeout + timing.quiet * 6);
        let (client, mut device) = duplex(1024);
        let mut client = RtuClient::new(client, 1, timing);
        let (got, ()) = tokio::join!(client.call(READ2), async {
            expect_request(&mut device, 1, &READ2).await;
            device.write_all(&adu(&[1, 0x04, 4, 0x12, 0x34, 0xAB, 0xCD])).await.unwrap();
        });
        let e = got.unwrap_err();
        assert_eq!(frame_error(&e), Some(&FrameError::WrongFunction { asked: 3, answered: 4 }), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_answer_is_not_taken_for_the_next_one() {
        let (mut client, mut device) = line(1);
        let (got, ()) = tokio::join!(client.call(READ2), expect_request(&mut device, 1, &READ2));
        assert!(is_no_answer(&got.unwrap_err()));
        // The late answer (other values) arrives just after the timeout; the next request's
        // answer has the expected ones.
        let (got, ()) = tokio::join!(client.call(READ2), async {
            device.write_all(&adu(&[1, 0x03, 4, 0xDE, 0xAD, 0xBE, 0xEF])).await.unwrap();
            expect_request(&mut device, 1, &READ2).await;
            device.write_all(&read2_answer()).await.unwrap();
        });
        assert_eq!(got.unwrap(), Ok(read2_response()));
    }
}
