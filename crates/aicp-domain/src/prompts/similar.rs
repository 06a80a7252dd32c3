//! Near-duplicates of one call's prompt across the project's history (lexical or semantic), with
//! real scores, the threshold honoured and answers cached.

use std::collections::BTreeMap;

use super::scoring::{best, lexical_scores, scored};
use super::{
    CANDIDATES, Fingerprints, PromptError, PromptService, SIMILAR_TTL, SemanticSimilarity,
    SimilarPrompt, SimilarityMode,
};
use crate::ports::{EventPrompt, RepoError};
use crate::project::ProjectId;

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
            EventPrompt::NoSuchEvent => return Err(PromptError::EventNotFound),
            EventPrompt::NoPrompt => None,
            EventPrompt::Prompt(me) => Some(me),
        };
        let mut prompts = Vec::new();
        let mut cacheable = true;
        if let Some(me) = me {
            prompts = match semantic {
                None => {
                    let candidates =
                        f.repo.candidates(project, &me.bands, &me.prompt_hash, CANDIDATES).await?;
                    let scores = lexical_scores(f.analyzer.as_ref(), &me, &candidates, q.threshold);
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
