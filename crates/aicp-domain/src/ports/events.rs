//! Storing events: the batch, what storing it did, and the store.

use async_trait::async_trait;

use crate::event::PricedEvent;
use crate::ports::error::RepoError;
use crate::project::ProjectId;

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
