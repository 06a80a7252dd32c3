//! The full `events` row as diesel reads it, converted to the domain's [`StoredEvent`].

use aicp_domain::Usd;
use aicp_domain::event::StoredEvent;
use aicp_domain::pricing::Cost;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::schema::events;

/// Every column of `events` that the read side shows.
#[derive(Queryable, Selectable)]
#[diesel(table_name = events)]
pub(crate) struct EventRow {
    id: Uuid,
    project_id: String,
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    feature: String,
    user_id: Option<String>,
    provider: String,
    model: String,
    input_tokens: i32,
    output_tokens: i32,
    cached_tokens: i32,
    cache_write_tokens: i32,
    cache_write_1h_tokens: i32,
    reasoning_tokens: i32,
    latency_ms: i32,
    estimated_cost_usd: Decimal,
    provider_cost_usd: Option<Decimal>,
    verified_cost_usd: Decimal,
    input_cost_usd: Decimal,
    cache_read_cost_usd: Decimal,
    cache_write_cost_usd: Decimal,
    output_cost_usd: Decimal,
    reasoning_cost_usd: Decimal,
    priced_as: Option<String>,
    price_source: String,
    is_cache_hit: bool,
    metadata: Option<serde_json::Value>,
    is_streaming: bool,
    error_code: Option<String>,
    retry_count: i32,
    is_error: bool,
    created_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
}

impl From<EventRow> for StoredEvent {
    fn from(r: EventRow) -> Self {
        StoredEvent {
            id: r.id,
            trace_id: r.trace_id,
            span_id: r.span_id,
            parent_span_id: r.parent_span_id,
            project_id: r.project_id,
            feature: r.feature,
            user_id: r.user_id,
            provider: r.provider,
            model: r.model,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cached_tokens: r.cached_tokens,
            cache_write_tokens: r.cache_write_tokens,
            cache_write_1h_tokens: r.cache_write_1h_tokens,
            reasoning_tokens: r.reasoning_tokens,
            latency_ms: r.latency_ms,
            estimated_cost: Usd::new(r.estimated_cost_usd),
            provider_cost: r.provider_cost_usd.map(Usd::new),
            verified_cost: Usd::new(r.verified_cost_usd),
            cost: Cost {
                input: Usd::new(r.input_cost_usd),
                cache_read: Usd::new(r.cache_read_cost_usd),
                cache_write: Usd::new(r.cache_write_cost_usd),
                output: Usd::new(r.output_cost_usd),
                reasoning: Usd::new(r.reasoning_cost_usd),
                total: Usd::new(r.verified_cost_usd),
            },
            priced_as: r.priced_as,
            price_source: r.price_source,
            is_cache_hit: r.is_cache_hit,
            metadata: r.metadata,
            is_streaming: r.is_streaming,
            error_code: r.error_code,
            retry_count: r.retry_count,
            is_error: r.is_error,
            created_at: r.created_at,
            received_at: r.received_at,
        }
    }
}
