//! Analytics end to end over the real database: the original dashboard's shapes, aggregates equal
//! to a naive recomputation over random windows (rollups + raw edges), the new insight endpoints,
//! and bad parameters.

use actix_web::http::StatusCode;
use chrono::{Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::support::{TestApp, batch, event};

const W: &str = "from=2026-01-05T00:00:00.000Z&to=2026-01-06T00:00:00.000Z";

/// A small fixture in the spirit of the original's: two features, three models, one error, one
/// retry, one trace with children.
async fn fixture(app: &TestApp) {
    let events = vec![
        event(
            "e1",
            json!({"feature": "chat", "model": "gpt-4o", "latencyMs": 251, "timestamp": "2026-01-05T10:00:00Z", "userId": "u1"}),
        ),
        event(
            "e2",
            json!({"feature": "chat", "provider": "anthropic", "model": "claude-3-5-sonnet-20241022", "cachedTokens": 200, "latencyMs": 300, "timestamp": "2026-01-05T10:30:00Z", "userId": Value::Null}),
        ),
        event(
            "e3",
            json!({"feature": "search", "model": "mystery-model", "latencyMs": 100, "timestamp": "2026-01-05T11:00:00Z", "isError": true, "userId": "u2"}),
        ),
        event(
            "e4",
            json!({"feature": "search", "model": "gpt-4o-mini", "inputTokens": 10000, "outputTokens": 10, "retryCount": 2, "latencyMs": 50, "timestamp": "2026-01-05T12:00:00Z", "metadata": {"prompt": "big prompt A"}, "userId": "u2"}),
        ),
        json!({"traceId": "tr_agent", "spanId": "root", "feature": "agent", "provider": "openai", "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500, "latencyMs": 10, "estimatedCostUsd": 0, "timestamp": "2026-01-05T13:00:00Z"}),
        json!({"traceId": "tr_agent", "spanId": "child", "parentSpanId": "root", "feature": "search", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 1000, "outputTokens": 500, "latencyMs": 10, "estimatedCostUsd": 0, "timestamp": "2026-01-05T13:00:01Z"}),
    ];
    let reply = app.post_events(batch(events)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
}

#[actix_web::test]
async fn the_original_dashboard_calls_get_the_shapes_it_reads() {
    let app = TestApp::new().await;
    fixture(&app).await;

    let r = app.get(&format!("/api/v1/analytics/cost-breakdown?{W}&groupBy=feature")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let search = r.body.as_array().unwrap().iter().find(|g| g["dimension"] == "search").unwrap();
    // mystery 1000/500 at the 10/30 fallback + gpt-4o-mini 10000/10 + child 1000/500 of gpt-4o-mini.
    assert_eq!(search["totalCostUsd"], json!(0.025 + 0.001506 + 0.00045));
    assert_eq!(search["requestCount"], 3);
    assert_eq!(search["totalTokens"], 1500 + 10010 + 1500);
    assert!(search["avgLatencyMs"].is_number());
    let users = app.get(&format!("/api/v1/analytics/cost-breakdown?{W}&groupBy=user")).await;
    let dims: Vec<&str> =
        users.body.as_array().unwrap().iter().map(|g| g["dimension"].as_str().unwrap()).collect();
    assert_eq!(dims.len(), 2, "calls without a user are left out: {dims:?}");

    let f = app.get(&format!("/api/v1/analytics/flamegraph?{W}")).await;
    assert_eq!(f.body["name"], "root");
    let features: Vec<&str> = f.body["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(features, ["agent", "chat", "search"]);
    assert!(
        f.body["children"][0]["children"][0].get("children").is_none(),
        "leaves have no children"
    );

    let t = app.get(&format!("/api/v1/analytics/timeseries?{W}&granularity=hour")).await;
    let points = t.body.as_array().unwrap();
    assert_eq!(points.len(), 4);
    assert_eq!(points[0]["timestamp"], "2026-01-05T10:00:00.000Z");
    assert_eq!(points[0]["value"], points[0]["cost"]);
    let filled =
        app.get(&format!("/api/v1/analytics/timeseries?{W}&granularity=hour&fill=true")).await;
    assert_eq!(filled.body.as_array().unwrap().len(), 25, "00:00 to 00:00 inclusive, hourly");
    assert_eq!(filled.body[0]["cost"], 0.0);

    let p = app.get(&format!("/api/v1/analytics/prompts?{W}")).await;
    assert_eq!(p.status, StatusCode::OK);
    let first = &p.body[0];
    // The original's `metadata.prompt` is fingerprinted like any prompt: the text, not the JSON.
    assert_eq!(first["content"], "big prompt A");
    assert_eq!(first["similarPrompts"], json!([]));
    assert!(first["totalCostUsd"].is_number());

    let totals = app.get("/api/v1/analytics/realtime-totals").await;
    assert_eq!(totals.body["totalRequests"], 6);
}

#[actix_web::test]
async fn events_are_paginated_by_cursor_without_gaps_or_repeats() {
    let app = TestApp::new().await;
    // 25 events, several in the same millisecond (distinct microseconds).
    let events: Vec<Value> = (0..25)
        .map(|i| {
            event(
                &format!("s{i:02}"),
                json!({"timestamp": format!("2026-01-05T10:00:00.{:06}Z", 500 + i / 3)}),
            )
        })
        .collect();
    assert_eq!(app.post_events(batch(events)).await.status, StatusCode::ACCEPTED);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut uri = format!("/api/v1/analytics/events?{W}&limit=7");
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={}", urlencode(c)));
        }
        let page = app.get(&uri).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for row in page.body["data"].as_array().unwrap() {
            seen.push(row["spanId"].as_str().unwrap().to_owned());
            assert!(row["verifiedCostUsd"].is_string());
        }
        if page.body["pagination"]["hasMore"] == false {
            assert_eq!(page.body["pagination"]["nextCursor"], Value::Null);
            break;
        }
        cursor = page.body["pagination"]["nextCursor"].as_str().map(str::to_owned);
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (25, 25));
    let defaults = app.get(&format!("/api/v1/analytics/events?{W}")).await;
    assert_eq!(defaults.body["data"].as_array().unwrap().len(), 25);
    let capped = app.get(&format!("/api/v1/analytics/events?{W}&limit=5000")).await;
    assert_eq!(capped.status, StatusCode::OK);
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
}

#[actix_web::test]
async fn aggregates_equal_a_naive_recomputation_over_random_windows() {
    let app = TestApp::new().await;
    let mut rng = StdRng::seed_from_u64(11);
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let features = ["chat", "search", "agent"];
    let models = ["gpt-4o", "gpt-4o-mini", "mystery"];
    let mut events = Vec::new();
    for i in 0..400 {
        let at = start
            + Duration::minutes(rng.random_range(0..5 * 24 * 60))
            + Duration::milliseconds(rng.random_range(0..60_000));
        events.push(event(&format!("s{i}"), json!({
            "feature": features[rng.random_range(0..3)],
            "model": models[rng.random_range(0..3)],
            "userId": if rng.random_bool(0.5) { json!(format!("u{}", rng.random_range(0..3))) } else { Value::Null },
            "inputTokens": rng.random_range(0..5000), "outputTokens": rng.random_range(0..1000),
            "latencyMs": rng.random_range(0..3000), "isError": rng.random_bool(0.1),
            "retryCount": if rng.random_bool(0.1) { 1 } else { 0 },
            "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })));
    }
    for chunk in events.chunks(100) {
        assert_eq!(app.post_events(batch(chunk.to_vec())).await.status, StatusCode::ACCEPTED);
    }
    // A retried batch counts nothing twice.
    let again = app.post_events(batch(events[..100].to_vec())).await;
    assert_eq!(again.body["duplicates"], 100);
    let client = app.db.as_ref().unwrap().client().await;
    let totals = app.get("/api/v1/analytics/realtime-totals").await;
    let naive = client
        .query_one("SELECT count(*), sum(verified_cost_usd)::text, sum(input_tokens + output_tokens) FROM events", &[])
        .await
        .unwrap();
    assert_eq!(totals.body["totalRequests"].as_i64().unwrap(), naive.get::<_, i64>(0));
    assert_eq!(
        totals.body["totalCost"].as_f64().unwrap(),
        naive.get::<_, String>(1).parse::<f64>().unwrap()
    );
    assert_eq!(totals.body["totalTokens"].as_i64().unwrap(), naive.get::<_, i64>(2));
    for _ in 0..12 {
        let from = start
            + Duration::minutes(rng.random_range(0..4 * 24 * 60))
            + Duration::seconds(rng.random_range(0..60));
        let to = from + Duration::minutes(rng.random_range(1..3 * 24 * 60));
        let (f, t) = (
            from.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            to.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        for (group, col) in [
            ("feature", "feature"),
            ("model", "model"),
            ("provider", "provider"),
            ("user", "user_id"),
        ] {
            let r = app
                .get(&format!("/api/v1/analytics/cost-breakdown?from={f}&to={t}&groupBy={group}"))
                .await;
            let naive = client
                .query(
                    &format!("SELECT {col}, sum(verified_cost_usd)::text, count(*) FROM events \
                              WHERE created_at >= $1::text::timestamptz AND created_at <= $2::text::timestamptz AND {col} IS NOT NULL \
                              GROUP BY 1 ORDER BY 1"),
                    &[&f, &t],
                )
                .await
                .unwrap();
            let mut got: Vec<(String, f64, u64)> = r
                .body
                .as_array()
                .unwrap()
                .iter()
                .map(|g| {
                    (
                        g["dimension"].as_str().unwrap().to_owned(),
                        g["totalCostUsd"].as_f64().unwrap(),
                        g["requestCount"].as_u64().unwrap(),
                    )
                })
                .collect();
            got.sort_by(|a, b| a.0.cmp(&b.0));
            let want: Vec<(String, f64, u64)> = naive
                .iter()
                .map(|row| {
                    (
                        row.get::<_, String>(0),
                        row.get::<_, String>(1).parse().unwrap(),
                        row.get::<_, i64>(2) as u64,
                    )
                })
                .collect();
            assert_eq!(got, want, "{group} from {f} to {t}");
        }
        let s = app.get(&format!("/api/v1/analytics/summary?from={f}&to={t}")).await;
        let naive = client
            .query_one(
                "SELECT count(*), coalesce(sum(verified_cost_usd), 0)::text, count(*) FILTER (WHERE is_error), \
                 coalesce(sum(verified_cost_usd) FILTER (WHERE is_error), 0)::text FROM events \
                 WHERE created_at >= $1::text::timestamptz AND created_at <= $2::text::timestamptz",
                &[&f, &t],
            )
            .await
            .unwrap();
        assert_eq!(s.body["requests"].as_u64().unwrap(), naive.get::<_, i64>(0) as u64, "{f}..{t}");
        let cost: f64 = naive.get::<_, String>(1).parse().unwrap();
        let got: f64 = s.body["totalCostUsd"].as_str().unwrap().parse().unwrap();
        assert_eq!(got, cost, "{f}..{t}");
        let err_cost: f64 = naive.get::<_, String>(3).parse().unwrap();
        let got_err: f64 = s.body["waste"]["failedCallsUsd"].as_str().unwrap().parse().unwrap();
        assert_eq!(got_err, err_cost);
        let series = app
            .get(&format!(
                "/api/v1/analytics/timeseries?from={f}&to={t}&granularity=day&tz=Europe/Paris"
            ))
            .await;
        let total: f64 =
            series.body.as_array().unwrap().iter().map(|p| p["cost"].as_f64().unwrap()).sum();
        assert!((total - cost).abs() < 1e-9, "{total} vs {cost}");
    }
}

#[actix_web::test]
async fn the_summary_reports_waste_and_the_change_against_the_previous_window() {
    let app = TestApp::new().await;
    fixture(&app).await;
    let r = app
        .get("/api/v1/analytics/summary?from=2026-01-05T00:00:00Z&to=2026-01-05T23:59:59Z")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["requests"], 6);
    assert_eq!(r.body["waste"]["failedCallsUsd"], "0.025");
    assert_eq!(r.body["waste"]["retriesUsd"], "0.001506");
    assert_eq!(r.body["previous"]["requests"], 0);
    assert_eq!(r.body["change"]["totalCost"], Value::Null);
    assert!(r.body["p95LatencyMs"].as_u64().unwrap() >= 251);
    assert_eq!(r.body["cacheHitRate"].as_f64().unwrap(), 1.0 / 6.0);
}

#[actix_web::test]
async fn top_calls_traces_and_call_paths_show_where_the_money_goes() {
    let app = TestApp::new().await;
    fixture(&app).await;
    let top = app.get(&format!("/api/v1/analytics/top-calls?{W}&limit=2")).await;
    assert_eq!(top.body.as_array().unwrap().len(), 2);
    assert_eq!(top.body[0]["model"], "mystery-model");
    assert!(top.body[0]["traceId"].is_string());

    let tr = app.get("/api/v1/analytics/traces/tr_agent").await;
    assert_eq!(tr.status, StatusCode::OK);
    assert_eq!(tr.body["spanCount"], 2);
    let root = &tr.body["roots"][0];
    assert_eq!(root["spanId"], "root");
    assert_eq!(root["costUsd"], "0.0075");
    assert_eq!(root["subtreeCostUsd"], "0.00795");
    assert_eq!(root["children"][0]["spanId"], "child");
    let missing = app.get("/api/v1/analytics/traces/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let paths = app.get(&format!("/api/v1/analytics/call-paths?{W}")).await;
    let agent = paths.body["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "agent · gpt-4o")
        .unwrap();
    assert_eq!(agent["children"][0]["name"], "search · gpt-4o-mini");
    assert_eq!(agent["costUsd"], "0.00795");
}

#[actix_web::test]
async fn bad_analytics_parameters_are_400s_with_clear_messages() {
    let app = TestApp::new().await;
    let cases = [
        "/api/v1/analytics/cost-breakdown?from=2026-01-05&to=2026-01-06&groupBy=bogus",
        "/api/v1/analytics/cost-breakdown?from=2026-01-05&to=2026-01-06",
        "/api/v1/analytics/cost-breakdown?from=2026-01-06&to=2026-01-05&groupBy=model",
        "/api/v1/analytics/cost-breakdown?from=yesterday&to=2026-01-05&groupBy=model",
        "/api/v1/analytics/cost-breakdown?from=2026-01-05&to=2026-01-06&groupBy=model&groupBy=feature",
        "/api/v1/analytics/timeseries?from=2026-01-05&to=2026-01-06",
        "/api/v1/analytics/timeseries?from=2026-01-05&to=2026-01-06&granularity=minute",
        "/api/v1/analytics/timeseries?from=2026-01-05&to=2026-01-06&granularity=hour&tz=Mars/Base",
        "/api/v1/analytics/timeseries?from=2000-01-01&to=2026-01-06&granularity=hour",
        "/api/v1/analytics/timeseries?from=2026-01-05&to=2026-01-06&granularity=day&fill=maybe",
        "/api/v1/analytics/events?from=2026-01-05&to=2026-01-06&cursor=garbage",
        "/api/v1/analytics/events?from=2026-01-05&to=2026-01-06&cursor=eyJ0aW1lc3RhbXAiOjEsImlkIjoiYWJjIn0=",
        "/api/v1/analytics/events?from=2026-01-05&to=2026-01-06&limit=abc",
        "/api/v1/analytics/events?from=2026-01-05&to=2026-01-06&limit=-5",
        "/api/v1/analytics/events?to=2026-01-06",
        "/api/v1/analytics/summary?from=2026-01-05&to=2026-01-06&isError=maybe",
        "/api/v1/analytics/top-calls?from=2026-01-05&to=2026-01-06&limit=0",
        "/api/v1/analytics/flamegraph",
    ];
    for uri in cases {
        let r = app.get(uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.body);
        assert!(r.body["error"].is_string(), "{uri}");
        assert!(!r.body.to_string().to_lowercase().contains("select"), "{uri} leaks SQL");
    }
    let r = app
        .get("/api/v1/analytics/cost-breakdown?from=2026-01-05&to=2026-01-06&groupBy=bogus")
        .await;
    assert_eq!(r.body["error"], "Validation failed");
    assert_eq!(r.body["details"][0]["path"], "groupBy");
    let r = app.get("/api/v1/analytics/flamegraph?from=x&to=2026-01-06").await;
    assert_eq!(r.body["error"], "Invalid \"from\" date format");
}

#[actix_web::test]
async fn event_rows_keep_the_originals_key_order() {
    let app = TestApp::new().await;
    fixture(&app).await;
    let svc = actix_web::test::init_service(aicp_api::app::build(app.state(), None)).await;
    let req = actix_web::test::TestRequest::get()
        .uri(&format!("/api/v1/analytics/events?{W}&limit=1"))
        .to_request();
    let body = actix_web::test::call_and_read_body(&svc, req).await;
    let text = String::from_utf8(body.to_vec()).unwrap();
    let order = [
        "\"id\"",
        "\"traceId\"",
        "\"spanId\"",
        "\"parentSpanId\"",
        "\"projectId\"",
        "\"feature\"",
        "\"userId\"",
        "\"provider\"",
        "\"model\"",
        "\"inputTokens\"",
        "\"outputTokens\"",
        "\"cachedTokens\"",
        "\"latencyMs\"",
        "\"estimatedCostUsd\"",
        "\"verifiedCostUsd\"",
        "\"isCacheHit\"",
        "\"metadata\"",
        "\"isStreaming\"",
        "\"errorCode\"",
        "\"retryCount\"",
        "\"isError\"",
        "\"createdAt\"",
    ];
    let positions: Vec<usize> = order.iter().map(|k| text.find(k).unwrap_or(usize::MAX)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[actix_web::test]
async fn dates_past_what_the_database_holds_and_nul_filters_are_400s_not_500s() {
    let app = TestApp::new().await;
    fixture(&app).await;
    let cases = [
        "/api/v1/analytics/summary?from=-262143-01-01&to=2026-01-01",
        "/api/v1/analytics/flamegraph?from=2026-01-01&to=%2B262142-12-31",
        "/api/v1/analytics/cost-breakdown?from=2026-01-01&to=%2B262142-12-31&groupBy=model",
        "/api/v1/analytics/call-paths?from=2026-01-01&to=%2B262142-12-31",
        "/api/v1/analytics/timeseries?from=%2B262142-01-01&to=%2B262142-12-31&granularity=month",
        "/api/v1/analytics/events?from=-5000-01-01&to=2026-01-01",
        "/api/v1/pricing/coverage?from=-5000-01-01&to=2026-01-01",
        "/api/v1/export/events?format=csv&from=-5000-01-01&to=2026-01-01",
        &format!("/api/v1/analytics/summary?{W}&feature=%00"),
        &format!("/api/v1/analytics/events?{W}&model=a%00b"),
        "/api/v1/export/events?format=csv&userId=%00",
    ];
    for uri in cases {
        let r = app.get(uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.body);
        assert!(r.body["error"].is_string(), "{uri}: {}", r.body);
    }
    // The widest window the database holds still answers, with an (empty) previous window.
    let r = app.get("/api/v1/analytics/summary?from=0001-01-01&to=9999-12-31").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["requests"], 6);
    assert_eq!(r.body["previousFrom"], "0001-01-01T00:00:00.000Z");
}
