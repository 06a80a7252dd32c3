//! Prices as flat rows (one per model, usage kind, tier and period), the shape the
//! `model_prices` table stores, and back into a [`PriceBook`].

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::pricing::book::{CustomPrice, PriceBook};
use crate::pricing::catalogue::{Catalogue, CatalogueModel, PricePeriod};
use crate::pricing::formula::{Rates, Tier};
use crate::project::ProjectId;
use crate::provider::Provider;

/// A usage kind with its own price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UsageKind {
    /// Uncached prompt tokens.
    Input,
    /// Completion tokens.
    Output,
    /// Cache reads.
    CacheRead,
    /// Cache writes, 5-minute TTL.
    CacheWrite5m,
    /// Cache writes, 1-hour TTL.
    CacheWrite1h,
    /// Reasoning tokens.
    Reasoning,
}

impl UsageKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            UsageKind::Input => "input",
            UsageKind::Output => "output",
            UsageKind::CacheRead => "cache_read",
            UsageKind::CacheWrite5m => "cache_write_5m",
            UsageKind::CacheWrite1h => "cache_write_1h",
            UsageKind::Reasoning => "reasoning",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            UsageKind::Input,
            UsageKind::Output,
            UsageKind::CacheRead,
            UsageKind::CacheWrite5m,
            UsageKind::CacheWrite1h,
            UsageKind::Reasoning,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// One stored price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceRow {
    /// `None` for the global catalogue; the owner of a custom price otherwise.
    pub project: Option<ProjectId>,
    /// Provider, when known.
    pub provider: Option<Provider>,
    /// Canonical id (catalogue) or reported name (custom), lowercase.
    pub model: String,
    /// Other names (catalogue only).
    pub aliases: Vec<String>,
    /// What the price is for.
    pub kind: UsageKind,
    /// 0 for the base rate, else the long-context tier threshold.
    pub above_input_tokens: u64,
    /// USD per 1M tokens.
    pub usd_per_1m: Decimal,
    /// First day the price applies.
    pub effective_from: NaiveDate,
}

fn rate_rows(r: &Rates) -> Vec<(UsageKind, Decimal)> {
    let mut out = vec![(UsageKind::Input, r.input), (UsageKind::Output, r.output)];
    let optional = [
        (UsageKind::CacheRead, r.cache_read),
        (UsageKind::CacheWrite5m, r.cache_write_5m),
        (UsageKind::CacheWrite1h, r.cache_write_1h),
        (UsageKind::Reasoning, r.reasoning),
    ];
    out.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    out
}

fn period_rows(
    project: Option<&ProjectId>,
    provider: Option<Provider>,
    model: &str,
    aliases: &[String],
    period: &PricePeriod,
) -> Vec<PriceRow> {
    let tiers = std::iter::once((0, &period.rates))
        .chain(period.tiers.iter().map(|t| (t.above_input_tokens, &t.rates)));
    tiers
        .flat_map(|(above, rates)| {
            rate_rows(rates).into_iter().map(move |(kind, usd_per_1m)| PriceRow {
                project: project.cloned(),
                provider,
                model: model.to_owned(),
                aliases: aliases.to_vec(),
                kind,
                above_input_tokens: above,
                usd_per_1m,
                effective_from: period.from,
            })
        })
        .collect()
}

/// The catalogue as global rows.
pub fn catalogue_rows(catalogue: &Catalogue) -> Vec<PriceRow> {
    catalogue
        .models
        .iter()
        .flat_map(|m| {
            m.periods
                .iter()
                .flat_map(move |p| period_rows(None, Some(m.provider), &m.id, &m.aliases, p))
        })
        .collect()
}

/// A custom price as rows of its project.
pub fn custom_rows(price: &CustomPrice, provider: Option<Provider>) -> Vec<PriceRow> {
    period_rows(Some(&price.project), provider, &price.model, &[], &price.period)
}

/// Why stored rows do not form a valid book.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored prices are inconsistent: {0}")]
pub struct RowsError(pub String);

