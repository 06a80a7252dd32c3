//! Reading request bodies: declared type, `Content-Encoding` (gzip, deflate), a size limit that
//! holds before and after decompression, a time limit, parse errors as 4xx.
//!
//! Duplicate keys in an object: the last one wins, as with the original's `JSON.parse`
//! (documented in docs/API.md; rejecting them would break clients that work today).

use actix_web::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
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
    let body = read_body(req, payload, limit).await?;
    serde_json::from_slice(&body).map_err(|e| ApiError::MalformedJson(e.to_string()))
}

/// Reads the body within the body timeout, decompressed per its `Content-Encoding` (`gzip`,
/// `deflate` or none), refusing it as soon as more than `limit` bytes arrive or come out of
/// decompression.
///
/// # Errors
/// 413 above `limit` (compressed or not), 408 when the body is too slow, 400 for another encoding
/// or a body that does not decompress.
pub async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let encoding = req
        .headers()
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    let gzip = match encoding.as_deref() {
        None | Some("" | "identity") => return read_timed(req, payload, limit).await,
        Some("gzip" | "x-gzip") => true,
        Some("deflate") => false,
        Some(other) => {
            return Err(ApiError::InvalidParameter(format!(
                "Content-Encoding must be gzip, deflate or identity, got {other:?}"
            )));
        }
    };
    let compressed = read_timed(req, payload, limit).await?.freeze();
    // Inflated here, in bounded steps, rather than by actix's decoder, which inflates each
    // network chunk whole (a 64 KiB chunk of zeros is 64 MiB before any limit applies).
    if compressed.len() <= INLINE_INFLATE_BYTES {
        inflate(&compressed, gzip, limit)
    } else {
        web::block(move || inflate(&compressed, gzip, limit))
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("inflate task failed: {e}")))?
    }
}

/// [`read_limited`] within the body timeout ([`AppState::body_timeout`]).
async fn read_timed(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let timeout = req
        .app_data::<web::Data<AppState>>()
        .map_or(DEFAULT_BODY_TIMEOUT, |state| state.body_timeout);
    tokio::time::timeout(timeout, read_limited(req, payload, limit))
        .await
        .map_err(|_| ApiError::BodyTimeout { seconds: timeout.as_secs() })?
}

/// Compressed bodies up to this size are inflated on the request's thread; larger ones on the
/// blocking pool, so that a large body does not stall the other requests of its worker.
const INLINE_INFLATE_BYTES: usize = 64 * 1024;

fn inflate(compressed: &[u8], gzip: bool, limit: usize) -> Result<web::BytesMut, ApiError> {
    use std::io::Read;
    let mut reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(compressed))
    } else {
        Box::new(flate2::read::ZlibDecoder::new(compressed))
    };
    let mut out = web::BytesMut::with_capacity((compressed.len() * 4).min(limit));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(|e| {
            ApiError::MalformedJson(format!("the body could not be decompressed: {e}"))
        })?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        out.extend_from_slice(&buf[..n]);
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
