//! `/pricing`: are prices right? Coverage (unpriced models with their calls and spend at the
//! fallback price, client-reported against computed cost), the project's custom prices with a
//! form to set one, re-pricing with a dry-run diff before apply, and the catalogue with its
//! price history.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use aicp_domain::analytics::{Filter, GroupBy};
use aicp_domain::pricing::{ModelPricing, PricingError, RepriceReport, RepriceRequest};
use aicp_domain::{TimeWindow, Usd};
use askama::Template;
use serde::Deserialize;

use crate::dashboard::format::{count, exact, money, percent};
use crate::dashboard::pages::{Chrome, begin, error_page, failure, form_viewer, render};
use crate::dashboard::session::Viewer;
use crate::dashboard::view::{View, ViewQuery};
use crate::state::AppState;

/// An unpriced model.
pub struct Unpriced {
    model: String,
    calls: String,
    tokens: String,
    spend: String,
}

/// Reported versus computed cost of one model.
pub struct Reported {
    model: String,
    calls: String,
    reported: String,
    computed: String,
    divergence: String,
}

/// One price row (a model's period).
pub struct PriceRow {
    model: String,
    provider: String,
    from: String,
    input: String,
    output: String,
    cache_read: String,
}

/// One line of a re-pricing diff.
pub struct DiffRow {
    key: String,
    events: String,
    changed: String,
    before: String,
    after: String,
    difference: String,
}

/// A re-pricing result shown on the page.
pub struct Diff {
    dry_run: bool,
    scanned: String,
    changed: String,
    before: String,
    after: String,
    difference: String,
    by_model: Vec<DiffRow>,
    by_feature: Vec<DiffRow>,
    from: String,
    to: String,
    model: String,
}

#[derive(Template)]
#[template(path = "dash/pricing.html")]
struct Page {
    chrome: Chrome,
    calls: String,
    unpriced_share: String,
    unpriced: Vec<Unpriced>,
    reported: Vec<Reported>,
    custom: Vec<PriceRow>,
    catalogue: Vec<PriceRow>,
    version: String,
    from: String,
    to: String,
    diff: Option<Diff>,
    messages: Vec<String>,
}

fn rows(models: &[std::sync::Arc<ModelPricing>]) -> Vec<PriceRow> {
    let per_m = |d: rust_decimal::Decimal| format!("${}", d.normalize());
    models
        .iter()
        .flat_map(|m| {
            m.periods.iter().map(move |p| PriceRow {
                model: m.model.clone(),
                provider: m.provider.map(|p| p.as_str().to_owned()).unwrap_or_default(),
                from: p.effective_from.to_string(),
                input: per_m(p.rates.input),
                output: per_m(p.rates.output),
                cache_read: p.rates.cache_read.map(per_m).unwrap_or_default(),
            })
        })
        .collect()
}

/// A signed exact difference (`"-0.0175"`) as money (`−$0.0175`); kept as written when it is not
/// a number.
fn signed(text: &str) -> String {
    text.parse::<rust_decimal::Decimal>().map_or_else(|_| text.to_owned(), |d| money(Usd::new(d)))
}

fn delta(d: &aicp_domain::pricing::reprice::RepriceDelta) -> DiffRow {
    DiffRow {
        key: d.key.clone(),
        events: count(d.events),
        changed: count(d.changed),
        before: money(d.before_usd),
        after: money(d.after_usd),
        difference: signed(&d.difference_usd),
    }
}

fn diff(r: &RepriceReport, from: &str, to: &str, model: &str) -> Diff {
    Diff {
        dry_run: r.dry_run,
        scanned: count(r.events_scanned),
        changed: count(r.events_changed),
        before: exact(r.before_usd),
        after: exact(r.after_usd),
        difference: signed(&r.difference_usd),
        by_model: r.by_model.iter().map(delta).collect(),
        by_feature: r.by_feature.iter().map(delta).collect(),
        from: from.to_owned(),
        to: to.to_owned(),
        model: model.to_owned(),
    }
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    view: &View,
    diff: Option<Diff>,
    messages: Vec<String>,
    status: StatusCode,
) -> HttpResponse {
    let project = &viewer.project;
    let everything = Filter::default();
    let (coverage, by_model) = futures_util::join!(
        state.costs.coverage(project, &view.window),
        state.analytics.breakdown(project, &view.window, GroupBy::Model, &everything, 10_000),
    );
    let (coverage, by_model) = match (coverage, by_model) {
        (Ok(c), Ok(b)) => (c, b.value),
        (Err(e), _) | (_, Err(e)) => return failure(e),
    };
    let spend =
        |model: &str| by_model.iter().find(|r| r.dimension == model).map_or(Usd::ZERO, |r| r.cost);
    let unpriced_calls: u64 = coverage.unpriced.iter().map(|u| u.calls).sum();
    let book = state.pricing.book().current();
    let day =
        |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&view.tz).format("%Y-%m-%d").to_string();
    let body = Page {
        chrome: Chrome::new("Pricing", "/pricing", viewer, Some(view)),
        calls: count(coverage.calls),
        unpriced_share: percent(unpriced_calls as f64 / coverage.calls.max(1) as f64),
        unpriced: coverage
            .unpriced
            .iter()
            .map(|u| Unpriced {
                model: u.model.clone(),
                calls: count(u.calls),
                tokens: count(u.tokens),
                spend: money(spend(&u.model)),
            })
            .collect(),
        reported: coverage
            .reported
            .iter()
            .map(|r| Reported {
                model: r.model.clone(),
                calls: count(r.calls),
                reported: money(r.reported),
                computed: money(r.computed),
                divergence: money(Usd::new(r.reported.amount() - r.computed.amount())),
            })
            .collect(),
        custom: rows(&book.custom_models(project)),
        catalogue: rows(&book.catalogue_models()),
        version: book.version().to_owned(),
        from: day(view.window.from),
        to: day(view.window.to),
        diff,
        messages,
    };
    let mut res = render(viewer, &body);
    *res.status_mut() = status;
    res
}

