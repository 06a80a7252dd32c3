//! The in-process limiter: the fallback of [`RedisRateLimiter`](super::RedisRateLimiter) while
//! Redis is down, and usable alone where one instance is enough. It applies the same policies
//! with the same GCRA parameters, per instance instead of cluster-wide.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aicp_domain::ratelimit::{RateDecision, RateLimiter, RatePolicy};
use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{InsufficientCapacity, Quota};

use super::gcra::{GcraParams, never_allowed};

/// Stale clients are dropped from memory once every this many checks.
const HOUSEKEEPING_EVERY: u64 = 4096;

/// A keyed limiter per policy, found by name and parameters (a policy whose numbers change gets
/// a fresh limiter).
type ByPolicy<C> = HashMap<(String, GcraParams), Arc<Keyed<C>>>;

type Keyed<C> =
    governor::RateLimiter<String, DefaultKeyedStateStore<String>, C, StateInformationMiddleware>;

/// GCRA in process (the `governor` crate): one keyed limiter per policy, one state per client.
///
/// Its decisions fill the same [`RateDecision`] fields as the Redis script, with two
/// approximations: an allowed request's `reset_after` is rounded up to a whole emission interval
/// (governor does not expose the exact state), and a peek (`cost` 0) or a cost above the burst
/// cannot see the state, so they report a full allowance (peek) or nothing remaining.
pub struct LocalRateLimiter<C: Clock = DefaultClock> {
    clock: C,
    limiters: Mutex<ByPolicy<C>>,
    checks: AtomicU64,
}

impl LocalRateLimiter {
    /// A limiter on the monotonic clock.
    pub fn new() -> Self {
        Self::with_clock(DefaultClock::default())
    }
}

impl Default for LocalRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock + Clone> LocalRateLimiter<C> {
    /// A limiter on `clock` (tests use governor's `FakeRelativeClock`).
    pub fn with_clock(clock: C) -> Self {
        Self { clock, limiters: Mutex::new(HashMap::new()), checks: AtomicU64::new(0) }
    }

