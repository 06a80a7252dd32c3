//! Port traits: the contracts the outer layers (storage, cache, HTTP) implement or call.
//! Each fallible method documents its errors as part of the contract.

use async_trait::async_trait;

use crate::event::PricedEvent;
use chrono::{DateTime, NaiveDate, Utc};

use chrono_tz::Tz;

use crate::analytics::{
    BloatRow, BreakdownRow, CostPoint, Cursor, FeatureModelCost, Filter, Granularity, GroupBy,
    SpanRow, Totals, WindowStats,
};
use crate::event::StoredEvent;
use crate::money::Usd;
use crate::pricing::{Cost, PriceRow, PriceSource, Priced, Usage};
use crate::project::ProjectId;
use crate::window::TimeWindow;

/// A batch of priced events for one project, in request order.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBatch {
    /// Owner of every event in the batch.
    pub project: ProjectId,
    /// The events, in the order the client sent them.
    pub events: Vec<PricedEvent>,
}

/// What storing a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertSummary {
    /// Positions (in [`EventBatch::events`]) of the events that were new and are now stored.
    pub inserted: Vec<usize>,
    /// How many events were already stored (same project, `traceId` and `spanId`), including
    /// repeats inside the batch.
    pub duplicates: usize,
}

/// Why the event store could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The store cannot be reached or timed out; nothing was written, retrying later is safe.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// Too much work is already queued; nothing was written, retrying later is safe.
    #[error("event store overloaded")]
    Overloaded,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Durable store of LLM call events.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventRepository: Send + Sync {
    /// Stores `batch` atomically: when this returns `Ok`, every new event is durably committed;
    /// events already stored (same project, `traceId`, `spanId`) are skipped, never stored twice.
    ///
    /// # Errors
    /// - [`RepoError::Unavailable`] when the database cannot be reached (nothing was written).
    /// - [`RepoError::Overloaded`] when the write queue is full (nothing was written).
    /// - [`RepoError::Unexpected`] for anything else (nothing was written).
    async fn insert_batch(&self, batch: EventBatch) -> Result<InsertSummary, RepoError>;
}

/// A dependency whose health `/health` reports.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DependencyProbe: Send + Sync {
    /// `true` when the dependency answers correctly within the probe's own timeout.
    async fn is_healthy(&self) -> bool;
}

/// Durable store of prices (the `model_prices` table): the catalogue's rows and custom prices.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PriceRepository: Send + Sync {
    /// Replaces every global (catalogue) row with `rows`, atomically.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached; nothing changed then.
    async fn replace_catalogue(&self, version: &str, rows: Vec<PriceRow>) -> Result<(), RepoError>;

    /// Every stored row, global and custom.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn load(&self) -> Result<Vec<PriceRow>, RepoError>;

    /// Stores one custom price period: replaces the rows of the same project, model and
    /// effective date with `rows`, atomically.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached; nothing changed then.
    async fn put_custom(&self, rows: Vec<PriceRow>) -> Result<(), RepoError>;
}

/// A stored event as re-pricing needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCall {
    /// Event id.
    pub id: uuid::Uuid,
    /// Model as reported.
    pub model: String,
    /// Feature.
    pub feature: String,
    /// The call's timestamp (selects the price period).
    pub created_at: DateTime<Utc>,
    /// Token counts.
    pub usage: Usage,
    /// Stored cost by usage kind.
    pub cost: Cost,
    /// Stored `priced_as`.
    pub priced_as: Option<String>,
    /// Stored price source.
    pub source: PriceSource,
    /// Stored price period start.
    pub effective_from: Option<NaiveDate>,
}

/// Pricing coverage of a window, computed by the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoverageStats {
    /// Calls in the window.
    pub calls: u64,
    /// Prompt + completion tokens in the window.
    pub tokens: u64,
    /// Per unpriced model name: (model, calls, tokens), most calls first.
    pub unpriced: Vec<(String, u64, u64)>,
    /// Per model with a client-reported cost: (model, calls, reported, computed), reported being
    /// the provider's own cost when sent, else the client's estimate.
    pub reported: Vec<(String, u64, Usd, Usd)>,
}

