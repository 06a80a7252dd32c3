//! `TestApp`: the production application over a fresh database per test.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use aicp_api::state::AppState;
use aicp_domain::ports::{
    MockAnalyticsRepository, MockCostRepository, MockEventExporter, MockPriceRepository,
};
use aicp_domain::pricing::{PricingService, RepriceService, original_fallback};
use aicp_domain::validation::Limits;
use aicp_domain::{
    AnalyticsRepository, Catalogue, Clock, CostRepository, DependencyProbe, EventExporter,
    EventRepository, IngestService, PriceBook, PriceRepository, SharedPriceBook, SystemClock,
};
use aicp_storage::{GroupCommitConfig, PgEventRepository, PoolConfig, build_pool};
use aicp_test_support::TestDatabase;
use serde_json::Value;

/// The original's example batch (docs/API.md, `POST /api/v1/events`).
pub const EXAMPLE_BATCH: &str = r#"{"events":[
 {"traceId":"tr_V1StGXR8_Z5jdHi6B-myT","spanId":"sp_a1b2c3d4e5f6g7h8","feature":"chat-summary","userId":"user-123","provider":"openai","model":"gpt-4o","inputTokens":1000,"outputTokens":500,"cachedTokens":0,"latencyMs":812,"estimatedCostUsd":0.0075,"timestamp":"2026-01-05T10:00:00.000Z","isStreaming":false,"retryCount":0,"isError":false},
 {"traceId":"tr_x","spanId":"sp_x","feature":"chat-summary","provider":"openai","model":"gpt-4o","inputTokens":0,"outputTokens":0,"cachedTokens":0,"latencyMs":52,"estimatedCostUsd":0,"timestamp":"2026-01-05T10:00:01.000Z","isStreaming":false,"retryCount":0,"isError":true,"errorCode":"server_error","metadata":{"error":"Custom error message"}}
]}"#;

/// The test Redis.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// An always-healthy or always-down probe.
pub struct FixedProbe(pub bool);

#[async_trait::async_trait]
impl DependencyProbe for FixedProbe {
    async fn is_healthy(&self) -> bool {
        self.0
    }
}

/// The application plus the database behind it.
pub struct TestApp {
    pub db: Option<TestDatabase>,
    state: web::Data<AppState>,
    indexer: Option<Arc<aicp_api::semantic::SemanticIndexer>>,
}

/// A response read as text.
pub struct TextReply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestApp {
    /// Real PostgreSQL (fresh database) and real Redis.
    pub async fn new() -> Self {
        Self::with_body_limit(10 * 1024 * 1024).await
    }

    pub async fn with_body_limit(body_limit: usize) -> Self {
        Self::build(body_limit, aicp_domain::PromptStorage::Full).await
    }

    /// Real database, prompts kept as `storage` says.
    pub async fn with_prompt_storage(storage: aicp_domain::PromptStorage) -> Self {
        Self::build(10 * 1024 * 1024, storage).await
    }

    /// Real database, full prompt storage, and semantic similarity over `embedder` (a background
    /// indexer with fast retries); the indexer is returned for its counters.
    pub async fn with_semantic(
        embedder: Arc<dyn aicp_domain::embedding::Embedder>,
    ) -> (Self, Arc<aicp_api::semantic::SemanticIndexer>) {
        let mut app =
            Self::build_with(10 * 1024 * 1024, aicp_domain::PromptStorage::Full, Some(embedder))
                .await;
        let indexer = app.indexer.take().unwrap();
        (app, indexer)
    }

    async fn build(body_limit: usize, storage: aicp_domain::PromptStorage) -> Self {
        Self::build_with(body_limit, storage, None).await
    }

