//! The background rollup fold of this process: a loop around
//! [`aicp_domain::rollups::RollupFoldService`]. Every process runs one; the fold lock lets one of
//! them fold at a time and hands over when a process dies (see `aicp_storage::fold`).

use aicp_domain::ports::RollupFolder;
use aicp_domain::rollups::{FoldPolicy, FoldStep, RollupFoldService};
use tokio::task::JoinHandle;

use crate::metrics as m;

/// How often the backlog gauges are refreshed (one `count(*)` of a small table).
const BACKLOG_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Starts the loop on the current runtime. Aborting the task at any point is safe: an unfinished
/// fold's transaction is rolled back and its events are folded by the next fold.
pub fn spawn<F: RollupFolder + 'static>(folder: F, policy: FoldPolicy) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut service = RollupFoldService::new(folder, policy);
        let mut failing = false;
        let mut backlog_read = tokio::time::Instant::now();
        loop {
            let (step, pause) = service.step().await;
            match &step {
                FoldStep::Folded(o) if o.folded > 0 => {
                    tracing::debug!(events = o.folded, oldest_wait_ms = o.oldest_wait_ms, "folded");
                    metrics::counter!(m::FOLDED).increment(o.folded);
                    metrics::histogram!(m::FOLD_WAIT).record(o.oldest_wait_ms as f64 / 1e3);
                }
                FoldStep::Failed(reason) => {
                    metrics::counter!(m::FOLD_FAILURES).increment(1);
                    // Once per outage, not once per retry.
                    if !failing {
                        tracing::warn!(error = %reason, "rollup fold failed; retrying with backoff (answers stay exact)");
                    }
                }
                _ => {}
            }
            if backlog_read.elapsed() >= BACKLOG_EVERY {
                backlog_read = tokio::time::Instant::now();
                if let Ok(b) = service.folder().backlog().await {
                    metrics::gauge!(m::PENDING).set(b.events as f64);
                    metrics::gauge!(m::PENDING_AGE).set(b.oldest_age_ms.unwrap_or(0) as f64 / 1e3);
                }
            }
            failing = matches!(step, FoldStep::Failed(_));
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    })
}