/// Reads and rewrites stored costs (re-pricing) and aggregates pricing coverage.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CostRepository: Send + Sync {
    /// Up to `limit` calls of `project` in `window` (optionally only `model`, matched
    /// case-insensitively against the reported name or the priced-as id), ordered by
    /// (created_at, id), strictly after `after`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn scan_calls<'a>(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        model: Option<&'a str>,
        after: Option<(DateTime<Utc>, uuid::Uuid)>,
        limit: usize,
    ) -> Result<Vec<StoredCall>, RepoError>;

    /// Rewrites the cost and price of the given events of `project` in one transaction
    /// (and anything derived from them); returns how many rows changed.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached; nothing changed then.
    async fn update_costs(
        &self,
        project: &ProjectId,
        updates: Vec<(uuid::Uuid, Priced)>,
    ) -> Result<u64, RepoError>;

    /// Pricing coverage of `project` in `window`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn coverage(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
    ) -> Result<CoverageStats, RepoError>;
}

/// Aggregate questions about stored events, answered from rollups where they can be and from raw
/// rows otherwise. Every method is scoped to one project; windows are inclusive.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AnalyticsRepository: Send + Sync {
    /// Cost, tokens, calls and latency by `group_by`, most expensive first, at most `limit`
    /// groups (groups without a value, e.g. calls without a user, are left out).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn breakdown(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        group_by: GroupBy,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<BreakdownRow>, RepoError>;

    /// Cost per (feature, model), at most `limit` pairs (most expensive first).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn feature_model_costs(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<FeatureModelCost>, RepoError>;

    /// Cost and calls per bucket (bucket starts in `tz`), ascending; empty buckets are absent.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn timeseries(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        granularity: Granularity,
        tz: Tz,
        filter: &Filter,
    ) -> Result<Vec<CostPoint>, RepoError>;

    /// Totals, waste and latency histogram of a window.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn window_stats(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
    ) -> Result<WindowStats, RepoError>;

    /// Up to `limit` events, newest first (created_at DESC, id DESC), strictly after `after`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn events_page(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, RepoError>;

    /// The `limit` most expensive events of the window.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn top_calls(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, RepoError>;

    /// Every span of one trace.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn trace_spans(
        &self,
        project: &ProjectId,
        trace_id: &str,
    ) -> Result<Vec<StoredEvent>, RepoError>;

    /// Spans of the window for the call-path flamegraph, at most `limit`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn spans(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<SpanRow>, RepoError>;

    /// The prompt-bloat groups (original-api.md §7.4), at most `limit`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn prompt_bloat(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        limit: usize,
    ) -> Result<Vec<BloatRow>, RepoError>;

    /// Lifetime totals of the project.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn totals(&self, project: &ProjectId) -> Result<Totals, RepoError>;
}

/// A stream of stored events, fetched in bounded batches as it is polled.
pub type EventStream = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<StoredEvent, RepoError>> + Send + 'static>,
>;

/// Streams events for exports: memory stays flat whatever the row count, and dropping the
/// stream (a client that disconnects) stops the database work after the batch in flight.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait EventExporter: Send + Sync {
    /// Events of `project` in `window` matching `filter`, newest first, at most `max_rows`.
    fn stream(
        &self,
        project: ProjectId,
        window: TimeWindow,
        filter: Filter,
        max_rows: Option<u64>,
    ) -> EventStream;
}

/// One (prompt, model) aggregate of a window.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptModelRow {
    /// Exact prompt hash.
    pub prompt_hash: String,
    /// Template hash.
    pub template_hash: String,
    /// Kept text (per the privacy setting), from the most recent call.
    pub content: Option<String>,
    /// Model as reported.
    pub model: String,
    /// Most frequent feature of the group.
    pub feature: String,
    /// Calls.
    pub calls: u64,
    /// Their cost.
    pub cost: Usd,
    /// Input + output tokens.
    pub tokens: u64,
    /// Prompt tokens not read from or written to cache.
    pub uncached_input_tokens: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Most recent call.
    pub latest_id: uuid::Uuid,
    /// Its time.
    pub latest_at: DateTime<Utc>,
    /// Signature of the most recent call.
    pub signature: Vec<u32>,
    /// Band keys of the most recent call.
    pub bands: Vec<u64>,
}

