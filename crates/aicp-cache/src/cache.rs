//! [`RedisJsonCache`]: answers cached in Redis, best effort (a Redis that is down or slow is a
//! miss, never an error).

use std::time::Duration;

use aicp_domain::JsonCache;
use async_trait::async_trait;

use crate::pool::RedisPool;

/// A JSON cache in Redis under a key prefix.
pub struct RedisJsonCache {
    pool: RedisPool,
    prefix: String,
    timeout: Duration,
}

impl RedisJsonCache {
    /// A cache over `pool`, keys under `prefix`, each call bounded by `timeout`.
    pub fn new(pool: RedisPool, prefix: &str, timeout: Duration) -> Self {
        Self { pool, prefix: prefix.to_owned(), timeout }
    }
}

#[async_trait]
impl JsonCache for RedisJsonCache {
    async fn get(&self, key: &str) -> Option<String> {
        let get = async {
            let mut conn = self.pool.get().await.ok()?;
            redis::cmd("GET")
                .arg(format!("{}{key}", self.prefix))
                .query_async::<Option<String>>(&mut conn)
                .await
                .ok()?
        };
        tokio::time::timeout(self.timeout, get).await.ok().flatten()
    }

    async fn put(&self, key: &str, value: &str, ttl: Duration) {
        let put = async {
            let mut conn = self.pool.get().await.ok()?;
            redis::cmd("SET")
                .arg(format!("{}{key}", self.prefix))
                .arg(value)
                .arg("PX")
                .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
                .query_async::<()>(&mut conn)
                .await
                .ok()
        };
        let _ = tokio::time::timeout(self.timeout, put).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_round_trip_and_expire() {
        let url =
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let pool = crate::build_pool(&url, Duration::from_millis(500)).unwrap();
        let prefix = format!("aicp-test:{}:", std::process::id());
        let cache = RedisJsonCache::new(pool, &prefix, Duration::from_millis(500));
        cache.put("k", "[1]", Duration::from_millis(200)).await;
        assert_eq!(cache.get("k").await.as_deref(), Some("[1]"));
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(cache.get("k").await, None);
    }

    #[tokio::test]
    async fn a_redis_that_is_down_is_a_miss() {
        let pool = crate::build_pool("redis://127.0.0.1:1", Duration::from_millis(50)).unwrap();
        let cache = RedisJsonCache::new(pool, "x:", Duration::from_millis(50));
        cache.put("k", "v", Duration::from_secs(1)).await;
        assert_eq!(cache.get("k").await, None);
    }
}
