//! Prompt analytics: what a team spends on repeated and near-duplicate prompts, what caching would
//! have saved, which templates cost most, and the near-duplicates of one call
//! (original-api.md §7.4, §7.7, with `similarPrompts` filled and real similarity scores).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, web};
use aicp_domain::similarity::{DEFAULT_SIMILARITY_THRESHOLD, PromptAnalyzer, PromptFingerprint};
use aicp_domain::{PriceBook, PromptModelRow, StoredPrompt, TimeWindow, Usd};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::routes::analytics::AnalyticsQuery;
use crate::routes::project_of;
use crate::state::AppState;

/// How long `/similar` answers are cached.
const SIMILAR_TTL: std::time::Duration = std::time::Duration::from_secs(3600);
/// Prompt groups in the report.
const GROUPS: usize = 20;
/// Near-duplicates shown per prompt group.
const NEAR_SHOWN: usize = 5;
/// Near-duplicate candidates examined per prompt.
const CANDIDATES: usize = 200;

/// One near-duplicate prompt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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

fn repeat_share(calls: u64) -> Decimal {
    if calls <= 1 { Decimal::ZERO } else { Decimal::from(calls - 1) / Decimal::from(calls) }
}

/// Saving had the repeated uncached input of `row` been cache reads, at the price of its model
/// when it was last called (zero for a model without a cache discount or unknown).
fn prompt_cache_saving(
    book: &PriceBook,
    project: &aicp_domain::ProjectId,
    row: &PromptModelRow,
) -> Usd {
    let pricing = book.find_custom(project, &row.model).or_else(|| book.find_catalogue(&row.model));
    let Some(period) = pricing.and_then(|m| m.period_at(row.latest_at)) else { return Usd::ZERO };
    let Some(cached) = period.rates.cache_read else { return Usd::ZERO };
    let discount = (period.rates.input - cached).max(Decimal::ZERO);
    let tokens = Decimal::from(row.uncached_input_tokens) * repeat_share(row.calls);
    Usd::new(tokens * discount / Decimal::from(1_000_000))
}

fn fingerprint(analyzer: &dyn PromptAnalyzer, hash: &str, signature: &[u32]) -> PromptFingerprint {
    PromptFingerprint {
        hash: hash.to_owned(),
        template_hash: String::new(),
        signature: signature.to_vec(),
        scheme: analyzer.scheme(),
        normalized_chars: 0,
    }
}

/// Folds (prompt, model) rows into one entry per prompt, keeping the first row's identity.
fn by_prompt(rows: Vec<PromptModelRow>) -> Vec<(PromptModelRow, Vec<PromptModelRow>)> {
    let mut order = Vec::new();
    let mut map: BTreeMap<String, Vec<PromptModelRow>> = BTreeMap::new();
    for r in rows {
        if !map.contains_key(&r.prompt_hash) {
            order.push(r.prompt_hash.clone());
        }
        map.entry(r.prompt_hash.clone()).or_default().push(r);
    }
    order
        .into_iter()
        .filter_map(|h| {
            let rows = map.remove(&h)?;
            let head = rows.iter().max_by_key(|r| r.latest_at)?.clone();
            Some((head, rows))
        })
        .collect()
}

/// Scores of the `candidates` meeting `threshold` against `me` (lexical: MinHash agreement).
fn lexical_scores(
    analyzer: &dyn PromptAnalyzer,
    me: &PromptFingerprint,
    candidates: &[StoredPrompt],
    threshold: f64,
) -> BTreeMap<String, f64> {
    candidates
        .iter()
        .map(|c| {
            let them = fingerprint(analyzer, &c.prompt_hash, &c.signature);
            (c.prompt_hash.clone(), analyzer.similarity(me, &them))
        })
        .filter(|(_, score)| *score >= threshold)
        .collect()
}

/// The `best` highest of `scores` (ties: by hash, for stable answers).
fn best(scores: &BTreeMap<String, f64>, best: usize) -> Vec<String> {
    let mut ranked: Vec<(&String, f64)> = scores.iter().map(|(h, s)| (h, *s)).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    ranked.into_iter().take(best).map(|(h, _)| h.clone()).collect()
}

