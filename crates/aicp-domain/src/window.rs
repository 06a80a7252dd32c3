//! Time windows of queries: `from`/`to` as the original's clients send them.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use crate::timestamp::parse_event_timestamp;

/// An inclusive time window `[from, to]` (the original compared with `>=` and `<=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// First instant.
    pub from: DateTime<Utc>,
    /// Last instant.
    pub to: DateTime<Utc>,
}

/// Why a window is invalid; the messages are the original's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// `from` is missing.
    #[error("\"from\" is required")]
    MissingFrom,
    /// `to` is missing.
    #[error("\"to\" is required")]
    MissingTo,
    /// `from` does not parse.
    #[error("Invalid \"from\" date format")]
    InvalidFrom,
    /// `to` does not parse.
    #[error("Invalid \"to\" date format")]
    InvalidTo,
    /// `from` is not before `to`.
    #[error("\"from\" must be before \"to\"")]
    Inverted,
}

/// The first instant a window may name (year 1): PostgreSQL's range reaches further back, but a
/// window starting earlier, or a previous window computed from it, would not fit.
pub fn earliest() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or_default().and_time(NaiveTime::MIN).and_utc()
}

/// The last instant a window may name (the end of year 9999).
pub fn latest() -> DateTime<Utc> {
    let end = NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap_or(NaiveTime::MIN);
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default().and_time(end).and_utc()
}

/// Parses an instant: an RFC 3339 / ISO timestamp (the event grammar) or a date (`YYYY-MM-DD`,
/// midnight UTC; as an end bound, the end of that day, so that the day is included). `None`
/// outside years 1 to 9999, which no stored event has and the database could not compare.
pub fn parse_bound(text: &str, end: bool) -> Option<DateTime<Utc>> {
    let t = match parse_event_timestamp(text) {
        Some(t) => t,
        None => {
            let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            let time = if end {
                NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999)?
            } else {
                NaiveTime::MIN
            };
            day.and_time(time).and_utc()
        }
    };
    (earliest()..=latest()).contains(&t).then_some(t)
}

impl TimeWindow {
    /// Every instant a stored event can have (1970 to the end of 9999): "no time limit" as a
    /// window PostgreSQL accepts.
    #[must_use]
    pub fn everything() -> Self {
        use chrono::TimeZone as _;
        Self {
            from: Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).single().unwrap_or_default(),
            to: Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single().unwrap_or_default(),
        }
    }

    /// A window from the `from` and `to` query values.
    ///
    /// # Errors
    /// [`WindowError`] with the original's messages.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Self, WindowError> {
        let from = from.filter(|s| !s.is_empty()).ok_or(WindowError::MissingFrom)?;
        let to = to.filter(|s| !s.is_empty()).ok_or(WindowError::MissingTo)?;
        let from = parse_bound(from, false).ok_or(WindowError::InvalidFrom)?;
        let to = parse_bound(to, true).ok_or(WindowError::InvalidTo)?;
        if from >= to {
            return Err(WindowError::Inverted);
        }
        Ok(Self { from, to })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bounds_outside_years_1_to_9999_are_invalid() {
        for text in ["-262143-01-01", "-5000-01-01", "+262142-12-31", "0000-12-31"] {
            assert_eq!(parse_bound(text, false), None, "{text}");
        }
        assert_eq!(parse_bound("0001-01-01", false), Some(earliest()));
        assert_eq!(parse_bound("9999-12-31", true), Some(latest()));
        assert!(TimeWindow::parse(Some("-5000-01-01"), Some("2026-01-01")).is_err());
    }

    #[test]
    fn windows_accept_timestamps_and_whole_days() {
        let w = TimeWindow::parse(Some("2026-01-01"), Some("2026-01-31")).unwrap();
        assert_eq!(w.from.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert_eq!(w.to.to_rfc3339(), "2026-01-31T23:59:59.999999+00:00");
        let w = TimeWindow::parse(Some("2026-01-01T00:00:00Z"), Some("2026-01-01T01:00:00+01:00"));
        assert_eq!(w, Err(WindowError::Inverted));
    }

    #[test]
    fn bad_windows_get_the_original_messages() {
        assert_eq!(TimeWindow::parse(None, Some("2026-01-01")), Err(WindowError::MissingFrom));
        assert_eq!(TimeWindow::parse(Some("x"), Some("2026-01-01")), Err(WindowError::InvalidFrom));
        assert_eq!(TimeWindow::parse(Some("2026-01-01"), Some("y")), Err(WindowError::InvalidTo));
        let e = TimeWindow::parse(Some("2026-02-01"), Some("2026-01-01")).unwrap_err();
        assert_eq!(e.to_string(), "\"from\" must be before \"to\"");
    }
}
