//! The circuit breaker in front of Redis: after a few consecutive failures, stop asking Redis for
//! a while, so that a hung Redis costs a handful of timeouts instead of one per request.
//!
//! Time is passed in (`now`), never read here, so the state machine is tested with made-up
//! instants. Transitions are logged once each: opening at `warn`, closing at `info`; the
//! half-open probes of a long outage (one per cool-down) only at `debug`.

use std::fmt::Display;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Whether the limiter is asking Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Redis is asked on every call.
    Closed,
    /// Redis failed too often: it is not asked until the cool-down is over.
    Open,
    /// The cool-down is over and one probe call is asking Redis; other calls do not.
    HalfOpen,
}

/// Counts consecutive failures and decides whether a call may go to Redis.
pub(crate) struct CircuitBreaker {
    threshold: u32,
    cool_down: Duration,
    inner: Mutex<Inner>,
}

struct Inner {
    state: State,
    consecutive_failures: u32,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen,
}

/// The breaker's answer to "may I call Redis?".
pub(crate) enum Admission<'a> {
    /// Yes: report how it went on the attempt.
    Call(Attempt<'a>),
    /// No: decide locally.
    Skip,
}

/// A call to Redis the breaker let through. A probe that is dropped without an outcome (its
/// future was cancelled) counts as a failed probe, so the breaker cannot stay half-open forever.
pub(crate) struct Attempt<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    settled: bool,
}

