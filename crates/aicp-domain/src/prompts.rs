//! `PromptService`: the prompt use cases behind `/analytics/prompts`, `/prompts/{id}/similar`,
//! `/prompt-templates`, the prompts export and the dashboard's Prompts page: what a team spends on
//! repeated and near-duplicate prompts, what caching would have saved, which templates cost most,
//! and the near-duplicates of one call. Every caller goes through here, so the same window gives
//! the same groups and hashes everywhere.

mod report;
mod scoring;
mod similar;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::analytics::BloatRow;
use crate::embedding::VectorSigner;
use crate::money::Usd;
use crate::ports::{
    AnalyticsRepository, EmbeddingRepository, JsonCache, PromptRepository, RepoError,
};
use crate::pricing::SharedPriceBook;
use crate::similarity::PromptAnalyzer;

pub use report::{prompt_cache_saving, repeat_share};
pub use similar::{SimilarAnswer, SimilarQuery};

/// Prompt groups in the report.
pub const REPORT_GROUPS: usize = 20;
/// Prompt groups in the prompts export.
pub const EXPORT_GROUPS: usize = 1000;
/// Near-duplicates shown per prompt group.
pub const NEAR_SHOWN: usize = 5;
/// Near-duplicate candidates examined per prompt.
pub const CANDIDATES: usize = 200;
/// Templates in the template report.
pub const TEMPLATES_MAX: usize = 100;
/// How long `/similar` answers are cached.
pub const SIMILAR_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// One near-duplicate prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarPrompt {
    /// The most recent call with this prompt.
    pub id: uuid::Uuid,
    /// Its exact hash.
    pub prompt_hash: String,
    /// Its text, as the privacy setting allows (empty when not stored).
    pub content: String,
    /// Feature of most of its calls.
    pub feature: String,
    /// Model of its most recent call.
    pub model: String,
    /// Similarity to the prompt asked about, 0..1.
    pub similarity: f64,
    /// Calls.
    pub occurrences: u64,
    /// Their cost.
    pub total_cost: Usd,
}

/// The bloat signal of a prompt group.
#[derive(Debug, Clone, PartialEq)]
pub struct Bloat {
    /// Mean input tokens per call of this prompt.
    pub avg_input_tokens: f64,
    /// Median input tokens of the feature's successful calls in the window.
    pub feature_median_input_tokens: f64,
    /// `avg / median` (0 without a median).
    pub ratio: f64,
    /// `ratio > 1.5` (the original's threshold).
    pub bloated: bool,
}

/// One prompt (exact hash) of the report with what its repeats cost.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptGroup {
    /// MD5 of the normalised text.
    pub prompt_hash: String,
    /// MD5 of the template (volatile parts masked).
    pub template_hash: String,
    /// Text as the privacy setting allows (`None` when not stored).
    pub content: Option<String>,
    /// Feature of most calls.
    pub feature: String,
    /// Calls.
    pub occurrences: u64,
    /// Their cost.
    pub total_cost: Usd,
    /// Mean input + output tokens per call.
    pub avg_tokens: f64,
    /// Near-duplicates at or above the default threshold (empty when not asked for).
    pub similar: Vec<SimilarPrompt>,
    /// Spend on the repeats (every call after the first).
    pub repeated_spend: Usd,
    /// Saving had the repeated uncached input been prompt-cache reads.
    pub prompt_cache_saving: Usd,
    /// Saving had the repeats been answered from a response cache.
    pub response_cache_saving: Usd,
    /// Input size against the feature's median.
    pub bloat: Bloat,
    /// The most recent call with this prompt (for its near-duplicates across history).
    pub latest_id: uuid::Uuid,
}

/// The prompt report of a window.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptReport {
    /// Groups of fingerprinted prompts, most expensive first.
    Groups(Vec<PromptGroup>),
    /// No call of the window carries a prompt: the original's metadata-based bloat groups.
    Bloat(Vec<BloatRow>),
}

/// Whether the report looks up near-duplicates (one candidate query per group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NearDuplicates {
    /// Look them up.
    Include,
    /// Leave `similar` empty (exports of many groups).
    Skip,
}

/// Cost of one prompt template.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateGroup {
    /// MD5 of the template.
    pub template_hash: String,
    /// Text of one of its prompts, as the privacy setting allows (empty when not stored).
    pub content: String,
    /// Distinct prompts (variants).
    pub prompts: usize,
    /// Calls.
    pub occurrences: u64,
    /// Their cost.
    pub total_cost: Usd,
}

/// How `/similar` compares prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimilarityMode {
    /// MinHash estimate of the Jaccard similarity of the normalised texts' shingles.
    Lexical,
    /// Cosine of the prompts' embeddings (needs an embeddings provider).
    Semantic,
}

impl SimilarityMode {
    /// Parses `lexical` / `semantic` (absent or empty → lexical).
    ///
    /// # Errors
    /// A message naming the value.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.filter(|m| !m.is_empty()) {
            None | Some("lexical") => Ok(Self::Lexical),
            Some("semantic") => Ok(Self::Semantic),
            Some(other) => Err(format!("\"mode\" must be lexical or semantic, received '{other}'")),
        }
    }
}

/// Why a prompt question was not answered.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// Prompt fingerprints are not wired in this process.
    #[error("prompt analytics are not enabled")]
    Disabled,
    /// No such event in the project.
    #[error("Event not found")]
    EventNotFound,
    /// `mode=semantic` without an embeddings provider (a client error).
    #[error("mode=semantic needs an embeddings provider (EMBEDDINGS_URL), and none is configured")]
    SemanticUnavailable,
    /// The store failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// What semantic similarity needs (see [`crate::embedding`]).
pub struct SemanticSimilarity {
    /// The embedding model whose vectors are compared.
    pub model: String,
    /// Stored embeddings.
    pub repo: Arc<dyn EmbeddingRepository>,
    /// Band keys and cosine scores.
    pub signer: Arc<dyn VectorSigner>,
}

/// What fingerprint-based prompt analytics need.
pub struct Fingerprints {
    /// Stored fingerprints.
    pub repo: Arc<dyn PromptRepository>,
    /// The fingerprinting scheme (for similarity scores).
    pub analyzer: Arc<dyn PromptAnalyzer>,
    /// Cache of `/similar` answers.
    pub cache: Arc<dyn JsonCache>,
    /// Semantic similarity; `None` unless an embeddings provider is configured.
    pub semantic: Option<SemanticSimilarity>,
}

/// The prompt use cases.
pub struct PromptService {
    analytics: Arc<dyn AnalyticsRepository>,
    book: Arc<SharedPriceBook>,
    fingerprints: Option<Fingerprints>,
}

impl PromptService {
    /// A service over `analytics` (the bloat fallback), the price `book` (cache savings) and,
    /// when prompts are fingerprinted, `fingerprints`.
    pub fn new(
        analytics: Arc<dyn AnalyticsRepository>,
        book: Arc<SharedPriceBook>,
        fingerprints: Option<Fingerprints>,
    ) -> Self {
        Self { analytics, book, fingerprints }
    }

    /// Whether `mode=semantic` can be answered.
    pub fn has_semantic(&self) -> bool {
        self.fingerprints.as_ref().is_some_and(|f| f.semantic.is_some())
    }
}
