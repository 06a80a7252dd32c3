//! `GET /api/v1/openapi.json`: the OpenAPI document, generated from the code.

use actix_web::{HttpResponse, get};
use utoipa::OpenApi;

use crate::error::{ErrorBody, IssueBody};
use crate::routes::{
    admin, analytics, anomalies, budgets, events, export, health, metrics, otlp, pricing, prompts,
    stream, webhooks,
};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "AI Cost Profiler",
        description = "Where the money goes on LLM APIs: ingest one event per LLM call, priced exactly.",
        version = "1.0.0"
    ),
    paths(
        health::health,
        health::ready,
        events::ingest,
        otlp::traces,
        metrics::scrape,
        analytics::cost_breakdown,
        analytics::flamegraph,
        analytics::timeseries,
        prompts::report,
        analytics::realtime_totals,
        analytics::events,
        analytics::summary,
        analytics::top_calls,
        analytics::trace,
        analytics::call_paths_route,
        prompts::similar,
        prompts::templates,
        export::events,
        export::cost_summary,
        export::features,
        export::models,
        export::prompts,
        stream::costs,
        stream::token,
        admin::create,
        admin::list,
        admin::revoke,
        pricing::list,
        pricing::put_custom,
        pricing::reprice,
        pricing::coverage,
        budgets::list,
        budgets::status,
        budgets::get_one,
        budgets::create,
        budgets::update,
        budgets::remove,
        webhooks::list,
        webhooks::alerts,
        webhooks::create,
        webhooks::remove,
        anomalies::list,
        document
    ),
    components(schemas(
        ErrorBody,
        IssueBody,
        health::HealthResponse,
        health::ReadyResponse,
        health::Dependencies,
        health::EmbeddingsHealth,
        events::IngestRequest,
        events::EventPayload,
        events::IngestResponse,
        analytics::BreakdownItem,
        prompts::PromptGroup,
        prompts::SimilarPrompt,
        prompts::Bloat,
        analytics::TimeseriesPoint,
        prompts::PromptItem,
        prompts::TemplateItem,
        analytics::RealtimeTotals,
        analytics::EventsPage,
        analytics::Pagination,
        pricing::PricingResponse,
        pricing::RepriceBody,
        pricing::CoverageResponse,
        pricing::UnpricedModel,
        pricing::ReportedCost,
        pricing::ReportedModel,
        budgets::ScopeItem,
        budgets::BudgetItem,
        budgets::ForecastItem,
        budgets::BudgetStatusItem,
        webhooks::WebhookItem,
        webhooks::CreatedWebhook,
        webhooks::CreateWebhook,
        webhooks::AlertItem,
        anomalies::AnomalyItem,
        anomalies::DriversItem,
        anomalies::ContributorItem
    ))
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json"))
)]
#[get("/openapi.json")]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
