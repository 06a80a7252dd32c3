//! The optional semantic-similarity ports (see [`crate::embedding`] for the measure): the
//! embeddings provider, the hyperplane signer, and the sink ingest offers new prompts to.

use async_trait::async_trait;

use crate::project::ProjectId;
use crate::similarity::LshBanding;

/// Why the embeddings provider gave no vectors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbedError {
    /// Not reached, timed out, rate limited (429) or failed (5xx): worth retrying later.
    #[error("embeddings provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request (4xx other than 429: bad key, unknown model, input too
    /// long): retrying the same request cannot help.
    #[error("embeddings provider refused the request: {0}")]
    Rejected(String),
    /// The provider answered, but not with one finite vector of one length per input.
    #[error("embeddings provider answered something unusable: {0}")]
    Malformed(String),
}

impl EmbedError {
    /// Whether the same request may succeed later.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Turns texts into embedding vectors.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Embedder: Send + Sync {
    /// The embedding model: vectors of different models are never compared.
    fn model(&self) -> String;

    /// One vector per text, in the order of `texts`, all of the same length.
    ///
    /// # Errors
    /// [`EmbedError`]; nothing is partially returned.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Random-hyperplane LSH over embedding vectors. Pure CPU; implementations keep the same
/// invariants as [`PromptAnalyzer`](crate::similarity::PromptAnalyzer): deterministic band keys
/// across processes, a symmetric score within `0.0..=1.0`.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait VectorSigner: Send + Sync {
    /// One key per band of `vector`'s hyperplane signature. Vectors of different lengths never
    /// share a key.
    fn band_keys(&self, vector: &[f32]) -> Vec<u64>;

    /// Cosine similarity of `a` and `b` clamped to `0.0..=1.0`; `0.0` when their lengths differ or
    /// either is zero.
    fn similarity(&self, a: &[f32], b: &[f32]) -> f64;

    /// The banding behind [`band_keys`](Self::band_keys) (rows are signature bits).
    fn banding(&self) -> LshBanding;
}

/// A newly stored prompt whose text may be embedded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPrompt {
    /// Its `promptHash`.
    pub hash: String,
    /// Its text as sent (whatever the storage setting keeps).
    pub text: String,
}

/// Receives the distinct prompts of each committed batch. Must not block or fail: an adapter that
/// cannot take them (queue full) drops them and counts it; the events are stored regardless.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait PromptSink: Send + Sync {
    /// Offers the prompts of `project` (distinct hashes) for embedding.
    fn offer(&self, project: &ProjectId, prompts: Vec<PendingPrompt>);
}
