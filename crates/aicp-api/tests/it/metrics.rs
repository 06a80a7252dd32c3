//! `GET /metrics`: admin key on the main port, Prometheus text, and counters that move with
//! traffic. The recorder is process-wide and tests run in parallel, so assertions compare a
//! scrape before and after this test's traffic and expect at least its share.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::json;

use crate::support::{TestApp, batch, event};

const ADMIN: &str = "admin-metrics";
const KEY: &str = "k-metrics";

async fn scrape(app: &TestApp, key: &str) -> (StatusCode, String) {
    let r =
        app.call_text(TestRequest::get().uri("/metrics").insert_header(("x-api-key", key))).await;
    (r.status, r.body)
}

/// The value of the sample `name{labels}` (labels exactly as rendered), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter_map(|l| l.strip_prefix(series))
        .filter_map(|rest| rest.strip_prefix(' '))
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .sum()
}

async fn post(app: &TestApp, uri: &str, content_type: &str, body: Vec<u8>) -> StatusCode {
    app.call_text(
        TestRequest::post()
            .uri(uri)
            .insert_header(("content-type", content_type))
            .insert_header(("x-api-key", KEY))
            .set_payload(body),
    )
    .await
    .status
}

#[actix_web::test]
async fn metrics_need_the_admin_key_and_count_requests_events_limits_exports_and_spans() {
    assert!(aicp_api::metrics::install().is_some());
    let app = TestApp::new().await.with_guard(&[("API_KEYS", KEY), ("ADMIN_KEY", ADMIN)]);
    let (status, before) = scrape(&app, ADMIN).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(scrape(&app, KEY).await.0, StatusCode::FORBIDDEN, "an API key is not enough");
    let none = app.call_text(TestRequest::get().uri("/metrics")).await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);

    let events = batch(vec![event("m1", json!({})), event("m2", json!({}))]);
    assert_eq!(
        post(&app, "/api/v1/events", "application/json", events.clone().into_bytes()).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        post(&app, "/api/v1/events", "application/json", events.into_bytes()).await,
        StatusCode::ACCEPTED
    );
    let invalid = batch(vec![event("m3", json!({"model": ""}))]);
    assert_eq!(
        post(&app, "/api/v1/events", "application/json", invalid.into_bytes()).await,
        StatusCode::BAD_REQUEST
    );
    let spans = json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b", "spanId": "0707070707070707", "name": "GET /",
        "startTimeUnixNano": "1767607200000000000", "endTimeUnixNano": "1767607200100000000"}]}]}]});
    assert_eq!(
        post(&app, "/v1/traces", "application/json", spans.to_string().into_bytes()).await,
        StatusCode::OK
    );
    let export = app
        .call_text(
            TestRequest::get()
                .uri("/api/v1/export/events?format=ndjson")
                .insert_header(("x-api-key", KEY)),
        )
        .await;
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(export.body.lines().count(), 2);

    let (_, after) = scrape(&app, ADMIN).await;
    let grew = |series: &str| sample(&after, series) - sample(&before, series);
    assert!(
        grew(r#"aicp_http_requests_total{method="POST",route="/api/v1/events",status="202"}"#)
            >= 2.0,
        "{after}"
    );
    assert!(
        grew(r#"aicp_http_requests_total{method="POST",route="/api/v1/events",status="400"}"#)
            >= 1.0
    );
    assert!(grew(r#"aicp_http_requests_total{method="GET",route="/metrics",status="403"}"#) >= 2.0);
    assert!(
        grew(r#"aicp_http_request_duration_seconds_count{method="POST",route="/v1/traces"}"#)
            >= 1.0,
        "{after}"
    );
    assert!(grew(r#"aicp_events_total{outcome="inserted"}"#) >= 2.0);
    assert!(grew(r#"aicp_events_total{outcome="duplicate"}"#) >= 2.0);
    assert!(grew(r#"aicp_ingest_batches_refused_total{reason="invalid"}"#) >= 1.0);
    assert!(grew(r#"aicp_ingest_batch_events_count"#) >= 2.0, "{after}");
    assert!(
        grew(r#"aicp_ratelimit_decisions_total{policy="events",decision="allowed"}"#) >= 4.0,
        "{after}"
    );
    assert!(grew(r#"aicp_otlp_spans_total{outcome="skipped"}"#) >= 1.0);
    assert!(grew(r#"aicp_export_rows_total{export="events"}"#) >= 2.0);
    assert!(after.contains("# TYPE aicp_http_request_duration_seconds histogram"), "{after}");
}

#[actix_web::test]
async fn the_binary_serves_metrics_without_a_key_on_metrics_addr_only() {
    let db = aicp_test_support::TestDatabase::reserve();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let server = crate::process::start_with(
        &db,
        &[
            ("METRICS_ADDR", &addr),
            ("ADMIN_KEY", ADMIN),
            ("REDIS_KEY_PREFIX", &format!("aicp-test:{}:", uuid::Uuid::new_v4())),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let posted = client
        .post(format!("{}/api/v1/events", server.base))
        .header("content-type", "application/json")
        .body(batch(vec![event("p1", json!({}))]))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 202);
    let open = client.get(format!("http://{addr}/metrics")).send().await.unwrap();
    assert_eq!(open.status(), 200);
    let text = open.text().await.unwrap();
    assert_eq!(sample(&text, r#"aicp_events_total{outcome="inserted"}"#), 1.0, "{text}");
    let main = client.get(format!("{}/metrics", server.base)).send().await.unwrap();
    assert_eq!(main.status(), 403, "the main port still wants the admin key");
}
