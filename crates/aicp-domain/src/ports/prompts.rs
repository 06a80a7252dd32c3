//! Prompt fingerprints and their calls.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::money::Usd;
use crate::ports::error::RepoError;
use crate::project::ProjectId;
use crate::window::TimeWindow;

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
    /// The scheme that made them (`None`: before schemes were recorded).
    pub scheme: Option<u32>,
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
    /// The scheme that made them (`None`: before schemes were recorded).
    pub scheme: Option<u32>,
}

/// What an event says about its prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventPrompt {
    /// The project has no such event.
    NoSuchEvent,
    /// The event carries no prompt.
    NoPrompt,
    /// The event's prompt.
    Prompt(StoredPrompt),
}

/// The median prompt size of a feature's successful calls.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMedian {
    /// Feature.
    pub feature: String,
    /// Median input tokens.
    pub input_tokens: f64,
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

    /// The prompt of the event `id` of `project`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn event_prompt(
        &self,
        project: &ProjectId,
        id: uuid::Uuid,
    ) -> Result<EventPrompt, RepoError>;

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
    ) -> Result<Vec<FeatureMedian>, RepoError>;

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
