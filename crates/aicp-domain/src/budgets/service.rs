//! [`BudgetService`]: the budget use cases. Spend is read through the analytics port (so it
//! counts exactly what every other read counts, folded into rollups or not); reaching a
//! threshold raises an alert through the alert port, once per budget, period and threshold.

use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Budget, BudgetSpec, Forecast, PeriodBounds, Scope, linear_forecast, seasonal_forecast,
};
use crate::alerts::{AlertKind, NewAlert};
use crate::analytics::{Filter, Granularity};
use crate::clock::Clock;
use crate::money::Usd;
use crate::ports::{
    AlertRepository, AnalyticsRepository, BudgetRepository, RepoError, SeriesForecaster,
};
use crate::project::ProjectId;
use crate::validation::Issue;
use crate::window::TimeWindow;

/// Why a budget use case failed.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// The definition is invalid (nothing was changed).
    #[error("invalid budget")]
    Invalid(Vec<Issue>),
    /// The project has no budget with that id.
    #[error("budget not found")]
    NotFound,
    /// A store failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// A budget in its current period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetStatus {
    /// The budget.
    pub budget: Budget,
    /// The current period.
    pub period: PeriodBounds,
    /// Spend in the period so far.
    pub spend: Usd,
    /// `spend / amount × 100`, two decimals.
    pub percent: Decimal,
    /// Thresholds reached in this period.
    pub reached: Vec<u32>,
    /// Where the spend is heading.
    pub forecast: Forecast,
}

/// Budget CRUD, status and evaluation.
pub struct BudgetService {
    budgets: Arc<dyn BudgetRepository>,
    analytics: Arc<dyn AnalyticsRepository>,
    alerts: Arc<dyn AlertRepository>,
    clock: Arc<dyn Clock>,
    forecaster: Option<Arc<dyn SeriesForecaster>>,
}

/// Hours of a scope's history the seasonal forecast reads (four weeks).
pub const HISTORY_HOURS: i64 = 28 * 24;

impl BudgetService {
    /// A service over its ports.
    pub fn new(
        budgets: Arc<dyn BudgetRepository>,
        analytics: Arc<dyn AnalyticsRepository>,
        alerts: Arc<dyn AlertRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { budgets, analytics, alerts, clock, forecaster: None }
    }

    /// Forecasts with a seasonal model when a scope has enough hourly history (the status read
    /// then reads that history too); without one, or with too little history, forecasts are
    /// linear projections.
    #[must_use]
    pub fn with_forecaster(mut self, forecaster: Arc<dyn SeriesForecaster>) -> Self {
        self.forecaster = Some(forecaster);
        self
    }

    /// Validates and stores a new budget.
    ///
    /// # Errors
    /// [`BudgetError::Invalid`] with every issue; [`BudgetError::Repo`].
    pub async fn create(&self, project: &ProjectId, body: &Value) -> Result<Budget, BudgetError> {
        let spec = BudgetSpec::from_json(body).map_err(BudgetError::Invalid)?;
        Ok(self.budgets.create(project, &spec).await?)
    }

    /// Validates and replaces a budget's definition.
    ///
    /// # Errors
    /// [`BudgetError::Invalid`], [`BudgetError::NotFound`], [`BudgetError::Repo`].
    pub async fn update(
        &self,
        project: &ProjectId,
        id: Uuid,
        body: &Value,
    ) -> Result<Budget, BudgetError> {
        let spec = BudgetSpec::from_json(body).map_err(BudgetError::Invalid)?;
        self.budgets.update(project, id, &spec).await?.ok_or(BudgetError::NotFound)
    }

    /// One budget.
    ///
    /// # Errors
    /// [`BudgetError::NotFound`], [`BudgetError::Repo`].
    pub async fn get(&self, project: &ProjectId, id: Uuid) -> Result<Budget, BudgetError> {
        self.budgets.get(project, id).await?.ok_or(BudgetError::NotFound)
    }

