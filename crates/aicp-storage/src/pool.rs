//! The PostgreSQL connection pool (diesel-async over deadpool).

use std::time::Duration;

use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};

/// Pool of async diesel connections.
pub type PgPool = Pool<AsyncPgConnection>;

/// A connection taken from a [`PgPool`].
pub type PgConn = diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>;

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// `postgres://` URL.
    pub url: String,
    /// Most open connections.
    pub max_size: usize,
    /// Longest wait for a free connection (and for a new one to open) before giving up; a
    /// request then gets 503 instead of queueing without bound.
    pub wait_timeout: Duration,
}

impl PoolConfig {
    /// Defaults for `url`: 16 connections, 5 s wait (as the original's 5 s connect timeout).
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), max_size: 16, wait_timeout: Duration::from_secs(5) }
    }
}

/// Builds a pool; connections open lazily.
///
/// # Errors
/// When the pool cannot be built (invalid settings).
pub fn build_pool(config: &PoolConfig) -> anyhow::Result<PgPool> {
    // Fast recycling: no `SELECT 1` round trip on every checkout (a broken connection fails its
    // query instead, which every caller already maps to 503).
    let mut manager_config = ManagerConfig::default();
    manager_config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        config.url.clone(),
        manager_config,
    );
    let timeout = Some(config.wait_timeout);
    Ok(Pool::builder(manager)
        .max_size(config.max_size)
        .wait_timeout(timeout)
        .create_timeout(timeout)
        .recycle_timeout(timeout)
        .runtime(deadpool::Runtime::Tokio1)
        .build()?)
}

/// A connection from `pool`; no connection (timeout, database down) is `Unavailable` (→ 503).
///
/// # Errors
/// [`aicp_domain::RepoError::Unavailable`] when no connection can be had in time.
pub(crate) async fn checkout(pool: &PgPool) -> Result<PgConn, aicp_domain::RepoError> {
    pool.get().await.map_err(|e| aicp_domain::RepoError::Unavailable(e.to_string()))
}
