//! Composition root: the only place that builds adapters and wires them into the services.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpServer, web};
use aicp_cache::RedisHealth;
use aicp_domain::pricing::{PricingService, RepriceService, original_fallback};
use aicp_domain::validation::Limits;
use aicp_domain::{
    Catalogue, CostRepository, IngestService, PriceBook, SharedPriceBook, SystemClock,
};
use aicp_storage::{
    GroupCommitConfig, PgAnalyticsRepository, PgCostRepository, PgEventExporter, PgEventRepository,
    PgHealth, PgPriceRepository, PoolConfig,
};
use anyhow::Context;

use crate::config::Config;
use crate::state::AppState;

/// How long a `/health` probe may take per dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Creates and migrates the database, then serves until SIGINT/SIGTERM; in-flight requests finish
/// and queued events are committed before it returns.
///
/// # Errors
/// When the database cannot be prepared or the address cannot be bound.
pub async fn run(config: Config) -> anyhow::Result<()> {
    prepare_database(&config.database_url).await?;
    let mut pool_config = PoolConfig::new(&config.database_url);
    pool_config.max_size = config.db_pool_size;
    pool_config.wait_timeout = config.db_timeout;
    let pg = aicp_storage::build_pool(&pool_config)?;
    let group_commit = GroupCommitConfig {
        writers: config.ingest_writers,
        queue_capacity: config.ingest_queue,
        max_rows_per_commit: config.ingest_max_rows_per_commit,
    };
    let (repo, writers) = PgEventRepository::start(pg.clone(), &group_commit);
    let redis = aicp_cache::build_pool(&config.redis_url, config.redis_timeout)
        .context("invalid REDIS_URL")?;
    let clock = Arc::new(SystemClock);
    let pricing = start_pricing(pg.clone()).await?;
    let costs: Arc<dyn CostRepository> = Arc::new(PgCostRepository::new(pg.clone()));
    let book = Arc::clone(pricing.book());
    let state = web::Data::new(AppState {
        ingest: IngestService::new(Arc::new(repo), clock.clone(), book.clone(), Limits::default()),
        pricing,
        reprice: RepriceService::new(Arc::clone(&costs), book),
        analytics: Arc::new(PgAnalyticsRepository::new(pg.clone())),
        exporter: Arc::new(PgEventExporter::new(pg.clone())),
        export_max_rows: config.export_max_rows,
        costs,
        database: Arc::new(PgHealth::new(pg, PROBE_TIMEOUT)),
        redis: Arc::new(RedisHealth::new(redis, PROBE_TIMEOUT)),
        clock,
        body_limit: config.body_limit,
    });
    let reloader = spawn_price_reload(state.clone());
    let origins = config.cors_origins.clone();
    let server = HttpServer::new(move || crate::app::build(state.clone(), origins.clone()))
        .workers(config.workers)
        .shutdown_timeout(config.shutdown_timeout.as_secs())
        .bind((config.host.as_str(), config.port))
        .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?
        .run();
    tracing::info!(
        host = %config.host,
        port = config.port,
        "listening; authentication is disabled, every event belongs to project 'default'"
    );
    server.await?;
    reloader.abort();
    // The server has dropped every handle to the repository: the writers commit what is queued.
    if tokio::time::timeout(config.shutdown_timeout, writers.join()).await.is_err() {
        tracing::error!("event writers did not finish within the shutdown timeout");
    }
    tracing::info!("stopped");
    Ok(())
}

/// How often prices are re-read from the database (custom prices set through another process).
const PRICE_RELOAD: Duration = Duration::from_secs(60);

/// Writes the built-in catalogue to `model_prices` and installs the book (catalogue + custom).
async fn start_pricing(pg: aicp_storage::PgPool) -> anyhow::Result<PricingService> {
    let catalogue = Catalogue::builtin().context("the built-in price catalogue is invalid")?;
    let book = Arc::new(SharedPriceBook::new(PriceBook::new(&catalogue, &[], original_fallback())));
    let service = PricingService::new(
        Arc::new(PgPriceRepository::new(pg)),
        book,
        catalogue,
        original_fallback(),
    );
    service.install_catalogue().await.context("cannot install the price catalogue")?;
    Ok(service)
}

fn spawn_price_reload(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PRICE_RELOAD);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = state.pricing.reload().await {
                tracing::warn!(error = %e, "price reload failed; keeping the prices in force");
            }
        }
    })
}

/// Creates the database if needed and applies pending migrations.
///
/// # Errors
/// When PostgreSQL is unreachable or a migration fails.
pub async fn prepare_database(url: &str) -> anyhow::Result<()> {
    if aicp_storage::ensure_database(url).await? {
        tracing::info!("created the database");
    }
    let applied = aicp_storage::run_migrations(url).await?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    Ok(())
}
