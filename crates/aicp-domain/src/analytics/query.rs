//! Analytics query parameters: what to group by, bucket sizes, filters and time zones, parsed
//! from query strings into types (anything else is a 400 with a clear message).

use chrono::{DateTime, Datelike, Duration, Months, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::window::TimeWindow;

/// Dimension of a cost breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// `feature`.
    Feature,
    /// `model`.
    Model,
    /// `provider`.
    Provider,
    /// `user` (the `user_id` column).
    User,
}

impl GroupBy {
    /// Parses the original's values.
    ///
    /// # Errors
    /// zod's enum message when the value is not one of them.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "feature" => Ok(GroupBy::Feature),
            "model" => Ok(GroupBy::Model),
            "provider" => Ok(GroupBy::Provider),
            "user" => Ok(GroupBy::User),
            other => Err(format!(
                "Invalid enum value. Expected 'feature' | 'model' | 'provider' | 'user', received '{other}'"
            )),
        }
    }
}

/// Bucket size of a time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One hour.
    Hour,
    /// One day.
    Day,
    /// One ISO week (from Monday).
    Week,
    /// One calendar month.
    Month,
}

impl Granularity {
    /// Parses `hour`, `day`, `week` or `month`.
    ///
    /// # Errors
    /// zod's enum message otherwise.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "hour" => Ok(Granularity::Hour),
            "day" => Ok(Granularity::Day),
            "week" => Ok(Granularity::Week),
            "month" => Ok(Granularity::Month),
            other => Err(format!(
                "Invalid enum value. Expected 'hour' | 'day' | 'week' | 'month', received '{other}'"
            )),
        }
    }

    /// The PostgreSQL `date_trunc` unit.
    pub fn unit(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }
}

/// Which calls to count. Every field narrows; `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Exact feature.
    pub feature: Option<String>,
    /// Exact model (as reported).
    pub model: Option<String>,
    /// Exact provider.
    pub provider: Option<String>,
    /// Exact user id.
    pub user_id: Option<String>,
    /// Only failed (`true`) or only successful (`false`) calls.
    pub is_error: Option<bool>,
}

impl Filter {
    /// Whether the per-hour/day rollups can answer under this filter (they have no user column).
    pub fn fits_rollups(&self) -> bool {
        self.user_id.is_none()
    }

    /// Checks the values: a NUL character can be in no stored text (PostgreSQL's text has none)
    /// and the database refuses it in a query, so it is the client's error.
    ///
    /// # Errors
    /// A message naming the parameter.
    pub fn check(self) -> Result<Self, String> {
        let values = [
            ("feature", &self.feature),
            ("model", &self.model),
            ("provider", &self.provider),
            ("userId", &self.user_id),
        ];
        for (name, value) in values {
            if value.as_deref().is_some_and(|v| v.contains('\0')) {
                return Err(format!("\"{name}\" must not contain a NUL character"));
            }
        }
        Ok(self)
    }

    /// Whether the per-user rollup can answer (it only has users).
    pub fn fits_user_rollup(&self) -> bool {
        self.feature.is_none()
            && self.model.is_none()
            && self.provider.is_none()
            && self.is_error.is_none()
    }
}

/// Parses an IANA time-zone name (`Europe/Paris`); `UTC` when absent.
///
/// # Errors
/// A message naming the unknown zone.
pub fn parse_tz(value: Option<&str>) -> Result<Tz, String> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(Tz::UTC),
        Some(name) => name.parse::<Tz>().map_err(|_| {
            format!("Unknown time zone '{name}' (expected an IANA name such as Europe/Paris)")
        }),
    }
}

