//! Near-duplicates of one call's prompt across the project's history (lexical or semantic), with
//! real scores, the threshold honoured and answers cached.

use std::collections::BTreeMap;

use super::report::by_prompt;
use super::{
    CANDIDATES, Fingerprints, PromptError, PromptService, SIMILAR_TTL, SemanticSimilarity,
    SimilarPrompt, SimilarityMode,
};
use crate::money::Usd;
use crate::ports::{PromptModelRow, RepoError, StoredPrompt};
use crate::project::ProjectId;
use crate::similarity::{PromptAnalyzer, PromptFingerprint};

fn fingerprint(analyzer: &dyn PromptAnalyzer, hash: &str, signature: &[u32]) -> PromptFingerprint {
    PromptFingerprint {
        hash: hash.to_owned(),
        template_hash: String::new(),
        signature: signature.to_vec(),
        scheme: analyzer.scheme(),
        normalized_chars: 0,
    }
}

/// Scores of the `candidates` meeting `threshold` against the prompt `hash` with `signature`
/// (lexical: MinHash agreement).
pub(super) fn lexical_scores(
    analyzer: &dyn PromptAnalyzer,
    hash: &str,
    signature: &[u32],
    candidates: &[StoredPrompt],
    threshold: f64,
) -> BTreeMap<String, f64> {
    let me = fingerprint(analyzer, hash, signature);
    candidates
        .iter()
        .map(|c| {
            let them = fingerprint(analyzer, &c.prompt_hash, &c.signature);
            (c.prompt_hash.clone(), analyzer.similarity(&me, &them))
        })
        .filter(|(_, score)| *score >= threshold)
        .collect()
}

/// The `best` highest of `scores` (ties: by hash, for stable answers).
pub(super) fn best(scores: &BTreeMap<String, f64>, best: usize) -> Vec<String> {
    let mut ranked: Vec<(&String, f64)> = scores.iter().map(|(h, s)| (h, *s)).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    ranked.into_iter().take(best).map(|(h, _)| h.clone()).collect()
}

/// The prompts of `rows` that have a score, with their calls: most similar first, then most
/// expensive.
pub(super) fn scored(
    rows: Vec<PromptModelRow>,
    scores: &BTreeMap<String, f64>,
) -> Vec<SimilarPrompt> {
    let mut out: Vec<SimilarPrompt> = by_prompt(rows)
        .into_iter()
        .filter_map(|(head, rows)| {
            let similarity = *scores.get(&head.prompt_hash)?;
            Some(SimilarPrompt {
                id: head.latest_id,
                prompt_hash: head.prompt_hash,
                content: head.content.unwrap_or_default(),
                feature: head.feature,
                model: head.model,
                similarity,
                occurrences: rows.iter().map(|r| r.calls).sum(),
                total_cost: rows.iter().map(|r| r.cost).sum::<Usd>(),
            })
        })
        .collect();
    out.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(b.total_cost.cmp(&a.total_cost)));
    out
}

/// What `/similar` was asked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimilarQuery {
    /// Minimum similarity, 0..=1.
    pub threshold: f64,
    /// Most results.
    pub limit: usize,
    /// Lexical or semantic.
    pub mode: SimilarityMode,
}

/// The answer of `/similar`, and whether it came from the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarAnswer {
    /// Near-duplicates, most similar first (the call's own prompt with its other calls at 1.0).
    pub prompts: Vec<SimilarPrompt>,
    /// Served from the cache.
    pub cached: bool,
}

