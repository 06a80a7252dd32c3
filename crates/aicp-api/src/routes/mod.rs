//! HTTP routes, one endpoint family per file.

pub mod admin;
pub mod analytics;
pub mod anomalies;
pub mod body;
pub mod budgets;
pub mod events;
pub mod export;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod otlp;
pub mod pricing;
pub mod prompts;
pub mod query;
pub mod stream;
pub mod webhooks;

use actix_web::{HttpRequest, HttpResponse, web};

use aicp_domain::ProjectId;

use crate::error::ApiError;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::health)
        .service(health::ready)
        .service(otlp::traces)
        .service(metrics::scrape)
        .service(
            web::scope("/api/v1")
                .service(events::ingest)
                .service(analytics::cost_breakdown)
                .service(analytics::flamegraph)
                .service(analytics::timeseries)
                .service(prompts::report)
                .service(analytics::realtime_totals)
                .service(analytics::events)
                .service(analytics::summary)
                .service(analytics::top_calls)
                .service(analytics::trace)
                .service(analytics::call_paths_route)
                .service(prompts::similar)
                .service(prompts::templates)
                .service(admin::create)
                .service(admin::list)
                .service(admin::revoke)
                .service(pricing::list)
                .service(pricing::put_custom)
                .service(pricing::reprice)
                .service(pricing::coverage)
                .service(openapi::document)
                .service(stream::costs)
                .service(stream::token)
                // Budgets and alerts (issue 18); `status` before `{id}`.
                .service(budgets::list)
                .service(budgets::status)
                .service(budgets::get_one)
                .service(budgets::create)
                .service(budgets::update)
                .service(budgets::remove)
                .service(webhooks::list)
                .service(webhooks::alerts)
                .service(webhooks::create)
                .service(webhooks::remove)
                .service(anomalies::list)
                .service(
                    web::scope("/export")
                        .wrap(actix_web::middleware::Compress::default())
                        .service(export::events)
                        .service(export::cost_summary)
                        .service(export::features)
                        .service(export::models)
                        .service(export::prompts),
                ),
        );
}

/// The project a request acts for: the one of its credentials (`default` while authentication
/// is off); never a project named in the request.
pub fn project_of(req: &HttpRequest) -> ProjectId {
    crate::guard::principal_project(req)
}

/// JSON 404 for every unknown API path (`{"error":"Not found","path":...}`, as the original);
/// a page for any other unknown path a browser may follow.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if req.path().starts_with("/api/") || req.path() == "/api" {
        return Err(ApiError::NotFound { path: req.path().to_owned() });
    }
    let accepts_html = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if accepts_html {
        return Ok(crate::dashboard::pages::error_page(
            actix_web::http::StatusCode::NOT_FOUND,
            "There is no page at this address.",
        ));
    }
    Err(ApiError::NotFound { path: req.path().to_owned() })
}
