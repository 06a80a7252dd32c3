//! `/api/v1/export/*`: streaming CSV, JSON and NDJSON downloads of any size (docs/API.md, Exports),
//! plus the three endpoints the original dashboard calls but the original never had
//! (`/export/features`, `/export/models`, `/export/prompts`, §16).
//!
//! Rows flow from keyset batches through the encoder to the socket with backpressure; memory
//! stays flat. The first chunk is produced before the response head, so a database that is down
//! is still a 503 rather than a 200 with an empty body.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};
use aicp_domain::analytics::query::parse_bool;
use aicp_domain::analytics::{Filter, GroupBy};
use aicp_domain::prompts::{EXPORT_GROUPS, NearDuplicates, PromptReport};
use aicp_domain::window::parse_bound;
use aicp_domain::{ProjectId, RepoError, TimeWindow};
use aicp_export::{ExportError, ExportFormat, ExportOptions, PromptRow, SummaryRow};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt, stream};
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, ErrorBody};
use crate::routes::project_of;
use crate::state::AppState;

/// Query of every export endpoint.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (default), `json` or `ndjson`.
    format: Option<String>,
    /// Window start: RFC 3339 or `YYYY-MM-DD` (alias `from`, which the original dashboard sends).
    start_date: Option<String>,
    /// Window end, inclusive; a bare date means that whole day (alias `to`).
    end_date: Option<String>,
    /// Alias of `startDate`.
    from: Option<String>,
    /// Alias of `endDate`.
    to: Option<String>,
    /// Only this feature (events).
    feature: Option<String>,
    /// Only this model (events).
    model: Option<String>,
    /// Only this provider (events).
    provider: Option<String>,
    /// Only this user (events).
    user_id: Option<String>,
    /// `true`/`false`: only failed / successful calls (events).
    is_error: Option<String>,
    /// `feature` (default), `model`, `provider` or `user` (cost-summary).
    group_by: Option<String>,
}

impl ExportQuery {
    fn format(&self) -> Result<ExportFormat, ApiError> {
        match self.format.as_deref().filter(|f| !f.is_empty()) {
            None => Ok(ExportFormat::Csv),
            Some(f) => f.parse().map_err(|_| {
                ApiError::Validation(vec![aicp_domain::Issue {
                    path: "format".into(),
                    message: format!(
                        "Invalid enum value. Expected 'csv' | 'json' | 'ndjson', received '{f}'"
                    ),
                }])
            }),
        }
    }

    /// The window; absent bounds are open (the whole history), as in the original.
    fn window(&self) -> Result<(TimeWindow, bool), ApiError> {
        let pick = |a: &Option<String>, b: &Option<String>| {
            a.clone().filter(|s| !s.is_empty()).or_else(|| b.clone().filter(|s| !s.is_empty()))
        };
        let from = pick(&self.start_date, &self.from);
        let to = pick(&self.end_date, &self.to);
        let bounded = from.is_some() || to.is_some();
        let invalid = |name: &str| {
            ApiError::Validation(vec![aicp_domain::Issue {
                path: name.into(),
                message: "Invalid datetime".into(),
            }])
        };
        let from = match from {
            None => TimeWindow::everything().from,
            Some(f) => parse_bound(&f, false).ok_or_else(|| invalid("startDate"))?,
        };
        let to = match to {
            None => TimeWindow::everything().to,
            Some(t) => parse_bound(&t, true).ok_or_else(|| invalid("endDate"))?,
        };
        if from > to {
            return Err(ApiError::InvalidParameter(
                "\"startDate\" must not be after \"endDate\"".into(),
            ));
        }
        Ok((TimeWindow { from, to }, bounded))
    }

    fn filter(&self) -> Result<Filter, ApiError> {
        let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        Filter {
            feature: non_empty(&self.feature),
            model: non_empty(&self.model),
            provider: non_empty(&self.provider),
            user_id: non_empty(&self.user_id),
            is_error: match self.is_error.as_deref().filter(|s| !s.is_empty()) {
                None => None,
                Some(v) => Some(parse_bool("isError", v).map_err(ApiError::InvalidParameter)?),
            },
        }
        .check()
        .map_err(ApiError::InvalidParameter)
    }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y%m%d").to_string()
}