/// A stored prompt's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPrompt {
    /// Exact hash.
    pub prompt_hash: String,
    /// Signature.
    pub signature: Vec<u32>,
    /// Band keys.
    pub bands: Vec<u64>,
}

/// Prompt fingerprints for repeat and near-duplicate analysis.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PromptRepository: Send + Sync {
    /// Aggregates per (prompt hash, model) of the window's fingerprinted calls, the most
    /// expensive prompts first, covering at most `limit` prompts.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn prompt_models(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        limit: usize,
    ) -> Result<Vec<PromptModelRow>, RepoError>;

    /// At most `limit` distinct prompts of `project` (other than `exclude`) sharing at least one
    /// band key with `bands`, those sharing the most keys first, with their fingerprints.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn candidates<'a>(
        &self,
        project: &ProjectId,
        bands: &[u64],
        exclude: &'a str,
        limit: usize,
    ) -> Result<Vec<StoredPrompt>, RepoError>;

    /// The event `id` of `project`: `None` when there is no such event, `Some(None)` when it
    /// carries no prompt.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn event_prompt(
        &self,
        project: &ProjectId,
        id: uuid::Uuid,
    ) -> Result<Option<Option<StoredPrompt>>, RepoError>;

    /// Median input tokens of each of `features` in the window (successful calls), for the
    /// bloat signal.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn feature_medians(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        features: &[String],
    ) -> Result<Vec<(String, f64)>, RepoError>;

    /// The calls of the prompts `hashes` of `project` (within `window`, else across its
    /// history), aggregated like [`PromptRepository::prompt_models`] (hashes without calls are
    /// absent).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn prompts_by_hash(
        &self,
        project: &ProjectId,
        hashes: &[String],
        window: Option<TimeWindow>,
    ) -> Result<Vec<PromptModelRow>, RepoError>;
}

/// One distinct prompt's embedding, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptEmbedding {
    /// The prompt's `promptHash`.
    pub prompt_hash: String,
    /// The vector.
    pub vector: Vec<f32>,
    /// Its hyperplane LSH band keys.
    pub bands: Vec<u64>,
}

/// Embeddings of distinct prompts, per (project, embedding model, prompt hash), for semantic
/// similarity (see [`crate::embedding`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EmbeddingRepository: Send + Sync {
    /// Those of `hashes` that have no embedding of `model` in `project` yet.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn missing(
        &self,
        project: &ProjectId,
        model: &str,
        hashes: &[String],
    ) -> Result<Vec<String>, RepoError>;

    /// Stores `rows`; a prompt that already has an embedding of `model` keeps it (idempotent).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn store(
        &self,
        project: &ProjectId,
        model: &str,
        rows: &[PromptEmbedding],
    ) -> Result<(), RepoError>;

    /// The embedding of `model` of the prompt `hash`, if any.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn get(
        &self,
        project: &ProjectId,
        model: &str,
        hash: &str,
    ) -> Result<Option<PromptEmbedding>, RepoError>;

    /// At most `limit` embeddings of `model` other than `exclude` sharing at least one band key
    /// with `bands`, those sharing the most keys first.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn candidates<'a>(
        &self,
        project: &ProjectId,
        model: &str,
        bands: &[u64],
        exclude: &'a str,
        limit: usize,
    ) -> Result<Vec<PromptEmbedding>, RepoError>;
}

/// A small JSON cache with expiry (answers that are expensive and may be an hour stale).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JsonCache: Send + Sync {
    /// The cached value, if any (a cache that is down answers `None`).
    async fn get(&self, key: &str) -> Option<String>;
    /// Stores `value` for `ttl` (best effort).
    async fn put(&self, key: &str, value: &str, ttl: std::time::Duration);
}
