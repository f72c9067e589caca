//! A terminal at the far end of a connection (an SSH channel, the attach socket) as a hub
//! screen. The hub posts frames into a mailbox that keeps the newest only; a task of this
//! connection turns each frame into what changed since that terminal's last frame
//! ([`super::ansi`]) and sends it. A link that cannot take bytes now blocks that task alone:
//! meanwhile newer frames replace older ones, so a slow or stalled link gets fewer frames and
//! never an ever-growing queue, and neither the plant nor the other sessions wait for it.

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::ansi::{AnsiTerminal, Pending, clamp_size};
use super::hub::Screen;
use super::mailbox::Mailbox;

/// The alternate screen, cursor hidden, cleared: sent before the first frame.
const ENTER: &[u8] = b"\x1b[?1049h\x1b[?25l\x1b[0m\x1b[2J";
/// Attributes reset, cursor shown, the normal screen back: sent before the connection closes.
const LEAVE: &[u8] = b"\x1b[0m\x1b[?25h\x1b[?1049l";
/// How long a session's last words may take on a link that does not take bytes.
const GOODBYE: Duration = Duration::from_secs(5);

/// Where a remote terminal's bytes go.
pub trait Wire: Send + 'static {
    /// Sends bytes; waits while the link cannot take them. Err: the link is gone.
    fn send(&mut self, bytes: Vec<u8>) -> impl Future<Output = io::Result<()>> + Send;
    /// Ends the connection (or the channel) after the last bytes.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}

/// What the hub's screen and the connection share.
#[derive(Debug)]
pub struct Link {
    mailbox: Mailbox<Buffer>,
    size: Mutex<Rect>,
    /// Why the session ended, for the far end's last line.
    why: Mutex<Option<String>>,
    /// A buffer the writer is done with, for the next frame to be drawn in.
    spare: Mutex<Option<Buffer>>,
}

impl Link {
    /// The far end changed size (a window change): clamped to 1x1 … 1000x500.
    pub fn resize(&self, cols: u32, rows: u32) {
        *self.size.lock().unwrap_or_else(|p| p.into_inner()) = clamp_size(cols, rows);
    }

