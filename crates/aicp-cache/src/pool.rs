//! The Redis connection pool, built in one place so that every adapter gets the same timeouts.

use std::time::Duration;

use deadpool_redis::{Config, Pool, Runtime, Timeouts};

/// Pool of Redis connections.
pub type RedisPool = Pool;

/// Builds a Redis pool whose waits, connects and recycles all give up after `timeout`.
/// Connections open lazily, so a Redis that is down does not stop the server from starting.
///
/// # Errors
/// When `url` is not a valid Redis URL.
pub fn build_pool(url: &str, timeout: Duration) -> anyhow::Result<RedisPool> {
    let mut config = Config::from_url(url);
    let mut pool = config.get_pool_config();
    pool.timeouts = Timeouts { wait: Some(timeout), create: Some(timeout), recycle: Some(timeout) };
    config.pool = Some(pool);
    Ok(config.create_pool(Some(Runtime::Tokio1))?)
}
