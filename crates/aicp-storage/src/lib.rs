//! PostgreSQL adapters of AI Cost Profiler: the connection pool, the embedded migrations, and the
//! implementations of the domain's storage ports. Only this crate knows diesel and SQL.

pub mod alerts;
pub mod analytics;
pub mod budgets;
pub mod costs;
mod error;
pub mod events;
pub mod export;
pub mod fold;
pub mod health;
pub mod keys;
pub mod migrate;
pub mod pool;
pub mod prices;
pub mod prompts;
mod rows;
pub mod schema;

pub use alerts::{PgAlertRepository, PgWebhookRepository};
pub use analytics::PgAnalyticsRepository;
pub use budgets::PgBudgetRepository;
pub use costs::PgCostRepository;
pub use events::{
    GroupCommitConfig, PgEventRepository, ROLLUP_INPUT, WriterHandle, fold_into_rollups_sql,
    fold_pending_sql, prompt_fold_cte,
};
pub use export::PgEventExporter;
pub use fold::PgRollupFolder;
pub use health::PgHealth;
pub use keys::PgKeyStore;
pub use migrate::{MIGRATIONS, ensure_database, migrations_fingerprint, run_migrations};
pub use pool::{PgConn, PgPool, PoolConfig, build_pool};
pub use prices::PgPriceRepository;
pub use prompts::PgPromptRepository;
