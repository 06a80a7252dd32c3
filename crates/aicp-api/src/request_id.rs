//! Request ids (`X-Request-Id`, as the original): taken from the request when it carries a sane
//! one, generated otherwise, echoed on every response, attached to the request's log span, and
//! available to error bodies through a task-local.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError};
use tracing::Instrument;

use crate::error::ErrorBody;
use crate::request_scope::CURRENT;
// Kept at its old path for callers outside this module.
pub use crate::request_scope::current_request_id;

/// The header name.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, stored in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Accepts a client id of 1..=128 visible ASCII characters; anything else is replaced.
fn sane(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| s.to_owned())
}

/// Middleware: assigns the id, scopes the handler in it, and turns any non-JSON error response
/// produced outside our handlers (an unknown method, a framework error) into our JSON envelope.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(sane)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let result = CURRENT
        .scope(id.clone(), async move { next.call(req).await }.instrument(span.clone()))
        .await;
    let mut res = match result {
        Ok(res) => res.map_into_boxed_body(),
        // An error from inside the stack (not from a handler, those are already responses): the
        // dispatcher renders it, outside this task-local scope, so the id travels in the value.
        Err(e) => {
            let status = e.as_response_error().status_code();
            span.in_scope(
                || tracing::info!(status = status.as_u16(), error = %e, "request failed"),
            );
            return Err(FrameworkError { status, request_id: id }.into());
        }
    };
    let status = res.status();
    // JSON bodies and the dashboard's error pages already say what went wrong.
    let explained = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if (status.is_client_error() || status.is_server_error()) && !explained {
        let body = CURRENT.sync_scope(id.clone(), || envelope(status));
        let (req, old) = res.into_parts();
        let mut new = body;
        for (name, value) in old.headers() {
            if name != CONTENT_TYPE && name != actix_web::http::header::CONTENT_LENGTH {
                new.headers_mut().insert(name.clone(), value.clone());
            }
        }
        res = ServiceResponse::new(req, new);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    span.in_scope(|| tracing::info!(status = status.as_u16(), "request finished"));
    Ok(res)
}

/// An error raised inside the middleware stack, answered with our JSON envelope.
#[derive(Debug, thiserror::Error)]
#[error("{status}")]
struct FrameworkError {
    status: StatusCode,
    request_id: String,
}

impl ResponseError for FrameworkError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = CURRENT.sync_scope(self.request_id.clone(), || envelope(self.status));
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            res.headers_mut().insert(REQUEST_ID, value);
        }
        res
    }
}

/// Our JSON body for a bare framework error status.
fn envelope(status: StatusCode) -> HttpResponse {
    let message = status.canonical_reason().unwrap_or("Error").to_owned();
    let code = match status.as_u16() {
        405 => "method_not_allowed",
        413 => "payload_too_large",
        s if s >= 500 => "internal_error",
        _ => "bad_request",
    };
    HttpResponse::build(status).json(ErrorBody::plain(message, code))
}
