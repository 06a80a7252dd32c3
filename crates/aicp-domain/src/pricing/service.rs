//! The pricing use cases: install the catalogue and custom prices into the in-memory book, set a
//! project's custom price.

use std::sync::Arc;

use serde_json::Value;

use crate::ports::{PriceRepository, RepoError};
use crate::pricing::book::{CustomPrice, SharedPriceBook};
use crate::pricing::catalogue::Catalogue;
use crate::pricing::custom::parse_custom_price;
use crate::pricing::formula::Rates;
use crate::pricing::rows::{book_from_rows, catalogue_rows, custom_rows};
use crate::project::ProjectId;
use crate::provider::Provider;
use crate::validation::Issue;

/// Why a pricing operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    /// The request is invalid.
    #[error("validation failed")]
    Invalid(Vec<Issue>),
    /// The store is unreachable.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// Stored prices do not form a valid book.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Keeps the shared book in step with the stored prices.
pub struct PricingService {
    repo: Arc<dyn PriceRepository>,
    book: Arc<SharedPriceBook>,
    catalogue: Catalogue,
    fallback: Rates,
}

impl PricingService {
    /// A service over `repo` that installs books into `book`.
    pub fn new(
        repo: Arc<dyn PriceRepository>,
        book: Arc<SharedPriceBook>,
        catalogue: Catalogue,
        fallback: Rates,
    ) -> Self {
        Self { repo, book, catalogue, fallback }
    }

    /// The book every ingest uses.
    pub fn book(&self) -> &Arc<SharedPriceBook> {
        &self.book
    }

    /// Writes the catalogue's rows (replacing older catalogue rows) and installs the book.
    ///
    /// # Errors
    /// [`PricingError`] when the store fails; the book in force is kept then.
    pub async fn install_catalogue(&self) -> Result<(), PricingError> {
        let rows = catalogue_rows(&self.catalogue);
        self.repo.replace_catalogue(&self.catalogue.version, rows).await?;
        self.reload().await
    }

    /// Rebuilds the book from the store (picks up custom prices set by other processes).
    ///
    /// # Errors
    /// [`PricingError`] when the store fails; the book in force is kept then.
    pub async fn reload(&self) -> Result<(), PricingError> {
        let rows = self.repo.load().await?;
        let book = book_from_rows(&self.catalogue.version, &rows, self.fallback.clone())
            .map_err(anyhow::Error::new)?;
        self.book.replace(book);
        Ok(())
    }

    /// Validates and stores a custom price of `project` (JSON body of `PUT /api/v1/pricing`), then
    /// installs the new book. Returns the stored price.
    ///
    /// # Errors
    /// [`PricingError::Invalid`] for a bad body (nothing stored); [`PricingError::Repo`] when the
    /// store fails.
    pub async fn set_custom(
        &self,
        project: &ProjectId,
        body: &Value,
    ) -> Result<CustomPrice, PricingError> {
        let (price, provider) = parse_custom_price(project, body).map_err(PricingError::Invalid)?;
        let provider: Option<Provider> = provider
            .or_else(|| self.book.current().find_catalogue(&price.model).and_then(|m| m.provider));
        self.repo.put_custom(custom_rows(&price, provider)).await?;
        self.reload().await?;
        Ok(price)
    }
}
