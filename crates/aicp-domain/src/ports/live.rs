//! The live cost stream: what ingest announces after each commit, published to every server
//! process and followed by SSE clients.

use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Usd;

/// What one committed batch added to a project's totals (only the rows actually inserted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CostUpdate {
    /// The project the events belong to (the stream only shows a client its own project).
    pub project: String,
    /// Added cost.
    pub cost_delta: Usd,
    /// Added calls.
    pub requests_delta: u64,
    /// Added input + output tokens.
    pub tokens_delta: u64,
    /// Distinct features of the batch, sorted.
    pub features: Vec<String>,
    /// When the batch was committed.
    pub timestamp: DateTime<Utc>,
}

/// What a follower of the stream receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveMessage {
    /// An update.
    Update(CostUpdate),
    /// The follower fell behind and updates were dropped for it: it should be disconnected
    /// rather than buffered without bound.
    Lagged,
}

/// A stream of live messages.
pub type LiveStream = Pin<Box<dyn futures_util::Stream<Item = LiveMessage> + Send + 'static>>;

/// Announces committed updates to every server process. Best effort: never fails the ingest
/// that called it (the database commit is the acknowledgement).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CostPublisher: Send + Sync {
    /// Publishes `update`; problems are logged, not returned.
    async fn publish(&self, update: CostUpdate);
}

/// Follows the updates of this process's subscription.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait LiveFeed: Send + Sync {
    /// A new follower, receiving every update published from now on.
    fn follow(&self) -> LiveStream;
}