    async fn build_with(
        body_limit: usize,
        storage: aicp_domain::PromptStorage,
        embedder: Option<Arc<dyn aicp_domain::embedding::Embedder>>,
    ) -> Self {
        let db = TestDatabase::new().await;
        let pool = build_pool(&PoolConfig::new(db.url())).unwrap();
        let (repo, _writers) =
            PgEventRepository::start(pool.clone(), &GroupCommitConfig::default());
        let redis_url =
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let redis = aicp_cache::build_pool(&redis_url, Duration::from_millis(500)).unwrap();
        let parts = Parts {
            // Counted as in production (`/metrics`).
            repo: Arc::new(aicp_api::metrics::MeteredEvents(Arc::new(repo))),
            prices: Arc::new(aicp_storage::PgPriceRepository::new(pool.clone())),
            costs: Arc::new(aicp_storage::PgCostRepository::new(pool.clone())),
            analytics: Arc::new(aicp_storage::PgAnalyticsRepository::new(pool.clone())),
            exporter: Arc::new(aicp_storage::PgEventExporter::new(pool.clone())),
            keys: Arc::new(aicp_storage::PgKeyStore::new(pool.clone())),
            database: Arc::new(aicp_storage::PgHealth::new(pool.clone(), Duration::from_secs(1))),
            redis: Arc::new(aicp_cache::RedisHealth::new(
                redis.clone(),
                Duration::from_millis(500),
            )),
            prompts: Some((
                Arc::new(aicp_storage::PgPromptRepository::new(pool.clone())),
                Arc::new(aicp_cache::RedisJsonCache::new(
                    redis,
                    &format!("aicp-test:{}:", uuid::Uuid::new_v4()),
                    Duration::from_millis(500),
                )),
                storage,
            )),
        };
        let semantic = embedder.map(|embedder| {
            let repo = Arc::new(aicp_storage::PgPromptRepository::new(pool.clone()));
            let signer: Arc<dyn aicp_domain::embedding::VectorSigner> =
                Arc::new(aicp_similarity::HyperplaneLsh::default());
            let settings = aicp_api::semantic::IndexerSettings {
                backoff: Duration::from_millis(10),
                attempts: 3,
                ..aicp_api::semantic::IndexerSettings::default()
            };
            let model = embedder.model();
            let (indexer, _task) = aicp_api::semantic::SemanticIndexer::start(
                embedder,
                Arc::clone(&signer),
                repo.clone(),
                settings,
            );
            (aicp_domain::prompts::SemanticSimilarity { model, repo, signer }, indexer)
        });
        let indexer = semantic.as_ref().map(|(_, i)| Arc::clone(i));
        let state = state_with(parts, body_limit, semantic);
        let state = with_budgets(state, pool.clone());
        state.pricing.install_catalogue().await.unwrap();
        Self { db: Some(db), state, indexer }
    }

    /// Any repository and probes (mocks), no database.
    pub fn with_parts(
        repo: Arc<dyn EventRepository>,
        database: Arc<dyn DependencyProbe>,
        redis: Arc<dyn DependencyProbe>,
    ) -> Self {
        let parts = Parts {
            repo,
            prices: Arc::new(MockPriceRepository::new()),
            costs: Arc::new(MockCostRepository::new()),
            analytics: Arc::new(MockAnalyticsRepository::new()),
            exporter: Arc::new(MockEventExporter::new()),
            keys: Arc::new(aicp_domain::auth::MockKeyStore::new()),
            database,
            redis,
            prompts: None,
        };
        Self { db: None, state: state(parts, 10 * 1024 * 1024), indexer: None }
    }

    /// Any parts (mocks), no database.
    pub fn from_parts(parts: Parts) -> Self {
        Self { db: None, state: state(parts, 10 * 1024 * 1024), indexer: None }
    }

    pub async fn put_json(&self, uri: &str, body: Value) -> Reply {
        self.call(
            TestRequest::put()
                .uri(uri)
                .insert_header(("content-type", "application/json"))
                .set_payload(body.to_string()),
        )
        .await
    }

