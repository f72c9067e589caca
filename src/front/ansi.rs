//! A terminal at the other end of a byte stream (an SSH channel, a socket): each frame becomes
//! the escape sequences that turn what that terminal last received into the new frame, so an
//! idle or slowly changing screen costs a few bytes. Its size is what the far end said (a pty
//! request, a window change), never the size of the terminal this process runs in.

use std::io::{self, Write};

use ratatui::backend::CrosstermBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

/// The largest size a far end may ask for (columns, rows); smaller than 1x1 is 1x1.
pub const MAX_SIZE: (u16, u16) = (1000, 500);

/// A requested size, clamped to 1x1 … [`MAX_SIZE`].
pub fn clamp_size(cols: u32, rows: u32) -> Rect {
    let w = cols.clamp(1, u32::from(MAX_SIZE.0)) as u16;
    let h = rows.clamp(1, u32::from(MAX_SIZE.1)) as u16;
    Rect::new(0, 0, w, h)
}

pub struct AnsiTerminal<W: Write> {
    term: Terminal<CrosstermBackend<W>>,
    size: Rect,
}

impl<W: Write> AnsiTerminal<W> {
    /// A terminal of `size` writing to `out`. The first frame is drawn whole.
    pub fn new(out: W, size: Rect) -> io::Result<Self> {
        let term =
            Terminal::with_options(CrosstermBackend::new(out), TerminalOptions { viewport: Viewport::Fixed(size) })?;
        Ok(AnsiTerminal { term, size })
    }

    /// The far end changed size: the next frame is drawn whole at the new size.
    pub fn resize(&mut self, size: Rect) -> io::Result<()> {
        self.size = size;
        self.term.resize(size)
    }

    /// The size frames are drawn at.
    pub fn size(&self) -> Rect {
        self.size
    }

    /// Sends what changed since the last frame. A frame of another size is cut or padded to
    /// this terminal's size.
    pub fn show(&mut self, frame: &Buffer) -> io::Result<()> {
        self.term.draw(|f| copy(frame, f.buffer_mut()))?;
        Ok(())
    }

    /// [`AnsiTerminal::show`] for a frame this terminal may keep: one of its size is diffed as it
    /// is, without a copy. Gives back a cleared buffer of this size to draw the next frame in.
    pub fn show_owned(&mut self, frame: Buffer) -> io::Result<Option<Buffer>> {
        if frame.area != self.size {
            return self.show(&frame).map(|()| None);
        }
        // What was current is the cleared one (see `swap_buffers`).
        let spare = std::mem::replace(self.term.current_buffer_mut(), frame);
        self.term.flush()?;
        self.term.swap_buffers();
        self.term.backend_mut().flush()?;
        Ok(Some(spare))
    }

    pub fn bell(&mut self) -> io::Result<()> {
        let out = self.term.backend_mut();
        out.write_all(b"\x07")?;
        out.flush()
    }
}