    /// Counts `cost` units of `policy` for `client` if they are available (see
    /// [`RateLimiter::check`]).
    pub fn decide(&self, client: &str, policy: &RatePolicy, cost: u32) -> RateDecision {
        let Some(params) = GcraParams::from_policy(policy) else {
            return never_allowed(policy);
        };
        self.housekeeping();
        let Some(n) = NonZeroU32::new(cost) else {
            return RateDecision {
                allowed: true,
                limit: policy.limit,
                remaining: params.burst,
                reset_after: Duration::ZERO,
                retry_after: None,
            };
        };
        let limiter = self.limiter_for(&policy.name, params);
        let t = params.interval();
        let before = self.clock.now();
        match limiter.check_key_n(&client.to_owned(), n) {
            Ok(Ok(snapshot)) => {
                let remaining = snapshot.remaining_burst_capacity();
                RateDecision {
                    allowed: true,
                    limit: policy.limit,
                    remaining,
                    reset_after: t * (params.burst - remaining),
                    retry_after: None,
                }
            }
            // Governor refuses when `TAT + n·T − tau ≥ now`, so with `wait = TAT + n·T − tau − now`:
            // the held debt `TAT − now = wait + tau − n·T` and `remaining = ⌊(n·T − wait) / T⌋`.
            // `before` is at or before governor's own reading, so these err on the safe side.
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(before);
                let tau = t * params.burst;
                let cost_time = t * cost;
                let remaining = cost_time.saturating_sub(wait).as_nanos() / t.as_nanos();
                RateDecision {
                    allowed: false,
                    limit: policy.limit,
                    remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
                    reset_after: (wait + tau).saturating_sub(cost_time),
                    retry_after: Some(wait),
                }
            }
            Err(InsufficientCapacity(_)) => RateDecision {
                allowed: false,
                limit: policy.limit,
                remaining: 0,
                reset_after: Duration::ZERO,
                retry_after: None,
            },
        }
    }

    fn limiter_for(&self, policy: &str, params: GcraParams) -> Arc<Keyed<C>> {
        let mut limiters = self.limiters.lock().unwrap_or_else(PoisonError::into_inner);
        let limiter = limiters.entry((policy.to_owned(), params)).or_insert_with(|| {
            let burst = NonZeroU32::new(params.burst).unwrap_or(NonZeroU32::MIN);
            let quota = Quota::with_period(params.interval())
                .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
                .allow_burst(burst);
            let state = DefaultKeyedStateStore::default();
            Arc::new(Keyed::<C>::new(quota, state, self.clock.clone()))
        });
        Arc::clone(limiter)
    }

    /// Forgets clients whose allowance is full again, so memory follows active clients only.
    fn housekeeping(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % HOUSEKEEPING_EVERY
            != HOUSEKEEPING_EVERY - 1
        {
            return;
        }
        let limiters: Vec<_> = {
            let limiters = self.limiters.lock().unwrap_or_else(PoisonError::into_inner);
            limiters.values().cloned().collect()
        };
        for limiter in limiters {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[async_trait]
impl<C: Clock + Clone + Send + Sync> RateLimiter for LocalRateLimiter<C> {
    async fn check(&self, client: &str, policy: &RatePolicy, cost: u32) -> RateDecision {
        self.decide(client, policy, cost)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use governor::clock::FakeRelativeClock;
    use proptest::prelude::*;

    use super::super::gcra::Model;
    use super::*;

    fn policy(name: &str, limit: u32, period: Duration, burst: u32) -> RatePolicy {
        RatePolicy { name: name.to_owned(), limit, period, burst }
    }

    #[test]
    fn allows_the_burst_then_refuses_with_the_exact_retry_after() {
        let clock = FakeRelativeClock::default();
        let local = LocalRateLimiter::with_clock(clock.clone());
        let p = policy("p", 10, Duration::from_secs(1), 3);
        for left in [2, 1, 0] {
            let d = local.decide("c", &p, 1);
            assert!(d.allowed);
            assert_eq!(d.remaining, left);
        }
        let d = local.decide("c", &p, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Some(Duration::from_millis(100)));
        assert_eq!(d.reset_after, Duration::from_millis(300));
        clock.advance(Duration::from_millis(100));
        assert!(local.decide("c", &p, 1).allowed);
        assert!(local.decide("other", &p, 3).allowed, "clients are independent");
        assert!(local.decide("c", &policy("q", 10, Duration::from_secs(1), 3), 3).allowed);
    }

    #[test]
    fn a_cost_above_the_burst_is_refused_without_retry_after() {
        let local = LocalRateLimiter::with_clock(FakeRelativeClock::default());
        let d = local.decide("c", &policy("p", 10, Duration::from_secs(1), 3), 4);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, None);
    }

    #[test]
    fn stale_clients_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let local = LocalRateLimiter::with_clock(clock.clone());
        let p = policy("p", 10, Duration::from_secs(1), 3);
        assert!(local.decide("c", &p, 1).allowed);
        clock.advance(Duration::from_secs(1));
        for _ in 0..HOUSEKEEPING_EVERY {
            local.decide("d", &p, 0);
        }
        let limiters = local.limiters.lock().unwrap();
        assert!(limiters.values().all(|l| l.is_empty()));
    }

    proptest! {
        /// The fallback decides exactly as the model of the Lua script (same T, same burst).
        #[test]
        fn the_fallback_decides_like_the_script_model(
            interval_us in 1u64..500,
            burst in 1u32..6,
            reqs in prop::collection::vec((0u64..2_000, 1u32..7), 1..60),
        ) {
            let clock = FakeRelativeClock::default();
            clock.advance(Duration::from_secs(1));
            let local = LocalRateLimiter::with_clock(clock.clone());
            let limit = 1_000u32;
            let p = policy("p", limit, Duration::from_micros(interval_us) * limit, burst);
            let mut model = Model::new(GcraParams::from_policy(&p).unwrap());
            let mut now = 1_000_000u64;
            for (dt, cost) in reqs {
                now += dt;
                clock.advance(Duration::from_micros(dt));
                let expected = model.check(now, cost);
                let got = local.decide("c", &p, cost);
                prop_assert_eq!(got.allowed, expected.allowed);
                prop_assert_eq!(
                    got.retry_after,
                    expected.retry_after_us.map(Duration::from_micros)
                );
                if cost <= burst {
                    prop_assert_eq!(u64::from(got.remaining), expected.remaining);
                    let exact = Duration::from_micros(expected.reset_after_us);
                    prop_assert!(got.reset_after >= exact);
                    prop_assert!(got.reset_after < exact + Duration::from_micros(interval_us));
                }
            }
        }
    }
}
