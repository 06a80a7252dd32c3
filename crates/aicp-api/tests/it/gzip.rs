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

#[actix_web::test]
async fn deflate_is_accepted_and_other_encodings_get_400() {
    use std::io::Write;
    let app = TestApp::new().await;
    let body = batch(vec![event("d", json!({}))]);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(body.as_bytes()).unwrap();
    let deflated = TestRequest::post()
        .uri("/api/v1/events")
        .insert_header(("content-type", "application/json"))
        .insert_header(("content-encoding", "deflate"))
        .set_payload(z.finish().unwrap());
    let r = app.call(deflated).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let br = TestRequest::post()
        .uri("/api/v1/events")
        .insert_header(("content-type", "application/json"))
        .insert_header(("content-encoding", "br"))
        .set_payload(body);
    let r = app.call(br).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["error"].as_str().unwrap().contains("Content-Encoding"), "{}", r.body);
    assert_eq!(app.count().await, 1);
}

#[actix_web::test]
async fn a_large_gzipped_batch_is_inflated_off_the_request_thread_and_stored_whole() {
    use rand::Rng;
    let app = TestApp::new().await;
    let mut rng = rand::rng();
    let events: Vec<_> = (0..400)
        .map(|i| {
            let noise: String =
                (0..300).map(|_| format!("{:x}", rng.random::<u8>() % 16)).collect();
            event(&format!("big-{i}"), json!({"metadata": {"noise": noise}}))
        })
        .collect();
    let compressed = gz(batch(events).as_bytes());
    assert!(compressed.len() > 64 * 1024, "{} bytes: not past the inline size", compressed.len());
    let r = app.call(gzipped(compressed)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["inserted"], 400);
}
