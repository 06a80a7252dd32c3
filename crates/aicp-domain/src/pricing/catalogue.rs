//! The model price catalogue: our own TOML format (`pricing/catalogue.toml` at the workspace
//! root, compiled in), parsed and checked here.
//!
//! ```toml
//! version = "2026-11-26"
//! [[models]]
//! provider = "openai"
//! id = "gpt-4o"                      # canonical id, lowercase, no provider prefix
//! aliases = ["gpt-4o-2024-08-06"]    # optional
//! [[models.prices]]
//! from = "2024-10-01"                # effective from (UTC date, inclusive), ascending
//! input = "2.50"                     # USD per 1M tokens, exact decimal strings
//! output = "10.00"
//! cache_read = "1.25"                # optional: cache_read, cache_write_5m, cache_write_1h, reasoning
//! [[models.prices.tiers]]            # optional long-context tiers, ascending thresholds
//! above_input_tokens = 200000
//! input = "5.00"                     # repeats every usage kind of its period
//! output = "20.00"
//! cache_read = "2.50"
//! ```

use std::collections::HashSet;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::pricing::formula::{Rates, Tier};
use crate::provider::Provider;

/// The catalogue compiled into the binary.
pub const BUILTIN_CATALOGUE: &str = include_str!("../../../../pricing/catalogue.toml");

/// Most fractional digits of a price per 1M tokens (so that one token's cost fits 12 places).
pub const MAX_PRICE_DECIMALS: u32 = 6;

/// A parsed, checked catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    /// Version label of the file.
    pub version: String,
    /// Every model.
    pub models: Vec<CatalogueModel>,
}

/// One model of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueModel {
    /// Provider that publishes the price.
    pub provider: Provider,
    /// Canonical id (lowercase).
    pub id: String,
    /// Other exact names of this model (lowercase).
    pub aliases: Vec<String>,
    /// Price periods, ascending by `from`.
    pub periods: Vec<PricePeriod>,
}

/// The prices of a model from a date on.
#[derive(Debug, Clone, PartialEq)]
pub struct PricePeriod {
    /// First day (UTC) these prices apply.
    pub from: NaiveDate,
    /// Base rates.
    pub rates: Rates,
    /// Long-context tiers, ascending.
    pub tiers: Vec<Tier>,
}

/// Why a catalogue is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid price catalogue: {0}")]
pub struct CatalogueError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    version: String,
    models: Vec<RawModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    provider: String,
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "the catalogue's `note` documents a model for people; parsed, never read"
    )]
    note: Option<String>,
    prices: Vec<RawPeriod>,
}

// No `#[serde(flatten)]` for the shared rate fields: it cannot be combined with
// `deny_unknown_fields`, and a misspelt usage kind must be an error, not a free token.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeriod {
    from: String,
    input: String,
    output: String,
    cache_read: Option<String>,
    cache_write_5m: Option<String>,
    cache_write_1h: Option<String>,
    reasoning: Option<String>,
    #[serde(default)]
    tiers: Vec<RawTier>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    above_input_tokens: u64,
    input: String,
    output: String,
    cache_read: Option<String>,
    cache_write_5m: Option<String>,
    cache_write_1h: Option<String>,
    reasoning: Option<String>,
}

/// The rate fields of a period or tier.
struct RawRates<'a> {
    input: &'a str,
    output: &'a str,
    cache_read: Option<&'a String>,
    cache_write_5m: Option<&'a String>,
    cache_write_1h: Option<&'a String>,
    reasoning: Option<&'a String>,
}

impl RawPeriod {
    fn rates(&self) -> RawRates<'_> {
        RawRates {
            input: &self.input,
            output: &self.output,
            cache_read: self.cache_read.as_ref(),
            cache_write_5m: self.cache_write_5m.as_ref(),
            cache_write_1h: self.cache_write_1h.as_ref(),
            reasoning: self.reasoning.as_ref(),
        }
    }
}

impl RawTier {
    fn rates(&self) -> RawRates<'_> {
        RawRates {
            input: &self.input,
            output: &self.output,
            cache_read: self.cache_read.as_ref(),
            cache_write_5m: self.cache_write_5m.as_ref(),
            cache_write_1h: self.cache_write_1h.as_ref(),
            reasoning: self.reasoning.as_ref(),
        }
    }
}

impl Catalogue {
    /// The compiled-in catalogue.
    ///
    /// # Errors
    /// When the compiled-in file is invalid (a test keeps it valid).
    pub fn builtin() -> Result<Self, CatalogueError> {
        Self::parse(BUILTIN_CATALOGUE)
    }

