//! [`PriceBook`]: every price the server knows (catalogue and per-project custom prices, with
//! their history), resolved in memory for ingest, with no database round trip per event.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::pricing::catalogue::{Catalogue, PricePeriod};
use crate::pricing::formula::{self, Cost, Rates, Tier, Usage};
use crate::pricing::matching::candidates;
use crate::project::ProjectId;
use crate::provider::Provider;

/// Where the price of an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceSource {
    /// The built-in catalogue.
    Catalogue,
    /// A price the project set for itself.
    Custom,
    /// The model is unknown: the fallback price applied and the event is marked unpriced.
    Fallback,
}

impl PriceSource {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PriceSource::Catalogue => "catalogue",
            PriceSource::Custom => "custom",
            PriceSource::Fallback => "fallback",
        }
    }
}

/// The priced history of one model, from one source.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelPricing {
    /// Canonical model id.
    pub model: String,
    /// Provider, when known.
    pub provider: Option<Provider>,
    /// Other names of the model.
    pub aliases: Vec<String>,
    /// Catalogue or custom.
    pub source: PriceSource,
    /// Price periods, ascending.
    pub periods: Vec<PeriodView>,
}

/// One price period (serializable view of [`PricePeriod`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeriodView {
    /// First day (UTC) of the period.
    pub effective_from: NaiveDate,
    /// Base rates, USD per 1M tokens.
    pub rates: Rates,
    /// Long-context tiers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<Tier>,
}

impl ModelPricing {
    /// The period in force at `at`: the last one starting on or before that day; an event older
    /// than every period takes the first one.
    pub fn period_at(&self, at: DateTime<Utc>) -> Option<&PeriodView> {
        let day = at.date_naive();
        self.periods.iter().rev().find(|p| p.effective_from <= day).or_else(|| self.periods.first())
    }
}

/// A custom price a project set for a model from a date on.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomPrice {
    /// The project it applies to.
    pub project: ProjectId,
    /// Model name as the project's SDK reports it (matched like catalogue names).
    pub model: String,
    /// Price from this day on.
    pub period: PricePeriod,
}

/// The result of pricing one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Priced {
    /// Cost by usage kind.
    pub cost: Cost,
    /// Model id whose price was used; `None` when unpriced (fallback).
    pub priced_as: Option<String>,
    /// Catalogue, custom or fallback.
    pub source: PriceSource,
    /// First day of the price period used; `None` for the fallback.
    pub effective_from: Option<NaiveDate>,
}

/// Every known price, ready for lookups.
#[derive(Debug, Clone)]
pub struct PriceBook {
    version: String,
    catalogue: HashMap<String, Arc<ModelPricing>>,
    custom: HashMap<(ProjectId, String), Arc<ModelPricing>>,
    fallback: Rates,
}

/// The original's price for unknown models: 10 USD in / 30 USD out per 1M tokens.
pub fn original_fallback() -> Rates {
    Rates::new(Decimal::from(10), Decimal::from(30))
}

fn view(p: &PricePeriod) -> PeriodView {
    PeriodView { effective_from: p.from, rates: p.rates.clone(), tiers: p.tiers.clone() }
}

impl PriceBook {
    /// A book of `catalogue` plus `custom` prices, with `fallback` for unknown models.
    pub fn new(catalogue: &Catalogue, custom: &[CustomPrice], fallback: Rates) -> Self {
        let mut by_name = HashMap::new();
        for m in &catalogue.models {
            let pricing = Arc::new(ModelPricing {
                model: m.id.clone(),
                provider: Some(m.provider),
                aliases: m.aliases.clone(),
                source: PriceSource::Catalogue,
                periods: m.periods.iter().map(view).collect(),
            });
            for name in std::iter::once(&m.id).chain(&m.aliases) {
                by_name.insert(name.clone(), Arc::clone(&pricing));
            }
        }
        let mut grouped: HashMap<(ProjectId, String), Vec<PeriodView>> = HashMap::new();
        for c in custom {
            let key = (c.project.clone(), c.model.trim().to_ascii_lowercase());
            grouped.entry(key).or_default().push(view(&c.period));
        }
        let custom = grouped
            .into_iter()
            .map(|((project, model), mut periods)| {
                periods.sort_by_key(|p| p.effective_from);
                periods.dedup_by_key(|p| p.effective_from);
                let provider = candidates(&model)
                    .iter()
                    .find_map(|c| by_name.get(c))
                    .and_then(|m: &Arc<ModelPricing>| m.provider);
                let pricing = ModelPricing {
                    model: model.clone(),
                    provider,
                    aliases: Vec::new(),
                    source: PriceSource::Custom,
                    periods,
                };
                ((project, model), Arc::new(pricing))
            })
            .collect();
        Self { version: catalogue.version.clone(), catalogue: by_name, custom, fallback }
    }

