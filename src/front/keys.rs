//! Keys from a terminal at the other end of a byte stream (an SSH channel, the bytes `ttyhmi
//! attach` forwards from a raw-mode tty): xterm, VT220, rxvt and Linux console sequences become
//! the [`KeyEvent`]s the sessions take, as crossterm would make them for the local terminal.
//!
//! Pure and bounded: what a chunk leaves unfinished (an escape sequence, a UTF-8 character) waits
//! for the next chunk, at most [`MAX_SEQUENCE`] bytes of it. A lone ESC at the end of a chunk is
//! the Esc key (an SSH client sends a key press in one packet). Sequences that are not keys (mouse
//! reports, focus events, status replies, anything unknown or too long) are dropped whole, never
//! turned into letters; invalid UTF-8 is dropped. A bracketed paste gives its printable
//! characters only: a pasted newline or control character never confirms or cancels anything.
//! A CR is Enter; an LF right after a CR (even in the next chunk) belongs to it.
//!
//! A sequence cut right after its ESC (a rare read boundary) gives Esc, then still its key when
//! the next chunk holds the rest of it whole; cut again, its remaining bytes are read as keys.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The longest escape sequence kept between chunks; a longer one is dropped up to its end.
pub const MAX_SEQUENCE: usize = 32;

const ESC: u8 = 0x1b;

/// Keeps an unfinished escape sequence or UTF-8 character between chunks.
#[derive(Debug, Default)]
pub struct KeyParser {
    /// The start of an unfinished sequence, at most [`MAX_SEQUENCE`] bytes.
    pending: Vec<u8>,
    /// Inside a bracketed paste (`ESC [200~` … `ESC [201~`).
    paste: bool,
    /// Dropping the rest of a sequence that was too long, up to its final byte.
    skipping: bool,
    /// The last byte was a CR: an LF now is part of the same Enter.
    after_cr: bool,
    /// The last chunk ended in a lone ESC, taken as the Esc key.
    after_esc: bool,
}

/// What the bytes at the start of the input are.
#[derive(Debug)]
enum Step {
    /// A key, made of that many bytes.
    Key(usize, KeyEvent),
    /// That many bytes that are not a key.
    Skip(usize),
    /// A paste starts (`true`) or ends, with a marker of that many bytes.
    Paste(usize, bool),
    /// The start of a sequence the next chunk may finish.
    Wait,
    /// An escape sequence longer than [`MAX_SEQUENCE`].
    TooLong,
}

impl KeyParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys in `bytes`, given what was left over from the last chunk.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<KeyEvent> {
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(bytes);
        let mut keys = Vec::new();
        let mut at = 0;
        if std::mem::take(&mut self.after_esc) && matches!(buf.first(), Some(b'[' | b'O')) {
            // The last chunk ended in a lone ESC, sent as Esc: if this chunk begins with the rest
            // of a whole sequence, the sequence was split, and its key is kept (not its letters).
            let joined: Vec<u8> = std::iter::once(ESC).chain(buf.iter().take(MAX_SEQUENCE).copied()).collect();
            match step(&joined) {
                Step::Wait => {}
                whole => at = self.apply(&joined, whole, &mut keys).unwrap_or(1) - 1,
            }
        }
        while let Some(rest) = buf.get(at..).filter(|r| !r.is_empty()) {
            if self.swallow(rest[0]) {
                at += 1;
                continue;
            }
            match self.apply(rest, step(rest), &mut keys) {
                Some(n) => at += n,
                None => {
                    self.pending = rest.to_vec();
                    break;
                }
            }
        }
        keys
    }

    /// Takes `step` (read from the start of `rest`): the bytes it used, or None to wait for more.
    fn apply(&mut self, rest: &[u8], step: Step, keys: &mut Vec<KeyEvent>) -> Option<usize> {
        Some(match step {
            Step::Key(n, key) => {
                self.after_cr = rest.first() == Some(&b'\r');
                if !self.paste || is_text(&key) {
                    keys.push(key);
                }
                n
            }
            Step::Skip(n) => n,
            Step::Paste(n, start) => {
                self.paste = start;
                n
            }
            Step::TooLong => {
                self.skipping = true;
                2
            }
            Step::Wait if rest == [ESC] && !self.paste => {
                keys.push(KeyEvent::from(KeyCode::Esc));
                self.after_esc = true;
                1
            }
            // Cannot be longer (every scan stops at MAX_SEQUENCE); dropping a byte keeps it so.
            Step::Wait if rest.len() > MAX_SEQUENCE => 1,
            Step::Wait => return None,
        })
    }

    /// Whether `b` is dropped before parsing: the rest of a too-long sequence, or the LF of a CR LF.
    fn swallow(&mut self, b: u8) -> bool {
        if self.skipping {
            match b {
                0x20..=0x3f => return true,
                0x40..=0x7e => {
                    self.skipping = false;
                    return true;
                }
                _ => self.skipping = false,
            }
        }
        std::mem::take(&mut self.after_cr) && b == b'\n'
    }
}

