//! Prompt analytics endpoints: what a team spends on repeated and near-duplicate prompts, what
//! caching would have saved, which templates cost most, and the near-duplicates of one call
//! (docs/API.md "Prompt analytics"). The use cases are [`aicp_domain::prompts::PromptService`]'s;
//! these handlers parse and shape.

use actix_web::{HttpRequest, HttpResponse, get, web};
use aicp_domain::Usd;
use aicp_domain::prompts::{
    self, NearDuplicates, PromptError, PromptReport, REPORT_GROUPS, SimilarQuery as Asked,
    SimilarityMode,
};
use aicp_domain::similarity::DEFAULT_SIMILARITY_THRESHOLD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::routes::project_of;
use crate::routes::query::AnalyticsQuery;
use crate::state::AppState;

/// One near-duplicate prompt.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SimilarPrompt {
    /// The most recent call with this prompt.
    id: uuid::Uuid,
    /// Its exact hash.
    prompt_hash: String,
    /// Its text, as the privacy setting allows (empty when not stored).
    content: String,
    /// Feature of most of its calls.
    feature: String,
    /// Model of its most recent call.
    model: String,
    /// Estimated Jaccard similarity of the normalised texts (MinHash), 0..1.
    similarity: f64,
    /// Calls.
    occurrences: u64,
    /// Their cost, USD.
    total_cost_usd: f64,
}

/// A prompt group of the report.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptGroup {
    /// MD5 of the normalised text.
    prompt_hash: String,
    /// MD5 of the template (numbers, ids, dates, e-mails... masked).
    template_hash: String,
    /// Text as the privacy setting allows (empty when not stored).
    content: String,
    /// Whether `content` holds text.
    content_stored: bool,
    /// Feature of most calls.
    feature: String,
    /// Calls.
    occurrences: u64,
    /// Their cost, USD (number, as the original).
    total_cost_usd: f64,
    /// Mean input + output tokens per call.
    avg_tokens: f64,
    /// Near-duplicates (other prompts at or above the similarity threshold).
    similar_prompts: Vec<SimilarPrompt>,
    /// Spend on the repeats (every call after the first), exact.
    #[schema(value_type = String)]
    repeated_spend_usd: Usd,
    /// Estimated saving had the repeated uncached input been read from the provider's prompt cache
    /// (at each model's cached-input price), exact.
    #[schema(value_type = String)]
    prompt_cache_saving_usd: Usd,
    /// Estimated saving had repeats been answered from a response cache (their whole cost).
    #[schema(value_type = String)]
    response_cache_saving_usd: Usd,
    /// Mean input tokens of this prompt versus the median of its feature.
    bloat: Bloat,
}

/// The bloat signal.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bloat {
    /// Mean input tokens per call of this prompt.
    avg_input_tokens: f64,
    /// Median input tokens of the feature's successful calls in the window.
    feature_median_input_tokens: f64,
    /// `avg / median` (0 without a median).
    ratio: f64,
    /// `ratio > 1.5` (the original's threshold).
    bloated: bool,
}

/// A prompt group of the bloat report (the original's shape).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptItem {
    /// MD5 of the prompt text.
    prompt_hash: String,
    /// First 100 characters.
    content: String,
    /// Calls.
    occurrences: u64,
    /// Their cost, USD.
    total_cost_usd: f64,
    /// Mean input + output tokens.
    avg_tokens: f64,
    /// Near-duplicates (filled by the similarity feature).
    similar_prompts: Vec<String>,
}

impl From<prompts::SimilarPrompt> for SimilarPrompt {
    fn from(p: prompts::SimilarPrompt) -> Self {
        Self {
            id: p.id,
            prompt_hash: p.prompt_hash,
            content: p.content,
            feature: p.feature,
            model: p.model,
            similarity: p.similarity,
            occurrences: p.occurrences,
            total_cost_usd: Usd::to_f64(p.total_cost),
        }
    }
}

impl From<prompts::PromptGroup> for PromptGroup {
    fn from(g: prompts::PromptGroup) -> Self {
        Self {
            prompt_hash: g.prompt_hash,
            template_hash: g.template_hash,
            content_stored: g.content.is_some(),
            content: g.content.unwrap_or_default(),
            feature: g.feature,
            occurrences: g.occurrences,
            total_cost_usd: Usd::to_f64(g.total_cost),
            avg_tokens: g.avg_tokens,
            similar_prompts: g.similar.into_iter().map(SimilarPrompt::from).collect(),
            repeated_spend_usd: g.repeated_spend,
            prompt_cache_saving_usd: g.prompt_cache_saving,
            response_cache_saving_usd: g.response_cache_saving,
            bloat: Bloat {
                avg_input_tokens: g.bloat.avg_input_tokens,
                feature_median_input_tokens: g.bloat.feature_median_input_tokens,
                ratio: g.bloat.ratio,
                bloated: g.bloat.bloated,
            },
        }
    }
}

/// Repeated and near-duplicate prompt groups of the window with their repeat spend, cache
/// savings and bloat; the original's bloat groups (docs/API.md) when no call carries a prompt.
#[utoipa::path(get, path = "/api/v1/analytics/prompts", tag = "analytics", params(AnalyticsQuery),
    responses((status = 200, body = Vec<PromptGroup>), (status = 400, body = ErrorBody)))]
