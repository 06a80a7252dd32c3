//! OTLP/HTTP trace ingest (`POST /v1/traces`): protobuf and JSON bodies, gzip, skipped and
//! rejected spans, idempotent re-sends, bad bodies, authentication; and real exporters (the Rust
//! `opentelemetry-otlp` exporter and the Python OpenTelemetry SDK) whose spans must give the
//! same analytics as the same calls sent as JSON events.

use std::io::Write;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::{Value, json};

use crate::support::{TestApp, batch, event};

/// 2026-01-05T10:00:00Z in nanoseconds.
pub const T0: u64 = 1_767_607_200_000_000_000;
const MS: u64 = 1_000_000;
pub const W: &str = "from=2026-01-05T00:00:00.000Z&to=2026-01-06T00:00:00.000Z";

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn s(key: &str, v: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.to_owned()))
}

fn i(key: &str, v: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(v))
}

/// A GenAI chat span: `id` picks the span id, `start_ms` its start after [`T0`].
fn chat_span(id: u8, start_ms: u64, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![0x5a; 16],
        span_id: vec![id; 8],
        name: "chat gpt-4o".to_owned(),
        start_time_unix_nano: T0 + start_ms * MS,
        end_time_unix_nano: T0 + (start_ms + 812) * MS,
        attributes: attrs,
        ..Span::default()
    }
}

fn openai_chat(id: u8) -> Span {
    chat_span(
        id,
        u64::from(id) * 1000,
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            i("gen_ai.usage.input_tokens", 1000),
            i("gen_ai.usage.output_tokens", 500),
            s("aicp.feature", "chat"),
        ],
    )
}

fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", "svc"), s("enduser.id", "u-res")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans { spans, ..ScopeSpans::default() }],
            ..ResourceSpans::default()
        }],
    }
}

/// A raw response: status, content type, body bytes.
struct Raw {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

async fn post(
    app: &TestApp,
    content_type: &str,
    gzip: bool,
    body: Vec<u8>,
    key: Option<&str>,
) -> Raw {
    let mut req =
        TestRequest::post().uri("/v1/traces").insert_header(("content-type", content_type));
    let body = if gzip {
        req = req.insert_header(("content-encoding", "gzip"));
        gz(&body)
    } else {
        body
    };
    if let Some(key) = key {
        req = req.insert_header(("x-api-key", key.to_owned()));
    }
    let svc = test::init_service(aicp_api::app::build(app.state(), None)).await;
    let res = test::call_service(&svc, req.set_payload(body).to_request()).await;
    let status = res.status();
    let content_type =
        res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    Raw { status, content_type, body: test::read_body(res).await.to_vec() }
}

async fn post_proto(app: &TestApp, req: &ExportTraceServiceRequest) -> ExportTraceServiceResponse {
    let raw = post(app, "application/x-protobuf", false, req.encode_to_vec(), None).await;
    assert_eq!(raw.status, StatusCode::OK, "{}", String::from_utf8_lossy(&raw.body));
    assert_eq!(raw.content_type, "application/x-protobuf");
    ExportTraceServiceResponse::decode(raw.body.as_slice()).unwrap()
}

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A stored row: span id, feature, model, input tokens, latency, user, error.
type Row = (String, String, String, i32, i32, Option<String>, bool);

async fn stored(app: &TestApp) -> Vec<Row> {
    let db = app.db.as_ref().unwrap();
    db.client()
        .await
        .query(
            "SELECT span_id, feature, model, input_tokens, latency_ms, user_id, is_error FROM events ORDER BY span_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6)))
        .collect()
}

#[actix_web::test]
async fn a_protobuf_export_stores_its_genai_spans_and_skips_the_others() {
    let app = TestApp::new().await;
    let mut plain = chat_span(9, 0, vec![s("http.request.method", "GET")]);
    plain.name = "GET /".to_owned();
    let reply = post_proto(&app, &request(vec![openai_chat(1), plain, openai_chat(2)])).await;
    assert_eq!(reply.partial_success, None, "fully accepted");
    let rows = stored(&app).await;
    assert_eq!(
        rows,
        vec![
            (
                "0101010101010101".into(),
                "chat".into(),
                "gpt-4o".into(),
                1000,
                812,
                Some("u-res".into()),
                false
            ),
            (
                "0202020202020202".into(),
                "chat".into(),
                "gpt-4o".into(),
                1000,
                812,
                Some("u-res".into()),
                false
            ),
        ]
    );
}

#[actix_web::test]
async fn a_json_export_is_read_like_protobuf_and_answered_in_json() {
    let app = TestApp::new().await;
    // The OTLP JSON mapping: hex ids, 64-bit integers as strings, doubles as numbers.
    let body = json!({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [{
    "traceId": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", "spanId": "0303030303030303",
    "parentSpanId": "0101010101010101", "name": "chat", "kind": 3,
    "startTimeUnixNano": T0.to_string(), "endTimeUnixNano": (T0 + 250 * MS).to_string(),
    "status": {"code": 2, "message": "boom"},
    "attributes": [
        {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
        {"key": "gen_ai.response.model", "value": {"stringValue": "gpt-4o-mini"}},
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "40"}},
        {"key": "gen_ai.usage.output_tokens", "value": {"doubleValue": 2.0}},
        {"key": "gen_ai.usage.cost", "value": {"doubleValue": 0.0000123}},
        {"key": "user.id", "value": {"stringValue": "u-json"}}
    ]}]}]}]});
    let raw = post(&app, "application/json", false, body.to_string().into_bytes(), None).await;
    assert_eq!(raw.status, StatusCode::OK, "{}", String::from_utf8_lossy(&raw.body));
    assert!(raw.content_type.starts_with("application/json"));
    let reply: Value = serde_json::from_slice(&raw.body).unwrap();
    assert_eq!(reply, json!({}), "no partial_success when everything was accepted");
    let db = app.db.as_ref().unwrap();
    let row = db
        .client()
        .await
        .query_one(
            "SELECT parent_span_id, model, output_tokens, is_error, error_code, estimated_cost_usd::text, user_id FROM events",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some("0101010101010101"));
    assert_eq!(row.get::<_, String>(1), "gpt-4o-mini");
    assert_eq!(row.get::<_, i32>(2), 2);
    assert!(row.get::<_, bool>(3));
    assert_eq!(row.get::<_, Option<String>>(4).as_deref(), Some("boom"));
    assert_eq!(
        row.get::<_, String>(5).trim_end_matches('0'),
        "0.0000123",
        "the double's decimal text, exactly"
    );
    assert_eq!(row.get::<_, Option<String>>(6).as_deref(), Some("u-json"));
}

