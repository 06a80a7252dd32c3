//! The rollups always equal a naive recomputation from the raw rows: after random batches
//! (including re-sent ones and repeats inside a batch) and after re-pricing.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed setup should panic, not be handled"
)]

use std::sync::Arc;

use aicp_domain::ports::Repriced;
use aicp_domain::pricing::{Cost, PriceSource, Priced, original_fallback};
use aicp_domain::{
    Catalogue, CostRepository, EventBatch, EventRepository, NewEvent, PriceBook, PricedEvent,
    ProjectId, Provider, TimeWindow, Usd,
};
use aicp_storage::{
    GroupCommitConfig, PgCostRepository, PgEventRepository, PoolConfig, build_pool,
};
use aicp_test_support::TestDatabase;
use chrono::{Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

const FEATURES: [&str; 3] = ["chat", "search", "summary"];
const MODELS: [(&str, Provider); 4] = [
    ("gpt-4o", Provider::Openai),
    ("gpt-4o-mini", Provider::Openai),
    ("claude-3-5-sonnet-20241022", Provider::Anthropic),
    ("mystery-model", Provider::Openai),
];

fn random_event(
    rng: &mut StdRng,
    book: &PriceBook,
    project: &ProjectId,
    span: usize,
) -> PricedEvent {
    let (model, provider) = MODELS[rng.random_range(0..MODELS.len())];
    let input = rng.random_range(0..5000);
    let event = NewEvent {
        trace_id: format!("tr_{}", span / 3),
        span_id: format!("sp_{span}"),
        parent_span_id: None,
        feature: FEATURES[rng.random_range(0..FEATURES.len())].to_owned(),
        user_id: rng.random_bool(0.7).then(|| format!("u{}", rng.random_range(0..4))),
        provider,
        model: model.to_owned(),
        input_tokens: input,
        output_tokens: rng.random_range(0..2000),
        cached_tokens: if rng.random_bool(0.3) { rng.random_range(0..=input) } else { 0 },
        latency_ms: rng.random_range(0..20_000),
        estimated_cost: Usd::ZERO,
        timestamp: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
            + Duration::minutes(rng.random_range(0..3 * 24 * 60)),
        metadata: None,
        is_streaming: rng.random_bool(0.2),
        error_code: None,
        retry_count: if rng.random_bool(0.1) { rng.random_range(1..4) } else { 0 },
        is_error: rng.random_bool(0.05),
        reasoning_tokens: 0,
        cache_write_tokens: 0,
        cache_write_1h_tokens: 0,
        provider_cost: None,
        prompt: None,
    };
    let priced = book.price(project, &event.model, event.timestamp, event.usage());
    PricedEvent { event, priced, prompt: None }
}

/// Rows of the rollups that differ from the same aggregates computed from `events`, both ways.
pub async fn mismatches(db: &TestDatabase) -> i64 {
    let client = db.client().await;
    let bucketed = |table: &str, unit: &str| {
        format!(
            "WITH naive AS (SELECT project_id, date_trunc('{unit}', created_at, 'UTC') AS bucket, feature, \
             model, provider, is_error, count(*) AS calls, count(*) FILTER (WHERE retry_count > 0) AS rc, \
             sum(retry_count) AS retries, count(*) FILTER (WHERE cached_tokens > 0) AS hits, \
             count(*) FILTER (WHERE is_streaming) AS streaming, count(*) FILTER (WHERE priced_as IS NULL) AS unpriced, \
             sum(input_tokens) AS i, sum(output_tokens) AS o, sum(cached_tokens) AS c, \
             sum(verified_cost_usd) AS cost, coalesce(sum(verified_cost_usd) FILTER (WHERE retry_count > 0), 0) AS rcost, \
             sum(latency_ms) AS ls, min(latency_ms) AS lmin, max(latency_ms) AS lmax, aicp_hist(latency_ms) AS h \
             FROM events GROUP BY 1, 2, 3, 4, 5, 6), \
             roll AS (SELECT project_id, bucket, feature, model, provider, is_error, calls, retried_calls, retries, \
             cache_hits, streaming_calls, unpriced_calls, input_tokens, output_tokens, cached_tokens, cost_usd, \
             retried_cost_usd, latency_sum, latency_min, latency_max, latency_hist FROM {table}) \
             SELECT (SELECT count(*) FROM (SELECT * FROM naive EXCEPT SELECT * FROM roll) a) + \
                    (SELECT count(*) FROM (SELECT * FROM roll EXCEPT SELECT * FROM naive) b)"
        )
    };
    let users = "WITH naive AS (SELECT project_id, date_trunc('day', created_at, 'UTC') AS bucket, user_id, \
        count(*), sum(input_tokens), sum(output_tokens), sum(verified_cost_usd), sum(latency_ms), \
        min(latency_ms), max(latency_ms) \
        FROM events WHERE user_id IS NOT NULL GROUP BY 1, 2, 3), \
        roll AS (SELECT project_id, bucket, user_id, calls, input_tokens, output_tokens, cost_usd, latency_sum, \
        latency_min, latency_max \
        FROM rollup_user_daily) \
        SELECT (SELECT count(*) FROM (SELECT * FROM naive EXCEPT SELECT * FROM roll) a) + \
               (SELECT count(*) FROM (SELECT * FROM roll EXCEPT SELECT * FROM naive) b)";
    let mut total = 0;
    for sql in
        [bucketed("rollup_hourly", "hour"), bucketed("rollup_daily", "day"), users.to_owned()]
    {
        let n: i64 = client.query_one(&sql, &[]).await.unwrap().get(0);
        total += n;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_equal_a_naive_recomputation_after_random_batches_retries_and_repricing() {
    let db = TestDatabase::new().await;
    let pool = build_pool(&PoolConfig::new(db.url())).unwrap();
    let (repo, _w) = PgEventRepository::start(pool.clone(), &GroupCommitConfig::default());
    let repo = Arc::new(repo);
    let costs = PgCostRepository::new(pool);
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
    }
    assert_eq!(mismatches(&db).await, 0, "rollups differ from the raw rows after ingest");

    // Re-price a random subset of p1's events to random costs, then check again.
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
    assert_eq!(mismatches(&db).await, 0, "rollups differ from the raw rows after re-pricing");
    // Another project's rows are never touched by a re-pricing of p1.
    let p2_changed = costs.update_costs(&projects[1], updates).await.unwrap();
    assert_eq!(p2_changed, 0);
}
