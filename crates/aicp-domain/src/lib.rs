//! Domain of AI Cost Profiler: what an LLM call event is, how it is validated and priced, and the
//! ports (traits) through which the outer layers store and observe it.
//!
//! This crate does no I/O and depends on no I/O or web framework crate; `cargo xtask ci` checks it.

pub mod alerts;
pub mod analytics;
pub mod anomalies;
pub mod auth;
pub mod budgets;
pub mod clock;
pub mod embedding;
pub mod event;
pub mod ingest;
pub mod live;
pub mod money;
pub mod otlp;
pub mod ports;
pub mod pricing;
pub mod project;
pub mod prompts;
pub mod provider;
pub mod ratelimit;
pub mod rollups;
pub mod similarity;
pub mod text;
pub mod timestamp;
pub mod validation;
pub mod window;

pub use clock::{Clock, SystemClock};
pub use event::{NewEvent, PricedEvent, Provider};
pub use ingest::{IngestError, IngestReceipt, IngestService, PromptStorage};
pub use money::Usd;
pub use ports::{
    AnalyticsRepository, CostRepository, CoverageStats, DependencyProbe, EmbeddingRepository,
    EventBatch, EventExporter, EventRepository, EventStream, InsertSummary, JsonCache,
    PriceRepository, PromptEmbedding, PromptModelRow, PromptRepository, RepoError, StoredCall,
    StoredPrompt,
};
pub use pricing::{Catalogue, PriceBook, PriceSource, Priced, SharedPriceBook, Usage};
pub use project::ProjectId;
pub use validation::{Issue, MAX_BATCH_EVENTS};
pub use window::{TimeWindow, WindowError};