#[actix_web::test]
async fn a_gzipped_export_is_decompressed_and_its_limit_holds_after_decompression() {
    let app = TestApp::with_body_limit(64 * 1024).await;
    let small = request(vec![openai_chat(1)]).encode_to_vec();
    let ok = post(&app, "application/x-protobuf", true, small, None).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(app.count().await, 1);
    // 300 spans with a long attribute: far more than 64 KiB once decompressed, a few KiB gzipped.
    let big: Vec<Span> = (0..300u16)
        .map(|n| {
            let mut sp = openai_chat(1);
            sp.span_id = n.to_be_bytes().repeat(4);
            sp.attributes.push(s("padding", &"x".repeat(1000)));
            sp
        })
        .collect();
    let bytes = request(big).encode_to_vec();
    assert!(gz(&bytes).len() < 64 * 1024 && bytes.len() > 64 * 1024);
    let refused = post(&app, "application/x-protobuf", true, bytes, None).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.count().await, 1, "nothing more stored");
}

#[actix_web::test]
async fn re_sending_an_export_stores_nothing_new() {
    let app = TestApp::new().await;
    let req = request(vec![openai_chat(1), openai_chat(2)]);
    post_proto(&app, &req).await;
    let again = post_proto(&app, &req).await;
    assert_eq!(again.partial_success, None);
    assert_eq!(app.count().await, 2);
    let totals = app.get("/api/v1/analytics/realtime-totals").await;
    assert_eq!(totals.body["totalRequests"], 2, "{}", totals.body);
}

#[actix_web::test]
async fn invalid_genai_spans_are_rejected_in_partial_success_and_the_rest_stored() {
    let app = TestApp::new().await;
    let mut unknown = openai_chat(3);
    unknown.attributes[1] = s("gen_ai.provider.name", "acme.llm");
    let mut negative = openai_chat(4);
    negative.attributes.push(i("gen_ai.usage.reasoning.output_tokens", -5));
    let mut failed = openai_chat(5);
    failed.status = Some(Status { code: 2, message: String::new() });
    let reply = post_proto(&app, &request(vec![openai_chat(1), unknown, negative, failed])).await;
    let partial = reply.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_spans, 2);
    assert!(
        partial.error_message.contains("span 0303030303030303: provider"),
        "{}",
        partial.error_message
    );
    assert!(
        partial.error_message.contains("span 0404040404040404: reasoningTokens"),
        "{}",
        partial.error_message
    );
    let rows = stored(&app).await;
    let spans: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(spans, ["0101010101010101", "0505050505050505"]);
    assert!(rows[1].6, "an ERROR status is an error event");
}

