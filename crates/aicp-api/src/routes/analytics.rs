//! `/api/v1/analytics/*`: the original dashboard's endpoints (same paths, parameters, shapes and
//! number types; original-api.md §7, §13, §16) and the insight endpoints it lacked.
//!
//! Money in the original's endpoints is a JSON number (its dashboard does arithmetic on it); the
//! new endpoints give exact decimal strings. A capped result says so in `X-Result-Truncated`.

use actix_web::http::header::HeaderValue;
use actix_web::{HttpRequest, HttpResponse, get, web};
use aicp_domain::analytics::query::{parse_bool, parse_tz};
use aicp_domain::analytics::summary::summarize;
use aicp_domain::analytics::{
    Cursor, Filter, Granularity, GroupBy, call_paths, feature_model_tree, trace_tree,
};
use aicp_domain::{TimeWindow, Usd};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::routes::project_of;
use crate::state::AppState;

/// Header set when a result was cut at its maximum size.
pub const TRUNCATED: &str = "x-result-truncated";

/// Every query parameter the analytics endpoints read (each endpoint ignores the ones it does
/// not use, as the original ignored unknown keys). A repeated key is a 400.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// Window start: RFC 3339 (`2026-01-05T10:00:00.000Z`, offsets allowed) or `YYYY-MM-DD`.
    from: Option<String>,
    /// Window end (inclusive); a bare date means the whole day.
    to: Option<String>,
    /// `feature` | `model` | `provider` | `user` (cost-breakdown).
    group_by: Option<String>,
    /// `hour` | `day` | `week` | `month` (timeseries).
    granularity: Option<String>,
    /// IANA time zone for buckets (timeseries), default UTC.
    tz: Option<String>,
    /// `true`: empty buckets as 0 (timeseries).
    fill: Option<String>,
    /// Only this feature.
    feature: Option<String>,
    /// Only this model.
    model: Option<String>,
    /// Only this provider.
    provider: Option<String>,
    /// Only this user.
    user_id: Option<String>,
    /// `true`: failed calls only; `false`: successful calls only.
    is_error: Option<String>,
    /// Page size (events: default 50, max 200; top-calls: default 20, max 100).
    limit: Option<String>,
    /// Opaque cursor from the previous page (events).
    cursor: Option<String>,
}

impl AnalyticsQuery {
    /// The window (for sibling route modules).
    pub(crate) fn window_pub(&self) -> Result<TimeWindow, ApiError> {
        self.window()
    }

    fn window(&self) -> Result<TimeWindow, ApiError> {
        Ok(TimeWindow::parse(self.from.as_deref(), self.to.as_deref())?)
    }

    fn filter(&self) -> Result<Filter, ApiError> {
        let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let is_error = match self.is_error.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(v) => Some(parse_bool("isError", v).map_err(ApiError::InvalidParameter)?),
        };
        Ok(Filter {
            feature: non_empty(&self.feature),
            model: non_empty(&self.model),
            provider: non_empty(&self.provider),
            user_id: non_empty(&self.user_id),
            is_error,
        })
    }

    /// A page size: absent → `default`; not a positive integer → 400; above `max` → `max`.
    fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
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
fn required_enum<T>(
    value: Option<&str>,
    path: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, ApiError> {
    let value = value.ok_or_else(|| ApiError::field(path, "Required"))?;
    parse(value).map_err(|message| ApiError::field(path, message))
}

/// Cuts `rows` (fetched with one row more than `max`) to `max`; whether anything was cut.
fn cap<T>(rows: &mut Vec<T>, max: usize) -> bool {
    let cut = rows.len() > max;
    rows.truncate(max);
    cut
}

fn truncated(mut res: HttpResponse, cut: bool) -> HttpResponse {
    if cut {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static(TRUNCATED),
            HeaderValue::from_static("true"),
        );
    }
    res
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One group of the cost breakdown (the original's shape and number types).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BreakdownItem {
    /// Feature, model, provider or user.
    dimension: String,
    /// Total cost, USD.
    total_cost_usd: f64,
    /// Input + output tokens.
    total_tokens: u64,
    /// Calls.
    request_count: u64,
    /// Mean latency, ms.
    avg_latency_ms: f64,
}

const BREAKDOWN_MAX: usize = 500;

/// Cost by feature, model, provider or user, most expensive first (at most 500 groups).
#[utoipa::path(get, path = "/api/v1/analytics/cost-breakdown", tag = "analytics", params(AnalyticsQuery),
    responses((status = 200, body = Vec<BreakdownItem>), (status = 400, body = ErrorBody)))]
