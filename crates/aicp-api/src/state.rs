//! Shared application state: the use-case services and probes the handlers call.

use std::sync::Arc;

use aicp_domain::analytics::AnalyticsService;
use aicp_domain::pricing::{PricingService, RepriceService};
use aicp_domain::prompts::PromptService;
use aicp_domain::{Clock, CostRepository, DependencyProbe, EventExporter, IngestService};

/// What every handler can reach, built once by the composition root ([`crate::server`]) or by a
/// test with fakes.
pub struct AppState {
    /// The ingest use case.
    pub ingest: IngestService,
    /// Prices: the shared book, custom prices.
    pub pricing: PricingService,
    /// Re-pricing of stored events.
    pub reprice: RepriceService,
    /// Aggregate questions (dashboard and insights).
    pub analytics: AnalyticsService,
    /// Repeated and near-duplicate prompts, templates, cache savings.
    pub prompts: PromptService,
    /// Event streams for exports.
    pub exporter: Arc<dyn EventExporter>,
    /// Most rows one events export may return (`None`: no limit).
    pub export_max_rows: Option<u64>,
    /// Stored costs (coverage).
    pub costs: Arc<dyn CostRepository>,
    /// PostgreSQL probe for `/health`.
    pub database: Arc<dyn DependencyProbe>,
    /// Redis probe for `/health`.
    pub redis: Arc<dyn DependencyProbe>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Stored API keys.
    pub keys: Arc<dyn aicp_domain::auth::KeyStore>,
    /// Authentication and rate limiting of `/api`; `None` (tests only) turns both off.
    pub guard: Option<crate::access::Guard>,
    /// The live cost stream; `None` when not wired (some tests).
    pub live: Option<crate::live::Live>,
    /// The background embeddings worker (its counters are in `/health`); `None` unless an
    /// embeddings provider is configured.
    pub embeddings: Option<Embeddings>,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// Longest time a request body may take to arrive (a client sending a byte a second
    /// would otherwise hold a connection and a buffer for as long as it likes).
    pub body_timeout: std::time::Duration,
    /// The dashboard's sessions.
    pub dashboard: crate::dashboard::Dashboard,
    /// How OTLP spans are read (`OTLP_FEATURE_ATTRIBUTE`).
    pub otlp: aicp_domain::otlp::SpanMapping,
    /// Budgets, alerts and webhooks; `None` when not wired (some tests).
    pub budgets: Option<crate::budgets::Budgets>,
}

/// The embeddings worker and the model it embeds with.
pub struct Embeddings {
    /// The embedding model.
    pub model: String,
    /// The worker.
    pub indexer: Arc<crate::semantic::SemanticIndexer>,
}
