//! Rate limiting: the API asks before doing work, the adapter (Redis GCRA with an in-process
//! fallback) decides.

use std::time::Duration;

use async_trait::async_trait;

/// A limit: `limit` units per `period`, with up to `burst` units at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatePolicy {
    /// Name, part of the key (`analytics`, `events`, `export`).
    pub name: String,
    /// Units allowed per period (the original's limits are per 60 s).
    pub limit: u32,
    /// The period.
    pub period: Duration,
    /// Largest number of units a client may spend at once (GCRA burst); `limit` allows the whole
    /// period's allowance at once, as the original's fixed window did.
    pub burst: u32,
}

/// The limiter's answer, with what the rate-limit headers need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the request may proceed (its units were counted only if so).
    pub allowed: bool,
    /// The policy's limit (`X-RateLimit-Limit`).
    pub limit: u32,
    /// Units still available right now (`X-RateLimit-Remaining`).
    pub remaining: u32,
    /// Time until the allowance is full again (`X-RateLimit-Reset`, as an instant).
    pub reset_after: Duration,
    /// When refused: how long until the request would be allowed (`Retry-After`).
    pub retry_after: Option<Duration>,
}

/// Decides whether a client may spend `cost` units of a policy.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts `cost` units of `policy` for `client` if they are available. Never fails: an
    /// adapter whose store is down answers from a local fallback instead of refusing or allowing
    /// everything.
    async fn check(&self, client: &str, policy: &RatePolicy, cost: u32) -> RateDecision;
}
