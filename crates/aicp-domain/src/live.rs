//! The live cost stream: what ingest announces after each commit, and the ports through which it
//! is published (to every server process) and followed (by SSE clients).
//!
//! The update type and the ports live in [`crate::ports::live`]; this module keeps their old paths
//! and holds the do-nothing publisher.

use async_trait::async_trait;

pub use crate::ports::live::{CostPublisher, CostUpdate, LiveFeed, LiveMessage, LiveStream};
#[cfg(any(test, feature = "mocks"))]
pub use crate::ports::live::{MockCostPublisher, MockLiveFeed};

/// A publisher that drops everything (when no live stream is wired, e.g. in unit tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPublisher;

#[async_trait]
impl CostPublisher for NoPublisher {
    async fn publish(&self, _update: CostUpdate) {}
}
