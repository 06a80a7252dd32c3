//! `/live`: the cost stream with running totals. The only page that needs JavaScript (an
//! `EventSource` on `/api/v1/stream/costs`, authenticated by the session cookie); without it the
//! page still shows the exact total at load time.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use crate::dashboard::format::{count, exact, money};
use crate::dashboard::pages::{Chrome, failure, render};
use crate::dashboard::session::viewer;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "dash/live.html")]
struct Page {
    chrome: Chrome,
    total: String,
    total_exact: String,
    total_raw: String,
    calls: String,
}

/// The live page.
#[get("/live")]
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let viewer = match viewer(&req, &state).await {
        Ok(v) => v,
        Err(d) => return d.response(),
    };
    let totals = match state.analytics.totals(&viewer.project).await {
        Ok(t) => t,
        Err(e) => return failure(e),
    };
    let body = Page {
        chrome: Chrome::new("Live", "/live", &viewer, None),
        total: money(totals.cost),
        total_exact: exact(totals.cost),
        total_raw: totals.cost.to_string(),
        calls: count(totals.requests),
    };
    render(&viewer, &body)
}
