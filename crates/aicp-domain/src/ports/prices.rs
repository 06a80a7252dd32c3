//! The price table: catalogue rows and custom prices.

use async_trait::async_trait;

use crate::ports::error::RepoError;
use crate::pricing::PriceRow;

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
