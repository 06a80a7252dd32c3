//! A small JSON cache.

use async_trait::async_trait;

/// A small JSON cache with expiry (answers that are expensive and may be an hour stale).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JsonCache: Send + Sync {
    /// The cached value, if any (a cache that is down answers `None`).
    async fn get(&self, key: &str) -> Option<String>;
    /// Stores `value` for `ttl` (best effort).
    async fn put(&self, key: &str, value: &str, ttl: std::time::Duration);
}
