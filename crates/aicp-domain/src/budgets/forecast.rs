//! Where a budget's spend is heading: expected spend at the end of the period and when the
//! budget runs out. With enough hourly history of the budget's scope, a seasonal model (daily and
//! weekly cycles, through the [`SeriesForecaster`] port) forecasts the rest of the period with an
//! interval; otherwise a linear projection (exact decimal arithmetic over the period so far),
//! labelled as such on the wire so that nobody mistakes it for a seasonal model.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::PeriodBounds;
use crate::money::Usd;
use crate::ports::SeriesForecaster;

/// Hours of history the seasonal model needs to see a weekly cycle twice.
pub const WEEKLY_HISTORY_HOURS: usize = 2 * 168;
/// Hours of history the seasonal model needs to see a daily cycle (fewer: linear projection).
pub const DAILY_HISTORY_HOURS: usize = 3 * 24;
/// Level of the prediction interval.
pub const INTERVAL_LEVEL: f64 = 0.9;

/// How a forecast was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForecastMethod {
    /// Spend so far divided by time so far, extended to the end of the period. No interval.
    Linear,
    /// MSTL decomposition (daily and, with two weeks of history, weekly cycles) with an ETS
    /// trend, over the scope's hourly spend; 90 % interval.
    Seasonal,
}

impl ForecastMethod {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ForecastMethod::Linear => "linear",
            ForecastMethod::Seasonal => "seasonal",
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

impl Forecast {
    /// Whether the period is expected to end above `amount`.
    pub fn exceeds(&self, amount: Usd) -> bool {
        self.expected_end > amount
    }
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

/// An amount from a model's `f64` (never negative: spend does not shrink), rounded to 6 places;
/// `None` for a non-finite value.
fn usd_of(value: f64) -> Option<Decimal> {
    Decimal::try_from(value.max(0.0)).ok().map(|d| d.round_dp(6))
}

/// Forecasts the rest of `period` from the scope's hourly spend `history` (oldest first, ending
/// with the hour before the one containing `now`), with `spend` spent so far. `None` when the
/// history is too short or the model fails: the caller then falls back to [`linear_forecast`].
///
/// Per-hour interval bounds are summed, which treats the hours' errors as fully correlated: a
/// deliberately wide (conservative) interval for the period's total.
pub fn seasonal_forecast(
    forecaster: &dyn SeriesForecaster,
    period: PeriodBounds,
    now: DateTime<Utc>,
    spend: Usd,
    amount: Usd,
    history: &[Usd],
) -> Option<Forecast> {
    let periods: &[usize] = if history.len() >= WEEKLY_HISTORY_HOURS {
        &[24, 168]
    } else if history.len() >= DAILY_HISTORY_HOURS {
        &[24]
    } else {
        return None;
    };
    if now >= period.end {
        return None;
    }
    // The hour containing `now` and every hour up to the period's end.
    let hour_start = now - Duration::seconds(now.timestamp().rem_euclid(3600));
    let horizon = usize::try_from((period.end - hour_start).num_hours()).ok()? + 1;
    // Statistics over money: the model works in f64; its answers are converted back below.
    let series: Vec<f64> = history.iter().map(|u| u.to_f64()).collect();
    let fc = forecaster.forecast(&series, periods, horizon, INTERVAL_LEVEL).ok()?;
    if fc.point.len() < horizon || fc.lower.len() < horizon || fc.upper.len() < horizon {
        return None;
    }
    // Only the part of each hour still ahead counts (the current hour is partly spent, the
    // period may end inside the last one).
    let mut totals = [spend.amount(); 3];
    let mut run_out_at = None;
    for step in 0..horizon {
        let start = hour_start + Duration::hours(i64::try_from(step).ok()?);
        let from = start.max(now);
        let to = (start + Duration::hours(1)).min(period.end);
        if to <= from {
            continue;
        }
        let share = Decimal::from((to - from).num_seconds()) / Decimal::from(3600);
        let before = totals[0];
        for (total, value) in
            totals.iter_mut().zip([fc.point[step], fc.lower[step], fc.upper[step]])
        {
            *total += usd_of(value)? * share;
        }
        if run_out_at.is_none() && before < amount.amount() && totals[0] >= amount.amount() {
            // Within the hour, linearly.
            let part = (amount.amount() - before) / (totals[0] - before);
            let secs = (part * Decimal::from((to - from).num_seconds())).to_i64()?;
            run_out_at = Some(from + Duration::seconds(secs));
        }
    }
    let [expected, low, high] = totals.map(Usd::new);
    Some(Forecast {
        method: ForecastMethod::Seasonal,
        expected_end: expected,
        interval: Some((low.min(expected), high.max(expected))),
        run_out_at,
    })
}
