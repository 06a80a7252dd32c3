//! The GCRA script against the real Redis.

use std::time::Duration;

use aicp_cache::{DecisionSource, RedisRateLimiter};
use aicp_domain::ratelimit::{RateDecision, RatePolicy};

use crate::support::{guarded, policy, pool, redis_limiter, redis_url, remove_keys, scan};

const HOUR: Duration = Duration::from_secs(3600);

/// Slack for the server clock moving between calls: emission intervals in these tests are an
/// hour, so a minute of slack is a sanity bound, not a timing assertion.
const SLACK: Duration = Duration::from_secs(60);

async fn check(
    limiter: &RedisRateLimiter,
    client: &str,
    p: &RatePolicy,
    cost: u32,
) -> RateDecision {
    let outcome = guarded(limiter.check_detailed(client, p, cost)).await;
    assert_eq!(outcome.source, DecisionSource::Redis, "decided by {:?}", outcome.source);
    outcome.decision
}

/// `actual` is `expected` give or take the time the test took (durations only shrink).
fn about(actual: Duration, expected: Duration) {
    assert!(
        actual <= expected && actual + SLACK >= expected,
        "{actual:?} is not about {expected:?}"
    );
}

async fn conn() -> deadpool_redis::Connection {
    pool(&redis_url()).get().await.unwrap()
}

async fn pttl(key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query_async(&mut conn().await).await.unwrap()
}

async fn get(key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query_async(&mut conn().await).await.unwrap()
}

#[tokio::test]
async fn allows_up_to_the_burst_then_refuses_with_the_exact_retry_after() {
    let limiter = redis_limiter();
    let p = policy("events", 1, HOUR, 3);
    for (i, left) in [2, 1, 0].into_iter().enumerate() {
        let d = check(&limiter, "c", &p, 1).await;
        assert!(d.allowed);
        assert_eq!((d.limit, d.remaining, d.retry_after), (1, left, None));
        about(d.reset_after, HOUR * (u32::try_from(i).unwrap() + 1));
    }
    let d = check(&limiter, "c", &p, 1).await;
    assert!(!d.allowed);
    assert_eq!(d.remaining, 0);
    about(d.retry_after.unwrap(), HOUR);
    about(d.reset_after, HOUR * 3);
    remove_keys(&limiter).await;
}

#[tokio::test]
async fn a_refused_request_is_not_counted() {
    let limiter = redis_limiter();
    let p = policy("events", 1, HOUR, 2);
    check(&limiter, "c", &p, 2).await;
    let key = limiter.key("c", &p);
    let tat = get(&key).await.unwrap();
    let first = check(&limiter, "c", &p, 1).await;
    assert!(!first.allowed);
    for _ in 0..5 {
        let d = check(&limiter, "c", &p, 1).await;
        assert!(!d.allowed);
        assert!(d.retry_after <= first.retry_after, "a refusal pushed the retry time back");
    }
    assert_eq!(get(&key).await.unwrap(), tat, "a refusal changed the stored TAT");
    remove_keys(&limiter).await;
}

#[tokio::test]
async fn a_cost_of_n_consumes_n_units() {
    let limiter = redis_limiter();
    let p = policy("events", 10, HOUR * 10, 10);
    assert_eq!(check(&limiter, "c", &p, 4).await.remaining, 6);
    assert_eq!(check(&limiter, "c", &p, 3).await.remaining, 3);
    let big = check(&limiter, "c", &p, 5).await;
    assert!(!big.allowed);
    assert_eq!(big.remaining, 3);
    about(big.retry_after.unwrap(), HOUR * 2);
    let d = check(&limiter, "c", &p, 3).await;
    assert!(d.allowed, "the refused batch of 5 must not have been counted");
    assert_eq!(d.remaining, 0);
    about(d.reset_after, HOUR * 10);
    remove_keys(&limiter).await;
}

#[tokio::test]
async fn a_cost_above_the_burst_is_refused_without_a_retry_time() {
    let limiter = redis_limiter();
    let p = policy("events", 10, HOUR, 5);
    let d = check(&limiter, "c", &p, 6).await;
    assert!(!d.allowed);
    assert_eq!((d.remaining, d.retry_after, d.reset_after), (5, None, Duration::ZERO));
    assert_eq!(get(&limiter.key("c", &p)).await, None);
    remove_keys(&limiter).await;
}

