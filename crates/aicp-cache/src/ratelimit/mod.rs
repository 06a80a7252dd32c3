//! Rate limiting with GCRA in Redis, so that every instance of the API shares one allowance per
//! client, with an in-process fallback so that a Redis outage neither blocks requests nor lifts
//! the limits.
//!
//! # The maths (GCRA, the generic cell rate algorithm)
//!
//! A [`RatePolicy`](aicp_domain::ratelimit::RatePolicy) allows `limit` units per `period`, with up
//! to `burst` units at once.
//!
//! - Emission interval `T = period / limit`, rounded *up* to a whole microsecond (at least 1 µs):
//!   what one unit costs in time; the allowance refills by one unit every `T`.
//! - Burst tolerance `tau = T · burst`: how far ahead of the clock a client's schedule may run.
//! - State: one number per (client, policy), the theoretical arrival time `TAT`, the instant at
//!   which the client's allowance is full again. A missing key, or a `TAT` in the past, is a full
//!   allowance: `TAT = now`. So the key is meaningless once `now ≥ TAT`, and that is its TTL.
//!
//! A request of `n` units at `now` (`n = 0` is a peek: it is answered but writes nothing):
//!
//! ```text
//! tat     = max(TAT, now)
//! new_tat = tat + n·T
//! allowed ⇔ new_tat − now ≤ tau            the debt after the request fits in the burst
//!
//! allowed: TAT := new_tat, key TTL := new_tat − now
//!          remaining   = ⌊(tau − (new_tat − now)) / T⌋
//!          reset_after = new_tat − now
//! refused: nothing is written: a refused request is not counted
//!          remaining   = ⌊(tau − (tat − now)) / T⌋
//!          reset_after = tat − now
//!          retry_after = new_tat − now − tau  at now + retry_after the same request fits exactly
//!                        none when n > burst  it never fits: the caller must split the batch
//! ```
//!
//! A fresh client may spend `burst` units at once, then one unit every `T`; in any window of
//! length `w`, at most `burst + w / T` units are allowed. `remaining` is exactly the largest cost
//! that would be allowed right now. The proptests in `gcra.rs` check these properties on a pure
//! model of the formulas, and that the fallback (the `governor` crate, whose GCRA is the same
//! algorithm: its `tau` is our `tau − T` because it tests the *next* arrival) decides exactly as
//! the model does.
//!
//! # In Redis
//!
//! One Lua script (`gcra.lua`, run with `EVALSHA`, loaded again on `NOSCRIPT`) does the whole
//! read–decide–write atomically, on the Redis server clock (`TIME`), so instances with skewed
//! clocks still share one schedule. Times are integer microseconds (exact in Lua's doubles: the
//! tolerance is capped at 2^50 µs, about 35 years); durations come back rounded *up* to a
//! millisecond, so a client that waits `retry_after` is never early. The key is
//! `{prefix}rl:{<client>}:<policy>`: the client is a hash tag, so a client's keys share a Redis
//! Cluster slot. Keys are written only with `SET … PX`, so every key has a TTL.
//!
//! A check is one round trip: the limiter keeps one multiplexed connection out of the pool
//! (a pool checkout verifies the connection with an extra `UNWATCH`+`PING` round trip) and
//! concurrent checks are pipelined on it. Why not lease several units per call and admit the
//! next requests locally: a unit charged at `c` and admitted later at `s` keeps the GCRA bound
//! only if `s ≤ u − T` (`u` its slot's end, see above), i.e. a lease of `k` units taken when the
//! client's `TAT` is `t₀` lasts until `t₀ + (k − 1)·T`. A client far below its limit (the common
//! case, `t₀ = now`) would let most leased units expire unused within `(k − 1)·T`, and they would
//! still count against it: either refusals the policy does not call for,
//! or (without that rule) more than the policy allows in some window. Neither is acceptable, so
//! every request still asks Redis.
//!
//! # When Redis is down, slow or hung
//!
//! Each call is bounded by [`RateLimiterConfig::timeout`] (pool wait, connect and script
//! together). A failed or late call is answered by [`LocalRateLimiter`], the same policies in
//! process: the limits hold per instance instead of cluster-wide, rather than vanishing (fail
//! open to a limiter, not to "no limit"). After [`RateLimiterConfig::failure_threshold`]
//! consecutive failures a circuit breaker opens and Redis is skipped entirely for
//! [`RateLimiterConfig::cool_down`]; then one probe call goes to Redis (half-open) and closes the
//! circuit when it succeeds. So a hung Redis costs at most `failure_threshold` requests one
//! timeout each, then nothing, and the limiter goes back to Redis by itself when it recovers.

mod breaker;
mod gcra;
mod local;
mod redis_limiter;

pub use breaker::CircuitState;
pub use local::LocalRateLimiter;
pub use redis_limiter::{
    CheckOutcome, DecisionSource, RateLimiterConfig, RateLimiterStats, RedisRateLimiter,
};
