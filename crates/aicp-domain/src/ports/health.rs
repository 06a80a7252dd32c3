//! Health of the dependencies `/health` reports.

use async_trait::async_trait;

/// A dependency whose health `/health` reports.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DependencyProbe: Send + Sync {
    /// `true` when the dependency answers correctly within the probe's own timeout.
    async fn is_healthy(&self) -> bool;
}
