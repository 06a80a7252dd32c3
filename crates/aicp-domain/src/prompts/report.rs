//! The prompt report (repeats, cache savings, bloat, near-duplicates) and the template report.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use super::scoring::{best, by_prompt, lexical_scores, scored};
use super::{
    Bloat, CANDIDATES, Fingerprints, NEAR_SHOWN, NearDuplicates, PromptGroup, PromptReport,
    PromptService, TEMPLATES_MAX, TemplateGroup,
};
use crate::money::Usd;
use crate::ports::{PromptModelRow, RepoError, StoredPrompt};
use crate::pricing::PriceBook;
use crate::project::ProjectId;
use crate::similarity::DEFAULT_SIMILARITY_THRESHOLD;
use crate::window::TimeWindow;

/// Share of `calls` that were repeats (every call after the first): `(calls − 1) / calls`.
pub fn repeat_share(calls: u64) -> Decimal {
    if calls <= 1 { Decimal::ZERO } else { Decimal::from(calls - 1) / Decimal::from(calls) }
}

/// Saving had the repeated uncached input of `row` been cache reads, at the price of its model
/// when it was last called (zero for a model without a cache discount or unknown).
pub fn prompt_cache_saving(book: &PriceBook, project: &ProjectId, row: &PromptModelRow) -> Usd {
    let pricing = book.find_custom(project, &row.model).or_else(|| book.find_catalogue(&row.model));
    let Some(period) = pricing.and_then(|m| m.period_at(row.latest_at)) else { return Usd::ZERO };
    let Some(cached) = period.rates.cache_read else { return Usd::ZERO };
    let discount = (period.rates.input - cached).max(Decimal::ZERO);
    let tokens = Decimal::from(row.uncached_input_tokens) * repeat_share(row.calls);
    Usd::new(tokens * discount / Decimal::from(1_000_000))
}

fn per_call(total: u64, calls: u64) -> f64 {
    if calls == 0 { 0.0 } else { total as f64 / calls as f64 }
}

impl PromptService {
    /// The `groups` most expensive prompts of the window with their repeats, savings and bloat,
    /// and (with [`NearDuplicates::Include`]) their near-duplicates; the original's bloat groups
    /// when no call of the window carries a fingerprinted prompt.
    ///
    /// # Errors
    /// The store's.
    pub async fn report(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        groups: usize,
        near: NearDuplicates,
    ) -> Result<PromptReport, RepoError> {
        let rows = match &self.fingerprints {
            Some(f) => f.repo.prompt_models(project, window, groups).await?,
            None => Vec::new(),
        };
        let Some(f) = self.fingerprints.as_ref().filter(|_| !rows.is_empty()) else {
            let bloat = self.analytics.prompt_bloat(project, window, groups).await?;
            return Ok(PromptReport::Bloat(bloat));
        };
        let book = self.book.current();
        let heads = by_prompt(rows);
        let features: BTreeSet<String> = heads.iter().map(|(h, _)| h.feature.clone()).collect();
        let features: Vec<String> = features.into_iter().collect();
        // The medians scan the window's calls; the near-duplicates use other queries: both at once.
        let (medians, near) =
            futures_util::join!(f.repo.feature_medians(project, window, &features), async {
                match near {
                    NearDuplicates::Include => near_duplicates(f, project, window, &heads).await,
                    NearDuplicates::Skip => Ok((vec![BTreeMap::new(); heads.len()], Vec::new())),
                }
            },);
        let medians: BTreeMap<String, f64> =
            medians?.into_iter().map(|m| (m.feature, m.input_tokens)).collect();
        let (near_scores, near_rows) = near?;
        let mut out: Vec<PromptGroup> = heads
            .into_iter()
            .zip(near_scores)
            .map(|((head, rows), scores)| {
                let calls: u64 = rows.iter().map(|r| r.calls).sum();
                let cost: Usd = rows.iter().map(|r| r.cost).sum();
                let avg_input = per_call(rows.iter().map(|r| r.input_tokens).sum(), calls);
                let mine: Vec<PromptModelRow> = near_rows
                    .iter()
                    .filter(|r| scores.contains_key(&r.prompt_hash))
                    .cloned()
                    .collect();
                let mut similar = scored(mine, &scores);
                similar.truncate(NEAR_SHOWN);
                let median = medians.get(&head.feature).copied().unwrap_or(0.0);
                let ratio = if median > 0.0 { avg_input / median } else { 0.0 };
                let repeats = Usd::new(cost.amount() * repeat_share(calls));
                PromptGroup {
                    latest_id: head.latest_id,
                    avg_tokens: per_call(rows.iter().map(|r| r.tokens).sum(), calls),
                    prompt_cache_saving: rows
                        .iter()
                        .map(|r| prompt_cache_saving(&book, project, r))
                        .sum(),
                    prompt_hash: head.prompt_hash,
                    template_hash: head.template_hash,
                    content: head.content,
                    feature: head.feature,
                    occurrences: calls,
                    total_cost: cost,
                    similar,
                    repeated_spend: repeats,
                    response_cache_saving: repeats,
                    bloat: Bloat {
                        avg_input_tokens: avg_input,
                        feature_median_input_tokens: median,
                        ratio,
                        bloated: ratio > 1.5,
                    },
                }
            })
            .collect();
        out.sort_by(|a, b| b.total_cost.cmp(&a.total_cost).then(a.prompt_hash.cmp(&b.prompt_hash)));
        Ok(PromptReport::Groups(out))
    }

