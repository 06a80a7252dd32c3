//! Re-pricing stored events with the prices in force now (after a catalogue update or a custom
//! price): a dry run reports the difference per model and feature; `apply` rewrites the stored
//! costs in bounded batches, each its own short transaction, so ingest is never blocked.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::money::Usd;
use crate::ports::{CallCursor, CostRepository, RepoError, Repriced, StoredCall};
use crate::pricing::book::SharedPriceBook;
use crate::project::ProjectId;
use crate::window::TimeWindow;

/// Rows read (and at most written) per batch.
pub const REPRICE_BATCH: usize = 2000;

/// What to re-price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepriceRequest {
    /// Events whose timestamp lies in this window.
    pub window: TimeWindow,
    /// Only events of this model (reported name or priced-as id, case-insensitive).
    pub model: Option<String>,
    /// Write the new costs (else: a dry run).
    pub apply: bool,
}

/// Before/after totals of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepriceDelta {
    /// Model or feature.
    pub key: String,
    /// Events in the group.
    pub events: u64,
    /// Events whose cost or price changes.
    pub changed: u64,
    /// Stored cost.
    pub before_usd: Usd,
    /// Cost at today's prices.
    pub after_usd: Usd,
    /// `after - before` as a decimal string (may be negative).
    pub difference_usd: String,
}

/// The outcome of a re-pricing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepriceReport {
    /// True when nothing was written.
    pub dry_run: bool,
    /// Events examined.
    pub events_scanned: u64,
    /// Events whose cost or price changes (were rewritten when applied).
    pub events_changed: u64,
    /// Sum of stored costs.
    pub before_usd: Usd,
    /// Sum at today's prices.
    pub after_usd: Usd,
    /// `after - before`.
    pub difference_usd: String,
    /// Per model (as reported), largest absolute difference first.
    pub by_model: Vec<RepriceDelta>,
    /// Per feature, largest absolute difference first.
    pub by_feature: Vec<RepriceDelta>,
}

/// Runs re-pricing against a store.
pub struct RepriceService {
    repo: Arc<dyn CostRepository>,
    book: Arc<SharedPriceBook>,
}

impl RepriceService {
    /// A service over `repo` pricing with `book`.
    pub fn new(repo: Arc<dyn CostRepository>, book: Arc<SharedPriceBook>) -> Self {
        Self { repo, book }
    }

    /// Re-prices the events of `project` selected by `request`.
    ///
    /// # Errors
    /// [`RepoError`] from the store; batches already applied stay applied (each is consistent,
    /// and re-running the same request finishes the work).
    pub async fn reprice(
        &self,
        project: &ProjectId,
        request: &RepriceRequest,
    ) -> Result<RepriceReport, RepoError> {
        let book = self.book.current();
        let mut acc = Accumulator::default();
        let mut after = None;
        loop {
            let calls = self
                .repo
                .scan_calls(
                    project,
                    &request.window,
                    request.model.as_deref(),
                    after,
                    REPRICE_BATCH,
                )
                .await?;
            let Some(last) = calls.last() else { break };
            after = Some(CallCursor { created_at: last.created_at, id: last.id });
            let full = calls.len() == REPRICE_BATCH;
            let mut updates = Vec::new();
            for call in calls {
                let priced = book.price(project, &call.model, call.created_at, call.usage);
                let changed = priced.cost != call.cost
                    || priced.priced_as != call.priced_as
                    || priced.source != call.source
                    || priced.effective_from != call.effective_from;
                acc.add(&call, priced.cost.total, changed);
                if changed && request.apply {
                    updates.push(Repriced { id: call.id, priced });
                }
            }
            if !updates.is_empty() {
                self.repo.update_costs(project, updates).await?;
            }
            if !full {
                break;
            }
        }
        Ok(acc.report(!request.apply))
    }
}

#[derive(Default)]
struct Accumulator {
    scanned: u64,
    changed: u64,
    before: Usd,
    after: Usd,
    by_model: BTreeMap<String, RepriceDelta>,
    by_feature: BTreeMap<String, RepriceDelta>,
}

impl Accumulator {
    fn add(&mut self, call: &StoredCall, new_total: Usd, changed: bool) {
        self.scanned += 1;
        self.changed += u64::from(changed);
        self.before = self.before + call.cost.total;
        self.after = self.after + new_total;
        for (map, key) in [(&mut self.by_model, &call.model), (&mut self.by_feature, &call.feature)]
        {
            let d = map
                .entry(key.clone())
                .or_insert_with(|| RepriceDelta { key: key.clone(), ..RepriceDelta::default() });
            d.events += 1;
            d.changed += u64::from(changed);
            d.before_usd = d.before_usd + call.cost.total;
            d.after_usd = d.after_usd + new_total;
        }
    }

    fn report(self, dry_run: bool) -> RepriceReport {
        let finish = |map: BTreeMap<String, RepriceDelta>| {
            let mut v: Vec<RepriceDelta> = map
                .into_values()
                .map(|mut d| {
                    d.difference_usd = difference(d.before_usd, d.after_usd);
                    d
                })
                .collect();
            v.sort_by(|a, b| {
                let abs = |d: &RepriceDelta| (d.after_usd.amount() - d.before_usd.amount()).abs();
                abs(b).cmp(&abs(a)).then_with(|| a.key.cmp(&b.key))
            });
            v
        };
        RepriceReport {
            dry_run,
            events_scanned: self.scanned,
            events_changed: self.changed,
            before_usd: self.before,
            after_usd: self.after,
            difference_usd: difference(self.before, self.after),
            by_model: finish(self.by_model),
            by_feature: finish(self.by_feature),
        }
    }
}

fn difference(before: Usd, after: Usd) -> String {
    (after.amount() - before.amount()).normalize().to_string()
}
