//! Prices end to end: costs of current models of every provider against hand-computed values,
//! custom prices, re-pricing history, coverage, and bad input.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, batch, event};

async fn stored_cost(app: &TestApp, span: &str) -> String {
    let row = app
        .db
        .as_ref()
        .unwrap()
        .client()
        .await
        .query_one("SELECT verified_cost_usd::text FROM events WHERE span_id = $1", &[&span])
        .await
        .unwrap();
    let text: String = row.get(0);
    // Normalise "1.308000000000" to "1.308".
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    trimmed.to_owned()
}

#[actix_web::test]
async fn current_models_of_every_provider_cost_what_their_price_lists_say() {
    let app = TestApp::new().await;
    // (span, overrides, expected USD) — expected values computed by hand from the providers'
    // published prices (USD per 1M tokens), noted beside each.
    let cases: Vec<(&str, Value, &str)> = vec![
        // gpt-4.1: 8000 × 2.00 + 2000 cached × 0.50 + 1000 × 8.00
        (
            "openai",
            json!({"provider": "openai", "model": "gpt-4.1-2025-04-14", "inputTokens": 10000, "cachedTokens": 2000, "outputTokens": 1000}),
            "0.025",
        ),
        // claude-sonnet-4-5 above 200k prompt tokens, all at the long-context tier:
        // 190000 × 6.00 + 50000 read × 0.60 + 6000 5m-write × 7.50 + 4000 1h-write × 12.00 + 2000 × 22.50
        (
            "anthropic",
            json!({"provider": "anthropic", "model": "claude-sonnet-4-5", "inputTokens": 250000, "cachedTokens": 50000, "cacheWriteTokens": 10000, "cacheWrite1hTokens": 4000, "outputTokens": 2000}),
            "1.308",
        ),
        // gemini-2.5-pro: 80000 × 1.25 + 20000 cached × 0.125 + 2000 × 10.00 + 3000 thinking × 10.00
        (
            "gemini",
            json!({"provider": "google-gemini", "model": "models/gemini-2.5-pro", "inputTokens": 100000, "cachedTokens": 20000, "outputTokens": 5000, "reasoningTokens": 3000}),
            "0.1525",
        ),
        // mistral-large-2512: 1000 × 0.50 + 1000 × 1.50
        (
            "mistral",
            json!({"provider": "mistral", "model": "mistral-large-2512", "inputTokens": 1000, "outputTokens": 1000}),
            "0.002",
        ),
        // deepseek-reasoner (prices from 2025-09-29): 6000 × 0.28 + 4000 hit × 0.028 + 500 × 0.42 + 1500 CoT × 0.42
        (
            "deepseek",
            json!({"provider": "deepseek", "model": "deepseek-reasoner", "inputTokens": 10000, "cachedTokens": 4000, "outputTokens": 2000, "reasoningTokens": 1500}),
            "0.002632",
        ),
        // grok-4: 10000 × 3.00 + 1000 × 15.00
        (
            "xai",
            json!({"provider": "xai", "model": "grok-4", "inputTokens": 10000, "outputTokens": 1000}),
            "0.045",
        ),
        // command-a: 10000 × 2.50 + 1000 × 10.00
        (
            "cohere",
            json!({"provider": "cohere", "model": "command-a-03-2025", "inputTokens": 10000, "outputTokens": 1000}),
            "0.035",
        ),
        // Llama 3.3 70B on Groq: 1M × 0.59 + 1M × 0.79
        (
            "llama",
            json!({"provider": "groq", "model": "llama-3.3-70b-versatile", "inputTokens": 1000000, "outputTokens": 1000000}),
            "1.38",
        ),
    ];
    let events = cases.iter().map(|(span, o, _)| event(span, o.clone())).collect();
    let reply = app.post_events(batch(events)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    for (span, _, expected) in cases {
        assert_eq!(stored_cost(&app, span).await, expected, "{span}");
    }
}

#[actix_web::test]
async fn the_catalogue_lists_more_than_a_hundred_models_with_history() {
    let app = TestApp::new().await;
    let reply = app.get("/api/v1/pricing").await;
    assert_eq!(reply.status, StatusCode::OK);
    let models = reply.body["models"].as_array().unwrap();
    assert!(models.len() >= 100, "{}", models.len());
    let gpt4o = models.iter().find(|m| m["model"] == "gpt-4o").unwrap();
    assert!(gpt4o["periods"].as_array().unwrap().len() >= 2, "{gpt4o}");
    assert_eq!(reply.body["fallback"], json!({"input": "10", "output": "30"}));
}

#[actix_web::test]
async fn a_custom_price_changes_new_events_and_repricing_applies_it_to_history() {
    let app = TestApp::new().await;
    let one_m = |span: &str, ts: &str| {
        event(
            span,
            json!({"model": "gpt-4o", "inputTokens": 1_000_000, "outputTokens": 0, "timestamp": ts}),
        )
    };
    let reply = app.post_events(batch(vec![one_m("old", "2026-01-05T10:00:00Z")])).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(stored_cost(&app, "old").await, "2.5");

    let price =
        json!({"model": "gpt-4o", "effectiveFrom": "2026-01-01", "input": "1.00", "output": 2});
    let reply = app.put_json("/api/v1/pricing", price).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["source"], "custom");

    let reply = app.post_events(batch(vec![one_m("new", "2026-01-06T10:00:00Z")])).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(stored_cost(&app, "new").await, "1");
    assert_eq!(stored_cost(&app, "old").await, "2.5", "stored events change only when re-priced");

    let window = json!({"from": "2026-01-01", "to": "2026-01-31"});
    let dry = app.post_json("/api/v1/pricing/reprice", window.clone()).await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.body);
    assert_eq!(dry.body["dryRun"], true);
    assert_eq!(dry.body["eventsScanned"], 2);
    assert_eq!(dry.body["eventsChanged"], 1);
    assert_eq!(dry.body["beforeUsd"], "3.5");
    assert_eq!(dry.body["afterUsd"], "2");
    assert_eq!(dry.body["differenceUsd"], "-1.5");
    assert_eq!(dry.body["byModel"][0]["key"], "gpt-4o");
    assert_eq!(stored_cost(&app, "old").await, "2.5", "a dry run writes nothing");

    let mut apply = window.clone();
    apply["apply"] = json!(true);
    let applied = app.post_json("/api/v1/pricing/reprice", apply).await;
    assert_eq!(applied.body["dryRun"], false);
    assert_eq!(applied.body["eventsChanged"], 1);
    assert_eq!(stored_cost(&app, "old").await, "1");
    let again = app.post_json("/api/v1/pricing/reprice", window).await;
    assert_eq!(again.body["eventsChanged"], 0);

    let listed = app.get("/api/v1/pricing").await;
    assert_eq!(listed.body["custom"][0]["model"], "gpt-4o");
}

