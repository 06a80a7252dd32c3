//! Reading request bodies: declared type, `Content-Encoding` (gzip, deflate, br, zstd), a size
//! limit that holds after decompression, parse errors as 4xx.

use actix_web::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

use crate::error::ApiError;

/// Checks the `Content-Type`, reads at most `limit` bytes and parses them as JSON.
///
/// # Errors
/// 415 when not declared as JSON, 413 above `limit`, 400 when not JSON.
pub async fn read_json(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<serde_json::Value, ApiError> {
    require_json(req)?;
    let body = read_body(req, payload, limit).await?;
    serde_json::from_slice(&body).map_err(|e| ApiError::MalformedJson(e.to_string()))
}

/// Reads the body, decompressed per its `Content-Encoding`, refusing it as soon as more than
/// `limit` bytes arrive or come out of decompression.
///
/// # Errors
/// 413 above `limit`, 400 when the body cannot be read or decompressed.
pub async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let encoded = req.headers().contains_key(CONTENT_ENCODING);
    if encoded {
        // Content-Length counts compressed bytes; the limit is checked on what decompresses.
        let stream = actix_web::dev::Decompress::from_headers(payload, req.headers());
        read_stream(stream, limit, None).await
    } else {
        read_limited(req, payload, limit).await
    }
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
    payload: web::Payload,
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
    read_stream(payload, limit, declared).await
}

/// Collects `stream`, refusing it as soon as it exceeds `limit` bytes.
async fn read_stream<S, E>(
    mut stream: S,
    limit: usize,
    declared: Option<usize>,
) -> Result<web::BytesMut, ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(8 * 1024).min(limit));
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::MalformedJson(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