/// The pricing page.
#[get("/pricing")]
pub async fn page(
    req: HttpRequest,
    q: web::Query<ViewQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (viewer, view) = match begin(&req, &state, &q).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    show(&state, &viewer, &view, None, Vec::new(), StatusCode::OK).await
}

/// The custom price form.
#[derive(Debug, Deserialize)]
pub struct PriceForm {
    csrf: String,
    model: String,
    #[serde(default)]
    provider: String,
    effective_from: String,
    input: String,
    output: String,
    #[serde(default)]
    cache_read: String,
}

/// Sets a custom price (the same validation as `PUT /api/v1/pricing`).
#[post("/pricing/custom")]
pub async fn put_custom(
    req: HttpRequest,
    form: web::Form<PriceForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let viewer = match form_viewer(&req, &state, &form.csrf).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let view = match ViewQuery::default().resolve(state.clock.now()) {
        Ok(v) => v,
        Err(m) => return error_page(StatusCode::BAD_REQUEST, &m),
    };
    let mut body = serde_json::json!({
        "model": form.model.trim(),
        "effectiveFrom": form.effective_from.trim(),
        "input": form.input.trim(),
        "output": form.output.trim(),
    });
    if !form.provider.trim().is_empty() {
        body["provider"] = form.provider.trim().into();
    }
    if !form.cache_read.trim().is_empty() {
        body["cacheRead"] = form.cache_read.trim().into();
    }
    match state.pricing.set_custom(&viewer.project, &body).await {
        Ok(p) => {
            let msg = format!(
                "Saved the price of {} from {}. Re-price history below to apply it to stored calls.",
                p.model,
                form.effective_from.trim()
            );
            show(&state, &viewer, &view, None, vec![msg], StatusCode::OK).await
        }
        Err(PricingError::Invalid(issues)) => {
            let msgs = issues
                .into_iter()
                .map(|i| {
                    if i.path.is_empty() { i.message } else { format!("{}: {}", i.path, i.message) }
                })
                .collect();
            show(&state, &viewer, &view, None, msgs, StatusCode::BAD_REQUEST).await
        }
        Err(PricingError::Repo(e)) => failure(e),
        Err(PricingError::Unexpected(e)) => failure(crate::error::ApiError::Internal(e)),
    }
}

/// The re-pricing form.
#[derive(Debug, Deserialize)]
pub struct RepriceForm {
    csrf: String,
    from: String,
    to: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    apply: String,
}

/// Re-prices a window: a dry run shows the diff; "apply" writes it.
#[post("/pricing/reprice")]
pub async fn reprice(
    req: HttpRequest,
    form: web::Form<RepriceForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let viewer = match form_viewer(&req, &state, &form.csrf).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let view = match ViewQuery::default().resolve(state.clock.now()) {
        Ok(v) => v,
        Err(m) => return error_page(StatusCode::BAD_REQUEST, &m),
    };
    let window = match TimeWindow::parse(Some(form.from.trim()), Some(form.to.trim())) {
        Ok(w) => w,
        Err(e) => {
            return show(
                &state,
                &viewer,
                &view,
                None,
                vec![e.to_string()],
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let model = Some(form.model.trim().to_owned()).filter(|m| !m.is_empty());
    let request = RepriceRequest { window, model, apply: form.apply == "true" };
    match state.reprice.reprice(&viewer.project, &request).await {
        Ok(report) => {
            let d = diff(&report, form.from.trim(), form.to.trim(), form.model.trim());
            show(&state, &viewer, &view, Some(d), Vec::new(), StatusCode::OK).await
        }
        Err(e) => failure(e),
    }
}
