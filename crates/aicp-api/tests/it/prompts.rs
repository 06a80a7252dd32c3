//! Repeated and near-duplicate prompts: grouping with cost and savings, `/similar` with real
//! scores, thresholds and limits, privacy, the cache, bad parameters.

use actix_web::http::StatusCode;
use aicp_domain::PromptStorage;
use serde_json::{Value, json};

use crate::support::{TestApp, batch, event};

const W: &str = "from=2026-01-05T00:00:00Z&to=2026-01-06T00:00:00Z";

fn base_prompt() -> String {
    "You are a support assistant for Acme. Summarise the customer's ticket in three bullet points, \
     keep a neutral tone, mention the product name, the order number and the requested action, and \
     never include personal data such as e-mail addresses or phone numbers in the summary."
        .to_owned()
}

async fn seed(app: &TestApp) -> Vec<String> {
    let mut events = Vec::new();
    // Five exact repeats (gpt-4o, 1000 input tokens each, no cache).
    for i in 0..5 {
        events.push(event(
            &format!("rep{i}"),
            json!({"prompt": base_prompt(), "feature": "support"}),
        ));
    }
    // A light edit (one word changed), as chat messages.
    let edited = base_prompt().replace("neutral", "friendly");
    events.push(event(
        "edit",
        json!({"messages": [{"role": "user", "content": edited}], "feature": "support"}),
    ));
    // An unrelated prompt, and one carried in metadata the original way.
    events.push(event("other", json!({"prompt": "Translate the following French sentence into German please.", "feature": "translate"})));
    events.push(event("meta", json!({"metadata": {"prompt": "Classify this ticket: refund or exchange?"}, "feature": "triage"})));
    let reply = app.post_events(batch(events)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let client = app.db.as_ref().unwrap().client().await;
    let rows =
        client.query("SELECT span_id, id::text FROM events ORDER BY span_id", &[]).await.unwrap();
    rows.iter().map(|r| format!("{}={}", r.get::<_, String>(0), r.get::<_, String>(1))).collect()
}

fn id_of(ids: &[String], span: &str) -> String {
    ids.iter().find_map(|s| s.strip_prefix(&format!("{span}="))).unwrap().to_owned()
}

#[actix_web::test]
async fn repeated_and_edited_prompts_are_grouped_with_their_cost_and_savings() {
    let app = TestApp::new().await;
    seed(&app).await;
    // One fingerprint per distinct prompt (five repeats, an edit, two others), and a retried
    // batch adds none.
    let fingerprints = || async {
        let client = app.db.as_ref().unwrap().client().await;
        let n: i64 =
            client.query_one("SELECT count(*) FROM prompt_fingerprints", &[]).await.unwrap().get(0);
        n
    };
    assert_eq!(fingerprints().await, 4);
    let retry = app
        .post_events(batch(vec![event(
            "rep0",
            json!({"prompt": base_prompt(), "feature": "support"}),
        )]))
        .await;
    assert_eq!(retry.body["duplicates"], 1, "{}", retry.body);
    assert_eq!(fingerprints().await, 4);
    let r = app.get(&format!("/api/v1/analytics/prompts?{W}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let groups = r.body.as_array().unwrap();
    let top = &groups[0];
    assert_eq!(top["occurrences"], 5);
    assert_eq!(top["content"], base_prompt());
    assert_eq!(top["feature"], "support");
    // 5 × (1000 × 2.50 + 500 × 10.00) / 1M = 0.0375; four of them are repeats.
    assert_eq!(top["totalCostUsd"], 0.0375);
    assert_eq!(top["repeatedSpendUsd"], "0.03");
    assert_eq!(top["responseCacheSavingUsd"], "0.03");
    // 4 repeats × 1000 uncached input tokens × (2.50 − 1.25) / 1M.
    assert_eq!(top["promptCacheSavingUsd"], "0.005");
    let similar = top["similarPrompts"].as_array().unwrap();
    assert_eq!(similar.len(), 1, "{similar:?}");
    assert!(similar[0]["similarity"].as_f64().unwrap() >= 0.8);
    assert_eq!(similar[0]["occurrences"], 1);
    assert!(
        groups.iter().any(|g| g["content"] == "Classify this ticket: refund or exchange?"),
        "metadata.prompt"
    );
    assert!(groups.iter().all(|g| g["similarPrompts"].is_array() && g["totalCostUsd"].is_number()));

    let t = app.get(&format!("/api/v1/analytics/prompt-templates?{W}")).await;
    assert_eq!(t.status, StatusCode::OK);
    assert!(t.body.as_array().unwrap().len() >= 3);
}

#[actix_web::test]
async fn similar_returns_real_scores_honours_threshold_and_limit_and_is_cached() {
    let app = TestApp::new().await;
    let ids = seed(&app).await;
    let edit = id_of(&ids, "edit");
    let r = app.get(&format!("/api/v1/analytics/prompts/{edit}/similar")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers.get("x-cache").unwrap(), "miss");
    let items = r.body.as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    let s = items[0]["similarity"].as_f64().unwrap();
    assert!((0.8..1.0).contains(&s), "{s}");
    assert_eq!(items[0]["occurrences"], 5);
    for key in [
        "id",
        "promptHash",
        "content",
        "feature",
        "model",
        "similarity",
        "occurrences",
        "totalCostUsd",
    ] {
        assert!(items[0].get(key).is_some(), "{key}");
    }
    let again = app.get(&format!("/api/v1/analytics/prompts/{edit}/similar")).await;
    assert_eq!(again.headers.get("x-cache").unwrap(), "hit");
    assert_eq!(again.body, r.body);
    // A threshold above the score leaves nothing; a different parameter is a different cache entry.
    let strict =
        app.get(&format!("/api/v1/analytics/prompts/{edit}/similar?threshold=0.999")).await;
    assert_eq!(strict.headers.get("x-cache").unwrap(), "miss");
    assert_eq!(strict.body, json!([]));
    // Exact repeats of one call: the others, at similarity 1.
    let rep = id_of(&ids, "rep0");
    let reps =
        app.get(&format!("/api/v1/analytics/prompts/{rep}/similar?threshold=0.95&limit=1")).await;
    let reps = reps.body.as_array().unwrap();
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0]["similarity"], 1.0);
    assert_eq!(reps[0]["occurrences"], 4);
}

#[actix_web::test]
async fn similar_rejects_bad_parameters_and_unknown_events() {
    let app = TestApp::new().await;
    let ids = seed(&app).await;
    let edit = id_of(&ids, "edit");
    for uri in [
        "/api/v1/analytics/prompts/not-a-uuid/similar".to_owned(),
        "/api/v1/analytics/prompts/'%20OR%201=1--/similar".to_owned(),
        format!("/api/v1/analytics/prompts/{edit}/similar?threshold=1.5"),
        format!("/api/v1/analytics/prompts/{edit}/similar?threshold=abc"),
        format!("/api/v1/analytics/prompts/{edit}/similar?limit=0"),
        format!("/api/v1/analytics/prompts/{edit}/similar?limit=-5"),
        format!("/api/v1/analytics/prompts/{edit}/similar?limit=1000"),
    ] {
        let r = app.get(&uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.body);
    }
    let missing =
        app.get(&format!("/api/v1/analytics/prompts/{}/similar", uuid::Uuid::new_v4())).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"], "Event not found");
}

#[actix_web::test]
async fn with_fingerprint_storage_no_prompt_text_is_stored() {
    let app = TestApp::with_prompt_storage(PromptStorage::Fingerprint).await;
    seed(&app).await;
    let client = app.db.as_ref().unwrap().client().await;
    let row = client
        .query_one("SELECT count(*) FILTER (WHERE prompt_hash IS NOT NULL), count(prompt_text) FROM events", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 8, "every prompt is fingerprinted");
    assert_eq!(row.get::<_, i64>(1), 0, "no text is kept");
    let r = app.get(&format!("/api/v1/analytics/prompts?{W}")).await;
    let top: &Value = &r.body[0];
    assert_eq!(top["content"], "");
    assert_eq!(top["contentStored"], false);
    assert_eq!(top["occurrences"], 5);
}

#[actix_web::test]
async fn bad_prompt_fields_are_validation_errors() {
    let app = TestApp::new().await;
    for (overrides, path) in [
        (json!({"prompt": 5}), "events.0.prompt"),
        (json!({"prompt": "a\u{0}b"}), "events.0.prompt"),
        (json!({"messages": "hi"}), "events.0.messages"),
        (json!({"messages": [{"role": "user"}]}), "events.0.messages.0.content"),
        (json!({"messages": [{"role": "", "content": "x"}]}), "events.0.messages.0.role"),
        (json!({"prompt": "x".repeat(300_000)}), "events.0.prompt"),
    ] {
        let r = app.post_events(batch(vec![event("a", overrides)])).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(r.body["details"][0]["path"], path, "{}", r.body);
    }
    assert_eq!(app.count().await, 0);
}

#[actix_web::test]
async fn the_prompts_export_reports_the_same_groups_as_the_prompt_report() {
    let app = TestApp::new().await;
    seed(&app).await;
    let report = app.get(&format!("/api/v1/analytics/prompts?{W}")).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let export = app
        .call_text(
            actix_web::test::TestRequest::get()
                .uri(&format!("/api/v1/export/prompts?format=json&{W}")),
        )
        .await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    let export: Value = serde_json::from_str(&export.body).unwrap();
    let groups = |v: &Value, cost: &str| {
        let mut g: Vec<(String, String, u64, String)> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let cost = match &r[cost] {
                    Value::String(s) => s.clone(),
                    n => n.to_string(),
                };
                (
                    r["promptHash"].as_str().unwrap().to_owned(),
                    r["feature"].as_str().unwrap().to_owned(),
                    r["occurrences"].as_u64().unwrap(),
                    cost,
                )
            })
            .collect();
        g.sort();
        g
    };
    let from_report = groups(&report.body, "totalCostUsd");
    let from_export = groups(&export, "totalCostUsdExact");
    assert!(!from_report.is_empty());
    let key = |g: &[(String, String, u64, String)]| {
        g.iter().map(|(h, f, n, _)| (h.clone(), f.clone(), *n)).collect::<Vec<_>>()
    };
    assert_eq!(key(&from_report), key(&from_export), "same hashes, features and calls");
    for (r, e) in from_report.iter().zip(&from_export) {
        let (r, e): (f64, f64) = (r.3.parse().unwrap(), e.3.parse().unwrap());
        assert!((r - e).abs() < 1e-12, "same cost: {r} vs {e}");
    }
    assert!(from_export.iter().any(|(_, f, n, _)| f == "support" && *n == 5));
}