#[actix_web::test]
async fn bad_bodies_and_content_types_get_4xx_and_store_nothing() {
    let app = TestApp::new().await;
    let garbage =
        post(&app, "application/x-protobuf", false, vec![0xff, 0xff, 0xff, 0x0f], None).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_slice(&garbage.body).unwrap();
    assert!(body["error"].as_str().unwrap().contains("protobuf"), "{body}");
    let not_json =
        post(&app, "application/json", false, b"{\"resourceSpans\":".to_vec(), None).await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    let wrong_shape =
        post(&app, "application/json", false, br#"{"resourceSpans":"x"}"#.to_vec(), None).await;
    assert_eq!(wrong_shape.status, StatusCode::BAD_REQUEST);
    let bad_gzip = TestRequest::post()
        .uri("/v1/traces")
        .insert_header(("content-type", "application/x-protobuf"))
        .insert_header(("content-encoding", "gzip"))
        .set_payload(vec![1, 2, 3, 4]);
    let svc = test::init_service(aicp_api::app::build(app.state(), None)).await;
    let res = test::call_service(&svc, bad_gzip.to_request()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let text = post(&app, "text/plain", false, b"hello".to_vec(), None).await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.count().await, 0);
}

#[actix_web::test]
async fn the_otlp_path_is_authenticated_like_event_ingest() {
    let app = TestApp::new().await.with_guard(&[("API_KEYS", "k-otlp")]);
    let body = request(vec![openai_chat(1)]).encode_to_vec();
    let missing = post(&app, "application/x-protobuf", false, body.clone(), None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    let wrong = post(&app, "application/x-protobuf", false, body.clone(), Some("nope")).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count().await, 0);
    let ok = post(&app, "application/x-protobuf", false, body, Some("k-otlp")).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.content_type.starts_with("application/x-protobuf"));
    assert_eq!(app.count().await, 1);
}

/// The analytics a dashboard shows for the day of [`T0`].
pub async fn analytics(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    for uri in [
        format!("/api/v1/analytics/cost-breakdown?{W}&groupBy=feature"),
        format!("/api/v1/analytics/cost-breakdown?{W}&groupBy=model"),
        format!("/api/v1/analytics/cost-breakdown?{W}&groupBy=user"),
        format!("/api/v1/analytics/summary?{W}"),
    ] {
        let r = app.get(&uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.body);
        out.push(r.body);
    }
    out
}

/// The JSON events equal to the spans both exporters send (see `tests/otlp/genai_spans.py`).
fn same_calls_as_json() -> String {
    batch(vec![
        event(
            "s1",
            json!({"traceId": "t1", "feature": "py-chat", "userId": "u-py", "model": "gpt-4o",
            "inputTokens": 1000, "outputTokens": 500, "cachedTokens": 200, "latencyMs": 812,
            "estimatedCostUsd": 0, "timestamp": "2026-01-05T10:00:00Z"}),
        ),
        event(
            "s2",
            json!({"traceId": "t1", "parentSpanId": "s1", "feature": "py-summarise", "userId": null,
            "provider": "anthropic", "model": "claude-3-5-sonnet-20241022", "inputTokens": 3000,
            "outputTokens": 250, "cachedTokens": 1000, "cacheWriteTokens": 500, "latencyMs": 700,
            "estimatedCostUsd": 0, "timestamp": "2026-01-05T10:00:00.010Z"}),
        ),
        event(
            "s3",
            json!({"traceId": "t2", "feature": "py-chat", "userId": null, "model": "gpt-4o-mini",
            "inputTokens": 10, "outputTokens": 0, "latencyMs": 52, "estimatedCostUsd": 0.0000015,
            "timestamp": "2026-01-05T10:00:02Z", "isError": true, "errorCode": "rate_limit_exceeded"}),
        ),
    ])
}

