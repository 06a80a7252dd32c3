//! Analytics query parameters: what to group by, bucket sizes, filters and time zones, parsed
//! from query strings into types (anything else is a 400 with a clear message).

use chrono_tz::Tz;

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
        Some(name) => name
            .parse::<Tz>()
            .map_err(|_| format!("Unknown time zone '{name}' (expected an IANA name such as Europe/Paris)")),
    }
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
    fn time_zones_are_iana_names() {
        assert_eq!(parse_tz(None), Ok(Tz::UTC));
        assert_eq!(parse_tz(Some("Europe/Paris")), Ok(Tz::Europe__Paris));
        assert!(parse_tz(Some("Mars/Olympus")).is_err());
        assert!(parse_tz(Some("'; DROP TABLE events; --")).is_err());
    }
}
