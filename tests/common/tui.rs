//! Rendering the console into a ratatui `TestBackend` and reading it back as text, for the
//! snapshot tests.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::text::Span;

use ttyhmi::app::state::State;

pub fn render(state: &State, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("a test backend cannot fail");
    terminal.draw(|f| ttyhmi::ui::render(state, f)).expect("a test backend cannot fail");
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
