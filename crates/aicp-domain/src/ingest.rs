//! The ingest use case: validate a batch, price every event, store it idempotently.

use std::sync::Arc;

use serde_json::Value;

use crate::clock::Clock;
use crate::embedding::{PendingPrompt, PromptSink};
use crate::event::PricedEvent;
use crate::event::PromptRecord;
use crate::live::{CostPublisher, CostUpdate, NoPublisher};
use crate::ports::{EventBatch, EventRepository, RepoError};
use crate::pricing::SharedPriceBook;
use crate::project::ProjectId;
use crate::similarity::PromptAnalyzer;
use crate::validation::{Issue, Limits, validate_batch};

/// What an accepted batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestReceipt {
    /// Events in the request (the original's `count`).
    pub received: usize,
    /// Events stored now.
    pub inserted: usize,
    /// Events that were already stored (a retried batch) and were skipped.
    pub duplicates: usize,
}

/// Why a batch was not accepted. In every case nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The body is not a valid batch.
    #[error("validation failed")]
    Invalid(Vec<Issue>),
    /// The store is unreachable; retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Too much work in flight; retry later.
    #[error("overloaded")]
    Overloaded,
    /// Anything else.
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl From<RepoError> for IngestError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::Unavailable(why) => IngestError::Unavailable(why),
            RepoError::Overloaded => IngestError::Overloaded,
            RepoError::Unexpected(e) => IngestError::Unexpected(e),
        }
    }
}

/// Validates, prices and stores event batches.
pub struct IngestService {
    repo: Arc<dyn EventRepository>,
    publisher: Arc<dyn CostPublisher>,
    prompts: Option<(Arc<dyn PromptAnalyzer>, PromptStorage)>,
    sink: Option<Arc<dyn PromptSink>>,
    clock: Arc<dyn Clock>,
    prices: Arc<SharedPriceBook>,
    limits: Limits,
}

impl IngestService {
    /// A service storing into `repo`, pricing with `prices`.
    pub fn new(
        repo: Arc<dyn EventRepository>,
        clock: Arc<dyn Clock>,
        prices: Arc<SharedPriceBook>,
        limits: Limits,
    ) -> Self {
        Self {
            repo,
            publisher: Arc::new(NoPublisher),
            prompts: None,
            sink: None,
            clock,
            prices,
            limits,
        }
    }

    /// Fingerprints prompts with `analyzer`, keeping their text as `storage` allows.
    pub fn with_prompts(
        mut self,
        analyzer: Arc<dyn PromptAnalyzer>,
        storage: PromptStorage,
    ) -> Self {
        self.prompts = Some((analyzer, storage));
        self
    }

