//! The generator: deterministic, realistic calls (features, users, providers and models, tokens,
//! latencies, errors, times busier in working hours) priced with the server's own price book, and
//! the fast seeded random numbers and ids they are drawn with. Shared with the benchmarks.

use std::ops::Range;

use aicp_domain::pricing::{Catalogue, PriceBook, Usage, original_fallback};
use anyhow::Context;
use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc, Weekday};
use rand::{Rng, RngCore};
use uuid::Uuid;

/// The prices the server uses for a project without custom prices: the built-in catalogue and
/// the original's fallback for unknown models.
pub(crate) fn price_book() -> anyhow::Result<PriceBook> {
    let catalogue = Catalogue::builtin().context("the built-in price catalogue is invalid")?;
    Ok(PriceBook::new(&catalogue, &[], original_fallback()))
}

/// A feature of the monitored product: how often it calls an LLM and how big its calls are.
#[derive(Debug)]
pub(crate) struct Feature {
    pub(crate) name: &'static str,
    weight: f64,
    input_median: f64,
    output_median: f64,
}

pub(crate) const FEATURES: [Feature; 10] = [
    Feature { name: "chat-assistant", weight: 30.0, input_median: 1200.0, output_median: 350.0 },
    Feature { name: "chat-summary", weight: 15.0, input_median: 2500.0, output_median: 250.0 },
    Feature { name: "doc-qa", weight: 12.0, input_median: 4000.0, output_median: 300.0 },
    Feature { name: "code-review", weight: 9.0, input_median: 6000.0, output_median: 800.0 },
    Feature { name: "support-bot", weight: 9.0, input_median: 900.0, output_median: 200.0 },
    Feature { name: "email-draft", weight: 7.0, input_median: 500.0, output_median: 400.0 },
    Feature { name: "search-rerank", weight: 7.0, input_median: 1500.0, output_median: 40.0 },
    Feature { name: "translation", weight: 5.0, input_median: 700.0, output_median: 700.0 },
    Feature { name: "sql-assistant", weight: 4.0, input_median: 1800.0, output_median: 150.0 },
    Feature { name: "meeting-notes", weight: 2.0, input_median: 9000.0, output_median: 900.0 },
];

/// (model, share within its provider, milliseconds per output token).
type ModelMix = (&'static str, f64, f64);

pub(crate) struct ProviderMix {
    provider: &'static str,
    weight: f64,
    models: &'static [ModelMix],
    /// Dated or unknown names that real traffic carries now and then (priced at the fallback
    /// price when the catalogue does not know them).
    rare: &'static [&'static str],
}

