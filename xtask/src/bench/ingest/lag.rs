//! How far the rollups are behind the events during `bench ingest`: a sampler that reads the fold
//! backlog (`rollup_pending`) every 100 ms while a scenario runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::migrate;

const EVERY: Duration = Duration::from_millis(100);

/// Samples of one scenario: (events pending, age of the oldest in ms).
#[derive(Debug, Default, Clone)]
pub(super) struct Lag {
    pub(super) samples: Vec<(u64, u64)>,
}

impl Lag {
    /// p50 and p99 of the oldest pending event's age, in ms.
    pub(super) fn age_ms(&self) -> (u64, u64) {
        let mut ages: Vec<u64> = self.samples.iter().map(|s| s.1).collect();
        ages.sort_unstable();
        (quantile(&ages, 0.5), quantile(&ages, 0.99))
    }

    /// p50 and maximum of the backlog, in events.
    pub(super) fn backlog(&self) -> (u64, u64) {
        let mut sizes: Vec<u64> = self.samples.iter().map(|s| s.0).collect();
        sizes.sort_unstable();
        (quantile(&sizes, 0.5), sizes.last().copied().unwrap_or(0))
    }
}

fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// A running sampler; [`Sampler::finish`] stops it and returns what it saw.
pub(super) struct Sampler {
    stop: Arc<AtomicBool>,
    task: JoinHandle<anyhow::Result<Lag>>,
}

impl Sampler {
    /// Starts sampling the database at `url` (a database with `rollup_pending`).
    pub(super) async fn start(url: &str) -> anyhow::Result<Self> {
        let client = migrate::connect(url).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let mut lag = Lag::default();
            let mut tick = tokio::time::interval(EVERY);
            while !flag.load(Ordering::Relaxed) {
                tick.tick().await;
                let row = client
                    .query_one(
                        "SELECT count(*), coalesce((extract(epoch FROM clock_timestamp() - \
                         min(queued_at)) * 1000)::bigint, 0) FROM rollup_pending",
                        &[],
                    )
                    .await?;
                let (n, age): (i64, i64) = (row.get(0), row.get(1));
                lag.samples.push((u64::try_from(n)?, u64::try_from(age.max(0))?));
            }
            Ok(lag)
        });
        Ok(Self { stop, task })
    }

    pub(super) async fn finish(self) -> anyhow::Result<Lag> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_the_samples() {
        let lag = Lag { samples: (1..=100).map(|i| (i * 10, i)).collect() };
        assert_eq!(lag.age_ms(), (51, 99));
        assert_eq!(lag.backlog(), (510, 1000));
        assert_eq!(Lag::default().age_ms(), (0, 0));
    }
}
