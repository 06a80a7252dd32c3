//! Shared application state: the use-case services and probes the handlers call.

use std::sync::Arc;

use aicp_domain::pricing::{PricingService, RepriceService};
use aicp_domain::{
    AnalyticsRepository, Clock, CostRepository, DependencyProbe, EventExporter, IngestService,
};

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
    pub analytics: Arc<dyn AnalyticsRepository>,
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
    pub guard: Option<crate::guard::Guard>,
    /// The live cost stream; `None` when not wired (some tests).
    pub live: Option<crate::routes::stream::Live>,
    /// Prompt analytics; `None` when not wired (some tests).
    pub prompts: Option<Prompts>,
    /// Largest request body in bytes.
    pub body_limit: usize,
}

/// What prompt analytics need.
pub struct Prompts {
    /// Stored fingerprints.
    pub repo: Arc<dyn aicp_domain::PromptRepository>,
    /// The fingerprinting scheme (for similarity scores).
    pub analyzer: Arc<dyn aicp_domain::similarity::PromptAnalyzer>,
    /// Cache of `/similar` answers.
    pub cache: Arc<dyn aicp_domain::JsonCache>,
    /// Semantic similarity; `None` unless an embeddings provider is configured.
    pub semantic: Option<Semantic>,
}

/// What semantic similarity needs (see [`aicp_domain::embedding`]).
pub struct Semantic {
    /// The embedding model whose vectors are compared.
    pub model: String,
    /// Stored embeddings.
    pub repo: Arc<dyn aicp_domain::EmbeddingRepository>,
    /// Band keys and cosine scores.
    pub signer: Arc<dyn aicp_domain::embedding::VectorSigner>,
    /// The background worker (for its counters in `/health`); `None` in tests that store
    /// embeddings themselves.
    pub indexer: Option<Arc<crate::semantic::SemanticIndexer>>,
}
