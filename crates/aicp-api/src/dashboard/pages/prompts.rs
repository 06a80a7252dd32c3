//! `/prompts`: repeated and near-duplicate prompts, what the repeats cost and what prompt or
//! response caching would have saved, and the costliest templates; `/prompts/{id}`: the
//! near-duplicates of one call's prompt (semantic when an embeddings provider is configured).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use aicp_domain::Usd;
use aicp_domain::prompts::{
    NearDuplicates, PromptReport, REPORT_GROUPS, SimilarQuery, SimilarityMode,
};
use aicp_domain::similarity::DEFAULT_SIMILARITY_THRESHOLD;
use askama::Template;

use crate::dashboard::format::{count, exact, money, percent};
use crate::dashboard::pages::{Chrome, begin, error_page, failure, render};
use crate::dashboard::view::ViewQuery;
use crate::state::AppState;

/// A near-duplicate shown under a group.
pub struct Near {
    text: String,
    similarity: String,
    calls: String,
    cost: String,
}

/// One prompt group.
pub struct Group {
    text: String,
    stored: bool,
    hash: String,
    feature: String,
    calls: String,
    cost: String,
    exact: String,
    repeats: String,
    prompt_cache: String,
    response_cache: String,
    bloat: String,
    near: Vec<Near>,
    similar_href: Option<String>,
}

/// One template.
pub struct TemplateRow {
    text: String,
    variants: String,
    calls: String,
    cost: String,
    exact: String,
}

#[derive(Template)]
#[template(path = "dash/prompts.html")]
struct Page {
    chrome: Chrome,
    fingerprinted: bool,
    groups: Vec<Group>,
    repeat_total: String,
    prompt_cache_total: String,
    response_cache_total: String,
    templates: Result<Vec<TemplateRow>, String>,
    exports: Vec<(String, &'static str)>,
}

fn short(text: &str, stored: bool) -> String {
    if !stored {
        return "(text not kept: PROMPT_STORAGE=fingerprint)".into();
    }
    let mut t: String = text.chars().take(160).collect();
    if text.chars().count() > 160 {
        t.push('…');
    }
    t
}

/// The prompt report.
#[get("/prompts")]
pub async fn page(
    req: HttpRequest,
    q: web::Query<ViewQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (viewer, view) = match begin(&req, &state, &q).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let p = &state.prompts;
    let (report, templates) = futures_util::join!(
        p.report(&viewer.project, &view.window, REPORT_GROUPS, NearDuplicates::Include),
        p.templates(&viewer.project, &view.window),
    );
    let report = match report {
        Ok(r) => r,
        Err(e) => return failure(e),
    };
    let mut totals = (Usd::ZERO, Usd::ZERO, Usd::ZERO);
    let (fingerprinted, groups) = match report {
        PromptReport::Groups(groups) => (
            true,
            groups
                .into_iter()
                .inspect(|g| {
                    totals.0 = totals.0 + g.repeated_spend;
                    totals.1 = totals.1 + g.prompt_cache_saving;
                    totals.2 = totals.2 + g.response_cache_saving;
                })
                .map(|g| Group {
                    similar_href: Some(view.href(&format!("/prompts/{}", g.latest_id), |q| {
                        q.sort = None;
                        q.dir = None;
                    })),
                    text: short(g.content.as_deref().unwrap_or_default(), g.content.is_some()),
                    stored: g.content.is_some(),
                    hash: g.prompt_hash.clone(),
                    feature: g.feature.clone(),
                    calls: count(g.occurrences),
                    cost: money(g.total_cost),
                    exact: exact(g.total_cost),
                    repeats: money(g.repeated_spend),
                    prompt_cache: money(g.prompt_cache_saving),
                    response_cache: money(g.response_cache_saving),
                    bloat: if g.bloat.feature_median_input_tokens > 0.0 {
                        format!("{:.1}× the feature's median input", g.bloat.ratio)
                    } else {
                        String::new()
                    },
                    near: g
                        .similar
                        .iter()
                        .map(|s| Near {
                            text: short(&s.content, !s.content.is_empty()),
                            similarity: percent(s.similarity),
                            calls: count(s.occurrences),
                            cost: money(s.total_cost),
                        })
                        .collect(),
                })
                .collect::<Vec<_>>(),
        ),
        PromptReport::Bloat(rows) => (
            false,
            rows.into_iter()
                .map(|r| Group {
                    text: short(&r.content, true),
                    stored: true,
                    hash: r.prompt_hash,
                    feature: String::new(),
                    calls: count(r.occurrences),
                    cost: money(r.total_cost),
                    exact: exact(r.total_cost),
                    repeats: String::new(),
                    prompt_cache: String::new(),
                    response_cache: String::new(),
                    bloat: String::new(),
                    near: Vec::new(),
                    similar_href: None,
                })
                .collect(),
        ),
    };
    let body = Page {
        chrome: Chrome::new("Prompts", "/prompts", &viewer, Some(&view)),
        fingerprinted,
        groups,
        repeat_total: money(totals.0),
        prompt_cache_total: money(totals.1),
        response_cache_total: money(totals.2),
        templates: templates
            .map(|t| {
                t.into_iter()
                    .map(|t| TemplateRow {
                        text: short(&t.content, !t.content.is_empty()),
                        variants: count(t.prompts as u64),
                        calls: count(t.occurrences),
                        cost: money(t.total_cost),
                        exact: exact(t.total_cost),
                    })
                    .collect()
            })
            .map_err(crate::dashboard::pages::panel_error),
        exports: ["csv", "json", "ndjson"]
            .into_iter()
            .map(|f| {
                (
                    view.export_href("prompts", f),
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

#[derive(Template)]
#[template(path = "dash/similar.html")]
struct SimilarPage {
    chrome: Chrome,
    rows: Vec<Near>,
    semantic: bool,
    mode: &'static str,
    lexical_href: String,
    semantic_href: String,
}

/// Near-duplicates of one call's prompt.
#[get("/prompts/{id}")]
pub async fn similar(
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<ViewQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (viewer, view) = match begin(&req, &state, &q).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let Ok(id) = uuid::Uuid::parse_str(&path) else {
        return error_page(StatusCode::BAD_REQUEST, "An event id is a UUID.");
    };
    let mode = match SimilarityMode::parse(view.query.mode.as_deref()) {
        Ok(m) => m,
        Err(m) => return error_page(StatusCode::BAD_REQUEST, &m),
    };
    let asked = SimilarQuery { threshold: DEFAULT_SIMILARITY_THRESHOLD, limit: 20, mode };
    let answer = match state.prompts.similar(&viewer.project, id, asked).await {
        Ok(a) => a,
        Err(e) => return failure(e),
    };
    let here = format!("/prompts/{id}");
    let body = SimilarPage {
        chrome: Chrome::new("Similar prompts", "/prompts", &viewer, Some(&view)),
        rows: answer
            .prompts
            .iter()
            .map(|s| Near {
                text: short(&s.content, !s.content.is_empty()),
                similarity: percent(s.similarity),
                calls: count(s.occurrences),
                cost: money(s.total_cost),
            })
            .collect(),
        semantic: state.prompts.has_semantic(),
        mode: if mode == SimilarityMode::Semantic { "semantic" } else { "lexical" },
        lexical_href: view.href(&here, |q| q.mode = None),
        semantic_href: view.href(&here, |q| q.mode = Some("semantic".into())),
    };
    render(&viewer, &body)
}