    pub async fn post_json(&self, uri: &str, body: Value) -> Reply {
        self.call(
            TestRequest::post()
                .uri(uri)
                .insert_header(("content-type", "application/json"))
                .set_payload(body.to_string()),
        )
        .await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.call(TestRequest::get().uri(uri)).await
    }

    /// The application state (for tests that drive the service themselves).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// The same application with authentication and rate limiting built from `vars` (as the
    /// server builds them from the environment), Redis keys under a unique prefix.
    pub fn with_guard(self, vars: &[(&str, &str)]) -> Self {
        self.with_guard_on_redis(vars, &redis_url())
    }

    /// As [`Self::with_guard`], with the limiter's Redis at `redis`.
    pub fn with_guard_on_redis(self, vars: &[(&str, &str)], redis: &str) -> Self {
        let mut map: std::collections::HashMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        map.entry("REDIS_KEY_PREFIX".into())
            .or_insert_with(|| format!("aicp-test:{}:", uuid::Uuid::new_v4()));
        let config = aicp_api::config::Config::from_lookup(|k| map.get(k).cloned()).unwrap();
        let pool = aicp_cache::build_pool(redis, Duration::from_millis(250)).unwrap();
        let state =
            Arc::try_unwrap(self.state.into_inner()).unwrap_or_else(|_| panic!("state shared"));
        let guard = aicp_api::server::build_guard(&config, Arc::clone(&state.keys), pool);
        let state = AppState { guard: Some(guard), ..state };
        Self { db: self.db, state: web::Data::new(state), indexer: self.indexer }
    }

    /// The same application with an export row limit.
    pub fn with_export_max_rows(self, max: u64) -> Self {
        let state =
            Arc::try_unwrap(self.state.into_inner()).unwrap_or_else(|_| panic!("state shared"));
        let state = AppState { export_max_rows: Some(max), ..state };
        Self { db: self.db, state: web::Data::new(state), indexer: self.indexer }
    }

