//! The summary of a window: spend, volume, rates, latency percentiles and waste, compared with
//! the window of the same length just before it.
//!
//! Waste is the spend that bought nothing: the cost of failed calls, plus the cost of successful
//! calls that were retries (their earlier attempts already failed, so the same work was paid for
//! again). A failed retry counts once, as a failed call.

use serde::Serialize;

use crate::analytics::WindowStats;
use crate::money::Usd;

/// Headline figures of one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    /// Total cost (exact decimal string).
    pub total_cost_usd: Usd,
    /// Calls.
    pub requests: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Cache-read tokens.
    pub cached_tokens: u64,
    /// Failed calls / calls.
    pub error_rate: f64,
    /// Calls with cached prompt tokens / calls.
    pub cache_hit_rate: f64,
    /// Cache-read tokens / prompt tokens.
    pub cached_token_share: f64,
    /// Calls that were retries.
    pub retried_requests: u64,
    /// Mean latency (ms).
    pub avg_latency_ms: Option<f64>,
    /// Median latency (ms, histogram estimate).
    pub p50_latency_ms: Option<u32>,
    /// 95th percentile (ms, histogram estimate).
    pub p95_latency_ms: Option<u32>,
    /// 99th percentile (ms, histogram estimate).
    pub p99_latency_ms: Option<u32>,
    /// Waste.
    pub waste: Waste,
}

/// Spend that bought nothing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Waste {
    /// Cost of failed calls.
    pub failed_calls_usd: Usd,
    /// Cost of successful calls that were retries.
    pub retries_usd: Usd,
    /// Their sum.
    pub total_usd: Usd,
    /// `total / spend` (0 without spend).
    pub share_of_spend: f64,
}

/// Relative changes against the previous window (`null` when the previous value is zero).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// Cost change, as a fraction (0.25 = +25 %).
    pub total_cost: Option<f64>,
    /// Calls change.
    pub requests: Option<f64>,
    /// Waste change.
    pub waste: Option<f64>,
    /// Error-rate change in percentage points (fraction units).
    pub error_rate_points: f64,
}

/// The summary response body (without the window, which the HTTP layer adds).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// This window.
    #[serde(flatten)]
    pub current: Figures,
    /// The previous window of the same length.
    pub previous: Figures,
    /// Changes against it.
    pub change: Change,
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

fn relative(now: f64, before: f64) -> Option<f64> {
    (before != 0.0).then(|| (now - before) / before)
}

/// Figures of one window.
pub fn figures(s: &WindowStats) -> Figures {
    let waste_total = s.error_cost + s.retry_cost;
    Figures {
        total_cost_usd: s.cost,
        requests: s.calls,
        input_tokens: s.input_tokens,
        output_tokens: s.output_tokens,
        cached_tokens: s.cached_tokens,
        error_rate: ratio(s.errors, s.calls),
        cache_hit_rate: ratio(s.cache_hits, s.calls),
        cached_token_share: ratio(s.cached_tokens, s.input_tokens),
        retried_requests: s.retried_calls,
        avg_latency_ms: s.latency.mean(),
        p50_latency_ms: s.latency.quantile(0.50),
        p95_latency_ms: s.latency.quantile(0.95),
        p99_latency_ms: s.latency.quantile(0.99),
        waste: Waste {
            failed_calls_usd: s.error_cost,
            retries_usd: s.retry_cost,
            total_usd: waste_total,
            share_of_spend: if s.cost == Usd::ZERO {
                0.0
            } else {
                Usd::to_f64(waste_total) / Usd::to_f64(s.cost)
            },
        },
    }
}

/// The summary of `current` compared with `previous`.
pub fn summarize(current: &WindowStats, previous: &WindowStats) -> Summary {
    let (now, before) = (figures(current), figures(previous));
    let change = Change {
        total_cost: relative(Usd::to_f64(now.total_cost_usd), Usd::to_f64(before.total_cost_usd)),
        requests: relative(now.requests as f64, before.requests as f64),
        waste: relative(Usd::to_f64(now.waste.total_usd), Usd::to_f64(before.waste.total_usd)),
        error_rate_points: now.error_rate - before.error_rate,
    };
    Summary { current: now, previous: before, change }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use rust_decimal::Decimal;

    use super::*;

    fn usd(s: &str) -> Usd {
        Usd::new(Decimal::from_str(s).unwrap_or_default())
    }

    #[test]
    fn waste_is_failed_calls_plus_successful_retries_as_a_share_of_spend() {
        let now = WindowStats {
            calls: 10,
            errors: 1,
            retried_calls: 2,
            cost: usd("10"),
            error_cost: usd("1"),
            retry_cost: usd("1.5"),
            ..WindowStats::default()
        };
        let before = WindowStats {
            calls: 5,
            cost: usd("8"),
            error_cost: usd("2"),
            ..WindowStats::default()
        };
        let s = summarize(&now, &before);
        assert_eq!(s.current.waste.total_usd, usd("2.5"));
        assert_eq!(s.current.waste.share_of_spend, 0.25);
        assert_eq!(s.current.error_rate, 0.1);
        assert_eq!(s.change.total_cost, Some(0.25));
        assert_eq!(s.change.requests, Some(1.0));
        assert_eq!(s.change.waste, Some(0.25));
        let empty = summarize(&WindowStats::default(), &WindowStats::default());
        assert_eq!(empty.change.total_cost, None);
        assert_eq!(empty.current.p50_latency_ms, None);
    }
}
