//! POST /api/v1/events over the real database.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::support::{EXAMPLE_BATCH, TestApp, batch, event};

#[actix_web::test]
async fn the_original_example_batch_is_accepted_and_priced_exactly() {
    let app = TestApp::new().await;
    let reply = app.post_events(EXAMPLE_BATCH).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.body, json!({"success": true, "count": 2, "inserted": 2, "duplicates": 0}));
    let client = app.db.as_ref().unwrap().client().await;
    let rows = client
        .query(
            "SELECT span_id, verified_cost_usd::text, estimated_cost_usd::text, project_id, user_id, \
             is_error, error_code, metadata::text, created_at = '2026-01-05T10:00:00Z' \
             FROM events ORDER BY span_id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    assert_eq!(first.get::<_, String>(0), "sp_a1b2c3d4e5f6g7h8");
    assert_eq!(first.get::<_, String>(1), "0.007500000000");
    assert_eq!(first.get::<_, String>(2), "0.007500000000");
    assert_eq!(first.get::<_, String>(3), "default");
    assert_eq!(first.get::<_, Option<String>>(4).as_deref(), Some("user-123"));
    assert!(first.get::<_, bool>(8));
    let error = &rows[1];
    assert_eq!(error.get::<_, String>(1), "0.000000000000");
    assert_eq!(error.get::<_, Option<String>>(4), None);
    assert!(error.get::<_, bool>(5));
    assert_eq!(error.get::<_, Option<String>>(6).as_deref(), Some("server_error"));
    assert_eq!(
        error.get::<_, Option<String>>(7).as_deref(),
        Some(r#"{"error": "Custom error message"}"#)
    );
}

#[actix_web::test]
async fn sending_the_same_batch_twice_stores_each_event_once() {
    let app = TestApp::new().await;
    assert_eq!(app.post_events(EXAMPLE_BATCH).await.status, StatusCode::ACCEPTED);
    let again = app.post_events(EXAMPLE_BATCH).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body, json!({"success": true, "count": 2, "inserted": 0, "duplicates": 2}));
    assert_eq!(app.count().await, 2);
}

#[actix_web::test]
async fn concurrent_identical_batches_store_each_event_once() {
    let app = TestApp::new().await;
    let body = batch((0..50).map(|i| event(&format!("s{i}"), json!({}))).collect());
    let replies =
        futures_util::future::join_all((0..5).map(|_| app.post_events(body.clone()))).await;
    let mut inserted = 0;
    for r in &replies {
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        inserted += r.body["inserted"].as_u64().unwrap();
    }
    assert_eq!(inserted, 50);
    assert_eq!(app.count().await, 50);
}

#[actix_web::test]
async fn cached_tokens_are_charged_at_the_cached_price() {
    let app = TestApp::new().await;
    let body = batch(vec![event("a", json!({"cachedTokens": 200}))]);
    assert_eq!(app.post_events(body).await.status, StatusCode::ACCEPTED);
    let row = app
        .db
        .as_ref()
        .unwrap()
        .client()
        .await
        .query_one(
            "SELECT verified_cost_usd::text, cache_read_cost_usd::text, is_cache_hit FROM events",
            &[],
        )
        .await
        .unwrap();
    // 800 × 2.50 + 200 × 1.25 + 500 × 10.00 per million (the original charged 0.007).
    assert_eq!(row.get::<_, String>(0), "0.007250000000");
    assert_eq!(row.get::<_, String>(1), "0.000250000000");
    assert!(row.get::<_, bool>(2));
}

#[actix_web::test]
async fn an_unknown_model_is_priced_by_the_fallback_and_marked_unpriced() {
    let app = TestApp::new().await;
    let body = batch(vec![event("a", json!({"model": "mystery-model"}))]);
    assert_eq!(app.post_events(body).await.status, StatusCode::ACCEPTED);
    let row = app
        .db
        .as_ref()
        .unwrap()
        .client()
        .await
        .query_one("SELECT verified_cost_usd::text, priced_as FROM events", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "0.025000000000");
    assert_eq!(row.get::<_, Option<String>>(1), None);
}

#[actix_web::test]
async fn rfc3339_offsets_are_accepted_and_stored_in_utc() {
    let app = TestApp::new().await;
    let body = batch(vec![event("a", json!({"timestamp": "2026-01-05T17:00:00+07:00"}))]);
    assert_eq!(app.post_events(body).await.status, StatusCode::ACCEPTED);
    let row = app
        .db
        .as_ref()
        .unwrap()
        .client()
        .await
        .query_one("SELECT created_at = '2026-01-05T10:00:00Z' FROM events", &[])
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
}

#[actix_web::test]
async fn a_batch_of_500_events_is_accepted() {
    let app = TestApp::new().await;
    let body = batch((0..500).map(|i| event(&format!("s{i}"), json!({}))).collect());
    let reply = app.post_events(body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(app.count().await, 500);
}

#[actix_web::test]
async fn a_cost_that_rounds_up_to_the_limit_is_refused_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let body = r#"{"events":[{"traceId":"tr_1","spanId":"sp_1","feature":"chat","provider":"openai","model":"gpt-4o","inputTokens":1,"outputTokens":1,"latencyMs":1,"estimatedCostUsd":999999.9999999999999999,"timestamp":"2026-01-05T10:00:00.000Z"}]}"#;
    let r = app.post_events(body).await;
    assert_eq!(r.status, actix_web::http::StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.to_string().contains("estimatedCostUsd"), "{}", r.body);
    assert_eq!(app.count().await, 0);
}
