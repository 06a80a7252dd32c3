//! `/features`, `/models`, `/providers`, `/users`: one sortable table per dimension with cost,
//! share, calls, tokens, latency percentiles, error rate and waste, each row drilling down to
//! its events, beside a bar chart of the same costs.

use actix_web::{HttpRequest, HttpResponse, get, web};
use aicp_domain::Usd;
use aicp_domain::analytics::{DimensionStats, GroupBy};
use askama::Template;

use crate::dashboard::charts;
use crate::dashboard::format::{count, exact, latency, money, percent, share};
use crate::dashboard::pages::{Chrome, begin, failure, render};
use crate::dashboard::view::{View, ViewQuery};
use crate::state::AppState;

/// Rows shown (the most expensive).
const ROWS: usize = 100;

/// One row.
pub struct Row {
    name: String,
    href: String,
    colour: String,
    cost: String,
    exact: String,
    share: String,
    calls: String,
    tokens_in: String,
    tokens_out: String,
    p50: String,
    p95: String,
    errors: String,
    waste: String,
}

/// A sortable column header.
pub struct Column {
    label: &'static str,
    href: String,
    /// `ascending`, `descending` or `none` (for `aria-sort`).
    sort: &'static str,
    numeric: bool,
}

#[derive(Template)]
#[template(path = "dash/dimension.html")]
struct Page {
    chrome: Chrome,
    heading: &'static str,
    noun: &'static str,
    columns: Vec<Column>,
    rows: Vec<Row>,
    total_cost: String,
    total_exact: String,
    total_calls: String,
    truncated: bool,
    chart: String,
    exports: Vec<(String, &'static str)>,
}

/// Sort keys, by column.
const SORTS: [(&str, &str, bool); 10] = [
    ("name", "Name", false),
    ("cost", "Cost", true),
    ("share", "Share", true),
    ("calls", "Calls", true),
    ("input", "Tokens in", true),
    ("output", "Tokens out", true),
    ("p50", "p50", true),
    ("p95", "p95", true),
    ("errors", "Error rate", true),
    ("waste", "Waste", true),
];

fn sort(rows: &mut [DimensionStats], key: &str, ascending: bool) {
    rows.sort_by(|a, b| {
        let ord = match key {
            "name" => a.row.dimension.cmp(&b.row.dimension),
            "calls" => a.row.requests.cmp(&b.row.requests),
            "input" => a.row.input_tokens.cmp(&b.row.input_tokens),
            "output" => a.row.output_tokens.cmp(&b.row.output_tokens),
            "p50" => a.stats.latency.quantile(0.5).cmp(&b.stats.latency.quantile(0.5)),
            "p95" => a.stats.latency.quantile(0.95).cmp(&b.stats.latency.quantile(0.95)),
            "errors" => {
                let rate = |d: &DimensionStats| d.stats.errors as f64 / d.stats.calls.max(1) as f64;
                rate(a).total_cmp(&rate(b))
            }
            "waste" => (a.stats.error_cost + a.stats.retry_cost)
                .cmp(&(b.stats.error_cost + b.stats.retry_cost)),
            // cost and share order alike.
            _ => a.row.cost.cmp(&b.row.cost),
        };
        if ascending { ord } else { ord.reverse() }
    });
}

async fn dimension(
    req: HttpRequest,
    q: web::Query<ViewQuery>,
    state: web::Data<AppState>,
    dim: GroupBy,
) -> HttpResponse {
    let (path, heading, noun) = match dim {
        GroupBy::Feature => ("/features", "Features", "feature"),
        GroupBy::Model => ("/models", "Models", "model"),
        GroupBy::Provider => ("/providers", "Providers", "provider"),
        GroupBy::User => ("/users", "Users", "user"),
    };
    let (viewer, view) = match begin(&req, &state, &q).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let (stats, summary) = futures_util::join!(
        state.analytics.breakdown_stats(&viewer.project, &view.window, dim, &view.filter, ROWS),
        state.analytics.window_stats(&viewer.project, &view.window, &view.filter),
    );
    let (stats, whole) = match (stats, summary) {
        (Ok(s), Ok(w)) => (s, w),
        (Err(e), _) | (_, Err(e)) => return failure(e),
    };
    let key = view.query.sort.clone().unwrap_or_else(|| "cost".into());
    let ascending = view.query.dir.as_deref() == Some("asc");
    let mut rows = stats.value;
    sort(&mut rows, &key, ascending);
    let columns = SORTS
        .iter()
        .map(|(k, label, numeric)| {
            let active = *k == key;
            Column {
                label,
                numeric: *numeric,
                sort: match (active, ascending) {
                    (false, _) => "none",
                    (true, true) => "ascending",
                    (true, false) => "descending",
                },
                href: view.href(path, |q| {
                    q.sort = Some((*k).to_owned());
                    q.dir = Some(if active && !ascending { "asc" } else { "desc" }.to_owned());
                }),
            }
        })
        .collect();
    let chart_rows: Vec<(String, Usd)> = {
        let mut by_cost: Vec<&DimensionStats> = rows.iter().collect();
        by_cost.sort_by_key(|d| std::cmp::Reverse(d.row.cost));
        by_cost.iter().take(12).map(|d| (d.row.dimension.clone(), d.row.cost)).collect()
    };
    let chart =
        charts::bars("bars", &format!("Cost by {noun}, top {}", chart_rows.len()), &chart_rows);
    let body = Page {
        chrome: Chrome::new(heading, path, &viewer, Some(&view)),
        heading,
        noun,
        columns,
        rows: rows.iter().map(|d| row(&view, dim, d, whole.cost)).collect(),
        total_cost: money(whole.cost),
        total_exact: exact(whole.cost),
        total_calls: count(whole.calls),
        truncated: stats.truncated,
        chart,
        exports: ["csv", "json", "ndjson"]
            .into_iter()
            .map(|f| {
                let kind = format!("cost-summary:{noun}");
                (
                    view.export_href(&kind, f),
                    match f {
                        "csv" => "CSV",
                        "json" => "JSON",
                        _ => "NDJSON",
                    },
                )
            })
            .collect(),
    };
    render(&viewer, &body)
}

fn row(view: &View, dim: GroupBy, d: &DimensionStats, whole: Usd) -> Row {
    let waste = d.stats.error_cost + d.stats.retry_cost;
    Row {
        href: view.drill(dim, &d.row.dimension),
        colour: charts::css_colour(&d.row.dimension),
        cost: money(d.row.cost),
        exact: exact(d.row.cost),
        share: share(d.row.cost, whole),
        calls: count(d.row.requests),
        tokens_in: count(d.row.input_tokens),
        tokens_out: count(d.row.output_tokens),
        p50: latency(d.stats.latency.quantile(0.5)),
        p95: latency(d.stats.latency.quantile(0.95)),
        errors: percent(d.stats.errors as f64 / d.stats.calls.max(1) as f64),
        waste: money(waste),
        name: d.row.dimension.clone(),
    }
}

/// Cost by feature.
#[get("/features")]
pub async fn features(
    req: HttpRequest,
    q: web::Query<ViewQuery>,
    s: web::Data<AppState>,
) -> HttpResponse {
    dimension(req, q, s, GroupBy::Feature).await
}

/// Cost by model.
#[get("/models")]
pub async fn models(
    req: HttpRequest,
    q: web::Query<ViewQuery>,
    s: web::Data<AppState>,
) -> HttpResponse {
    dimension(req, q, s, GroupBy::Model).await
}

/// Cost by provider.
#[get("/providers")]
pub async fn providers(
    req: HttpRequest,
    q: web::Query<ViewQuery>,
    s: web::Data<AppState>,
) -> HttpResponse {
    dimension(req, q, s, GroupBy::Provider).await
}

/// Cost by end user.
#[get("/users")]
pub async fn users(
    req: HttpRequest,
    q: web::Query<ViewQuery>,
    s: web::Data<AppState>,
) -> HttpResponse {
    dimension(req, q, s, GroupBy::User).await
}