/// What a paste may give: characters, never a control key.
fn is_text(key: &KeyEvent) -> bool {
    matches!(key.code, KeyCode::Char(_)) && (key.modifiers - KeyModifiers::SHIFT).is_empty()
}

fn step(rest: &[u8]) -> Step {
    match rest {
        [ESC, ..] => escape(rest),
        _ => plain(rest),
    }
}

fn key(n: usize, code: KeyCode, modifiers: KeyModifiers) -> Step {
    Step::Key(n, KeyEvent::new(code, modifiers))
}

/// A character key as crossterm makes it: upper case carries Shift.
fn char_key(n: usize, c: char) -> Step {
    key(n, KeyCode::Char(c), if c.is_uppercase() { KeyModifiers::SHIFT } else { KeyModifiers::NONE })
}

/// A key that does not start with ESC: a control byte, ASCII or a UTF-8 character.
fn plain(rest: &[u8]) -> Step {
    let ctrl = |c: u8| key(1, KeyCode::Char(char::from(c)), KeyModifiers::CONTROL);
    match rest.first() {
        None => Step::Wait,
        Some(b'\r' | b'\n') => key(1, KeyCode::Enter, KeyModifiers::NONE),
        Some(b'\t') => key(1, KeyCode::Tab, KeyModifiers::NONE),
        Some(0x7f | 0x08) => key(1, KeyCode::Backspace, KeyModifiers::NONE),
        Some(&ESC) => key(1, KeyCode::Esc, KeyModifiers::NONE),
        Some(0x00) => ctrl(b' '),
        Some(&b @ 0x01..=0x1a) => ctrl(b'a' + b - 1),
        Some(&b @ 0x1c..=0x1f) => ctrl(b'4' + b - 0x1c),
        Some(&b @ 0x20..=0x7e) => char_key(1, char::from(b)),
        Some(_) => utf8(rest),
    }
}

/// A multi-byte UTF-8 character; an invalid lead byte is dropped alone, so the next one resyncs.
fn utf8(rest: &[u8]) -> Step {
    let need = match rest.first() {
        Some(0xc2..=0xdf) => 2,
        Some(0xe0..=0xef) => 3,
        Some(0xf0..=0xf4) => 4,
        _ => return Step::Skip(1),
    };
    match std::str::from_utf8(rest.get(..need).unwrap_or(rest)) {
        Ok(s) => match s.chars().next() {
            Some(c) if !c.is_control() => char_key(need, c),
            _ => Step::Skip(need),
        },
        Err(e) if e.error_len().is_none() => Step::Wait,
        Err(_) => Step::Skip(1),
    }
}

/// ESC and what follows: CSI, SS3, Esc itself, or Alt with the next key.
fn escape(rest: &[u8]) -> Step {
    match rest {
        [] | [_] => Step::Wait,
        [_, b'[', ..] => csi(rest),
        [_, b'O', ..] => ss3(rest),
        [_, ESC, ..] => key(1, KeyCode::Esc, KeyModifiers::NONE),
        [_, tail @ ..] => match plain(tail) {
            Step::Key(n, k) => key(n + 1, k.code, k.modifiers | KeyModifiers::ALT),
            Step::Skip(n) => Step::Skip(n + 1),
            other => other,
        },
    }
}