#[get("/analytics/prompts")]
pub async fn report(
    req: HttpRequest,
    q: web::Query<AnalyticsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window = q.window()?;
    let project = project_of(&req);
    let report =
        state.prompts.report(&project, &window, REPORT_GROUPS, NearDuplicates::Include).await?;
    Ok(match report {
        PromptReport::Groups(groups) => {
            HttpResponse::Ok().json(groups.into_iter().map(PromptGroup::from).collect::<Vec<_>>())
        }
        PromptReport::Bloat(rows) => HttpResponse::Ok().json(
            rows.into_iter()
                .map(|r| PromptItem {
                    prompt_hash: r.prompt_hash,
                    content: r.content,
                    occurrences: r.occurrences,
                    total_cost_usd: Usd::to_f64(r.total_cost),
                    avg_tokens: r.avg_tokens,
                    similar_prompts: Vec::new(),
                })
                .collect::<Vec<_>>(),
        ),
    })
}

/// Query of `/similar`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SimilarQuery {
    /// Minimum similarity, 0..1 (default 0.8).
    threshold: Option<String>,
    /// Most results, 1..100 (default 10).
    limit: Option<String>,
    /// `lexical` (default: MinHash estimate of the Jaccard similarity of the normalised texts'
    /// word shingles) or `semantic` (cosine of the prompts' embeddings; needs `EMBEDDINGS_URL`).
    mode: Option<String>,
}

/// Near-duplicates of the prompt of one call, across the project's history: real similarity
/// scores (estimated Jaccard of the normalised texts, or with `mode=semantic` the cosine of their
/// embeddings), `threshold` honoured, `limit` capped. Cached for an hour per (project, event,
/// threshold, limit, mode and its scheme or embedding model).
#[utoipa::path(get, path = "/api/v1/analytics/prompts/{id}/similar", tag = "analytics",
    params(("id" = String, Path, description = "Event id"), SimilarQuery),
    responses(
        (status = 200, body = Vec<SimilarPrompt>),
        (status = 400, body = ErrorBody),
        (status = 404, description = "Event not found", body = ErrorBody)))]
#[get("/analytics/prompts/{id}/similar")]
pub async fn similar(
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<SimilarQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = uuid::Uuid::parse_str(&path)
        .map_err(|_| ApiError::InvalidParameter("The event id must be a UUID".into()))?;
    let threshold = match q.threshold.as_deref().filter(|t| !t.is_empty()) {
        None => DEFAULT_SIMILARITY_THRESHOLD,
        Some(t) => t.parse::<f64>().ok().filter(|v| (0.0..=1.0).contains(v)).ok_or_else(|| {
            ApiError::InvalidParameter(format!(
                "\"threshold\" must be a number from 0 to 1, received '{t}'"
            ))
        })?,
    };
    let limit = match q.limit.as_deref().filter(|l| !l.is_empty()) {
        None => 10,
        Some(l) => l.parse::<usize>().ok().filter(|v| (1..=100).contains(v)).ok_or_else(|| {
            ApiError::InvalidParameter(format!(
                "\"limit\" must be a whole number from 1 to 100, received '{l}'"
            ))
        })?,
    };
    let mode = SimilarityMode::parse(q.mode.as_deref()).map_err(ApiError::InvalidParameter)?;
    let asked = Asked { threshold, limit, mode };
    let answer = match state.prompts.similar(&project_of(&req), id, asked).await {
        Ok(answer) => answer,
        Err(PromptError::Disabled) => {
            return Err(ApiError::NotFound { path: req.path().to_owned() });
        }
        Err(e) => return Err(e.into()),
    };
    let body: Vec<SimilarPrompt> = answer.prompts.into_iter().map(SimilarPrompt::from).collect();
    Ok(HttpResponse::Ok()
        .insert_header(("x-cache", if answer.cached { "hit" } else { "miss" }))
        .json(body))
}

/// Cost of one prompt template.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateItem {
    /// MD5 of the template.
    template_hash: String,
    /// Text of one of its prompts (empty when not stored).
    content: String,
    /// Distinct prompts.
    prompts: usize,
    /// Calls.
    occurrences: u64,
    /// Their cost, exact.
    #[schema(value_type = String)]
    total_cost_usd: Usd,
}

/// Cost per prompt template (the same prompt with different variables), most expensive first.
#[utoipa::path(get, path = "/api/v1/analytics/prompt-templates", tag = "analytics", params(AnalyticsQuery),
    responses((status = 200, body = Vec<TemplateItem>), (status = 400, body = ErrorBody)))]
#[get("/analytics/prompt-templates")]
pub async fn templates(
    req: HttpRequest,
    q: web::Query<AnalyticsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window = q.window()?;
    let rows = state.prompts.templates(&project_of(&req), &window).await?;
    let body: Vec<TemplateItem> = rows
        .into_iter()
        .map(|t| TemplateItem {
            template_hash: t.template_hash,
            content: t.content,
            prompts: t.prompts,
            occurrences: t.occurrences,
            total_cost_usd: t.total_cost,
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}
