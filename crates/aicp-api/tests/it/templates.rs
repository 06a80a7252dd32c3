//! Issue 20: prompts of one template (a fixed instruction around other values) are near-duplicates
//! at the default settings, and a prompt of another task does not join them.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use aicp_domain::PromptStorage;
use aicp_domain::similarity::PromptAnalyzer;
use aicp_similarity::MinHashAnalyzer;
use serde_json::{Value, json};

use crate::support::{TestApp, batch, event};

const W: &str = "from=2026-01-05T00:00:00Z&to=2026-01-06T00:00:00Z";

/// (prompt, feature, calls): the example, 40 calls in all.
const PROMPTS: [(&str, &str, usize); 4] = [
    (
        "Summarize the following support ticket for the billing team: customer 4411 says the invoice is wrong",
        "support",
        12,
    ),
    (
        "Summarize the following support ticket for the billing team: customer 9382 says the invoice is wrong",
        "support",
        10,
    ),
    (
        "Summarize the following support ticket for the billing team: customer 1200 says the invoice is late",
        "support",
        8,
    ),
    (
        "Translate this product description into French: a waterproof hiking boot with a rubber sole",
        "translate",
        10,
    ),
];
const TRANSLATION: usize = 3;

/// Sends the 40 calls and returns each prompt's hash (the server's analyzer is the default one).
async fn seed(app: &TestApp) -> Vec<String> {
    let mut events = Vec::new();
    for (p, (prompt, feature, calls)) in PROMPTS.iter().enumerate() {
        for c in 0..*calls {
            events.push(event(&format!("p{p}-{c}"), json!({"prompt": prompt, "feature": feature})));
        }
    }
    assert_eq!(events.len(), 40);
    let reply = app.post_events(batch(events)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["inserted"], 40, "{}", reply.body);
    let analyzer = MinHashAnalyzer::default();
    PROMPTS.iter().map(|(prompt, _, _)| analyzer.fingerprint(prompt).hash).collect()
}

/// `promptHash → occurrences` of a list of similar prompts.
fn similar(list: &Value) -> BTreeMap<String, u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert!(s["similarity"].as_f64().unwrap() >= 0.8, "{s}");
            (s["promptHash"].as_str().unwrap().to_owned(), s["occurrences"].as_u64().unwrap())
        })
        .collect()
}

#[actix_web::test]
async fn the_prompt_report_shows_one_templates_prompts_as_near_duplicates_of_each_other() {
    // The default privacy setting: fingerprints only, no text.
    let app = TestApp::with_prompt_storage(PromptStorage::Fingerprint).await;
    let hashes = seed(&app).await;
    let r = app.get(&format!("/api/v1/analytics/prompts?{W}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let groups: BTreeMap<String, &Value> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["promptHash"].as_str().unwrap().to_owned(), g))
        .collect();
    assert_eq!(groups.len(), 4, "{}", r.body);
    for (p, hash) in hashes.iter().enumerate() {
        let group = groups[hash];
        assert_eq!(group["occurrences"].as_u64().unwrap() as usize, PROMPTS[p].2);
        let near = similar(&group["similarPrompts"]);
        if p == TRANSLATION {
            assert!(near.is_empty(), "the translation joined {near:?}");
            continue;
        }
        // The two other support-ticket prompts, with all their calls; not the translation.
        let expected: BTreeMap<String, u64> = (0..TRANSLATION)
            .filter(|&o| o != p)
            .map(|o| (hashes[o].clone(), PROMPTS[o].2 as u64))
            .collect();
        assert_eq!(near, expected, "prompt {p}: {}", group["similarPrompts"]);
    }
}

async fn id(app: &TestApp, span: &str) -> String {
    let client = app.db.as_ref().unwrap().client().await;
    let row =
        client.query_one("SELECT id::text FROM events WHERE span_id = $1", &[&span]).await.unwrap();
    row.get::<_, String>(0)
}

#[actix_web::test]
async fn similar_finds_the_other_prompts_of_the_template_and_not_the_other_task() {
    let app = TestApp::new().await;
    let hashes = seed(&app).await;
    // The "invoice is late" call: one number and one word away from the others.
    let r = app.get(&format!("/api/v1/analytics/prompts/{}/similar", id(&app, "p2-0").await)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let near = similar(&r.body);
    let expected: BTreeMap<String, u64> =
        [(hashes[0].clone(), 12), (hashes[1].clone(), 10), (hashes[2].clone(), 7)].into();
    assert_eq!(near, expected, "{}", r.body);
    let contents: Vec<&str> =
        r.body.as_array().unwrap().iter().map(|s| s["content"].as_str().unwrap()).collect();
    assert!(contents.iter().all(|c| c.starts_with("Summarize")), "{contents:?}");

    let r = app.get(&format!("/api/v1/analytics/prompts/{}/similar", id(&app, "p3-0").await)).await;
    let near = similar(&r.body);
    assert_eq!(near, [(hashes[TRANSLATION].clone(), 9)].into(), "{}", r.body);
}
