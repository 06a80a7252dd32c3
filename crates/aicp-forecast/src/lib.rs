//! Forecasting adapter of AI Cost Profiler: [`MstlForecaster`], the domain's
//! [`SeriesForecaster`] port on augurs (MSTL decomposition into daily/weekly seasonal parts and
//! a trend, the trend forecast by automatic ETS). Pure CPU; a crate of its own so that the
//! domain stays free of numeric libraries and only the composition root pulls augurs in.

use aicp_domain::ports::{SeriesForecast, SeriesForecaster};
use augurs::ets::AutoETS;
use augurs::mstl::MSTLModel;
use augurs::{Fit, Predict};

/// MSTL + AutoETS trend, through augurs.
#[derive(Debug, Default, Clone, Copy)]
pub struct MstlForecaster;

impl SeriesForecaster for MstlForecaster {
    fn forecast(
        &self,
        history: &[f64],
        periods: &[usize],
        horizon: usize,
        level: f64,
    ) -> Result<SeriesForecast, String> {
        if history.iter().any(|v| !v.is_finite()) {
            return Err("history has a non-finite value".into());
        }
        let model = MSTLModel::new(periods.to_vec(), AutoETS::non_seasonal().into_trend_model());
        // augurs' errors are not Send: keep only their text.
        let fitted = model.fit(history).map_err(|e| format!("MSTL fit failed: {e}"))?;
        let fc =
            fitted.predict(horizon, level).map_err(|e| format!("MSTL forecast failed: {e}"))?;
        let (lower, upper) = match fc.intervals {
            Some(i) => (i.lower, i.upper),
            None => (fc.point.clone(), fc.point.clone()),
        };
        if fc.point.iter().chain(&lower).chain(&upper).any(|v| !v.is_finite()) {
            return Err("the model produced a non-finite forecast".into());
        }
        Ok(SeriesForecast { point: fc.point, lower, upper })
    }

    fn baseline(&self, history: &[f64], periods: &[usize]) -> Result<Vec<f64>, String> {
        use augurs::mstl::stlrs;
        if history.iter().any(|v| !v.is_finite()) {
            return Err("history has a non-finite value".into());
        }
        // Robust STL: a spike gets a low weight instead of bending the seasonal curve toward it,
        // so it stays in the remainder where it can be seen.
        let mut stl = stlrs::params();
        stl.robust(true);
        let mut params = stlrs::MstlParams::new();
        params.stl_params(stl);
        let fit = params.fit(history, periods).map_err(|e| format!("MSTL failed: {e}"))?;
        let mut base = fit.trend().to_vec();
        for seasonal in fit.seasonal() {
            for (b, s) in base.iter_mut().zip(seasonal) {
                *b += s;
            }
        }
        Ok(base)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Hourly spend with a daily cycle (busy 9–17) and a quiet weekend, no noise.
    fn series(days: usize) -> Vec<f64> {
        (0..days * 24)
            .map(|h| {
                let (day, hour) = (h / 24, h % 24);
                let weekday = if day % 7 >= 5 { 0.3 } else { 1.0 };
                let business = if (9..17).contains(&hour) { 10.0 } else { 2.0 };
                business * weekday
            })
            .collect()
    }

    #[test]
    fn a_daily_and_weekly_pattern_is_carried_forward() {
        let history = series(21);
        let fc = MstlForecaster.forecast(&history, &[24, 168], 24, 0.9).unwrap();
        assert_eq!(fc.point.len(), 24);
        // Day 22 is a weekday (day index 21 → 21 % 7 = 0): business hours cost more than night.
        assert!(fc.point[12] > fc.point[3] + 4.0, "{:?}", fc.point);
        for i in 0..24 {
            assert!(fc.lower[i] <= fc.point[i] && fc.point[i] <= fc.upper[i]);
        }
    }

    #[test]
    fn the_baseline_follows_the_cycle_and_leaves_a_spike_out() {
        let mut history = series(21);
        let spike = 20 * 24 + 3; // 03:00 on a weekday night: normally 2.0
        history[spike] = 30.0;
        let base = MstlForecaster.baseline(&history, &[24, 168]).unwrap();
        assert_eq!(base.len(), history.len());
        assert!(base[spike] < 10.0, "the spike is not in the baseline: {}", base[spike]);
        assert!((base[spike - 24] - history[spike - 24]).abs() < 1.0);
        assert!(base[spike + 9] > base[spike]);
    }

    #[test]
    fn non_finite_history_is_refused() {
        assert!(MstlForecaster.forecast(&[1.0, f64::NAN], &[24], 3, 0.9).is_err());
    }
}
