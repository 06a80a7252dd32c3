//! Analytics: what the dashboard and the insight endpoints compute from stored events and their
//! rollups. The store answers aggregate questions ([`crate::ports::AnalyticsRepository`]); this
//! module turns the answers into trees, rates, percentiles and comparisons.

pub mod cursor;
pub mod latency;
pub mod query;
pub mod service;
pub mod summary;
pub mod tree;

use chrono::{DateTime, Utc};

use crate::money::Usd;
pub use cursor::{Cursor, CursorError};
pub use latency::LatencyHistogram;
pub use query::{Filter, Granularity, GroupBy};
pub use service::{
    AnalyticsError, AnalyticsService, Capped, DimensionStats, EventsPage, StackedSeries, Trace,
    WindowSummary, granularity_for,
};
pub use tree::{
    CallPathNode, FlameNode, SpanRow, TraceNode, call_paths, feature_model_tree, trace_tree,
};

/// One group of a cost breakdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakdownRow {
    /// Feature, model, provider or user.
    pub dimension: String,
    /// Total cost.
    pub cost: Usd,
    /// Input + output tokens.
    pub tokens: u64,
    /// Calls.
    pub requests: u64,
    /// Sum of latencies (ms), for the average.
    pub latency_sum: u64,
    /// Smallest latency (ms).
    pub latency_min: Option<u32>,
    /// Largest latency (ms).
    pub latency_max: Option<u32>,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
}

/// Cost of one (feature, model) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureModelCost {
    /// Feature.
    pub feature: String,
    /// Model.
    pub model: String,
    /// Cost.
    pub cost: Usd,
}

/// One bucket of a time series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostPoint {
    /// Bucket start.
    pub bucket: DateTime<Utc>,
    /// Cost in the bucket.
    pub cost: Usd,
    /// Calls in the bucket.
    pub requests: u64,
}

/// Everything the summary needs about one window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowStats {
    /// Calls.
    pub calls: u64,
    /// Failed calls.
    pub errors: u64,
    /// Calls that were retries (`retryCount > 0`).
    pub retried_calls: u64,
    /// Sum of `retryCount`.
    pub retries: u64,
    /// Calls with cached prompt tokens.
    pub cache_hits: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Cache-read tokens.
    pub cached_tokens: u64,
    /// Total cost.
    pub cost: Usd,
    /// Cost of failed calls.
    pub error_cost: Usd,
    /// Cost of successful calls that were retries (failed retries are in `error_cost`).
    pub retry_cost: Usd,
    /// Latencies.
    pub latency: LatencyHistogram,
}

/// A prompt group of the bloat report (the original's §7.4 semantics).
#[derive(Debug, Clone, PartialEq)]
pub struct BloatRow {
    /// MD5 of the prompt text.
    pub prompt_hash: String,
    /// First 100 characters.
    pub content: String,
    /// Calls.
    pub occurrences: u64,
    /// Their cost.
    pub total_cost: Usd,
    /// Average input + output tokens.
    pub avg_tokens: f64,
}

/// Lifetime totals of a project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Cost.
    pub cost: Usd,
    /// Calls.
    pub requests: u64,
    /// Input + output tokens.
    pub tokens: u64,
}
