//! Bad input gets a clear 4xx JSON error and stores nothing; infrastructure failures get 503 with
//! Retry-After (mocked, as a real database cannot be made to fail on demand), never a leak.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use aicp_domain::RepoError;
use aicp_domain::ports::MockEventRepository;
use serde_json::{Value, json};

use crate::support::{EXAMPLE_BATCH, FixedProbe, TestApp, batch, event};

fn bad_bodies() -> Vec<(&'static str, String, &'static str)> {
    let one = |overrides: Value| batch(vec![event("a", overrides)]);
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep_metadata = {
        let mut m = json!("leaf");
        for _ in 0..40 {
            m = json!({ "k": m });
        }
        m
    };
    vec![
        ("malformed JSON", "{\"events\":[{".to_owned(), "malformed_json"),
        ("truncated JSON", EXAMPLE_BATCH[..100].to_owned(), "malformed_json"),
        ("NaN literal", EXAMPLE_BATCH.replace("0.0075", "NaN"), "malformed_json"),
        ("Infinity literal", EXAMPLE_BATCH.replace("0.0075", "Infinity"), "malformed_json"),
        ("deeply nested JSON", deep, "malformed_json"),
        ("empty body", String::new(), "malformed_json"),
        ("not an object", "[1,2]".to_owned(), "validation_failed"),
        ("no events", "{}".to_owned(), "validation_failed"),
        ("empty events", "{\"events\":[]}".to_owned(), "validation_failed"),
        (
            "501 events",
            batch((0..501).map(|i| event(&format!("s{i}"), json!({}))).collect()),
            "validation_failed",
        ),
        (
            "tokens above 2^31-1",
            one(json!({"inputTokens": 2_147_483_648_u64})),
            "validation_failed",
        ),
        ("huge tokens", one(json!({"outputTokens": 1e300})), "validation_failed"),
        ("negative tokens", one(json!({"cachedTokens": -1})), "validation_failed"),
        ("float tokens", one(json!({"inputTokens": 1.5})), "validation_failed"),
        ("tokens as string", one(json!({"inputTokens": "10"})), "validation_failed"),
        ("cost of 1e6", one(json!({"estimatedCostUsd": 1_000_000})), "validation_failed"),
        ("negative cost", one(json!({"estimatedCostUsd": -0.01})), "validation_failed"),
        ("NUL in feature", one(json!({"feature": "a\u{0}b"})), "validation_failed"),
        ("NUL in metadata", one(json!({"metadata": {"k": "a\u{0}"}})), "validation_failed"),
        ("metadata array", one(json!({"metadata": [1]})), "validation_failed"),
        ("metadata string", one(json!({"metadata": "x"})), "validation_failed"),
        ("metadata too deep", one(json!({"metadata": deep_metadata})), "validation_failed"),
        (
            "metadata too big",
            one(json!({"metadata": {"k": "x".repeat(20_000)}})),
            "validation_failed",
        ),
        ("unknown provider", one(json!({"provider": "acme"})), "validation_failed"),
        (
            "null userId",
            one(json!({})).replace(r#""userId":"u1""#, r#""userId":null"#),
            "validation_failed",
        ),
        ("empty model", one(json!({"model": ""})), "validation_failed"),
        ("huge string", one(json!({"feature": "f".repeat(100_000)})), "validation_failed"),
        (
            "offsetless timestamp",
            one(json!({"timestamp": "2026-01-05T10:00:00"})),
            "validation_failed",
        ),
        (
            "far-future timestamp",
            one(json!({"timestamp": "2999-01-01T00:00:00Z"})),
            "validation_failed",
        ),
        ("impossible date", one(json!({"timestamp": "2026-02-30T00:00:00Z"})), "validation_failed"),
        ("negative latency", one(json!({"latencyMs": -1})), "validation_failed"),
        ("boolean as string", one(json!({"isError": "true"})), "validation_failed"),
    ]
}

#[actix_web::test]
async fn every_kind_of_bad_body_gets_a_4xx_json_error_and_stores_nothing() {
    let app = TestApp::new().await;
    for (name, body, code) in bad_bodies() {
        let reply = app.post_events(body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}: {}", reply.body);
        assert_eq!(reply.body["code"], code, "{name}: {}", reply.body);
        assert!(reply.body["error"].is_string(), "{name}");
        assert!(reply.body["requestId"].is_string(), "{name}");
    }
    assert_eq!(app.count().await, 0);
}

#[actix_web::test]
async fn one_invalid_event_rejects_the_whole_batch_with_its_path() {
    let app = TestApp::new().await;
    let body = batch(vec![
        event("a", json!({})),
        event("b", json!({})),
        event("c", json!({})),
        event("d", json!({"model": Value::Null})),
    ]);
    let reply = app.post_events(body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"], "Validation failed");
    assert_eq!(reply.body["details"], json!([{"path": "events.3.model", "message": "Required"}]));
    assert_eq!(app.count().await, 0);
}

#[actix_web::test]
async fn the_validation_envelope_keeps_the_original_shape() {
    let app = TestApp::new().await;
    let body = batch(vec![event(
        "a",
        json!({"traceId": "", "inputTokens": 1.5, "provider": "bogus", "userId": 5, "metadata": []}),
    )]);
    let mut reply = app.post_events(body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    reply.body.as_object_mut().unwrap().remove("requestId");
    insta::assert_json_snapshot!(reply.body);
}

#[actix_web::test]
async fn a_body_over_the_limit_is_a_json_413_and_stores_nothing() {
    let app = TestApp::with_body_limit(1024).await;
    let body = batch((0..20).map(|i| event(&format!("s{i}"), json!({}))).collect());
    assert!(body.len() > 1024);
    let reply = app.post_events(body).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.body["code"], "payload_too_large");
    assert_eq!(app.count().await, 0);
}

#[actix_web::test]
async fn a_body_that_is_not_declared_json_is_a_415() {
    let app = TestApp::new().await;
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let mut req = TestRequest::post().uri("/api/v1/events").set_payload(EXAMPLE_BATCH);
        if let Some(ct) = content_type {
            req = req.insert_header(("content-type", ct));
        }
        let reply = app.call(req).await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type:?}");
        assert_eq!(reply.body["code"], "unsupported_media_type");
    }
    let reply = app
        .call(
            TestRequest::post()
                .uri("/api/v1/events")
                .insert_header(("content-type", "application/json; charset=utf-8"))
                .set_payload(EXAMPLE_BATCH),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(app.count().await, 2);
}

fn app_with_repo(result: fn() -> RepoError) -> TestApp {
    let mut repo = MockEventRepository::new();
    repo.expect_insert_batch().times(1).returning(move |_| Err(result()));
    TestApp::with_parts(Arc::new(repo), Arc::new(FixedProbe(true)), Arc::new(FixedProbe(true)))
}

#[actix_web::test]
async fn a_database_outage_is_a_503_with_retry_after() {
    let app = app_with_repo(|| RepoError::Unavailable("connection refused".to_owned()));
    let reply = app.post_events(EXAMPLE_BATCH).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers.get("retry-after").unwrap(), "1");
    assert_eq!(reply.body["code"], "service_unavailable");
    assert!(!reply.body.to_string().contains("connection refused"));
}

