//! The event row of exports and of the events list: the original's CSV columns and JSON object
//! shape (docs/API.md: *Event CSV columns* under *Exports*, and the *Event row* of
//! `GET /api/v1/analytics/events`), followed by our additive fields.

use std::borrow::Cow;

use aicp_domain::Usd;
use aicp_domain::event::StoredEvent;
use aicp_domain::pricing::Cost;
use serde::Serialize;

use crate::encoder::ExportRow;
use crate::formula::text_cell;
use crate::number::iso_millis;

/// How many leading columns of [`EVENT_CSV_HEADER`] are the original's, unchanged.
pub const ORIGINAL_EVENT_CSV_COLUMNS: usize = 15;

/// The CSV header of an event export: the original's 15 columns in its order, then ours.
///
/// Additive columns: `Cost Exact (USD)` (the verified cost, full precision, normalised decimal),
/// `Estimated Cost (USD)` and `Provider Cost (USD)` (full precision; the latter empty when the
/// provider reported none), the token kinds the original did not have, `Cache Hit`, and the
/// identifiers and pricing provenance of the row.
pub const EVENT_CSV_HEADER: [&str; 29] = [
    // The original's columns (docs/API.md, *Event CSV columns*), unchanged.
    "ID",
    "Timestamp",
    "Feature",
    "Provider",
    "Model",
    "Input Tokens",
    "Output Tokens",
    "Cached Tokens",
    "Total Tokens",
    "Cost (USD)",
    "Latency (ms)",
    "Streaming",
    "Error",
    "Error Code",
    "Retry Count",
    // Additive.
    "Cost Exact (USD)",
    "Estimated Cost (USD)",
    "Provider Cost (USD)",
    "Cache Write Tokens",
    "Cache Write 1h Tokens",
    "Reasoning Tokens",
    "Cache Hit",
    "User ID",
    "Project ID",
    "Trace ID",
    "Span ID",
    "Parent Span ID",
    "Priced As",
    "Price Source",
];

/// The JSON object of one event row, for exports and for the events list endpoint.
///
/// Keys are serialized in this order: the original's row in schema order (`id`, `traceId`,
/// `spanId`, `parentSpanId`, `projectId`, `feature`, `userId`, `provider`, `model`,
/// `inputTokens`, `outputTokens`, `cachedTokens`, `latencyMs`, `estimatedCostUsd`,
/// `verifiedCostUsd`, `isCacheHit`, `metadata`, `isStreaming`, `errorCode`, `retryCount`,
/// `isError`, `createdAt`), then the additive keys (`verifiedCostUsdExact`,
/// `estimatedCostUsdExact`, `providerCostUsd`, `cacheWriteTokens`, `cacheWrite1hTokens`,
/// `reasoningTokens`, `pricedAs`, `priceSource`, `costBreakdown`, `receivedAt`).
///
/// As in the original, the two `…CostUsd` fields are 6-decimal strings (`"0.000125"`), nullable
/// fields are `null` and `createdAt` is an ISO string with milliseconds and `Z`. The `…Exact`
/// fields, `providerCostUsd` and `costBreakdown` carry the exact normalised decimals as strings.
///
/// It is a struct rather than a `serde_json::Value` because `Value` objects sort their keys in
/// this workspace (no `preserve_order`), which would lose the original's order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventJson<'a> {
    id: uuid::Uuid,
    trace_id: &'a str,
    span_id: &'a str,
    parent_span_id: Option<&'a str>,
    project_id: &'a str,
    feature: &'a str,
    user_id: Option<&'a str>,
    provider: &'a str,
    model: &'a str,
    input_tokens: i32,
    output_tokens: i32,
    cached_tokens: i32,
    latency_ms: i32,
    estimated_cost_usd: String,
    verified_cost_usd: String,
    is_cache_hit: bool,
    metadata: Option<&'a serde_json::Value>,
    is_streaming: bool,
    error_code: Option<&'a str>,
    retry_count: i32,
    is_error: bool,
    created_at: String,
    // Additive keys, after the original's.
    verified_cost_usd_exact: Usd,
    estimated_cost_usd_exact: Usd,
    provider_cost_usd: Option<Usd>,
    cache_write_tokens: i32,
    cache_write_1h_tokens: i32,
    reasoning_tokens: i32,
    priced_as: Option<&'a str>,
    price_source: &'a str,
    cost_breakdown: &'a Cost,
    received_at: String,
}