    /// Version label of the catalogue.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The fallback rates for unknown models.
    pub fn fallback(&self) -> &Rates {
        &self.fallback
    }

    /// The catalogue entry for a reported model name, if any.
    pub fn find_catalogue(&self, model: &str) -> Option<&Arc<ModelPricing>> {
        candidates(model).iter().find_map(|c| self.catalogue.get(c))
    }

    /// The project's custom entry for a reported model name, if any.
    pub fn find_custom(&self, project: &ProjectId, model: &str) -> Option<&Arc<ModelPricing>> {
        if self.custom.is_empty() {
            return None;
        }
        candidates(model).into_iter().find_map(|c| self.custom.get(&(project.clone(), c)))
    }

    /// Prices one call of `model` made at `at` for `project`: the project's custom price in force
    /// at that time, else the catalogue's, else the fallback.
    pub fn price(
        &self,
        project: &ProjectId,
        model: &str,
        at: DateTime<Utc>,
        usage: Usage,
    ) -> Priced {
        let day = at.date_naive();
        let custom = self
            .find_custom(project, model)
            .and_then(|m| m.periods.iter().rev().find(|p| p.effective_from <= day).map(|p| (m, p)));
        let chosen = custom
            .or_else(|| self.find_catalogue(model).and_then(|m| m.period_at(at).map(|p| (m, p))));
        match chosen {
            Some((m, p)) => Priced {
                cost: formula::cost(usage, &p.rates, &p.tiers),
                priced_as: Some(m.model.clone()),
                source: m.source,
                effective_from: Some(p.effective_from),
            },
            None => Priced {
                cost: formula::cost(usage, &self.fallback, &[]),
                priced_as: None,
                source: PriceSource::Fallback,
                effective_from: None,
            },
        }
    }

    /// Every catalogue model, sorted by provider and id.
    pub fn catalogue_models(&self) -> Vec<Arc<ModelPricing>> {
        let mut seen = std::collections::HashSet::new();
        let mut all: Vec<_> =
            self.catalogue.values().filter(|m| seen.insert(m.model.clone())).cloned().collect();
        all.sort_by(|a, b| (a.provider, &a.model).cmp(&(b.provider, &b.model)));
        all
    }

    /// Every custom price of `project`, sorted by model.
    pub fn custom_models(&self, project: &ProjectId) -> Vec<Arc<ModelPricing>> {
        let mut all: Vec<_> =
            self.custom.iter().filter(|((p, _), _)| p == project).map(|(_, m)| m.clone()).collect();
        all.sort_by(|a, b| a.model.cmp(&b.model));
        all
    }
}

/// The price book in force, replaced as a whole when prices change (a custom price is set, the
/// catalogue is reloaded); readers keep the book they took for the whole batch.
#[derive(Debug)]
pub struct SharedPriceBook(std::sync::RwLock<Arc<PriceBook>>);

impl SharedPriceBook {
    /// Starts with `book`.
    pub fn new(book: PriceBook) -> Self {
        Self(std::sync::RwLock::new(Arc::new(book)))
    }

    /// The current book.
    pub fn current(&self) -> Arc<PriceBook> {
        Arc::clone(&self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Installs a new book.
    pub fn replace(&self, book: PriceBook) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(book);
    }
}
