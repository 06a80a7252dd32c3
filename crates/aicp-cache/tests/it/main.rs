//! Integration tests of the Redis adapters against the real Redis on 127.0.0.1:6379
//! (`REDIS_URL` overrides). Each test uses its own key prefix and never flushes anything; every
//! key the limiter writes has a TTL, so nothing is left behind for long.
#![allow(clippy::unwrap_used)]

mod failover;
mod redis_gcra;
mod support;
