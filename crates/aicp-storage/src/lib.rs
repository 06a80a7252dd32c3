//! PostgreSQL adapters of AI Cost Profiler: the connection pool, the embedded migrations, and the
//! implementations of the domain's storage ports. Only this crate knows diesel and SQL.

mod error;
pub mod events;
pub mod health;
pub mod migrate;
pub mod pool;
pub mod schema;

pub use events::{GroupCommitConfig, PgEventRepository, WriterHandle};
pub use health::PgHealth;
pub use migrate::{MIGRATIONS, ensure_database, migrations_fingerprint, run_migrations};
pub use pool::{PgPool, PoolConfig, build_pool};
