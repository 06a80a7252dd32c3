//! Cost anomalies: hourly cost per feature and per model against a seasonal baseline (the
//! [`SeriesForecaster`] port's decomposition), with the money each anomaly added and what drove
//! it. Opening an anomaly raises an alert (once per dimension, value and start hour).

mod detect;

use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

pub use detect::{DetectorSettings, flag, windows};

use crate::alerts::{AlertKind, NewAlert};
use crate::analytics::{Filter, Granularity, GroupBy};
use crate::money::Usd;
use crate::ports::{AlertRepository, AnalyticsRepository, RepoError, SeriesForecaster};
use crate::project::ProjectId;
use crate::window::TimeWindow;

/// Days of history before the window that the baseline is learnt from.
pub const HISTORY_DAYS: i64 = 14;
/// Longest window one request may scan.
pub const MAX_WINDOW_DAYS: i64 = 31;
/// Features and models (the costliest of the window) scanned per request.
pub const MAX_SERIES: usize = 10;
/// Fewest hours of series needed for a daily baseline.
pub const MIN_HOURS: usize = 3 * 24;

/// Why an anomaly scan failed.
#[derive(Debug, thiserror::Error)]
pub enum AnomalyError {
    /// The window is longer than [`MAX_WINDOW_DAYS`].
    #[error("the window must be at most {MAX_WINDOW_DAYS} days")]
    WindowTooLong,
    /// A store failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// The largest contributor of a dimension within an anomaly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contributor {
    /// Its value (a model, feature or user id).
    pub name: String,
    /// Its cost within the anomaly.
    pub cost: Usd,
}

/// What drove an anomaly.
#[derive(Debug, Clone, PartialEq)]
pub struct Drivers {
    /// Top model (for a feature anomaly) or feature (for a model anomaly).
    pub top_other: Option<Contributor>,
    /// Top end user.
    pub top_user: Option<Contributor>,
    /// Share of failed calls within the anomaly…
    pub error_rate: f64,
    /// …and in the history before it.
    pub baseline_error_rate: f64,
    /// Share of retried calls within the anomaly…
    pub retry_rate: f64,
    /// …and in the history before it.
    pub baseline_retry_rate: f64,
}

/// One anomaly: hours of one feature's or model's cost far above its seasonal baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    /// `feature` or `model`.
    pub dimension: GroupBy,
    /// The feature or model.
    pub value: String,
    /// First anomalous hour.
    pub start: DateTime<Utc>,
    /// End of the last anomalous hour.
    pub end: DateTime<Utc>,
    /// Cost in the anomaly (exact).
    pub actual: Usd,
    /// What the baseline expected (model output, rounded to 6 places).
    pub expected: Usd,
    /// `actual − expected`: the money the anomaly added.
    pub added: Usd,
    /// What drove it.
    pub drivers: Drivers,
}

/// Scans for anomalies and raises their alerts.
pub struct AnomalyService {
    analytics: Arc<dyn AnalyticsRepository>,
    forecaster: Arc<dyn SeriesForecaster>,
    alerts: Arc<dyn AlertRepository>,
    settings: DetectorSettings,
}

fn hour_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    t - Duration::nanoseconds(
        t.timestamp().rem_euclid(3600) * 1_000_000_000 + i64::from(t.timestamp_subsec_nanos()),
    )
}

fn rate(part: u64, calls: u64) -> f64 {
    if calls == 0 { 0.0 } else { part as f64 / calls as f64 }
}

impl AnomalyService {
    /// A service over its ports.
    pub fn new(
        analytics: Arc<dyn AnalyticsRepository>,
        forecaster: Arc<dyn SeriesForecaster>,
        alerts: Arc<dyn AlertRepository>,
    ) -> Self {
        Self { analytics, forecaster, alerts, settings: DetectorSettings::default() }
    }