#[actix_web::test]
async fn a_fingerprint_of_an_older_scheme_is_replaced_when_its_prompt_comes_again() {
    let app = TestApp::new().await;
    let prompt = base_prompt();
    let r = app.post_events(batch(vec![event("s1", json!({"prompt": prompt}))])).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let client = app.db.as_ref().unwrap().client().await;
    let current: (Option<i32>, Vec<i32>) = {
        let row = client
            .query_one("SELECT scheme, signature FROM prompt_fingerprints", &[])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert!(current.0.is_some(), "ingest records the scheme");
    // As a database migrated from before schemes were recorded would hold it.
    client
        .execute(
            "UPDATE prompt_fingerprints SET scheme = NULL, signature = array_fill(0, ARRAY[128])",
            &[],
        )
        .await
        .unwrap();
    let r = app.post_events(batch(vec![event("s2", json!({"prompt": prompt}))])).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let row =
        client.query_one("SELECT scheme, signature FROM prompt_fingerprints", &[]).await.unwrap();
    assert_eq!(
        (row.get::<_, Option<i32>>(0), row.get::<_, Vec<i32>>(1)),
        current,
        "fingerprinted again"
    );
    // A repeat under the same scheme leaves the row alone (no new row version on every call).
    let xmin = "SELECT xmin::text FROM prompt_fingerprints";
    let before: String = client.query_one(xmin, &[]).await.unwrap().get(0);
    let r = app.post_events(batch(vec![event("s3", json!({"prompt": prompt}))])).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let after: String = client.query_one(xmin, &[]).await.unwrap().get(0);
    assert_eq!(before, after);
}
