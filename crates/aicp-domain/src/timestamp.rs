//! The timestamp grammar of ingested events.
//!
//! The original accepted zod's `.datetime()`: `YYYY-MM-DDTHH:MM[:SS[.fraction]]Z` (upper-case `T`
//! and `Z`, seconds optional, any number of fraction digits, calendar-checked). We accept exactly
//! that plus RFC 3339 numeric offsets (`+07:00`, and `+0700` as the original's export routes did),
//! so that every timestamp the original SDK sends stays valid.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Parses an event timestamp. Fractions beyond microseconds (PostgreSQL's precision) are
/// truncated. `None` when the text does not follow the grammar or names no real instant.
pub fn parse_event_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if b.len() < 17 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let mut i = 16;
    let mut second = 0;
    let mut micros = 0;
    if b.get(i) == Some(&b':') {
        second = digits(b.get(i + 1..i + 3)?)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return None;
            }
            // Keep up to 6 digits, right-padded: ".5" is 500000 µs.
            let frac = &b[start..i.min(start + 6)];
            micros = digits(frac)? * 10u32.pow(6 - frac.len() as u32);
        }
    }
    let offset_seconds = parse_offset(&b[i..])?;
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let time = NaiveTime::from_hms_micro_opt(hour, minute, second, micros)?;
    let offset = FixedOffset::east_opt(offset_seconds)?;
    let local = NaiveDateTime::new(date, time);
    offset.from_local_datetime(&local).single().map(|dt| dt.with_timezone(&Utc))
}

/// `Z`, `±HH:MM` or `±HHMM`, and nothing after it.
fn parse_offset(b: &[u8]) -> Option<i32> {
    match b {
        [b'Z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, rest @ ..] => {
            let minutes = match rest {
                [b':', m1, m2] | [m1, m2] => digits(&[*m1, *m2])?,
                _ => return None,
            };
            let hours = digits(&[*h1, *h2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = (hours * 3600 + minutes * 60) as i32;
            Some(if *sign == b'-' { -total } else { total })
        }
        _ => None,
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> String {
        parse_event_timestamp(text)
            .unwrap_or_else(|| panic!("{text} should parse"))
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    }

    #[test]
    fn the_sdk_format_and_the_original_grammar_are_accepted() {
        assert_eq!(ok("2026-01-05T10:00:00.000Z"), "2026-01-05T10:00:00.000000Z");
        assert_eq!(ok("2026-01-01T00:00Z"), "2026-01-01T00:00:00.000000Z");
        assert_eq!(ok("2026-01-01T00:00:00Z"), "2026-01-01T00:00:00.000000Z");
        assert_eq!(ok("2026-01-01T00:00:00.123456789Z"), "2026-01-01T00:00:00.123456Z");
        assert_eq!(ok("2026-01-01T00:00:00.5Z"), "2026-01-01T00:00:00.500000Z");
    }

    #[test]
    fn rfc3339_offsets_are_converted_to_utc() {
        assert_eq!(ok("2026-01-01T07:00:00+07:00"), "2026-01-01T00:00:00.000000Z");
        assert_eq!(ok("2026-01-01T00:00:00-0130"), "2026-01-01T01:30:00.000000Z");
    }

    #[test]
    fn malformed_or_impossible_timestamps_are_rejected() {
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-01-01T25:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01",
            "2026-01-01 00:00:00Z",
            "2026-01-01t00:00:00z",
            "2026-01-01T00:00:00+07",
            "2026-01-01T00:00:00.Z",
            "+02026-01-01T00:00:00Z",
            "2026-01-01T00:00:60Z",
            "2026-01-01T00:00:00Zjunk",
            "",
        ] {
            assert!(parse_event_timestamp(bad).is_none(), "{bad} should be rejected");
        }
    }
}