    /// Anomalies of the costliest features and models whose hours intersect `window`, most
    /// money added first; each newly seen one raises an `anomaly.opened` alert.
    ///
    /// # Errors
    /// [`AnomalyError::WindowTooLong`]; [`AnomalyError::Repo`].
    pub async fn scan(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        now: DateTime<Utc>,
    ) -> Result<Vec<Anomaly>, AnomalyError> {
        if window.to - window.from > Duration::days(MAX_WINDOW_DAYS) {
            return Err(AnomalyError::WindowTooLong);
        }
        let mut found = Vec::new();
        for dimension in [GroupBy::Feature, GroupBy::Model] {
            let top = self
                .analytics
                .breakdown(project, window, dimension, &Filter::default(), MAX_SERIES)
                .await?;
            for row in top {
                let filter = filter_for(dimension, &row.dimension);
                for a in
                    self.scan_series(project, window, dimension, &row.dimension, &filter).await?
                {
                    found.push(a);
                }
            }
        }
        found.sort_by(|a, b| b.added.cmp(&a.added).then(a.start.cmp(&b.start)));
        for a in &found {
            self.alerts.raise(project, &opened_alert(a, now)).await?;
        }
        Ok(found)
    }

    async fn scan_series(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        dimension: GroupBy,
        value: &str,
        filter: &Filter,
    ) -> Result<Vec<Anomaly>, RepoError> {
        let from = hour_floor(window.from) - Duration::days(HISTORY_DAYS);
        let to = hour_floor(window.to) + Duration::hours(1);
        let series_window = TimeWindow { from, to: to - Duration::microseconds(1) };
        let points = self
            .analytics
            .timeseries(project, &series_window, Granularity::Hour, chrono_tz::Tz::UTC, filter)
            .await?;
        let hours = usize::try_from((to - from).num_hours()).unwrap_or(0);
        let mut exact = vec![Usd::ZERO; hours];
        for p in points {
            if let Some(slot) =
                usize::try_from((p.bucket - from).num_hours()).ok().and_then(|i| exact.get_mut(i))
            {
                *slot = *slot + p.cost;
            }
        }
        // The series starts at its first hour with spend: no baseline from empty weeks.
        let Some(first) = exact.iter().position(|c| *c > Usd::ZERO) else { return Ok(Vec::new()) };
        let exact = &exact[first..];
        let start_of = |i: usize| from + Duration::hours(i64::try_from(first + i).unwrap_or(0));
        if exact.len() < MIN_HOURS {
            return Ok(Vec::new());
        }
        let periods: &[usize] = if exact.len() >= 2 * 168 { &[24, 168] } else { &[24] };
        // Statistics over money: f64 for the model, exact sums for what is reported.
        let series: Vec<f64> = exact.iter().map(|c| c.to_f64()).collect();
        let Ok(baseline) = self.forecaster.baseline(&series, periods) else {
            return Ok(Vec::new());
        };
        let flags = flag(&series, &baseline, self.settings);
        let mut out = Vec::new();
        for (s, e) in windows(&flags) {
            let (start, end) = (start_of(s), start_of(e));
            if end <= window.from || start > window.to {
                continue;
            }
            let actual: Usd = exact[s..e].iter().copied().sum();
            let expected: Decimal = baseline[s..e]
                .iter()
                .filter_map(|b| Decimal::try_from(b.max(0.0)).ok())
                .sum::<Decimal>()
                .round_dp(6);
            let added = Usd::new((actual.amount() - expected).max(Decimal::ZERO));
            let drivers = self.drivers(project, dimension, filter, from, start, end).await?;
            out.push(Anomaly {
                dimension,
                value: value.to_owned(),
                start,
                end,
                actual,
                expected: Usd::new(expected),
                added,
                drivers,
            });
        }
        Ok(out)
    }