/// `ESC [` parameters, intermediates, final byte. A byte that cannot be in a sequence ends it
/// unfinished: what came before is dropped and that byte is read again (a Ctrl-C still arrives).
fn csi(rest: &[u8]) -> Step {
    if rest.get(2) == Some(&b'[') {
        return match rest.get(3) {
            None => Step::Wait,
            Some(&b @ b'A'..=b'E') => key(4, KeyCode::F(b - b'A' + 1), KeyModifiers::NONE),
            Some(0x20..=0x7e) => Step::Skip(4),
            Some(_) => Step::Skip(3),
        };
    }
    for (i, &b) in rest.iter().enumerate().skip(2) {
        if i >= MAX_SEQUENCE {
            return Step::TooLong;
        }
        match b {
            // rxvt's Shift-modified keys end in `$` (`ESC [ 3 $`), which is otherwise an intermediate.
            b'$' if i > 2 && rest[2..i].iter().all(u8::is_ascii_digit) => return csi_key(rest, i),
            0x20..=0x3f => {}
            0x40..=0x7e => return csi_key(rest, i),
            _ => return Step::Skip(i),
        }
    }
    Step::Wait
}

/// The CSI sequence `rest[..=fin]` (final byte at `fin`).
fn csi_key(rest: &[u8], fin: usize) -> Step {
    let (body, last, len) = (&rest[2..fin], rest[fin], fin + 1);
    if last == b'M' && body.is_empty() {
        // X10 mouse report: three raw bytes follow.
        return if rest.len() >= len + 3 { Step::Skip(len + 3) } else { Step::Wait };
    }
    let Some((first, second)) = numbers(body) else { return Step::Skip(len) };
    let Some(mods) = modifiers(second) else { return Step::Skip(len) };
    let code = match last {
        b'~' | b'^' | b'$' | b'@' => return tilde(first, second.is_some(), mods, last, len),
        b'Z' => return key(len, KeyCode::BackTab, mods | KeyModifiers::SHIFT),
        _ if first.unwrap_or(1) != 1 => None,
        b'a'..=b'd' => return key(len, arrow(last), mods | KeyModifiers::SHIFT),
        _ => cursor_key(last),
    };
    code.map_or(Step::Skip(len), |code| key(len, code, mods))
}

/// `ESC [ n ~` keys (and rxvt's `^ $ @` endings for Ctrl, Shift, Ctrl+Shift), paste markers.
fn tilde(first: Option<u16>, has_mods: bool, mods: KeyModifiers, last: u8, len: usize) -> Step {
    let extra = match last {
        b'^' => KeyModifiers::CONTROL,
        b'$' => KeyModifiers::SHIFT,
        b'@' => KeyModifiers::CONTROL | KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    };
    let code = match first {
        Some(200 | 201) if last == b'~' && !has_mods => return Step::Paste(len, first == Some(200)),
        Some(1 | 7) => KeyCode::Home,
        Some(2) => KeyCode::Insert,
        Some(3) => KeyCode::Delete,
        Some(4 | 8) => KeyCode::End,
        Some(5) => KeyCode::PageUp,
        Some(6) => KeyCode::PageDown,
        Some(n @ 11..=15) => KeyCode::F((n - 10) as u8),
        Some(n @ 17..=21) => KeyCode::F((n - 11) as u8),
        Some(n @ 23..=26) => KeyCode::F((n - 12) as u8),
        Some(n @ 28..=29) => KeyCode::F((n - 13) as u8),
        Some(n @ 31..=34) => KeyCode::F((n - 14) as u8),
        _ => return Step::Skip(len),
    };
    key(len, code, mods | extra)
}

/// `ESC O` [digits] final: xterm's application cursor keys and F1-F4, rxvt's Ctrl-arrows, keypad.
fn ss3(rest: &[u8]) -> Step {
    for (i, &b) in rest.iter().enumerate().skip(2) {
        if i >= MAX_SEQUENCE {
            return Step::TooLong;
        }
        match b {
            b'0'..=b'9' | b';' => {}
            0x40..=0x7e => return ss3_key(&rest[2..i], b, i + 1),
            _ => return Step::Skip(i),
        }
    }
    Step::Wait
}

