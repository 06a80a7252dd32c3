//! GET /health, request ids, 404s, CORS and the OpenAPI document.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use aicp_domain::ports::MockEventRepository;

use crate::support::{FixedProbe, TestApp};

#[actix_web::test]
async fn health_is_ok_when_postgres_and_redis_answer() {
    let app = TestApp::new().await;
    let reply = app.call(TestRequest::get().uri("/health")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["status"], "ok");
    assert_eq!(reply.body["dependencies"]["database"], "ok");
    assert_eq!(reply.body["dependencies"]["redis"], "ok");
    let ts = reply.body["timestamp"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with('Z') && ts.len() == 24,
        "{ts}"
    );
}

#[actix_web::test]
async fn health_is_degraded_with_503_when_a_dependency_is_down() {
    let app = TestApp::with_parts(
        Arc::new(MockEventRepository::new()),
        Arc::new(FixedProbe(true)),
        Arc::new(FixedProbe(false)),
    );
    let reply = app.call(TestRequest::get().uri("/health")).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.body["status"], "degraded");
    assert_eq!(reply.body["dependencies"]["redis"], "down");
    assert_eq!(reply.body["dependencies"]["database"], "ok");
}

#[actix_web::test]
async fn an_unknown_path_is_a_json_404_with_the_path() {
    let app = TestApp::with_parts(
        Arc::new(MockEventRepository::new()),
        Arc::new(FixedProbe(true)),
        Arc::new(FixedProbe(true)),
    );
    let reply = app.call(TestRequest::get().uri("/api/v1/nope?x=1")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body["error"], "Not found");
    assert_eq!(reply.body["code"], "not_found");
    assert_eq!(reply.body["path"], "/api/v1/nope");
    // Wrong method on a known path: 404 as in the original.
    let reply = app.call(TestRequest::get().uri("/api/v1/events")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn a_client_request_id_is_echoed_and_a_bad_one_is_replaced() {
    let app = TestApp::with_parts(
        Arc::new(MockEventRepository::new()),
        Arc::new(FixedProbe(true)),
        Arc::new(FixedProbe(true)),
    );
    let reply =
        app.call(TestRequest::get().uri("/nope").insert_header(("x-request-id", "req-123"))).await;
    assert_eq!(reply.headers.get("x-request-id").unwrap(), "req-123");
    assert_eq!(reply.body["requestId"], "req-123");
    let long = "x".repeat(500);
    let reply = app
        .call(TestRequest::get().uri("/nope").insert_header(("x-request-id", long.as_str())))
        .await;
    let id = reply.headers.get("x-request-id").unwrap().to_str().unwrap();
    assert_ne!(id, long);
    assert_eq!(reply.body["requestId"], id);
}

#[actix_web::test]
async fn cors_allows_the_configured_origin_and_no_other() {
    let app = TestApp::with_parts(
        Arc::new(MockEventRepository::new()),
        Arc::new(FixedProbe(true)),
        Arc::new(FixedProbe(true)),
    );
    let preflight = |origin: &str| {
        TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/api/v1/events")
            .insert_header(("origin", origin.to_owned()))
            .insert_header(("access-control-request-method", "POST"))
            .insert_header(("access-control-request-headers", "content-type"))
    };
    let ok = app.call(preflight("http://localhost:3000")).await;
    assert!(ok.status.is_success(), "{}", ok.status);
    assert_eq!(ok.headers.get("access-control-allow-origin").unwrap(), "http://localhost:3000");
    let evil = app.call(preflight("http://evil.example")).await;
    assert!(evil.headers.get("access-control-allow-origin").is_none());
    assert!(evil.status.is_client_error());
    assert!(evil.body.get("code").is_some(), "{}", evil.body);
    // A simple GET from another origin is served without CORS headers (docs/API.md, CORS): the
    // browser keeps the answer from the page.
    let get = app
        .call(TestRequest::get().uri("/health").insert_header(("origin", "http://evil.example")))
        .await;
    assert_eq!(get.status, StatusCode::OK);
    assert!(get.headers.get("access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::with_parts(
        Arc::new(MockEventRepository::new()),
        Arc::new(FixedProbe(true)),
        Arc::new(FixedProbe(true)),
    );
    let reply = app.call(TestRequest::get().uri("/api/v1/openapi.json")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let paths = reply.body["paths"].as_object().unwrap();
    for path in [
        "/health",
        "/api/v1/events",
        "/api/v1/openapi.json",
        "/api/v1/analytics/cost-breakdown",
        "/api/v1/analytics/flamegraph",
        "/api/v1/analytics/timeseries",
        "/api/v1/analytics/prompts",
        "/api/v1/analytics/prompts/{id}/similar",
        "/api/v1/analytics/prompt-templates",
        "/api/v1/analytics/realtime-totals",
        "/api/v1/analytics/events",
        "/api/v1/analytics/summary",
        "/api/v1/analytics/top-calls",
        "/api/v1/analytics/traces/{traceId}",
        "/api/v1/analytics/call-paths",
        "/api/v1/pricing",
        "/api/v1/pricing/reprice",
        "/api/v1/pricing/coverage",
        "/api/v1/export/events",
        "/api/v1/export/cost-summary",
        "/api/v1/export/features",
        "/api/v1/export/models",
        "/api/v1/export/prompts",
        "/api/v1/stream/costs",
        "/api/v1/stream/token",
        "/api/v1/admin/projects/{project}/keys",
        "/api/v1/admin/projects/{project}/keys/{id}",
    ] {
        assert!(paths.contains_key(path), "{path} missing from {:?}", paths.keys());
    }
}

#[actix_web::test]
async fn readiness_stays_200_with_redis_down_and_is_503_with_the_database_down() {
    for (db, redis, status, ready) in [
        (true, true, StatusCode::OK, true),
        (true, false, StatusCode::OK, true),
        (false, true, StatusCode::SERVICE_UNAVAILABLE, false),
    ] {
        let app = TestApp::with_parts(
            Arc::new(MockEventRepository::new()),
            Arc::new(FixedProbe(db)),
            Arc::new(FixedProbe(redis)),
        );
        let reply = app.call(TestRequest::get().uri("/health/ready")).await;
        assert_eq!(reply.status, status, "db {db}, redis {redis}: {}", reply.body);
        assert_eq!(reply.body["ready"], ready);
        assert_eq!(reply.body["dependencies"]["redis"], if redis { "ok" } else { "down" });
    }
}
