//! The rollup fold: bringing the rollups up to date from committed events.

use async_trait::async_trait;

use super::RepoError;

/// What one fold did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FoldOutcome {
    /// Events added to the rollups (each exactly once).
    pub folded: u64,
    /// How long the oldest of them had waited since its insert, in milliseconds.
    pub oldest_wait_ms: u64,
}

/// The events committed but not yet folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FoldBacklog {
    /// How many.
    pub events: u64,
    /// Age of the oldest, in milliseconds (`None` when there is none).
    pub oldest_age_ms: Option<u64>,
}

/// Store of the events still to fold into the rollups.
///
/// Reads over rollups must stay exact without the fold (they add what is still pending), so the
/// fold only decides how fresh the rollup tables are, never what an answer says.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RollupFolder: Send + Sync {
    /// Folds up to `max_events` pending events into the rollups in one transaction, exactly once
    /// each. `Ok(None)` when another folder (in this or another process) is folding right now.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the database cannot be reached (nothing was folded).
    async fn fold(&self, max_events: u32) -> Result<Option<FoldOutcome>, RepoError>;

    /// The current backlog.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the database cannot be reached.
    async fn backlog(&self) -> Result<FoldBacklog, RepoError>;
}
