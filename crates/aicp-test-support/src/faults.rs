//! Faults injected from a test: backends killed mid-statement.

use tokio_postgres::Client;

/// Terminates the backends of this database (other than the caller's) whose active statement
/// matches `like` (an SQL `LIKE` pattern), as `kill` of a backend or a failover would; returns how
/// many were terminated.
///
/// # Errors
/// When the query fails.
pub async fn terminate_active(client: &Client, like: &str) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND state = 'active' \
             AND pid <> pg_backend_pid() AND query LIKE $1",
            &[&like],
        )
        .await?
        .get(0))
}

/// Polls every millisecond, up to `tries` times, until [`terminate_active`] terminates a backend;
/// whether it did.
///
/// # Errors
/// When a query fails.
pub async fn terminate_when_active(
    client: &Client,
    like: &str,
    tries: usize,
) -> Result<bool, tokio_postgres::Error> {
    for _ in 0..tries {
        if terminate_active(client, like).await? > 0 {
            return Ok(true);
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    Ok(false)
}
