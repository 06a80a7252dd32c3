//! The GCRA parameters of a policy, shared by the Lua script and the in-process fallback so that
//! both decide with the same numbers, and (in tests) a pure model of the script's formulas.

use std::time::Duration;

use aicp_domain::ratelimit::{RateDecision, RatePolicy};

/// Largest burst tolerance `tau`, in µs (about 35 years): keeps `TAT = now + tau` below 2^53,
/// where Lua's doubles stop being exact integers.
const MAX_TAU_US: u64 = 1 << 50;

/// The two numbers GCRA needs, derived from a [`RatePolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct GcraParams {
    /// Emission interval `T` in µs: `period / limit` rounded up, at least 1.
    pub(crate) interval_us: u64,
    /// Burst in units, at least 1.
    pub(crate) burst: u32,
}

impl GcraParams {
    /// The parameters of `policy`; `None` when the policy can never allow anything (a limit or a
    /// burst of zero).
    pub(crate) fn from_policy(policy: &RatePolicy) -> Option<Self> {
        if policy.limit == 0 || policy.burst == 0 {
            return None;
        }
        let period_us = u64::try_from(policy.period.as_micros()).unwrap_or(u64::MAX);
        let interval_us = period_us.div_ceil(u64::from(policy.limit));
        let interval_us = interval_us.min(MAX_TAU_US / u64::from(policy.burst)).max(1);
        Some(Self { interval_us, burst: policy.burst })
    }

    /// The emission interval `T`.
    pub(crate) fn interval(self) -> Duration {
        Duration::from_micros(self.interval_us)
    }
}

/// The answer for a policy that can never allow anything: refused, with no time to retry at.
pub(crate) fn never_allowed(policy: &RatePolicy) -> RateDecision {
    RateDecision {
        allowed: false,
        limit: policy.limit,
        remaining: 0,
        reset_after: Duration::ZERO,
        retry_after: None,
    }
}

/// A pure model of `gcra.lua`, in integer microseconds, without the millisecond rounding.
#[cfg(test)]
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub(crate) params: GcraParams,
    /// The stored TAT, `None` when the key is absent.
    pub(crate) tat: Option<u64>,
}

/// What the model answers, in µs.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ModelDecision {
    pub(crate) allowed: bool,
    pub(crate) remaining: u64,
    pub(crate) reset_after_us: u64,
    pub(crate) retry_after_us: Option<u64>,
}

#[cfg(test)]
impl Model {
    pub(crate) fn new(params: GcraParams) -> Self {
        Self { params, tat: None }
    }

