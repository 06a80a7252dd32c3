//! Port traits: the contracts the outer layers (storage, cache, HTTP, providers) implement or
//! call, one file per store or service, with the types their signatures carry. Each fallible
//! method documents its errors as part of the contract.
//!
//! Everything is re-exported here (and the store ports again at the crate root), so
//! `aicp_domain::ports::EventRepository` and `aicp_domain::EventRepository` both work. The ports
//! of similarity ([`crate::similarity::PromptAnalyzer`]) and the clock ([`crate::Clock`]) stay in
//! their modules.

pub mod analytics;
pub mod budgets;
pub mod cache;
pub mod costs;
pub mod embedder;
pub mod embeddings;
pub mod error;
pub mod events;
pub mod export;
pub mod forecast;
pub mod health;
pub mod keys;
pub mod live;
pub mod prices;
pub mod prompts;
pub mod rate_limit;
pub mod rollups;

pub use analytics::AnalyticsRepository;
pub use budgets::{AlertRepository, BudgetRepository, WebhookRepository};
pub use cache::JsonCache;
pub use costs::{
    CallCursor, CostRepository, CoverageStats, ReportedCost, Repriced, StoredCall, UnpricedModel,
};
pub use embedder::{EmbedError, Embedder, PendingPrompt, PromptSink, VectorSigner};
pub use embeddings::{EmbeddingRepository, PromptEmbedding};
pub use error::RepoError;
pub use events::{EventBatch, EventRepository, InsertSummary};
pub use export::{EventExporter, EventStream};
pub use forecast::{SeriesForecast, SeriesForecaster};
pub use health::DependencyProbe;
pub use keys::{ActiveKey, KeyInfo, KeyStore};
pub use live::{CostPublisher, CostUpdate, LiveFeed, LiveMessage, LiveStream};
pub use prices::PriceRepository;
pub use prompts::{EventPrompt, FeatureMedian, PromptModelRow, PromptRepository, StoredPrompt};
pub use rate_limit::{RateDecision, RateLimiter, RatePolicy};
pub use rollups::{FoldBacklog, FoldOutcome, RollupFolder};

#[cfg(any(test, feature = "mocks"))]
pub use {
    analytics::MockAnalyticsRepository,
    budgets::{MockAlertRepository, MockBudgetRepository, MockWebhookRepository},
    cache::MockJsonCache,
    costs::MockCostRepository,
    embedder::{MockEmbedder, MockPromptSink, MockVectorSigner},
    embeddings::MockEmbeddingRepository,
    events::MockEventRepository,
    export::MockEventExporter,
    forecast::MockSeriesForecaster,
    health::MockDependencyProbe,
    keys::MockKeyStore,
    live::{MockCostPublisher, MockLiveFeed},
    prices::MockPriceRepository,
    prompts::MockPromptRepository,
    rate_limit::MockRateLimiter,
    rollups::MockRollupFolder,
};
