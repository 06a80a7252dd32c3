//! `cargo xtask seed --events N`: fill the database with deterministic, realistic events.
//!
//! Why: the dashboard's queries, the indexes and the analytics only show their real behaviour on
//! a realistic volume (a million events is a month of a mid-sized product), and a bug report is
//! only reproducible when everybody can build the same data: the same `--seed` gives the same
//! events (same features, users, models, tokens, costs and times relative to now).
//!
//! The data: ~10 features and ~50 users with skewed popularity, three providers (OpenAI 40 %,
//! Anthropic 30 %, Google 30 %) and a few dated or unknown model names, traces of a root span and
//! 0–3 child spans, 20 % streaming, 5 % errors, retries, cached prompt tokens on ~30 % of the
//! successes, log-normal token counts and latencies, and timestamps spread over the last
//! `--days` days, busier in (UTC) working hours. Costs are computed with the server's own price
//! book (the built-in catalogue, [`price_book`]) at each event's time, so every row is what
//! ingesting the event would have stored (custom prices a project may have set are ignored).
//!
//! Why COPY: it is the fastest way into PostgreSQL (no per-row statement). Rows are generated on
//! blocking threads and streamed to the server in chunks through a bounded channel, so memory
//! stays flat whatever N is; each `--jobs` worker has its own connection and commits every
//! ~100,000 rows.
//!
//! The server keeps hourly/daily rollups up to date in the statement that inserts events; COPY
//! bypasses it, so the seeded rows are then folded into the rollups in one statement
//! ([`fold_into_rollups`]), and the database is `ANALYZE`d.
//!
//! Ids never collide with an earlier run: trace ids carry a run tag made of the seed and the
//! number of events the project already had, and the uuids' random bits are derived from both.
//! (Two runs started at the same moment into the same project would share a tag: not supported.)

use std::fmt::Write as _;
use std::ops::Range;
use std::time::Instant;

use aicp_domain::ProjectId;
use aicp_domain::pricing::{Catalogue, PriceBook, Priced, Usage, original_fallback};
use anyhow::{Context, bail};
use bytes::Bytes;
use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc, Weekday};
use futures_util::SinkExt;
use rand::{Rng, RngCore};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::Args;
use crate::migrate;

pub(crate) const HELP: &str = "\
cargo xtask seed --events N [flags]

Migrates the database, then inserts N deterministic, realistic events (COPY, streamed in chunks)
and prints the insert rate. Running it again adds N more events (ids never collide).

Flags:
  --events N           number of events to insert (required)
  --database-url URL   default: $DATABASE_URL, else postgres://postgres@127.0.0.1:5432/aicp
  --project P          project_id of the events (default: default, the project of the API)
  --seed S             random seed: the same seed gives the same data (default: 42)
  --days D             spread the events over the last D days (default: 30)
  --jobs J             parallel COPY connections (default: 2)";

/// The columns of every COPY into `events` (and `bench_copy`), in [`write_csv_row`]'s order.
pub(crate) const COLUMNS: &str = "id, project_id, trace_id, span_id, parent_span_id, feature, \
user_id, provider, model, input_tokens, output_tokens, cached_tokens, cache_write_tokens, \
cache_write_1h_tokens, reasoning_tokens, latency_ms, estimated_cost_usd, provider_cost_usd, \
verified_cost_usd, input_cost_usd, cache_read_cost_usd, cache_write_cost_usd, output_cost_usd, \
reasoning_cost_usd, priced_as, price_source, price_effective_from, is_cache_hit, metadata, \
is_streaming, error_code, retry_count, is_error, created_at, received_at";

/// Number of fields in [`COLUMNS`].
#[cfg(test)]
const COLUMN_COUNT: usize = 35;

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

const FEATURES: [Feature; 10] = [
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

struct ProviderMix {
    provider: &'static str,
    weight: f64,
    models: &'static [ModelMix],
    /// Dated or unknown names that real traffic carries now and then (priced at the fallback
    /// price when the catalogue does not know them).
    rare: &'static [&'static str],
}

