//! Where a budget's spend is heading: expected spend at the end of the period and when the
//! budget runs out at the current pace. The linear projection here is exact decimal arithmetic
//! over the period so far; it is labelled as such on the wire so that nobody mistakes it for a
//! seasonal model.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::PeriodBounds;
use crate::money::Usd;

/// How a forecast was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForecastMethod {
    /// Spend so far divided by time so far, extended to the end of the period. No interval.
    Linear,
}

impl ForecastMethod {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ForecastMethod::Linear => "linear",
        }
    }
}

/// A budget's forecast for its current period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forecast {
    /// How it was made.
    pub method: ForecastMethod,
    /// Expected spend at the end of the period.
    pub expected_end: Usd,
    /// Lower and upper bound of `expected_end` (`None` for methods without an interval).
    pub interval: Option<(Usd, Usd)>,
    /// When the amount is expected to be reached within this period at the current pace;
    /// `None` when it is not expected to be (or was reached already).
    pub run_out_at: Option<DateTime<Utc>>,
}

/// Projects `spend` (spent from the period's start to `now`) linearly to the period's end.
pub fn linear_forecast(
    period: PeriodBounds,
    now: DateTime<Utc>,
    spend: Usd,
    amount: Usd,
) -> Forecast {
    let now = now.clamp(period.start, period.end);
    let elapsed = Decimal::from((now - period.start).num_seconds());
    let total = Decimal::from(period.length().num_seconds());
    let no_pace = Forecast {
        method: ForecastMethod::Linear,
        expected_end: spend,
        interval: None,
        run_out_at: None,
    };
    if elapsed <= Decimal::ZERO || spend.amount() <= Decimal::ZERO {
        return no_pace;
    }
    // spend × total / elapsed, in exact decimal (checked: a huge spend over one second of a
    // month could overflow 96 bits; then the pace says nothing useful anyway).
    let Some(expected) = spend.amount().checked_mul(total).and_then(|p| p.checked_div(elapsed))
    else {
        return no_pace;
    };
    let run_out_at = (spend < amount)
        .then(|| {
            let left = amount.amount() - spend.amount();
            left.checked_mul(elapsed)?.checked_div(spend.amount())?.to_i64()
        })
        .flatten()
        .map(|secs| now + Duration::seconds(secs))
        .filter(|t| *t < period.end);
    Forecast {
        method: ForecastMethod::Linear,
        expected_end: Usd::new(expected),
        interval: None,
        run_out_at,
    }
}
