//! `/`: how much, the trend, where it goes and what was wasted, against the previous window.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, get, web};
use aicp_domain::Usd;
use aicp_domain::analytics::summary::Figures;
use aicp_domain::analytics::{
    BreakdownRow, Capped, Granularity, GroupBy, StackedSeries, WindowSummary, granularity_for,
};
use askama::Template;

use crate::dashboard::charts::{self, Series};
use crate::dashboard::format::{change, compact, count, exact, latency, money, percent, share};
use crate::dashboard::pages::{Chrome, begin, panel_error, render};
use crate::dashboard::view::{View, ViewQuery};
use crate::state::AppState;

/// How long one panel may take before the page is sent without it.
pub const PANEL_DEADLINE: Duration = Duration::from_secs(5);

/// A headline figure.
pub struct Card {
    /// What it is.
    pub label: &'static str,
    /// The figure.
    pub value: String,
    /// Exact value or detail on hover.
    pub title: String,
    /// Change against the previous window.
    pub delta: String,
    /// `up-bad`, `down-good` or empty.
    pub class: &'static str,
}

/// One row of a top-N table.
pub struct TopRow {
    /// Name.
    pub name: String,
    /// Link to its events.
    pub href: String,
    /// Cost.
    pub cost: String,
    /// Exact cost.
    pub exact: String,
    /// Share of the window's spend.
    pub share: String,
    /// Calls.
    pub calls: String,
}

/// A top-N panel.
pub struct TopPanel {
    /// Heading.
    pub title: &'static str,
    /// Its full page.
    pub more: String,
    /// Rows, or why there are none.
    pub rows: Result<Vec<TopRow>, String>,
}

/// One legend entry of the chart.
pub struct LegendItem {
    /// Series name.
    pub name: String,
    /// Its colour.
    pub colour: String,
    /// Its total over the window.
    pub total: String,
}

/// The cost-over-time chart and its table.
pub struct Trend {
    /// The SVG.
    pub svg: String,
    /// Legend.
    pub legend: Vec<LegendItem>,
    /// Column names of the table view (bucket, series…, total).
    pub columns: Vec<String>,
    /// Rows of the table view.
    pub rows: Vec<Vec<String>>,
    /// Links to split by feature / model.
    pub split: Vec<(String, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "dash/overview.html")]
struct Page {
    chrome: Chrome,
    empty: bool,
    cards: Result<Vec<Card>, String>,
    comparison: String,
    trend: Result<Trend, String>,
    tops: Vec<TopPanel>,
    snippet: String,
    exports: Vec<(String, &'static str)>,
}

fn delta_class(fraction: Option<f64>, up_is_bad: bool) -> &'static str {
    match fraction {
        Some(f) if f > 0.0 && up_is_bad => "up-bad",
        Some(f) if f < 0.0 && up_is_bad => "down-good",
        _ => "",
    }
}

fn cards(s: &WindowSummary) -> Vec<Card> {
    let (now, before, ch): (&Figures, &Figures, _) =
        (&s.summary.current, &s.summary.previous, &s.summary.change);
    let points = |now: f64, before: f64| {
        let d = (now - before) * 100.0;
        if d >= 0.0 { format!("+{d:.1} pts") } else { format!("−{:.1} pts", -d) }
    };
    vec![
        Card {
            label: "Spend",
            value: money(now.total_cost_usd),
            title: exact(now.total_cost_usd),
            delta: change(ch.total_cost),
            class: delta_class(ch.total_cost, true),
        },
        Card {
            label: "Calls",
            value: count(now.requests),
            title: String::new(),
            delta: change(ch.requests),
            class: "",
        },
        Card {
            label: "Tokens (in / out)",
            value: format!("{} / {}", compact(now.input_tokens), compact(now.output_tokens)),
            title: format!(
                "{} input, {} output, {} read from cache",
                count(now.input_tokens),
                count(now.output_tokens),
                count(now.cached_tokens)
            ),
            delta: format!("{} cached", percent(now.cached_token_share)),
            class: "",
        },
        Card {
            label: "Error rate",
            value: percent(now.error_rate),
            title: String::new(),
            delta: points(now.error_rate, before.error_rate),
            class: delta_class(Some(now.error_rate - before.error_rate), true),
        },
        Card {
            label: "Latency p50 · p95",
            value: format!("{} · {}", latency(now.p50_latency_ms), latency(now.p95_latency_ms)),
            title: format!("p99 {}", latency(now.p99_latency_ms)),
            delta: format!(
                "was {} · {}",
                latency(before.p50_latency_ms),
                latency(before.p95_latency_ms)
            ),
            class: "",
        },
        Card {
            label: "Waste (failed + retried)",
            value: money(now.waste.total_usd),
            title: format!(
                "{} on failed calls, {} on successful retries ({})",
                money(now.waste.failed_calls_usd),
                money(now.waste.retries_usd),
                exact(now.waste.total_usd)
            ),
            delta: format!("{} of spend · {}", percent(now.waste.share_of_spend), change(ch.waste)),
            class: delta_class(ch.waste, true),
        },
    ]
}

