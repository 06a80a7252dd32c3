//! `aicp-client` (the Rust SDK) against the real server over a socket: delivery, idempotent
//! re-sends, and one invalid event that must not poison its batch.

use std::time::Duration;

use aicp_client::{Client, Event, OpenAiUsage};
use chrono::{TimeZone, Utc};

use crate::support::TestApp;

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).single().unwrap()
}

#[actix_web::test]
async fn recorded_events_are_stored_and_a_re_sent_event_is_stored_once() {
    let app = TestApp::new().await;
    let served = crate::served::serve(&app);
    let client = Client::builder(served.base())
        .batch_size(7)
        .flush_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let usage =
        OpenAiUsage { prompt_tokens: 1000, completion_tokens: 500, ..OpenAiUsage::default() };
    for i in 0..20 {
        client.record(
            Event::from_openai_usage("chat", "gpt-4o", &usage).ids("t", format!("s{i}")).at(at()),
        );
    }
    // The same call reported twice (an application retrying its own report).
    client.record(Event::from_openai_usage("chat", "gpt-4o", &usage).ids("t", "s0").at(at()));
    client.flush().await;
    let stats = client.stats();
    assert_eq!((stats.sent, stats.failed, stats.rejected), (21, 0, 0));
    assert_eq!(app.count().await, 20);
    let totals = app.get("/api/v1/analytics/realtime-totals").await;
    assert_eq!(totals.body["totalRequests"], 20, "{}", totals.body);
    client.shutdown().await;
}

#[actix_web::test]
async fn one_invalid_event_is_rejected_and_the_rest_of_its_batch_is_stored() {
    let app = TestApp::new().await;
    let served = crate::served::serve(&app);
    let client = Client::builder(served.base()).build().unwrap();
    client.record(Event::new("chat", "openai", "gpt-4o").ids("t", "ok-1").tokens(10, 5).at(at()));
    client.record(Event::new("chat", "acme-llm", "m").ids("t", "bad").tokens(10, 5).at(at()));
    client.record(Event::new("chat", "openai", "gpt-4o").ids("t", "ok-2").tokens(10, 5).at(at()));
    client.shutdown().await;
    let stats = client.stats();
    assert_eq!((stats.sent, stats.rejected, stats.failed), (2, 1, 0));
    let db = app.db.as_ref().unwrap();
    let rows =
        db.client().await.query("SELECT span_id FROM events ORDER BY span_id", &[]).await.unwrap();
    let spans: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(spans, ["ok-1", "ok-2"]);
}
