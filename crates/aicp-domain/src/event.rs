//! An LLM call event: what the SDK reports about one call, once validated ([`NewEvent`]) and once
//! priced by the server ([`PricedEvent`]).

use chrono::{DateTime, Utc};

use crate::money::Usd;
use crate::pricing::{Priced, Usage};
// Kept at its old path; it has its own module so that pricing can name it without importing
// the event types, which are built from pricing's.
pub use crate::provider::Provider;

/// A validated event, exactly as the client described the call.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Trace the call belongs to (`traceId`).
    pub trace_id: String,
    /// This call's span (`spanId`); unique per project together with `trace_id`.
    pub span_id: String,
    /// Parent span, when the call is nested (`parentSpanId`).
    pub parent_span_id: Option<String>,
    /// Product feature that made the call.
    pub feature: String,
    /// End user on whose behalf the call was made.
    pub user_id: Option<String>,
    /// Provider that served the call.
    pub provider: Provider,
    /// Model name as the client reported it.
    pub model: String,
    /// Prompt tokens, including cached ones (see the API reference for field semantics).
    pub input_tokens: i32,
    /// Completion tokens.
    pub output_tokens: i32,
    /// Prompt tokens served from the provider's prompt cache.
    pub cached_tokens: i32,
    /// Call latency in whole milliseconds (the client's value rounded half up).
    pub latency_ms: i32,
    /// Cost the client computed itself (`estimatedCostUsd`).
    pub estimated_cost: Usd,
    /// When the call happened, per the client.
    pub timestamp: DateTime<Utc>,
    /// Free-form JSON object.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Whether the response was streamed.
    pub is_streaming: bool,
    /// Error class when the call failed.
    pub error_code: Option<String>,
    /// How many times the client retried the call.
    pub retry_count: i32,
    /// Whether the call failed.
    pub is_error: bool,
    /// Of `output_tokens`, reasoning / thinking tokens (additive field `reasoningTokens`).
    pub reasoning_tokens: i32,
    /// Prompt tokens written to the provider's cache, part of `input_tokens`
    /// (`cacheWriteTokens`).
    pub cache_write_tokens: i32,
    /// Of `cache_write_tokens`, those with a one-hour TTL (`cacheWrite1hTokens`).
    pub cache_write_1h_tokens: i32,
    /// Cost the provider itself reported, when it does (`providerCostUsd`).
    pub provider_cost: Option<Usd>,
    /// The prompt text (`prompt`, `messages` joined, or the original's `metadata.prompt`).
    pub prompt: Option<String>,
}

impl NewEvent {
    /// The token counts the cost formula needs.
    pub fn usage(&self) -> Usage {
        Usage {
            input_tokens: self.input_tokens.unsigned_abs(),
            output_tokens: self.output_tokens.unsigned_abs(),
            cache_read_tokens: self.cached_tokens.unsigned_abs(),
            cache_write_tokens: self.cache_write_tokens.unsigned_abs(),
            cache_write_1h_tokens: self.cache_write_1h_tokens.unsigned_abs(),
            reasoning_tokens: self.reasoning_tokens.unsigned_abs(),
        }
    }
}

/// An event with the cost the server computed for it.
#[derive(Debug, Clone, PartialEq)]
pub struct PricedEvent {
    /// The validated event.
    pub event: NewEvent,
    /// The server's cost, by usage kind, and the price it used.
    pub priced: Priced,
    /// The prompt's fingerprint and what of its text is kept.
    pub prompt: Option<PromptRecord>,
}

/// What is stored about a prompt: fingerprints always, text as the privacy setting allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRecord {
    /// MD5 of the normalised text (`promptHash`).
    pub hash: String,
    /// MD5 of the template (volatile parts masked).
    pub template_hash: String,
    /// MinHash signature.
    pub signature: Vec<u32>,
    /// LSH band keys.
    pub bands: Vec<u64>,
    /// The scheme that made the signature and band keys.
    pub scheme: u32,
    /// The kept text: nothing, a preview, or all of it.
    pub text: Option<String>,
}

/// An event as stored: every field of the original's row plus our additions. The read side
/// (event lists, exports) works with this.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Row id (UUIDv7).
    pub id: uuid::Uuid,
    /// Trace id.
    pub trace_id: String,
    /// Span id.
    pub span_id: String,
    /// Parent span id.
    pub parent_span_id: Option<String>,
    /// Owning project.
    pub project_id: String,
    /// Feature.
    pub feature: String,
    /// End user.
    pub user_id: Option<String>,
    /// Provider wire name (stored as text, so rows written by older versions still read).
    pub provider: String,
    /// Model as reported.
    pub model: String,
    /// Prompt tokens (cache reads and writes included).
    pub input_tokens: i32,
    /// Completion tokens (reasoning included).
    pub output_tokens: i32,
    /// Cache-read tokens.
    pub cached_tokens: i32,
    /// Cache-write tokens.
    pub cache_write_tokens: i32,
    /// Of which one-hour TTL.
    pub cache_write_1h_tokens: i32,
    /// Reasoning tokens.
    pub reasoning_tokens: i32,
    /// Latency in ms.
    pub latency_ms: i32,
    /// The client's estimate.
    pub estimated_cost: Usd,
    /// The provider's reported cost.
    pub provider_cost: Option<Usd>,
    /// Our cost (`verifiedCostUsd`).
    pub verified_cost: Usd,
    /// Our cost by usage kind.
    pub cost: crate::pricing::Cost,
    /// Model id whose price was used (`None`: unpriced).
    pub priced_as: Option<String>,
    /// `catalogue`, `custom` or `fallback`.
    pub price_source: String,
    /// Whether any prompt tokens came from cache.
    pub is_cache_hit: bool,
    /// Metadata object.
    pub metadata: Option<serde_json::Value>,
    /// Streamed response.
    pub is_streaming: bool,
    /// Error class.
    pub error_code: Option<String>,
    /// Client retries.
    pub retry_count: i32,
    /// Failed call.
    pub is_error: bool,
    /// The call's timestamp.
    pub created_at: DateTime<Utc>,
    /// When the server stored it.
    pub received_at: DateTime<Utc>,
}
