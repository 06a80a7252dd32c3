//! `cargo xtask migrate`: create the database when missing and apply the migrations.
//!
//! Why here rather than with the diesel CLI: the migrations are embedded in `aicp-storage`, and
//! the server applies them itself at start-up; going through the same two functions
//! ([`aicp_storage::ensure_database`], [`aicp_storage::run_migrations`]) means a developer's
//! database is migrated exactly as production's, with no extra tool to install.
//!
//! The module also holds the small database helpers the other commands share (scratch databases
//! for `bench` and `ci`).

use std::str::FromStr;

use anyhow::{Context, bail};
use tokio_postgres::{Client, NoTls};

use crate::Args;

pub(crate) const HELP: &str = "\
cargo xtask migrate [--database-url URL]

Creates the database if it does not exist, then applies every pending migration (the ones
embedded in aicp-storage, exactly as the server does at start-up).

Flags:
  --database-url URL   default: $DATABASE_URL, else postgres://postgres@127.0.0.1:5432/aicp";

pub(crate) fn run(mut args: Args) -> anyhow::Result<()> {
    let url = args.database_url()?;
    args.finish()?;
    crate::runtime()?.block_on(migrate(&url))
}

/// Creates and migrates the database at `url`, saying what it did.
pub(crate) async fn migrate(url: &str) -> anyhow::Result<()> {
    println!("migrate: database {}", redact(url));
    if aicp_storage::ensure_database(url).await? {
        println!("migrate: created the database");
    }
    let applied = aicp_storage::run_migrations(url).await?;
    if applied.is_empty() {
        println!("migrate: up to date");
    } else {
        for version in &applied {
            println!("migrate: applied {version}");
        }
    }
    Ok(())
}

/// `url` with its database name replaced by `name` (`postgres://` URLs only).
pub(crate) fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let Some(scheme_end) = url.find("://") else {
        bail!("expected a postgres:// URL, got {:?}", redact(url));
    };
    let after = scheme_end + 3;
    let query_start = url[after..].find('?').map_or(url.len(), |i| after + i);
    let path_start = url[after..query_start].find('/').map_or(query_start, |i| after + i);
    Ok(format!("{}/{}{}", &url[..path_start], name, &url[query_start..]))
}

/// The database name of `url`.
pub(crate) fn database_name(url: &str) -> anyhow::Result<String> {
    let config = tokio_postgres::Config::from_str(url).context("invalid database URL")?;
    Ok(config.get_dbname().context("the database URL names no database")?.to_owned())
}

/// `url` without its password, for printing.
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let after = scheme_end + 3;
    let Some(at) = url[after..].find('@').map(|i| after + i) else {
        return url.to_owned();
    };
    match url[after..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..after + colon], &url[at..]),
        None => url.to_owned(),
    }
}

/// Connects to `url`; the connection is driven by a spawned task.
pub(crate) async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("cannot connect to {}", redact(url)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("postgres connection error: {e}");
        }
    });
    Ok(client)
}

/// Drops the database of `url` if it exists, closing its sessions (PostgreSQL ≥ 13).
pub(crate) async fn drop_database(url: &str) -> anyhow::Result<()> {
    let name = database_name(url)?;
    let admin = connect(&with_database(url, "postgres")?).await?;
    let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name.replace('"', "\"\""));
    admin.batch_execute(&sql).await.with_context(|| format!("cannot drop database {name}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        let url = "postgres://postgres@127.0.0.1:5432/aicp";
        assert_eq!(with_database(url, "x").unwrap(), "postgres://postgres@127.0.0.1:5432/x");
        let url = "postgres://u:p@h/aicp?sslmode=disable";
        assert_eq!(with_database(url, "x").unwrap(), "postgres://u:p@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://h", "x").unwrap(), "postgres://h/x");
        assert!(with_database("host=h dbname=aicp", "x").is_err());
        assert_eq!(database_name("postgres://h:1/abc").unwrap(), "abc");
    }

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
