//! Test harness shared by the workspace's tests: a fresh PostgreSQL database per test, copied
//! from a template that is migrated once per migration set.
//!
//! The template is named after the migrations' fingerprint, built under an advisory lock (test
//! binaries run in parallel, nextest runs each test in its own process), migrated under a
//! temporary name and renamed when complete, so a crash never leaves a half-migrated template.
//! Each [`TestDatabase`] is dropped with `DROP DATABASE ... WITH (FORCE)`; databases left by
//! killed runs are swept after an hour.

mod faults;
mod rollups;

pub use faults::{terminate_active, terminate_when_active};
pub use rollups::{orphan_or_duplicate_pending, pending_events, rollup_mismatches};

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tokio_postgres::{Client, Config, NoTls};

/// Server used by tests; override with `AICP_TEST_DATABASE_URL` (any database on the server).
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const TEST_DB_PREFIX: &str = "aicp_t_";
const LOCK_KEY: i64 = 0x0000_A1C9_7E57;

/// A migrated database that exists for the life of this value.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin: Config,
}

impl TestDatabase {
    /// Creates a fresh, migrated database.
    ///
    /// # Panics
    /// When PostgreSQL is unreachable or the template cannot be built: tests cannot run then.
    pub async fn new() -> Self {
        Self::try_new().await.expect("cannot create a test database")
    }

    async fn try_new() -> anyhow::Result<Self> {
        let admin_url = std::env::var("AICP_TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let mut admin = Config::from_str(&admin_url).context("invalid AICP_TEST_DATABASE_URL")?;
        admin.dbname("postgres");
        let client = connect(&admin).await?;
        let template = ensure_template(&client, &admin).await?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let name = format!("{TEST_DB_PREFIX}{now}_{}", uuid::Uuid::new_v4().simple());
        client
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
            .context("cannot create the test database")?;
        Ok(Self { url: url_for(&admin, &name), name, admin })
    }

    /// A unique database name on the test server that does not exist yet (for tests of database
    /// creation); dropped, if it was created, with this value.
    ///
    /// # Panics
    /// When `AICP_TEST_DATABASE_URL` is invalid.
    pub fn reserve() -> Self {
        let admin_url = std::env::var("AICP_TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let mut admin = Config::from_str(&admin_url).expect("invalid AICP_TEST_DATABASE_URL");
        admin.dbname("postgres");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let name = format!("{TEST_DB_PREFIX}{now}_{}", uuid::Uuid::new_v4().simple());
        Self { url: url_for(&admin, &name), name, admin }
    }

    /// `postgres://` URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// This database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A plain client for assertions (counting rows, reading values back).
    ///
    /// # Panics
    /// When the database is unreachable.
    pub async fn client(&self) -> Client {
        let mut config = self.admin.clone();
        config.dbname(&self.name);
        connect(&config).await.expect("cannot connect to the test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop may run inside a runtime, which cannot block: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let client = connect(&admin).await.ok()?;
                client.batch_execute(&sql).await.ok()
            })
        })
        .join();
    }
}

async fn connect(config: &Config) -> anyhow::Result<Client> {
    let (client, connection) =
        config.connect(NoTls).await.context("cannot connect to PostgreSQL")?;
    tokio::spawn(connection);
    Ok(client)
}

fn url_for(admin: &Config, db: &str) -> String {
    let host = admin
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            #[allow(unreachable_patterns)]
            _ => "127.0.0.1".to_owned(),
        })
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let port = admin.get_ports().first().copied().unwrap_or(5432);
    let user = admin.get_user().unwrap_or("postgres");
    match admin.get_password() {
        Some(p) => format!("postgres://{user}:{}@{host}:{port}/{db}", String::from_utf8_lossy(p)),
        None => format!("postgres://{user}@{host}:{port}/{db}"),
    }
}

async fn ensure_template(client: &Client, admin: &Config) -> anyhow::Result<String> {
    let template = format!("aicp_tpl_{}", aicp_storage::migrations_fingerprint());
    if database_exists(client, &template).await? {
        return Ok(template);
    }
    client.execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY]).await?;
    let result = build_template(client, admin, &template).await;
    client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]).await?;
    result.map(|()| template)
}

async fn build_template(client: &Client, admin: &Config, template: &str) -> anyhow::Result<()> {
    if database_exists(client, template).await? {
        return Ok(());
    }
    sweep_leftovers(client).await;
    let building = format!("{template}_building");
    // One statement per call: CREATE/DROP DATABASE cannot run inside the implicit transaction
    // of a multi-statement string.
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).await?;
    client.batch_execute(&format!("CREATE DATABASE {building}")).await?;
    aicp_storage::run_migrations(&url_for(admin, &building))
        .await
        .context("migrating the test template")?;
    client.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}")).await?;
    client.batch_execute(&format!("ALTER DATABASE {template} IS_TEMPLATE true")).await?;
    Ok(())
}

async fn database_exists(client: &Client, name: &str) -> anyhow::Result<bool> {
    Ok(client.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]).await?.is_some())
}

/// Drops test databases older than an hour (left by killed runs).
async fn sweep_leftovers(client: &Client) {
    let Ok(rows) = client
        .query("SELECT datname FROM pg_database WHERE datname LIKE 'aicp\\_t\\_%'", &[])
        .await
    else {
        return;
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    for row in rows {
        let name: String = row.get(0);
        let created = name
            .trim_start_matches(TEST_DB_PREFIX)
            .split('_')
            .next()
            .and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|t| t + 3600 < now) {
            let _ =
                client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
}