/// Bytes kept for whoever sends them on (the terminal writes into it, the sender takes).
#[derive(Clone, Debug, Default)]
pub struct Pending(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Pending {
    /// The bytes written since the last call.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Write for Pending {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Copies what fits of `frame` into a terminal's buffer (the terminal may have been resized
/// since the frame was drawn: the next frame has the new size).
pub fn copy(frame: &Buffer, to: &mut Buffer) {
    let w = frame.area.width.min(to.area.width);
    let h = frame.area.height.min(to.area.height);
    for y in 0..h {
        for x in 0..w {
            to[(x, y)] = frame[(x, y)].clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use ratatui::style::{Color, Style};

    use super::*;

    /// Bytes written, shared with the test.
    #[derive(Clone, Default)]
    struct Wire(Arc<Mutex<Vec<u8>>>);

    impl Write for Wire {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().map_err(|_| io::Error::other("poisoned"))?.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Wire {
        fn take(&self) -> Vec<u8> {
            std::mem::take(&mut *self.0.lock().expect("not poisoned"))
        }
    }

    fn frame(area: Rect, marker: &str) -> Buffer {
        let mut b = Buffer::empty(area);
        for y in 0..area.height {
            b.set_string(0, y, format!("row {y:02} {marker}"), Style::default());
        }
        b.set_string(area.width.saturating_sub(5), 0, "ALARM", Style::default().fg(Color::Red));
        b
    }

    fn nz(n: u16) -> std::num::NonZeroU16 {
        std::num::NonZeroU16::new(n).expect("not zero")
    }

    /// The screen's text, each line without trailing blanks.
    fn text(p: &vt100::Parser) -> String {
        p.screen().contents().lines().map(str::trim_end).collect::<Vec<_>>().join("\n")
    }

    fn frame_text(b: &Buffer) -> String {
        (0..b.area.height)
            .map(|y| (0..b.area.width).map(|x| b[(x, y)].symbol()).collect::<String>().trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn an_owned_frame_is_diffed_like_a_borrowed_one_and_a_cleared_buffer_comes_back() {
        let area = Rect::new(0, 0, 40, 5);
        let (wire, owned) = (Wire::default(), Wire::default());
        let mut t = AnsiTerminal::new(wire.clone(), area).expect("a terminal");
        let mut u = AnsiTerminal::new(owned.clone(), area).expect("a terminal");
        let (mut far, mut far_owned) = (vt100::Parser::new(nz(5), nz(40), 0), vt100::Parser::new(nz(5), nz(40), 0));
        for word in ["first", "second", "third"] {
            let f = frame(area, word);
            t.show(&f).expect("shown");
            let spare = u.show_owned(f.clone()).expect("shown").expect("a buffer back");
            assert_eq!(spare, Buffer::empty(area), "what comes back is cleared");
            far.process(&wire.take());
            far_owned.process(&owned.take());
            assert_eq!(text(&far_owned), text(&far), "{word}");
        }
        // A frame of another size (drawn before a resize arrived) is cut to fit, as before.
        let spare = u.show_owned(frame(Rect::new(0, 0, 20, 3), "small")).expect("shown");
        assert!(spare.is_none());
    }

    #[test]
    fn the_far_end_sees_each_frame_and_only_changes_are_sent() {
        let area = Rect::new(0, 0, 80, 24);
        let wire = Wire::default();
        let mut t = AnsiTerminal::new(wire.clone(), area).expect("a terminal");
        let mut far = vt100::Parser::new(nz(24), nz(80), 0);
        let first = frame(area, "a");
        t.show(&first).expect("shown");
        let bytes = wire.take();
        far.process(&bytes);
        assert_eq!(text(&far).trim_end(), frame_text(&first).trim_end());
        assert!(far.screen().cell(0, 75).is_some_and(|c| c.fgcolor() == vt100::Color::Idx(1)), "colour arrives");

        // One cell changes: a handful of bytes, and the far end shows the new frame.
        let mut second = first.clone();
        second.set_string(7, 5, "b", Style::default());
        t.show(&second).expect("shown");
        let delta = wire.take();
        assert!(delta.len() < 40, "{} bytes for one cell: {:?}", delta.len(), String::from_utf8_lossy(&delta));
        far.process(&delta);
        assert_eq!(text(&far).trim_end(), frame_text(&second).trim_end());

        // Nothing changes: nothing but a style reset and the cursor kept hidden (24 bytes).
        t.show(&second).expect("shown");
        let idle = wire.take();
        assert!(idle.len() < 32 && !idle.contains(&b'r'), "{:?}", String::from_utf8_lossy(&idle));
    }

    #[test]
    fn a_window_change_redraws_whole_at_the_new_size() {
        let wire = Wire::default();
        let mut t = AnsiTerminal::new(wire.clone(), Rect::new(0, 0, 80, 24)).expect("a terminal");
        t.show(&frame(Rect::new(0, 0, 80, 24), "a")).expect("shown");
        wire.take();
        let bigger = Rect::new(0, 0, 100, 30);
        t.resize(bigger).expect("resized");
        assert_eq!(t.size(), bigger);
        let f = frame(bigger, "c");
        t.show(&f).expect("shown");
        let mut far = vt100::Parser::new(nz(30), nz(100), 0);
        far.process(&wire.take());
        assert_eq!(text(&far).trim_end(), frame_text(&f).trim_end());
    }

    #[test]
    fn requested_sizes_are_clamped() {
        assert_eq!(clamp_size(0, 0), Rect::new(0, 0, 1, 1));
        assert_eq!(clamp_size(80, 24), Rect::new(0, 0, 80, 24));
        assert_eq!(clamp_size(u32::MAX, 100_000), Rect::new(0, 0, 1000, 500));
    }
}