/// `aicp-events-default-20260101-20260131.csv`; names and projects are reduced to safe characters.
fn file_name(
    kind: &str,
    project: &ProjectId,
    window: &TimeWindow,
    bounded: bool,
    f: ExportFormat,
) -> String {
    let safe: String = project
        .as_str()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    let span =
        if bounded { format!("{}-{}", day(window.from), day(window.to)) } else { "all".to_owned() };
    f.file_name(&format!("aicp-{kind}-{safe}-{span}"))
}

/// Polls the first chunk (so that a failing database is still a proper error status), then
/// streams the rest.
async fn respond<S>(
    body: std::pin::Pin<Box<S>>,
    format: ExportFormat,
    name: String,
    extra: Vec<(&'static str, String)>,
) -> Result<HttpResponse, ApiError>
where
    S: Stream<Item = Result<Bytes, ExportError<RepoError>>> + 'static,
{
    // Fused: an empty export (no chunk at all, as NDJSON) ends at the first poll, and the body
    // that follows must not poll the finished stream again.
    let mut body = body.fuse();
    let first = match body.next().await {
        Some(Ok(chunk)) => Some(chunk),
        Some(Err(ExportError::Upstream(e))) => return Err(ApiError::from(e)),
        Some(Err(ExportError::Encode(e))) => {
            return Err(ApiError::Internal(anyhow::anyhow!("{e}")));
        }
        None => None,
    };
    let rest = body.map(|item| {
        item.map_err(|e| {
            // Mid-stream: the status is already sent; end the response so the client sees an
            // incomplete download instead of a silently short file.
            tracing::error!(error = %e, "export failed mid-stream");
            actix_web::error::ErrorInternalServerError("export failed")
        })
    });
    let all = stream::iter(first.map(Ok)).chain(rest);
    let mut res = HttpResponse::Ok();
    res.content_type(format.content_type())
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    for (k, v) in extra {
        if let Ok(v) = HeaderValue::from_str(&v) {
            res.insert_header((k, v));
        }
    }
    Ok(res.streaming(all))
}

/// Every event of the window (all history without one), newest first, as CSV (the original's
/// 15 columns first, in order, then additive ones), a JSON array of the original's row shape, or
/// NDJSON. No row cap unless `EXPORT_MAX_ROWS` is set; a cut result says so in
/// `X-Export-Truncated: true` with `X-Export-Total-Rows`.
#[utoipa::path(get, path = "/api/v1/export/events", tag = "export", params(ExportQuery),
    responses((status = 200, description = "The file", content_type = "text/csv"), (status = 400, body = ErrorBody)))]
#[get("/events")]
pub async fn events(
    req: HttpRequest,
    q: web::Query<ExportQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let format = q.format()?;
    let (window, bounded) = q.window()?;
    let filter = q.filter()?;
    let project = project_of(&req);
    let mut headers = Vec::new();
    if let Some(max) = state.export_max_rows {
        let total = state.analytics.window_stats(&project, &window, &filter).await?.calls;
        headers.push(("x-export-row-limit", max.to_string()));
        if total > max {
            headers.push(("x-export-truncated", "true".to_owned()));
            headers.push(("x-export-total-rows", total.to_string()));
        }
    }
    let counted = metrics::counter!(crate::metrics::EXPORT_ROWS, "export" => "events");
    let rows = Box::pin(
        state.exporter.stream(project.clone(), window, filter, state.export_max_rows).inspect(
            move |row| {
                if row.is_ok() {
                    counted.increment(1);
                }
            },
        ),
    );
    let body = Box::pin(aicp_export::export_rows(rows, format, ExportOptions::default()));
    respond(body, format, file_name("events", &project, &window, bounded, format), headers).await
}

async fn summary(
    req: &HttpRequest,
    q: &ExportQuery,
    state: &AppState,
    group_by: GroupBy,
    kind: &str,
) -> Result<HttpResponse, ApiError> {
    let format = q.format()?;
    let (window, bounded) = q.window()?;
    let project = project_of(req);
    let rows =
        state.analytics.breakdown(&project, &window, group_by, &Filter::default(), 100_000).await?;
    let rows: Vec<Result<SummaryRow, RepoError>> = rows
        .value
        .into_iter()
        .map(|r| {
            let avg = if r.requests == 0 {
                Decimal::ZERO
            } else {
                Decimal::from(r.latency_sum) / Decimal::from(r.requests)
            };
            Ok(SummaryRow {
                dimension: Some(r.dimension),
                request_count: r.requests,
                input_tokens: r.input_tokens,
                output_tokens: r.output_tokens,
                total_tokens: r.tokens,
                total_cost: r.cost,
                avg_latency_ms: avg,
                min_latency_ms: r.latency_min.map_or(0, |v| i32::try_from(v).unwrap_or(i32::MAX)),
                max_latency_ms: r.latency_max.map_or(0, |v| i32::try_from(v).unwrap_or(i32::MAX)),
            })
        })
        .collect();
    let body =
        Box::pin(aicp_export::export_rows(stream::iter(rows), format, ExportOptions::default()));
    respond(body, format, file_name(kind, &project, &window, bounded, format), Vec::new()).await
}

