//! [`RedisRateLimiter`]: the `RateLimiter` port over Redis, with the in-process fallback and the
//! circuit breaker that keep it answering, fast, while Redis is down or hung.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aicp_domain::ratelimit::{RateDecision, RateLimiter, RatePolicy};
use async_trait::async_trait;

use super::breaker::{Admission, CircuitBreaker, CircuitState};
use super::gcra::{GcraParams, never_allowed};
use super::local::LocalRateLimiter;
use crate::RedisPool;

/// The GCRA script; its semantics are documented in the module and at its top.
const GCRA_LUA: &str = include_str!("gcra.lua");

/// How the limiter reaches Redis and when it gives up on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimiterConfig {
    /// Prepended to every key (`{prefix}rl:{<client>}:<policy>`), e.g. `aicp:`. It must not
    /// contain `{`, which would make it the Redis Cluster hash tag instead of the client.
    pub prefix: String,
    /// Budget of one call to Redis (pool wait, connect and script together); past it the call
    /// is abandoned and the request is decided in process. Default 50 ms.
    pub timeout: Duration,
    /// Consecutive failed or late calls after which Redis is skipped (the circuit opens).
    /// Default 3; 0 behaves as 1.
    pub failure_threshold: u32,
    /// How long Redis is skipped once the circuit opens, before one probe call. Default 1 s.
    pub cool_down: Duration,
}

impl Default for RateLimiterConfig {
    fn default() -> Self {
        Self {
            prefix: "aicp:".to_owned(),
            timeout: Duration::from_millis(50),
            failure_threshold: 3,
            cool_down: Duration::from_secs(1),
        }
    }
}

/// Who decided a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionSource {
    /// The Redis script: the allowance shared by every instance.
    Redis,
    /// The in-process fallback, because Redis failed, was late, or the circuit is open.
    Fallback,
    /// The policy alone (a limit or burst of zero never allows anything): nothing was asked.
    Policy,
}

/// A decision and who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// The decision, as [`RateLimiter::check`] returns it.
    pub decision: RateDecision,
    /// Who made it.
    pub source: DecisionSource,
}

/// Counters since the limiter was built, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimiterStats {
    /// Calls sent to Redis (the circuit let them through).
    pub redis_calls: u64,
    /// Of those, the ones that failed or timed out.
    pub redis_failures: u64,
    /// Decisions made by the in-process fallback.
    pub fallback_decisions: u64,
}

/// GCRA rate limiter in Redis (one Lua script per check, on the Redis clock), failing open to
/// [`LocalRateLimiter`] behind a circuit breaker. See the [module docs](super) for the maths.
pub struct RedisRateLimiter {
    pool: RedisPool,
    /// One multiplexed connection taken out of the pool and shared by every check: concurrent
    /// scripts are pipelined on it, and a check costs one round trip (a pool checkout adds an
    /// `UNWATCH`+`PING` round trip to verify the connection, which doubled the limiter's cost on
    /// every ingest request). Dropped after a failure or timeout; the next check takes a fresh
    /// one from the pool.
    shared: std::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    config: RateLimiterConfig,
    script: redis::Script,
    breaker: CircuitBreaker,
    fallback: LocalRateLimiter,
    redis_calls: AtomicU64,
    redis_failures: AtomicU64,
    fallback_decisions: AtomicU64,
}

