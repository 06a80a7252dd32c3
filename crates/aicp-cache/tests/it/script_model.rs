//! The Lua script agrees with the pure GCRA model (`src/ratelimit/gcra.rs`, the same model the
//! unit tests check the formulas and the fallback against, included here as `gcra_model`).
//!
//! The script reads the Redis server clock, which a test cannot set. Two properties cover it:
//!
//! - `the_script_decides_like_the_model_on_random_arrivals`: the production script with its one
//!   clock reading, `redis.call('TIME')`, replaced by `{ARGV[4], ARGV[5]}` (the two fields `TIME`
//!   answers), so that the test drives the clock: random gaps, and gaps landing exactly on the
//!   model's `retry_after` and `reset_after` (± 1 µs), where `<` versus `≤` matters. Every other
//!   byte of the script is the production one; the replacement must match exactly once, so a
//!   change to the clock line fails here instead of silently testing something else. Production
//!   code has no clock override: nothing test-only ships in the script. Every answer (decision,
//!   remaining, both durations in ms) and the stored TAT must be the model's, exactly. Key TTLs
//!   still run on the real clock, so emission intervals are at least an hour: a key written in a
//!   case (TTL ≥ one interval) cannot expire before the case ends (each call is bounded by the
//!   hang guard), and the stored TAT is the model's state at every step.
//! - `the_limiter_decides_like_the_model_on_the_server_clock`: the production path itself
//!   (`RedisRateLimiter::check_detailed`, `EVALSHA`, server clock), on random cost sequences sent
//!   back to back. The model is fed the server's `TIME` read just before each call. With a
//!   one-hour interval and a case far shorter than that, the decision and `remaining` do not
//!   depend on where the call landed in that window, so they must be equal; the durations and
//!   the stored TAT may differ from the model by at most the server time the case has taken so far
//!   (plus 1 ms of rounding), a bound taken from the server's own clock, not from a timing guess.

use std::time::Duration;

use aicp_cache::{DecisionSource, RedisPool};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::gcra_model::{GcraParams, Model, ModelDecision};
use crate::support::{guarded, policy, pool, redis_limiter, redis_url, remove_keys, unique_prefix};

const HOUR_US: u64 = 3_600 * 1_000_000;

/// The production script.
const SCRIPT: &str = include_str!("../../src/ratelimit/gcra.lua");

/// Its one clock reading.
const SERVER_CLOCK: &str = "redis.call('TIME')";

/// Proptest cases per property: each case is a few dozen round trips to Redis.
const CASES: u32 = 32;

/// The production script reading its clock from `ARGV[4]` (seconds) and `ARGV[5]` (µs).
fn script_with_test_clock() -> redis::Script {
    assert_eq!(
        SCRIPT.matches(SERVER_CLOCK).count(),
        1,
        "gcra.lua no longer reads the clock with exactly one {SERVER_CLOCK}: update this test"
    );
    redis::Script::new(&SCRIPT.replace(SERVER_CLOCK, "{ARGV[4], ARGV[5]}"))
}

/// When the next request comes, relative to the previous one.
#[derive(Debug, Clone, Copy)]
enum Gap {
    /// This many µs later.
    Micros(u64),
    /// At the previous answer's `retry_after` (µs, per the model) plus this offset; no wait when
    /// it had none.
    Retry(i8),
    /// At the previous answer's `reset_after` plus this offset.
    Reset(i8),
}

impl Gap {
    fn micros(self, previous: Option<ModelDecision>) -> u64 {
        let at = |base: u64, offset: i8| base.saturating_add_signed(i64::from(offset));
        match (self, previous) {
            (Self::Micros(us), _) => us,
            (Self::Retry(offset), Some(d)) => d.retry_after_us.map_or(0, |r| at(r, offset)),
            (Self::Reset(offset), Some(d)) => at(d.reset_after_us, offset),
            (_, None) => 0,
        }
    }
}

fn gap(interval_us: u64) -> impl Strategy<Value = Gap> {
    prop_oneof![
        2 => Just(Gap::Micros(0)),
        3 => (0..interval_us / 4).prop_map(Gap::Micros),
        3 => (0..3 * interval_us).prop_map(Gap::Micros),
        2 => (-1i8..=1).prop_map(Gap::Retry),
        1 => (-1i8..=1).prop_map(Gap::Reset),
    ]
}