#[tokio::test]
async fn a_cost_of_zero_peeks_without_writing() {
    let limiter = redis_limiter();
    let p = policy("events", 10, HOUR, 5);
    let d = check(&limiter, "c", &p, 0).await;
    assert!(d.allowed);
    assert_eq!(d.remaining, 5);
    assert_eq!(get(&limiter.key("c", &p)).await, None);
    check(&limiter, "c", &p, 2).await;
    assert_eq!(check(&limiter, "c", &p, 0).await.remaining, 3);
    assert_eq!(check(&limiter, "c", &p, 0).await.remaining, 3);
    remove_keys(&limiter).await;
}

#[tokio::test]
async fn every_key_has_a_ttl_ending_when_the_allowance_is_full() {
    let limiter = redis_limiter();
    let events = policy("events", 1, HOUR, 2);
    let export = policy("export", 10, Duration::from_secs(60), 10);
    let mut last = Vec::new();
    for (client, p, cost) in [
        ("a", &events, 1),
        ("a", &events, 1),
        ("a", &events, 1),
        ("b", &export, 4),
        ("a", &export, 10),
    ] {
        let d = check(&limiter, client, p, cost).await;
        last.retain(|(c, name, _)| (c, name) != (&client, &p.name));
        last.push((client, p.name.clone(), d.reset_after));
    }
    let pattern = format!("{}*", limiter.config().prefix);
    let mut keys = scan(&pattern).await;
    keys.sort();
    let prefix = &limiter.config().prefix;
    assert_eq!(
        keys,
        [
            format!("{prefix}rl:{{a}}:events"),
            format!("{prefix}rl:{{a}}:export"),
            format!("{prefix}rl:{{b}}:export")
        ]
    );
    for (client, name, reset_after) in last {
        let key = limiter.key(client, &policy(&name, 1, HOUR, 1));
        let ttl = pttl(&key).await;
        assert!(ttl > 0, "{key} has no TTL ({ttl})");
        let ttl = Duration::from_millis(u64::try_from(ttl).unwrap());
        // Both are whole milliseconds rounded at different instants: 1 ms of rounding apart.
        assert!(
            ttl <= reset_after + Duration::from_millis(1),
            "{key} outlives its meaning: {ttl:?} > {reset_after:?}"
        );
    }
    remove_keys(&limiter).await;
}

#[tokio::test]
async fn clients_and_policies_are_independent() {
    let limiter = redis_limiter();
    let events = policy("events", 1, HOUR, 2);
    let export = policy("export", 1, HOUR, 2);
    assert!(check(&limiter, "a", &events, 2).await.allowed);
    assert!(!check(&limiter, "a", &events, 1).await.allowed);
    let b = check(&limiter, "b", &events, 1).await;
    assert!(b.allowed);
    assert_eq!(b.remaining, 1);
    assert!(check(&limiter, "a", &export, 2).await.allowed);
    remove_keys(&limiter).await;
}

#[tokio::test]
async fn units_replenish_one_per_emission_interval() {
    let limiter = redis_limiter();
    // T = 100 ms / 2 = 50 ms.
    let p = policy("fast", 2, Duration::from_millis(100), 2);
    assert!(check(&limiter, "c", &p, 2).await.allowed);
    let refused = check(&limiter, "c", &p, 1).await;
    assert!(!refused.allowed);
    let retry = refused.retry_after.unwrap();
    assert!(retry > Duration::ZERO && retry <= Duration::from_millis(50), "{retry:?}");
    tokio::time::sleep(retry + Duration::from_millis(5)).await;
    assert!(check(&limiter, "c", &p, 1).await.allowed);
    let reset = check(&limiter, "c", &p, 0).await.reset_after;
    tokio::time::sleep(reset + Duration::from_millis(5)).await;
    assert_eq!(check(&limiter, "c", &p, 0).await.remaining, 2);
    remove_keys(&limiter).await;
}

#[tokio::test]
async fn a_policy_that_allows_nothing_is_answered_without_redis() {
    let limiter = redis_limiter();
    let outcome = guarded(limiter.check_detailed("c", &policy("off", 0, HOUR, 1), 1)).await;
    assert_eq!(outcome.source, DecisionSource::Policy);
    assert!(!outcome.decision.allowed);
    assert_eq!(outcome.decision.retry_after, None);
    assert_eq!(limiter.stats().redis_calls, 0);
}
