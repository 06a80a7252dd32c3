//! `Content-Encoding: gzip` on JSON event ingest (what `aicp-client` sends).

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::json;

use crate::otlp::gz;
use crate::support::{TestApp, batch, event};

fn gzipped(body: Vec<u8>) -> TestRequest {
    TestRequest::post()
        .uri("/api/v1/events")
        .insert_header(("content-type", "application/json"))
        .insert_header(("content-encoding", "gzip"))
        .set_payload(body)
}

#[actix_web::test]
async fn a_gzipped_event_batch_is_stored_like_a_plain_one() {
    let app = TestApp::new().await;
    let body = batch(vec![event("a", json!({})), event("b", json!({}))]);
    let r = app.call(gzipped(gz(body.as_bytes()))).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["inserted"], 2);
}

#[actix_web::test]
async fn a_gzip_bomb_is_refused_with_413_and_a_corrupt_gzip_body_with_400() {
    let app = TestApp::with_body_limit(16 * 1024).await;
    let padding = "x".repeat(64 * 1024);
    let body = batch(vec![event("a", json!({"metadata": {"p": padding}}))]);
    let r = app.call(gzipped(gz(body.as_bytes()))).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    let r = app.call(gzipped(b"not gzip at all".to_vec())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(app.count().await, 0);
}
