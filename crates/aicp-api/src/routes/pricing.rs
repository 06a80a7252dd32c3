//! Prices: the effective catalogue, custom prices per project, re-pricing of history, and
//! coverage (how much of the traffic is priced, and how far clients' own costs diverge).

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use aicp_domain::pricing::{ModelPricing, PricingError, RepriceReport, RepriceRequest};
use aicp_domain::{TimeWindow, Usd};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::routes::body::read_json;
use crate::routes::project_of;
use crate::state::AppState;

/// The effective prices for the caller's project.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PricingResponse {
    /// Catalogue version.
    pub version: String,
    /// Price for unknown models (USD per 1M tokens; such events are marked unpriced).
    #[schema(value_type = Object)]
    pub fallback: aicp_domain::pricing::Rates,
    /// The catalogue, by provider and model.
    #[schema(value_type = Vec<Object>)]
    pub models: Vec<ModelPricing>,
    /// The project's own prices; they win over the catalogue from their effective date.
    #[schema(value_type = Vec<Object>)]
    pub custom: Vec<ModelPricing>,
}

/// List the effective catalogue and the project's custom prices. Prices are decimal strings in
/// USD per 1M tokens.
#[utoipa::path(get, path = "/api/v1/pricing", tag = "pricing",
    responses((status = 200, description = "Catalogue and custom prices", body = PricingResponse)))]
#[get("/pricing")]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let book = state.pricing.book().current();
    let project = project_of(&req);
    let body = PricingResponse {
        version: book.version().to_owned(),
        fallback: book.fallback().clone(),
        models: book.catalogue_models().iter().map(|m| (**m).clone()).collect(),
        custom: book.custom_models(&project).iter().map(|m| (**m).clone()).collect(),
    };
    HttpResponse::Ok().json(body)
}

/// Set the project's own price for a model from a date on. Body:
/// `{"model", "provider"?, "effectiveFrom": "YYYY-MM-DD", "input", "output", "cacheRead"?,
/// "cacheWrite5m"?, "cacheWrite1h"?, "reasoning"?, "tiers"?: [{"aboveInputTokens", ...}]}`
/// (USD per 1M tokens, numbers or decimal strings, ≤ 6 decimals). Applies to new events dated
/// on or after `effectiveFrom`; re-price to apply it to stored events.
#[utoipa::path(put, path = "/api/v1/pricing", tag = "pricing",
    request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored; the project's prices for that model", body = Object),
        (status = 400, description = "Invalid price", body = ErrorBody),
    ))]
#[put("/pricing")]
pub async fn put_custom(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_json(&req, payload, state.body_limit).await?;
    let project = project_of(&req);
    let price = state.pricing.set_custom(&project, &body).await.map_err(|e| match e {
        PricingError::Invalid(issues) => ApiError::Validation(issues),
        PricingError::Repo(e) => ApiError::from(e),
        PricingError::Unexpected(e) => ApiError::Internal(e),
    })?;
    let stored = state
        .pricing
        .book()
        .current()
        .custom_models(&project)
        .into_iter()
        .find(|m| m.model == price.model)
        .map(|m| (*m).clone());
    Ok(HttpResponse::Ok().json(stored))
}

/// Body of a re-pricing request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepriceBody {
    /// Window start (RFC 3339 or `YYYY-MM-DD`).
    from: Option<String>,
    /// Window end (RFC 3339 or `YYYY-MM-DD`, that whole day).
    to: Option<String>,
    /// Only this model (reported name or catalogue id).
    model: Option<String>,
    /// Write the new costs; default false (dry run).
    #[serde(default)]
    apply: bool,
}

/// Re-price stored events of a window with the prices in force now. A dry run (default) returns
/// before/after totals and the difference per model and feature; `"apply": true` rewrites the
/// stored costs in batches of 2,000 rows, each its own transaction (ingest is never blocked).
#[utoipa::path(post, path = "/api/v1/pricing/reprice", tag = "pricing",
    request_body(content = RepriceBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Report", body = Object),
        (status = 400, description = "Invalid window or body", body = ErrorBody),
    ))]
