//! Text that came from outside (a device, a server, a network, a file someone else wrote) made
//! safe to show: the one sanitizer every output uses (the console, `watch`, `browse`, `check`,
//! `audit tail` and `audit verify`).
//!
//! - Control characters (C0, DEL, C1) become visible escapes: `\x1b`, `\n`, `\r`, `\t`, so a
//!   string from a PLC cannot clear the screen, set the window title, write the clipboard (OSC 52),
//!   reset the terminal or move the cursor.
//! - Bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE, U+2066 … U+2069 isolates, marks) and
//!   invisible characters (zero-width space and joiners, word joiner, BOM, soft hyphen, tag
//!   characters, …) become `\u{202e}`, so `SAFE\u{202e}DENEPO\u{202c} VALVE` cannot read as
//!   "SAFE OPENED VALVE".
//!
//! Everything else (letters of every script, `°`, `µ`, `²`, emoji) is kept as it is.
//!
//! ```
//! use ttyhmi::sanitize::clean;
//! assert_eq!(clean("PUMP 1"), "PUMP 1");
//! assert_eq!(clean("\u{1b}[2J"), "\\x1b[2J");
//! assert_eq!(clean("SAFE\u{202e}DENEPO"), "SAFE\\u{202e}DENEPO");
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as it is: a control character, a bidirectional control
/// or an invisible (zero-width, format) character.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

/// Bidirectional controls and characters that take no room and show nothing (Unicode format
/// characters and fillers), which could hide or reorder what a person reads.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'                      // soft hyphen
        | '\u{034f}'                    // combining grapheme joiner
        | '\u{061c}'                    // Arabic letter mark
        | '\u{115f}' | '\u{1160}'       // Hangul fillers
        | '\u{17b4}' | '\u{17b5}'       // Khmer inherent vowels
        | '\u{180b}'..='\u{180f}'       // Mongolian variation selectors, vowel separator
        | '\u{200b}'..='\u{200f}'       // zero-width space, non-joiner, joiner; LRM, RLM
        | '\u{2028}' | '\u{2029}'       // line and paragraph separators
        | '\u{202a}'..='\u{202e}'       // embeddings and overrides
        | '\u{2060}'..='\u{206f}'       // word joiner, invisible operators, isolates, deprecated
        | '\u{3164}'                    // Hangul filler
        | '\u{feff}'                    // zero-width no-break space (BOM)
        | '\u{ffa0}'                    // halfwidth Hangul filler
        | '\u{fff9}'..='\u{fffb}'       // interlinear annotation
        | '\u{1d173}'..='\u{1d17a}'     // musical format characters
        | '\u{e0000}'..='\u{e007f}' // tag characters
    )
}

/// `s` with every unsafe character made visible; borrowed when there is none (the usual case).
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    push_clean(&mut out, s);
    Cow::Owned(out)
}

