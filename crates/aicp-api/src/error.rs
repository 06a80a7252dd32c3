//! The one HTTP error type. Every error body is JSON with a human message (`error`, as the
//! original), a stable machine-readable `code`, and the request id; nothing internal (no SQL, no
//! stack) ever reaches a client.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use aicp_domain::Issue;
use serde::Serialize;
use utoipa::ToSchema;

use crate::request_scope::current_request_id;

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECS: u32 = 1;

/// An error answered to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body failed validation (the original's envelope).
    #[error("Validation failed")]
    Validation(Vec<Issue>),
    /// A query parameter or body field is invalid (the message says which and why).
    #[error("{0}")]
    InvalidParameter(String),
    /// The body is not JSON.
    #[error("Malformed JSON body: {0}")]
    MalformedJson(String),
    /// The body is larger than the limit.
    #[error("Request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body did not arrive within the body timeout.
    #[error("The request body did not arrive within {seconds} s")]
    BodyTimeout {
        /// The timeout in seconds.
        seconds: u64,
    },
    /// The body is not declared as JSON.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// No such route.
    #[error("Not found")]
    NotFound {
        /// The request path.
        path: String,
    },
    /// The project has as many live streams open as it may.
    #[error("Too many live streams for this project (at most {0})")]
    TooManyStreams(usize),
    /// The server has as many live streams open as it may.
    #[error("Too many SSE connections")]
    StreamCapacity,
    /// The event of a per-event endpoint does not exist (the original's 404 body).
    #[error("Event not found")]
    EventNotFound,
    /// A dependency is down; retry later.
    #[error("Service temporarily unavailable, retry later")]
    Unavailable,
    /// Too much work in flight; retry later.
    #[error("Server is overloaded, retry later")]
    Overloaded,
    /// A bug or an unexpected failure (logged with its full chain, answered without detail).
    #[error("Internal server error")]
    Internal(#[source] anyhow::Error),
}

/// Body of every error response.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Human-readable message (the original's field).
    pub error: String,
    /// Stable machine-readable code, e.g. `validation_failed`.
    pub code: &'static str,
    /// The request's `X-Request-Id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Validation issues (only for `validation_failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<IssueBody>>,
    /// The unknown path (only for `not_found`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// One validation issue.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueBody {
    /// Dot-joined path, e.g. `events.3.model`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl ErrorBody {
    /// A body with only a message and a code (plus the current request id).
    pub fn plain(error: String, code: &'static str) -> Self {
        Self { error, code, request_id: current_request_id(), details: None, path: None }
    }
}

impl ApiError {
    /// A validation failure of one field, in the original's envelope.
    pub fn field(path: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![Issue { path: path.to_owned(), message: message.into() }])
    }

    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation_failed",
            ApiError::InvalidParameter(_) => "invalid_parameter",
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::BodyTimeout { .. } => "request_timeout",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::NotFound { .. } => "not_found",
            ApiError::EventNotFound => "event_not_found",
            ApiError::TooManyStreams(_) => "too_many_streams",
            ApiError::StreamCapacity => "stream_capacity",
            ApiError::Unavailable => "service_unavailable",
            ApiError::Overloaded => "overloaded",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The JSON body of this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.to_string(),
            code: self.code(),
            request_id: current_request_id(),
            details: match self {
                ApiError::Validation(issues) => Some(
                    issues
                        .iter()
                        .map(|i| IssueBody { path: i.path.clone(), message: i.message.clone() })
                        .collect(),
                ),
                _ => None,
            },
            path: match self {
                ApiError::NotFound { path } => Some(path.clone()),
                _ => None,
            },
        }
    }
}

impl From<aicp_domain::RepoError> for ApiError {
    fn from(e: aicp_domain::RepoError) -> Self {
        match e {
            aicp_domain::RepoError::Unavailable(why) => {
                tracing::warn!(error = %why, "storage unavailable");
                ApiError::Unavailable
            }
            aicp_domain::RepoError::Overloaded => ApiError::Overloaded,
            aicp_domain::RepoError::Unexpected(e) => ApiError::Internal(e),
        }
    }
}

impl From<aicp_domain::WindowError> for ApiError {
    fn from(e: aicp_domain::WindowError) -> Self {
        ApiError::InvalidParameter(e.to_string())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation(_)
            | ApiError::MalformedJson(_)
            | ApiError::InvalidParameter(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotFound { .. } | ApiError::EventNotFound => StatusCode::NOT_FOUND,
            ApiError::TooManyStreams(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable | ApiError::Overloaded | ApiError::StreamCapacity => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(e) = self {
            tracing::error!(
                error = format!("{e:#}"),
                request_id = current_request_id(),
                "internal error"
            );
        }
        let mut res = HttpResponse::build(self.status_code());
        if matches!(
            self,
            ApiError::Unavailable
                | ApiError::Overloaded
                | ApiError::StreamCapacity
                | ApiError::TooManyStreams(_)
        ) {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS)));
        }
        res.json(self.body())
    }
}