#[post("/pricing/reprice")]
pub async fn reprice(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_json(&req, payload, state.body_limit).await?;
    let body: RepriceBody = serde_json::from_value(body)
        .map_err(|e| ApiError::InvalidParameter(format!("Invalid re-pricing request: {e}")))?;
    let window = TimeWindow::parse(body.from.as_deref(), body.to.as_deref())?;
    let model = body.model.filter(|m| !m.trim().is_empty());
    let request = RepriceRequest { window, model, apply: body.apply };
    let report: RepriceReport = state.reprice.reprice(&project_of(&req), &request).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Query of the coverage endpoint.
#[derive(Debug, Deserialize, IntoParams)]
pub struct WindowQuery {
    /// Window start (RFC 3339 or `YYYY-MM-DD`).
    from: Option<String>,
    /// Window end (RFC 3339 or `YYYY-MM-DD`, that whole day).
    to: Option<String>,
}

/// Pricing coverage of a window.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoverageResponse {
    /// Calls in the window.
    pub calls: u64,
    /// Calls whose model is unknown (priced by the fallback).
    pub unpriced_calls: u64,
    /// `unpricedCalls / calls` (0 when there are no calls).
    pub unpriced_call_share: f64,
    /// Prompt + completion tokens.
    pub tokens: u64,
    /// Tokens of unpriced calls.
    pub unpriced_tokens: u64,
    /// `unpricedTokens / tokens`.
    pub unpriced_token_share: f64,
    /// Unknown model names, most calls first.
    pub unpriced_models: Vec<UnpricedModel>,
    /// Where clients reported their own cost (the provider's when sent, else their estimate).
    pub reported: ReportedCost,
}

/// One unknown model.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnpricedModel {
    /// Name as reported.
    pub model: String,
    /// Calls.
    pub calls: u64,
    /// Tokens.
    pub tokens: u64,
}

/// Client-reported versus computed cost.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportedCost {
    /// Calls with a reported cost.
    pub calls: u64,
    /// Sum of reported costs (decimal string).
    #[schema(value_type = String)]
    pub reported_usd: Usd,
    /// Sum of our costs for the same calls.
    #[schema(value_type = String)]
    pub computed_usd: Usd,
    /// `reported - computed`.
    pub divergence_usd: String,
    /// Per model, largest divergence first.
    pub by_model: Vec<ReportedModel>,
}

/// Reported versus computed cost of one model.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportedModel {
    /// Name as reported.
    pub model: String,
    /// Calls.
    pub calls: u64,
    /// Reported.
    #[schema(value_type = String)]
    pub reported_usd: Usd,
    /// Computed.
    #[schema(value_type = String)]
    pub computed_usd: Usd,
    /// `reported - computed`.
    pub divergence_usd: String,
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

fn minus(a: Usd, b: Usd) -> String {
    (a.amount() - b.amount()).normalize().to_string()
}

/// Share of calls and tokens whose model is unpriced, the unknown model names, and the
/// divergence between client-reported and computed costs.
#[utoipa::path(get, path = "/api/v1/pricing/coverage", tag = "pricing", params(WindowQuery),
    responses(
        (status = 200, description = "Coverage", body = CoverageResponse),
        (status = 400, description = "Invalid window", body = ErrorBody),
    ))]
#[get("/pricing/coverage")]
pub async fn coverage(
    req: HttpRequest,
    query: web::Query<WindowQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window = TimeWindow::parse(query.from.as_deref(), query.to.as_deref())?;
    let stats = state.costs.coverage(&project_of(&req), &window).await?;
    let unpriced_calls = stats.unpriced.iter().map(|u| u.calls).sum();
    let unpriced_tokens = stats.unpriced.iter().map(|u| u.tokens).sum();
    let reported_usd: Usd = stats.reported.iter().map(|r| r.reported).sum();
    let computed_usd: Usd = stats.reported.iter().map(|r| r.computed).sum();
    let body = CoverageResponse {
        calls: stats.calls,
        unpriced_calls,
        unpriced_call_share: share(unpriced_calls, stats.calls),
        tokens: stats.tokens,
        unpriced_tokens,
        unpriced_token_share: share(unpriced_tokens, stats.tokens),
        unpriced_models: stats
            .unpriced
            .into_iter()
            .map(|u| UnpricedModel { model: u.model, calls: u.calls, tokens: u.tokens })
            .collect(),
        reported: ReportedCost {
            calls: stats.reported.iter().map(|r| r.calls).sum(),
            reported_usd,
            computed_usd,
            divergence_usd: minus(reported_usd, computed_usd),
            by_model: stats
                .reported
                .into_iter()
                .map(|r| ReportedModel {
                    divergence_usd: minus(r.reported, r.computed),
                    model: r.model,
                    calls: r.calls,
                    reported_usd: r.reported,
                    computed_usd: r.computed,
                })
                .collect(),
        },
    };
    Ok(HttpResponse::Ok().json(body))
}