#[get("/analytics/cost-breakdown")]
pub async fn cost_breakdown(
    req: HttpRequest,
    q: web::Query<AnalyticsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window = q.window()?;
    let group_by = required_enum(q.group_by.as_deref(), "groupBy", GroupBy::parse)?;
    let filter = q.filter()?;
    let mut rows = state
        .analytics
        .breakdown(&project_of(&req), &window, group_by, &filter, BREAKDOWN_MAX + 1)
        .await?;
    let cut = cap(&mut rows, BREAKDOWN_MAX);
    let body: Vec<BreakdownItem> = rows
        .into_iter()
        .map(|r| BreakdownItem {
            avg_latency_ms: if r.requests == 0 {
                0.0
            } else {
                r.latency_sum as f64 / r.requests as f64
            },
            dimension: r.dimension,
            total_cost_usd: Usd::to_f64(r.cost),
            total_tokens: r.tokens,
            request_count: r.requests,
        })
        .collect();
    Ok(truncated(HttpResponse::Ok().json(body), cut))
}

const FLAME_MAX: usize = 5000;

/// The cost flamegraph: `root → feature → model` (values are USD as numbers).
#[utoipa::path(get, path = "/api/v1/analytics/flamegraph", tag = "analytics", params(AnalyticsQuery),
    responses((status = 200, description = "{name, value, children}", body = Object), (status = 400, body = ErrorBody)))]
#[get("/analytics/flamegraph")]
pub async fn flamegraph(
    req: HttpRequest,
    q: web::Query<AnalyticsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window = q.window()?;
    let filter = q.filter()?;
    let mut rows = state
        .analytics
        .feature_model_costs(&project_of(&req), &window, &filter, FLAME_MAX + 1)
        .await?;
    let cut = cap(&mut rows, FLAME_MAX);
    Ok(truncated(HttpResponse::Ok().json(feature_model_tree(&rows)), cut))
}

/// One bucket of the time series: the original's `value` plus `cost` (what its dashboard reads).
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeseriesPoint {
    /// Bucket start (UTC instant of the local bucket start), ISO with ms.
    timestamp: String,
    /// Cost, USD (the original's field).
    value: f64,
    /// The same cost (the field the original dashboard reads).
    cost: f64,
    /// Calls in the bucket.
    requests: u64,
}

/// Most buckets returned (a year of hours); more is refused rather than cut.
const SERIES_MAX: usize = 9000;

/// Cost per hour, day, week or month, ascending; `tz` buckets in a time zone; `fill=true` adds
/// empty buckets as 0.
#[utoipa::path(get, path = "/api/v1/analytics/timeseries", tag = "analytics", params(AnalyticsQuery),
    responses((status = 200, body = Vec<TimeseriesPoint>), (status = 400, body = ErrorBody)))]
#[get("/analytics/timeseries")]
pub async fn timeseries(
    req: HttpRequest,
    q: web::Query<AnalyticsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window = q.window()?;
    let granularity = required_enum(q.granularity.as_deref(), "granularity", Granularity::parse)?;
    let tz = parse_tz(q.tz.as_deref()).map_err(ApiError::InvalidParameter)?;
    let fill = match q.fill.as_deref().filter(|s| !s.is_empty()) {
        None => false,
        Some(v) => parse_bool("fill", v).map_err(ApiError::InvalidParameter)?,
    };
    let starts =
        aicp_domain::analytics::query::bucket_starts(&window, granularity, tz, SERIES_MAX + 1);
    if starts.len() > SERIES_MAX {
        return Err(ApiError::InvalidParameter(format!(
            "The window has more than {SERIES_MAX} {} buckets; use a coarser granularity",
            granularity.unit()
        )));
    }
    let points = state
        .analytics
        .timeseries(&project_of(&req), &window, granularity, tz, &q.filter()?)
        .await?;
    let point = |t: DateTime<Utc>, cost: Usd, requests: u64| TimeseriesPoint {
        timestamp: iso(t),
        value: Usd::to_f64(cost),
        cost: Usd::to_f64(cost),
        requests,
    };
    let body: Vec<TimeseriesPoint> = if fill {
        let mut by_start: std::collections::HashMap<DateTime<Utc>, (Usd, u64)> =
            points.into_iter().map(|p| (p.bucket, (p.cost, p.requests))).collect();
        let mut filled: Vec<(DateTime<Utc>, Usd, u64)> = starts
            .into_iter()
            .map(|t| {
                let (cost, requests) = by_start.remove(&t).unwrap_or((Usd::ZERO, 0));
                (t, cost, requests)
            })
            .collect();
        // A bucket the generator did not predict (never expected) is kept, not dropped.
        filled.extend(by_start.into_iter().map(|(t, (c, r))| (t, c, r)));
        filled.sort_by_key(|p| p.0);
        filled.into_iter().map(|(t, c, r)| point(t, c, r)).collect()
    } else {
        points.into_iter().map(|p| point(p.bucket, p.cost, p.requests)).collect()
    };
    Ok(HttpResponse::Ok().json(body))
}

