//! ISA-101 styling: grey and muted for normal, saturated colour only for abnormal states. Every
//! colour cue also has a glyph or text, so a monochrome terminal (or `NO_COLOR`) loses nothing.

use ratatui::style::{Color, Modifier, Style};

use crate::alarm::Priority;
use crate::tag::Quality;

#[derive(Clone, Copy, Debug)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    fn fg(&self, c: Color) -> Style {
        if self.color { Style::new().fg(c) } else { Style::new() }
    }

    /// Normal values: plain grey.
    pub fn value(&self) -> Style {
        self.fg(Color::Gray)
    }

    /// Labels, units, descriptions: muted.
    pub fn muted(&self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn header(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// The selected row: reverse video reads on any terminal.
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn active_tab(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    pub fn bad(&self) -> Style {
        self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
    }

    pub fn uncertain(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn ok(&self) -> Style {
        self.fg(Color::Gray)
    }

    /// The READ-ONLY marker and other states an operator must not miss.
    pub fn notice(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// An alarm of this priority: saturated colour, bold; the text label says it without colour.
    pub fn priority(&self, p: Priority) -> Style {
        let c = match p {
            Priority::Critical => Color::Red,
            Priority::High => Color::Indexed(208),
            Priority::Medium => Color::Yellow,
            Priority::Low => Color::Cyan,
        };
        self.fg(c).add_modifier(Modifier::BOLD)
    }

    /// The marker of an alarm nobody acknowledged yet: it blinks (and is a `*` without blinking).
    pub fn unacknowledged(&self, p: Priority) -> Style {
        self.priority(p).add_modifier(Modifier::SLOW_BLINK)
    }

    pub fn quality(&self, q: &Quality) -> Style {
        match q {
            Quality::Good => self.value(),
            Quality::Uncertain(_) => self.uncertain(),
            Quality::Bad(_) => self.bad(),
        }
    }
}

/// The fixed-width label of a priority: colour is never the only cue.
pub fn priority_label(p: Priority) -> &'static str {
    match p {
        Priority::Critical => "CRIT",
        Priority::High => "HIGH",
        Priority::Medium => "MED ",
        Priority::Low => "LOW ",
    }
}

/// The shape of a priority, for alarm marks beside values (ISA-101: colour is never the only
/// cue): ◆ critical, ▲ high, ■ medium, ● low.
pub fn priority_glyph(p: Priority) -> &'static str {
    match p {
        Priority::Critical => "◆",
        Priority::High => "▲",
        Priority::Medium => "■",
        Priority::Low => "●",
    }
}

/// The glyph that marks a value's quality in front of it: none for Good.
pub fn quality_glyph(q: &Quality) -> &'static str {
    match q {
        Quality::Good => " ",
        Quality::Uncertain(_) => "?",
        Quality::Bad(_) => "!",
    }
}
