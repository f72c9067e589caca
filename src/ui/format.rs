//! How a tag's current sample reads on screen.

use std::time::SystemTime;

use crate::layout::Tag;
use crate::tag::{Quality, Sample, Value, effective_quality};

/// The sample's quality as a person should see it now (Good turns Uncertain(stale) after three
/// poll periods without an update).
pub fn shown_quality(tag: &Tag, sample: &Sample, now: SystemTime) -> Quality {
    effective_quality(sample, now, tag.stale_after())
}

/// The value text: formatted value, or `----` when there has never been one.
pub fn value_text(tag: &Tag, sample: &Sample) -> String {
    match &sample.value {
        Some(v) => tag.format(v),
        None => "----".into(),
    }
}

/// A value with the tag's units (`6.25 bar`, or the value alone for a tag without units); `----`
/// when there is none.
pub fn with_units(tag: &Tag, v: Option<&Value>) -> String {
    match v {
        Some(v) if tag.units.is_empty() => tag.format(v),
        Some(v) => format!("{} {}", tag.format(v), tag.units),
        None => "----".into(),
    }
}

/// Quality in words, `good` included (for detail lines).
pub fn quality_word(q: &Quality) -> String {
    q.to_string()
}

/// Quality in words: empty for Good (ISA-101: normal is quiet).
pub fn quality_text(q: &Quality) -> String {
    match q {
        Quality::Good => String::new(),
        q => q.to_string(),
    }
}

/// Columns `s` takes on a terminal.
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// Text in at most `room` columns, cut at its end with `…` when it does not fit.
pub fn fit_text(text: &str, room: usize) -> String {
    if width(text) <= room {
        return text.to_string();
    }
    if room == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > room - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// A value as it fits in `room` columns, and whether it had to be shortened.
///
/// Never cut silently: a number that does not fit keeps its sign and its leading digits in a
/// shorter form marked `~` as rounded (`-1.2346e18~`, `1234.6~`); one that not even that fits is
/// `#` marks; text (and on/off texts) is cut at its end with `…`. The full value belongs on a
/// detail line.
pub fn fit_value(tag: &Tag, v: &Value, room: usize) -> (String, bool) {
    let full = tag.format(v);
    if width(&full) <= room {
        return (full, false);
    }
    let number = match *v {
        Value::Int(i) => Some(i as f64),
        Value::UInt(u) => Some(u as f64),
        Value::Float(f) if f.is_finite() => Some(f),
        Value::Float(_) => None,
        Value::Bool(_) | Value::Text(_) => return (fit_text(&full, room), true),
    };
    (number.and_then(|n| rounded(&full, n, room)).unwrap_or_else(|| "#".repeat(room)), true)
}

/// The most precise rounded form of `n` (shown in full as `full`) that fits in `room` columns with
/// its `~` mark: fewer decimals first, then scientific notation.
fn rounded(full: &str, n: f64, room: usize) -> Option<String> {
    // Dropping decimals keeps the leading digits only of a number of 1 or more.
    let decimals = if n.abs() >= 1.0 { full.split_once('.').map_or(0, |(_, frac)| frac.len()) } else { 0 };
    let fixed = (0..decimals).rev().map(|d| format!("{n:.d$}~"));
    let scientific = (0..=6usize).rev().map(|p| format!("{n:.p$e}~"));
    fixed.chain(scientific).find(|s| s.len() <= room)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(src: &str) -> Tag {
        let yaml = format!("connections:\n  c: {{ modbus_tcp: {{ host: h }} }}\ntags:\n  T: {{ source: c, {src} }}\n");
        crate::layout::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}")).tags[0].clone()
    }

    #[test]
    fn a_number_that_fits_is_shown_whole() {
        let t = tag("holding: 0, type: i64");
        assert_eq!(fit_value(&t, &Value::Int(-1234567890123456789), 20), ("-1234567890123456789".into(), false));
    }

    #[test]
    fn a_number_that_does_not_fit_keeps_its_sign_and_leading_digits_marked_rounded() {
        let t = tag("holding: 0, type: i64");
        let v = Value::Int(-1234567890123456789);
        assert_eq!(fit_value(&t, &v, 11), ("-1.2346e18~".into(), true));
        assert_eq!(fit_value(&t, &v, 16), ("-1.234568e18~".into(), true), "as precise as the room allows");
        assert_eq!(fit_value(&t, &v, 6), ("-1e18~".into(), true));
        assert_eq!(fit_value(&t, &v, 5), ("#####".into(), true), "never a wrong number");
        let u = tag("holding: 0, type: u64");
        assert_eq!(fit_value(&u, &Value::UInt(u64::MAX), 10), ("1.8447e19~".into(), true));
    }

    #[test]
    fn a_float_loses_decimals_before_it_goes_scientific() {
        let t = tag("holding: 0, type: f64, decimals: 4");
        assert_eq!(fit_value(&t, &Value::Float(1234.5678), 9), ("1234.5678".into(), false));
        assert_eq!(fit_value(&t, &Value::Float(1234.5678), 8), ("1234.57~".into(), true));
        assert_eq!(fit_value(&t, &Value::Float(-1234.5678), 6), ("-1235~".into(), true));
        let plain = tag("holding: 0, type: f64");
        assert_eq!(fit_value(&plain, &Value::Float(0.000123456), 7), ("1.2e-4~".into(), true), "never 0~");
    }

    #[test]
    fn every_shortened_number_reads_as_the_same_number() {
        let t = tag("holding: 0, type: f64");
        for &n in &[-1234567890123456789.0, 9.87654321e-7, -0.000123456, 98765.4321, 1e300, -1e-300, 42.0] {
            for room in 1..=24 {
                let (s, cut) = fit_value(&t, &Value::Float(n), room);
                assert!(width(&s) <= room, "{n} in {room}: {s}");
                if s.starts_with('#') {
                    continue;
                }
                let digits = s.trim_end_matches('~');
                let back: f64 = digits.parse().unwrap_or_else(|_| panic!("{n} in {room}: {s}"));
                assert_eq!(back.is_sign_negative(), n.is_sign_negative(), "the sign is kept: {n} in {room}: {s}");
                assert!((back - n).abs() <= n.abs() * 0.5, "the leading digit is kept: {n} in {room}: {s}");
                assert_eq!(cut, s.ends_with('~'), "shortened means marked: {n} in {room}: {s}");
            }
        }
    }

    #[test]
    fn text_is_cut_at_its_end() {
        let t = tag("holding: 0, type: string, length: 40");
        assert_eq!(fit_value(&t, &Value::Text("2026-12-04 12:00:00".into()), 10), ("2026-12-0…".into(), true));
        assert_eq!(fit_value(&t, &Value::Text("[1, 2, 3, 4]".into()), 6), ("[1, 2…".into(), true));
        assert_eq!(
            fit_value(&t, &Value::Text("泵泵泵".into()), 4),
            ("泵…".into(), true),
            "wide characters count twice"
        );
        assert_eq!(fit_text("abc", 0), "");
    }
}
