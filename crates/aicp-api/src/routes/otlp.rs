//! `POST /v1/traces`: OTLP/HTTP trace export (protobuf or JSON, optionally gzip). Spans carrying
//! GenAI attributes become events through the same ingest as `POST /api/v1/events`; the answer is
//! OTLP's `ExportTraceServiceResponse` in the request's encoding (docs/API.md, `POST /v1/traces`).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, post, web};
use aicp_domain::IngestError;
use aicp_domain::otlp::{AttrValue, Attributes, SpanRecord, ingest_spans};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as SpanStatus;
use prost::Message;

use crate::error::{ApiError, ErrorBody};
use crate::routes::body::read_body;
use crate::routes::project_of;
use crate::state::AppState;

/// The two encodings OTLP/HTTP defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// Ingest an OTLP trace export. Answers only after the events are committed.
#[utoipa::path(
    post,
    path = "/v1/traces",
    tag = "events",
    request_body(content = Vec<u8>, content_type = "application/x-protobuf", description = "OTLP ExportTraceServiceRequest (protobuf, or its JSON mapping with application/json); Content-Encoding: gzip accepted"),
    responses(
        (status = 200, description = "ExportTraceServiceResponse (partial_success counts spans rejected by validation), in the request's encoding"),
        (status = 400, description = "Not a valid OTLP protobuf/JSON message; nothing stored", body = ErrorBody),
        (status = 413, description = "Body (after decompression) larger than the limit", body = ErrorBody),
        (status = 415, description = "Content-Type is neither application/x-protobuf nor application/json", body = ErrorBody),
        (status = 503, description = "Database unavailable or overloaded; retry after Retry-After (re-sending is safe)", body = ErrorBody),
    )
)]
#[post("/v1/traces")]
pub async fn traces(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(encoding) = encoding_of(&req) else {
        return Ok(HttpResponse::build(StatusCode::UNSUPPORTED_MEDIA_TYPE).json(ErrorBody::plain(
            "Content-Type must be application/x-protobuf or application/json".to_owned(),
            "unsupported_media_type",
        )));
    };
    let body = read_body(&req, payload, state.body_limit).await?;
    let request = decode(encoding, &body)?;
    let spans = spans_of(request);
    let project = project_of(&req);
    let receipt =
        ingest_spans(&state.ingest, &project, &spans, &state.otlp).await.map_err(|e| match e {
            IngestError::Invalid(issues) => ApiError::Validation(issues),
            IngestError::Unavailable(why) => {
                tracing::warn!(error = %why, "OTLP ingest refused: storage unavailable");
                ApiError::Unavailable
            }
            IngestError::Overloaded => ApiError::Overloaded,
            IngestError::Unexpected(e) => ApiError::Internal(e),
        })?;
    crate::metrics::otlp_spans(&receipt);
    let partial_success = (receipt.rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: i64::try_from(receipt.rejected).unwrap_or(i64::MAX),
        error_message: receipt.error_message.clone(),
    });
    let response = ExportTraceServiceResponse { partial_success };
    Ok(match encoding {
        Encoding::Protobuf => {
            HttpResponse::Ok().content_type("application/x-protobuf").body(response.encode_to_vec())
        }
        // The JSON mapping omits an absent message (serde would write `"partialSuccess": null`).
        Encoding::Json => HttpResponse::Ok().json(match response.partial_success {
            Some(p) => serde_json::json!({"partialSuccess": {
                "rejectedSpans": p.rejected_spans, "errorMessage": p.error_message,
            }}),
            None => serde_json::json!({}),
        }),
    })
}

fn encoding_of(req: &HttpRequest) -> Option<Encoding> {
    let mime = req.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    match mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase().as_str() {
        "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
        "application/json" => Some(Encoding::Json),
        _ => None,
    }
}

fn decode(encoding: Encoding, body: &[u8]) -> Result<ExportTraceServiceRequest, ApiError> {
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body)
            .map_err(|e| ApiError::InvalidParameter(format!("Malformed OTLP protobuf body: {e}"))),
        // Through `Value` first: with the workspace's `arbitrary_precision`, the generated
        // deserializers cannot read `doubleValue` straight from the text.
        Encoding::Json => {
            let value: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
            serde_json::from_value(value).map_err(|e| {
                ApiError::MalformedJson(format!("not an OTLP ExportTraceServiceRequest: {e}"))
            })
        }
    }
}

/// The spans of `request` as the domain reads them.
fn spans_of(request: ExportTraceServiceRequest) -> Vec<SpanRecord> {
    let mut out = Vec::new();
    for rs in request.resource_spans {
        let resource: Arc<Attributes> =
            Arc::new(rs.resource.map(|r| attributes(r.attributes)).unwrap_or_default());
        for ss in rs.scope_spans {
            for span in ss.spans {
                let (status_error, status_message) =
                    span.status.map_or((false, String::new()), |s| {
                        (s.code == SpanStatus::Error as i32, s.message)
                    });
                out.push(SpanRecord {
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent_span_id: span.parent_span_id,
                    name: span.name,
                    start_unix_nano: span.start_time_unix_nano,
                    end_unix_nano: span.end_time_unix_nano,
                    status_error,
                    status_message,
                    attributes: attributes(span.attributes),
                    resource: Arc::clone(&resource),
                });
            }
        }
    }
    out
}

fn attributes(kvs: Vec<KeyValue>) -> Attributes {
    kvs.into_iter()
        .map(|kv| {
            let value = match kv.value.and_then(|v| v.value) {
                Some(any_value::Value::StringValue(s)) => AttrValue::Str(s),
                Some(any_value::Value::IntValue(i)) => AttrValue::Int(i),
                Some(any_value::Value::DoubleValue(d)) => AttrValue::Double(d),
                Some(any_value::Value::BoolValue(b)) => AttrValue::Bool(b),
                _ => AttrValue::Other,
            };
            (kv.key, value)
        })
        .collect()
}