fn ss3_key(body: &[u8], last: u8, len: usize) -> Step {
    let Some(mods) = numbers(body).and_then(|(first, second)| modifiers(second.or(first))) else {
        return Step::Skip(len);
    };
    let code = match last {
        b'a'..=b'd' => return key(len, arrow(last), mods | KeyModifiers::CONTROL),
        b'M' => Some(KeyCode::Enter),
        b'j'..=b'y' => b"*+,-./0123456789".get(usize::from(last - b'j')).map(|&c| KeyCode::Char(char::from(c))),
        _ => cursor_key(last),
    };
    code.map_or(Step::Skip(len), |code| key(len, code, mods))
}

fn cursor_key(last: u8) -> Option<KeyCode> {
    Some(match last {
        b'A'..=b'D' => arrow(last),
        b'H' => KeyCode::Home,
        b'F' => KeyCode::End,
        b'P'..=b'S' => KeyCode::F(last - b'P' + 1),
        _ => return None,
    })
}

fn arrow(last: u8) -> KeyCode {
    match last.to_ascii_uppercase() {
        b'A' => KeyCode::Up,
        b'B' => KeyCode::Down,
        b'C' => KeyCode::Right,
        _ => KeyCode::Left,
    }
}

/// xterm's modifier parameter, 1 + (Shift 1, Alt 2, Ctrl 4, Super 8); more is not a key (a
/// cursor position report `ESC [ 1 ; 80 R` is not Shift-Alt-Ctrl-F3).
fn modifiers(param: Option<u16>) -> Option<KeyModifiers> {
    let bits = param.unwrap_or(1).max(1) - 1;
    if bits >= 16 {
        return None;
    }
    let all = [(1, KeyModifiers::SHIFT), (2, KeyModifiers::ALT), (4, KeyModifiers::CONTROL), (8, KeyModifiers::SUPER)];
    Some(all.into_iter().filter(|&(bit, _)| bits & bit != 0).fold(KeyModifiers::NONE, |m, (_, add)| m | add))
}

/// At most two numeric parameters (`n` or `n;m`, either may be empty); anything else is None.
fn numbers(body: &[u8]) -> Option<(Option<u16>, Option<u16>)> {
    let mut parts = body.split(|&b| b == b';');
    let first = number(parts.next().unwrap_or_default())?;
    let second = match parts.next() {
        Some(p) => number(p)?,
        None => None,
    };
    parts.next().is_none().then_some((first, second))
}

