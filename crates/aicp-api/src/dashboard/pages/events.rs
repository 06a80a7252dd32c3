//! `/events`: the events of the window with filters and cursor paging; `/calls`: the most
//! expensive calls. Each row links to its trace.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use aicp_domain::analytics::Cursor;
use aicp_domain::event::StoredEvent;
use askama::Template;

use crate::dashboard::format::{count, exact, money};
use crate::dashboard::pages::{Chrome, begin, error_page, failure, render};
use crate::dashboard::view::{View, ViewQuery};
use crate::state::AppState;

/// Events per page.
const PAGE: usize = 50;
/// Calls on the top-calls page.
const TOP: usize = 100;

/// One event row.
pub struct EventRow {
    time: String,
    feature: String,
    model: String,
    provider: String,
    user: String,
    tokens: String,
    latency: String,
    cost: String,
    exact: String,
    status: String,
    trace_href: String,
    trace: String,
}

fn event_row(view: &View, e: &StoredEvent) -> EventRow {
    let tokens = u64::try_from(e.input_tokens.max(0)).unwrap_or(0)
        + u64::try_from(e.output_tokens.max(0)).unwrap_or(0);
    let status = if e.is_error {
        format!("failed{}", e.error_code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())
    } else if e.retry_count > 0 {
        format!("ok after {} retr{}", e.retry_count, if e.retry_count == 1 { "y" } else { "ies" })
    } else {
        "ok".to_owned()
    };
    let trace_q = serde_urlencoded::to_string([("tz", view.tz.name())]).unwrap_or_default();
    EventRow {
        time: view.time(e.created_at),
        feature: e.feature.clone(),
        model: e.model.clone(),
        provider: e.provider.clone(),
        user: e.user_id.clone().unwrap_or_default(),
        tokens: count(tokens),
        latency: format!("{} ms", e.latency_ms),
        cost: money(e.verified_cost),
        exact: exact(e.verified_cost),
        status,
        trace_href: format!("{}?{trace_q}", super::traces::trace_path(&e.trace_id)),
        trace: e.trace_id.clone(),
    }
}

#[derive(Template)]
#[template(path = "dash/events.html")]
struct Page {
    chrome: Chrome,
    heading: &'static str,
    intro: &'static str,
    rows: Vec<EventRow>,
    next: Option<String>,
    first: Option<String>,
    filters: Filters,
    exports: Vec<(String, &'static str)>,
}

/// The filter form's current values.
pub struct Filters {
    path: &'static str,
    feature: String,
    model: String,
    provider: String,
    user: String,
    errors: String,
    keep: Vec<(&'static str, String)>,
}

fn filters(path: &'static str, v: &View) -> Filters {
    let q = &v.query;
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    Filters {
        path,
        feature: s(&q.feature),
        model: s(&q.model),
        provider: s(&q.provider),
        user: s(&q.user),
        errors: s(&q.errors),
        keep: [("range", &q.range), ("from", &q.from), ("to", &q.to), ("tz", &q.tz)]
            .into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
            .collect(),
    }
}

fn exports(view: &View) -> Vec<(String, &'static str)> {
    vec![
        (view.export_href("events", "csv"), "CSV"),
        (view.export_href("events", "json"), "JSON"),
        (view.export_href("events", "ndjson"), "NDJSON"),
    ]
}

/// The events list.
#[get("/events")]
pub async fn page(
    req: HttpRequest,
    q: web::Query<ViewQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (viewer, view) = match begin(&req, &state, &q).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let cursor = match view.query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match Cursor::decode(c) {
            Ok(c) => Some(c),
            Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.to_string()),
        },
    };
    let paged = cursor.is_some();
    let page = match state
        .analytics
        .events_page(&viewer.project, &view.window, &view.filter, cursor, PAGE)
        .await
    {
        Ok(p) => p,
        Err(e) => return failure(e),
    };
    let next = page.next.map(|c| view.href("/events", |q| q.cursor = Some(c.encode())));
    let body = Page {
        chrome: Chrome::new("Events", "/events", &viewer, Some(&view)),
        heading: "Events",
        intro: "Newest first, 50 per page.",
        rows: page.rows.iter().map(|e| event_row(&view, e)).collect(),
        next,
        first: paged.then(|| view.href("/events", |q| q.cursor = None)),
        filters: filters("/events", &view),
        exports: exports(&view),
    };
    render(&viewer, &body)
}

/// The most expensive calls.
#[get("/calls")]
pub async fn top_calls(
    req: HttpRequest,
    q: web::Query<ViewQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (viewer, view) = match begin(&req, &state, &q).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let rows =
        match state.analytics.top_calls(&viewer.project, &view.window, &view.filter, TOP).await {
            Ok(r) => r,
            Err(e) => return failure(e),
        };
    let body = Page {
        chrome: Chrome::new("Top calls", "/calls", &viewer, Some(&view)),
        heading: "Most expensive calls",
        intro: "The 100 most expensive calls of the window; open a trace to see what led to it.",
        rows: rows.iter().map(|e| event_row(&view, e)).collect(),
        next: None,
        first: None,
        filters: filters("/calls", &view),
        exports: exports(&view),
    };
    render(&viewer, &body)
}