#[actix_web::test]
async fn coverage_lists_an_unknown_model_after_its_events_arrive() {
    let app = TestApp::new().await;
    let events = vec![
        event("a", json!({"model": "mystery-model-x", "estimatedCostUsd": 0.001})),
        event("b", json!({"model": "gpt-4o", "estimatedCostUsd": 0.0075})),
    ];
    assert_eq!(app.post_events(batch(events)).await.status, StatusCode::ACCEPTED);
    let reply = app.get("/api/v1/pricing/coverage?from=2026-01-01&to=2026-01-31").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["calls"], 2);
    assert_eq!(reply.body["unpricedCalls"], 1);
    assert_eq!(reply.body["unpricedCallShare"], 0.5);
    assert_eq!(
        reply.body["unpricedModels"],
        json!([{"model": "mystery-model-x", "calls": 1, "tokens": 1500}])
    );
    // mystery: reported 0.001 vs fallback 0.025; gpt-4o: 0.0075 vs 0.0075.
    assert_eq!(reply.body["reported"]["calls"], 2);
    assert_eq!(reply.body["reported"]["divergenceUsd"], "-0.024");
    assert_eq!(reply.body["reported"]["byModel"][0]["model"], "mystery-model-x");
}

#[actix_web::test]
async fn bad_pricing_requests_get_a_400_and_change_nothing() {
    let app = TestApp::new().await;
    let reply = app.put_json("/api/v1/pricing", json!({"model": "", "input": -1})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["code"], "validation_failed");
    assert!(reply.body["details"].as_array().unwrap().len() >= 3, "{}", reply.body);
    assert_eq!(app.get("/api/v1/pricing").await.body["custom"], json!([]));

    let cases = [
        json!({"from": "yesterday", "to": "2026-01-31"}),
        json!({"from": "2026-02-01", "to": "2026-01-01"}),
        json!({"to": "2026-01-31"}),
        json!({"from": "2026-01-01", "to": "2026-01-31", "apply": "yes"}),
        json!(["not", "an", "object"]),
    ];
    for body in cases {
        let reply = app.post_json("/api/v1/pricing/reprice", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.body);
        assert_eq!(reply.body["code"], "invalid_parameter", "{body}");
    }
    for query in [
        "",
        "?from=2026-01-01",
        "?from=x&to=2026-01-02",
        "?from=2026-01-01&from=2026-01-02&to=2026-02-01",
    ] {
        let reply = app.get(&format!("/api/v1/pricing/coverage{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}: {}", reply.body);
    }
}

#[actix_web::test]
async fn a_price_store_outage_is_a_503_and_the_prices_in_force_stay() {
    use std::sync::Arc;

    use aicp_domain::RepoError;
    use aicp_domain::ports::{MockCostRepository, MockEventRepository, MockPriceRepository};

    use crate::support::{FixedProbe, Parts};

    let mut prices = MockPriceRepository::new();
    prices.expect_put_custom().times(1).returning(|_| Err(RepoError::Unavailable("down".into())));
    let mut costs = MockCostRepository::new();
    costs.expect_coverage().times(1).returning(|_, _| Err(RepoError::Unavailable("down".into())));
    let app = TestApp::from_parts(Parts {
        repo: Arc::new(MockEventRepository::new()),
        prices: Arc::new(prices),
        costs: Arc::new(costs),
        analytics: Arc::new(aicp_domain::ports::MockAnalyticsRepository::new()),
        exporter: Arc::new(aicp_domain::ports::MockEventExporter::new()),
        keys: Arc::new(aicp_domain::auth::MockKeyStore::new()),
        database: Arc::new(FixedProbe(false)),
        redis: Arc::new(FixedProbe(true)),
        prompts: None,
    });
    let price = json!({"model": "gpt-4o", "effectiveFrom": "2026-01-01", "input": 1, "output": 2});
    let reply = app.put_json("/api/v1/pricing", price).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.headers.contains_key("retry-after"));
    assert_eq!(app.get("/api/v1/pricing").await.body["custom"], json!([]));
    let reply = app.get("/api/v1/pricing/coverage?from=2026-01-01&to=2026-01-02").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
}
