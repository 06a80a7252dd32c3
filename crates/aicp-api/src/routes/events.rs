//! `POST /api/v1/events`: ingestion, wire-compatible with the original SDK (docs/API.md, `POST /api/v1/events`).

use actix_web::{HttpRequest, HttpResponse, post, web};
use aicp_domain::IngestError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::routes::body::read_json;
use crate::routes::project_of;
use crate::state::AppState;

/// Request body (documentation of the wire format; parsing is done by the domain validator so that
/// errors come back in the original's envelope).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct IngestRequest {
    /// 1..=500 events.
    events: Vec<EventPayload>,
}

/// One LLM call. Unknown fields are ignored.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct EventPayload {
    /// Trace id, 1..=128 characters.
    trace_id: String,
    /// Span id, 1..=128 characters; (project, traceId, spanId) identifies the event: re-sending it
    /// stores nothing new.
    span_id: String,
    /// Parent span id; must not be null when present.
    parent_span_id: Option<String>,
    /// Feature that made the call, 1..=256 characters.
    feature: String,
    /// End user; must not be null when present.
    user_id: Option<String>,
    /// `openai`, `anthropic`, `google-gemini`, `mistral`, `deepseek`, `xai`, `cohere`, `meta`,
    /// `azure-openai`, `bedrock`, `groq`, `together`, `fireworks` or `openrouter`.
    provider: String,
    /// Model as reported by the provider, 1..=256 characters.
    model: String,
    /// Prompt tokens **including** cached ones (OpenAI / OpenTelemetry semantics), 0..=2147483647.
    input_tokens: i32,
    /// Completion tokens, 0..=2147483647.
    output_tokens: i32,
    /// Prompt tokens read from the provider's cache (part of inputTokens); default 0.
    cached_tokens: Option<i32>,
    /// Latency in ms, ≥ 0; fractions are rounded half up.
    latency_ms: f64,
    /// The client's own cost estimate in USD, 0 ≤ x < 1000000, read exactly from its JSON text.
    #[schema(value_type = f64)]
    estimated_cost_usd: String,
    /// `YYYY-MM-DDTHH:MM[:SS[.fff]]Z` or with an offset (`+07:00`); at most 24 h in the future.
    timestamp: String,
    /// Any JSON object, ≤ 16 KiB and ≤ 16 levels deep.
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Default false.
    is_streaming: Option<bool>,
    /// Error class for failed calls.
    error_code: Option<String>,
    /// Default 0.
    retry_count: Option<i32>,
    /// Default false.
    is_error: Option<bool>,
    /// *Additive.* Of `outputTokens`, reasoning / thinking tokens.
    reasoning_tokens: Option<i32>,
    /// *Additive.* Prompt tokens written to the provider's cache (part of `inputTokens`).
    cache_write_tokens: Option<i32>,
    /// *Additive.* Of `cacheWriteTokens`, those with a one-hour TTL.
    cache_write_1h_tokens: Option<i32>,
    /// *Additive.* The provider's own reported cost, USD.
    #[schema(value_type = Option<f64>)]
    provider_cost_usd: Option<String>,
    /// *Additive.* The prompt text (fingerprinted; stored per `PROMPT_STORAGE`).
    prompt: Option<String>,
    /// *Additive.* The prompt as chat messages `[{role, content}]` (used when `prompt` is absent).
    #[schema(value_type = Option<Vec<Object>>)]
    messages: Option<Vec<serde_json::Value>>,
}

/// Accepted batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestResponse {
    /// Always true.
    pub success: bool,
    /// Events in the request (the original's field).
    pub count: usize,
    /// Events stored by this request.
    pub inserted: usize,
    /// Events already stored earlier (same traceId and spanId) and skipped.
    pub duplicates: usize,
}

/// Ingest a batch of LLM call events. Answers only after the events are committed.
#[utoipa::path(
    post,
    path = "/api/v1/events",
    tag = "events",
    request_body(content = IngestRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Stored (idempotent per traceId + spanId)", body = IngestResponse),
        (status = 400, description = "Malformed JSON or validation failed; nothing stored", body = ErrorBody),
        (status = 413, description = "Body larger than the limit", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
        (status = 503, description = "Database unavailable or overloaded; nothing stored, retry after Retry-After", body = ErrorBody),
    )
)]
#[post("/events")]
pub async fn ingest(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let value = read_json(&req, payload, state.body_limit).await?;
    let project = project_of(&req);
    let receipt = state.ingest.ingest(project, &value).await.map_err(|e| match e {
        IngestError::Invalid(issues) => {
            crate::metrics::batch_refused();
            ApiError::Validation(issues)
        }
        IngestError::Unavailable(why) => {
            tracing::warn!(error = %why, "ingest refused: storage unavailable");
            ApiError::Unavailable
        }
        IngestError::Overloaded => ApiError::Overloaded,
        IngestError::Unexpected(e) => ApiError::Internal(e),
    })?;
    Ok(HttpResponse::Accepted().json(IngestResponse {
        success: true,
        count: receipt.received,
        inserted: receipt.inserted,
        duplicates: receipt.duplicates,
    }))
}