const PROVIDERS: [ProviderMix; 3] = [
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

const RARE_MODEL_SHARE: f64 = 0.01;
const ERROR_SHARE: f64 = 0.05;
const STREAMING_SHARE: f64 = 0.20;
const CACHED_SHARE: f64 = 0.30;
const USERS: usize = 50;
const ANONYMOUS_SHARE: f64 = 0.08;
const ERROR_CODES: [&str; 4] = ["rate_limit", "timeout", "server_error", "invalid_request"];
const METADATA: [&str; 4] = [
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
fn pick<'a, T>(rng: &mut FastRng, items: &'a [T], weight: impl Fn(&T) -> f64) -> &'a T {
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
fn normal(rng: &mut FastRng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn log_normal(rng: &mut FastRng, median: f64, sigma: f64) -> f64 {
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

/// One `events` row.
#[derive(Debug)]
pub(crate) struct Row<'a> {
    pub(crate) id: Uuid,
    /// Already CSV-quoted.
    pub(crate) project_csv: &'a str,
    pub(crate) trace_id: &'a str,
    pub(crate) span_id: &'a str,
    pub(crate) parent_span_id: Option<&'a str>,
    pub(crate) feature: &'a str,
    pub(crate) user_id: Option<&'a str>,
    pub(crate) call: &'a Call,
    pub(crate) priced: &'a Priced,
    pub(crate) created_at: DateTime<Utc>,
}

/// `s` as one CSV field, always quoted (a quoted empty string is not NULL).
pub(crate) fn csv_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Appends `row` as one line of `COPY ... (FORMAT csv)` in [`COLUMNS`]' order. Ids, features,
/// users and models are plain tokens (no comma, quote or newline); free text is quoted.
pub(crate) fn write_csv_row(buf: &mut String, row: &Row<'_>) {
    // Hand-rolled rather than one `write!`: `cargo xtask` runs unoptimized, where the formatting
    // machinery is most of the cost of a row.
    let c = row.call;
    let cost = &row.priced.cost;
    let flag = |b: bool| if b { "t," } else { "f," };
    let mut uuid = [0u8; uuid::fmt::Hyphenated::LENGTH];
    buf.push_str(row.id.hyphenated().encode_lower(&mut uuid));
    buf.push(',');
    for text in [row.project_csv, row.trace_id, row.span_id, row.parent_span_id.unwrap_or("")] {
        buf.push_str(text);
        buf.push(',');
    }
    for text in [row.feature, row.user_id.unwrap_or(""), c.provider, c.model] {
        buf.push_str(text);
        buf.push(',');
    }
    for n in [
        c.input_tokens,
        c.output_tokens,
        c.cached_tokens,
        c.cache_write_tokens,
        c.cache_write_1h_tokens,
    ] {
        push_u32(buf, n);
        buf.push(',');
    }
    buf.push_str("0,"); // reasoning_tokens: none of the seeded models reasons
    push_u32(buf, c.latency_ms);
    buf.push(',');
    let total_at = buf.len();
    push_decimal(buf, cost.total.amount());
    let total = buf[total_at..].to_owned();
    // estimated_cost_usd (the SDK's estimate: here the exact cost), provider_cost_usd (NULL: the
    // original SDK never reports it), verified_cost_usd.
    buf.push_str(",,");
    buf.push_str(&total);
    for part in [cost.input, cost.cache_read, cost.cache_write, cost.output, cost.reasoning] {
        buf.push(',');
        push_decimal(buf, part.amount());
    }
    buf.push(',');
    buf.push_str(row.priced.priced_as.as_deref().unwrap_or(""));
    buf.push(',');
    buf.push_str(row.priced.source.as_str());
    buf.push(',');
    if let Some(day) = row.priced.effective_from {
        let _ = write!(buf, "{day}");
    }
    buf.push(',');
    buf.push_str(flag(c.cached_tokens > 0));
    if let Some(json) = c.metadata {
        buf.push_str(&csv_quote(json));
    }
    buf.push(',');
    buf.push_str(flag(c.is_streaming));
    buf.push_str(c.error_code.unwrap_or(""));
    buf.push(',');
    push_u32(buf, c.retry_count);
    buf.push(',');
    buf.push_str(flag(c.is_error));
    let at = buf.len();
    push_timestamp(buf, row.created_at);
    let created = buf[at..].to_owned();
    buf.push(',');
    buf.push_str(&created); // received_at
    buf.push('\n');
}

fn push_u32(buf: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        buf.push(char::from(d));
    }
}

fn push_padded(buf: &mut String, n: u32, width: u32) {
    for p in (0..width).rev() {
        buf.push(char::from(b'0' + (n / 10u32.pow(p) % 10) as u8));
    }
}

fn push_decimal(buf: &mut String, d: rust_decimal::Decimal) {
    if d.is_zero() {
        buf.push('0');
    } else {
        let _ = write!(buf, "{d}");
    }
}

/// `YYYY-MM-DD HH:MM:SS.mmm+00`.
fn push_timestamp(buf: &mut String, t: DateTime<Utc>) {
    push_padded(buf, u32::try_from(t.year()).unwrap_or(0), 4);
    for (sep, n) in
        [('-', t.month()), ('-', t.day()), (' ', t.hour()), (':', t.minute()), (':', t.second())]
    {
        buf.push(sep);
        push_padded(buf, n, 2);
    }
    buf.push('.');
    push_padded(buf, t.timestamp_subsec_millis().min(999), 3);
    buf.push_str("+00");
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn splitmix_finish(mut z: u64) -> u64 {
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

const ALPHANUMERIC: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

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
fn hour_weight(t: DateTime<Utc>) -> f64 {
    let w = match t.hour() {
        9..=17 => 10.0,
        7..=8 | 18..=21 => 4.0,
        _ => 1.0,
    };
    if matches!(t.weekday(), Weekday::Sat | Weekday::Sun) { w * 0.25 } else { w }
}

/// Events per hour over the last `days` days, summing exactly to `events`.
fn events_per_hour(events: u64, days: u32, start: DateTime<Utc>) -> Vec<u64> {
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
fn split_hours(counts: &[u64], jobs: usize) -> Vec<Range<usize>> {
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

/// Everything a generator thread needs; cheap to clone.
#[derive(Clone)]
struct Generator {
    seed: u64,
    /// `{seed:x}-{offset:x}`: part of every trace id, unique per run.
    run_tag: String,
    /// Seed of the uuids' random bits (depends on the run, unlike the data).
    id_seed: u64,
    project_csv: String,
    project: ProjectId,
    book: std::sync::Arc<PriceBook>,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    counts: std::sync::Arc<Vec<u64>>,
}

enum Chunk {
    Data(Bytes),
    Commit,
}

const FLUSH_BYTES: usize = 256 * 1024;
const ROWS_PER_COMMIT: u64 = 100_000;

impl Generator {
    /// Generates the events of `hours` and sends them as CSV chunks; `Commit` marks the end of a
    /// transaction. Stops early when the receiver is gone (the COPY failed).
    fn run(&self, hours: Range<usize>, tx: &mpsc::Sender<Chunk>) {
        let catalog = Catalog::new();
        let mut buf = String::with_capacity(FLUSH_BYTES + 4096);
        let mut since_commit = 0;
        for hour in hours {
            let count = self.counts[hour];
            self.hour(hour, count, &catalog, &mut buf);
            since_commit += count;
            if buf.len() >= FLUSH_BYTES || since_commit >= ROWS_PER_COMMIT {
                let data = Bytes::from(std::mem::replace(
                    &mut buf,
                    String::with_capacity(FLUSH_BYTES + 4096),
                ));
                if tx.blocking_send(Chunk::Data(data)).is_err() {
                    return;
                }
            }
            if since_commit >= ROWS_PER_COMMIT {
                since_commit = 0;
                if tx.blocking_send(Chunk::Commit).is_err() {
                    return;
                }
            }
        }
        if !buf.is_empty() {
            let _ = tx.blocking_send(Chunk::Data(Bytes::from(buf)));
        }
    }

    /// The `count` events of one hour, trace by trace.
    fn hour(&self, hour: usize, count: u64, catalog: &Catalog, buf: &mut String) {
        let mut rng = FastRng::new(mix(self.seed, hour as u64));
        let mut id_rng = FastRng::new(mix(self.id_seed, hour as u64));
        let hour_start = self.start + TimeDelta::hours(hour as i64);
        let mut remaining = count;
        let mut n = 0u64;
        while remaining > 0 {
            let children = match rng.random::<f64>() {
                x if x < 0.50 => 0,
                x if x < 0.75 => 1,
                x if x < 0.90 => 2,
                _ => 3,
            }
            .min(remaining - 1);
            remaining -= children + 1;
            let trace_id = format!("tr_{}-{hour:x}-{n:x}", self.run_tag);
            n += 1;
            let feature = catalog.feature(&mut rng);
            let user = catalog.user(&mut rng);
            let root = random_id(&mut rng, "sp_", 15) + "0";
            let mut at = hour_start + TimeDelta::milliseconds(rng.random_range(0..3_600_000));
            for span in 0..=children {
                let call = Call::sample(&mut rng, feature);
                let child;
                let (span_id, parent) = if span == 0 {
                    (root.as_str(), None)
                } else {
                    // The index suffix keeps span ids unique within the trace.
                    child = random_id(&mut rng, "sp_", 15) + &span.to_string();
                    (child.as_str(), Some(root.as_str()))
                };
                let created_at = at.min(self.now);
                let priced = self.book.price(&self.project, call.model, created_at, call.usage());
                let row = Row {
                    id: uuid_v7_at(&mut id_rng, created_at),
                    project_csv: &self.project_csv,
                    trace_id: &trace_id,
                    span_id,
                    parent_span_id: parent,
                    feature: feature.name,
                    user_id: user,
                    call: &call,
                    priced: &priced,
                    created_at,
                };
                write_csv_row(buf, &row);
                // Children run one after the other, after the root has started.
                let gap = if span == 0 {
                    rng.random_range(5..50)
                } else {
                    i64::from(call.latency_ms) + rng.random_range(1..200)
                };
                at += TimeDelta::milliseconds(gap);
            }
        }
    }
}

/// Streams the chunks of one generator into COPY statements on `client`; returns the rows stored.
async fn copy_chunks(
    client: tokio_postgres::Client,
    mut rx: mpsc::Receiver<Chunk>,
) -> anyhow::Result<u64> {
    let sql = format!("COPY events ({COLUMNS}) FROM STDIN (FORMAT csv)");
    let mut rows = 0;
    let mut sink = None;
    while let Some(chunk) = rx.recv().await {
        match chunk {
            Chunk::Data(data) => {
                if sink.is_none() {
                    sink = Some(Box::pin(client.copy_in::<_, Bytes>(sql.as_str()).await?));
                }
                if let Some(s) = sink.as_mut() {
                    s.send(data).await.context("COPY failed")?;
                }
            }
            Chunk::Commit => {
                if let Some(mut s) = sink.take() {
                    rows += s.as_mut().finish().await.context("COPY failed")?;
                }
            }
        }
    }
    if let Some(mut s) = sink.take() {
        rows += s.as_mut().finish().await.context("COPY failed")?;
    }
    Ok(rows)
}

/// Folds the rows of this run into the rollup tables (when the schema has them).
///
/// The server maintains the rollups in the statement that inserts the events; COPY bypasses it,
/// so the same SQL (`aicp_storage::fold_into_rollups_sql`) runs here over exactly the rows of
/// this run (their trace ids start with the run's tag): the two can never disagree.
pub(crate) async fn fold_into_rollups(
    client: &tokio_postgres::Client,
    project: &str,
    trace_prefix: &str,
) -> anyhow::Result<bool> {
    let present: bool = client
        .query_one(
            "SELECT to_regclass('rollup_hourly') IS NOT NULL AND to_regclass('rollup_daily') IS NOT NULL \
             AND to_regclass('rollup_user_daily') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if !present {
        return Ok(false);
    }
    // The very statement aicp-storage uses on insert, over the rows of this run.
    let sql = aicp_storage::fold_into_rollups_sql(&format!(
        "SELECT {} FROM events WHERE project_id = $1 AND starts_with(trace_id, $2)",
        aicp_storage::ROLLUP_INPUT
    ));
    client
        .query_one(&sql, &[&project, &trace_prefix])
        .await
        .context("cannot fold the seeded events into the rollups")?;
    Ok(true)
}

/// What to seed (the command's flags; `bench export|analytics` build it directly).
pub(crate) struct Flags {
    pub(crate) events: u64,
    pub(crate) database_url: String,
    pub(crate) project: String,
    pub(crate) seed: u64,
    pub(crate) days: u32,
    pub(crate) jobs: usize,
}

pub(crate) fn run(mut args: Args) -> anyhow::Result<()> {
    let flags = Flags {
        events: args.parsed("--events")?.context("--events N is required (see --help)")?,
        database_url: args.database_url()?,
        project: args.value("--project")?.unwrap_or_else(|| "default".to_owned()),
        seed: args.parsed("--seed")?.unwrap_or(42),
        days: args.parsed("--days")?.unwrap_or(30),
        jobs: args.parsed("--jobs")?.unwrap_or(2),
    };
    args.finish()?;
    if flags.events == 0 {
        bail!("--events must be at least 1");
    }
    if !(1..=2_000).contains(&flags.days) {
        bail!("--days must be between 1 and 2000");
    }
    if flags.project.trim().is_empty() || flags.project.len() > 128 {
        bail!("--project must be 1..=128 characters");
    }
    if !(1..=16).contains(&flags.jobs) {
        bail!("--jobs must be between 1 and 16");
    }
    crate::runtime()?.block_on(seed(flags))
}

/// Migrates the database of `flags`, then seeds it (see the module's documentation).
pub(crate) async fn seed(flags: Flags) -> anyhow::Result<()> {
    migrate::migrate(&flags.database_url).await?;
    let url = flags.database_url.as_str();
    let client = migrate::connect(url).await?;
    let has_projects: bool =
        client.query_one("SELECT to_regclass('projects') IS NOT NULL", &[]).await?.get(0);
    if has_projects {
        // The project must exist for the API to know it (the default one always does).
        client
            .execute(
                "INSERT INTO projects (id) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&flags.project],
            )
            .await
            .with_context(|| {
                format!("cannot register project {:?} in the projects table", flags.project)
            })?;
    }
    let count = "SELECT count(*) FROM events WHERE project_id = $1";
    let before: i64 = client.query_one(count, &[&flags.project]).await?.get(0);
    let offset = u64::try_from(before)?;

    let now = Utc::now();
    let start = now - TimeDelta::days(i64::from(flags.days));
    let counts = events_per_hour(flags.events, flags.days, start);
    let ranges = split_hours(&counts, flags.jobs);
    let generator = Generator {
        seed: flags.seed,
        run_tag: format!("{:x}-{offset:x}", flags.seed),
        id_seed: mix(flags.seed, offset ^ 0x1d5_5eed),
        project_csv: csv_quote(&flags.project),
        project: ProjectId::new(flags.project.clone()),
        book: std::sync::Arc::new(price_book()?),
        start,
        now,
        counts: std::sync::Arc::new(counts),
    };
    println!(
        "seed: {} events for project {:?}, seed {}, last {} days, {} COPY connection(s) (project has {before} events)",
        flags.events,
        flags.project,
        flags.seed,
        flags.days,
        ranges.len(),
    );

    let mut clients = Vec::with_capacity(ranges.len());
    for _ in &ranges {
        let c = migrate::connect(url).await?;
        // Durability of each chunk's commit is not worth a WAL flush wait here.
        c.batch_execute("SET synchronous_commit = off").await?;
        clients.push(c);
    }
    let started = Instant::now();
    let mut generators = Vec::new();
    let mut copies = Vec::new();
    for (hours, c) in ranges.into_iter().zip(clients) {
        let (tx, rx) = mpsc::channel(4);
        let g = generator.clone();
        generators.push(tokio::task::spawn_blocking(move || g.run(hours, &tx)));
        copies.push(tokio::spawn(copy_chunks(c, rx)));
    }
    let rows = join_loaders(copies, generators).await.map_err(|(e, rows)| {
        e.context(format!("seed failed ({rows} rows were committed before the failure)"))
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "seed: inserted {rows} events in {elapsed:.2} s ({:.0} rows/s)",
        rows as f64 / elapsed.max(1e-9)
    );
    if rows != flags.events {
        bail!("seed: expected to insert {} events, COPY reported {rows}", flags.events);
    }

    let fold = Instant::now();
    let trace_prefix = format!("tr_{}-", generator.run_tag);
    if fold_into_rollups(&client, &flags.project, &trace_prefix).await? {
        println!(
            "seed: folded the events into the rollups in {:.2} s",
            fold.elapsed().as_secs_f64()
        );
    }
    let analyze = Instant::now();
    client.batch_execute("ANALYZE").await?;
    let after: i64 = client.query_one(count, &[&flags.project]).await?.get(0);
    println!(
        "seed: ANALYZE took {:.2} s; project {:?} now has {after} events",
        analyze.elapsed().as_secs_f64(),
        flags.project
    );
    let total = started.elapsed().as_secs_f64();
    println!(
        "seed: done in {total:.2} s from the first row to the end of ANALYZE ({:.0} events/s overall)",
        rows as f64 / total.max(1e-9)
    );
    Ok(())
}

/// Waits for parallel COPY tasks (each answering the rows it committed) and the blocking tasks
/// generating their input; the total of rows, or the first failure with the rows committed by
/// then. Every task is awaited either way, so none is left running.
pub(crate) async fn join_loaders(
    copies: Vec<tokio::task::JoinHandle<anyhow::Result<u64>>>,
    generators: Vec<tokio::task::JoinHandle<()>>,
) -> Result<u64, (anyhow::Error, u64)> {
    let mut rows = 0;
    let mut failure = None;
    for copy in copies {
        match copy.await {
            Ok(Ok(n)) => rows += n,
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(e) => failure = failure.or(Some(e.into())),
        }
    }
    for g in generators {
        if let Err(e) = g.await {
            failure = failure.or(Some(e.into()));
        }
    }
    match failure {
        Some(e) => Err((e, rows)),
        None => Ok(rows),
    }
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

    #[test]
    fn rows_are_deterministic_valid_and_priced_like_the_server() {
        let now = Utc::now();
        let generator = Generator {
            seed: 7,
            run_tag: "7-0".to_owned(),
            id_seed: 1,
            project_csv: csv_quote("default"),
            project: ProjectId::default_project(),
            book: std::sync::Arc::new(price_book().unwrap()),
            start: now - TimeDelta::days(1),
            now,
            counts: std::sync::Arc::new(vec![2000]),
        };
        let catalog = Catalog::new();
        let mut a = String::new();
        let mut b = String::new();
        generator.hour(0, 2000, &catalog, &mut a);
        generator.hour(0, 2000, &catalog, &mut b);
        assert_eq!(a, b, "same seed, same data");
        let lines: Vec<&str> = a.lines().collect();
        assert_eq!(lines.len(), 2000);
        let names: Vec<&str> = COLUMNS.split(", ").collect();
        assert_eq!(names.len(), COLUMN_COUNT);
        let col = |name: &str| names.iter().position(|n| *n == name).unwrap();
        let mut keys = std::collections::HashSet::new();
        let (mut errors, mut children, mut unpriced) = (0, 0, 0);
        for line in lines {
            // Metadata is the only field that may contain commas; strip it.
            let plain = match (line.find(",\"{"), line.rfind("}\",")) {
                (Some(s), Some(e)) => format!("{}{}", &line[..s + 1], &line[e + 2..]),
                _ => line.to_owned(),
            };
            let f: Vec<&str> = plain.split(',').collect();
            assert_eq!(f.len(), COLUMN_COUNT, "{line}");
            let field = |name: &str| f[col(name)];
            assert!(
                keys.insert((field("trace_id").to_owned(), field("span_id").to_owned())),
                "duplicate key in {line}"
            );
            let d = |name: &str| field(name).parse::<rust_decimal::Decimal>().unwrap();
            let parts = [
                "input_cost_usd",
                "cache_read_cost_usd",
                "cache_write_cost_usd",
                "output_cost_usd",
                "reasoning_cost_usd",
            ];
            assert_eq!(
                d("verified_cost_usd"),
                parts.iter().map(|p| d(p)).sum(),
                "parts add up: {line}"
            );
            assert_eq!(d("estimated_cost_usd"), d("verified_cost_usd"));
            let n = |name: &str| field(name).parse::<u32>().unwrap();
            assert!(n("cached_tokens") + n("cache_write_tokens") <= n("input_tokens"), "{line}");
            assert!(["catalogue", "fallback"].contains(&field("price_source")), "{line}");
            if field("price_source") == "fallback" {
                unpriced += 1;
                assert!(
                    field("priced_as").is_empty() && field("price_effective_from").is_empty(),
                    "{line}"
                );
            }
            assert_eq!(field("is_cache_hit") == "t", n("cached_tokens") > 0);
            if field("is_error") == "t" {
                errors += 1;
                assert_eq!((n("input_tokens"), n("output_tokens")), (0, 0));
                assert!(ERROR_CODES.contains(&field("error_code")));
            }
            if !field("parent_span_id").is_empty() {
                children += 1;
            }
        }
        assert!(unpriced > 0, "some model names are unknown");
        assert!((40..=180).contains(&errors), "~5 % errors, got {errors}");
        assert!(children > 300, "traces have child spans, got {children}");
    }
}