impl RedisRateLimiter {
    /// A limiter over `pool`. Nothing is sent to Redis until the first check (the script is
    /// loaded on first use, and again whenever Redis answers `NOSCRIPT`).
    pub fn new(pool: RedisPool, config: RateLimiterConfig) -> Self {
        Self {
            pool,
            shared: std::sync::Mutex::new(None),
            breaker: CircuitBreaker::new(config.failure_threshold, config.cool_down),
            config,
            script: redis::Script::new(GCRA_LUA),
            fallback: LocalRateLimiter::new(),
            redis_calls: AtomicU64::new(0),
            redis_failures: AtomicU64::new(0),
            fallback_decisions: AtomicU64::new(0),
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &RateLimiterConfig {
        &self.config
    }

    /// Whether Redis is being asked right now.
    pub fn circuit_state(&self) -> CircuitState {
        self.breaker.state()
    }

    /// Counters since the limiter was built.
    pub fn stats(&self) -> RateLimiterStats {
        RateLimiterStats {
            redis_calls: self.redis_calls.load(Ordering::Relaxed),
            redis_failures: self.redis_failures.load(Ordering::Relaxed),
            fallback_decisions: self.fallback_decisions.load(Ordering::Relaxed),
        }
    }

    /// The Redis key of `client` for `policy`: `{prefix}rl:{<client>}:<policy>`.
    pub fn key(&self, client: &str, policy: &RatePolicy) -> String {
        format!("{}rl:{{{client}}}:{}", self.config.prefix, policy.name)
    }

    /// [`RateLimiter::check`], also telling who decided.
    pub async fn check_detailed(
        &self,
        client: &str,
        policy: &RatePolicy,
        cost: u32,
    ) -> CheckOutcome {
        let Some(params) = GcraParams::from_policy(policy) else {
            return CheckOutcome {
                decision: never_allowed(policy),
                source: DecisionSource::Policy,
            };
        };
        if let Admission::Call(attempt) = self.breaker.admit(Instant::now()) {
            self.redis_calls.fetch_add(1, Ordering::Relaxed);
            let key = self.key(client, policy);
            let call = self.run_script(&key, params, cost);
            let failure = match tokio::time::timeout(self.config.timeout, call).await {
                Ok(Ok(reply)) => match decision_from_reply(policy, reply) {
                    Ok(decision) => {
                        attempt.succeed();
                        return CheckOutcome { decision, source: DecisionSource::Redis };
                    }
                    Err(error) => error,
                },
                Ok(Err(error)) => format!("{error:#}"),
                Err(_) => format!("no answer within {:?}", self.config.timeout),
            };
            self.forget_connection();
            self.redis_failures.fetch_add(1, Ordering::Relaxed);
            attempt.fail(Instant::now(), &failure);
        }
        self.fallback_decisions.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("aicp_ratelimit_fallback_decisions_total", "policy" => policy.name.clone())
            .increment(1);
        let decision = self.fallback.decide(client, policy, cost);
        CheckOutcome { decision, source: DecisionSource::Fallback }
    }

    /// The shared connection, taken from the pool when there is none.
    async fn connection(&self) -> anyhow::Result<redis::aio::MultiplexedConnection> {
        if let Some(conn) = self.shared.lock().ok().and_then(|shared| shared.clone()) {
            return Ok(conn);
        }
        let conn = deadpool_redis::Connection::take(self.pool.get().await?);
        if let Ok(mut shared) = self.shared.lock() {
            *shared = Some(conn.clone());
        }
        Ok(conn)
    }

    fn forget_connection(&self) {
        if let Ok(mut shared) = self.shared.lock() {
            *shared = None;
        }
    }

    async fn run_script(&self, key: &str, params: GcraParams, cost: u32) -> anyhow::Result<Reply> {
        let mut conn = self.connection().await?;
        let mut invocation = self.script.prepare_invoke();
        invocation.key(key).arg(params.interval_us).arg(params.burst).arg(cost);
        Ok(invocation.invoke_async(&mut conn).await?)
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, client: &str, policy: &RatePolicy, cost: u32) -> RateDecision {
        self.check_detailed(client, policy, cost).await.decision
    }
}

/// The script's answer: allowed (1/0), remaining, reset_after ms, retry_after ms (−1: never).
type Reply = (i64, i64, i64, i64);

fn decision_from_reply(
    policy: &RatePolicy,
    (allowed, remaining, reset_ms, retry_ms): Reply,
) -> Result<RateDecision, String> {
    let millis = |ms: i64| u64::try_from(ms).map(Duration::from_millis);
    let invalid =
        || format!("unexpected script reply {:?}", (allowed, remaining, reset_ms, retry_ms));
    Ok(RateDecision {
        allowed: allowed == 1,
        limit: policy.limit,
        remaining: u32::try_from(remaining).map_err(|_| invalid())?,
        reset_after: millis(reset_ms).map_err(|_| invalid())?,
        retry_after: if retry_ms < 0 {
            None
        } else {
            Some(millis(retry_ms).map_err(|_| invalid())?)
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn policy() -> RatePolicy {
        RatePolicy {
            name: "events".to_owned(),
            limit: 10,
            period: Duration::from_secs(1),
            burst: 5,
        }
    }

    #[test]
    fn keys_put_the_client_in_a_hash_tag() {
        let pool = crate::build_pool("redis://127.0.0.1:1", Duration::from_millis(10)).unwrap();
        let limiter = RedisRateLimiter::new(pool, RateLimiterConfig::default());
        assert_eq!(limiter.key("k:42", &policy()), "aicp:rl:{k:42}:events");
    }

    #[test]
    fn script_replies_become_decisions() {
        let d = decision_from_reply(&policy(), (0, 2, 1500, 100)).unwrap();
        assert_eq!(
            d,
            RateDecision {
                allowed: false,
                limit: 10,
                remaining: 2,
                reset_after: Duration::from_millis(1500),
                retry_after: Some(Duration::from_millis(100)),
            }
        );
        assert_eq!(decision_from_reply(&policy(), (0, 0, 0, -1)).unwrap().retry_after, None);
        assert!(decision_from_reply(&policy(), (1, -1, 0, -1)).is_err());
        assert!(decision_from_reply(&policy(), (1, 0, -5, -1)).is_err());
    }
}
