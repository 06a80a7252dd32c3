//! Concurrent requests on one key: the script's read–decide–write is atomic, so they admit
//! exactly what the model admits, never one more.

use std::sync::Arc;
use std::time::Duration;

use aicp_cache::{DecisionSource, RateLimiterConfig, RateLimiterStats, RedisRateLimiter};
use futures_util::future::join_all;
use tokio::sync::Barrier;

use crate::gcra_model::{GcraParams, Model};
use crate::support::{guarded, policy, pool, redis_url, remove_keys, unique_prefix};

const REQUESTS: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_requests_on_one_key_admit_exactly_the_models_count() {
    // 10 a minute with a burst of 10: T = 6 s. Everything below runs under one hang guard of
    // 5 s < T, so no unit can come back during the test: the model's count is exact.
    let p = policy("events", 10, Duration::from_secs(60), 10);
    let mut model = Model::new(GcraParams::from_policy(&p).unwrap());
    let expected = (0..REQUESTS).filter(|_| model.check(1_000_000, 1).allowed).count();
    assert_eq!(expected, 10);

    // One connection per request, opened beforehand: the race is on the key, not on the pool
    // (its default size is 2 per core).
    let pool = pool(&redis_url());
    pool.resize(REQUESTS);
    let config = RateLimiterConfig {
        prefix: unique_prefix(),
        timeout: Duration::from_secs(4),
        ..RateLimiterConfig::default()
    };
    let limiter = Arc::new(RedisRateLimiter::new(pool.clone(), config));

    let outcomes = guarded(async {
        let connections = join_all((0..REQUESTS).map(|_| pool.get())).await;
        assert!(connections.iter().all(Result::is_ok), "could not open {REQUESTS} connections");
        drop(connections);
        let start = Arc::new(Barrier::new(REQUESTS));
        let tasks: Vec<_> = (0..REQUESTS)
            .map(|_| {
                let (limiter, p, start) = (Arc::clone(&limiter), p.clone(), Arc::clone(&start));
                tokio::spawn(async move {
                    start.wait().await;
                    limiter.check_detailed("c", &p, 1).await
                })
            })
            .collect();
        join_all(tasks).await
    })
    .await;
    let outcomes: Vec<_> = outcomes.into_iter().map(Result::unwrap).collect();

    assert!(outcomes.iter().all(|o| o.source == DecisionSource::Redis), "{outcomes:#?}");
    let allowed: Vec<_> = outcomes.iter().filter(|o| o.decision.allowed).collect();
    assert_eq!(allowed.len(), expected, "exactly the model's count must be admitted");
    // Each admitted request saw its own state: the remaining counts are 9, 8, …, 0 once each.
    let mut remaining: Vec<_> = allowed.iter().map(|o| o.decision.remaining).collect();
    remaining.sort_unstable();
    assert_eq!(remaining, (0..10).collect::<Vec<u32>>());
    for refused in outcomes.iter().filter(|o| !o.decision.allowed) {
        assert_eq!(refused.decision.remaining, 0);
        assert!(refused.decision.retry_after.is_some());
    }
    assert_eq!(
        limiter.stats(),
        RateLimiterStats { redis_calls: 64, redis_failures: 0, fallback_decisions: 0 }
    );
    remove_keys(&limiter).await;
}
