//! `/flamegraph`: the call-path flamegraph across the window's traces (inferno's SVG: width is
//! cost, hover shows cost and share, click zooms, search highlights) with a table of the same
//! paths; `/traces/{id}`: one trace as an indented tree with each span's cost and its subtree's.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};
use aicp_domain::Usd;
use aicp_domain::analytics::{CallPathNode, TraceNode};
use askama::Template;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rust_decimal::Decimal;

use crate::dashboard::format::{count, exact, money, share};
use crate::dashboard::pages::{Chrome, begin, error_page, failure, render};
use crate::dashboard::view::ViewQuery;
use crate::state::AppState;

/// The link to one trace's page.
pub fn trace_path(trace_id: &str) -> String {
    format!("/traces/{}", utf8_percent_encode(trace_id, NON_ALPHANUMERIC))
}

/// Paths listed in the table (the costliest): the flamegraph itself shows every path.
const PATH_ROWS: usize = 200;

/// One path of the call-path table.
pub struct PathRow {
    path: String,
    amount: Usd,
    cost: String,
    exact: String,
    self_cost: String,
    share: String,
    calls: String,
}

fn flatten(node: &CallPathNode, prefix: &str, total: Usd, out: &mut Vec<PathRow>) {
    for child in &node.children {
        let path = if prefix.is_empty() {
            child.name.clone()
        } else {
            format!("{prefix} → {}", child.name)
        };
        out.push(PathRow {
            amount: child.cost_usd,
            cost: money(child.cost_usd),
            exact: exact(child.cost_usd),
            self_cost: money(child.self_cost_usd),
            share: share(child.cost_usd, total),
            calls: count(child.calls),
            path: path.clone(),
        });
        flatten(child, &path, total, out);
    }
}

/// Folded stacks (`a;b;c count`) of the tree, counts in millionths of a dollar.
fn folded(node: &CallPathNode, stack: &mut Vec<String>, out: &mut Vec<String>) {
    let micros = (node.self_cost_usd.amount() * Decimal::from(1_000_000)).round();
    let micros: u64 = micros.try_into().unwrap_or(0);
    if !stack.is_empty() && micros > 0 {
        out.push(format!("{} {micros}", stack.join(";")));
    }
    for child in &node.children {
        // `;` separates frames and a space ends the stack: neither may appear in a name.
        stack.push(child.name.replace([';', ' '], "\u{a0}"));
        folded(child, stack, out);
        stack.pop();
    }
}

/// The flamegraph SVG of `root`, `None` when it has no cost.
fn flame_svg(root: &CallPathNode) -> Option<String> {
    let mut lines = Vec::new();
    folded(root, &mut Vec::new(), &mut lines);
    if lines.is_empty() {
        return None;
    }
    let mut opts = inferno::flamegraph::Options::default();
    opts.title = "Call paths by cost".into();
    opts.count_name = "µUSD".into();
    opts.name_type = "Path:".into();
    opts.colors =
        inferno::flamegraph::Palette::Basic(inferno::flamegraph::color::BasicPalette::Aqua);
    opts.deterministic = true;
    let mut out = Vec::new();
    inferno::flamegraph::from_lines(&mut opts, lines.iter().map(String::as_str), &mut out).ok()?;
    String::from_utf8(out).ok()
}

#[derive(Template)]
#[template(path = "dash/flamegraph.html")]
struct FlamePage {
    chrome: Chrome,
    all_paths: usize,
    svg_href: String,
    has_data: bool,
    rows: Vec<PathRow>,
    truncated: bool,
}

