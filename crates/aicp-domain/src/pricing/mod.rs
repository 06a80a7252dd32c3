//! Prices and the cost formula.
//!
//! - [`catalogue`]: the model price catalogue (our TOML format, compiled in) and its checks.
//! - [`matching`]: from a reported model name to the keys a price is filed under.
//! - [`formula`]: the one cost formula over every usage kind and long-context tiers.
//! - [`book`]: [`PriceBook`], catalogue + custom prices + history + fallback, in memory.

pub mod book;
pub mod catalogue;
pub mod custom;
pub mod formula;
pub mod matching;
pub mod reprice;
pub mod rows;
pub mod service;

pub use book::{
    CustomPrice, ModelPricing, PriceBook, PriceSource, Priced, SharedPriceBook, original_fallback,
};
pub use catalogue::{Catalogue, CatalogueError, CatalogueModel, PricePeriod};
pub use formula::{Cost, Rates, Tier, Usage};
pub use reprice::{RepriceReport, RepriceRequest, RepriceService};
pub use rows::{PriceRow, UsageKind, book_from_rows, catalogue_rows, custom_rows};
pub use service::{PricingError, PricingService};

#[cfg(test)]
mod tests;

/// A book over `testdata/catalogue.toml`, for tests of this crate.
#[cfg(test)]
pub(crate) fn test_book() -> PriceBook {
    let catalogue = Catalogue::parse(include_str!("testdata/catalogue.toml"))
        .unwrap_or_else(|e| panic!("test catalogue: {e}"));
    PriceBook::new(&catalogue, &[], original_fallback())
}
