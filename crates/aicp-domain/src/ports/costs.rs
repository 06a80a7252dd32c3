//! Stored costs: re-pricing and pricing coverage.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::money::Usd;
use crate::ports::error::RepoError;
use crate::pricing::{Cost, PriceSource, Priced, Usage};
use crate::project::ProjectId;
use crate::window::TimeWindow;

/// A stored event as re-pricing needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCall {
    /// Event id.
    pub id: uuid::Uuid,
    /// Model as reported.
    pub model: String,
    /// Feature.
    pub feature: String,
    /// The call's timestamp (selects the price period).
    pub created_at: DateTime<Utc>,
    /// Token counts.
    pub usage: Usage,
    /// Stored cost by usage kind.
    pub cost: Cost,
    /// Stored `priced_as`.
    pub priced_as: Option<String>,
    /// Stored price source.
    pub source: PriceSource,
    /// Stored price period start.
    pub effective_from: Option<NaiveDate>,
}

/// Where a scan of calls resumes: strictly after this call in `(created_at, id)` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallCursor {
    /// The last call's timestamp.
    pub created_at: DateTime<Utc>,
    /// The last call's id.
    pub id: uuid::Uuid,
}

/// The new cost and price of one stored call.
#[derive(Debug, Clone, PartialEq)]
pub struct Repriced {
    /// Event id.
    pub id: uuid::Uuid,
    /// Its cost and price under the current price book.
    pub priced: Priced,
}

/// Pricing coverage of a window, computed by the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoverageStats {
    /// Calls in the window.
    pub calls: u64,
    /// Prompt + completion tokens in the window.
    pub tokens: u64,
    /// Per unpriced model name, most calls first.
    pub unpriced: Vec<UnpricedModel>,
    /// Per model with a client-reported cost.
    pub reported: Vec<ReportedCost>,
}

/// Calls of a model the price book does not know (priced by the fallback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpricedModel {
    /// Model name as reported.
    pub model: String,
    /// Calls.
    pub calls: u64,
    /// Prompt + completion tokens.
    pub tokens: u64,
}

/// A model's client-reported cost beside ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedCost {
    /// Model name as reported.
    pub model: String,
    /// Calls with a reported cost.
    pub calls: u64,
    /// The provider's own cost when sent, else the client's estimate.
    pub reported: Usd,
    /// Our cost of the same calls.
    pub computed: Usd,
}

/// Reads and rewrites stored costs (re-pricing) and aggregates pricing coverage.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CostRepository: Send + Sync {
    /// Up to `limit` calls of `project` in `window` (optionally only `model`, matched
    /// case-insensitively against the reported name or the priced-as id), ordered by
    /// (created_at, id), strictly after `after`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn scan_calls<'a>(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        model: Option<&'a str>,
        after: Option<CallCursor>,
        limit: usize,
    ) -> Result<Vec<StoredCall>, RepoError>;

    /// Rewrites the cost and price of the given events of `project` in one transaction
    /// (and anything derived from them); returns how many rows changed.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached; nothing changed then.
    async fn update_costs(
        &self,
        project: &ProjectId,
        updates: Vec<Repriced>,
    ) -> Result<u64, RepoError>;

    /// Pricing coverage of `project` in `window`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn coverage(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
    ) -> Result<CoverageStats, RepoError>;
}