/// The call-path flamegraph page.
#[get("/flamegraph")]
pub async fn flamegraph(
    req: HttpRequest,
    q: web::Query<ViewQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (viewer, view) = match begin(&req, &state, &q).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let tree = match state.analytics.call_paths(&viewer.project, &view.window, &view.filter).await {
        Ok(t) => t,
        Err(e) => return failure(e),
    };
    let mut rows = Vec::new();
    flatten(&tree.value, "", tree.value.cost_usd, &mut rows);
    let all_paths = rows.len();
    rows.sort_by(|a, b| b.amount.cmp(&a.amount).then_with(|| a.path.cmp(&b.path)));
    rows.truncate(PATH_ROWS);
    let body = FlamePage {
        all_paths,
        chrome: Chrome::new("Flamegraph", "/flamegraph", &viewer, Some(&view)),
        svg_href: view.href("/flamegraph.svg", |_| {}),
        has_data: !tree.value.cost_usd.amount().is_zero(),
        rows,
        truncated: tree.truncated,
    };
    render(&viewer, &body)
}

/// The flamegraph itself, as an SVG document (its own script zooms and searches; it is embedded
/// with `<object>`, so that script runs in the SVG document, not in the page).
#[get("/flamegraph.svg")]
pub async fn flamegraph_svg(
    req: HttpRequest,
    q: web::Query<ViewQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (viewer, view) = match begin(&req, &state, &q).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let tree = match state.analytics.call_paths(&viewer.project, &view.window, &view.filter).await {
        Ok(t) => t,
        Err(e) => return failure(e),
    };
    let Some(svg) = flame_svg(&tree.value) else {
        return error_page(
            actix_web::http::StatusCode::NOT_FOUND,
            "No traced calls in this window.",
        );
    };
    let mut res = HttpResponse::Ok().content_type("image/svg+xml").body(svg);
    let h = res.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'self'"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// One span row of a trace, indented by depth.
pub struct SpanRow {
    indent: usize,
    depth: usize,
    span: String,
    feature: String,
    model: String,
    tokens: String,
    latency: String,
    cost: String,
    cost_exact: String,
    subtree: String,
    subtree_exact: String,
    status: &'static str,
}

fn spans(nodes: &[TraceNode], depth: usize, out: &mut Vec<SpanRow>) {
    for n in nodes {
        out.push(SpanRow {
            indent: depth * 20,
            depth: depth + 1,
            span: n.span_id.clone(),
            feature: n.feature.clone(),
            model: n.model.clone(),
            tokens: format!("{} / {}", n.input_tokens, n.output_tokens),
            latency: format!("{} ms", n.latency_ms),
            cost: money(n.cost_usd),
            cost_exact: exact(n.cost_usd),
            subtree: money(n.subtree_cost_usd),
            subtree_exact: exact(n.subtree_cost_usd),
            status: if n.is_error { "failed" } else { "ok" },
        });
        spans(&n.children, depth + 1, out);
    }
}

#[derive(Template)]
#[template(path = "dash/trace.html")]
struct TracePage {
    chrome: Chrome,
    trace_id: String,
    total: String,
    total_exact: String,
    span_count: usize,
    rows: Vec<SpanRow>,
    truncated: bool,
}

/// One trace.
#[get("/traces/{trace_id}")]
pub async fn trace(
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<ViewQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (viewer, view) = match begin(&req, &state, &q).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let trace_id = path.into_inner();
    if trace_id.is_empty() || trace_id.len() > 128 || trace_id.contains('\0') {
        return error_page(
            actix_web::http::StatusCode::BAD_REQUEST,
            "A trace id has 1 to 128 characters.",
        );
    }
    let t = match state.analytics.trace(&viewer.project, &trace_id).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return error_page(
                actix_web::http::StatusCode::NOT_FOUND,
                "This project has no such trace.",
            );
        }
        Err(e) => return failure(e),
    };
    let mut rows = Vec::new();
    spans(&t.roots, 0, &mut rows);
    let body = TracePage {
        chrome: Chrome::new("Trace", "/calls", &viewer, Some(&view)),
        trace_id,
        total: money(t.total_cost),
        total_exact: exact(t.total_cost),
        span_count: t.span_count,
        rows,
        truncated: t.truncated,
    };
    render(&viewer, &body)
}