/// Start instants of the buckets covering `window`, in `tz` (what PostgreSQL's
/// `date_trunc(unit, ts, tz)` returns), at most `max`. Hours step in absolute time (so repeated
/// and skipped local hours around DST changes come out as PostgreSQL numbers them); days, weeks
/// and months step in local calendar time.
pub fn bucket_starts(
    window: &TimeWindow,
    g: Granularity,
    tz: Tz,
    max: usize,
) -> Vec<DateTime<Utc>> {
    let local = window.from.with_timezone(&tz).naive_local();
    let date = local.date();
    let first_local = match g {
        Granularity::Hour => date.and_hms_opt(local.hour(), 0, 0),
        Granularity::Day => date.and_hms_opt(0, 0, 0),
        Granularity::Week => (date
            - Duration::days(i64::from(date.weekday().num_days_from_monday())))
        .and_hms_opt(0, 0, 0),
        Granularity::Month => date.with_day(1).and_then(|d| d.and_hms_opt(0, 0, 0)),
    };
    let Some(first_local) = first_local else { return Vec::new() };
    let to_utc = |l: NaiveDateTime| {
        tz.from_local_datetime(&l)
            .earliest()
            .or_else(|| tz.from_local_datetime(&(l + Duration::hours(1))).earliest())
            .map(|t| t.with_timezone(&Utc))
    };
    let mut out = Vec::new();
    let mut local = first_local;
    let Some(mut utc) = to_utc(first_local) else { return out };
    while utc <= window.to && out.len() < max {
        out.push(utc);
        match g {
            Granularity::Hour => {
                // The next local hour boundary after `utc`.
                let next = utc + Duration::hours(1);
                let l = next.with_timezone(&tz).naive_local();
                let trunc = l.date().and_hms_opt(l.hour(), 0, 0).unwrap_or(l);
                utc = to_utc(trunc).filter(|t| *t > utc).unwrap_or(next);
                continue;
            }
            Granularity::Day => local += Duration::days(1),
            Granularity::Week => local += Duration::days(7),
            Granularity::Month => {
                local =
                    local.checked_add_months(Months::new(1)).unwrap_or(local + Duration::days(31));
            }
        }
        match to_utc(local) {
            Some(t) => utc = t,
            None => break,
        }
    }
    out
}

/// Parses a boolean query value.
///
/// # Errors
/// A message when the value is not `true` or `false`.
pub fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("\"{name}\" must be true or false, received '{other}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_parse_the_original_values_and_reject_others_with_zods_message() {
        assert_eq!(GroupBy::parse("user"), Ok(GroupBy::User));
        assert_eq!(
            GroupBy::parse("bogus").unwrap_err(),
            "Invalid enum value. Expected 'feature' | 'model' | 'provider' | 'user', received 'bogus'"
        );
        assert_eq!(Granularity::parse("month"), Ok(Granularity::Month));
        assert!(Granularity::parse("minute").is_err());
    }

    #[test]
    fn buckets_follow_local_calendars_and_dst() {
        let w = |a: &str, b: &str| TimeWindow::parse(Some(a), Some(b)).unwrap();
        let starts = bucket_starts(
            &w("2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z"),
            Granularity::Day,
            Tz::Europe__Paris,
            100,
        );
        let text: Vec<String> = starts.iter().map(|t| t.to_rfc3339()).collect();
        // Paris switches to summer time on 2026-03-29: local midnights are 23:00Z then 22:00Z.
        assert_eq!(
            text,
            ["2026-03-27T23:00:00+00:00", "2026-03-28T23:00:00+00:00", "2026-03-29T22:00:00+00:00"]
        );
        let hours = bucket_starts(
            &w("2026-01-01T00:10:00Z", "2026-01-01T02:00:00Z"),
            Granularity::Hour,
            Tz::Asia__Kolkata,
            100,
        );
        let text: Vec<String> = hours.iter().map(|t| t.to_rfc3339()).collect();
        assert_eq!(
            text,
            ["2025-12-31T23:30:00+00:00", "2026-01-01T00:30:00+00:00", "2026-01-01T01:30:00+00:00"]
        );
        let weeks = bucket_starts(&w("2026-01-07", "2026-01-20"), Granularity::Week, Tz::UTC, 100);
        assert_eq!(weeks.len(), 3);
        assert_eq!(weeks[0].to_rfc3339(), "2026-01-05T00:00:00+00:00");
        let months =
            bucket_starts(&w("2026-01-31", "2026-03-01"), Granularity::Month, Tz::UTC, 100);
        assert_eq!(months.len(), 3);
        assert_eq!(
            bucket_starts(&w("2026-01-01", "2026-12-31"), Granularity::Hour, Tz::UTC, 10).len(),
            10
        );
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(parse_tz(None), Ok(Tz::UTC));
        assert_eq!(parse_tz(Some("Europe/Paris")), Ok(Tz::Europe__Paris));
        assert!(parse_tz(Some("Mars/Olympus")).is_err());
        assert!(parse_tz(Some("'; DROP TABLE events; --")).is_err());
    }
}
