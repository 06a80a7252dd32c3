//! Integration tests of the Redis adapters against the real Redis on 127.0.0.1:6379
//! (`REDIS_URL` overrides), and against a `redis-server` a test starts itself. Each test uses its
//! own key prefix and never flushes anything; every key the limiter writes has a TTL, so nothing
//! is left behind for long.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed setup should panic, not be handled"
)]

mod concurrency;
mod failover;
mod own_redis;
mod redis_gcra;
mod script_model;
mod support;

/// The pure model of the Lua script, the very source the unit tests check (its own unit tests
/// run here once more): the script is compared with it in `script_model`.
#[path = "../../src/ratelimit/gcra.rs"]
#[allow(dead_code)]
mod gcra_model;
