//! Budget periods: the calendar day, ISO week (from Monday) or calendar month that contains an
//! instant, in the budget's IANA time zone, as UTC instants. Boundaries are local midnights, so a
//! day across a DST change lasts 23 or 25 hours.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// How long a budget runs before it resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// A calendar day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl Period {
    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// Parses `day`, `week` or `month`.
    ///
    /// # Errors
    /// A message naming the accepted values.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            other => Err(format!(
                "Invalid enum value. Expected 'day' | 'week' | 'month', received '{other}'"
            )),
        }
    }
}

/// One occurrence of a period: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodBounds {
    /// First instant (a local midnight).
    pub start: DateTime<Utc>,
    /// First instant of the next period.
    pub end: DateTime<Utc>,
}

impl PeriodBounds {
    /// The period of `kind` in `tz` that contains `at`.
    pub fn containing(kind: Period, tz: Tz, at: DateTime<Utc>) -> Self {
        let today = at.with_timezone(&tz).date_naive();
        let first = match kind {
            Period::Day => today,
            Period::Week => {
                today - Duration::days(i64::from(today.weekday().num_days_from_monday()))
            }
            Period::Month => today.with_day(1).unwrap_or(today),
        };
        let next = match kind {
            Period::Day => first + Duration::days(1),
            Period::Week => first + Duration::days(7),
            Period::Month => first.checked_add_months(Months::new(1)).unwrap_or(first),
        };
        Self { start: local_midnight(tz, first), end: local_midnight(tz, next) }
    }

    /// The period before this one.
    pub fn previous(self, kind: Period, tz: Tz) -> Self {
        Self::containing(kind, tz, self.start - Duration::microseconds(1))
    }

    /// Length of the period.
    pub fn length(self) -> Duration {
        self.end - self.start
    }
}

/// The first instant of `day` in `tz`: its midnight, or — where a DST change skips midnight
/// (e.g. America/Santiago) — the first local time that exists that day.
fn local_midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight: NaiveDateTime = day.and_time(chrono::NaiveTime::MIN);
    // Skipped local times are found by stepping forward; no zone skips more than a few hours.
    (0..=24 * 4)
        .map(|quarter| midnight + Duration::minutes(15 * quarter))
        .find_map(|local| tz.from_local_datetime(&local).earliest())
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn bounds(kind: Period, tz: Tz, now: &str) -> (String, String) {
        let b = PeriodBounds::containing(kind, tz, at(now));
        (b.start.to_rfc3339(), b.end.to_rfc3339())
    }

    #[test]
    fn a_new_york_day_across_the_spring_change_lasts_23_hours() {
        // 2026-03-08: clocks go from 02:00 EST to 03:00 EDT.
        let b = PeriodBounds::containing(
            Period::Day,
            Tz::America__New_York,
            at("2026-03-08T12:00:00Z"),
        );
        assert_eq!(b.start.to_rfc3339(), "2026-03-08T05:00:00+00:00");
        assert_eq!(b.end.to_rfc3339(), "2026-03-09T04:00:00+00:00");
        assert_eq!(b.length(), Duration::hours(23));
    }

    #[test]
    fn a_new_york_day_across_the_autumn_change_lasts_25_hours() {
        // 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST.
        let b = PeriodBounds::containing(
            Period::Day,
            Tz::America__New_York,
            at("2026-11-01T06:30:00Z"),
        );
        assert_eq!(b.start.to_rfc3339(), "2026-11-01T04:00:00+00:00");
        assert_eq!(b.end.to_rfc3339(), "2026-11-02T05:00:00+00:00");
        assert_eq!(b.length(), Duration::hours(25));
    }

    #[test]
    fn a_berlin_week_across_the_spring_change_is_one_hour_short() {
        // 2026-03-29 (a Sunday): Berlin goes from CET to CEST. The week starts Monday 2026-03-23.
        assert_eq!(
            bounds(Period::Week, Tz::Europe__Berlin, "2026-03-29T10:00:00Z"),
            ("2026-03-22T23:00:00+00:00".into(), "2026-03-29T22:00:00+00:00".into())
        );
        let b =
            PeriodBounds::containing(Period::Week, Tz::Europe__Berlin, at("2026-03-29T10:00:00Z"));
        assert_eq!(b.length(), Duration::hours(7 * 24 - 1));
        // One microsecond before the next Monday's local midnight is still the same week.
        assert_eq!(
            PeriodBounds::containing(
                Period::Week,
                Tz::Europe__Berlin,
                b.end - Duration::microseconds(1)
            ),
            b
        );
        assert_ne!(PeriodBounds::containing(Period::Week, Tz::Europe__Berlin, b.end), b);
    }

    #[test]
    fn a_berlin_month_across_the_autumn_change_ends_at_local_midnight_of_the_first() {
        assert_eq!(
            bounds(Period::Month, Tz::Europe__Berlin, "2026-10-31T23:30:00Z"),
            // 23:30Z on Oct 31 is already 00:30 on Nov 1 in Berlin (CET, +01:00).
            ("2026-10-31T23:00:00+00:00".into(), "2026-11-30T23:00:00+00:00".into())
        );
        assert_eq!(
            bounds(Period::Month, Tz::Europe__Berlin, "2026-10-15T00:00:00Z"),
            ("2026-09-30T22:00:00+00:00".into(), "2026-10-31T23:00:00+00:00".into())
        );
    }

    #[test]
    fn months_have_their_calendar_lengths_including_leap_february() {
        let feb = PeriodBounds::containing(Period::Month, Tz::UTC, at("2028-02-29T23:59:59Z"));
        assert_eq!(feb.start.to_rfc3339(), "2028-02-01T00:00:00+00:00");
        assert_eq!(feb.end.to_rfc3339(), "2028-03-01T00:00:00+00:00");
        let dec = PeriodBounds::containing(Period::Month, Tz::UTC, at("2026-12-31T12:00:00Z"));
        assert_eq!(dec.end.to_rfc3339(), "2027-01-01T00:00:00+00:00");
        assert_eq!(
            dec.previous(Period::Month, Tz::UTC).start.to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_at_the_first_local_time() {
        // Santiago moved clocks from 00:00 to 01:00 on 2026-09-06.
        let b = PeriodBounds::containing(
            Period::Day,
            Tz::America__Santiago,
            at("2026-09-06T12:00:00Z"),
        );
        assert_eq!(
            b.start.with_timezone(&Tz::America__Santiago).to_rfc3339(),
            "2026-09-06T01:00:00-03:00"
        );
        assert_eq!(b.length(), Duration::hours(23));
    }

    #[test]
    fn periods_parse_their_names_only() {
        assert_eq!(Period::parse("week"), Ok(Period::Week));
        assert!(Period::parse("year").is_err());
    }
}
