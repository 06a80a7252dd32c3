//! A real `redis-server` the test starts itself, then freezes (SIGSTOP), thaws (SIGCONT) and
//! kills: the limiter keeps answering from the fallback within its timeout, with the limits
//! still enforced, and goes back to Redis by itself once it answers again.
//!
//! Nothing here asserts on wall-clock durations: that each call gave up within the limiter's
//! timeout is read from its counters (every call sent to Redis is counted as failed by the
//! limiter itself, while each check runs under a 5 s hang guard), and recovery from the circuit
//! state and the source of the decisions.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aicp_cache::{
    CheckOutcome, CircuitState, DecisionSource, RateLimiterConfig, RateLimiterStats, RedisHealth,
    RedisRateLimiter, build_pool,
};
use aicp_domain::DependencyProbe;
use aicp_domain::ratelimit::RatePolicy;

use crate::support::{guarded, policy, unique_prefix};

const HOUR: Duration = Duration::from_secs(3600);

/// A `redis-server` child process on a free port, without persistence; killed on drop.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    /// A running server, or `None` (after saying why) when `redis-server` is not on `PATH`.
    async fn start() -> Option<Self> {
        for _ in 0..5 {
            let port = free_port();
            let spawned = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let child = match spawned {
                Ok(child) => child,
                Err(error) if error.kind() == ErrorKind::NotFound => {
                    println!("skipped: redis-server is not on PATH, no Redis of our own to stop");
                    return None;
                }
                Err(error) => panic!("cannot start redis-server: {error}"),
            };
            let mut redis = Self { child, port };
            if redis.ready().await {
                return Some(redis);
            }
            // Most likely the port was taken in the meantime: try another one.
        }
        panic!("redis-server did not start");
    }

    /// Waits (bounded) until the server answers PING; false if it exited or never answered.
    async fn ready(&mut self) -> bool {
        let timeout = Duration::from_millis(500);
        let health = RedisHealth::new(build_pool(&self.url(), timeout).unwrap(), timeout);
        for _ in 0..100 {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if health.is_healthy().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends `SIGSTOP` or `SIGCONT` and waits (bounded) until the process is (not) stopped.
    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success(), "kill {signal} {pid}: {status}");
        let stopped = signal == "-STOP";
        for _ in 0..500 {
            match process_state(self.child.id()) {
                Some(state) if (state == 'T') != stopped => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                // Stopped or running as asked, or no /proc to tell.
                _ => return,
            }
        }
        panic!("redis-server did not {} on {signal}", if stopped { "stop" } else { "resume" });
    }

    /// Kills the server for good.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        // SIGKILL also ends a stopped process; errors mean it is gone already.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The state letter of a process (`T` when stopped), from `/proc` (Linux).
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

async fn check(limiter: &RedisRateLimiter, client: &str, p: &RatePolicy) -> CheckOutcome {
    guarded(limiter.check_detailed(client, p, 1)).await
}

/// Checks until a decision comes from Redis, pausing a cool-down between tries; bounded.
async fn until_redis(limiter: &RedisRateLimiter, client: &str, p: &RatePolicy) -> bool {
    for _ in 0..40 {
        if check(limiter, client, p).await.source == DecisionSource::Redis {
            return true;
        }
        tokio::time::sleep(limiter.config().cool_down).await;
    }
    false
}

/// What happened between two readings of the counters.
fn since(before: RateLimiterStats, after: RateLimiterStats) -> RateLimiterStats {
    RateLimiterStats {
        redis_calls: after.redis_calls - before.redis_calls,
        redis_failures: after.redis_failures - before.redis_failures,
        fallback_decisions: after.fallback_decisions - before.fallback_decisions,
    }
}

/// The burst of `p` (3) is allowed, in order, and nothing more.
fn assert_burst_then_refusals(outcomes: &[CheckOutcome]) {
    let allowed: Vec<_> = outcomes.iter().map(|o| o.decision.allowed).collect();
    let burst = allowed.iter().take_while(|&&a| a).count();
    assert_eq!(burst, 3, "the fallback must allow the burst and no more: {allowed:?}");
    assert!(allowed[burst..].iter().all(|&a| !a), "{allowed:?}");
    let remaining: Vec<_> = outcomes[..3].iter().map(|o| o.decision.remaining).collect();
    assert_eq!(remaining, [2, 1, 0]);
    assert!(outcomes[3..].iter().all(|o| o.decision.retry_after.is_some()));
}