#[actix_web::test]
async fn a_full_write_queue_is_a_503_with_retry_after() {
    let app = app_with_repo(|| RepoError::Overloaded);
    let reply = app.post_events(EXAMPLE_BATCH).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers.get("retry-after").unwrap(), "1");
    assert_eq!(reply.body["code"], "overloaded");
}

#[actix_web::test]
async fn an_unexpected_failure_is_a_500_that_leaks_nothing() {
    let app = app_with_repo(|| {
        RepoError::Unexpected(anyhow::anyhow!(
            "ERROR: relation \"events\" does not exist at character 13"
        ))
    });
    let reply = app.post_events(EXAMPLE_BATCH).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.body["error"], "Internal server error");
    assert_eq!(reply.body["code"], "internal_error");
    let text = reply.body.to_string();
    assert!(!text.contains("relation") && !text.contains("events\\\""), "{text}");
}

#[actix_web::test]
async fn a_real_unreachable_database_is_a_503_not_a_500() {
    let mut config = aicp_storage::PoolConfig::new("postgres://postgres@127.0.0.1:1/none");
    config.wait_timeout = std::time::Duration::from_millis(300);
    let pool = aicp_storage::build_pool(&config).unwrap();
    let (repo, _writers) =
        aicp_storage::PgEventRepository::start(pool, &aicp_storage::GroupCommitConfig::default());
    let app = TestApp::with_parts(
        Arc::new(repo),
        Arc::new(FixedProbe(false)),
        Arc::new(FixedProbe(true)),
    );
    let reply = app.post_events(EXAMPLE_BATCH).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.headers.contains_key("retry-after"));
}

#[actix_web::test]
async fn a_repeated_key_takes_its_last_value_as_the_originals_json_parse_does() {
    let app = TestApp::new().await;
    let body = r#"{"events":[{"traceId":"t","spanId":"s","feature":"chat","provider":"openai",
        "model":"no-such-model","model":"gpt-4o","inputTokens":1000,"outputTokens":500,
        "latencyMs":10,"estimatedCostUsd":0,"timestamp":"2026-01-05T10:00:00.000Z"}]}"#;
    let reply = app.post_events(body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let db = app.db.as_ref().unwrap().client().await;
    let model: String = db.query_one("SELECT model FROM events", &[]).await.unwrap().get(0);
    assert_eq!(model, "gpt-4o");
}