impl CircuitBreaker {
    /// Opens after `threshold` (at least 1) consecutive failures, for `cool_down`.
    pub(crate) fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cool_down,
            inner: Mutex::new(Inner { state: State::Closed, consecutive_failures: 0 }),
        }
    }

    /// The current state. An open circuit whose cool-down is over still reads `Open` until the
    /// next call turns it half-open.
    pub(crate) fn state(&self) -> CircuitState {
        match self.lock().state {
            State::Closed => CircuitState::Closed,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen => CircuitState::HalfOpen,
        }
    }

    /// May a call made at `now` go to Redis?
    pub(crate) fn admit(&self, now: Instant) -> Admission<'_> {
        let mut inner = self.lock();
        match inner.state {
            State::Closed => {
                Admission::Call(Attempt { breaker: self, probe: false, settled: false })
            }
            State::Open { until } if now >= until => {
                inner.state = State::HalfOpen;
                tracing::debug!("Redis rate limiter: cool-down over, probing Redis");
                Admission::Call(Attempt { breaker: self, probe: true, settled: false })
            }
            State::Open { .. } | State::HalfOpen => Admission::Skip,
        }
    }

    fn on_success(&self, probe: bool) {
        let mut inner = self.lock();
        match (inner.state, probe) {
            (State::HalfOpen, true) => {
                inner.state = State::Closed;
                inner.consecutive_failures = 0;
                tracing::info!("Redis rate limiter: Redis answered again, circuit closed");
            }
            (State::Closed, false) => inner.consecutive_failures = 0,
            // A call let through before the circuit opened, answering late: the probe decides.
            _ => {}
        }
    }

    fn on_failure(&self, probe: bool, now: Instant, error: &dyn Display) {
        let until = now.checked_add(self.cool_down).unwrap_or(now);
        let mut inner = self.lock();
        match (inner.state, probe) {
            (State::HalfOpen, true) => {
                inner.state = State::Open { until };
                tracing::debug!(error = %error, "Redis rate limiter: probe failed, circuit open again");
            }
            (State::Closed, false) => {
                inner.consecutive_failures += 1;
                if inner.consecutive_failures >= self.threshold {
                    inner.state = State::Open { until };
                    tracing::warn!(
                        error = %error,
                        failures = inner.consecutive_failures,
                        cool_down_ms = self.cool_down.as_millis(),
                        "Redis rate limiter: circuit opened, deciding in process until Redis answers"
                    );
                } else {
                    tracing::debug!(error = %error, "Redis rate limiter: call failed");
                }
            }
            // A call let through before the circuit opened, failing late: already counted enough.
            _ => {}
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Attempt<'_> {
    /// Redis answered.
    pub(crate) fn succeed(mut self) {
        self.settled = true;
        self.breaker.on_success(self.probe);
    }

    /// Redis failed or timed out at `now`.
    pub(crate) fn fail(mut self, now: Instant, error: &dyn Display) {
        self.settled = true;
        self.breaker.on_failure(self.probe, now, error);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            self.breaker.on_failure(true, Instant::now(), &"probe cancelled");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL_DOWN: Duration = Duration::from_secs(1);

    fn call(breaker: &CircuitBreaker, now: Instant) -> Attempt<'_> {
        match breaker.admit(now) {
            Admission::Call(attempt) => attempt,
            Admission::Skip => panic!("expected a call to Redis, got a skip"),
        }
    }

    fn skips(breaker: &CircuitBreaker, now: Instant) -> bool {
        matches!(breaker.admit(now), Admission::Skip)
    }

    fn open(breaker: &CircuitBreaker, now: Instant) {
        for _ in 0..3 {
            call(breaker, now).fail(now, &"down");
        }
        assert_eq!(breaker.state(), CircuitState::Open);
    }

    #[test]
    fn opens_after_k_consecutive_failures_and_skips_redis_during_the_cool_down() {
        let breaker = CircuitBreaker::new(3, COOL_DOWN);
        let t0 = Instant::now();
        call(&breaker, t0).fail(t0, &"down");
        call(&breaker, t0).fail(t0, &"down");
        assert_eq!(breaker.state(), CircuitState::Closed);
        call(&breaker, t0).fail(t0, &"down");
        assert_eq!(breaker.state(), CircuitState::Open);
        assert!(skips(&breaker, t0));
        assert!(skips(&breaker, t0 + COOL_DOWN - Duration::from_nanos(1)));
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let breaker = CircuitBreaker::new(3, COOL_DOWN);
        let t0 = Instant::now();
        for _ in 0..10 {
            call(&breaker, t0).fail(t0, &"down");
            call(&breaker, t0).fail(t0, &"down");
            call(&breaker, t0).succeed();
        }
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[test]
    fn after_the_cool_down_one_probe_goes_to_redis_and_its_success_closes_the_circuit() {
        let breaker = CircuitBreaker::new(3, COOL_DOWN);
        let t0 = Instant::now();
        open(&breaker, t0);
        let later = t0 + COOL_DOWN;
        let probe = call(&breaker, later);
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert!(skips(&breaker, later), "only one probe at a time");
        probe.succeed();
        assert_eq!(breaker.state(), CircuitState::Closed);
        call(&breaker, later).succeed();
    }

    #[test]
    fn a_failed_probe_opens_the_circuit_for_another_cool_down() {
        let breaker = CircuitBreaker::new(3, COOL_DOWN);
        let t0 = Instant::now();
        open(&breaker, t0);
        let later = t0 + COOL_DOWN;
        call(&breaker, later).fail(later, &"still down");
        assert_eq!(breaker.state(), CircuitState::Open);
        assert!(skips(&breaker, later + COOL_DOWN - Duration::from_nanos(1)));
        call(&breaker, later + COOL_DOWN).succeed();
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[test]
    fn a_cancelled_probe_counts_as_failed() {
        let breaker = CircuitBreaker::new(3, COOL_DOWN);
        let t0 = Instant::now();
        open(&breaker, t0);
        drop(call(&breaker, t0 + COOL_DOWN));
        assert_eq!(breaker.state(), CircuitState::Open);
    }

    #[test]
    fn late_answers_of_calls_admitted_before_opening_change_nothing() {
        let breaker = CircuitBreaker::new(3, COOL_DOWN);
        let t0 = Instant::now();
        let late_ok = call(&breaker, t0);
        let late_err = call(&breaker, t0);
        let cancelled = call(&breaker, t0);
        open(&breaker, t0);
        late_ok.succeed();
        late_err.fail(t0, &"late");
        drop(cancelled);
        assert_eq!(breaker.state(), CircuitState::Open);
        assert!(skips(&breaker, t0));
        let probe = call(&breaker, t0 + COOL_DOWN);
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        probe.succeed();
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[test]
    fn a_zero_threshold_behaves_as_one() {
        let breaker = CircuitBreaker::new(0, COOL_DOWN);
        let t0 = Instant::now();
        call(&breaker, t0).fail(t0, &"down");
        assert_eq!(breaker.state(), CircuitState::Open);
    }
}
