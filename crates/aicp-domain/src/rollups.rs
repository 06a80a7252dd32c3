//! When to fold: the pacing of the background rollup fold (the loop itself, with its timer, lives
//! in the composition root; this is the rule it follows).
//!
//! The fold keeps the rollup tables fresh; answers are exact either way (reads add what is still
//! pending), so the pace trades database work against how much raw-row reading the pending part
//! costs a query. A full batch means more is waiting: fold again at once. A partial batch means
//! the fold has caught up: wait `interval`, so that a rollup row is updated once per interval per
//! key however many requests touched it. Another folder holding the lock is folding for
//! everyone: check again after `interval` (it may die; its lock dies with its session). Database
//! errors back off, doubling up to `max_backoff`.

use std::time::Duration;

use crate::ports::{FoldOutcome, RollupFolder};

/// The pace of the fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoldPolicy {
    /// Most events one fold takes (one transaction).
    pub max_events: u32,
    /// Pause after a fold that caught up.
    pub interval: Duration,
    /// Longest pause after consecutive failures.
    pub max_backoff: Duration,
}

impl Default for FoldPolicy {
    fn default() -> Self {
        Self {
            max_events: 20_000,
            interval: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// What one step of the fold loop did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoldStep {
    /// This process folded (possibly nothing).
    Folded(FoldOutcome),
    /// Another folder held the lock.
    Busy,
    /// The database failed; nothing was folded.
    Failed(String),
}

/// Runs folds at the pace of a [`FoldPolicy`].
pub struct RollupFoldService<F> {
    folder: F,
    policy: FoldPolicy,
    failures: u32,
}

impl<F: RollupFolder> RollupFoldService<F> {
    /// A service folding through `folder` at the pace of `policy`.
    pub fn new(folder: F, policy: FoldPolicy) -> Self {
        Self { folder, policy, failures: 0 }
    }

    /// The folder (e.g. to read the backlog).
    pub fn folder(&self) -> &F {
        &self.folder
    }

    /// Folds once and says how long to wait before the next step.
    pub async fn step(&mut self) -> (FoldStep, Duration) {
        match self.folder.fold(self.policy.max_events).await {
            Ok(Some(outcome)) => {
                self.failures = 0;
                let full = outcome.folded >= u64::from(self.policy.max_events);
                let pause = if full { Duration::ZERO } else { self.policy.interval };
                (FoldStep::Folded(outcome), pause)
            }
            Ok(None) => {
                self.failures = 0;
                (FoldStep::Busy, self.policy.interval)
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                let factor = 1u32 << self.failures.min(16);
                let pause =
                    self.policy.interval.saturating_mul(factor).min(self.policy.max_backoff);
                (FoldStep::Failed(e.to_string()), pause)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::{MockRollupFolder, RepoError};

    fn policy() -> FoldPolicy {
        FoldPolicy {
            max_events: 100,
            interval: Duration::from_millis(200),
            max_backoff: Duration::from_secs(1),
        }
    }

    /// The mocks answer at once, so every step is ready at its first poll.
    fn now<F: std::future::Future>(f: F) -> F::Output {
        f.now_or_never().expect("the mocks never make the service wait")
    }

    fn outcome(folded: u64) -> FoldOutcome {
        FoldOutcome { folded, oldest_wait_ms: 5 }
    }

    #[test]
    fn a_full_batch_folds_again_at_once_and_a_partial_one_waits_the_interval() {
        let mut folder = MockRollupFolder::new();
        let mut seq = mockall::Sequence::new();
        for n in [100, 40, 0] {
            folder
                .expect_fold()
                .with(eq(100))
                .times(1)
                .in_sequence(&mut seq)
                .returning(move |_| Ok(Some(outcome(n))));
        }
        let mut service = RollupFoldService::new(folder, policy());
        assert_eq!(now(service.step()), (FoldStep::Folded(outcome(100)), Duration::ZERO));
        assert_eq!(
            now(service.step()),
            (FoldStep::Folded(outcome(40)), Duration::from_millis(200))
        );
        assert_eq!(now(service.step()), (FoldStep::Folded(outcome(0)), Duration::from_millis(200)));
    }

    #[test]
    fn another_folder_holding_the_lock_means_check_again_after_the_interval() {
        let mut folder = MockRollupFolder::new();
        folder.expect_fold().returning(|_| Ok(None));
        let mut service = RollupFoldService::new(folder, policy());
        assert_eq!(now(service.step()), (FoldStep::Busy, Duration::from_millis(200)));
    }

    #[test]
    fn failures_back_off_doubling_up_to_the_limit_and_a_success_resets_it() {
        let mut folder = MockRollupFolder::new();
        let mut seq = mockall::Sequence::new();
        for _ in 0..4 {
            folder
                .expect_fold()
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_| Err(RepoError::Unavailable("connection refused".to_owned())));
        }
        folder.expect_fold().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(outcome(3))));
        folder
            .expect_fold()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(RepoError::Unavailable("down".to_owned())));
        let mut service = RollupFoldService::new(folder, policy());
        let mut pauses = Vec::new();
        for _ in 0..6 {
            let (step, pause) = now(service.step());
            pauses.push(pause);
            if pauses.len() <= 4 {
                assert!(
                    matches!(step, FoldStep::Failed(ref m) if m.contains("connection refused"))
                );
            }
        }
        let ms = |v: u64| Duration::from_millis(v);
        assert_eq!(pauses, [ms(400), ms(800), ms(1000), ms(1000), ms(200), ms(400)]);
    }
}
