//! The background rollup fold of this process: a loop around
//! [`aicp_domain::rollups::RollupFoldService`]. Every process runs one; the fold lock lets one of
//! them fold at a time and hands over when a process dies (see `aicp_storage::fold`).

use aicp_domain::ports::RollupFolder;
use aicp_domain::rollups::{FoldPolicy, FoldStep, RollupFoldService};
use tokio::task::JoinHandle;

/// Starts the loop on the current runtime. Aborting the task at any point is safe: an unfinished
/// fold's transaction is rolled back and its events are folded by the next fold.
pub fn spawn<F: RollupFolder + 'static>(folder: F, policy: FoldPolicy) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut service = RollupFoldService::new(folder, policy);
        let mut failing = false;
        loop {
            let (step, pause) = service.step().await;
            match &step {
                FoldStep::Folded(o) if o.folded > 0 => {
                    tracing::debug!(events = o.folded, oldest_wait_ms = o.oldest_wait_ms, "folded");
                }
                // Once per outage, not once per retry.
                FoldStep::Failed(reason) if !failing => {
                    tracing::warn!(error = %reason, "rollup fold failed; retrying with backoff (answers stay exact)");
                }
                _ => {}
            }
            failing = matches!(step, FoldStep::Failed(_));
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    })
}