    async fn drivers(
        &self,
        project: &ProjectId,
        dimension: GroupBy,
        filter: &Filter,
        history_from: DateTime<Utc>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Drivers, RepoError> {
        let inside = TimeWindow { from: start, to: end - Duration::microseconds(1) };
        let before = TimeWindow { from: history_from, to: start - Duration::microseconds(1) };
        let other = if dimension == GroupBy::Feature { GroupBy::Model } else { GroupBy::Feature };
        let top = |rows: Vec<crate::analytics::BreakdownRow>| {
            rows.into_iter().next().map(|r| Contributor { name: r.dimension, cost: r.cost })
        };
        let top_other = top(self.analytics.breakdown(project, &inside, other, filter, 1).await?);
        let top_user =
            top(self.analytics.breakdown(project, &inside, GroupBy::User, filter, 1).await?);
        let now = self.analytics.window_stats(project, &inside, filter).await?;
        let then = self.analytics.window_stats(project, &before, filter).await?;
        Ok(Drivers {
            top_other,
            top_user,
            error_rate: rate(now.errors, now.calls),
            baseline_error_rate: rate(then.errors, then.calls),
            retry_rate: rate(now.retried_calls, now.calls),
            baseline_retry_rate: rate(then.retried_calls, then.calls),
        })
    }
}

/// Judges the last hour of `series` online, from the hours before it only: its excess over the
/// model's one-step forecast against the usual excess of those hours over their baseline
/// (median + k × MAD, as [`flag`]). What a streaming alert sees; it avoids the end-of-series
/// bias of judging the last point of an in-sample decomposition.
///
/// # Errors
/// The forecaster's message when it cannot fit the history.
pub fn latest_is_anomalous(
    forecaster: &dyn SeriesForecaster,
    series: &[f64],
    periods: &[usize],
    settings: DetectorSettings,
) -> Result<bool, String> {
    let Some((last, history)) = series.split_last() else { return Ok(false) };
    let baseline = forecaster.baseline(history, periods)?;
    let next = forecaster.forecast(history, periods, 1, 0.9)?.point.first().copied().unwrap_or(0.0);
    let mut actual = history.to_vec();
    actual.push(*last);
    let mut expected = baseline;
    expected.push(next);
    Ok(flag(&actual, &expected, settings).last().copied().unwrap_or(false))
}

fn filter_for(dimension: GroupBy, value: &str) -> Filter {
    let mut f = Filter::default();
    match dimension {
        GroupBy::Model => f.model = Some(value.to_owned()),
        _ => f.feature = Some(value.to_owned()),
    }
    f
}

/// The wire name of a scanned dimension.
pub fn dimension_name(d: GroupBy) -> &'static str {
    if d == GroupBy::Model { "model" } else { "feature" }
}

fn opened_alert(a: &Anomaly, now: DateTime<Utc>) -> NewAlert {
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    NewAlert {
        id: Uuid::now_v7(),
        kind: AlertKind::AnomalyOpened,
        dedupe_key: format!(
            "anomaly:{}:{}:{}",
            dimension_name(a.dimension),
            a.value,
            a.start.timestamp()
        ),
        budget_id: None,
        period_start: None,
        threshold_pct: None,
        payload: json!({
            "dimension": dimension_name(a.dimension),
            "value": a.value,
            "start": ts(a.start),
            "end": ts(a.end),
            "actualUsd": a.actual.to_string(),
            "expectedUsd": a.expected.to_string(),
            "addedUsd": a.added.to_string(),
        }),
        created_at: now,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ports::{MockSeriesForecaster, SeriesForecast};

    fn model() -> MockSeriesForecaster {
        let mut m = MockSeriesForecaster::new();
        // History alternates 0.9 / 1.1 around a flat baseline of 1.0.
        m.expect_baseline().returning(|h, _| Ok(vec![1.0; h.len()]));
        m.expect_forecast().returning(|_, _, _, _| {
            Ok(SeriesForecast { point: vec![1.0], lower: vec![0.8], upper: vec![1.2] })
        });
        m
    }

    #[test]
    fn the_latest_hour_is_judged_against_the_forecast_from_the_hours_before_it() {
        let mut series: Vec<f64> = (0..100).map(|i| if i % 2 == 0 { 0.9 } else { 1.1 }).collect();
        series.push(3.0);
        let m = model();
        assert_eq!(latest_is_anomalous(&m, &series, &[24], DetectorSettings::default()), Ok(true));
        *series.last_mut().unwrap() = 1.1;
        assert_eq!(latest_is_anomalous(&m, &series, &[24], DetectorSettings::default()), Ok(false));
        assert_eq!(latest_is_anomalous(&m, &[], &[24], DetectorSettings::default()), Ok(false));
    }

    #[test]
    fn a_model_failure_is_reported_not_guessed() {
        let mut m = MockSeriesForecaster::new();
        m.expect_baseline().returning(|_, _| Err("no fit".into()));
        assert!(latest_is_anomalous(&m, &[1.0, 2.0], &[24], DetectorSettings::default()).is_err());
    }
}