/// A policy's parameters (interval of 1 h to 1 day, to the µs) and up to 60 requests.
fn arrivals() -> impl Strategy<Value = (GcraParams, Vec<(Gap, u32)>)> {
    (HOUR_US..24 * HOUR_US, 1u32..7).prop_flat_map(|(interval_us, burst)| {
        let params = GcraParams { interval_us, burst };
        let requests = prop::collection::vec((gap(interval_us), 0..burst + 2), 1..60);
        (Just(params), requests)
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The server clock, in µs since the epoch.
async fn server_time(conn: &mut deadpool_redis::Connection) -> u64 {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(conn).await.unwrap();
    secs * 1_000_000 + micros
}

/// µs to the script's whole milliseconds, rounded up.
fn ms_up(us: u64) -> i64 {
    i64::try_from(us.div_ceil(1_000)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn the_script_decides_like_the_model_on_random_arrivals((params, requests) in arrivals()) {
        runtime().block_on(async {
            let pool = pool(&redis_url());
            let key = format!("{}rl:{{c}}:model", unique_prefix());
            let outcome = script_case(&pool, &key, params, &requests).await;
            unlink(&pool, &key).await;
            outcome
        })?;
    }

    #[test]
    fn the_limiter_decides_like_the_model_on_the_server_clock(
        burst in 1u32..9,
        costs in prop::collection::vec(0u32..11, 1..40),
    ) {
        runtime().block_on(limiter_case(burst, &costs))?;
    }
}

async fn script_case(
    pool: &RedisPool,
    key: &str,
    params: GcraParams,
    requests: &[(Gap, u32)],
) -> Result<(), TestCaseError> {
    let script = script_with_test_clock();
    let mut conn = pool.get().await.unwrap();
    // Real magnitudes (16 digits of µs), so the TAT's exact formatting is exercised too.
    let mut now = server_time(&mut conn).await;
    let mut model = Model::new(params);
    let mut previous = None;
    for (step, &(gap, cost)) in requests.iter().enumerate() {
        now += gap.micros(previous);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(key)
            .arg(params.interval_us)
            .arg(params.burst)
            .arg(cost)
            .arg(now / 1_000_000)
            .arg(now % 1_000_000);
        let reply: (i64, i64, i64, i64) =
            guarded(invocation.invoke_async(&mut conn)).await.unwrap();
        let expected = model.check(now, cost);
        let expected_reply = (
            i64::from(expected.allowed),
            i64::try_from(expected.remaining).unwrap(),
            ms_up(expected.reset_after_us),
            expected.retry_after_us.map_or(-1, ms_up),
        );
        prop_assert_eq!(reply, expected_reply, "step {} (cost {}, {:?})", step, cost, gap);

        let stored: Option<String> =
            redis::cmd("GET").arg(key).query_async(&mut conn).await.unwrap();
        prop_assert_eq!(stored, model.tat.map(|tat| tat.to_string()), "TAT after step {}", step);
        if expected.allowed && cost > 0 {
            // Just written with PX = reset_after (rounded up); real time may only have shortened it.
            let ttl: i64 = redis::cmd("PTTL").arg(key).query_async(&mut conn).await.unwrap();
            prop_assert!(ttl > 0 && ttl <= expected_reply.2, "TTL {} after step {}", ttl, step);
        }
        previous = Some(expected);
    }
    Ok(())
}

async fn limiter_case(burst: u32, costs: &[u32]) -> Result<(), TestCaseError> {
    let limiter = redis_limiter();
    // One unit an hour: the interval (3.6e9 µs) dwarfs the time a case takes.
    let p = policy("model", 1, Duration::from_secs(3_600), burst);
    let params = GcraParams::from_policy(&p).unwrap();
    prop_assert_eq!(params.interval_us, HOUR_US);
    let key = limiter.key("c", &p);
    let mut conn = pool(&redis_url()).get().await.unwrap();
    let mut model = Model::new(params);
    let mut start = None;
    let outcome = async {
        for (step, &cost) in costs.iter().enumerate() {
            let before = server_time(&mut conn).await;
            let start = *start.get_or_insert(before);
            let outcome = guarded(limiter.check_detailed("c", &p, cost)).await;
            let elapsed = server_time(&mut conn).await - start;
            prop_assert_eq!(outcome.source, DecisionSource::Redis);
            prop_assert!(elapsed < HOUR_US, "premise: a case takes less than one interval");
            let expected = model.check(before, cost);
            let got = outcome.decision;
            let at = format!("step {step} (cost {cost}): got {got:?}, model {expected:?}");
            prop_assert_eq!(got.allowed, expected.allowed, "{}", at);
            prop_assert_eq!(u64::from(got.remaining), expected.remaining, "{}", at);

            // The script read the clock somewhere between `before` and the reading after the
            // call, and so did its first write (which anchors the TAT); the model used each
            // `before`. So the durations may differ by the server time elapsed since the case
            // started, plus the script's rounding up to a whole millisecond.
            let slack = Duration::from_micros(elapsed);
            let close = |got: Duration, expected_us: u64| {
                let expected = Duration::from_micros(expected_us);
                got + slack >= expected && got < expected + slack + Duration::from_millis(1)
            };
            prop_assert!(close(got.reset_after, expected.reset_after_us), "{}", at);
            match (got.retry_after, expected.retry_after_us) {
                (None, None) => {}
                (Some(got), Some(expected)) => prop_assert!(close(got, expected), "{}", at),
                _ => prop_assert!(false, "retry_after differs: {}", at),
            }

            let stored: Option<String> =
                redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap();
            let stored = stored.map(|tat| tat.parse::<u64>().unwrap());
            match (stored, model.tat) {
                (None, None) => {}
                // Written on the server clock, a little after the model's `before`.
                (Some(got), Some(expected)) => {
                    prop_assert!(got >= expected && got - expected <= elapsed, "TAT {}", at);
                }
                _ => prop_assert!(false, "TAT {:?} but model {:?}: {}", stored, model.tat, at),
            }
        }
        Ok(())
    }
    .await;
    remove_keys(&limiter).await;
    outcome
}

async fn unlink(pool: &RedisPool, key: &str) {
    let mut conn = pool.get().await.unwrap();
    let _: i64 = redis::cmd("UNLINK").arg(key).query_async(&mut conn).await.unwrap();
}
