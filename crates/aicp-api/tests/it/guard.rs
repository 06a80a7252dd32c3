//! Authentication, tenancy and rate limiting of `/api`.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::{Value, json};

use crate::support::{TestApp, batch, event};

fn with_key(req: TestRequest, key: &str) -> TestRequest {
    req.insert_header(("x-api-key", key.to_owned()))
}

async fn post_as(app: &TestApp, key: &str, body: String) -> crate::support::Reply {
    app.call(with_key(
        TestRequest::post()
            .uri("/api/v1/events")
            .insert_header(("content-type", "application/json"))
            .set_payload(body),
        key,
    ))
    .await
}

async fn get_as(app: &TestApp, key: &str, uri: &str) -> crate::support::Reply {
    app.call(with_key(TestRequest::get().uri(uri), key)).await
}

#[actix_web::test]
async fn the_originals_api_keys_keep_working_with_its_401_and_403_bodies() {
    let app = TestApp::new().await.with_guard(&[("API_KEYS", "k-one, k-two")]);
    let body = batch(vec![event("a", json!({}))]);
    let missing = app.post_events(body.clone()).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.body["error"], "Authentication required");
    assert_eq!(missing.body["message"], "Provide a valid API key via the X-API-Key header");
    let wrong = post_as(&app, "nope", body.clone()).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(
        wrong.body,
        json!({"error": "Forbidden", "message": "Invalid API key", "code": "forbidden", "requestId": wrong.body["requestId"]})
    );
    let ok = post_as(&app, "k-two", body).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED);
    let bearer = app
        .call(
            TestRequest::get()
                .uri("/api/v1/analytics/realtime-totals")
                .insert_header(("authorization", "Bearer k-one")),
        )
        .await;
    assert_eq!(bearer.body["totalRequests"], 1);
    // Unknown /api paths are authenticated first (as the original); /health is open.
    assert_eq!(app.get("/api/v1/nope").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/health").await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/openapi.json").await.status, StatusCode::OK);
}

