//! Rendering the console into a ratatui `TestBackend` and reading it back as text, for the
//! snapshot tests.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::text::Span;

use ttyhmi::console::Console as State;

pub fn render(state: &State, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("a test backend cannot fail");
    terminal.draw(|f| ttyhmi::ui::render(&state.session, &state.plant, f)).expect("a test backend cannot fail");
    terminal.backend().buffer().clone()
}

/// The text of one row, with the cells hidden behind wide characters left out.
pub fn row_text(buf: &Buffer, y: u16) -> String {
    let mut line = String::new();
    let mut skip = 0usize;
    for x in 0..buf.area.width {
        let sym = buf[(x, y)].symbol();
        if skip == 0 {
            line.push_str(sym);
        }
        skip = Span::raw(sym).width().max(skip).saturating_sub(1);
    }
    line
}

pub fn text(buf: &Buffer) -> String {
    (0..buf.area.height).map(|y| row_text(buf, y)).collect::<Vec<_>>().join("\n")
}

pub fn screen(state: &State, w: u16, h: u16) -> String {
    text(&render(state, w, h))
}

/// No cell has a colour: what `NO_COLOR` promises.
pub fn assert_no_colour(buf: &Buffer) {
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let c = &buf[(x, y)];
            assert_eq!((c.fg, c.bg), (Color::Reset, Color::Reset), "cell {x},{y} {:?}", row_text(buf, y));
        }
    }
}

/// The same text without colour, and no coloured cell.
pub fn assert_same_without_colour(s: &State, w: u16, h: u16) {
    let mut mono = s.clone();
    mono.color = false;
    let buf = render(&mono, w, h);
    assert_eq!(text(&buf), screen(s, w, h), "the same text with and without colour");
    assert_no_colour(&buf);
}