    /// Hands the distinct prompts of each committed batch (newly stored events only) to `sink`,
    /// for embedding. Only has an effect together with [`with_prompts`](Self::with_prompts).
    pub fn with_prompt_sink(mut self, sink: Arc<dyn PromptSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Announces what each committed batch added through `publisher` (the live stream).
    pub fn with_publisher(mut self, publisher: Arc<dyn CostPublisher>) -> Self {
        self.publisher = publisher;
        self
    }

    /// Ingests the parsed body `{"events":[...]}` for `project`.
    ///
    /// # Errors
    /// [`IngestError`]; in every error case nothing was stored.
    pub async fn ingest(
        &self,
        project: ProjectId,
        body: &Value,
    ) -> Result<IngestReceipt, IngestError> {
        let events =
            validate_batch(body, self.clock.now(), &self.limits).map_err(IngestError::Invalid)?;
        let received = events.len();
        // One book for the whole batch, even if prices change meanwhile.
        let book = self.prices.current();
        let events = events
            .into_iter()
            .map(|event| {
                let priced = book.price(&project, &event.model, event.timestamp, event.usage());
                let prompt = match (&self.prompts, &event.prompt) {
                    (Some((analyzer, storage)), Some(text)) => {
                        Some(record(analyzer.as_ref(), *storage, text))
                    }
                    _ => None,
                };
                PricedEvent { event, priced, prompt }
            })
            .collect();
        let batch = EventBatch { project, events };
        // What the live stream needs of each event, taken before the batch moves into the store
        // (a copy of the whole batch, metadata and prompts included, would cost more).
        let project_name = batch.project.as_str().to_owned();
        let shares: Vec<EventShare> = batch.events.iter().map(EventShare::of).collect();
        // The texts a sink will want, taken only when there is one (they can be large).
        let pending: Vec<Option<PendingPrompt>> = match self.sink {
            Some(_) => batch.events.iter().map(pending_prompt).collect(),
            None => Vec::new(),
        };
        let summary = self.repo.insert_batch(batch).await?;
        if let Some(sink) = &self.sink {
            let mut offered: Vec<PendingPrompt> = Vec::new();
            for &i in &summary.inserted {
                if let Some(Some(p)) = pending.get(i)
                    && !offered.iter().any(|o| o.hash == p.hash)
                {
                    offered.push(p.clone());
                }
            }
            if !offered.is_empty() {
                sink.offer(&ProjectId::new(project_name.clone()), offered);
            }
        }
        if !summary.inserted.is_empty() {
            // After the commit, from the rows actually inserted: a retried batch announces nothing.
            let update = update_of(project_name, &shares, &summary.inserted, self.clock.now());
            self.publisher.publish(update).await;
        }
        Ok(IngestReceipt {
            received,
            inserted: summary.inserted.len(),
            duplicates: summary.duplicates,
        })
    }
}

/// How much prompt text is kept (fingerprints are always kept, and need no text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptStorage {
    /// Fingerprints only: no prompt text is stored (the default).
    Fingerprint,
    /// The first N characters.
    Preview(usize),
    /// The whole text.
    Full,
}

fn record(analyzer: &dyn PromptAnalyzer, storage: PromptStorage, text: &str) -> PromptRecord {
    let fp = analyzer.fingerprint(text);
    let bands = analyzer.band_keys(&fp);
    let text = match storage {
        PromptStorage::Fingerprint => None,
        PromptStorage::Preview(n) => Some(crate::text::char_prefix(text, n).to_owned()),
        PromptStorage::Full => Some(text.to_owned()),
    };
    PromptRecord {
        hash: fp.hash,
        template_hash: fp.template_hash,
        signature: fp.signature,
        bands,
        scheme: fp.scheme,
        text,
    }
}

/// The prompt of `e` as a sink takes it: its hash and the text as sent.
fn pending_prompt(e: &PricedEvent) -> Option<PendingPrompt> {
    let hash = &e.prompt.as_ref()?.hash;
    let text = e.event.prompt.as_ref()?;
    Some(PendingPrompt { hash: hash.clone(), text: text.clone() })
}

/// One event's contribution to the live totals.
struct EventShare {
    cost: crate::money::Usd,
    tokens: u64,
    feature: String,
}

impl EventShare {
    fn of(e: &PricedEvent) -> Self {
        Self {
            cost: e.priced.cost.total,
            tokens: u64::from(e.event.input_tokens.unsigned_abs())
                + u64::from(e.event.output_tokens.unsigned_abs()),
            feature: e.event.feature.clone(),
        }
    }
}

/// What the inserted events (positions `inserted` of `shares`) add to the project's totals.
fn update_of(
    project: String,
    shares: &[EventShare],
    inserted: &[usize],
    now: chrono::DateTime<chrono::Utc>,
) -> CostUpdate {
    let events: Vec<&EventShare> = inserted.iter().filter_map(|&i| shares.get(i)).collect();
    let mut features: Vec<String> = events.iter().map(|e| e.feature.clone()).collect();
    features.sort_unstable();
    features.dedup();
    CostUpdate {
        project,
        cost_delta: events.iter().map(|e| e.cost).sum(),
        requests_delta: events.len() as u64,
        tokens_delta: events.iter().map(|e| e.tokens).sum(),
        features,
        timestamp: now,
    }
}

#[cfg(test)]
mod tests;