    /// Parses and checks a catalogue text.
    ///
    /// # Errors
    /// [`CatalogueError`] naming the model and field at fault.
    pub fn parse(text: &str) -> Result<Self, CatalogueError> {
        let raw: RawCatalogue = toml::from_str(text).map_err(|e| CatalogueError(e.to_string()))?;
        let mut names = HashSet::new();
        let mut models = Vec::with_capacity(raw.models.len());
        for m in raw.models {
            let ctx = |what: &str| CatalogueError(format!("model {:?}: {what}", m.id));
            let provider = Provider::parse(&m.provider)
                .ok_or_else(|| ctx(&format!("unknown provider {:?}", m.provider)))?;
            let id = m.id.trim().to_ascii_lowercase();
            if id.is_empty() || id != m.id {
                return Err(ctx("id must be non-empty, lowercase and trimmed"));
            }
            for name in std::iter::once(&id).chain(&m.aliases) {
                if name != &name.trim().to_ascii_lowercase() || name.is_empty() {
                    return Err(ctx(&format!("alias {name:?} must be lowercase and trimmed")));
                }
                if !names.insert(name.clone()) {
                    return Err(ctx(&format!("name {name:?} appears twice in the catalogue")));
                }
            }
            if m.prices.is_empty() {
                return Err(ctx("has no price period"));
            }
            let mut periods: Vec<PricePeriod> = Vec::with_capacity(m.prices.len());
            for p in &m.prices {
                let from = NaiveDate::parse_from_str(&p.from, "%Y-%m-%d")
                    .map_err(|_| ctx(&format!("from {:?} is not YYYY-MM-DD", p.from)))?;
                if periods.last().is_some_and(|prev| prev.from >= from) {
                    return Err(ctx("price periods must have strictly increasing `from` dates"));
                }
                let rates = rates(&p.rates()).map_err(|e| ctx(&e))?;
                let mut tiers: Vec<Tier> = Vec::with_capacity(p.tiers.len());
                for t in &p.tiers {
                    let tier_rates = rates_of_tier(&p.rates(), &t.rates()).map_err(|e| ctx(&e))?;
                    if tiers
                        .last()
                        .is_some_and(|prev| prev.above_input_tokens >= t.above_input_tokens)
                    {
                        return Err(ctx("tiers must have strictly increasing thresholds"));
                    }
                    tiers
                        .push(Tier { above_input_tokens: t.above_input_tokens, rates: tier_rates });
                }
                periods.push(PricePeriod { from, rates, tiers });
            }
            models.push(CatalogueModel { provider, id, aliases: m.aliases, periods });
        }
        Ok(Self { version: raw.version, models })
    }
}

fn price(field: &str, text: &str) -> Result<Decimal, String> {
    let value = Decimal::from_str(text.trim())
        .map_err(|_| format!("{field} {text:?} is not a decimal number"))?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(format!("{field} {text:?} is negative"));
    }
    if value.scale() > MAX_PRICE_DECIMALS {
        return Err(format!("{field} {text:?} has more than {MAX_PRICE_DECIMALS} decimals"));
    }
    Ok(value.normalize())
}

fn optional(field: &str, text: Option<&String>) -> Result<Option<Decimal>, String> {
    text.map(|t| price(field, t)).transpose()
}

fn rates(raw: &RawRates<'_>) -> Result<Rates, String> {
    Ok(Rates {
        input: price("input", raw.input)?,
        output: price("output", raw.output)?,
        cache_read: optional("cache_read", raw.cache_read)?,
        cache_write_5m: optional("cache_write_5m", raw.cache_write_5m)?,
        cache_write_1h: optional("cache_write_1h", raw.cache_write_1h)?,
        reasoning: optional("reasoning", raw.reasoning)?,
    })
}

/// A tier must price every usage kind its period prices (a silently inherited base price would
/// undercharge long prompts).
fn rates_of_tier(base: &RawRates<'_>, tier: &RawRates<'_>) -> Result<Rates, String> {
    let kinds = [
        ("cache_read", base.cache_read, tier.cache_read),
        ("cache_write_5m", base.cache_write_5m, tier.cache_write_5m),
        ("cache_write_1h", base.cache_write_1h, tier.cache_write_1h),
        ("reasoning", base.reasoning, tier.reasoning),
    ];
    for (name, in_base, in_tier) in kinds {
        if in_base.is_some() != in_tier.is_some() {
            return Err(format!("tier must give {name} exactly when its period does"));
        }
    }
    rates(tier)
}