impl<'a> EventJson<'a> {
    /// The JSON row of `e`.
    pub fn new(e: &'a StoredEvent) -> Self {
        Self {
            id: e.id,
            trace_id: &e.trace_id,
            span_id: &e.span_id,
            parent_span_id: e.parent_span_id.as_deref(),
            project_id: &e.project_id,
            feature: &e.feature,
            user_id: e.user_id.as_deref(),
            provider: &e.provider,
            model: &e.model,
            input_tokens: e.input_tokens,
            output_tokens: e.output_tokens,
            cached_tokens: e.cached_tokens,
            latency_ms: e.latency_ms,
            estimated_cost_usd: e.estimated_cost.to_fixed6(),
            verified_cost_usd: e.verified_cost.to_fixed6(),
            is_cache_hit: e.is_cache_hit,
            metadata: e.metadata.as_ref(),
            is_streaming: e.is_streaming,
            error_code: e.error_code.as_deref(),
            retry_count: e.retry_count,
            is_error: e.is_error,
            created_at: iso_millis(e.created_at),
            verified_cost_usd_exact: e.verified_cost,
            estimated_cost_usd_exact: e.estimated_cost,
            provider_cost_usd: e.provider_cost,
            cache_write_tokens: e.cache_write_tokens,
            cache_write_1h_tokens: e.cache_write_1h_tokens,
            reasoning_tokens: e.reasoning_tokens,
            priced_as: e.priced_as.as_deref(),
            price_source: &e.price_source,
            cost_breakdown: &e.cost,
            received_at: iso_millis(e.received_at),
        }
    }
}

/// The JSON row of `e` (see [`EventJson`]); serialize it with `serde_json`, alone or inside a
/// response envelope.
pub fn event_json(e: &StoredEvent) -> EventJson<'_> {
    EventJson::new(e)
}

impl ExportRow for StoredEvent {
    fn csv_header() -> &'static [&'static str] {
        &EVENT_CSV_HEADER
    }

    fn csv_cells(&self, guard: bool) -> Vec<Cow<'_, str>> {
        vec![
            // The original's columns.
            Cow::Owned(self.id.to_string()),
            Cow::Owned(iso_millis(self.created_at)),
            text_cell(&self.feature, guard),
            text_cell(&self.provider, guard),
            text_cell(&self.model, guard),
            int(self.input_tokens),
            int(self.output_tokens),
            int(self.cached_tokens),
            Cow::Owned((i64::from(self.input_tokens) + i64::from(self.output_tokens)).to_string()),
            Cow::Owned(self.verified_cost.to_fixed6()),
            int(self.latency_ms),
            boolean(self.is_streaming),
            boolean(self.is_error),
            text_cell(self.error_code.as_deref().unwrap_or_default(), guard),
            int(self.retry_count),
            // Additive columns.
            Cow::Owned(self.verified_cost.to_string()),
            Cow::Owned(self.estimated_cost.to_string()),
            self.provider_cost.map_or(Cow::Borrowed(""), |c| Cow::Owned(c.to_string())),
            int(self.cache_write_tokens),
            int(self.cache_write_1h_tokens),
            int(self.reasoning_tokens),
            boolean(self.is_cache_hit),
            text_cell(self.user_id.as_deref().unwrap_or_default(), guard),
            text_cell(&self.project_id, guard),
            text_cell(&self.trace_id, guard),
            text_cell(&self.span_id, guard),
            text_cell(self.parent_span_id.as_deref().unwrap_or_default(), guard),
            text_cell(self.priced_as.as_deref().unwrap_or_default(), guard),
            text_cell(&self.price_source, guard),
        ]
    }

    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        serde_json::to_writer(out, &EventJson::new(self))
    }
}

fn int(n: i32) -> Cow<'static, str> {
    Cow::Owned(n.to_string())
}

fn boolean(b: bool) -> Cow<'static, str> {
    Cow::Borrowed(if b { "true" } else { "false" })
}
