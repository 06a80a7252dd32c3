//! The one cost formula.
//!
//! Field semantics (documented for SDK authors in docs/API.md) follow OpenAI and the
//! OpenTelemetry GenAI conventions:
//! - `input_tokens` counts **every** prompt token: uncached, cache reads and cache writes.
//!   (Anthropic reports `input_tokens` without cache reads and writes; an SDK adds them.)
//! - `output_tokens` counts every completion token, reasoning/thinking tokens included.
//!
//! ```text
//! prompt      = max(input, cache_read + cache_write)    -- inconsistent counts: the cache
//! completion  = max(output, reasoning)                  --   counts prove at least that many
//! write_1h    = min(cache_write_1h, cache_write);  write_5m = cache_write - write_1h
//! rates       = the tier with the highest threshold below `prompt` (long context), else base
//! input       = (prompt - cache_read - cache_write) × input
//! cache_read  = cache_read × (cache_read rate  | input)
//! cache_write = write_5m × (cache_write_5m | input) + write_1h × (cache_write_1h | cache_write_5m | input)
//! output      = (completion - reasoning) × output
//! reasoning   = reasoning × (reasoning rate | output)
//! total       = the sum, exact; rates are USD per 1M tokens
//! ```
//!
//! A usage kind without its own rate is charged at the rate it is a special case of: never free
//! (unless that rate is zero) and never counted twice.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::money::Usd;

/// Token counts of one call (see the module docs for their semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Every prompt token, cache reads and writes included.
    pub input_tokens: u32,
    /// Every completion token, reasoning included.
    pub output_tokens: u32,
    /// Prompt tokens read from the provider's cache.
    pub cache_read_tokens: u32,
    /// Prompt tokens written to the provider's cache (any TTL).
    pub cache_write_tokens: u32,
    /// Of `cache_write_tokens`, those written with a one-hour TTL (Anthropic).
    pub cache_write_1h_tokens: u32,
    /// Of `output_tokens`, reasoning / thinking tokens.
    pub reasoning_tokens: u32,
}

impl Usage {
    /// The prompt size used for long-context tiers.
    pub fn prompt_tokens(&self) -> u64 {
        u64::from(self.input_tokens)
            .max(u64::from(self.cache_read_tokens) + u64::from(self.cache_write_tokens))
    }
}

/// Prices of the usage kinds of one model (or one of its long-context tiers), USD per 1M tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rates {
    /// Uncached prompt tokens.
    pub input: Decimal,
    /// Completion tokens.
    pub output: Decimal,
    /// Prompt tokens read from cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<Decimal>,
    /// Prompt tokens written to cache, 5-minute TTL (the default TTL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<Decimal>,
    /// Prompt tokens written to cache, 1-hour TTL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<Decimal>,
    /// Reasoning tokens, when priced apart from output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Decimal>,
}

impl Rates {
    /// Plain input/output rates.
    pub fn new(input: Decimal, output: Decimal) -> Self {
        Self {
            input,
            output,
            cache_read: None,
            cache_write_5m: None,
            cache_write_1h: None,
            reasoning: None,
        }
    }
}

/// A long-context tier: `rates` apply to the whole call when its prompt exceeds the threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tier {
    /// Prompt tokens above which the tier applies.
    pub above_input_tokens: u64,
    /// The tier's rates.
    pub rates: Rates,
}

/// The cost of one call, by usage kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    /// Uncached prompt tokens.
    pub input: Usd,
    /// Cache reads.
    pub cache_read: Usd,
    /// Cache writes.
    pub cache_write: Usd,
    /// Completion tokens other than reasoning.
    pub output: Usd,
    /// Reasoning tokens.
    pub reasoning: Usd,
    /// Sum of the parts.
    pub total: Usd,
}

/// Applies the formula (module docs) to `usage` with `base` rates and long-context `tiers`
/// (sorted by threshold, ascending).
pub fn cost(usage: Usage, base: &Rates, tiers: &[Tier]) -> Cost {
    let prompt = usage.prompt_tokens();
    let rates =
        tiers.iter().rev().find(|t| prompt > t.above_input_tokens).map_or(base, |t| &t.rates);
    let read = u64::from(usage.cache_read_tokens);
    let write = u64::from(usage.cache_write_tokens);
    let write_1h = u64::from(usage.cache_write_1h_tokens).min(write);
    let write_5m = write - write_1h;
    let reasoning = u64::from(usage.reasoning_tokens);
    let completion = u64::from(usage.output_tokens).max(reasoning);

    let write_5m_rate = rates.cache_write_5m.unwrap_or(rates.input);
    let input = per_million(prompt - read - write, rates.input);
    let cache_read = per_million(read, rates.cache_read.unwrap_or(rates.input));
    let cache_write = per_million(write_5m, write_5m_rate)
        + per_million(write_1h, rates.cache_write_1h.unwrap_or(write_5m_rate));
    let output = per_million(completion - reasoning, rates.output);
    let reasoning = per_million(reasoning, rates.reasoning.unwrap_or(rates.output));
    Cost {
        input,
        cache_read,
        cache_write,
        output,
        reasoning,
        total: input + cache_read + cache_write + output + reasoning,
    }
}

fn per_million(tokens: u64, rate: Decimal) -> Usd {
    Usd::new(Decimal::from(tokens) * rate / Decimal::from(1_000_000))
}
