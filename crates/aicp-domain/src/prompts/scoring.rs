//! How candidate prompts are scored and ranked, shared by the report and `/similar`.

use std::collections::BTreeMap;

use super::SimilarPrompt;
use crate::money::Usd;
use crate::ports::{PromptModelRow, StoredPrompt};
use crate::similarity::{PromptAnalyzer, PromptFingerprint};

/// Folds (prompt, model) rows into one entry per prompt, headed by its most recent row.
pub(super) fn by_prompt(rows: Vec<PromptModelRow>) -> Vec<(PromptModelRow, Vec<PromptModelRow>)> {
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

fn fingerprint(hash: &str, signature: &[u32], scheme: u32) -> PromptFingerprint {
    PromptFingerprint {
        hash: hash.to_owned(),
        template_hash: String::new(),
        signature: signature.to_vec(),
        scheme,
        normalized_chars: 0,
    }
}

/// Scores of the `candidates` meeting `threshold` against `me` (lexical: MinHash agreement).
/// Only fingerprints of the analyzer's own scheme are compared: one made by another scheme (or
/// before schemes were recorded) is not comparable, and is replaced when its prompt is next
/// ingested.
pub(super) fn lexical_scores(
    analyzer: &dyn PromptAnalyzer,
    me: &StoredPrompt,
    candidates: &[StoredPrompt],
    threshold: f64,
) -> BTreeMap<String, f64> {
    let current = analyzer.scheme();
    if me.scheme != Some(current) {
        return BTreeMap::new();
    }
    let mine = fingerprint(&me.prompt_hash, &me.signature, current);
    candidates
        .iter()
        .filter(|c| c.scheme == Some(current))
        .map(|c| {
            let them = fingerprint(&c.prompt_hash, &c.signature, current);
            (c.prompt_hash.clone(), analyzer.similarity(&mine, &them))
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
