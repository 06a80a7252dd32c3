//! The rollup fold of the real binary under load: SIGKILLed while it folds, restarted, and then
//! every event is in the rollups exactly once, with nothing acknowledged lost.

use std::collections::HashSet;
use std::time::Duration;

use aicp_test_support::{TestDatabase, pending_events, rollup_mismatches};

use crate::process::start_with;
use crate::support::{batch, event};

const FEATURES: [&str; 3] = ["chat", "search", "summary"];
const MODELS: [&str; 2] = ["gpt-4o", "gpt-4o-mini"];

/// Sends batches of 200 events as writer `writer` until `stop`; returns the spans that
/// were acknowledged with 202.
async fn load(
    base: String,
    writer: usize,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    for b in 0.. {
        if *stop.borrow() {
            break;
        }
        let spans: Vec<String> = (0..200).map(|i| format!("w{writer}_b{b}_{i}")).collect();
        let events = spans
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let minute = (b * 7 + i) % (3 * 24 * 60);
                let at = chrono::DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap()
                    + chrono::Duration::minutes(minute as i64);
                event(
                    s,
                    serde_json::json!({
                        "feature": FEATURES[i % 3],
                        "model": MODELS[b % 2],
                        "userId": format!("u{}", i % 5),
                        "latencyMs": (i * 37) % 5000,
                        "retryCount": i % 4 / 3,
                        "isError": i % 17 == 0,
                        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    }),
                )
            })
            .collect();
        let sent = client
            .post(format!("{base}/api/v1/events"))
            .header("content-type", "application/json")
            .body(batch(events))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match sent {
            Ok(r) if r.status() == 202 => acknowledged.extend(spans),
            // The server was killed: whatever was not answered may or may not be stored.
            _ => break,
        }
    }
    acknowledged
}

/// The value of an unlabelled sample in Prometheus text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[actix_web::test]
async fn a_server_killed_while_folding_loses_nothing_and_its_restart_folds_everything_once() {
    let db = TestDatabase::reserve();
    let fast = [("ROLLUP_FOLD_INTERVAL_MS", "5"), ("ROLLUP_FOLD_BATCH", "300")];
    let mut server = start_with(&db, &fast).await;
    let pg = db.client().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let writers: Vec<_> =
        (0..3).map(|w| tokio::spawn(load(server.base.clone(), w, stopped.clone()))).collect();
    // Kill the server while a fold statement is running (seen from PostgreSQL).
    let mut caught = false;
    for _ in 0..20_000 {
        let folding: i64 = pg
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND state = 'active' AND pid <> pg_backend_pid() \
                 AND query LIKE 'WITH ins AS (DELETE FROM rollup_pending%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let stored: i64 = pg.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0);
        if folding > 0 && stored > 2_000 {
            server.kill();
            caught = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    stop.send(true).unwrap();
    let mut acknowledged = HashSet::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    assert!(caught, "the server was never seen folding: the test proved nothing");
    assert!(!acknowledged.is_empty());

    // A new process on the same database takes over the fold.
    let port = crate::live::free_port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let mut env = fast.to_vec();
    env.push(("METRICS_ADDR", metrics_addr.as_str()));
    let _restarted = start_with(&db, &env).await;
    let mut pending = -1;
    for _ in 0..600 {
        pending = pending_events(&pg).await.unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pending, 0, "the restarted server did not fold the backlog");
    assert_eq!(rollup_mismatches(&pg).await.unwrap(), 0, "rollups differ from the raw rows");
    // The restarted process says what it folded, and (within a second) that nothing is pending.
    let stored: i64 = pg.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0);
    let mut text = String::new();
    for _ in 0..100 {
        text = reqwest::get(format!("http://{metrics_addr}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("aicp_rollup_pending_events 0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(text.contains("aicp_rollup_pending_events 0"), "{text}");
    let folded = metric(&text, "aicp_rollup_folded_events_total");
    assert!(folded > 0.0 && folded <= stored as f64, "{folded} of {stored}");
    assert!(text.contains("aicp_rollup_fold_wait_seconds_count"), "{text}");
    let stored: HashSet<String> = pg
        .query("SELECT span_id FROM events", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged events lost, e.g. {:?}", lost.len(), lost.first());
}