fn number(digits: &[u8]) -> Option<Option<u16>> {
    if digits.is_empty() {
        return Some(None);
    }
    digits
        .iter()
        .try_fold(0u16, |n, &b| b.is_ascii_digit().then(|| n.saturating_mul(10).saturating_add(u16::from(b - b'0'))))
        .map(Some)
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: KeyModifiers = KeyModifiers::NONE;
    const SHIFT: KeyModifiers = KeyModifiers::SHIFT;
    const ALT: KeyModifiers = KeyModifiers::ALT;
    const CTRL: KeyModifiers = KeyModifiers::CONTROL;

    pub(super) fn k(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    pub(super) fn c(ch: char) -> KeyEvent {
        k(KeyCode::Char(ch), if ch.is_uppercase() { SHIFT } else { NONE })
    }

    pub(super) fn whole(bytes: &[u8]) -> Vec<KeyEvent> {
        KeyParser::new().feed(bytes)
    }

    /// Every sequence the parser knows, and its key.
    pub(super) fn table() -> Vec<(&'static [u8], KeyEvent)> {
        use KeyCode::*;
        let rows: [(KeyEvent, &[&'static str]); 54] = [
            (k(Up, NONE), &["\x1b[A", "\x1bOA"]),
            (k(Down, NONE), &["\x1b[B", "\x1bOB"]),
            (k(Right, NONE), &["\x1b[C", "\x1bOC"]),
            (k(Left, NONE), &["\x1b[D", "\x1bOD"]),
            (k(Home, NONE), &["\x1b[H", "\x1bOH", "\x1b[1~", "\x1b[7~"]),
            (k(End, NONE), &["\x1b[F", "\x1bOF", "\x1b[4~", "\x1b[8~"]),
            (k(Insert, NONE), &["\x1b[2~"]),
            (k(Delete, NONE), &["\x1b[3~"]),
            (k(PageUp, NONE), &["\x1b[5~"]),
            (k(PageDown, NONE), &["\x1b[6~"]),
            (k(F(1), NONE), &["\x1bOP", "\x1b[11~", "\x1b[[A"]),
            (k(F(2), NONE), &["\x1bOQ", "\x1b[12~", "\x1b[[B"]),
            (k(F(3), NONE), &["\x1bOR", "\x1b[13~", "\x1b[[C"]),
            (k(F(4), NONE), &["\x1bOS", "\x1b[14~", "\x1b[[D"]),
            (k(F(5), NONE), &["\x1b[15~", "\x1b[[E"]),
            (k(F(6), NONE), &["\x1b[17~"]),
            (k(F(7), NONE), &["\x1b[18~"]),
            (k(F(8), NONE), &["\x1b[19~"]),
            (k(F(9), NONE), &["\x1b[20~"]),
            (k(F(10), NONE), &["\x1b[21~"]),
            (k(F(11), NONE), &["\x1b[23~"]),
            (k(F(12), NONE), &["\x1b[24~"]),
            (k(Up, CTRL), &["\x1b[1;5A", "\x1bOa"]),
            (k(Down, SHIFT), &["\x1b[1;2B", "\x1b[b"]),
            (k(Right, ALT), &["\x1b[1;3C"]),
            (k(Left, CTRL | SHIFT), &["\x1b[1;6D"]),
            (k(Home, CTRL), &["\x1b[1;5H", "\x1b[7^"]),
            (k(F(1), SHIFT), &["\x1b[1;2P", "\x1bO2P"]),
            (k(F(3), CTRL), &["\x1b[1;5R", "\x1bO1;5R"]),
            (k(Delete, CTRL), &["\x1b[3;5~", "\x1b[3^"]),
            (k(Delete, SHIFT), &["\x1b[3;2~", "\x1b[3$"]),
            (k(PageUp, CTRL | SHIFT), &["\x1b[5;6~", "\x1b[5@"]),
            (k(F(5), SHIFT), &["\x1b[15;2~"]),
            (k(BackTab, SHIFT), &["\x1b[Z"]),
            (k(Enter, NONE), &["\r", "\n", "\r\n", "\x1bOM"]),
            (k(Tab, NONE), &["\t"]),
            (k(Backspace, NONE), &["\x7f", "\x08"]),
            (k(Char('c'), CTRL), &["\x03"]),
            (k(Char('a'), CTRL), &["\x01"]),
            (k(Char('z'), CTRL), &["\x1a"]),
            (k(Char(' '), CTRL), &["\x00"]),
            (k(Char('x'), ALT), &["\x1bx"]),
            (k(Char('?'), ALT), &["\x1b?"]),
            (k(Char('c'), CTRL | ALT), &["\x1b\x03"]),
            (k(Esc, NONE), &["\x1b"]),
            (c('1'), &["1", "\x1bOq"]),
            (c(' '), &[" "]),
            (c('?'), &["?"]),
            (c('/'), &["/"]),
            (c('q'), &["q"]),
            (c('G'), &["G"]),
            (c('é'), &["é"]),
            (c('€'), &["€"]),
            (c('😀'), &["😀"]),
        ];
        rows.into_iter().flat_map(|(key, seqs)| seqs.iter().map(move |s| (s.as_bytes(), key))).collect()
    }

    /// A lone ESC at the end of a chunk is the Esc key, so ESC and ESC + key (Alt) cannot be split.
    pub(super) fn splittable(bytes: &[u8]) -> bool {
        !matches!(bytes, [ESC]) && !matches!(bytes, [ESC, b, ..] if *b != b'[' && *b != b'O')
    }

    /// The table, and a paste with keys in it.
    pub(super) fn cases() -> Vec<(Vec<u8>, Vec<KeyEvent>)> {
        let mut cases: Vec<_> = table().into_iter().map(|(bytes, key)| (bytes.to_vec(), vec![key])).collect();
        let paste = "\x1b[200~a\tb\r\x03€ \x1b[A\x1b\x7f\x1b[201~".as_bytes();
        cases.push((paste.to_vec(), vec![c('a'), c('b'), c('€'), c(' ')]));
        cases
    }

    /// Every splittable sequence of the table, back to back.
    pub(super) fn back_to_back() -> (Vec<u8>, Vec<KeyEvent>) {
        let seqs = || table().into_iter().filter(|(b, _)| b.len() > 1 && splittable(b));
        (seqs().flat_map(|(b, _)| b.to_vec()).collect(), seqs().map(|(_, k)| k).collect())
    }

    #[test]
    fn every_sequence_gives_its_key() {
        for (bytes, want) in cases().into_iter().chain([back_to_back()]) {
            let got = whole(&bytes);
            assert_eq!(got, want, "{bytes:?}");
            assert!(got.iter().all(|k| k.kind == crossterm::event::KeyEventKind::Press));
        }
    }

    #[test]
    fn a_sequence_split_anywhere_gives_the_same_keys() {
        for (bytes, want) in cases().into_iter().chain([back_to_back()]).filter(|(b, _)| splittable(b)) {
            for cut in 1..bytes.len() {
                let mut p = KeyParser::new();
                let mut first = p.feed(&bytes[..cut]);
                let second = p.feed(&bytes[cut..]);
                if bytes[cut - 1] == ESC && first.last() == Some(&k(KeyCode::Esc, NONE)) {
                    // Cut right after an ESC outside a paste: an Esc more, then the same keys.
                    first.pop();
                }
                first.extend(second);
                assert_eq!(first, want, "{bytes:?} cut at {cut}");
            }
        }
        for (bytes, want) in cases().into_iter().filter(|(b, _)| splittable(b)) {
            // One byte per call, but an ESC that starts the input comes with its next byte.
            let mut p = KeyParser::new();
            let head = if bytes[0] == ESC { 2 } else { 1 };
            let mut got = p.feed(&bytes[..head]);
            got.extend(bytes[head..].iter().flat_map(|b| p.feed(&[*b])));
            assert_eq!(got, want, "{bytes:?} one byte at a time");
            assert!(p.pending.is_empty() && !p.paste);
        }
    }

    #[test]
    fn a_lone_esc_at_the_end_of_a_chunk_is_esc_but_inside_a_chunk_is_alt() {
        let mut p = KeyParser::new();
        assert_eq!(p.feed(b"\x1b"), vec![k(KeyCode::Esc, NONE)]);
        assert_eq!(p.feed(b"j"), vec![c('j')]);
        assert_eq!(p.feed(b"\x1bj"), vec![k(KeyCode::Char('j'), ALT)]);
        assert_eq!(p.feed(b"\x1b\x1b"), vec![k(KeyCode::Esc, NONE); 2]);
        assert_eq!(p.feed(b"\x1b["), vec![], "ESC [ waits for the rest");
        assert_eq!(p.feed(b"B"), vec![k(KeyCode::Down, NONE)]);
        // A sequence cut right after its ESC: Esc, then its key, not its letters.
        assert_eq!(p.feed(b"\x1b"), vec![k(KeyCode::Esc, NONE)]);
        assert_eq!(p.feed(b"[A"), vec![k(KeyCode::Up, NONE)]);
        assert_eq!(p.feed(b"\x1b"), vec![k(KeyCode::Esc, NONE)]);
        assert_eq!(p.feed(b"OPq"), vec![k(KeyCode::F(1), NONE), c('q')]);
        // ...but an Esc key, then '[' or 'O' typed alone, is those characters.
        assert_eq!(p.feed(b"\x1b"), vec![k(KeyCode::Esc, NONE)]);
        assert_eq!(p.feed(b"O"), vec![c('O')]);
        assert_eq!(p.feed(b"\x1b"), vec![k(KeyCode::Esc, NONE)]);
        assert_eq!(p.feed(b"["), vec![c('[')]);
    }

    #[test]
    fn what_is_not_a_key_is_dropped_whole() {
        let skipped: &[&[u8]] = &[
            b"\x1b[M !!",                        // X10 mouse report
            b"\x1b[M\x03\x1b\r",                 // X10 mouse report with control bytes as coordinates
            b"\x1b[<0;12;5M",                    // SGR mouse press
            b"\x1b[<0;12;5m",                    // SGR mouse release
            b"\x1b[32;12;5M",                    // urxvt mouse
            b"\x1b[I",                           // focus in
            b"\x1b[O",                           // focus out
            b"\x1b[24;80R",                      // cursor position report
            b"\x1b[1;80R",                       // cursor position report on the first row
            b"\x1b[0n",                          // device status report
            b"\x1b[?62;22c",                     // device attributes
            b"\x1b[99~",                         // unknown key
            b"\x1b[1;2;3A",                      // too many parameters
            b"\x1b[201~",                        // paste end outside a paste
            b"\x1bOz",                           // unknown SS3
            b"\x1b[[Z",                          // unknown linux key
            b"\xff\xfe\xc0\x80\xed\xa0\x80\x80", // invalid UTF-8 (overlong, surrogate, lone continuation)
            "\u{85}\u{9b}".as_bytes(),           // C1 control characters
        ];
        for bytes in skipped {
            let mut with_keys = bytes.to_vec();
            with_keys.extend_from_slice(b"q\x1b[A");
            assert_eq!(whole(&with_keys), vec![c('q'), k(KeyCode::Up, NONE)], "{bytes:?}");
        }
    }

    #[test]
    fn a_too_long_sequence_is_dropped_up_to_its_end_and_pending_stays_bounded() {
        let mut p = KeyParser::new();
        let mut long = b"\x1b[".to_vec();
        long.extend(std::iter::repeat_n(b'1', 10_000));
        for chunk in long.chunks(7) {
            assert_eq!(p.feed(chunk), vec![]);
            assert!(p.pending.len() <= MAX_SEQUENCE);
        }
        assert_eq!(p.feed(b"~q"), vec![c('q')], "the sequence's final byte is dropped with it");
        assert_eq!(p.feed(b"\x1b[1;1;1;1;1;1;1;1;1;1;1;1;1;1;1;1;1;1A\r"), vec![k(KeyCode::Enter, NONE)]);
    }

    #[test]
    fn a_control_byte_ends_a_broken_sequence_and_still_counts() {
        assert_eq!(whole(b"\x1b[12\x03"), vec![k(KeyCode::Char('c'), CTRL)]);
        assert_eq!(whole(b"\x1bO5\x03"), vec![k(KeyCode::Char('c'), CTRL)]);
        assert_eq!(whole(b"\x1b[[\x03"), vec![k(KeyCode::Char('c'), CTRL)]);
        assert_eq!(whole(b"\x1b[1\x1b[B"), vec![k(KeyCode::Down, NONE)]);
    }

    #[test]
    fn enter_cr_lf_is_one_key_even_across_chunks_but_two_crs_are_two() {
        let mut p = KeyParser::new();
        assert_eq!(p.feed(b"\r"), vec![k(KeyCode::Enter, NONE)]);
        assert_eq!(p.feed(b"\n"), vec![]);
        assert_eq!(p.feed(b"\r\r\n\n"), vec![k(KeyCode::Enter, NONE); 3]);
    }

    #[test]
    fn a_paste_gives_printable_characters_only_until_its_end() {
        let mut p = KeyParser::new();
        assert_eq!(p.feed(b"\x1b[200~12\r\n\x1b"), vec![c('1'), c('2')]);
        assert_eq!(p.feed(b"\x1bx\x7f3\x1b[20"), vec![c('3')], "ESC in a paste waits, then is dropped");
        assert_eq!(p.feed(b"1~\r"), vec![k(KeyCode::Enter, NONE)]);
    }

    /// Chunk boundaries at `cuts` (sorted, deduplicated, inside `bytes`).
    pub(super) fn chunked(bytes: &[u8], cuts: &[usize]) -> (Vec<KeyEvent>, usize) {
        let mut p = KeyParser::new();
        let (mut keys, mut most, mut from) = (Vec::new(), 0, 0);
        for &to in cuts.iter().chain([bytes.len()].iter()) {
            keys.extend(p.feed(&bytes[from..to]));
            most = most.max(p.pending.len());
            from = to;
        }
        (keys, most)
    }

    pub(super) fn cuts(len: usize, raw: Vec<usize>) -> Vec<usize> {
        let mut cuts: Vec<usize> = raw.into_iter().map(|c| c % (len + 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        cuts
    }
}