/// Rebuilds a book from stored rows (global and custom) with `fallback` for unknown models.
///
/// # Errors
/// [`RowsError`] when a period or tier lacks its input or output price.
pub fn book_from_rows(
    version: &str,
    rows: &[PriceRow],
    fallback: Rates,
) -> Result<PriceBook, RowsError> {
    type Key = (Option<ProjectId>, String);
    /// Tier threshold → usage kind → price.
    type Tiers = BTreeMap<u64, BTreeMap<UsageKind, Decimal>>;
    // model → period → tiers
    let mut grouped: BTreeMap<Key, BTreeMap<NaiveDate, Tiers>> = BTreeMap::new();
    let mut meta: BTreeMap<Key, (Option<Provider>, Vec<String>)> = BTreeMap::new();
    for r in rows {
        let key = (r.project.clone(), r.model.clone());
        grouped
            .entry(key.clone())
            .or_default()
            .entry(r.effective_from)
            .or_default()
            .entry(r.above_input_tokens)
            .or_default()
            .insert(r.kind, r.usd_per_1m);
        let entry = meta.entry(key).or_insert((r.provider, Vec::new()));
        for a in &r.aliases {
            if !entry.1.contains(a) {
                entry.1.push(a.clone());
            }
        }
    }
    let mut models = Vec::new();
    let mut custom = Vec::new();
    for ((project, model), periods) in grouped {
        let (provider, aliases) =
            meta.remove(&(project.clone(), model.clone())).unwrap_or_default();
        let mut built = Vec::new();
        for (from, tiers) in periods {
            let mut rates_by_tier = Vec::new();
            for (above, kinds) in tiers {
                let get = |k| kinds.get(&k).copied();
                let (Some(input), Some(output)) = (get(UsageKind::Input), get(UsageKind::Output))
                else {
                    return Err(RowsError(format!(
                        "{model} from {from} (tier {above}) lacks its input or output price"
                    )));
                };
                let rates = Rates {
                    input,
                    output,
                    cache_read: get(UsageKind::CacheRead),
                    cache_write_5m: get(UsageKind::CacheWrite5m),
                    cache_write_1h: get(UsageKind::CacheWrite1h),
                    reasoning: get(UsageKind::Reasoning),
                };
                rates_by_tier.push((above, rates));
            }
            let mut tiers = rates_by_tier.into_iter();
            let Some((0, rates)) = tiers.next() else {
                return Err(RowsError(format!("{model} from {from} has tiers but no base rate")));
            };
            let tiers = tiers.map(|(above_input_tokens, rates)| Tier { above_input_tokens, rates });
            built.push(PricePeriod { from, rates, tiers: tiers.collect() });
        }
        match (project, provider) {
            (None, Some(provider)) => {
                models.push(CatalogueModel { provider, id: model, aliases, periods: built });
            }
            (None, None) => {
                return Err(RowsError(format!("catalogue model {model} has no provider")));
            }
            (Some(project), _) => custom.extend(built.into_iter().map(|period| CustomPrice {
                project: project.clone(),
                model: model.clone(),
                period,
            })),
        }
    }
    let catalogue = Catalogue { version: version.to_owned(), models };
    Ok(PriceBook::new(&catalogue, &custom, fallback))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::pricing::formula::Usage;
    use crate::pricing::{original_fallback, test_book};

    #[test]
    fn a_book_survives_the_round_trip_through_rows() {
        let catalogue = Catalogue::parse(include_str!("testdata/catalogue.toml")).unwrap();
        let custom = CustomPrice {
            project: ProjectId::new("acme"),
            model: "my-finetune".to_owned(),
            period: PricePeriod {
                from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                rates: Rates::new(Decimal::from(1), Decimal::from(2)),
                tiers: vec![],
            },
        };
        let mut rows = catalogue_rows(&catalogue);
        rows.extend(custom_rows(&custom, None));
        let rebuilt = book_from_rows("test", &rows, original_fallback()).unwrap();
        let original = test_book();
        let at = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
        let usage = Usage {
            input_tokens: 300_000,
            output_tokens: 5000,
            cache_read_tokens: 1000,
            cache_write_tokens: 2000,
            cache_write_1h_tokens: 500,
            reasoning_tokens: 100,
        };
        let p = ProjectId::default_project();
        for m in &catalogue.models {
            assert_eq!(rebuilt.price(&p, &m.id, at, usage), original.price(&p, &m.id, at, usage));
        }
        let acme = ProjectId::new("acme");
        let priced = rebuilt.price(&acme, "my-finetune", at, usage);
        assert_eq!(priced.source, crate::pricing::PriceSource::Custom);
    }

    #[test]
    fn rows_without_an_output_price_are_refused() {
        let catalogue = Catalogue::parse(include_str!("testdata/catalogue.toml")).unwrap();
        let rows: Vec<PriceRow> = catalogue_rows(&catalogue)
            .into_iter()
            .filter(|r| r.kind != UsageKind::Output)
            .collect();
        assert!(book_from_rows("test", &rows, original_fallback()).is_err());
    }
}