/// The prompts of `rows` that have a score, with their calls, most similar first.
fn scored(rows: Vec<PromptModelRow>, scores: &BTreeMap<String, f64>) -> Vec<SimilarPrompt> {
    let mut out: Vec<SimilarPrompt> = by_prompt(rows)
        .into_iter()
        .filter_map(|(head, rows)| {
            let similarity = *scores.get(&head.prompt_hash)?;
            Some(similar_prompt(&head, &rows, similarity))
        })
        .collect();
    sort_similar(&mut out);
    out
}

/// The prompt report of a window, or `None` when no call of the window carries a prompt.
pub async fn prompt_groups(
    req: &HttpRequest,
    state: &AppState,
    window: &TimeWindow,
) -> Result<Option<Vec<PromptGroup>>, ApiError> {
    let Some(p) = state.prompts.as_ref() else { return Ok(None) };
    let project = project_of(req);
    let rows = p.repo.prompt_models(&project, window, GROUPS).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let book = state.pricing.book().current();
    let heads = by_prompt(rows);
    let features: std::collections::BTreeSet<String> =
        heads.iter().map(|(head, _)| head.feature.clone()).collect();
    let features: Vec<String> = features.into_iter().collect();
    // The medians scan the window's calls; the near-duplicates use other queries: both at once.
    let (medians, near) = futures_util::join!(
        p.repo.feature_medians(&project, window, &features),
        near_duplicates(p, &project, window, &heads),
    );
    let medians: BTreeMap<String, f64> = medians?.into_iter().collect();
    let (near_scores, near_rows) = near?;
    let mut groups = Vec::new();
    for ((head, rows), scores) in heads.into_iter().zip(near_scores) {
        let calls: u64 = rows.iter().map(|r| r.calls).sum();
        let cost: Usd = rows.iter().map(|r| r.cost).sum();
        let tokens: u64 = rows.iter().map(|r| r.tokens).sum();
        let input: u64 = rows.iter().map(|r| r.input_tokens).sum();
        let mine: Vec<PromptModelRow> =
            near_rows.iter().filter(|r| scores.contains_key(&r.prompt_hash)).cloned().collect();
        let mut near = scored(mine, &scores);
        near.truncate(NEAR_SHOWN);
        let avg_input = if calls == 0 { 0.0 } else { input as f64 / calls as f64 };
        let median = medians.get(&head.feature).copied().unwrap_or(0.0);
        let ratio = if median > 0.0 { avg_input / median } else { 0.0 };
        groups.push(PromptGroup {
            prompt_hash: head.prompt_hash.clone(),
            template_hash: head.template_hash.clone(),
            content_stored: head.content.is_some(),
            content: head.content.clone().unwrap_or_default(),
            feature: head.feature.clone(),
            occurrences: calls,
            total_cost_usd: Usd::to_f64(cost),
            avg_tokens: if calls == 0 { 0.0 } else { tokens as f64 / calls as f64 },
            similar_prompts: near,
            repeated_spend_usd: Usd::new(cost.amount() * repeat_share(calls)),
            prompt_cache_saving_usd: rows
                .iter()
                .map(|r| prompt_cache_saving(&book, &project, r))
                .sum(),
            response_cache_saving_usd: Usd::new(cost.amount() * repeat_share(calls)),
            bloat: Bloat {
                avg_input_tokens: avg_input,
                feature_median_input_tokens: median,
                ratio,
                bloated: ratio > 1.5,
            },
        });
    }
    groups.sort_by(|a, b| {
        b.total_cost_usd.total_cmp(&a.total_cost_usd).then(a.prompt_hash.cmp(&b.prompt_hash))
    });
    Ok(Some(groups))
}

