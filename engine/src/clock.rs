//! The wall clock and its one text form, shared by every crate: epoch milliseconds and
//! microseconds, and ISO 8601 / RFC 3339 rendering (UTC, millisecond precision).
//!
//! Owns: reading `SystemTime` and turning epoch times into civil dates. Must not know
//! about tables, streams or the wire: callers choose which form a field wants.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch; 0 if the clock reads before the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Microseconds since the Unix epoch; 0 if the clock reads before the epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Epoch milliseconds as ISO 8601 without a zone designator
/// (`2015-05-11T21:21:33.291`), the form DynamoDB Streams puts in shard labels.
pub fn iso8601_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let (h, mi, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let (y, m, d) = civil_from_days(secs / 86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}",
        ms % 1000
    )
}

/// Epoch milliseconds as RFC 3339 UTC (`2024-05-01T12:00:00.123Z`).
pub fn rfc3339_ms(ms: u64) -> String {
    format!("{}Z", iso8601_ms(ms))
}

/// The civil date (year, month 1–12, day 1–31) of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: u64) -> (i64, i64, i64) {
    let z = i64::try_from(days).unwrap_or(i64::MAX / 2) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, the inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: u64, d: u64) -> i64 {
    let (m, d) = (i64::try_from(m).unwrap_or(1), i64::try_from(d).unwrap_or(1));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_civil_dates() {
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000");
        assert_eq!(iso8601_ms(1_431_379_293_291), "2015-05-11T21:21:33.291");
        assert_eq!(iso8601_ms(951_782_400_000), "2000-02-29T00:00:00.000");
        assert_eq!(rfc3339_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339_ms(1_714_564_800_000), "2024-05-01T12:00:00.000Z");
    }

    #[test]
    fn the_clock_reads_after_2020() {
        assert!(now_ms() > 1_577_836_800_000);
        assert!(now_us() / 1000 >= now_ms() - 1000);
    }
}
