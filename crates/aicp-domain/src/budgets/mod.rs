//! Budgets: a spend limit per project, optionally narrowed to one feature, model, provider or end
//! user, per calendar period in a time zone, with alert thresholds. `period.rs` computes the
//! periods, `spec.rs` validates what a client sends, `service.rs` reads spend and raises alerts,
//! `forecast.rs` projects spend to the end of the period.

mod forecast;
mod period;
mod service;
mod spec;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::analytics::Filter;
use crate::money::Usd;

pub use forecast::{
    DAILY_HISTORY_HOURS, Forecast, ForecastMethod, INTERVAL_LEVEL, WEEKLY_HISTORY_HOURS,
    linear_forecast, seasonal_forecast,
};
pub use period::{Period, PeriodBounds};
pub use service::{BudgetError, BudgetService, BudgetStatus};
pub use spec::{BudgetSpec, DEFAULT_THRESHOLDS, MAX_AMOUNT};

/// What a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    /// One feature.
    Feature,
    /// One model (as reported).
    Model,
    /// One provider.
    Provider,
    /// One end user (`userId`).
    User,
}

impl ScopeKind {
    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Feature => "feature",
            ScopeKind::Model => "model",
            ScopeKind::Provider => "provider",
            ScopeKind::User => "user",
        }
    }

    /// Parses a wire or database name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "feature" => Some(ScopeKind::Feature),
            "model" => Some(ScopeKind::Model),
            "provider" => Some(ScopeKind::Provider),
            "user" => Some(ScopeKind::User),
            _ => None,
        }
    }
}

/// The calls a scoped budget counts: those with this value in that dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Which dimension.
    pub kind: ScopeKind,
    /// Its exact value.
    pub value: String,
}

impl Scope {
    /// The analytics filter selecting the scope's calls.
    pub fn filter(scope: Option<&Scope>) -> Filter {
        let mut filter = Filter::default();
        if let Some(s) = scope {
            let value = Some(s.value.clone());
            match s.kind {
                ScopeKind::Feature => filter.feature = value,
                ScopeKind::Model => filter.model = value,
                ScopeKind::Provider => filter.provider = value,
                ScopeKind::User => filter.user_id = value,
            }
        }
        filter
    }
}

/// A stored budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// Its id.
    pub id: Uuid,
    /// What the client defined.
    pub spec: BudgetSpec,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl Budget {
    /// The period containing `at`.
    pub fn period_at(&self, at: DateTime<Utc>) -> PeriodBounds {
        PeriodBounds::containing(self.spec.period, self.spec.time_zone, at)
    }

    /// The budget's time zone.
    pub fn tz(&self) -> Tz {
        self.spec.time_zone
    }

    /// The budget's amount.
    pub fn amount(&self) -> Usd {
        self.spec.amount
    }
}