fn trend(view: &View, stacked: &StackedSeries, by: GroupBy, granularity: Granularity) -> Trend {
    let series: Vec<Series<'_>> =
        stacked.series.iter().map(|(name, costs)| Series { name, costs }).collect();
    let label = format!("Cost per {} by {}", granularity.unit(), by_name(by));
    let svg = charts::stacked_bars(
        "trend",
        &label,
        &stacked.buckets,
        &series,
        &stacked.totals,
        view.tz,
        granularity == Granularity::Hour,
    );
    let legend = stacked
        .series
        .iter()
        .map(|(name, costs)| LegendItem {
            name: name.clone(),
            colour: charts::css_colour(name),
            total: money(costs.iter().copied().sum()),
        })
        .collect();
    let mut columns = vec![granularity.unit().to_owned()];
    columns.extend(stacked.series.iter().map(|(n, _)| n.clone()));
    columns.push("total".into());
    let rows = stacked
        .buckets
        .iter()
        .enumerate()
        .filter(|(i, _)| !stacked.totals[*i].amount().is_zero())
        .map(|(i, b)| {
            let mut row = vec![view.time(*b)];
            row.extend(stacked.series.iter().map(|(_, c)| money(c[i])));
            row.push(money(stacked.totals[i]));
            row
        })
        .collect();
    let split = [(GroupBy::Feature, "feature"), (GroupBy::Model, "model")]
        .into_iter()
        .map(|(g, name)| (view.href("/", |q| q.by = Some(name.to_owned())), name, g == by))
        .collect();
    Trend { svg, legend, columns, rows, split }
}

fn by_name(by: GroupBy) -> &'static str {
    match by {
        GroupBy::Feature => "feature",
        GroupBy::Model => "model",
        GroupBy::Provider => "provider",
        GroupBy::User => "user",
    }
}

async fn deadline<T, E: std::fmt::Display>(
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(PANEL_DEADLINE, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(panel_error(e)),
        Err(_) => Err("This panel took too long; reload to try again.".to_owned()),
    }
}

/// The overview.
#[get("/")]
pub async fn page(
    req: HttpRequest,
    q: web::Query<ViewQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (viewer, view) = match begin(&req, &state, &q).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let project = &viewer.project;
    let by = match view.query.by.as_deref() {
        Some("model") => GroupBy::Model,
        _ => GroupBy::Feature,
    };
    let granularity = granularity_for(&view.window);
    let a = &state.analytics;
    let (summary, stacked, features, models, users, totals) = futures_util::join!(
        deadline(a.summary(project, &view.window, &view.filter)),
        deadline(a.stacked_series(
            project,
            &view.window,
            granularity,
            view.tz,
            &view.filter,
            by,
            6
        )),
        deadline(a.breakdown(project, &view.window, GroupBy::Feature, &view.filter, 5)),
        deadline(a.breakdown(project, &view.window, GroupBy::Model, &view.filter, 5)),
        deadline(a.breakdown(project, &view.window, GroupBy::User, &view.filter, 5)),
        deadline(a.totals(project)),
    );
    let spend = summary.as_ref().map_or(Usd::ZERO, |s| s.summary.current.total_cost_usd);
    let top = |title, more: &str, dim, rows: Result<Capped<Vec<BreakdownRow>>, String>| TopPanel {
        title,
        more: view.window_href(more),
        rows: rows.map(|r| {
            r.value
                .into_iter()
                .map(|r| TopRow {
                    href: view.drill(dim, &r.dimension),
                    cost: money(r.cost),
                    exact: exact(r.cost),
                    share: share(r.cost, spend),
                    calls: count(r.requests),
                    name: r.dimension,
                })
                .collect()
        }),
    };
    let comparison = summary.as_ref().map_or(String::new(), |s| {
        format!(
            "Changes compare with {} → {}",
            view.time(s.previous.from),
            view.time(s.previous.to)
        )
    });
    let body = Page {
        chrome: Chrome::new("Overview", "/", &viewer, Some(&view)),
        empty: totals.as_ref().is_ok_and(|t| t.requests == 0),
        cards: summary.as_ref().map(cards).map_err(Clone::clone),
        comparison,
        trend: stacked.map(|s| trend(&view, &s, by, granularity)),
        tops: vec![
            top("Top features", "/features", GroupBy::Feature, features),
            top("Top models", "/models", GroupBy::Model, models),
            top("Top users", "/users", GroupBy::User, users),
        ],
        snippet: first_event_snippet(&req, viewer.auth_on),
        exports: vec![
            (view.export_href("events", "csv"), "Events CSV"),
            (view.export_href("cost-summary:feature", "csv"), "By feature CSV"),
            (view.export_href("cost-summary:model", "csv"), "By model CSV"),
        ],
    };
    render(&viewer, &body)
}

/// The `curl` that sends a first event to this server.
fn first_event_snippet(req: &HttpRequest, auth_on: bool) -> String {
    let info = req.connection_info();
    let key = if auth_on { " -H 'x-api-key: YOUR_API_KEY'" } else { "" };
    format!(
        "curl -s -X POST {}://{}/api/v1/events -H 'content-type: application/json'{key} -d '{{\"events\":[{{\"traceId\":\"tr_1\",\"spanId\":\"sp_1\",\"feature\":\"chat\",\"provider\":\"openai\",\"model\":\"gpt-4o\",\"inputTokens\":1000,\"outputTokens\":500,\"latencyMs\":812,\"estimatedCostUsd\":0.0075,\"timestamp\":\"{}\"}}]}}'",
        info.scheme(),
        info.host(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    )
}
