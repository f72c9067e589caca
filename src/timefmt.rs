//! Time formatting: RFC 3339 UTC for logs and machine output, local time on screen, short ages.

use std::time::{Duration, SystemTime};

use time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

/// `t` as a date, kept within the years 0000–9999 the formats can show (a time from a device or a
/// file can be anything; `OffsetDateTime::from` panics outside them).
fn utc(t: SystemTime) -> OffsetDateTime {
    const FIRST: OffsetDateTime = time::macros::datetime!(0000-01-01 00:00:00 UTC);
    const LAST: OffsetDateTime = time::macros::datetime!(9999-12-31 23:59:59.999_999_999 UTC);
    let nanos = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => i128::try_from(e.duration().as_nanos()).map_or(i128::MIN, |n| -n),
    };
    match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(dt) => dt.clamp(FIRST, LAST),
        Err(_) if nanos < 0 => FIRST,
        Err(_) => LAST,
    }
}

/// `t` in `offset`, or in UTC where the offset would leave the years 0000–9999.
fn local(t: SystemTime, offset: UtcOffset) -> OffsetDateTime {
    let dt = utc(t);
    dt.checked_to_offset(offset).unwrap_or(dt)
}

/// `2026-11-29T19:10:00.123Z`.
pub fn rfc3339_utc(t: SystemTime) -> String {
    let dt = utc(t);
    let ms = dt.millisecond();
    let dt = dt.replace_nanosecond(ms as u32 * 1_000_000).unwrap_or(dt);
    dt.format(&Rfc3339).unwrap_or_else(|_| "?".into())
}

/// `2026-11-29 19:10:00Z`: a date and time value, compact for a table column.
pub fn date_time_utc(t: SystemTime) -> String {
    let dt = utc(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        dt.year(),
        dt.month() as u8,
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// `HH:MM:SS` in the given offset.
pub fn clock(t: SystemTime, offset: UtcOffset) -> String {
    let dt = local(t, offset);
    format!("{:02}:{:02}:{:02}", dt.hour(), dt.minute(), dt.second())
}

/// `HH:MM:SS.mmm` in the given offset.
pub fn clock_ms(t: SystemTime, offset: UtcOffset) -> String {
    let dt = local(t, offset);
    format!("{:02}:{:02}:{:02}.{:03}", dt.hour(), dt.minute(), dt.second(), dt.millisecond())
}

/// The local UTC offset. Call before any thread starts (the `time` crate refuses later on Unix).
pub fn local_offset() -> UtcOffset {
    UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC)
}

/// A short age: `0s`, `59s`, `5m`, `3h`, `2d`.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// An alarm's age, to the second for the first hour: `45s`, `12m05s`, `3h12m`, `2d04h`.
pub fn age_long(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A duration as a person reads it: `420ns`, `850µs`, `12.3ms`, `1.50s`.
pub fn short(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        format!("{}ns", d.as_nanos())
    } else if us < 1000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1000.0)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_443_400_123);
        assert_eq!(rfc3339_utc(t), "2025-11-29T19:10:00.123Z");
        assert_eq!(clock(t, UtcOffset::UTC), "19:10:00");
        assert_eq!(date_time_utc(t), "2025-11-29 19:10:00Z");
        assert_eq!(clock_ms(t, UtcOffset::UTC), "19:10:00.123");
        assert_eq!(clock(t, UtcOffset::from_hms(1, 0, 0).unwrap()), "20:10:00");
        assert_eq!(age(Duration::from_secs(61)), "1m");
        assert_eq!(age(Duration::from_secs(90_000)), "1d");
        assert_eq!(short(Duration::from_micros(850)), "850µs");
        assert_eq!(short(Duration::from_micros(12_345)), "12.3ms");
        assert_eq!(short(Duration::from_millis(1500)), "1.50s");
    }

    #[test]
    fn times_outside_the_years_0000_to_9999_show_as_the_ends_never_a_panic() {
        let east = UtcOffset::from_hms(5, 0, 0).unwrap();
        let west = UtcOffset::from_hms(-5, 0, 0).unwrap();
        for far in [
            SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 40),
            SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_800),
        ] {
            assert_eq!(date_time_utc(far), "9999-12-31 23:59:59Z");
            assert_eq!(rfc3339_utc(far), "9999-12-31T23:59:59.999Z");
            assert_eq!(clock(far, east), "23:59:59", "an offset past the last day: shown in UTC");
            assert_eq!(clock_ms(far, west), "18:59:59.999");
        }
        for early in [
            SystemTime::UNIX_EPOCH - Duration::from_secs(1 << 40),
            SystemTime::UNIX_EPOCH - Duration::from_secs(62_167_219_201),
        ] {
            assert_eq!(date_time_utc(early), "0000-01-01 00:00:00Z");
            assert_eq!(rfc3339_utc(early), "0000-01-01T00:00:00Z");
            assert_eq!(clock(early, west), "19:00:00");
            assert_eq!(clock(early, east), "05:00:00");
        }
        // Inside the range, before 1970: exact.
        let before = SystemTime::UNIX_EPOCH - Duration::from_millis(86_400_000 - 123);
        assert_eq!(rfc3339_utc(before), "1969-12-31T00:00:00.123Z");
    }
}