/// Each group head's near-duplicates in `window`: candidates among the distinct prompts,
/// rescored (the best few kept per head), then the calls of all of them in one query.
async fn near_duplicates(
    p: &crate::state::Prompts,
    project: &aicp_domain::ProjectId,
    window: &TimeWindow,
    heads: &[(PromptModelRow, Vec<PromptModelRow>)],
) -> Result<(Vec<BTreeMap<String, f64>>, Vec<PromptModelRow>), ApiError> {
    let mut near_scores = Vec::with_capacity(heads.len());
    for (head, _) in heads {
        let me = fingerprint(p.analyzer.as_ref(), &head.prompt_hash, &head.signature);
        let candidates =
            p.repo.candidates(project, &head.bands, &head.prompt_hash, CANDIDATES).await?;
        let scores =
            lexical_scores(p.analyzer.as_ref(), &me, &candidates, DEFAULT_SIMILARITY_THRESHOLD);
        // More than shown: some may have no call in the window.
        let keep: BTreeMap<String, f64> = best(&scores, NEAR_SHOWN * 4)
            .into_iter()
            .filter_map(|h| scores.get(&h).map(|s| (h, *s)))
            .collect();
        near_scores.push(keep);
    }
    let wanted: std::collections::BTreeSet<String> =
        near_scores.iter().flat_map(|m| m.keys().cloned()).collect();
    let wanted: Vec<String> = wanted.into_iter().collect();
    let near_rows = p.repo.prompts_by_hash(project, &wanted, Some(*window)).await?;
    Ok((near_scores, near_rows))
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

/// How `/similar` compares prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Lexical,
    Semantic,
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
    let mode = match q.mode.as_deref().filter(|m| !m.is_empty()) {
        None | Some("lexical") => Mode::Lexical,
        Some("semantic") => Mode::Semantic,
        Some(other) => {
            return Err(ApiError::InvalidParameter(format!(
                "\"mode\" must be lexical or semantic, received '{other}'"
            )));
        }
    };
    let Some(p) = state.prompts.as_ref() else {
        return Err(ApiError::NotFound { path: req.path().to_owned() });
    };
    let semantic = match (mode, p.semantic.as_ref()) {
        (Mode::Lexical, _) => None,
        (Mode::Semantic, Some(s)) => Some(s),
        (Mode::Semantic, None) => {
            return Err(ApiError::InvalidParameter(
                "mode=semantic needs an embeddings provider (EMBEDDINGS_URL), and none is configured"
                    .into(),
            ));
        }
    };
    let project = project_of(&req);
    // Every input of the answer: a different scheme or model is a different answer.
    let scheme = match semantic {
        None => format!("lexical:{}", p.analyzer.scheme()),
        Some(s) => format!("semantic:{}:{}", s.model, s.signer.banding().signature_len()),
    };
    let key = format!("similar:{}:{id}:{threshold}:{limit}:{scheme}", project.as_str());
    if let Some(hit) = p.cache.get(&key).await
        && let Ok(body) = serde_json::from_str::<Vec<SimilarPrompt>>(&hit)
    {
        return Ok(HttpResponse::Ok().insert_header(("x-cache", "hit")).json(body));
    }
    let stored = match p.repo.event_prompt(&project, id).await? {
        None => return Err(ApiError::EventNotFound),
        Some(None) => None,
        Some(Some(s)) => Some(s),
    };
    let mut body = Vec::new();
    // A prompt whose embedding is still on its way: answer, but do not cache the empty answer.
    let mut cacheable = true;
    if let Some(me) = stored {
        body = match semantic {
            None => {
                let fp = fingerprint(p.analyzer.as_ref(), &me.prompt_hash, &me.signature);
                let candidates =
                    p.repo.candidates(&project, &me.bands, &me.prompt_hash, CANDIDATES).await?;
                let scores = lexical_scores(p.analyzer.as_ref(), &fp, &candidates, threshold);
                with_calls(p, &project, &me.prompt_hash, scores, limit).await?
            }
            Some(s) => {
                match semantically_similar(p, s, &project, &me.prompt_hash, threshold, limit)
                    .await?
                {
                    Some(found) => found,
                    None => {
                        cacheable = false;
                        Vec::new()
                    }
                }
            }
        };
        // The call itself is not its own near-duplicate: drop it from its exact group.
        if let Some(own) = body.iter_mut().find(|s| s.prompt_hash == me.prompt_hash) {
            own.occurrences = own.occurrences.saturating_sub(1);
        }
        body.retain(|s| s.occurrences > 0);
        body.truncate(limit);
    }
    if cacheable && let Ok(text) = serde_json::to_string(&body) {
        p.cache.put(&key, &text, SIMILAR_TTL).await;
    }
    Ok(HttpResponse::Ok().insert_header(("x-cache", "miss")).json(body))
}