pub(crate) const PROVIDERS: [ProviderMix; 3] = [
    ProviderMix {
        provider: "openai",
        weight: 40.0,
        models: &[("gpt-4o", 35.0, 12.0), ("gpt-4o-mini", 50.0, 7.0), ("gpt-3.5-turbo", 15.0, 6.0)],
        rare: &["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "ft:gpt-4o-mini:acme::9xk2"],
    },
    ProviderMix {
        provider: "anthropic",
        weight: 30.0,
        models: &[
            ("claude-3-5-sonnet-20241022", 60.0, 14.0),
            ("claude-3-5-haiku-20241022", 40.0, 8.0),
        ],
        rare: &["claude-3-5-sonnet-latest", "claude-instant-1.2"],
    },
    ProviderMix {
        provider: "google-gemini",
        weight: 30.0,
        models: &[
            ("gemini-1.5-flash", 55.0, 5.0),
            ("gemini-1.5-pro", 30.0, 13.0),
            ("gemini-2.0-flash-exp", 15.0, 6.0),
        ],
        rare: &["gemini-1.5-pro-002", "gemini-ultra"],
    },
];

pub(crate) const RARE_MODEL_SHARE: f64 = 0.01;
pub(crate) const ERROR_SHARE: f64 = 0.05;
pub(crate) const STREAMING_SHARE: f64 = 0.20;
pub(crate) const CACHED_SHARE: f64 = 0.30;
pub(crate) const USERS: usize = 50;
pub(crate) const ANONYMOUS_SHARE: f64 = 0.08;
pub(crate) const ERROR_CODES: [&str; 4] =
    ["rate_limit", "timeout", "server_error", "invalid_request"];
pub(crate) const METADATA: [&str; 4] = [
    r#"{"env":"production","sdkVersion":"1.4.2"}"#,
    r#"{"promptVersion":"v3","experiment":"rerank-b"}"#,
    r#"{"tenant":"acme","plan":"enterprise"}"#,
    r#"{"env":"staging","sdkVersion":"1.5.0-beta.1"}"#,
];

/// The skewed populations events are drawn from.
#[derive(Debug)]
pub(crate) struct Catalog {
    users: Vec<String>,
    user_cumulative: Vec<f64>,
}

impl Catalog {
    pub(crate) fn new() -> Self {
        let users = (1..=USERS).map(|i| format!("user-{i:03}")).collect();
        // Zipf-like: a few heavy users, a long tail.
        let mut total = 0.0;
        let user_cumulative = (0..USERS)
            .map(|i| {
                total += 1.0 / ((i + 1) as f64).powf(0.8);
                total
            })
            .collect();
        Self { users, user_cumulative }
    }

    pub(crate) fn feature(&self, rng: &mut FastRng) -> &'static Feature {
        pick(rng, &FEATURES, |f| f.weight)
    }

    pub(crate) fn user(&self, rng: &mut FastRng) -> Option<&str> {
        if rng.random_bool(ANONYMOUS_SHARE) {
            return None;
        }
        let total = self.user_cumulative.last().copied().unwrap_or(1.0);
        let x = rng.random::<f64>() * total;
        let i = self.user_cumulative.partition_point(|&c| c <= x).min(USERS - 1);
        self.users.get(i).map(String::as_str)
    }
}

/// Weighted choice (small slices: a linear scan).
pub(crate) fn pick<'a, T>(rng: &mut FastRng, items: &'a [T], weight: impl Fn(&T) -> f64) -> &'a T {
    let total: f64 = items.iter().map(&weight).sum();
    let mut x = rng.random::<f64>() * total;
    for item in items {
        x -= weight(item);
        if x < 0.0 {
            return item;
        }
    }
    &items[items.len() - 1]
}