    pub fn size(&self) -> Rect {
        *self.size.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The hub's side.
pub struct Remote {
    link: Arc<Link>,
    pump: Option<tokio::task::JoinHandle<()>>,
}

impl Remote {
    /// A screen of `cols` x `rows` whose frames go over `wire`, sent by a task of its own.
    pub fn start<W: Wire>(wire: W, cols: u32, rows: u32) -> (Remote, Arc<Link>) {
        let link = Arc::new(Link {
            mailbox: Mailbox::default(),
            size: Mutex::new(clamp_size(cols, rows)),
            why: Mutex::new(None),
            spare: Mutex::new(None),
        });
        let pump = tokio::spawn(pump(link.clone(), wire));
        (Remote { link: link.clone(), pump: Some(pump) }, link)
    }
}

impl Screen for Remote {
    fn size(&mut self) -> io::Result<Rect> {
        Ok(self.link.size())
    }

    fn show(&mut self, frame: Buffer) -> io::Result<()> {
        self.link.mailbox.post(frame).map_err(io::Error::other)
    }

    fn bell(&mut self) -> io::Result<()> {
        self.link.mailbox.bell().map_err(io::Error::other)
    }

    fn spare(&mut self) -> Option<Buffer> {
        self.link.spare.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn end(&mut self, why: &str) {
        *self.link.why.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.to_string());
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        self.link.mailbox.close();
        // The task sends what waits and its goodbye; on a link that takes nothing it is
        // stopped after a while (its connection is then dropped).
        if let (Some(pump), Ok(rt)) = (self.pump.take(), tokio::runtime::Handle::try_current()) {
            rt.spawn(async move {
                tokio::time::sleep(GOODBYE).await;
                pump.abort();
            });
        }
    }
}

/// The connection's task: sends each frame the hub posts as the changes since the last one,
/// and bells; when the hub is done, the reason and the terminal back as it was.
async fn pump<W: Wire>(link: Arc<Link>, mut wire: W) {
    let out = Pending::default();
    let mut term = match AnsiTerminal::new(out.clone(), link.size()) {
        Ok(t) => t,
        Err(e) => return link.mailbox.fail(e.to_string()),
    };
    if let Err(e) = wire.send(ENTER.to_vec()).await {
        return link.mailbox.fail(e.to_string());
    }
    while let Some(post) = link.mailbox.next().await {
        let mut drawn = Ok(());
        if let Some(frame) = post.frame {
            if frame.area != term.size() {
                drawn = term.resize(frame.area);
            }
            drawn = drawn.and_then(|()| term.show_owned(frame)).map(|spare| {
                *link.spare.lock().unwrap_or_else(|p| p.into_inner()) = spare;
            });
        }
        if post.bells > 0 {
            drawn = drawn.and_then(|()| term.bell());
        }
        let bytes = out.take();
        let sent = match drawn {
            Ok(()) if bytes.is_empty() => Ok(()),
            Ok(()) => wire.send(bytes).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            return link.mailbox.fail(e.to_string());
        }
    }
    let why = link.why.lock().unwrap_or_else(|p| p.into_inner()).take();
    let mut last = LEAVE.to_vec();
    if let Some(why) = why {
        last.extend_from_slice(format!("ttyhmi: {}\r\n", crate::sanitize::clean(&why)).as_bytes());
    }
    let _ = wire.send(last).await;
    wire.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    /// A link whose far end reads when the test says so.
    struct TestWire(mpsc::Sender<Vec<u8>>);

    impl Wire for TestWire {
        async fn send(&mut self, bytes: Vec<u8>) -> io::Result<()> {
            self.0.send(bytes).await.map_err(|_| io::Error::other("closed"))
        }
        async fn close(&mut self) {}
    }

    fn frame(w: u16, h: u16, text: &str) -> Buffer {
        let mut b = Buffer::empty(Rect::new(0, 0, w, h));
        b.set_string(0, 0, text, ratatui::style::Style::default());
        b
    }

    #[tokio::test]
    async fn a_stalled_link_keeps_the_newest_frame_and_a_closed_one_ends_the_session() {
        // Room for one message: the link stalls right after the first frame.
        let (tx, mut rx) = mpsc::channel(1);
        let (mut remote, link) = Remote::start(TestWire(tx), 20, 2);
        assert_eq!(link.size(), Rect::new(0, 0, 20, 2));
        for i in 0..1000 {
            remote.show(frame(20, 2, &format!("frame {i}"))).expect("posting never waits");
            tokio::task::yield_now().await;
        }
        let mut got = Vec::new();
        while let Ok(Some(b)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            got.push(b);
        }
        let nz = |n| std::num::NonZeroU16::new(n).expect("not zero");
        let mut screen = vt100::Parser::new(nz(2), nz(20), 0);
        for b in &got {
            screen.process(b);
        }
        assert_eq!(screen.screen().contents().trim(), "frame 999", "the newest frame is what the far end sees");
        assert!(got.len() < 50, "frames were skipped, not queued: {} messages", got.len());
        drop(rx);
        remote.show(frame(20, 2, "more")).expect("posted");
        let mut failed = false;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if remote.show(frame(20, 2, "again")).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "a link that is gone ends the session");
    }

    #[tokio::test]
    async fn the_far_end_gets_its_terminal_back_and_the_reason() {
        let (tx, mut rx) = mpsc::channel(64);
        let (mut remote, link) = Remote::start(TestWire(tx), 5000, 0);
        assert_eq!(link.size(), Rect::new(0, 0, 1000, 1), "sizes are clamped");
        link.resize(30, 3);
        remote.show(frame(30, 3, "hello")).expect("posted");
        remote.end("the console server is stopping");
        drop(remote);
        let mut all = Vec::new();
        while let Some(b) = rx.recv().await {
            all.extend(b);
        }
        let text = String::from_utf8_lossy(&all);
        assert!(text.starts_with("\x1b[?1049h"), "the alternate screen first");
        assert!(text.contains("hello"));
        assert!(text.ends_with("\x1b[?1049lttyhmi: the console server is stopping\r\n"), "{text:?}");
    }
}