fn group_by(q: &ExportQuery) -> Result<GroupBy, ApiError> {
    match q.group_by.as_deref().filter(|g| !g.is_empty()) {
        None => Ok(GroupBy::Feature),
        Some(g) => GroupBy::parse(g).map_err(|message| ApiError::field("groupBy", message)),
    }
}

/// Cost summary grouped by `groupBy` (feature by default; model, provider, user), the
/// original's columns (§14.2) plus an exact total.
#[utoipa::path(get, path = "/api/v1/export/cost-summary", tag = "export", params(ExportQuery),
    responses((status = 200, description = "The file", content_type = "text/csv"), (status = 400, body = ErrorBody)))]
#[get("/cost-summary")]
pub async fn cost_summary(
    req: HttpRequest,
    q: web::Query<ExportQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let g = group_by(&q)?;
    summary(&req, &q, &state, g, "cost-summary").await
}

/// The cost summary grouped by feature (the original dashboard's Features export button).
#[utoipa::path(get, path = "/api/v1/export/features", tag = "export", params(ExportQuery),
    responses((status = 200, description = "The file", content_type = "text/csv"), (status = 400, body = ErrorBody)))]
#[get("/features")]
pub async fn features(
    req: HttpRequest,
    q: web::Query<ExportQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    summary(&req, &q, &state, GroupBy::Feature, "features").await
}

/// The cost summary grouped by model (the original dashboard's Models export button).
#[utoipa::path(get, path = "/api/v1/export/models", tag = "export", params(ExportQuery),
    responses((status = 200, description = "The file", content_type = "text/csv"), (status = 400, body = ErrorBody)))]
#[get("/models")]
pub async fn models(
    req: HttpRequest,
    q: web::Query<ExportQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    summary(&req, &q, &state, GroupBy::Model, "models").await
}

/// The prompt-analysis rows (the original dashboard's Prompts export button).
#[utoipa::path(get, path = "/api/v1/export/prompts", tag = "export", params(ExportQuery),
    responses((status = 200, description = "The file", content_type = "text/csv"), (status = 400, body = ErrorBody)))]
#[get("/prompts")]
pub async fn prompts(
    req: HttpRequest,
    q: web::Query<ExportQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let format = q.format()?;
    let (window, bounded) = q.window()?;
    let project = project_of(&req);
    // The same groups, hashes and features as `/analytics/prompts` (one code path), without
    // the near-duplicate lookups (one query per group).
    let report =
        state.prompts.report(&project, &window, EXPORT_GROUPS, NearDuplicates::Skip).await?;
    let rows: Vec<Result<PromptRow, RepoError>> = match report {
        PromptReport::Groups(groups) => groups
            .into_iter()
            .map(|g| {
                Ok(PromptRow {
                    prompt_hash: g.prompt_hash,
                    content: g.content.unwrap_or_default(),
                    occurrences: g.occurrences,
                    total_cost: g.total_cost,
                    avg_tokens: g.avg_tokens,
                    feature: g.feature,
                })
            })
            .collect(),
        PromptReport::Bloat(rows) => rows
            .into_iter()
            .map(|r| {
                Ok(PromptRow {
                    prompt_hash: r.prompt_hash,
                    content: r.content,
                    occurrences: r.occurrences,
                    total_cost: r.total_cost,
                    avg_tokens: r.avg_tokens,
                    feature: String::new(),
                })
            })
            .collect(),
    };
    let body =
        Box::pin(aicp_export::export_rows(stream::iter(rows), format, ExportOptions::default()));
    respond(body, format, file_name("prompts", &project, &window, bounded, format), Vec::new())
        .await
}