/// Prompts whose embeddings have a cosine of at least `threshold` with the embedding of `hash`
/// (and `hash`'s own group, at 1.0), most similar first; `None` when `hash` has no embedding yet.
async fn semantically_similar(
    p: &crate::state::Prompts,
    s: &crate::state::Semantic,
    project: &aicp_domain::ProjectId,
    hash: &str,
    threshold: f64,
    limit: usize,
) -> Result<Option<Vec<SimilarPrompt>>, ApiError> {
    let Some(me) = s.repo.get(project, &s.model, hash).await? else { return Ok(None) };
    let candidates = s.repo.candidates(project, &s.model, &me.bands, hash, CANDIDATES).await?;
    let scores: BTreeMap<String, f64> = candidates
        .iter()
        .map(|c| (c.prompt_hash.clone(), s.signer.similarity(&me.vector, &c.vector)))
        .filter(|(_, score)| *score >= threshold)
        .collect();
    Ok(Some(with_calls(p, project, hash, scores, limit).await?))
}

/// The best `limit` of `scores` and the call's own prompt `own` (at 1.0), with their calls
/// across the project's history, most similar first.
async fn with_calls(
    p: &crate::state::Prompts,
    project: &aicp_domain::ProjectId,
    own: &str,
    mut scores: BTreeMap<String, f64>,
    limit: usize,
) -> Result<Vec<SimilarPrompt>, ApiError> {
    let keep = best(&scores, limit);
    scores.retain(|h, _| keep.contains(h));
    scores.insert(own.to_owned(), 1.0);
    let hashes: Vec<String> = scores.keys().cloned().collect();
    let rows = p.repo.prompts_by_hash(project, &hashes, None).await?;
    Ok(scored(rows, &scores))
}

fn similar_prompt(
    head: &PromptModelRow,
    rows: &[PromptModelRow],
    similarity: f64,
) -> SimilarPrompt {
    SimilarPrompt {
        id: head.latest_id,
        prompt_hash: head.prompt_hash.clone(),
        content: head.content.clone().unwrap_or_default(),
        feature: head.feature.clone(),
        model: head.model.clone(),
        similarity,
        occurrences: rows.iter().map(|r| r.calls).sum(),
        total_cost_usd: Usd::to_f64(rows.iter().map(|r| r.cost).sum()),
    }
}

/// Most similar first, then most expensive.
fn sort_similar(out: &mut [SimilarPrompt]) {
    out.sort_by(|a, b| {
        b.similarity.total_cmp(&a.similarity).then(b.total_cost_usd.total_cmp(&a.total_cost_usd))
    });
}

/// Cost per prompt template (the same prompt with different variables), most expensive first.
#[utoipa::path(get, path = "/api/v1/analytics/prompt-templates", tag = "analytics", params(AnalyticsQuery),
    responses((status = 200, description = "[{templateHash, content, prompts, occurrences, totalCostUsd}]", body = Vec<Object>), (status = 400, body = ErrorBody)))]
#[get("/analytics/prompt-templates")]
pub async fn templates(
    req: HttpRequest,
    q: web::Query<AnalyticsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window = q.window_pub()?;
    let Some(p) = state.prompts.as_ref() else {
        return Ok(HttpResponse::Ok().json(Vec::<()>::new()));
    };
    let rows = p.repo.prompt_models(&project_of(&req), &window, 10_000).await?;
    let mut by_template: BTreeMap<String, (String, std::collections::BTreeSet<String>, u64, Usd)> =
        BTreeMap::new();
    for r in rows {
        let e = by_template.entry(r.template_hash.clone()).or_insert_with(|| {
            (r.content.clone().unwrap_or_default(), Default::default(), 0, Usd::ZERO)
        });
        e.1.insert(r.prompt_hash.clone());
        e.2 += r.calls;
        e.3 = e.3 + r.cost;
    }
    let mut out: Vec<serde_json::Value> = by_template
        .into_iter()
        .map(|(template, (content, prompts, calls, cost))| {
            serde_json::json!({
                "templateHash": template,
                "content": content,
                "prompts": prompts.len(),
                "occurrences": calls,
                "totalCostUsd": cost,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        let c = |v: &serde_json::Value| {
            v["totalCostUsd"].as_str().and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0)
        };
        c(b).total_cmp(&c(a))
    });
    out.truncate(100);
    Ok(HttpResponse::Ok().json(out))
}