#[tokio::test]
async fn a_stopped_redis_is_answered_around_then_used_again_and_a_killed_one_still_limits() {
    let Some(mut redis) = OwnRedis::start().await else { return };
    let config = RateLimiterConfig {
        prefix: unique_prefix(),
        timeout: Duration::from_millis(500),
        failure_threshold: 3,
        cool_down: Duration::from_millis(500),
    };
    // The pool's own timeouts are long: the limiter's timeout alone must bound each call.
    let pool = build_pool(&redis.url(), Duration::from_secs(30)).unwrap();
    let limiter = RedisRateLimiter::new(pool, config);
    // `probe` is never exhausted; `p` (1 an hour, burst 3) shows whether limits hold.
    let probe = policy("probe", 1_000_000, HOUR, 1_000_000);
    let p = policy("events", 1, HOUR, 3);

    // Up: Redis decides.
    assert!(until_redis(&limiter, "a", &probe).await, "the new redis-server never answered");
    assert_eq!(limiter.circuit_state(), CircuitState::Closed);

    // Frozen: the first calls each give up by themselves, then the circuit opens.
    redis.signal("-STOP");
    let frozen_at = Instant::now();
    let frozen = limiter.stats();
    let mut outcomes = Vec::new();
    for failures in 1..=3 {
        assert_eq!(limiter.circuit_state(), CircuitState::Closed);
        outcomes.push(check(&limiter, "b", &p).await);
        let so_far = since(frozen, limiter.stats());
        assert_eq!(
            so_far,
            RateLimiterStats {
                redis_calls: failures,
                redis_failures: failures,
                fallback_decisions: failures
            },
            "each call must be abandoned at the limiter's timeout and answered by the fallback"
        );
    }
    assert_eq!(limiter.circuit_state(), CircuitState::Open);
    // Keep asking for the rest of ~2 s: probes after each cool-down fail the same way.
    while frozen_at.elapsed() < Duration::from_secs(2) {
        outcomes.push(check(&limiter, "b", &p).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let during = since(frozen, limiter.stats());
    assert!(outcomes.iter().all(|o| o.source == DecisionSource::Fallback));
    assert_eq!(during.fallback_decisions, u64::try_from(outcomes.len()).unwrap());
    assert_eq!(during.redis_failures, during.redis_calls, "a frozen Redis answered: {during:?}");
    assert_eq!(limiter.circuit_state(), CircuitState::Open);
    assert_burst_then_refusals(&outcomes);

    // Thawed: after a cool-down, the probe succeeds and Redis decides again.
    redis.signal("-CONT");
    assert!(until_redis(&limiter, "a", &probe).await, "never went back to Redis");
    assert_eq!(limiter.circuit_state(), CircuitState::Closed);
    let mut back = Vec::new();
    for _ in 0..5 {
        back.push(check(&limiter, "c", &p).await);
    }
    assert!(back.iter().all(|o| o.source == DecisionSource::Redis), "{back:#?}");
    assert_burst_then_refusals(&back);

    // Killed: connections are refused; the fallback answers, limits still enforced.
    redis.kill();
    let dead = limiter.stats();
    let mut outcomes = Vec::new();
    for _ in 0..10 {
        outcomes.push(check(&limiter, "d", &p).await);
    }
    let after = since(dead, limiter.stats());
    assert!(outcomes.iter().all(|o| o.source == DecisionSource::Fallback), "{outcomes:#?}");
    assert_eq!(after.fallback_decisions, 10);
    assert!(after.redis_calls >= 3, "{after:?}");
    assert_eq!(after.redis_failures, after.redis_calls, "a killed Redis answered: {after:?}");
    assert_eq!(limiter.circuit_state(), CircuitState::Open);
    assert_burst_then_refusals(&outcomes);
}
