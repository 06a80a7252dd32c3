//! PgEventRepository against the real PostgreSQL: durability, idempotency, group commit.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed setup should panic, not be handled"
)]

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use aicp_domain::pricing::original_fallback;
use aicp_domain::{
    Catalogue, EventBatch, EventRepository, NewEvent, PriceBook, PricedEvent, ProjectId, Provider,
    RepoError, Usd,
};
use aicp_storage::{GroupCommitConfig, PgEventRepository, PoolConfig, build_pool};
use aicp_test_support::{TestDatabase, terminate_when_active};
use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;

fn event(trace: &str, span: &str) -> PricedEvent {
    let event = NewEvent {
        trace_id: trace.to_owned(),
        span_id: span.to_owned(),
        parent_span_id: None,
        feature: "chat".to_owned(),
        user_id: Some("u1".to_owned()),
        provider: Provider::Openai,
        model: "gpt-4o".to_owned(),
        input_tokens: 1000,
        output_tokens: 500,
        cached_tokens: 200,
        latency_ms: 812,
        estimated_cost: Usd::new(Decimal::from_str("0.0075").unwrap()),
        timestamp: Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap(),
        metadata: Some(serde_json::json!({"k": "v"}).as_object().unwrap().clone()),
        is_streaming: false,
        error_code: None,
        retry_count: 0,
        is_error: false,
        reasoning_tokens: 0,
        cache_write_tokens: 0,
        cache_write_1h_tokens: 0,
        provider_cost: None,
        prompt: None,
    };
    let book = PriceBook::new(&Catalogue::builtin().unwrap(), &[], original_fallback());
    let priced =
        book.price(&ProjectId::default_project(), "gpt-4o", event.timestamp, event.usage());
    PricedEvent { event, priced, prompt: None }
}

fn batch(project: &str, spans: &[&str]) -> EventBatch {
    EventBatch {
        project: ProjectId::new(project),
        events: spans.iter().map(|s| event("tr_1", s)).collect(),
    }
}

async fn repo(db: &TestDatabase) -> (Arc<PgEventRepository>, aicp_storage::WriterHandle) {
    let pool = build_pool(&PoolConfig::new(db.url())).unwrap();
    let (repo, writers) = PgEventRepository::start(pool, &GroupCommitConfig::default());
    (Arc::new(repo), writers)
}