    /// The project's budgets.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    pub async fn list(&self, project: &ProjectId) -> Result<Vec<Budget>, RepoError> {
        self.budgets.list(project).await
    }

    /// Every project with at least one budget.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    pub async fn projects(&self) -> Result<Vec<ProjectId>, RepoError> {
        self.budgets.projects().await
    }

    /// Deletes a budget (its past alerts stay).
    ///
    /// # Errors
    /// [`BudgetError::NotFound`], [`BudgetError::Repo`].
    pub async fn delete(&self, project: &ProjectId, id: Uuid) -> Result<(), BudgetError> {
        if self.budgets.delete(project, id).await? { Ok(()) } else { Err(BudgetError::NotFound) }
    }

    /// Every budget of the project in its current period, and — as a side effect — an alert for
    /// each threshold reached that has not been raised in this period yet.
    ///
    /// # Errors
    /// [`RepoError`] when a store fails.
    pub async fn status(&self, project: &ProjectId) -> Result<Vec<BudgetStatus>, RepoError> {
        let now = self.clock.now();
        let budgets = self.budgets.list(project).await?;
        let mut out = Vec::with_capacity(budgets.len());
        for budget in budgets {
            let (status, _) = self.evaluate(project, budget, now).await?;
            out.push(status);
        }
        Ok(out)
    }

    /// One budget's status with its best forecast, and the alerts it calls for (thresholds
    /// reached, a forecast above the amount); returns the status and how many alerts were new.
    async fn evaluate(
        &self,
        project: &ProjectId,
        budget: Budget,
        now: DateTime<Utc>,
    ) -> Result<(BudgetStatus, usize), RepoError> {
        let mut status = self.status_of(project, budget, now).await?;
        if let Some(forecast) = self.seasonal(project, &status, now).await? {
            status.forecast = forecast;
        }
        let mut raised = self.raise_thresholds(project, &status, now).await?;
        let amount = status.budget.amount();
        // Before the amount is reached: after, the 100 % threshold (if set) speaks for itself.
        if status.spend < amount
            && status.forecast.exceeds(amount)
            && self.alerts.raise(project, &forecast_alert(&status, now)).await?
        {
            raised += 1;
        }
        Ok((status, raised))
    }

    /// Evaluates every project's budgets (the periodic evaluator). Returns how many alerts were
    /// raised; a failing project is logged by the caller through the error and stops the round.
    ///
    /// # Errors
    /// [`RepoError`] when a store fails.
    pub async fn evaluate_all(&self) -> Result<usize, RepoError> {
        let mut raised = 0;
        for project in self.budgets.projects().await? {
            let now = self.clock.now();
            for budget in self.budgets.list(&project).await? {
                raised += self.evaluate(&project, budget, now).await?.1;
            }
        }
        Ok(raised)
    }

    async fn status_of(
        &self,
        project: &ProjectId,
        budget: Budget,
        now: DateTime<Utc>,
    ) -> Result<BudgetStatus, RepoError> {
        let period = budget.period_at(now);
        // Windows are inclusive: the period's last instant is one microsecond before the next.
        let window = TimeWindow { from: period.start, to: period.end - Duration::microseconds(1) };
        let filter = Scope::filter(budget.spec.scope.as_ref());
        let spend = self.analytics.window_stats(project, &window, &filter).await?.cost;
        let amount = budget.amount();
        let percent = (spend.amount() * Decimal::ONE_HUNDRED)
            .checked_div(amount.amount())
            .unwrap_or(Decimal::ZERO)
            .round_dp(2);
        let reached = budget
            .spec
            .thresholds
            .iter()
            .copied()
            // Exact: spend × 100 ≥ amount × pct, without rounding the percent first.
            .filter(|pct| {
                spend.amount() * Decimal::ONE_HUNDRED >= amount.amount() * Decimal::from(*pct)
            })
            .collect();
        let forecast = linear_forecast(period, now, spend, amount);
        Ok(BudgetStatus { budget, period, spend, percent, reached, forecast })
    }

    /// The seasonal forecast of a status, from the scope's hourly history (`None`: linear stays).
    async fn seasonal(
        &self,
        project: &ProjectId,
        status: &BudgetStatus,
        now: DateTime<Utc>,
    ) -> Result<Option<Forecast>, RepoError> {
        let Some(forecaster) = &self.forecaster else { return Ok(None) };
        let filter = Scope::filter(status.budget.spec.scope.as_ref());
        let history = self.hourly_history(project, &filter, now).await?;
        Ok(seasonal_forecast(
            forecaster.as_ref(),
            status.period,
            now,
            status.spend,
            status.budget.amount(),
            &history,
        ))
    }

    /// Hourly spend of `filter` over the last [`HISTORY_HOURS`] complete hours before the one
    /// containing `now`, oldest first, empty hours as zero, starting at the first hour with any
    /// spend (so a scope that started last week has one week of history, not four).
    async fn hourly_history(
        &self,
        project: &ProjectId,
        filter: &Filter,
        now: DateTime<Utc>,
    ) -> Result<Vec<Usd>, RepoError> {
        let hour_start = now - Duration::seconds(now.timestamp().rem_euclid(3600));
        let from = hour_start - Duration::hours(HISTORY_HOURS);
        let window = TimeWindow { from, to: hour_start - Duration::microseconds(1) };
        let points = self
            .analytics
            .timeseries(project, &window, Granularity::Hour, chrono_tz::Tz::UTC, filter)
            .await?;
        let mut hours = vec![Usd::ZERO; usize::try_from(HISTORY_HOURS).unwrap_or(0)];
        for p in points {
            let index = usize::try_from((p.bucket - from).num_hours()).ok();
            if let Some(slot) = index.and_then(|i| hours.get_mut(i)) {
                *slot = *slot + p.cost;
            }
        }
        let first = hours.iter().position(|c| *c > Usd::ZERO).unwrap_or(hours.len());
        Ok(hours.split_off(first))
    }

    async fn raise_thresholds(
        &self,
        project: &ProjectId,
        status: &BudgetStatus,
        now: DateTime<Utc>,
    ) -> Result<usize, RepoError> {
        let mut raised = 0;
        for &pct in &status.reached {
            let alert = threshold_alert(status, pct, now);
            if self.alerts.raise(project, &alert).await? {
                raised += 1;
            }
        }
        Ok(raised)
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// What every budget alert says about its budget and period.
fn budget_payload(status: &BudgetStatus) -> serde_json::Map<String, Value> {
    let b = &status.budget;
    let scope = b
        .spec
        .scope
        .as_ref()
        .map_or(Value::Null, |s| json!({"type": s.kind.as_str(), "value": s.value}));
    let payload = json!({
        "budgetId": b.id,
        "budgetName": b.spec.name,
        "scope": scope,
        "period": b.spec.period.as_str(),
        "timeZone": b.spec.time_zone.name(),
        "periodStart": ts(status.period.start),
        "periodEnd": ts(status.period.end),
        "amountUsd": b.spec.amount.to_string(),
        "spendUsd": status.spend.to_string(),
        "percent": status.percent.normalize().to_string(),
    });
    match payload {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// The alert for `status` having reached `pct`: its key is budget + period start + percent, so
/// it is raised once per period however often (and by however many processes) it is evaluated.
fn threshold_alert(status: &BudgetStatus, pct: u32, now: DateTime<Utc>) -> NewAlert {
    let b = &status.budget;
    let mut payload = budget_payload(status);
    payload.insert("thresholdPct".into(), json!(pct));
    NewAlert {
        id: Uuid::now_v7(),
        kind: AlertKind::BudgetThreshold,
        dedupe_key: format!("budget:{}:{}:{pct}", b.id, status.period.start.timestamp()),
        budget_id: Some(b.id),
        period_start: Some(status.period.start),
        threshold_pct: Some(pct),
        payload: Value::Object(payload),
        created_at: now,
    }
}

/// The alert for `status`'s forecast ending above the amount: once per budget and period.
fn forecast_alert(status: &BudgetStatus, now: DateTime<Utc>) -> NewAlert {
    let b = &status.budget;
    let f = &status.forecast;
    let mut payload = budget_payload(status);
    payload.insert("forecastMethod".into(), json!(f.method.as_str()));
    payload.insert("expectedSpendUsd".into(), json!(f.expected_end.to_string()));
    if let Some((low, high)) = f.interval {
        payload.insert("expectedSpendLowUsd".into(), json!(low.to_string()));
        payload.insert("expectedSpendHighUsd".into(), json!(high.to_string()));
    }
    payload.insert("runOutAt".into(), f.run_out_at.map_or(Value::Null, |t| json!(ts(t))));
    NewAlert {
        id: Uuid::now_v7(),
        kind: AlertKind::BudgetForecast,
        dedupe_key: format!("budget:{}:{}:forecast", b.id, status.period.start.timestamp()),
        budget_id: Some(b.id),
        period_start: Some(status.period.start),
        threshold_pct: None,
        payload: Value::Object(payload),
        created_at: now,
    }
}
