//! What the help screen says: the key bindings and the legend of signs. Data only; `ui::help`
//! draws it.

use super::keymap::BINDINGS;

/// How a sign in the legend is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Bad,
    Uncertain,
    Value,
    Notice,
}

/// One line of the help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelpLine {
    Heading(&'static str),
    /// Keys, and what they do.
    Key(&'static str, &'static str),
    /// A sign as drawn on screen, and what it means.
    Legend(&'static str, Tone, &'static str),
    Blank,
    Note(&'static str),
}

const VALUES: [HelpLine; 6] = [
    HelpLine::Legend("!", Tone::Bad, "bad: not current; the last known value is shown, the reason under Quality"),
    HelpLine::Legend("?", Tone::Uncertain, "uncertain: e.g. stale, no update for three poll periods"),
    HelpLine::Legend("----", Tone::Value, "no value received yet"),
    HelpLine::Legend("-1.2346e18~", Tone::Value, "rounded to fit the column: the full value is on the detail line"),
    HelpLine::Legend("…", Tone::Value, "text cut to fit: in full on the detail line"),
    HelpLine::Legend("↓ 3 more", Tone::Notice, "rows below (or above) the panel; move the selection to see them"),
];

const ALARMS: [HelpLine; 9] = [
    HelpLine::Legend("*", Tone::Value, "unacknowledged (blinks)"),
    HelpLine::Legend("◆ ▲ ■ ●", Tone::Value, "priority critical, high, medium, low (CRIT HIGH MED LOW; also colour)"),
    HelpLine::Legend("HIHI HI LO LOLO", Tone::Value, "beside a value: the limit it is past (ALM discrete, ROC rate,"),
    HelpLine::Legend("", Tone::Value, "DEV deviation, BAD bad quality); SHLV SUPP OOS shelved, suppressed,"),
    HelpLine::Legend("", Tone::Value, "out of service"),
    HelpLine::Legend("C H M L", Tone::Value, "banner: active alarms per priority (critical, high, medium, low)"),
    HelpLine::Legend("RTN", Tone::Value, "returned to normal, still to be acknowledged"),
    HelpLine::Legend("FLOOD", Tone::Value, "more than 10 new alarms in the last 10 minutes"),
    HelpLine::Legend("BELL x", Tone::Value, "the bell rings for unacknowledged alarms: x silences it"),
];

/// Every line of the help, in order.
pub fn lines() -> Vec<HelpLine> {
    let mut lines = vec![HelpLine::Heading("Keys")];
    lines.extend(BINDINGS.iter().map(|(keys, what)| HelpLine::Key(keys, what)));
    lines.extend([HelpLine::Blank, HelpLine::Heading("Values")]);
    lines.extend(VALUES);
    lines.extend([HelpLine::Blank, HelpLine::Heading("Alarms")]);
    lines.extend(ALARMS);
    lines.extend([
        HelpLine::Blank,
        HelpLine::Note("No single key writes to a device: a write needs the editor, then a confirmation."),
        HelpLine::Note("Up/Down scroll; any other key closes help."),
    ]);
    lines
}

/// Lines of the help text (scrolling stops there).
pub fn line_count() -> u16 {
    lines().len() as u16
}
