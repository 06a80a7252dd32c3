//! Prices and the cost formula.
//!
//! Prices are USD per one million tokens, exact decimals. The table starts with the 15 models the
//! original knew (original-api.md §8) and its unknown-model default; OpenAI's published cached-input
//! prices are added where the original had none (it charged nothing for those cached tokens).
//!
//! # Formula (one function: [`PriceTable::cost`])
//!
//! Field semantics follow OpenAI and the OpenTelemetry GenAI conventions: `inputTokens` counts every
//! prompt token, cached ones included; `cachedTokens` says how many of them were cache reads.
//!
//! ```text
//! prompt   = max(inputTokens, cachedTokens)        // cached > input: the cached count is evidence
//!                                                  // of at least that many prompt tokens
//! regular  = prompt - cachedTokens
//! input    = regular      × inputPer1M        / 1e6
//! cached   = cachedTokens × cachedInputPer1M  / 1e6   (the input price when the model has no
//!                                                      cached price: never free, never twice)
//! output   = outputTokens × outputPer1M       / 1e6
//! total    = input + cached + output           (exact; no rounding for ≤ 6-decimal prices)
//! ```

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::event::Provider;
use crate::money::Usd;

/// The price of one model, USD per one million tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelPrice {
    /// Catalogue key, e.g. `gpt-4o`.
    pub model: String,
    /// Provider that publishes the price.
    pub provider: Provider,
    /// Uncached prompt tokens.
    pub input_per_1m: Decimal,
    /// Completion tokens.
    pub output_per_1m: Decimal,
    /// Prompt tokens read from the provider's cache; `None` when the model has no cache discount.
    pub cached_input_per_1m: Option<Decimal>,
}

/// The server's cost of one event, by usage kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostBreakdown {
    /// Uncached prompt tokens.
    pub input: Usd,
    /// Cached prompt tokens.
    pub cached_input: Usd,
    /// Completion tokens.
    pub output: Usd,
    /// Sum of the parts.
    pub total: Usd,
    /// Catalogue key of the price used; `None` when the model was unknown and the fallback price
    /// applied.
    pub priced_as: Option<String>,
}

/// Token counts of one call, as the formula needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Prompt tokens, cached ones included.
    pub input_tokens: u32,
    /// Completion tokens.
    pub output_tokens: u32,
    /// Prompt tokens served from cache.
    pub cached_tokens: u32,
}

/// A set of model prices plus the price used for unknown models.
#[derive(Debug, Clone)]
pub struct PriceTable {
    by_model: HashMap<String, ModelPrice>,
    fallback: ModelPrice,
}

