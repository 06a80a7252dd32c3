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
//! candidate with probability
//! [`LshBanding::candidate_probability`](crate::similarity::LshBanding::candidate_probability) of
//! that agreement.
//!
//! # Why embeddings are kept per distinct prompt, not per event
//!
//! A vector is a function of the text, and the point of this tool is that texts repeat: keyed by
//! (project, embedding model, `promptHash`), a million calls of a hundred thousand prompts cost a
//! hundred thousand embeddings, once each, and repeats never call the provider again.

pub use crate::ports::embedder::{EmbedError, Embedder, PendingPrompt, PromptSink, VectorSigner};
#[cfg(any(test, feature = "mocks"))]
pub use crate::ports::embedder::{MockEmbedder, MockPromptSink, MockVectorSigner};

/// Probability that one hyperplane signature bit agrees for two vectors of cosine `cos`:
/// `1 − acos(cos)/π`. Feed it to
/// [`LshBanding::candidate_probability`](crate::similarity::LshBanding::candidate_probability) to
/// read a banding's recall.
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