pub(crate) async fn issue_key(app: &TestApp, project: &str) -> String {
    let r = app
        .call(
            TestRequest::post()
                .uri(&format!("/api/v1/admin/projects/{project}/keys"))
                .insert_header(("x-api-key", "admin-secret"))
                .insert_header(("content-type", "application/json"))
                .set_payload(r#"{"name":"test"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let key = r.body["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("aicp_"));
    assert!(
        !r.body["info"].to_string().contains(&key[10..30]),
        "the display form hides the secret"
    );
    key
}

#[actix_web::test]
async fn every_read_and_write_is_scoped_to_the_project_of_the_key() {
    let app = TestApp::new().await.with_guard(&[("ADMIN_KEY", "admin-secret")]);
    let alpha = issue_key(&app, "alpha").await;
    let beta = issue_key(&app, "beta").await;
    // The same trace/span ids in two projects are two events.
    let shared =
        batch((0..5).map(|i| event(&format!("s{i}"), json!({"feature": "shared"}))).collect());
    assert_eq!(post_as(&app, &alpha, shared.clone()).await.body["inserted"], 5);
    assert_eq!(post_as(&app, &beta, shared).await.body["inserted"], 5);
    let only_beta = batch(vec![event("b1", json!({"feature": "beta-only", "projectId": "alpha"}))]);
    assert_eq!(post_as(&app, &beta, only_beta).await.status, StatusCode::ACCEPTED);

    let w = "from=2026-01-01&to=2026-02-01";
    for (key, features, rows) in
        [(&alpha, vec!["shared"], 5), (&beta, vec!["beta-only", "shared"], 6)]
    {
        let r = get_as(&app, key, &format!("/api/v1/analytics/cost-breakdown?{w}&groupBy=feature"))
            .await;
        let mut got: Vec<&str> =
            r.body.as_array().unwrap().iter().map(|g| g["dimension"].as_str().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, features);
        let page = get_as(&app, key, &format!("/api/v1/analytics/events?{w}&limit=200")).await;
        let data = page.body["data"].as_array().unwrap();
        assert_eq!(data.len(), rows);
        let project = if key == &alpha { "alpha" } else { "beta" };
        assert!(data.iter().all(|e| e["projectId"] == project));
        let export = get_as(&app, key, "/api/v1/export/events?format=json").await;
        assert_eq!(export.body.as_array().unwrap().len(), rows);
        let trace = get_as(&app, key, "/api/v1/analytics/traces/tr_1").await;
        assert_eq!(trace.body["spanCount"].as_u64().unwrap() as usize, rows);
    }
    // A revoked key stops working at once.
    let keys = app
        .call(
            TestRequest::get()
                .uri("/api/v1/admin/projects/alpha/keys")
                .insert_header(("x-api-key", "admin-secret")),
        )
        .await;
    let id = keys.body[0]["id"].as_str().unwrap().to_owned();
    assert!(!keys.body.to_string().contains(&alpha), "listing never shows a secret");
    let revoked = app
        .call(
            TestRequest::delete()
                .uri(&format!("/api/v1/admin/projects/alpha/keys/{id}"))
                .insert_header(("x-api-key", "admin-secret")),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(
        get_as(&app, &alpha, &format!("/api/v1/analytics/summary?{w}")).await.status,
        StatusCode::FORBIDDEN
    );
    // Admin endpoints need the admin key; a project key is not enough.
    let denied = get_as(&app, &beta, "/api/v1/admin/projects/beta/keys").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let bad = app
        .call(
            TestRequest::get()
                .uri("/api/v1/admin/projects/Bad%20Name/keys")
                .insert_header(("x-api-key", "admin-secret")),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn a_client_over_its_limit_gets_the_originals_429_with_retry_after() {
    let app = TestApp::new().await.with_guard(&[("RATE_LIMIT_EXPORT", "2")]);
    let mut statuses = Vec::new();
    let mut last = Value::Null;
    for _ in 0..3 {
        let r = app
            .call(
                TestRequest::get()
                    .uri("/api/v1/export/events?format=json")
                    .peer_addr("10.1.1.1:5000".parse().unwrap()),
            )
            .await;
        statuses.push(r.status);
        if r.status == StatusCode::OK {
            assert_eq!(r.headers.get("x-ratelimit-limit").unwrap(), "2");
            let reset: i64 =
                r.headers.get("x-ratelimit-reset").unwrap().to_str().unwrap().parse().unwrap();
            assert!(reset > 1_700_000_000_000, "epoch milliseconds");
            assert!(
                r.headers.contains_key("ratelimit") && r.headers.contains_key("ratelimit-policy")
            );
        } else {
            assert!(r.headers.contains_key("retry-after"));
            last = r.body;
        }
    }
    assert_eq!(statuses, [StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]);
    assert_eq!(last["error"], "Rate limit exceeded");
    assert_eq!(last["message"], "Too many requests. Limit: 2 per 60s");
    assert!(last["retryAfter"].as_u64().unwrap() >= 1);
}

#[actix_web::test]
async fn a_spoofed_x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = TestApp::new()
        .await
        .with_guard(&[("RATE_LIMIT_EXPORT", "1"), ("TRUSTED_PROXIES", "10.0.0.1")]);
    let req = |peer: &str, xff: &str| {
        TestRequest::get()
            .uri("/api/v1/export/events?format=json")
            .peer_addr(peer.parse().unwrap())
            .insert_header(("x-forwarded-for", xff.to_owned()))
    };
    assert_eq!(app.call(req("192.0.2.7:1", "9.9.9.1")).await.status, StatusCode::OK);
    // Same untrusted peer, another claimed address: same bucket.
    assert_eq!(app.call(req("192.0.2.7:1", "9.9.9.2")).await.status, StatusCode::TOO_MANY_REQUESTS);
    // Through the trusted proxy, the right-most untrusted address is the client.
    assert_eq!(app.call(req("10.0.0.1:1", "1.1.1.1, 198.51.100.9")).await.status, StatusCode::OK);
    assert_eq!(
        app.call(req("10.0.0.1:1", "2.2.2.2, 198.51.100.9")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(app.call(req("10.0.0.1:1", "198.51.100.10")).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn with_redis_down_requests_are_still_served_and_limited_locally() {
    let app = TestApp::new()
        .await
        .with_guard_on_redis(&[("RATE_LIMIT_EXPORT", "2")], "redis://127.0.0.1:1");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = app
            .call(
                TestRequest::get()
                    .uri("/api/v1/export/events?format=json")
                    .peer_addr("10.9.9.9:1".parse().unwrap()),
            )
            .await;
        statuses.push(r.status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

#[actix_web::test]
async fn with_random_data_in_two_projects_no_endpoint_returns_the_other_projects_rows() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    let app = TestApp::new().await.with_guard(&[("ADMIN_KEY", "admin-secret")]);
    let keys = [issue_key(&app, "p-one").await, issue_key(&app, "p-two").await];
    let mut rng = StdRng::seed_from_u64(99);
    let mut mine = [0usize, 0usize];
    for round in 0..6 {
        let who = rng.random_range(0..2);
        // Some span ids are shared between the projects on purpose.
        let events: Vec<Value> = (0..rng.random_range(1..40))
            .map(|i| {
                event(
                    &format!("s{}", rng.random_range(0..60)),
                    json!({
                        "traceId": format!("t{}", i % 3),
                        "feature": format!("{}-f{}", ["one", "two"][who], rng.random_range(0..3)),
                        "userId": format!("{}-u{}", ["one", "two"][who], rng.random_range(0..3)),
                        "timestamp": format!("2026-01-0{}T1{}:00:00Z", 5 + round % 3, rng.random_range(0..9)),
                    }),
                )
            })
            .collect();
        let r = post_as(&app, &keys[who], batch(events)).await;
        mine[who] += r.body["inserted"].as_u64().unwrap() as usize;
    }
    let w = "from=2026-01-01&to=2026-02-01";
    for (who, key) in keys.iter().enumerate() {
        let own = ["one", "two"][who];
        let other = ["one", "two"][1 - who];
        let page = get_as(&app, key, &format!("/api/v1/analytics/events?{w}&limit=200")).await;
        assert_eq!(page.body["data"].as_array().unwrap().len(), mine[who]);
        for uri in [
            format!("/api/v1/analytics/cost-breakdown?{w}&groupBy=feature"),
            format!("/api/v1/analytics/cost-breakdown?{w}&groupBy=user"),
            format!("/api/v1/analytics/flamegraph?{w}"),
            format!("/api/v1/analytics/events?{w}&limit=200"),
            format!("/api/v1/analytics/top-calls?{w}&limit=100"),
            format!("/api/v1/analytics/call-paths?{w}"),
            "/api/v1/analytics/traces/t0".to_owned(),
            "/api/v1/export/events?format=json".to_owned(),
            "/api/v1/export/features?format=json".to_owned(),
        ] {
            let r = get_as(&app, key, &uri).await;
            let text = r.body.to_string();
            assert!(
                !text.contains(&format!("{other}-")),
                "{own} sees {other}'s rows at {uri}: {text}"
            );
        }
        let totals = get_as(&app, key, "/api/v1/analytics/realtime-totals").await;
        assert_eq!(totals.body["totalRequests"].as_u64().unwrap() as usize, mine[who]);
    }
}
