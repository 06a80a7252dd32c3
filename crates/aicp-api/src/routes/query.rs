//! What the read endpoints share: the analytics query parameters, the "result was cut" header,
//! and how the domain's read errors become HTTP errors.

use actix_web::HttpResponse;
use actix_web::http::header::{HeaderName, HeaderValue};
use aicp_domain::TimeWindow;
use aicp_domain::analytics::query::parse_bool;
use aicp_domain::analytics::{AnalyticsError, Filter};
use aicp_domain::prompts::PromptError;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;

/// Header set when a result was cut at its maximum size.
pub const TRUNCATED: &str = "x-result-truncated";

/// Every query parameter the analytics endpoints read (each endpoint ignores the ones it does
/// not use, as the original ignored unknown keys). A repeated key is a 400.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// Window start: RFC 3339 (`2026-01-05T10:00:00.000Z`, offsets allowed) or `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Window end (inclusive); a bare date means the whole day.
    pub to: Option<String>,
    /// `feature` | `model` | `provider` | `user` (cost-breakdown).
    pub group_by: Option<String>,
    /// `hour` | `day` | `week` | `month` (timeseries).
    pub granularity: Option<String>,
    /// IANA time zone for buckets (timeseries), default UTC.
    pub tz: Option<String>,
    /// `true`: empty buckets as 0 (timeseries).
    pub fill: Option<String>,
    /// Only this feature.
    pub feature: Option<String>,
    /// Only this model.
    pub model: Option<String>,
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this user.
    pub user_id: Option<String>,
    /// `true`: failed calls only; `false`: successful calls only.
    pub is_error: Option<String>,
    /// Page size (events: default 50, max 200; top-calls: default 20, max 100).
    pub limit: Option<String>,
    /// Opaque cursor from the previous page (events).
    pub cursor: Option<String>,
}

impl AnalyticsQuery {
    /// The window of `from` and `to`.
    ///
    /// # Errors
    /// 400 with the original's messages.
    pub fn window(&self) -> Result<TimeWindow, ApiError> {
        Ok(TimeWindow::parse(self.from.as_deref(), self.to.as_deref())?)
    }

    /// The filter of `feature`, `model`, `provider`, `userId`, `isError` (empty values ignored).
    ///
    /// # Errors
    /// 400 for an `isError` that is not a boolean.
    pub fn filter(&self) -> Result<Filter, ApiError> {
        let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let is_error = match self.is_error.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(v) => Some(parse_bool("isError", v).map_err(ApiError::InvalidParameter)?),
        };
        Filter {
            feature: non_empty(&self.feature),
            model: non_empty(&self.model),
            provider: non_empty(&self.provider),
            user_id: non_empty(&self.user_id),
            is_error,
        }
        .check()
        .map_err(ApiError::InvalidParameter)
    }

    /// A page size: absent → `default`; not a positive integer → 400; above `max` → `max`.
    ///
    /// # Errors
    /// 400 naming the value.
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.limit.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n.min(max)),
                _ => Err(ApiError::InvalidParameter(format!(
                    "\"limit\" must be a whole number from 1 to {max}, received '{v}'"
                ))),
            },
        }
    }
}

/// A required enum parameter: absent → zod's `Required`, unknown → zod's enum message.
///
/// # Errors
/// 400 naming the field.
pub fn required_enum<T>(
    value: Option<&str>,
    path: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, ApiError> {
    let value = value.ok_or_else(|| ApiError::field(path, "Required"))?;
    parse(value).map_err(|message| ApiError::field(path, message))
}

/// `res` with [`TRUNCATED`] set when `cut`.
pub fn truncated(mut res: HttpResponse, cut: bool) -> HttpResponse {
    if cut {
        res.headers_mut()
            .insert(HeaderName::from_static(TRUNCATED), HeaderValue::from_static("true"));
    }
    res
}

/// ISO 8601 with milliseconds, as the original wrote instants.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl From<AnalyticsError> for ApiError {
    fn from(e: AnalyticsError) -> Self {
        match e {
            AnalyticsError::TooManyBuckets { .. } => ApiError::InvalidParameter(e.to_string()),
            AnalyticsError::Repo(e) => e.into(),
        }
    }
}

impl From<PromptError> for ApiError {
    fn from(e: PromptError) -> Self {
        match e {
            PromptError::EventNotFound => ApiError::EventNotFound,
            PromptError::SemanticUnavailable => ApiError::InvalidParameter(e.to_string()),
            // Prompt analytics not wired: the endpoint does not exist in this process.
            PromptError::Disabled => ApiError::NotFound { path: String::new() },
            PromptError::Repo(e) => e.into(),
        }
    }
}