async fn json_baseline() -> Vec<Value> {
    let app = TestApp::new().await;
    let r = app.post_events(same_calls_as_json()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    analytics(&app).await
}

/// Sends the spans of `genai_spans.py` with the Rust SDK and its OTLP/HTTP protobuf exporter.
fn export_with_rust_sdk(endpoint: String) {
    use opentelemetry::trace::{
        Span as _, Status as OtelStatus, TraceContextExt, Tracer, TracerProvider as _,
    };
    use opentelemetry::{Context, KeyValue as Kv};
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    use std::time::{Duration, UNIX_EPOCH};

    let at = |ms: u64| UNIX_EPOCH + Duration::from_nanos(T0 + ms * MS);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .build();
    let tracer = provider.tracer("aicp-test");
    let mut root = tracer
        .span_builder("chat gpt-4o")
        .with_start_time(at(0))
        .with_attributes(vec![
            Kv::new("gen_ai.operation.name", "chat"),
            Kv::new("gen_ai.provider.name", "openai"),
            Kv::new("gen_ai.request.model", "gpt-4o"),
            Kv::new("gen_ai.response.model", "gpt-4o"),
            Kv::new("gen_ai.usage.input_tokens", 1000i64),
            Kv::new("gen_ai.usage.output_tokens", 500i64),
            Kv::new("gen_ai.usage.cache_read.input_tokens", 200i64),
            Kv::new("aicp.feature", "py-chat"),
            Kv::new("user.id", "u-py"),
        ])
        .start(&tracer);
    let cx = Context::new().with_remote_span_context(root.span_context().clone());
    let mut child = tracer
        .span_builder("anthropic.chat")
        .with_start_time(at(10))
        .with_attributes(vec![
            Kv::new("gen_ai.system", "Anthropic"),
            Kv::new("gen_ai.request.model", "claude-3-5-sonnet-20241022"),
            Kv::new("gen_ai.usage.prompt_tokens", 3000i64),
            Kv::new("gen_ai.usage.completion_tokens", 250i64),
            Kv::new("gen_ai.usage.cache_read_input_tokens", 1000i64),
            Kv::new("gen_ai.usage.cache_creation_input_tokens", 500i64),
            Kv::new("aicp.feature", "py-summarise"),
        ])
        .start_with_context(&tracer, &cx);
    child.end_with_timestamp(at(710));
    root.end_with_timestamp(at(812));
    let mut failed = tracer
        .span_builder("openai.chat")
        .with_start_time(at(2000))
        .with_attributes(vec![
            Kv::new("gen_ai.system", "openai"),
            Kv::new("gen_ai.request.model", "gpt-4o-mini"),
            Kv::new("gen_ai.usage.input_tokens", 10i64),
            Kv::new("gen_ai.usage.output_tokens", 0i64),
            Kv::new("gen_ai.usage.cost", 0.0000015f64),
            Kv::new("error.type", "rate_limit_exceeded"),
            Kv::new("aicp.feature", "py-chat"),
        ])
        .start(&tracer);
    failed.set_status(OtelStatus::error("429 Too Many Requests"));
    failed.end_with_timestamp(at(2052));
    let mut plain = tracer.span_builder("GET /health").with_start_time(at(3000)).start(&tracer);
    plain.set_attribute(Kv::new("http.request.method", "GET"));
    plain.end_with_timestamp(at(3001));
    provider.shutdown().unwrap();
}

#[actix_web::test]
async fn spans_from_the_rust_otlp_exporter_give_the_analytics_of_the_same_json_events() {
    let app = TestApp::new().await;
    let served = crate::served::serve(&app);
    let endpoint = format!("{}/v1/traces", served.base());
    // The exporter blocks on HTTP; this thread also runs the ingest writers, so it must not.
    tokio::task::spawn_blocking(move || export_with_rust_sdk(endpoint)).await.unwrap();
    assert_eq!(app.count().await, 3, "three GenAI spans stored, the HTTP span skipped");
    assert_eq!(analytics(&app).await, json_baseline().await);
}

#[actix_web::test]
async fn spans_from_the_python_opentelemetry_sdk_give_the_analytics_of_the_same_json_events() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otlp/genai_spans.py");
    let probe = std::process::Command::new("python3")
        .args(["-c", "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        _ => panic!(
            "python3 with the OpenTelemetry SDK is required for this test: \
             pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http"
        ),
    }
    let app = TestApp::new().await;
    let served = crate::served::serve(&app);
    let endpoint = format!("{}/v1/traces", served.base());
    let out = tokio::process::Command::new("python3")
        .args([script, &endpoint, ""])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert_eq!(app.count().await, 3, "three GenAI spans stored, the HTTP span skipped");
    assert_eq!(analytics(&app).await, json_baseline().await);
}

#[actix_web::test]
async fn a_json_export_with_a_rejected_span_gets_partial_success_in_json() {
    let app = TestApp::new().await;
    let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", "spanId": "0606060606060606", "name": "chat",
        "startTimeUnixNano": T0.to_string(), "endTimeUnixNano": T0.to_string(),
        "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}]
    }]}]}]});
    let raw = post(&app, "application/json", false, body.to_string().into_bytes(), None).await;
    assert_eq!(raw.status, StatusCode::OK);
    let reply: Value = serde_json::from_slice(&raw.body).unwrap();
    assert_eq!(reply["partialSuccess"]["rejectedSpans"], 1, "{reply}");
    let message = reply["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("span 0606060606060606: provider"),
        "no provider attribute: {message}"
    );
    assert_eq!(app.count().await, 0);
}

#[actix_web::test]
async fn a_gzipped_export_that_trickles_in_gets_408() {
    let db = aicp_test_support::TestDatabase::reserve();
    let server = crate::process::start_with(&db, &[("BODY_TIMEOUT_SECS", "1")]).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let head = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n\
                 Content-Encoding: gzip\r\nContent-Length: 1000\r\n\r\n\x1f\x8b";
    let answer = crate::process::trickle(addr, head, b"\0").await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
}
