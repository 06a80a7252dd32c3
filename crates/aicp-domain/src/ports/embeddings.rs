//! Stored embeddings of distinct prompts.

use async_trait::async_trait;

use crate::ports::error::RepoError;
use crate::project::ProjectId;

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