/// Appends `s` to `out` with every unsafe character made visible.
pub fn push_clean(out: &mut String, s: &str) {
    for c in s.chars() {
        if !is_unsafe(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
}

/// Appends `s` double-quoted, with `"`, `\\`, newline, CR and tab escaped the way JSON and YAML
/// both read them, and every other unsafe character written by `escape`.
fn push_quoted(out: &mut String, s: &str, escape: impl Fn(&mut String, char)) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => escape(out, c),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `s` as a JSON string (with its quotes). The text stays exact for a program reading
/// it, and no unsafe character appears raw: controls (C1 too), bidirectional controls and
/// invisible characters are `\uXXXX` escapes.
pub fn push_json_str(out: &mut String, s: &str) {
    push_quoted(out, s, |out, c| {
        let mut units = [0u16; 2];
        for u in c.encode_utf16(&mut units) {
            let _ = write!(out, "\\u{u:04x}");
        }
    });
}

/// `s` as a double-quoted YAML scalar that reads back as exactly `s`, with every unsafe
/// character written as a YAML escape (`\x1b`, `\u202e`, `\U000e0041`): YAML to paste (`ttyhmi
/// browse`) that a terminal shows as it is.
pub fn yaml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_quoted(&mut out, s, |out, c| {
        let _ = match c as u32 {
            u @ 0..=0xff => write!(out, "\\x{u:02x}"),
            u @ 0x100..=0xffff => write!(out, "\\u{u:04x}"),
            u => write!(out, "\\U{u:08x}"),
        };
    });
    out
}

/// `s` as a JSON string (with its quotes); see [`push_json_str`].
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_str(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attacks of issue 12: clear screen, window title (OSC 0), clipboard write (OSC 52),
    /// terminal reset, carriage return, backspace, C1 CSI.
    const HOSTILE: &[&str] = &[
        "\u{1b}[2J",
        "\u{1b}]0;owned\u{7}",
        "\u{1b}]52;c;ZWNobyBvd25lZA==\u{7}",
        "\u{1b}c",
        "OK\rBAD",
        "OPEN\u{8}\u{8}\u{8}\u{8}SHUT",
        "\u{9b}2J",
        "\u{7f}",
        "\u{0}",
    ];

    #[test]
    fn plain_text_is_kept_and_not_copied() {
        for s in ["", "PUMP 1", "Température 25 °C", "µS/cm", "m³/h", "Drück", "泵 1", "🔥", "a\\b"] {
            assert!(matches!(clean(s), Cow::Borrowed(_)), "{s:?}");
            assert_eq!(clean(s), s);
        }
    }

    #[test]
    fn controls_become_visible_escapes() {
        assert_eq!(clean("\u{1b}[2J"), "\\x1b[2J");
        assert_eq!(clean("\u{1b}]0;owned\u{7}"), "\\x1b]0;owned\\x07");
        assert_eq!(clean("OK\rBAD\n\tx"), "OK\\rBAD\\n\\tx");
        assert_eq!(clean("\u{9b}2J"), "\\x9b2J");
        assert_eq!(clean("\u{7f}\u{0}"), "\\x7f\\x00");
        for s in HOSTILE {
            let c = clean(s);
            assert!(!c.chars().any(is_unsafe), "{s:?} → {c:?}");
            assert!(!c.chars().any(char::is_control), "{s:?} → {c:?}");
        }
    }

    #[test]
    fn bidi_and_zero_width_characters_become_visible() {
        assert_eq!(clean("SAFE\u{202e}DENEPO\u{202c} VALVE"), "SAFE\\u{202e}DENEPO\\u{202c} VALVE");
        for c in [
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{200e}',
            '\u{200f}',
            '\u{202a}',
            '\u{202b}',
            '\u{202d}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{2060}',
            '\u{feff}',
            '\u{061c}',
            '\u{2028}',
            '\u{e0041}',
        ] {
            let s = format!("A{c}B");
            let got = clean(&s);
            assert_eq!(got, format!("A\\u{{{:x}}}B", c as u32), "{c:?}");
        }
        assert_eq!(clean("soft\u{ad}hyphen"), "soft\\xadhyphen");
    }

    #[test]
    fn json_strings_are_exact_and_terminal_safe() {
        for s in HOSTILE.iter().copied().chain(["SAFE\u{202e}X", "\u{200b}", "\u{e0041}", "a\"b\\c", "é 泵 🔥"]) {
            let j = json_str(s);
            assert!(!j.chars().any(is_unsafe), "{s:?} → {j}");
            let back: String = serde_json::from_str(&j).unwrap_or_else(|e| panic!("{j}: {e}"));
            assert_eq!(back, s, "round trip");
        }
        assert_eq!(json_str("\u{9b}"), "\"\\u009b\"");
        assert_eq!(json_str("\u{e0041}"), "\"\\udb40\\udc41\"");
    }

    #[test]
    fn any_string_cleaned_has_no_unsafe_character() {
        // Every character of the Basic Multilingual Plane and the tag block, one at a time.
        for u in (0..0x1_0000u32).chain(0xe0000..0xe0080) {
            let Some(c) = char::from_u32(u) else { continue };
            let s = c.to_string();
            let cleaned = clean(&s);
            assert!(!cleaned.chars().any(is_unsafe), "U+{u:04X}");
            assert!(!json_str(&s).chars().any(is_unsafe), "U+{u:04X} in JSON");
        }
    }
}
