//! Redis adapters of AI Cost Profiler. Only this crate knows Redis.
//!
//! Redis is never on the durability path: everything here is best effort after the PostgreSQL
//! commit, and every call has a short timeout so that a slow or hung Redis cannot hold a request.
//!
//! - [`build_pool`] / [`RedisPool`]: the connection pool every adapter shares.
//! - [`RedisHealth`]: the `/health` probe.
//! - [`ratelimit`]: the GCRA rate limiter ([`RedisRateLimiter`]) with its in-process fallback.

pub mod cache;
mod health;
pub mod live;
mod pool;
pub mod ratelimit;

pub use cache::RedisJsonCache;
pub use health::RedisHealth;
pub use live::RedisLiveHub;
pub use pool::{RedisPool, build_pool};
pub use ratelimit::{
    CheckOutcome, CircuitState, DecisionSource, LocalRateLimiter, RateLimiterConfig,
    RateLimiterStats, RedisRateLimiter,
};
