//! The `/health` probe for Redis: answers quickly even when Redis hangs.

use std::time::Duration;

use aicp_domain::DependencyProbe;
use async_trait::async_trait;

use crate::RedisPool;

/// `/health` probe: healthy when `PING` answers `PONG` within the timeout.
pub struct RedisHealth {
    pool: RedisPool,
    timeout: Duration,
}

impl RedisHealth {
    /// A probe over `pool` that gives up after `timeout`.
    pub fn new(pool: RedisPool, timeout: Duration) -> Self {
        Self { pool, timeout }
    }
}

#[async_trait]
impl DependencyProbe for RedisHealth {
    async fn is_healthy(&self) -> bool {
        let ping = async {
            let mut conn = self.pool.get().await.ok()?;
            redis::cmd("PING").query_async::<String>(&mut conn).await.ok()
        };
        matches!(tokio::time::timeout(self.timeout, ping).await, Ok(Some(pong)) if pong == "PONG")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::build_pool;

    #[tokio::test]
    async fn the_local_redis_is_healthy() {
        let url =
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let pool = build_pool(&url, Duration::from_millis(500)).unwrap();
        assert!(RedisHealth::new(pool, Duration::from_millis(500)).is_healthy().await);
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_unhealthy_within_the_timeout() {
        let pool = build_pool("redis://127.0.0.1:1", Duration::from_millis(200)).unwrap();
        assert!(!RedisHealth::new(pool, Duration::from_millis(200)).is_healthy().await);
    }

    #[tokio::test]
    async fn a_redis_that_never_answers_is_unhealthy_within_the_timeout() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("redis://{}", silent.local_addr().unwrap());
        let pool = build_pool(&url, Duration::from_millis(200)).unwrap();
        assert!(!RedisHealth::new(pool, Duration::from_millis(200)).is_healthy().await);
    }
}
