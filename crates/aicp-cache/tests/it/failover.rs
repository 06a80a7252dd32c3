//! Redis down, hung, and back: decisions keep coming, from the in-process fallback, within the
//! timeout; the circuit opens and closes by itself.

use std::time::Duration;

use aicp_cache::{
    CheckOutcome, CircuitState, DecisionSource, RateLimiterConfig, RateLimiterStats,
    RedisRateLimiter, build_pool,
};
use aicp_domain::ratelimit::RatePolicy;
use futures_util::future::join_all;

use crate::support::{SwitchableProxy, guarded, policy, unique_prefix};

const HOUR: Duration = Duration::from_secs(3600);

fn limiter(url: &str, config: RateLimiterConfig) -> RedisRateLimiter {
    // The pool's own timeouts are long: the limiter's timeout alone must bound each call.
    let pool = build_pool(url, Duration::from_secs(30)).unwrap();
    RedisRateLimiter::new(pool, RateLimiterConfig { prefix: unique_prefix(), ..config })
}

async fn check(limiter: &RedisRateLimiter, p: &RatePolicy) -> CheckOutcome {
    guarded(limiter.check_detailed("c", p, 1)).await
}

#[tokio::test]
async fn an_unreachable_redis_falls_back_to_the_same_limits_in_process() {
    let limiter = limiter("redis://127.0.0.1:1", RateLimiterConfig::default());
    let p = policy("events", 1, HOUR, 3);
    for left in [2, 1, 0] {
        let outcome = check(&limiter, &p).await;
        assert_eq!(outcome.source, DecisionSource::Fallback);
        assert!(outcome.decision.allowed);
        assert_eq!(outcome.decision.remaining, left);
    }
    let refused = check(&limiter, &p).await;
    assert_eq!(refused.source, DecisionSource::Fallback);
    assert!(!refused.decision.allowed, "the fallback must still enforce the limit");
    assert_eq!(refused.decision.limit, 1);
    let retry = refused.decision.retry_after.unwrap();
    assert!(retry > HOUR - Duration::from_secs(60) && retry <= HOUR, "{retry:?}");
    assert!(refused.decision.reset_after > HOUR * 2);
    assert_eq!(limiter.circuit_state(), CircuitState::Open);
    assert_eq!(
        limiter.stats(),
        RateLimiterStats { redis_calls: 3, redis_failures: 3, fallback_decisions: 4 }
    );
}

#[tokio::test]
async fn a_redis_that_never_answers_costs_k_timeouts_then_is_skipped() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", silent.local_addr().unwrap());
    let config = RateLimiterConfig {
        timeout: Duration::from_millis(50),
        failure_threshold: 3,
        cool_down: HOUR,
        ..RateLimiterConfig::default()
    };
    let limiter = limiter(&url, config);
    let p = policy("events", 1, HOUR, 5);
    for n in 1..=3u64 {
        assert_eq!(limiter.circuit_state(), CircuitState::Closed);
        let outcome = check(&limiter, &p).await;
        assert_eq!(outcome.source, DecisionSource::Fallback);
        assert!(outcome.decision.allowed);
        assert_eq!(limiter.stats().redis_failures, n, "each call gave up on Redis by itself");
    }
    assert_eq!(limiter.circuit_state(), CircuitState::Open);
    let mut allowed = 3;
    for _ in 0..10 {
        let outcome = check(&limiter, &p).await;
        assert_eq!(outcome.source, DecisionSource::Fallback);
        allowed += u32::from(outcome.decision.allowed);
    }
    assert_eq!(allowed, 5, "the burst still holds in process");
    assert_eq!(limiter.stats().redis_calls, 3, "an open circuit does not touch Redis");
    assert_eq!(limiter.stats().fallback_decisions, 13);
}

#[tokio::test]
async fn concurrent_requests_against_a_hung_redis_all_get_answers() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", silent.local_addr().unwrap());
    let config = RateLimiterConfig { cool_down: HOUR, ..RateLimiterConfig::default() };
    let limiter = limiter(&url, config);
    let p = policy("events", 1, HOUR, 10);
    let answers = guarded(join_all((0..20).map(|_| limiter.check_detailed("c", &p, 1)))).await;
    assert!(answers.iter().all(|o| o.source == DecisionSource::Fallback));
    assert_eq!(answers.iter().filter(|o| o.decision.allowed).count(), 10);
    assert_eq!(limiter.circuit_state(), CircuitState::Open);
}

#[tokio::test]
async fn the_limiter_goes_back_to_redis_when_it_recovers_and_away_when_it_hangs_again() {
    let proxy = SwitchableProxy::start(false).await;
    let config = RateLimiterConfig {
        timeout: Duration::from_millis(250),
        failure_threshold: 3,
        cool_down: Duration::from_millis(100),
        ..RateLimiterConfig::default()
    };
    let limiter = limiter(proxy.url(), config);
    let p = policy("events", 1000, HOUR, 1000);
    for _ in 0..3 {
        assert_eq!(check(&limiter, &p).await.source, DecisionSource::Fallback);
    }
    assert_eq!(limiter.circuit_state(), CircuitState::Open);

    proxy.set_up(true);
    assert!(until_source(&limiter, &p, DecisionSource::Redis).await, "never went back to Redis");
    assert_eq!(limiter.circuit_state(), CircuitState::Closed);
    assert_eq!(check(&limiter, &p).await.source, DecisionSource::Redis);

    proxy.set_up(false);
    assert!(until_source(&limiter, &p, DecisionSource::Fallback).await);
    for _ in 0..3 {
        assert_eq!(check(&limiter, &p).await.source, DecisionSource::Fallback);
    }
    assert_eq!(limiter.circuit_state(), CircuitState::Open);
}

/// Checks until a decision comes from `source`, pausing a cool-down between tries; bounded.
async fn until_source(limiter: &RedisRateLimiter, p: &RatePolicy, source: DecisionSource) -> bool {
    for _ in 0..40 {
        if check(limiter, p).await.source == source {
            return true;
        }
        tokio::time::sleep(limiter.config().cool_down).await;
    }
    false
}
