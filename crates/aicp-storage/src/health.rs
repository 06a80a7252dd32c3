//! `/health` probe for PostgreSQL.

use std::time::Duration;

use aicp_domain::DependencyProbe;
use async_trait::async_trait;
use diesel_async::RunQueryDsl;

use crate::pool::PgPool;

/// Healthy when `SELECT 1` answers within the timeout.
pub struct PgHealth {
    pool: PgPool,
    timeout: Duration,
}

impl PgHealth {
    /// A probe over `pool` that gives up after `timeout`.
    pub fn new(pool: PgPool, timeout: Duration) -> Self {
        Self { pool, timeout }
    }
}

#[async_trait]
impl DependencyProbe for PgHealth {
    async fn is_healthy(&self) -> bool {
        let check = async {
            let mut conn = self.pool.get().await.ok()?;
            diesel::sql_query("SELECT 1").execute(&mut conn).await.ok()
        };
        matches!(tokio::time::timeout(self.timeout, check).await, Ok(Some(_)))
    }
}
