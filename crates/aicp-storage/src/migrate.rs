//! Embedded migrations (the SQL files in the workspace's `migrations/`), and creation of the
//! database itself, so that the server and `cargo xtask migrate` need no external tool.

use std::str::FromStr;

use anyhow::Context;
use diesel::Connection;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// Every migration of the workspace, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Creates the database named in `url` when it does not exist yet (connecting to the server's
/// `postgres` database to do so). Returns whether it was created.
///
/// # Errors
/// When the server cannot be reached or the database cannot be created.
pub async fn ensure_database(url: &str) -> anyhow::Result<bool> {
    let config = tokio_postgres::Config::from_str(url).context("invalid DATABASE_URL")?;
    let name = config.get_dbname().context("DATABASE_URL names no database")?.to_owned();
    let mut admin = config.clone();
    admin.dbname("postgres");
    let (client, connection) = admin
        .connect(tokio_postgres::NoTls)
        .await
        .context("cannot connect to the PostgreSQL server")?;
    let driver = tokio::spawn(connection);
    let exists =
        client.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]).await?.is_some();
    if !exists {
        let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        match client.batch_execute(&sql).await {
            Ok(()) => {}
            // Another process created it between our check and our CREATE.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(e) => return Err(e).context("cannot create the database"),
        }
    }
    drop(client);
    let _ = driver.await;
    Ok(!exists)
}

/// Applies every pending migration to the database at `url`; returns the versions applied.
///
/// # Errors
/// When the database cannot be reached or a migration fails (it is then rolled back).
pub async fn run_migrations(url: &str) -> anyhow::Result<Vec<String>> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)
            .context("cannot connect to the database")?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
        Ok(applied.iter().map(ToString::to_string).collect())
    })
    .await?
}

/// A digest of every migration file (computed by the build script): test templates are keyed by
/// it, so a changed migration never runs against a stale template.
pub fn migrations_fingerprint() -> &'static str {
    env!("AICP_MIGRATIONS_HASH")
}
