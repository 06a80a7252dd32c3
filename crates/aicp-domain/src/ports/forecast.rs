//! Statistical forecasting of a regularly spaced series (hourly spend), implemented by a numeric
//! adapter crate so that the domain carries no numeric library.

/// A forecast of the next values of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesForecast {
    /// Expected values, one per step.
    pub point: Vec<f64>,
    /// Lower bound of each step's prediction interval.
    pub lower: Vec<f64>,
    /// Upper bound of each step's prediction interval.
    pub upper: Vec<f64>,
}

/// Forecasts a series. Values are `f64` because this is statistics over money: callers convert
/// exact amounts at the boundary and convert the answer back (see `budgets/forecast.rs`).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SeriesForecaster: Send + Sync {
    /// Forecasts `horizon` steps after `history` (oldest first), with seasonal cycles of
    /// `periods` steps (e.g. 24 and 168 for hourly data) and prediction intervals at `level`
    /// (e.g. 0.9).
    ///
    /// # Errors
    /// A message when no model can be fitted (too little or degenerate history).
    fn forecast(
        &self,
        history: &[f64],
        periods: &[usize],
        horizon: usize,
        level: f64,
    ) -> Result<SeriesForecast, String>;

    /// The expected value of every step of `history` (its seasonal cycles of `periods` steps
    /// plus its trend, without the irregular remainder): what each step "should" have been.
    ///
    /// # Errors
    /// A message when no decomposition can be fitted.
    fn baseline(&self, history: &[f64], periods: &[usize]) -> Result<Vec<f64>, String>;
}
