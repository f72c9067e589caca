//! Keys and what they do. The help screen is generated from [`BINDINGS`], so every action
//! is listed there. No key writes anything to a device.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `q`: asks "Quit the console? y/n".
    Quit,
    /// Ctrl-C: quits at once, from anywhere.
    Interrupt,
    /// Esc: close help, clear the filter, leave diagnostics or the alarm list; never quits.
    Back,
    NextScreen,
    PrevScreen,
    Screen(usize),
    Diagnostics,
    Help,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Filter,
    /// Open the write dialog for the selected tag (never writes by itself); on the alarm list,
    /// acknowledge the selected alarm.
    Write,
    /// Go to the alarm list.
    Alarms,
    /// Silence the bell (alarms stay unacknowledged).
    Silence,
    /// Alarm list: acknowledge the selected alarm.
    Acknowledge,
    /// Alarm list: acknowledge every unacknowledged alarm shown.
    AcknowledgeAll,
    /// Alarm list: active → shelved → suppressed → out of service.
    NextList,
    /// Alarm list: shelve the selected alarm (duration, reason), or unshelve a shelved one.
    Shelve,
    /// Alarm list: take the selected alarm out of service (reason), or return it to service.
    OutOfService,
    /// Trends: a wider / narrower time window.
    WiderWindow,
    NarrowerWindow,
    /// Trends: pan back / forward in time, or move the cursor.
    Left,
    Right,
    /// Trends: freeze with a cursor that reads out every pen, or unfreeze.
    Cursor,
    /// Trends: back to live.
    Live,
    /// Trends: export the shown window of every pen to CSV.
    Export,
}

/// (keys, what they do), in the order the help screen lists them.
pub const BINDINGS: &[(&str, &str)] = &[
    ("1-9", "go to screen 1-9"),
    ("Tab / Shift-Tab", "next / previous screen"),
    ("d", "connections, read plan, raw registers of the selected tag"),
    ("Up/Down, k/j", "select the previous / next tag"),
    ("PgUp/PgDn", "move a page"),
    ("Home/End, g/G", "first / last tag"),
    ("/", "filter by name or description (Enter keeps, Esc clears)"),
    ("w, Enter", "write the selected tag [w]: value, then confirm with PIN"),
    ("a / x", "alarm list / silence the bell (alarms stay unacknowledged)"),
    ("Space, Enter / A", "alarm list: acknowledge selected / all shown [operator]"),
    ("s / o / v", "alarm list: shelve / out of service, or undo [engineer]; lists"),
    ("+ - Left Right", "trends: wider / narrower window; pan (or move the cursor)"),
    ("c / l / e", "trends: freeze with a cursor / back to live / export to CSV"),
    ("?, F1", "show or hide this help"),
    ("Esc", "close what is open: dialog, help, filter, diagnostics, alarm list"),
    ("q", "quit: asks first (y or q again); never writes anything"),
    ("Ctrl-C", "quit at once (never writes anything)"),
];

/// The action of a key press in normal mode.
pub fn action(key: &KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') => Some(Action::Interrupt),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Esc => Action::Back,
        KeyCode::Tab => Action::NextScreen,
        KeyCode::BackTab => Action::PrevScreen,
        KeyCode::Char(c @ '1'..='9') => Action::Screen(c as usize - '1' as usize),
        KeyCode::Char('d') => Action::Diagnostics,
        KeyCode::Char('?') | KeyCode::F(1) => Action::Help,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Char('/') => Action::Filter,
        KeyCode::Char('w') | KeyCode::Enter => Action::Write,
        KeyCode::Char('a') => Action::Alarms,
        KeyCode::Char('x') => Action::Silence,
        KeyCode::Char(' ') => Action::Acknowledge,
        KeyCode::Char('A') => Action::AcknowledgeAll,
        KeyCode::Char('v') => Action::NextList,
        KeyCode::Char('s') => Action::Shelve,
        KeyCode::Char('o') => Action::OutOfService,
        KeyCode::Char('+') => Action::WiderWindow,
        KeyCode::Char('-') => Action::NarrowerWindow,
        KeyCode::Left => Action::Left,
        KeyCode::Right => Action::Right,
        KeyCode::Char('c') => Action::Cursor,
        KeyCode::Char('l') => Action::Live,
        KeyCode::Char('e') => Action::Export,
        _ => return None,
    })
}