/// (model, provider, input, output, cached input), each price in micro-dollars per 1M tokens.
type Row = (&'static str, Provider, i64, i64, Option<i64>);

const ORIGINAL_MODELS: [Row; 15] = [
    ("gpt-4o", Provider::Openai, 2_500_000, 10_000_000, Some(1_250_000)),
    ("gpt-4o-mini", Provider::Openai, 150_000, 600_000, Some(75_000)),
    ("gpt-4-turbo", Provider::Openai, 10_000_000, 30_000_000, None),
    ("gpt-3.5-turbo", Provider::Openai, 500_000, 1_500_000, None),
    ("text-embedding-3-small", Provider::Openai, 20_000, 0, None),
    ("text-embedding-3-large", Provider::Openai, 130_000, 0, None),
    ("claude-3-5-sonnet-20241022", Provider::Anthropic, 3_000_000, 15_000_000, Some(300_000)),
    ("claude-3-5-haiku-20241022", Provider::Anthropic, 1_000_000, 5_000_000, Some(100_000)),
    ("claude-3-opus-20240229", Provider::Anthropic, 15_000_000, 75_000_000, Some(1_500_000)),
    ("claude-sonnet-4-20250514", Provider::Anthropic, 3_000_000, 15_000_000, Some(300_000)),
    ("gemini-1.5-pro", Provider::GoogleGemini, 1_250_000, 5_000_000, Some(312_500)),
    ("gemini-1.5-flash", Provider::GoogleGemini, 75_000, 300_000, Some(18_750)),
    ("gemini-1.5-flash-8b", Provider::GoogleGemini, 37_500, 150_000, Some(9_375)),
    ("gemini-2.0-flash-exp", Provider::GoogleGemini, 0, 0, None),
    ("gemini-1.0-pro", Provider::GoogleGemini, 500_000, 1_500_000, None),
];

const FALLBACK: Row = ("unknown", Provider::Openai, 10_000_000, 30_000_000, None);

fn price_from_row((model, provider, input, output, cached): Row) -> ModelPrice {
    let micros = |v: i64| Decimal::new(v, 6).normalize();
    ModelPrice {
        model: model.to_owned(),
        provider,
        input_per_1m: micros(input),
        output_per_1m: micros(output),
        cached_input_per_1m: cached.map(micros),
    }
}

impl PriceTable {
    /// The original's 15 models (with OpenAI's cached prices) and its 10/30 USD default.
    pub fn original() -> Self {
        Self::new(
            ORIGINAL_MODELS.into_iter().map(price_from_row),
            price_from_row(FALLBACK),
        )
    }

    /// A table of `prices`, with `fallback` for models not in it.
    pub fn new(prices: impl IntoIterator<Item = ModelPrice>, fallback: ModelPrice) -> Self {
        let by_model = prices
            .into_iter()
            .map(|p| (p.model.to_ascii_lowercase(), p))
            .collect();
        Self { by_model, fallback }
    }

    /// The price of `model` (matched case-insensitively), or `None` when unknown.
    pub fn find(&self, model: &str) -> Option<&ModelPrice> {
        self.by_model.get(&model.to_ascii_lowercase())
    }

    /// Every known price, sorted by model name.
    pub fn prices(&self) -> Vec<&ModelPrice> {
        let mut all: Vec<_> = self.by_model.values().collect();
        all.sort_by(|a, b| a.model.cmp(&b.model));
        all
    }

    /// The exact cost of one call of `model` (see the module docs for the formula).
    pub fn cost(&self, model: &str, usage: Usage) -> CostBreakdown {
        let (price, priced_as) = match self.find(model) {
            Some(p) => (p, Some(p.model.clone())),
            None => (&self.fallback, None),
        };
        let per_token = |tokens: u32, per_1m: Decimal| {
            Usd::new(Decimal::from(tokens) * per_1m / Decimal::from(1_000_000))
        };
        let prompt = usage.input_tokens.max(usage.cached_tokens);
        let regular = prompt - usage.cached_tokens;
        let input = per_token(regular, price.input_per_1m);
        let cached_input = per_token(
            usage.cached_tokens,
            price.cached_input_per_1m.unwrap_or(price.input_per_1m),
        );
        let output = per_token(usage.output_tokens, price.output_per_1m);
        CostBreakdown {
            input,
            cached_input,
            output,
            total: input + cached_input + output,
            priced_as,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::*;

    fn cost(model: &str, input: u32, output: u32, cached: u32) -> String {
        let usage = Usage { input_tokens: input, output_tokens: output, cached_tokens: cached };
        PriceTable::original().cost(model, usage).total.to_string()
    }

    #[test]
    fn the_original_vectors_hold_where_the_original_was_right() {
        assert_eq!(cost("gpt-4o", 1000, 500, 0), "0.0075");
        assert_eq!(cost("claude-3-5-sonnet-20241022", 1000, 500, 200), "0.00996");
        assert_eq!(cost("claude-3-5-sonnet-20241022", 100, 50, 200), "0.00081");
        assert_eq!(cost("unknown-model", 1000, 500, 0), "0.025");
        assert_eq!(cost("gpt-4o", 0, 0, 0), "0");
        assert_eq!(cost("gpt-4o", 1_000_000, 1_000_000, 0), "12.5");
        assert_eq!(cost("gpt-4o-mini", 123, 456, 0), "0.00029205");
        assert_eq!(cost("gemini-1.5-flash", 1000, 1000, 500), "0.000346875");
        assert_eq!(cost("gemini-2.0-flash-exp", 1_000_000, 1_000_000, 0), "0");
        assert_eq!(cost("gpt-4o", 0, 1, 0), "0.00001");
        assert_eq!(cost("text-embedding-3-small", 1000, 0, 0), "0.00002");
        assert_eq!(cost("gpt-4-turbo", 2_000_000_000, 0, 0), "20000");
    }

    #[test]
    fn one_cheap_token_is_not_rounded_away() {
        assert_eq!(cost("gpt-4o", 1, 0, 0), "0.0000025");
        assert_eq!(cost("gpt-4o", 3125, 0, 0), "0.0078125");
        assert_eq!(cost("gpt-4o-mini", 1, 0, 0), "0.00000015");
        assert_eq!(cost("gemini-1.5-flash-8b", 0, 0, 1), "0.000000009375");
    }

    #[test]
    fn cached_tokens_are_charged_at_the_cached_price_never_free_never_twice() {
        // gpt-4o: 800 regular × 2.50 + 200 cached × 1.25 + 500 × 10.00 (the original said 0.007).
        assert_eq!(cost("gpt-4o", 1000, 500, 200), "0.00725");
        // gpt-4-turbo has no cache discount: cached tokens cost the full input price.
        assert_eq!(cost("gpt-4-turbo", 1000, 0, 200), cost("gpt-4-turbo", 1000, 0, 0));
    }

    #[test]
    fn model_names_match_case_insensitively_and_unknown_ones_are_marked() {
        assert_eq!(cost("GPT-4O", 1000, 500, 0), "0.0075");
        let table = PriceTable::original();
        let usage = Usage { input_tokens: 1, ..Usage::default() };
        assert_eq!(table.cost("GPT-4O", usage).priced_as.as_deref(), Some("gpt-4o"));
        assert_eq!(table.cost("mystery", usage).priced_as, None);
        assert_eq!(table.prices().len(), 15);
    }

    #[test]
    fn the_breakdown_adds_up() {
        let usage = Usage { input_tokens: 1000, output_tokens: 500, cached_tokens: 200 };
        let c = PriceTable::original().cost("claude-3-5-sonnet-20241022", usage);
        assert_eq!(c.input.amount(), Decimal::from_str("0.0024").expect("d"));
        assert_eq!(c.cached_input.amount(), Decimal::from_str("0.00006").expect("d"));
        assert_eq!(c.output.amount(), Decimal::from_str("0.0075").expect("d"));
    }

    fn usage() -> impl Strategy<Value = Usage> {
        (0..=i32::MAX as u32, 0..=i32::MAX as u32, 0..=i32::MAX as u32).prop_map(|(i, o, c)| Usage {
            input_tokens: i,
            output_tokens: o,
            cached_tokens: c,
        })
    }

    proptest! {
        #[test]
        fn cost_is_never_negative_and_is_the_sum_of_its_parts(u in usage(), m in 0usize..16) {
            let table = PriceTable::original();
            let model = ORIGINAL_MODELS.get(m).map_or("unknown-model", |r| r.0);
            let c = table.cost(model, u);
            prop_assert!(c.total >= Usd::ZERO);
            prop_assert_eq!(c.total, c.input + c.cached_input + c.output);
        }

        #[test]
        fn cost_is_monotone_in_output_and_input_tokens(u in usage(), extra in 0u32..1_000_000) {
            let table = PriceTable::original();
            let base = table.cost("gpt-4o", u).total;
            let more_out = Usage { output_tokens: u.output_tokens.saturating_add(extra), ..u };
            let more_in = Usage { input_tokens: u.input_tokens.saturating_add(extra), ..u };
            prop_assert!(table.cost("gpt-4o", more_out).total >= base);
            prop_assert!(table.cost("gpt-4o", more_in).total >= base);
        }
    }
}
