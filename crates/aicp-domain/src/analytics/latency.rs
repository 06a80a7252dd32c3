//! Latency histograms: the bucket thresholds shared with the database (`aicp_latency_bucket` in
//! the rollups migration) and percentiles estimated from a histogram.
//!
//! Buckets are about ten per decade (each at most ~25 % wide), so an estimated percentile is
//! within one bucket of the truth; the estimate is the bucket's midpoint, clamped to the exact
//! minimum and maximum.

/// Lower bounds (ms) of buckets 1..=58; bucket 0 is `[0, 1)` ms, bucket 58 is `[1_000_000, ∞)`.
pub const THRESHOLDS_MS: [u32; 58] = [
    1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, 40, 50, 64, 80, 100, 125, 160, 200, 250, 320, 400,
    500, 640, 800, 1000, 1250, 1600, 2000, 2500, 3200, 4000, 5000, 6400, 8000, 10000, 12500, 16000,
    20000, 25000, 32000, 40000, 50000, 64000, 80000, 100000, 125000, 160000, 200000, 250000,
    320000, 400000, 500000, 640000, 800000, 1000000,
];

/// Number of buckets.
pub const BUCKETS: usize = THRESHOLDS_MS.len() + 1;

/// The bucket of a latency (same as the database's `aicp_latency_bucket`).
pub fn bucket_of(ms: u32) -> usize {
    THRESHOLDS_MS.partition_point(|&t| t <= ms)
}

/// A latency histogram with exact count, sum, min and max.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Count per bucket.
    pub counts: Vec<u64>,
    /// Sum of latencies (ms).
    pub sum: u64,
    /// Smallest latency, when any.
    pub min: Option<u32>,
    /// Largest latency, when any.
    pub max: Option<u32>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self { counts: vec![0; BUCKETS], sum: 0, min: None, max: None }
    }
}

impl LatencyHistogram {
    /// Adds one latency.
    pub fn record(&mut self, ms: u32) {
        self.counts[bucket_of(ms)] += 1;
        self.sum += u64::from(ms);
        self.min = Some(self.min.map_or(ms, |m| m.min(ms)));
        self.max = Some(self.max.map_or(ms, |m| m.max(ms)));
    }

    /// Adds another histogram.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.sum += other.sum;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// Latencies recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The average, when any latency was recorded.
    pub fn mean(&self) -> Option<f64> {
        let n = self.count();
        (n > 0).then(|| self.sum as f64 / n as f64)
    }

    /// The `q`-quantile (0 < q ≤ 1) by nearest rank, estimated as the midpoint of its bucket and
    /// clamped to [min, max].
    pub fn quantile(&self, q: f64) -> Option<u32> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let low = if i == 0 { 0 } else { THRESHOLDS_MS[i - 1] };
                let high = THRESHOLDS_MS.get(i).copied().unwrap_or(low.saturating_mul(2));
                let mid = low + (high - low) / 2;
                let (min, max) = (self.min.unwrap_or(0), self.max.unwrap_or(u32::MAX));
                return Some(mid.clamp(min, max));
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn buckets_match_the_database_function() {
        // Values checked against `SELECT aicp_latency_bucket(x)` in PostgreSQL.
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1), 1);
        assert_eq!(bucket_of(5), 5);
        assert_eq!(bucket_of(999_999), 57);
        assert_eq!(bucket_of(1_000_000), 58);
        assert_eq!(bucket_of(u32::MAX), 58);
    }

    proptest! {
        #[test]
        fn a_quantile_is_within_one_bucket_of_the_exact_value(mut values in proptest::collection::vec(0u32..2_000_000, 1..500), q in 0.01f64..1.0) {
            let mut h = LatencyHistogram::default();
            for v in &values { h.record(*v); }
            values.sort_unstable();
            let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
            let exact = values[rank - 1];
            let estimate = h.quantile(q).unwrap_or_default();
            prop_assert!(bucket_of(estimate).abs_diff(bucket_of(exact)) <= 1, "exact {exact} estimate {estimate}");
            prop_assert_eq!(h.count(), values.len() as u64);
        }
    }
}