    /// Cost per prompt template (the same prompt with different variables), most expensive
    /// first, at most [`TEMPLATES_MAX`]; empty when prompts are not fingerprinted.
    ///
    /// # Errors
    /// The store's.
    pub async fn templates(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
    ) -> Result<Vec<TemplateGroup>, RepoError> {
        let Some(f) = &self.fingerprints else { return Ok(Vec::new()) };
        let rows = f.repo.prompt_models(project, window, 10_000).await?;
        let mut by_template: BTreeMap<String, (String, BTreeSet<String>, u64, Usd)> =
            BTreeMap::new();
        for r in rows {
            let e = by_template.entry(r.template_hash.clone()).or_insert_with(|| {
                (r.content.clone().unwrap_or_default(), BTreeSet::new(), 0, Usd::ZERO)
            });
            e.1.insert(r.prompt_hash);
            e.2 += r.calls;
            e.3 = e.3 + r.cost;
        }
        let mut out: Vec<TemplateGroup> = by_template
            .into_iter()
            .map(|(template_hash, (content, prompts, occurrences, total_cost))| TemplateGroup {
                template_hash,
                content,
                prompts: prompts.len(),
                occurrences,
                total_cost,
            })
            .collect();
        // Stable: equal costs stay in template-hash order.
        out.sort_by_key(|t| std::cmp::Reverse(t.total_cost));
        out.truncate(TEMPLATES_MAX);
        Ok(out)
    }
}

/// Each group head's near-duplicates in `window`: candidates among the distinct prompts,
/// rescored (the best few kept per head), then the calls of all of them in one query.
async fn near_duplicates(
    f: &Fingerprints,
    project: &ProjectId,
    window: &TimeWindow,
    heads: &[(PromptModelRow, Vec<PromptModelRow>)],
) -> Result<(Vec<BTreeMap<String, f64>>, Vec<PromptModelRow>), RepoError> {
    let mut near_scores = Vec::with_capacity(heads.len());
    for (head, _) in heads {
        let candidates =
            f.repo.candidates(project, &head.bands, &head.prompt_hash, CANDIDATES).await?;
        let me = StoredPrompt {
            prompt_hash: head.prompt_hash.clone(),
            signature: head.signature.clone(),
            bands: Vec::new(),
            scheme: head.scheme,
        };
        let scores =
            lexical_scores(f.analyzer.as_ref(), &me, &candidates, DEFAULT_SIMILARITY_THRESHOLD);
        // More than shown: some may have no call in the window.
        let keep: BTreeMap<String, f64> = best(&scores, NEAR_SHOWN * 4)
            .into_iter()
            .filter_map(|h| scores.get(&h).map(|s| (h, *s)))
            .collect();
        near_scores.push(keep);
    }
    let wanted: BTreeSet<String> = near_scores.iter().flat_map(|m| m.keys().cloned()).collect();
    let wanted: Vec<String> = wanted.into_iter().collect();
    let near_rows = f.repo.prompts_by_hash(project, &wanted, Some(*window)).await?;
    Ok((near_scores, near_rows))
}
