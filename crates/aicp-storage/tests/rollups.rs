//! The rollups always equal a naive recomputation from the raw rows: after random batches
//! (including re-sent ones and repeats inside a batch) folded at random moments, and after
//! re-pricing events of which some are folded and some still pending; and the reads over
//! rollups are exact before everything is folded.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed setup should panic, not be handled"
)]

use std::sync::Arc;

use aicp_domain::ports::Repriced;
mod common;

use aicp_domain::analytics::Filter;
use aicp_domain::ports::RollupFolder;
use aicp_domain::pricing::{Cost, PriceSource, Priced, original_fallback};
use aicp_domain::{
    AnalyticsRepository, Catalogue, CostRepository, EventBatch, EventRepository, PriceBook,
    PricedEvent, ProjectId, TimeWindow, Usd,
};
use aicp_storage::{
    GroupCommitConfig, PgAnalyticsRepository, PgCostRepository, PgEventRepository, PgRollupFolder,
    PoolConfig, build_pool,
};
use aicp_test_support::{TestDatabase, pending_events, rollup_mismatches};
use chrono::{TimeZone, Utc};
use common::{fold_all, random_event};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_equal_a_naive_recomputation_after_random_batches_retries_and_repricing() {
    let db = TestDatabase::new().await;
    let pool = build_pool(&PoolConfig::new(db.url())).unwrap();
    let (repo, _w) = PgEventRepository::start(pool.clone(), &GroupCommitConfig::default());
    let repo = Arc::new(repo);
    let costs = PgCostRepository::new(pool.clone());
    let folder = PgRollupFolder::new(pool.clone());
    let analytics = PgAnalyticsRepository::new(pool);
    let client = db.client().await;
    let book = PriceBook::new(&Catalogue::builtin().unwrap(), &[], original_fallback());
    let mut rng = StdRng::seed_from_u64(7);
    let projects = [ProjectId::new("p1"), ProjectId::new("p2")];
    for round in 0..12 {
        let project = projects[round % 2].clone();
        let start = rng.random_range(0..400);
        let len = rng.random_range(1..120);
        let mut events: Vec<PricedEvent> =
            (start..start + len).map(|i| random_event(&mut rng, &book, &project, i)).collect();
        // A span repeated inside the batch.
        if let Some(first) = events.first().cloned() {
            events.push(first);
        }
        let batch = EventBatch { project, events };
        // Re-send some batches, concurrently with the original: nothing may be counted twice.
        let again = rng.random_bool(0.4).then(|| batch.clone());
        let (r1, r2) = tokio::join!(repo.insert_batch(batch), async {
            match again {
                Some(b) => Some(repo.insert_batch(b).await),
                None => None,
            }
        });
        r1.unwrap();
        if let Some(r) = r2 {
            r.unwrap();
        }
        // Fold part of what is pending at random moments, so that reads and re-pricing meet a
        // mix of folded and pending events.
        if rng.random_bool(0.5) {
            folder.fold(rng.random_range(1..80)).await.unwrap();
        }
    }
    let pending = pending_events(&client).await.unwrap();
    assert!(pending > 0, "the test must read with events still pending");
    for project in &projects {
        assert_reads_are_exact(&analytics, &client, project).await;
    }

    // Re-price a random subset of p1's events (some folded, some pending) to random costs.
    let window = TimeWindow {
        from: Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap(),
    };
    let p1 = &projects[0];
    let calls = costs.scan_calls(p1, &window, None, None, 10_000).await.unwrap();
    assert!(!calls.is_empty());
    let chosen: Vec<_> = calls.iter().filter(|_| rng.random_bool(0.5)).collect();
    let updates: Vec<_> = chosen
        .into_iter()
        .map(|c| {
            let total = Usd::new(Decimal::new(rng.random_range(0..1_000_000), 9));
            let cost = Cost { input: total, total, ..Cost::default() };
            let unpriced = rng.random_bool(0.2);
            let priced = Priced {
                cost,
                priced_as: (!unpriced).then(|| "x".to_owned()),
                source: if unpriced { PriceSource::Fallback } else { PriceSource::Custom },
                effective_from: None,
            };
            Repriced { id: c.id, priced }
        })
        .collect();
    let changed = costs.update_costs(p1, updates.clone()).await.unwrap();
    assert_eq!(changed, updates.len() as u64);
    for project in &projects {
        assert_reads_are_exact(&analytics, &client, project).await;
    }
    fold_all(&folder).await;
    assert_eq!(pending_events(&client).await.unwrap(), 0);
    assert_eq!(
        rollup_mismatches(&client).await.unwrap(),
        0,
        "rollups differ from the raw rows after ingest, folds and re-pricing"
    );
    // Another project's rows are never touched by a re-pricing of p1.
    let p2_changed = costs.update_costs(&projects[1], updates).await.unwrap();
    assert_eq!(p2_changed, 0);
}

/// The whole-window figures read through the rollups (plus whatever is pending) equal the same
/// figures computed from the raw rows.
async fn assert_reads_are_exact(
    analytics: &PgAnalyticsRepository,
    client: &tokio_postgres::Client,
    project: &ProjectId,
) {
    // Whole days on both sides, so the answer comes from the daily rollup plus pending rows.
    let window = TimeWindow {
        from: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2026, 1, 4, 0, 0, 0).unwrap() - chrono::Duration::microseconds(1),
    };
    let stats = analytics.window_stats(project, &window, &Filter::default()).await.unwrap();
    let row = client
        .query_one(
            "SELECT count(*), coalesce(sum(verified_cost_usd), 0)::text, \
             coalesce(sum(input_tokens), 0)::bigint FROM events WHERE project_id = $1",
            &[&project.as_str()],
        )
        .await
        .unwrap();
    let (calls, cost, input): (i64, String, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(stats.calls, u64::try_from(calls).unwrap());
    assert_eq!(stats.cost.amount(), cost.parse::<Decimal>().unwrap());
    assert_eq!(stats.input_tokens, u64::try_from(input).unwrap());
    let naive: Vec<i64> = client
        .query_one(
            "SELECT aicp_hist(latency_ms) FROM events WHERE project_id = $1",
            &[&project.as_str()],
        )
        .await
        .unwrap()
        .get(0);
    let read: Vec<i64> = stats.latency.counts.iter().map(|c| i64::try_from(*c).unwrap()).collect();
    assert_eq!(read, naive, "the merged latency histogram differs from the raw rows'");
    let by_user = analytics
        .breakdown(project, &window, aicp_domain::analytics::GroupBy::User, &Filter::default(), 100)
        .await
        .unwrap();
    let users: i64 = client
        .query_one(
            "SELECT count(*) FROM events WHERE project_id = $1 AND user_id IS NOT NULL",
            &[&project.as_str()],
        )
        .await
        .unwrap()
        .get(0);
    let read: u64 = by_user.iter().map(|r| r.requests).sum();
    assert_eq!(read, u64::try_from(users).unwrap(), "the per-user rollup read misses events");
}
