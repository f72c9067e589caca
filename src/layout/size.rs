//! Amounts of memory written as `512MiB`, `2GiB`, `1500MB` (a number and a unit).

use serde::{Deserialize, Deserializer};

/// An amount of memory as written in a layout file, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

/// The units a size may be written in, with their bytes: binary (KiB, MiB, GiB, TiB) and
/// decimal (kB, MB, GB, TB), in any case.
const UNITS: [(&str, u64); 9] = [
    ("b", 1),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
];

pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') || num.matches('.').count() > 1 {
        return Err(format!("`{text}` is not a size; write e.g. `512MiB` or `2GiB`"));
    }
    let unit = unit.trim();
    if unit.is_empty() {
        return Err(format!("size `{text}` has no unit"));
    }
    let Some(&(_, scale)) = UNITS.iter().find(|(u, _)| unit.eq_ignore_ascii_case(u)) else {
        return Err(format!("unknown unit `{unit}` in size `{text}`"));
    };
    // Whole and fractional part apart, in integers: `1.5GiB` is exactly 1610612736 bytes.
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    let too_large = || format!("size `{text}` is too large");
    let whole: u64 = whole.parse().map_err(|_| too_large())?;
    let bytes = whole.checked_mul(scale).ok_or_else(too_large)?;
    // At most 12 decimals (finer than a byte of a TiB); the rest is dropped.
    let frac = &frac[..frac.len().min(12)];
    let part = match frac.parse::<u128>() {
        Ok(f) => f * u128::from(scale) / 10u128.pow(frac.len() as u32),
        Err(_) => 0,
    };
    bytes.checked_add(u64::try_from(part).map_err(|_| too_large())?).ok_or_else(too_large)
}

/// The hint for a size that cannot be read.
pub const SIZE_HINT: &str = "write e.g. `512MiB` or `2GiB`: use KiB, MiB, GiB or TiB (or kB, MB, GB, TB)";

/// Bytes for people: `512 MiB`, `12.9 GiB`, `26.4 MiB`, `211 MiB` (binary units, three digits).
pub fn format_size(bytes: u64) -> String {
    const NAMES: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < NAMES.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes} bytes");
    }
    let text = if value >= 99.95 { format!("{value:.0}") } else { format!("{value:.1}") };
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", NAMES[unit])
}

/// Bytes as a layout writes them, rounded up to a whole unit: `13GiB`, `600MiB`.
pub fn size_at_least(bytes: u64) -> String {
    const NAMES: [(&str, u64); 4] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (name, unit) in NAMES {
        if bytes >= unit {
            return format!("{}{name}", bytes.div_ceil(unit));
        }
    }
    "1KiB".into()
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a size such as `512MiB` or `2GiB`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Size, E> {
                parse_size(v).map(Size).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Size, E> {
                Err(E::custom(format!("size `{v}` has no unit")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Size, E> {
                Err(E::custom(format!("size `{v}` has no unit")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Size, E> {
                Err(E::custom(format!("size `{v}` has no unit")))
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for Size {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Size".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9]+(\\.[0-9]+)? ?([KkMmGgTt][Ii]?[Bb]|[Bb])$",
            "description": "An amount of memory: a number and a unit, e.g. 512MiB, 2GiB (KiB, MiB, GiB, TiB; kB, MB, GB, TB)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_and_decimal_units() {
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("1500MB"), Ok(1_500_000_000));
        assert_eq!(parse_size("1tib"), Ok(1 << 40));
        assert_eq!(parse_size("64kB"), Ok(64_000));
        assert_eq!(parse_size("100 b"), Ok(100));
    }

    #[test]
    fn rejects_with_a_reason() {
        assert_eq!(parse_size("512"), Err("size `512` has no unit".into()));
        assert_eq!(parse_size("3 parsecs"), Err("unknown unit `parsecs` in size `3 parsecs`".into()));
        assert!(parse_size("MiB").unwrap_err().contains("is not a size"));
        assert!(parse_size("1.2.3MiB").unwrap_err().contains("is not a size"));
        assert!(parse_size("-1MiB").unwrap_err().contains("is not a size"));
        assert!(parse_size("99999999999999TiB").unwrap_err().contains("too large"));
    }

    #[test]
    fn formats_for_people_and_for_layouts() {
        assert_eq!(format_size(512 << 20), "512 MiB");
        assert_eq!(format_size(27_648_000), "26.4 MiB");
        assert_eq!(format_size(13_824_000_000), "12.9 GiB");
        assert_eq!(format_size(100), "100 bytes");
        assert_eq!(format_size(100 << 10), "100 KiB");
        assert_eq!(format_size(221_184_000), "211 MiB");
        assert_eq!(format_size(1023 << 20), "1023 MiB");
        assert_eq!(size_at_least(13_824_000_000), "13GiB");
        assert_eq!(size_at_least(512 << 20), "512MiB");
        assert_eq!(size_at_least((512 << 20) + 1), "513MiB");
    }
}