    pub async fn call(&self, req: TestRequest) -> Reply {
        let app = test::init_service(aicp_api::app::build(
            self.state.clone(),
            Some(vec!["http://localhost:3000".to_owned()]),
        ))
        .await;
        let res = test::call_service(&app, req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = test::read_body(res).await;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("body is not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        Reply { status, headers, body }
    }

    /// A response read as text (pages, files).
    pub async fn call_text(&self, req: TestRequest) -> TextReply {
        let app = test::init_service(aicp_api::app::build(
            self.state.clone(),
            Some(vec!["http://localhost:3000".to_owned()]),
        ))
        .await;
        let res = test::call_service(&app, req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = test::read_body(res).await;
        TextReply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub async fn post_events(&self, body: impl Into<String>) -> Reply {
        self.call(
            TestRequest::post()
                .uri("/api/v1/events")
                .insert_header(("content-type", "application/json"))
                .set_payload(body.into()),
        )
        .await
    }

    /// Rows in `events`.
    pub async fn count(&self) -> i64 {
        let db = self.db.as_ref().expect("a database-backed TestApp");
        db.client().await.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0)
    }
}

/// Prompt repository, its cache and the storage setting.
pub type PromptParts = (
    Arc<dyn aicp_domain::PromptRepository>,
    Arc<dyn aicp_domain::JsonCache>,
    aicp_domain::PromptStorage,
);

/// The ports behind a TestApp.
pub struct Parts {
    pub repo: Arc<dyn EventRepository>,
    pub prices: Arc<dyn PriceRepository>,
    pub costs: Arc<dyn CostRepository>,
    pub analytics: Arc<dyn AnalyticsRepository>,
    pub exporter: Arc<dyn EventExporter>,
    pub keys: Arc<dyn aicp_domain::auth::KeyStore>,
    pub database: Arc<dyn DependencyProbe>,
    pub redis: Arc<dyn DependencyProbe>,
    pub prompts: Option<PromptParts>,
}

fn state(parts: Parts, body_limit: usize) -> web::Data<AppState> {
    state_with(parts, body_limit, None)
}

fn state_with(
    parts: Parts,
    body_limit: usize,
    semantic: Option<(
        aicp_domain::prompts::SemanticSimilarity,
        Arc<aicp_api::semantic::SemanticIndexer>,
    )>,
) -> web::Data<AppState> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let catalogue = Catalogue::builtin().unwrap();
    let book = Arc::new(book());
    let pricing =
        PricingService::new(parts.prices, Arc::clone(&book), catalogue, original_fallback());
    let analyzer: Arc<dyn aicp_domain::similarity::PromptAnalyzer> =
        Arc::new(aicp_similarity::MinHashAnalyzer::default());
    let mut ingest =
        IngestService::new(parts.repo, clock.clone(), Arc::clone(&book), Limits::default());
    let mut fingerprints = None;
    let mut embeddings = None;
    if let Some((repo, cache, storage)) = parts.prompts {
        ingest = ingest.with_prompts(Arc::clone(&analyzer), storage);
        let mut kept = None;
        if let Some((semantic, indexer)) = semantic {
            ingest = ingest.with_prompt_sink(indexer.clone());
            embeddings =
                Some(aicp_api::state::Embeddings { model: semantic.model.clone(), indexer });
            kept = Some(semantic);
        }
        fingerprints =
            Some(aicp_domain::prompts::Fingerprints { repo, analyzer, cache, semantic: kept });
    }
    let prompts = aicp_domain::prompts::PromptService::new(
        Arc::clone(&parts.analytics),
        Arc::clone(&book),
        fingerprints,
    );
    web::Data::new(AppState {
        ingest,
        pricing,
        reprice: RepriceService::new(Arc::clone(&parts.costs), book),
        costs: parts.costs,
        analytics: aicp_domain::analytics::AnalyticsService::new(parts.analytics),
        exporter: parts.exporter,
        keys: parts.keys,
        guard: None,
        live: None,
        prompts,
        embeddings,
        export_max_rows: None,
        database: parts.database,
        redis: parts.redis,
        clock,
        body_limit,
        body_timeout: std::time::Duration::from_secs(30),
        dashboard: aicp_api::dashboard::Dashboard {
            sessions: aicp_api::dashboard::session::Sessions::ephemeral(),
        },
        otlp: aicp_domain::otlp::SpanMapping::default(),
        budgets: None,
    })
}

/// The state with budgets, alerts and webhooks on `pool` (as the server wires them).
fn with_budgets(state: web::Data<AppState>, pool: aicp_storage::PgPool) -> web::Data<AppState> {
    let state = Arc::try_unwrap(state.into_inner()).unwrap_or_else(|_| panic!("state shared"));
    let budgets = aicp_api::server::build_budgets(pool, Arc::clone(&state.clock));
    web::Data::new(AppState { budgets: Some(budgets), ..state })
}

/// The built-in catalogue.
pub fn book() -> SharedPriceBook {
    SharedPriceBook::new(PriceBook::new(&Catalogue::builtin().unwrap(), &[], original_fallback()))
}

/// One event as the SDK sends it, with the given span id and overrides merged in.
pub fn event(span: &str, overrides: Value) -> Value {
    let mut e = serde_json::json!({
        "traceId": "tr_1", "spanId": span, "feature": "chat", "userId": "u1", "provider": "openai",
        "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500, "cachedTokens": 0,
        "latencyMs": 812, "estimatedCostUsd": 0.0075, "timestamp": "2026-01-05T10:00:00.000Z",
        "isStreaming": false, "retryCount": 0, "isError": false
    });
    if let (Value::Object(base), Value::Object(extra)) = (&mut e, overrides) {
        for (k, v) in extra {
            if v.is_null() {
                base.remove(&k);
            } else {
                base.insert(k, v);
            }
        }
    }
    e
}

pub fn batch(events: Vec<Value>) -> String {
    serde_json::json!({ "events": events }).to_string()
}