/// A standard normal draw (Box–Muller).
pub(crate) fn normal(rng: &mut FastRng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

pub(crate) fn log_normal(rng: &mut FastRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// One LLM call as the SDK reports it.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) provider: &'static str,
    pub(crate) model: &'static str,
    pub(crate) input_tokens: u32,
    pub(crate) output_tokens: u32,
    pub(crate) cached_tokens: u32,
    /// Anthropic prompt-cache writes (part of `input_tokens`).
    pub(crate) cache_write_tokens: u32,
    /// Of `cache_write_tokens`, written with a one-hour TTL.
    pub(crate) cache_write_1h_tokens: u32,
    pub(crate) latency_ms: u32,
    pub(crate) is_streaming: bool,
    pub(crate) error_code: Option<&'static str>,
    pub(crate) retry_count: u32,
    pub(crate) is_error: bool,
    /// A JSON object, or `None` (most events).
    pub(crate) metadata: Option<&'static str>,
}

impl Call {
    pub(crate) fn sample(rng: &mut FastRng, feature: &Feature) -> Self {
        let mix = pick(rng, &PROVIDERS, |p| p.weight);
        let (model, ms_per_token) = if rng.random_bool(RARE_MODEL_SHARE) {
            (mix.rare[rng.random_range(0..mix.rare.len())], 10.0)
        } else {
            let m = pick(rng, mix.models, |m| m.1);
            (m.0, m.2)
        };
        let is_streaming = rng.random_bool(STREAMING_SHARE);
        if rng.random_bool(ERROR_SHARE) {
            let code = ERROR_CODES[rng.random_range(0..ERROR_CODES.len())];
            let latency = match code {
                "timeout" => 30_000.0 + rng.random_range(0.0..500.0),
                "rate_limit" => log_normal(rng, 60.0, 0.5),
                "server_error" => log_normal(rng, 900.0, 0.8),
                _ => log_normal(rng, 120.0, 0.4),
            };
            let metadata = rng.random_bool(0.3).then_some(match code {
                "rate_limit" => r#"{"error":"Rate limit reached for requests"}"#,
                "timeout" => r#"{"error":"Request timed out"}"#,
                "server_error" => {
                    r#"{"error":"The server had an error while processing your request"}"#
                }
                _ => r#"{"error":"Invalid request: max_tokens is too large"}"#,
            });
            return Self {
                provider: mix.provider,
                model,
                input_tokens: 0,
                output_tokens: 0,
                cached_tokens: 0,
                cache_write_tokens: 0,
                cache_write_1h_tokens: 0,
                latency_ms: latency as u32,
                is_streaming,
                error_code: Some(code),
                retry_count: rng.random_range(0..=3),
                is_error: true,
                metadata,
            };
        }
        let input = log_normal(rng, feature.input_median, 0.9).clamp(1.0, 128_000.0) as u32;
        let output = log_normal(rng, feature.output_median, 0.8).clamp(1.0, 8_192.0) as u32;
        let cached = if rng.random_bool(CACHED_SHARE) {
            ((f64::from(input) * rng.random_range(0.1..0.9)) as u32).min(input)
        } else {
            0
        };
        // Anthropic callers mark prompts for caching; now and then the prefix is written.
        let (cache_write, cache_write_1h) = if mix.provider == "anthropic" && rng.random_bool(0.10)
        {
            let write = ((f64::from(input - cached) * rng.random_range(0.3..0.9)) as u32)
                .min(input - cached);
            (write, if rng.random_bool(0.2) { write } else { 0 })
        } else {
            (0, 0)
        };
        let latency = log_normal(rng, 350.0, 0.5)
            + f64::from(output) * ms_per_token * log_normal(rng, 1.0, 0.25);
        let retry_count =
            if rng.random_bool(0.04) { if rng.random_bool(0.75) { 1 } else { 2 } } else { 0 };
        let metadata = rng.random_bool(0.05).then(|| METADATA[rng.random_range(0..METADATA.len())]);
        Self {
            provider: mix.provider,
            model,
            input_tokens: input,
            output_tokens: output,
            cached_tokens: cached,
            cache_write_tokens: cache_write,
            cache_write_1h_tokens: cache_write_1h,
            latency_ms: latency.min(120_000.0) as u32,
            is_streaming,
            error_code: None,
            retry_count,
            is_error: false,
            metadata,
        }
    }

    pub(crate) fn usage(&self) -> Usage {
        Usage {
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_read_tokens: self.cached_tokens,
            cache_write_tokens: self.cache_write_tokens,
            cache_write_1h_tokens: self.cache_write_1h_tokens,
            reasoning_tokens: 0,
        }
    }
}

pub(crate) const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

pub(crate) fn splitmix_finish(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derives independent seeds from (seed, index) pairs.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    splitmix_finish(a ^ splitmix_finish(b.wrapping_add(GOLDEN_GAMMA)).wrapping_add(GOLDEN_GAMMA))
}

/// SplitMix64, the random generator of the seeded data. Why not rand's `StdRng`: its algorithm
/// may change between rand versions (the same seed must give the same data for good), and
/// ChaCha is most of the cost of generating a row when xtask runs unoptimized (`cargo xtask`
/// builds in the dev profile). SplitMix64 is statistically fine for test data and ~10x cheaper.
#[derive(Debug, Clone)]
pub(crate) struct FastRng(u64);

impl FastRng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl RngCore for FastRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        splitmix_finish(self.0)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// A UUIDv7 at `t` whose random bits come from `rng` (ordered like `created_at`).
pub(crate) fn uuid_v7_at(rng: &mut FastRng, t: DateTime<Utc>) -> Uuid {
    let random: [u8; 10] = rng.random();
    let millis = u64::try_from(t.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

pub(crate) const ALPHANUMERIC: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `prefix` followed by `len` random alphanumerics.
pub(crate) fn random_id(rng: &mut FastRng, prefix: &str, len: usize) -> String {
    let mut id = String::with_capacity(prefix.len() + len + 1);
    id.push_str(prefix);
    for _ in 0..len {
        id.push(char::from(ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())]));
    }
    id
}

/// How busy an hour is: weekdays' working hours (UTC) carry most of the traffic.
pub(crate) fn hour_weight(t: DateTime<Utc>) -> f64 {
    let w = match t.hour() {
        9..=17 => 10.0,
        7..=8 | 18..=21 => 4.0,
        _ => 1.0,
    };
    if matches!(t.weekday(), Weekday::Sat | Weekday::Sun) { w * 0.25 } else { w }
}

/// Events per hour over the last `days` days, summing exactly to `events`.
pub(crate) fn events_per_hour(events: u64, days: u32, start: DateTime<Utc>) -> Vec<u64> {
    let hours = u64::from(days) * 24;
    let weights: Vec<f64> =
        (0..hours).map(|h| hour_weight(start + TimeDelta::minutes(h as i64 * 60 + 30))).collect();
    let total: f64 = weights.iter().sum();
    let mut cumulative = 0.0;
    let mut assigned = 0u64;
    weights
        .iter()
        .enumerate()
        .map(|(h, w)| {
            cumulative += w;
            let upto = if h as u64 == hours - 1 {
                events
            } else {
                ((cumulative / total) * events as f64).round() as u64
            };
            let upto = upto.clamp(assigned, events);
            let n = upto - assigned;
            assigned = upto;
            n
        })
        .collect()
}

/// Splits the hours into `jobs` contiguous ranges of about the same number of events.
pub(crate) fn split_hours(counts: &[u64], jobs: usize) -> Vec<Range<usize>> {
    let total: u64 = counts.iter().sum();
    let mut ranges = Vec::with_capacity(jobs);
    let mut start = 0;
    let mut cumulative = 0u64;
    for (h, n) in counts.iter().enumerate() {
        cumulative += n;
        let target = total * (ranges.len() as u64 + 1) / jobs as u64;
        if cumulative >= target && ranges.len() + 1 < jobs {
            ranges.push(start..h + 1);
            start = h + 1;
        }
    }
    ranges.push(start..counts.len());
    ranges
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hours_get_exactly_the_requested_events_busier_in_working_hours() {
        let start =
            DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z").unwrap().with_timezone(&Utc); // a Monday
        let counts = events_per_hour(100_000, 7, start);
        assert_eq!(counts.len(), 7 * 24);
        assert_eq!(counts.iter().sum::<u64>(), 100_000);
        assert!(counts[10] > 5 * counts[3], "{} vs {}", counts[10], counts[3]);
        assert!(counts[10] > 3 * counts[5 * 24 + 10], "Saturday is quieter");
        assert_eq!(events_per_hour(3, 30, start).iter().sum::<u64>(), 3);
    }

    #[test]
    fn hour_ranges_cover_everything_once() {
        let counts = vec![5, 0, 7, 1, 9, 3, 0, 2];
        for jobs in 1..=4 {
            let ranges = split_hours(&counts, jobs);
            assert_eq!(ranges.len(), jobs);
            assert_eq!(ranges.first().unwrap().start, 0);
            assert_eq!(ranges.last().unwrap().end, counts.len());
            for w in ranges.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
        }
    }
}