async fn count(db: &TestDatabase) -> i64 {
    db.client().await.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn a_batch_is_stored_with_its_exact_cost_breakdown() {
    let db = TestDatabase::new().await;
    let (repo, _w) = repo(&db).await;
    let summary = repo.insert_batch(batch("default", &["a", "b"])).await.unwrap();
    assert_eq!(summary.inserted, vec![0, 1]);
    assert_eq!(summary.duplicates, 0);
    let row = db
        .client()
        .await
        .query_one(
            "SELECT verified_cost_usd::text, input_cost_usd::text, cache_read_cost_usd::text, \
             output_cost_usd::text, estimated_cost_usd::text, is_cache_hit, priced_as, metadata::text \
             FROM events WHERE span_id = 'a'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "0.007250000000");
    assert_eq!(row.get::<_, String>(1), "0.002000000000");
    assert_eq!(row.get::<_, String>(2), "0.000250000000");
    assert_eq!(row.get::<_, String>(3), "0.005000000000");
    assert_eq!(row.get::<_, String>(4), "0.007500000000");
    assert!(row.get::<_, bool>(5));
    assert_eq!(row.get::<_, Option<String>>(6).as_deref(), Some("gpt-4o"));
    assert_eq!(row.get::<_, String>(7), r#"{"k": "v"}"#);
}

#[tokio::test]
async fn resending_a_batch_stores_nothing_twice() {
    let db = TestDatabase::new().await;
    let (repo, _w) = repo(&db).await;
    repo.insert_batch(batch("default", &["a", "b"])).await.unwrap();
    let again = repo.insert_batch(batch("default", &["a", "b", "c"])).await.unwrap();
    assert_eq!(again.inserted, vec![2]);
    assert_eq!(again.duplicates, 2);
    assert_eq!(count(&db).await, 3);
}

#[tokio::test]
async fn a_span_repeated_inside_one_batch_is_stored_once() {
    let db = TestDatabase::new().await;
    let (repo, _w) = repo(&db).await;
    let summary = repo.insert_batch(batch("default", &["a", "a", "b"])).await.unwrap();
    assert_eq!(summary.inserted, vec![0, 2]);
    assert_eq!(summary.duplicates, 1);
    assert_eq!(count(&db).await, 2);
}

#[tokio::test]
async fn the_same_span_in_two_projects_is_two_events() {
    let db = TestDatabase::new().await;
    let (repo, _w) = repo(&db).await;
    repo.insert_batch(batch("p1", &["a"])).await.unwrap();
    let other = repo.insert_batch(batch("p2", &["a"])).await.unwrap();
    assert_eq!(other.inserted, vec![0]);
    assert_eq!(count(&db).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_identical_batches_store_each_event_once_and_count_it_once() {
    let db = TestDatabase::new().await;
    let (repo, _w) = repo(&db).await;
    let spans: Vec<String> = (0..200).map(|i| format!("s{i}")).collect();
    let mut tasks = Vec::new();
    for round in 0..10 {
        let repo = Arc::clone(&repo);
        let mut mine: Vec<&str> = spans.iter().map(String::as_str).collect();
        // Different orders in different requests: the sorted insert must not deadlock.
        if round % 2 == 1 {
            mine.reverse();
        }
        let b = batch("default", &mine);
        tasks.push(tokio::spawn(async move { repo.insert_batch(b).await }));
    }
    let mut inserted = 0;
    let mut duplicates = 0;
    for t in tasks {
        let s = t.await.unwrap().unwrap();
        inserted += s.inserted.len();
        duplicates += s.duplicates;
    }
    assert_eq!(inserted, 200);
    assert_eq!(duplicates, 9 * 200);
    assert_eq!(count(&db).await, 200);
}

#[tokio::test]
async fn an_unreachable_database_is_reported_as_unavailable() {
    let mut config = PoolConfig::new("postgres://postgres@127.0.0.1:1/nope");
    config.wait_timeout = Duration::from_millis(500);
    let pool = build_pool(&config).unwrap();
    let (repo, _w) = PgEventRepository::start(pool, &GroupCommitConfig::default());
    let err = repo.insert_batch(batch("default", &["a"])).await.unwrap_err();
    assert!(matches!(err, RepoError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_full_queue_refuses_at_once_instead_of_waiting() {
    // No writer can make progress (a local socket that never answers the PostgreSQL handshake,
    // long timeout): the queue fills up.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut config = PoolConfig::new(format!("postgres://postgres@127.0.0.1:{port}/nope"));
    config.wait_timeout = Duration::from_secs(30);
    let pool = build_pool(&config).unwrap();
    let gc = GroupCommitConfig { writers: 1, queue_capacity: 1, max_rows_per_commit: 1 };
    let (repo, _w) = PgEventRepository::start(pool, &gc);
    let repo = Arc::new(repo);
    let mut pending = Vec::new();
    for i in 0..3 {
        let r = Arc::clone(&repo);
        pending.push(tokio::spawn(async move {
            r.insert_batch(batch("default", &[&format!("s{i}")])).await
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = tokio::time::timeout(Duration::from_secs(5), pending.pop().unwrap()).await;
    let result = last.expect("a full queue must answer at once").unwrap();
    assert!(matches!(result, Err(RepoError::Overloaded)), "{result:?}");
    for p in pending {
        p.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_whose_backend_is_killed_mid_statement_is_unavailable_and_stores_nothing() {
    // A closed connection carries no SQLSTATE; it used to be reported as an unexpected error
    // (500) although nothing was stored and a retry succeeds (503 + Retry-After).
    let db = TestDatabase::new().await;
    let (repo, _w) = repo(&db).await;
    let client = db.client().await;
    // One priced event copied (pricing each would parse the catalogue 20,000 times).
    let one = event("tr_1", "s");
    let events: Vec<PricedEvent> = (0..20_000)
        .map(|i| {
            let mut e = one.clone();
            e.event.span_id = format!("s{i}");
            e
        })
        .collect();
    let big = EventBatch { project: ProjectId::default_project(), events };
    let mut caught = false;
    for _ in 0..5 {
        let insert = {
            let repo = Arc::clone(&repo);
            let batch = big.clone();
            tokio::spawn(async move { repo.insert_batch(batch).await })
        };
        let terminated =
            terminate_when_active(&client, "%INSERT INTO events%", 5_000).await.unwrap();
        let result = insert.await.unwrap();
        if terminated && result.is_err() {
            assert!(matches!(result, Err(RepoError::Unavailable(_))), "{result:?}");
            assert_eq!(count(&db).await, 0, "a killed insert must store nothing");
            caught = true;
            break;
        }
        // The insert won the race: start over on an empty table.
        client.batch_execute("TRUNCATE events, rollup_pending").await.unwrap();
    }
    assert!(caught, "no insert was caught mid-statement: the test proved nothing");
}
