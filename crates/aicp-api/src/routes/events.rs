//! `POST /api/v1/events`: ingestion, wire-compatible with the original SDK (original-api.md §4).

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, post, web};
use aicp_domain::{IngestError, ProjectId};
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
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
    require_json(&req)?;
    let body = read_limited(&req, payload, state.body_limit).await?;
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    drop(body);
    let project = ProjectId::default_project();
    let receipt = state.ingest.ingest(project, &value).await.map_err(|e| match e {
        IngestError::Invalid(issues) => ApiError::Validation(issues),
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

/// `application/json` or any `+json` type, with or without parameters.
fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    let ok = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .is_some_and(|mime| mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")));
    if ok { Ok(()) } else { Err(ApiError::UnsupportedMediaType) }
}

/// Reads the body, refusing it as soon as it is known to exceed `limit` bytes.
async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(8 * 1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::MalformedJson(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