/// A prompt group of the bloat report (the original's shape).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptItem {
    /// MD5 of the prompt text.
    prompt_hash: String,
    /// First 100 characters.
    content: String,
    /// Calls.
    occurrences: u64,
    /// Their cost, USD.
    total_cost_usd: f64,
    /// Mean input + output tokens.
    avg_tokens: f64,
    /// Near-duplicates (filled by the similarity feature).
    similar_prompts: Vec<String>,
}

/// Prompt bloat: prompts whose input is far above the window's median (original §7.4).
#[utoipa::path(get, path = "/api/v1/analytics/prompts", tag = "analytics", params(AnalyticsQuery),
    responses((status = 200, body = Vec<PromptItem>), (status = 400, body = ErrorBody)))]
#[get("/analytics/prompts")]
pub async fn prompts(
    req: HttpRequest,
    q: web::Query<AnalyticsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window = q.window()?;
    if let Some(groups) = crate::routes::prompts::prompt_groups(&req, &state, &window).await? {
        return Ok(HttpResponse::Ok().json(groups));
    }
    // No fingerprinted prompt in the window: the original's metadata-based bloat report.
    let rows = state.analytics.prompt_bloat(&project_of(&req), &window, 20).await?;
    let body: Vec<PromptItem> = rows
        .into_iter()
        .map(|r| PromptItem {
            prompt_hash: r.prompt_hash,
            content: r.content,
            occurrences: r.occurrences,
            total_cost_usd: Usd::to_f64(r.total_cost),
            avg_tokens: r.avg_tokens,
            similar_prompts: Vec::new(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Lifetime totals (the original's shape).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RealtimeTotals {
    /// Cost, USD.
    total_cost: f64,
    /// Calls.
    total_requests: u64,
    /// Input + output tokens.
    total_tokens: u64,
}

/// Lifetime totals of the project, exact, from the database.
#[utoipa::path(get, path = "/api/v1/analytics/realtime-totals", tag = "analytics",
    responses((status = 200, body = RealtimeTotals)))]
#[get("/analytics/realtime-totals")]
pub async fn realtime_totals(
    req: HttpRequest,
    q: web::Query<AnalyticsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // The original validated from/to only when both were given, then ignored them.
    if q.from.is_some() && q.to.is_some() {
        q.window()?;
    }
    let t = state.analytics.totals(&project_of(&req)).await?;
    Ok(HttpResponse::Ok().json(RealtimeTotals {
        total_cost: Usd::to_f64(t.cost),
        total_requests: t.requests,
        total_tokens: t.tokens,
    }))
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsPage<'a> {
    /// Events, newest first, in the original's row shape and key order (serialised straight from
    /// the row struct: a `serde_json::Value` would sort the keys).
    #[schema(value_type = Vec<Object>)]
    data: Vec<aicp_export::EventJson<'a>>,
    /// Where the next page starts.
    pagination: Pagination,
}

/// Pagination state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// Cursor of the last row returned; `null` on the last page.
    next_cursor: Option<String>,
    /// Whether more rows follow.
    has_more: bool,
}

/// Events of the window, newest first, cursor-paginated (default 50, max 200).
#[utoipa::path(get, path = "/api/v1/analytics/events", tag = "analytics", params(AnalyticsQuery),
    responses((status = 200, body = EventsPage), (status = 400, body = ErrorBody)))]
#[get("/analytics/events")]
pub async fn events(
    req: HttpRequest,
    q: web::Query<AnalyticsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if q.from.as_deref().is_none_or(str::is_empty) || q.to.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::InvalidParameter("from and to parameters are required".into()));
    }
    let window = q.window()?;
    let limit = q.limit(50, 200)?;
    let cursor = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(Cursor::decode(c).map_err(|e| ApiError::InvalidParameter(e.to_string()))?),
    };
    let mut rows = state
        .analytics
        .events_page(&project_of(&req), &window, &q.filter()?, cursor, limit + 1)
        .await?;
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = has_more
        .then(|| rows.last().map(|r| Cursor { created_at: r.created_at, id: r.id }.encode()))
        .flatten();
    let data = rows.iter().map(aicp_export::event_json).collect();
    Ok(HttpResponse::Ok()
        .json(EventsPage { data, pagination: Pagination { next_cursor, has_more } }))
}

