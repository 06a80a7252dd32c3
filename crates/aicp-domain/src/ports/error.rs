//! The error every store port returns.

/// Why a store (events, prices, keys, prompts, …) could not do its work. The messages name no
/// particular store: the caller's context says which one it was.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The store cannot be reached or timed out; nothing was written, retrying later is safe.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Too much work is already queued; nothing was written, retrying later is safe.
    #[error("store overloaded")]
    Overloaded,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}
