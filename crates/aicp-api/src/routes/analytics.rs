//! `/api/v1/analytics/*`: the original dashboard's endpoints (same paths, parameters, shapes and
//! number types; docs/API.md "Analytics") and the insight endpoints it lacked. Each handler parses,
//! calls [`aicp_domain::analytics::AnalyticsService`] and shapes the answer.
//!
//! Money in the original's endpoints is a JSON number (its dashboard does arithmetic on it); the
//! new endpoints give exact decimal strings. A capped result says so in `X-Result-Truncated`.

use actix_web::{HttpRequest, HttpResponse, get, web};
use aicp_domain::Usd;
use aicp_domain::analytics::query::{parse_bool, parse_tz};
use aicp_domain::analytics::service::BREAKDOWN_MAX;
use aicp_domain::analytics::{Cursor, Granularity, GroupBy};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::routes::project_of;
use crate::routes::query::{AnalyticsQuery, iso, required_enum, truncated};
use crate::state::AppState;

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
    let rows = state
        .analytics
        .breakdown(&project_of(&req), &window, group_by, &filter, BREAKDOWN_MAX)
        .await?;
    let body: Vec<BreakdownItem> = rows
        .value
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
    Ok(truncated(HttpResponse::Ok().json(body), rows.truncated))
}

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
    let tree = state.analytics.flamegraph(&project_of(&req), &window, &filter).await?;
    Ok(truncated(HttpResponse::Ok().json(tree.value), tree.truncated))
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
    let points = state
        .analytics
        .timeseries(&project_of(&req), &window, granularity, tz, &q.filter()?, fill)
        .await?;
    let body: Vec<TimeseriesPoint> = points
        .into_iter()
        .map(|p| TimeseriesPoint {
            timestamp: iso(p.bucket),
            value: Usd::to_f64(p.cost),
            cost: Usd::to_f64(p.cost),
            requests: p.requests,
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
    let page = state
        .analytics
        .events_page(&project_of(&req), &window, &q.filter()?, cursor, limit)
        .await?;
    let data = page.rows.iter().map(aicp_export::event_json).collect();
    let pagination =
        Pagination { has_more: page.next.is_some(), next_cursor: page.next.map(|c| c.encode()) };
    Ok(HttpResponse::Ok().json(EventsPage { data, pagination }))
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
    let s = state.analytics.summary(&project_of(&req), &window, &q.filter()?).await?;
    let mut body = serde_json::to_value(&s.summary).unwrap_or_default();
    if let Some(obj) = body.as_object_mut() {
        obj.insert("from".into(), iso(s.window.from).into());
        obj.insert("to".into(), iso(s.window.to).into());
        obj.insert("previousFrom".into(), iso(s.previous.from).into());
        obj.insert("previousTo".into(), iso(s.previous.to).into());
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
    let Some(t) = state.analytics.trace(&project_of(&req), &trace_id).await? else {
        return Err(ApiError::NotFound { path: req.path().to_owned() });
    };
    let body = serde_json::json!({
        "traceId": trace_id,
        "spanCount": t.span_count,
        "totalCostUsd": t.total_cost,
        "roots": t.roots,
    });
    Ok(truncated(HttpResponse::Ok().json(body), t.truncated))
}

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
    let tree = state.analytics.call_paths(&project_of(&req), &window, &q.filter()?).await?;
    Ok(truncated(HttpResponse::Ok().json(tree.value), tree.truncated))
}
