//! Semantic prompt similarity (optional): embeddings of prompt texts from an external provider,
//! signed with random-hyperplane LSH so that paraphrases are found through the same band-key
//! machinery as lexical near-duplicates.
//!
//! Three ports, all off unless a deployment configures an embeddings provider:
//! - [`Embedder`]: texts in, vectors out (an OpenAI-compatible `/embeddings` endpoint in
//!   production, a fake in tests). Fallible and slow: it is never called on the ingest path.
//! - [`VectorSigner`]: pure CPU, turns a vector into LSH band keys and scores two vectors (cosine).
//! - [`PromptSink`]: where ingest hands the text of each newly stored distinct prompt after the
//!   commit, without waiting; the adapter queues it for a background worker.
//!
//! # Similarity measure and threshold
//!
//! The score of two prompts is the **cosine similarity of their embeddings**, clamped to
//! `0.0..=1.0` (a negative cosine counts as unrelated), and a pair matches a threshold `t` when
//! `score >= t`, as for lexical similarity. A random hyperplane separates two vectors at angle `θ`
//! with probability `θ/π`, so each signature bit agrees with probability
//! [`bit_agreement`]`(cos) = 1 − acos(cos)/π`; with `b` bands of `r` bits, a pair becomes a
//! candidate with probability [`LshBanding::candidate_probability`] of that agreement.
//!
//! # Why embeddings are kept per distinct prompt, not per event
//!
//! A vector is a function of the text, and the point of this tool is that texts repeat: keyed by
//! (project, embedding model, `promptHash`), a million calls of a hundred thousand prompts cost a
//! hundred thousand embeddings, once each, and repeats never call the provider again.

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

/// Probability that one hyperplane signature bit agrees for two vectors of cosine `cos`:
/// `1 − acos(cos)/π`. Feed it to [`LshBanding::candidate_probability`] to read a banding's recall.
#[must_use]
pub fn bit_agreement(cos: f64) -> f64 {
    let c = if cos.is_nan() { 0.0 } else { cos.clamp(-1.0, 1.0) };
    1.0 - c.acos() / std::f64::consts::PI
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_agreement_follows_the_angle() {
        assert!((bit_agreement(1.0) - 1.0).abs() < 1e-12);
        assert!((bit_agreement(0.0) - 0.5).abs() < 1e-12);
        assert!(bit_agreement(-1.0).abs() < 1e-12);
        assert!((bit_agreement(f64::NAN) - 0.5).abs() < 1e-12);
        assert!((bit_agreement(2.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn only_unavailability_is_retryable() {
        assert!(EmbedError::Unavailable("timeout".into()).is_retryable());
        assert!(!EmbedError::Rejected("401".into()).is_retryable());
        assert!(!EmbedError::Malformed("count".into()).is_retryable());
    }
}