impl PromptService {
    /// Near-duplicates of the prompt of the event `id` across the project's history. Cached for
    /// [`SIMILAR_TTL`] per (project, event, threshold, limit, mode and its scheme or model); an
    /// answer that is empty only because the prompt's embedding has not arrived is not cached.
    ///
    /// # Errors
    /// [`PromptError::Disabled`] without fingerprints, [`PromptError::SemanticUnavailable`] for
    /// `semantic` without a provider, [`PromptError::EventNotFound`], the store's.
    pub async fn similar(
        &self,
        project: &ProjectId,
        id: uuid::Uuid,
        q: SimilarQuery,
    ) -> Result<SimilarAnswer, PromptError> {
        let Some(f) = &self.fingerprints else { return Err(PromptError::Disabled) };
        let semantic = match (q.mode, f.semantic.as_ref()) {
            (SimilarityMode::Lexical, _) => None,
            (SimilarityMode::Semantic, Some(s)) => Some(s),
            (SimilarityMode::Semantic, None) => return Err(PromptError::SemanticUnavailable),
        };
        // Every input of the answer: a different scheme or model is a different answer.
        let scheme = match semantic {
            None => format!("lexical:{}", f.analyzer.scheme()),
            Some(s) => format!("semantic:{}:{}", s.model, s.signer.banding().signature_len()),
        };
        let key = format!("similar:{}:{id}:{}:{}:{scheme}", project.as_str(), q.threshold, q.limit);
        if let Some(hit) = f.cache.get(&key).await
            && let Ok(prompts) = serde_json::from_str::<Vec<SimilarPrompt>>(&hit)
        {
            return Ok(SimilarAnswer { prompts, cached: true });
        }
        let me = match f.repo.event_prompt(project, id).await? {
            None => return Err(PromptError::EventNotFound),
            Some(me) => me,
        };
        let mut prompts = Vec::new();
        let mut cacheable = true;
        if let Some(me) = me {
            prompts = match semantic {
                None => {
                    let candidates =
                        f.repo.candidates(project, &me.bands, &me.prompt_hash, CANDIDATES).await?;
                    let scores = lexical_scores(
                        f.analyzer.as_ref(),
                        &me.prompt_hash,
                        &me.signature,
                        &candidates,
                        q.threshold,
                    );
                    with_calls(f, project, &me.prompt_hash, scores, q.limit).await?
                }
                Some(s) => match semantic_scores(s, project, &me.prompt_hash, q.threshold).await? {
                    Some(scores) => {
                        with_calls(f, project, &me.prompt_hash, scores, q.limit).await?
                    }
                    None => {
                        cacheable = false;
                        Vec::new()
                    }
                },
            };
            // The call itself is not its own near-duplicate: drop it from its exact group.
            if let Some(own) = prompts.iter_mut().find(|s| s.prompt_hash == me.prompt_hash) {
                own.occurrences = own.occurrences.saturating_sub(1);
            }
            prompts.retain(|s| s.occurrences > 0);
            prompts.truncate(q.limit);
        }
        if cacheable && let Ok(text) = serde_json::to_string(&prompts) {
            f.cache.put(&key, &text, SIMILAR_TTL).await;
        }
        Ok(SimilarAnswer { prompts, cached: false })
    }
}

/// Cosine scores meeting `threshold` against the embedding of `hash`; `None` when `hash` has no
/// embedding yet.
async fn semantic_scores(
    s: &SemanticSimilarity,
    project: &ProjectId,
    hash: &str,
    threshold: f64,
) -> Result<Option<BTreeMap<String, f64>>, RepoError> {
    let Some(me) = s.repo.get(project, &s.model, hash).await? else { return Ok(None) };
    let candidates = s.repo.candidates(project, &s.model, &me.bands, hash, CANDIDATES).await?;
    Ok(Some(
        candidates
            .iter()
            .map(|c| (c.prompt_hash.clone(), s.signer.similarity(&me.vector, &c.vector)))
            .filter(|(_, score)| *score >= threshold)
            .collect(),
    ))
}

/// The best `limit` of `scores` and the call's own prompt `own` (at 1.0), with their calls
/// across the project's history, most similar first.
async fn with_calls(
    f: &Fingerprints,
    project: &ProjectId,
    own: &str,
    mut scores: BTreeMap<String, f64>,
    limit: usize,
) -> Result<Vec<SimilarPrompt>, RepoError> {
    let keep = best(&scores, limit);
    scores.retain(|h, _| keep.contains(h));
    scores.insert(own.to_owned(), 1.0);
    let hashes: Vec<String> = scores.keys().cloned().collect();
    let rows = f.repo.prompts_by_hash(project, &hashes, None).await?;
    Ok(scored(rows, &scores))
}
