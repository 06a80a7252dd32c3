//! Reading JSON request bodies: declared type, size limit, time limit, parse errors as 4xx.
//!
//! Duplicate keys in an object: the last one wins, as with the original's `JSON.parse`
//! (documented in docs/API.md; rejecting them would break clients that work today).

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

use crate::error::ApiError;
use crate::state::AppState;

/// The body timeout when the application state is not at hand.
const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Checks the `Content-Type`, reads at most `limit` bytes within the body timeout
/// ([`AppState::body_timeout`]) and parses them as JSON.
///
/// # Errors
/// 415 when not declared as JSON, 413 above `limit`, 408 when the body is too slow, 400 when not
/// JSON.
pub async fn read_json(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<serde_json::Value, ApiError> {
    require_json(req)?;
    let timeout = req
        .app_data::<web::Data<AppState>>()
        .map_or(DEFAULT_BODY_TIMEOUT, |state| state.body_timeout);
    let body = tokio::time::timeout(timeout, read_limited(req, payload, limit))
        .await
        .map_err(|_| ApiError::BodyTimeout { seconds: timeout.as_secs() })??;
    serde_json::from_slice(&body).map_err(|e| ApiError::MalformedJson(e.to_string()))
}

/// `application/json` or any `+json` type, with or without parameters.
fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    let ok = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .is_some_and(|mime| {
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
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
        let chunk =
            chunk.map_err(|e| ApiError::MalformedJson(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