/// Summary of a window with waste and the change against the previous window of the same length.
#[utoipa::path(get, path = "/api/v1/analytics/summary", tag = "analytics", params(AnalyticsQuery),
    responses((status = 200, description = "Summary", body = Object), (status = 400, body = ErrorBody)))]
#[get("/analytics/summary")]
pub async fn summary(
    req: HttpRequest,
    q: web::Query<AnalyticsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window = q.window()?;
    let filter = q.filter()?;
    let length = window.to - window.from;
    let previous = TimeWindow {
        from: window.from - length - chrono::Duration::microseconds(1),
        to: window.from - chrono::Duration::microseconds(1),
    };
    let project = project_of(&req);
    let (now, before) = futures_util::try_join!(
        state.analytics.window_stats(&project, &window, &filter),
        state.analytics.window_stats(&project, &previous, &filter),
    )?;
    let mut body = serde_json::to_value(summarize(&now, &before)).unwrap_or_default();
    if let Some(obj) = body.as_object_mut() {
        obj.insert("from".into(), iso(window.from).into());
        obj.insert("to".into(), iso(window.to).into());
        obj.insert("previousFrom".into(), iso(previous.from).into());
        obj.insert("previousTo".into(), iso(previous.to).into());
    }
    Ok(HttpResponse::Ok().json(body))
}

/// The most expensive calls of the window (default 20, max 100), with their trace ids.
#[utoipa::path(get, path = "/api/v1/analytics/top-calls", tag = "analytics", params(AnalyticsQuery),
    responses((status = 200, description = "Event rows, most expensive first", body = Vec<Object>), (status = 400, body = ErrorBody)))]
#[get("/analytics/top-calls")]
pub async fn top_calls(
    req: HttpRequest,
    q: web::Query<AnalyticsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window = q.window()?;
    let limit = q.limit(20, 100)?;
    let rows = state.analytics.top_calls(&project_of(&req), &window, &q.filter()?, limit).await?;
    // Serialised straight from the row struct, keeping the original's key order.
    let body: Vec<aicp_export::EventJson<'_>> = rows.iter().map(aicp_export::event_json).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// The span tree of one trace, with each span's cost and the cost of its subtree.
#[utoipa::path(get, path = "/api/v1/analytics/traces/{traceId}", tag = "analytics",
    params(("traceId" = String, Path, description = "Trace id")),
    responses((status = 200, description = "Span tree", body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/analytics/traces/{trace_id}")]
pub async fn trace(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let trace_id = path.into_inner();
    if trace_id.is_empty() || trace_id.len() > 128 || trace_id.contains('\0') {
        return Err(ApiError::InvalidParameter("traceId must be 1 to 128 characters".into()));
    }
    let mut spans = state.analytics.trace_spans(&project_of(&req), &trace_id).await?;
    let cut = cap(&mut spans, TRACE_MAX);
    if spans.is_empty() {
        return Err(ApiError::NotFound { path: req.path().to_owned() });
    }
    let total: Usd = spans.iter().map(|s| s.verified_cost).sum();
    let roots = trace_tree(&spans);
    let body = serde_json::json!({
        "traceId": trace_id,
        "spanCount": spans.len(),
        "totalCostUsd": total,
        "roots": roots,
    });
    Ok(truncated(HttpResponse::Ok().json(body), cut))
}

const SPANS_MAX: usize = 200_000;
/// Most spans of one trace shown (the store returns one more to detect a cut).
const TRACE_MAX: usize = 10_000;

/// The call-path flamegraph: spans of every trace in the window aggregated by their path of
/// `feature · model` steps from the root span.
#[utoipa::path(get, path = "/api/v1/analytics/call-paths", tag = "analytics", params(AnalyticsQuery),
    responses((status = 200, description = "{name, value, costUsd, selfCostUsd, calls, children}", body = Object), (status = 400, body = ErrorBody)))]
#[get("/analytics/call-paths")]
pub async fn call_paths_route(
    req: HttpRequest,
    q: web::Query<AnalyticsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window = q.window()?;
    let mut spans =
        state.analytics.spans(&project_of(&req), &window, &q.filter()?, SPANS_MAX + 1).await?;
    let cut = cap(&mut spans, SPANS_MAX);
    Ok(truncated(HttpResponse::Ok().json(call_paths(&spans)), cut))
}