    /// The script's formulas, line by line.
    pub(crate) fn check(&mut self, now: u64, cost: u32) -> ModelDecision {
        let t = self.params.interval_us;
        let tau = t * u64::from(self.params.burst);
        let tat = self.tat.unwrap_or(now).max(now);
        let new_tat = tat + u64::from(cost) * t;
        let debt = new_tat - now;
        if debt <= tau {
            if cost > 0 {
                self.tat = Some(new_tat);
            }
            return ModelDecision {
                allowed: true,
                remaining: (tau - debt) / t,
                reset_after_us: debt,
                retry_after_us: None,
            };
        }
        let held = tat - now;
        ModelDecision {
            allowed: false,
            remaining: tau.saturating_sub(held) / t,
            reset_after_us: held,
            retry_after_us: (cost <= self.params.burst).then(|| debt - tau),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    fn policy(limit: u32, period: Duration, burst: u32) -> RatePolicy {
        RatePolicy { name: "p".to_owned(), limit, period, burst }
    }

    #[test]
    fn the_interval_is_the_period_over_the_limit_rounded_up() {
        let p = GcraParams::from_policy(&policy(1000, Duration::from_secs(60), 1000)).unwrap();
        assert_eq!(p, GcraParams { interval_us: 60_000, burst: 1000 });
        let p = GcraParams::from_policy(&policy(7, Duration::from_secs(60), 1)).unwrap();
        assert_eq!(p.interval_us, 8_571_429);
        let p = GcraParams::from_policy(&policy(10, Duration::ZERO, 3)).unwrap();
        assert_eq!(p.interval_us, 1);
    }

    #[test]
    fn huge_periods_are_capped_so_lua_numbers_stay_exact() {
        let p = GcraParams::from_policy(&policy(1, Duration::MAX, u32::MAX)).unwrap();
        assert!(p.interval_us * u64::from(p.burst) <= MAX_TAU_US);
        assert!(p.interval_us >= 1);
    }

    #[test]
    fn a_zero_limit_or_burst_never_allows() {
        assert_eq!(GcraParams::from_policy(&policy(0, Duration::from_secs(1), 1)), None);
        assert_eq!(GcraParams::from_policy(&policy(1, Duration::from_secs(1), 0)), None);
        let d = never_allowed(&policy(0, Duration::from_secs(1), 1));
        assert!(!d.allowed && d.retry_after.is_none());
    }

    #[test]
    fn a_fresh_client_gets_the_burst_then_one_unit_per_interval() {
        let mut m = Model::new(GcraParams { interval_us: 100, burst: 3 });
        for left in [2, 1, 0] {
            let d = m.check(1_000, 1);
            assert!(d.allowed);
            assert_eq!(d.remaining, left);
        }
        let d = m.check(1_000, 1);
        assert_eq!((d.allowed, d.retry_after_us, d.reset_after_us), (false, Some(100), 300));
        assert!(m.check(1_099, 1).retry_after_us == Some(1));
        assert!(m.check(1_100, 1).allowed);
    }

    /// A request: time since the previous one (µs) and its cost.
    fn requests() -> impl Strategy<Value = Vec<(u64, u32)>> {
        prop::collection::vec((0u64..2_000, 0u32..6), 1..60)
    }

    proptest! {
        /// In any window [a, b] between two allowed requests, allowed units ≤ burst + (b − a)/T.
        #[test]
        fn never_allows_more_than_burst_plus_elapsed_over_interval(
            interval_us in 1u64..500, burst in 1u32..6, reqs in requests(),
        ) {
            let mut m = Model::new(GcraParams { interval_us, burst });
            let mut now = 1_000_000u64;
            let mut allowed = Vec::new();
            for (dt, cost) in reqs {
                now += dt;
                if m.check(now, cost).allowed {
                    allowed.push((now, u64::from(cost)));
                }
            }
            for i in 0..allowed.len() {
                let mut units = 0;
                for &(at, cost) in &allowed[i..] {
                    units += cost;
                    let window = at - allowed[i].0;
                    prop_assert!(units * interval_us <= u64::from(burst) * interval_us + window);
                }
            }
        }

        /// A refused request changes nothing; its retry_after is exact; remaining is the largest
        /// cost allowed now; after reset_after the allowance is full.
        #[test]
        fn decisions_are_exact(interval_us in 1u64..500, burst in 1u32..6, reqs in requests()) {
            let mut m = Model::new(GcraParams { interval_us, burst });
            let mut now = 1_000_000u64;
            for (dt, cost) in reqs {
                now += dt;
                let before = m.clone();
                let d = m.check(now, cost);
                if d.allowed {
                    prop_assert!(d.retry_after_us.is_none());
                } else {
                    prop_assert_eq!(m.tat, before.tat, "a refused request was counted");
                    match d.retry_after_us {
                        Some(retry) => {
                            prop_assert!(retry > 0);
                            prop_assert!(!m.clone().check(now + retry - 1, cost).allowed);
                            prop_assert!(m.clone().check(now + retry, cost).allowed);
                        }
                        None => prop_assert!(cost > burst),
                    }
                }
                let remaining = u32::try_from(d.remaining).unwrap();
                prop_assert!(remaining <= burst);
                if remaining > 0 {
                    prop_assert!(m.clone().check(now, remaining).allowed);
                }
                prop_assert!(!m.clone().check(now, remaining + 1).allowed);
                let full = m.clone().check(now + d.reset_after_us, 0);
                prop_assert_eq!(full.remaining, u64::from(burst));
            }
        }
    }
}
