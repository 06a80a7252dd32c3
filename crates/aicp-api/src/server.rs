//! Composition root: the only place that builds adapters and wires them into the services.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpServer, web};
use aicp_cache::{RateLimiterConfig, RedisHealth, RedisJsonCache, RedisLiveHub, RedisRateLimiter};
use aicp_domain::auth::{Authenticator, KeyDigester, KeyStore};
use aicp_domain::pricing::{PricingService, RepriceService, original_fallback};
use aicp_domain::ratelimit::RateLimiter;
use aicp_domain::similarity::PromptAnalyzer;
use aicp_domain::validation::Limits;
use aicp_domain::{
    Catalogue, CostRepository, IngestService, PriceBook, SharedPriceBook, SystemClock,
};
use aicp_similarity::MinHashAnalyzer;
use aicp_storage::{
    GroupCommitConfig, PgAnalyticsRepository, PgCostRepository, PgEventExporter, PgEventRepository,
    PgHealth, PgKeyStore, PgPriceRepository, PgPromptRepository, PgRollupFolder, PoolConfig,
};
use anyhow::Context;
use secrecy::ExposeSecret;

use crate::access::{Guard, Policies, policy};
use crate::config::Config;
use crate::dashboard::Dashboard;
use crate::dashboard::session::Sessions;
use crate::live::{Live, Slots};
use crate::semantic::SemanticIndexer;
use crate::state::AppState;
use crate::state::Embeddings;
use aicp_domain::AnalyticsRepository;
use aicp_domain::analytics::AnalyticsService;
use aicp_domain::prompts::{Fingerprints, PromptService, SemanticSimilarity};

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
    // The fold has its own connection, so that a busy request pool cannot starve it.
    let pg_fold = aicp_storage::build_pool(&PoolConfig { max_size: 1, ..pool_config.clone() })?;
    let redis = aicp_cache::build_pool(&config.redis_url, config.redis_timeout.max(PROBE_MIN))
        .context("invalid REDIS_URL")?;
    let clock = Arc::new(SystemClock);
    let pricing = start_pricing(pg.clone()).await?;
    let costs: Arc<dyn CostRepository> = Arc::new(PgCostRepository::new(pg.clone()));
    let book = Arc::clone(pricing.book());
    let keys: Arc<dyn KeyStore> = Arc::new(PgKeyStore::new(pg.clone()));
    let guard = build_guard(&config, Arc::clone(&keys), redis.clone());
    if guard.auth.required().await.unwrap_or(true) {
        tracing::info!("authentication is on: requests act for the project of their API key");
    } else {
        tracing::warn!(
            "authentication is off (no API_KEYS, no stored key): every request acts for project 'default'"
        );
    }
    if config.key_pepper_is_default {
        tracing::warn!(
            "KEY_PEPPER is not set: key digests use a development pepper; set it in production"
        );
    }
    let hub = RedisLiveHub::new(
        &config.redis_url,
        redis.clone(),
        &config.redis_prefix,
        config.redis_timeout.max(PROBE_MIN),
        config.live_buffer,
    )
    .context("invalid REDIS_URL")?;
    let subscriber = hub.spawn_subscriber();
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let live = Live {
        feed: hub.clone(),
        slots: Slots::new(config.live_max_per_project, config.live_max_clients),
        keepalive: config.live_keepalive,
        closing: closing_rx,
    };
    let analyzer: Arc<dyn PromptAnalyzer> = Arc::new(MinHashAnalyzer::default());
    let prompt_repo = Arc::new(PgPromptRepository::new(pg.clone()));
    let mut ingest =
        IngestService::new(metered(repo), clock.clone(), book.clone(), Limits::default())
            .with_publisher(hub.clone())
            .with_prompts(analyzer.clone(), config.prompt_storage);
    let (semantic, embeddings, indexer_task) = match &config.embeddings {
        None => (None, None, None),
        Some(e) => {
            let (semantic, indexer, task) = semantic_similarity(e, Arc::clone(&prompt_repo))?;
            ingest = ingest.with_prompt_sink(indexer.clone());
            let worker = Embeddings { model: e.model.clone(), indexer };
            (Some(semantic), Some(worker), Some(task))
        }
    };
    let analytics_repo: Arc<dyn AnalyticsRepository> =
        Arc::new(PgAnalyticsRepository::new(pg.clone()));
    let prompts = PromptService::new(
        Arc::clone(&analytics_repo),
        Arc::clone(&book),
        Some(Fingerprints {
            repo: prompt_repo,
            semantic,
            analyzer,
            cache: Arc::new(RedisJsonCache::new(
                redis.clone(),
                &config.redis_prefix,
                config.redis_timeout.max(PROBE_MIN),
            )),
        }),
    );
    // Session cookies are sealed with a key derived from the pepper: they survive restarts and
    // are shared by every process of a deployment.
    let dashboard = Dashboard {
        sessions: Sessions::new(&guard.auth.digester().digest("aicp-dashboard-session-key")),
    };
    let state = web::Data::new(AppState {
        dashboard,
        live: Some(live),
        keys,
        guard: Some(guard),
        ingest,
        prompts,
        embeddings,
        pricing,
        reprice: RepriceService::new(Arc::clone(&costs), book),
        analytics: AnalyticsService::new(analytics_repo),
        exporter: Arc::new(PgEventExporter::new(pg.clone())),
        export_max_rows: config.export_max_rows,
        costs,
        database: Arc::new(PgHealth::new(pg.clone(), PROBE_TIMEOUT)),
        redis: Arc::new(RedisHealth::new(redis, PROBE_TIMEOUT)),
        budgets: Some(build_budgets(pg.clone(), clock.clone())),
        clock: clock.clone(),
        body_limit: config.body_limit,
        otlp: aicp_domain::otlp::SpanMapping {
            feature_attribute: config.otlp_feature_attribute.clone(),
        },
        body_timeout: config.body_timeout,
    });
    let reloader = spawn_price_reload(state.clone());
    let upkeep = crate::metrics::install()
        .map(|handle| crate::metrics::spawn_upkeep(handle, Duration::from_secs(5)));
    let metrics_server = match &config.metrics_addr {
        None => None,
        Some(addr) => Some(serve_metrics(addr, state.clone())?),
    };
    let folder = crate::folding::spawn(PgRollupFolder::new(pg_fold), config.fold);
    let evaluator = spawn_budget_evaluator(state.clone(), config.budget_eval_interval);
    let deliverer = crate::budgets::deliverer::Deliverer::new(
        Arc::new(aicp_storage::PgAlertRepository::new(pg.clone())),
        clock.clone(),
        crate::budgets::deliverer::DelivererSettings {
            poll: config.webhook_poll,
            ..Default::default()
        },
    )?
    .start();
    let origins = config.cors_origins.clone();
    let server = HttpServer::new(move || crate::app::build(state.clone(), origins.clone()))
        .workers(config.workers)
        .shutdown_timeout(config.shutdown_timeout.as_secs())
        .on_connect(crate::disconnect::on_connect)
        // Our own signal handling: live streams must end before a graceful stop can finish.
        .disable_signals()
        .bind((config.host.as_str(), config.port))
        .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?
        .run();
    let handle = server.handle();
    let stopper = tokio::spawn(async move {
        let signal = shutdown_signal().await;
        tracing::info!(signal, "shutting down: ending live streams, finishing requests");
        let _ = closing.send(true);
        handle.stop(true).await;
    });
    tracing::info!(host = %config.host, port = config.port, "listening");
    server.await?;
    stopper.abort();
    reloader.abort();
    if let Some(task) = upkeep {
        task.abort();
    }
    if let Some(task) = metrics_server {
        task.abort();
    }
    subscriber.abort();
    // Safe at any point: an unfinished fold rolls back and the next process's fold takes it.
    folder.abort();
    // Undelivered alerts stay in the outbox for the next start.
    evaluator.abort();
    deliverer.abort();
    // Embeddings are an optional enrichment: prompts still queued are not waited for.
    if let Some(task) = indexer_task {
        task.abort();
    }
    // The server has dropped every handle to the repository: the writers commit what is queued.
    if tokio::time::timeout(config.shutdown_timeout, writers.join()).await.is_err() {
        tracing::error!("event writers did not finish within the shutdown timeout");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The event store, counted for `/metrics`.
fn metered(repo: PgEventRepository) -> Arc<dyn aicp_domain::EventRepository> {
    Arc::new(crate::metrics::MeteredEvents(Arc::new(repo)))
}

/// `GET /metrics` alone, without authentication, on `addr` (`METRICS_ADDR`: a private network).
fn serve_metrics(
    addr: &str,
    state: web::Data<AppState>,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let server = HttpServer::new(move || {
        actix_web::App::new().app_data(state.clone()).service(crate::routes::metrics::scrape)
    })
    .workers(1)
    .disable_signals()
    .bind(addr)
    .with_context(|| format!("cannot listen on METRICS_ADDR {addr}"))?
    .run();
    tracing::info!(addr, "metrics listening");
    Ok(tokio::spawn(server))
}

/// Waits for SIGTERM or SIGINT (Ctrl-C); both stop gracefully. Returns the signal's name.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        },
        _ => {
            // Without signal handlers (should not happen on Unix), Ctrl-C still works.
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Semantic similarity over the embeddings provider of `config`: what `/similar?mode=semantic`
/// reads, the background indexer feeding `repo`, and its task.
fn semantic_similarity(
    config: &crate::config::EmbeddingsConfig,
    repo: Arc<PgPromptRepository>,
) -> anyhow::Result<(SemanticSimilarity, Arc<SemanticIndexer>, tokio::task::JoinHandle<()>)> {
    let embedder = Arc::new(crate::embedding::OpenAiEmbedder::new(config)?);
    let signer: Arc<dyn aicp_domain::embedding::VectorSigner> =
        Arc::new(aicp_similarity::HyperplaneLsh::default());
    let settings = crate::semantic::IndexerSettings {
        batch: config.batch,
        queue: config.queue,
        max_chars: config.max_chars,
        ..crate::semantic::IndexerSettings::default()
    };
    let (indexer, task) = crate::semantic::SemanticIndexer::start(
        embedder,
        Arc::clone(&signer),
        repo.clone(),
        settings,
    );
    tracing::info!(
        url = %config.url,
        model = %config.model,
        "semantic similarity on: new distinct prompts are sent to the embeddings provider"
    );
    let semantic = SemanticSimilarity { model: config.model.clone(), repo, signer };
    Ok((semantic, indexer, task))
}

/// Budgets, alerts and webhooks on PostgreSQL (spend read through the analytics repository).
pub fn build_budgets(
    pg: aicp_storage::PgPool,
    clock: Arc<dyn aicp_domain::Clock>,
) -> crate::budgets::Budgets {
    let alerts = Arc::new(aicp_storage::PgAlertRepository::new(pg.clone()));
    let forecaster = Arc::new(aicp_forecast::MstlForecaster);
    crate::budgets::Budgets {
        anomalies: aicp_domain::anomalies::AnomalyService::new(
            Arc::new(PgAnalyticsRepository::new(pg.clone())),
            forecaster.clone(),
            alerts.clone(),
        ),
        service: aicp_domain::budgets::BudgetService::new(
            Arc::new(aicp_storage::PgBudgetRepository::new(pg.clone())),
            Arc::new(PgAnalyticsRepository::new(pg.clone())),
            alerts.clone(),
            clock,
        )
        .with_forecaster(forecaster),
        alerts,
        webhooks: Arc::new(aicp_storage::PgWebhookRepository::new(pg)),
    }
}

/// Smallest Redis pool timeout (the limiter applies its own, shorter, per-call timeout).
const PROBE_MIN: Duration = Duration::from_millis(250);

/// Authentication and rate limiting from the configuration.
pub fn build_guard(
    config: &Config,
    keys: Arc<dyn KeyStore>,
    redis: aicp_cache::RedisPool,
) -> Guard {
    let digester = KeyDigester::new(config.key_pepper.expose_secret().as_bytes());
    let env_keys: Vec<String> =
        config.api_keys.iter().map(|k| k.expose_secret().to_owned()).collect();
    let admin_digest = config.admin_key.as_ref().map(|k| digester.digest(k.expose_secret()));
    let limiter: Option<Arc<dyn RateLimiter>> = config.rate_limit.then(|| {
        let limiter_config = RateLimiterConfig {
            prefix: config.redis_prefix.clone(),
            timeout: config.redis_timeout,
            ..RateLimiterConfig::default()
        };
        Arc::new(RedisRateLimiter::new(redis, limiter_config)) as Arc<dyn RateLimiter>
    });
    let minute = Duration::from_secs(60);
    let (e, a, x) = config.rate_limits;
    let (be, ba, bx) = config.rate_bursts;
    Guard {
        auth: Authenticator::new(keys, digester, &env_keys),
        limiter,
        policies: Policies {
            events: policy("events", e, minute, be),
            analytics: policy("analytics", a, minute, ba),
            export: policy("export", x, minute, bx),
        },
        trusted_proxies: config.trusted_proxies.clone(),
        admin_digest,
    }
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

/// Evaluates every project's budgets every `interval` (the first round after one interval), so
/// thresholds alert even when nobody reads the status. Several servers may run it at once: each
/// alert is stored once (its dedupe key).
fn spawn_budget_evaluator(
    state: web::Data<AppState>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut scanned_hour = None;
        loop {
            tick.tick().await;
            let Some(budgets) = state.budgets.as_ref() else { return };
            match budgets.service.evaluate_all().await {
                Ok(0) => {}
                Ok(raised) => tracing::info!(raised, "budget alerts raised"),
                Err(e) => {
                    tracing::warn!(error = %e, "budget evaluation failed; retrying next round")
                }
            }
            // Anomalies are hourly: the projects with budgets are scanned once per hour (the
            // last 24 hours), so that an anomaly alerts even when nobody reads it.
            let now = state.clock.now();
            let hour = now.timestamp().div_euclid(3600);
            if scanned_hour == Some(hour) {
                continue;
            }
            scanned_hour = Some(hour);
            let window =
                aicp_domain::TimeWindow { from: now - chrono::Duration::hours(24), to: now };
            match budgets.service.projects().await {
                Ok(projects) => {
                    for project in projects {
                        if let Err(e) = budgets.anomalies.scan(&project, &window, now).await {
                            tracing::warn!(error = %e, %project, "anomaly scan failed");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "anomaly scan: projects unavailable"),
            }
        }
    })
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

/// `aicp keys create|list|revoke --project NAME [...]`.
///
/// # Errors
/// Bad arguments, or the database failing.
pub async fn keys_command(config: &Config, args: Vec<String>) -> anyhow::Result<()> {
    let flag =
        |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let project = flag("--project").context("--project NAME is required")?;
    let project = crate::keys::project_name(&project).map_err(|e| anyhow::anyhow!(e))?;
    prepare_database(&config.database_url).await?;
    let pg = aicp_storage::build_pool(&PoolConfig::new(&config.database_url))?;
    let store = PgKeyStore::new(pg);
    let digester = KeyDigester::new(config.key_pepper.expose_secret().as_bytes());
    match args.first().map(String::as_str) {
        Some("create") => {
            let name = flag("--name").unwrap_or_else(|| "api".to_owned());
            let (info, key) = crate::keys::create(&store, &digester, &project, &name).await?;
            println!("{key}");
            eprintln!(
                "created key {} ({}) for project {}; store it now, it is not shown again",
                info.id, info.display, info.project
            );
        }
        Some("list") => {
            for k in store.list(&project).await? {
                let state =
                    k.revoked_at.as_deref().map_or("active".to_owned(), |t| format!("revoked {t}"));
                println!("{}\t{}\t{}\t{}\t{state}", k.id, k.display, k.name, k.created_at);
            }
        }
        Some("revoke") => {
            let id = flag("--id").context("--id ID is required")?;
            let id = uuid::Uuid::parse_str(&id).context("--id must be a key id (UUID)")?;
            if !store.revoke(&project, id).await? {
                anyhow::bail!("no active key {id} in project {project}");
            }
            eprintln!("revoked {id}");
        }
        _ => {
            anyhow::bail!("usage: aicp keys create|list|revoke --project NAME [--name N] [--id ID]")
        }
    }
    Ok(())
}
