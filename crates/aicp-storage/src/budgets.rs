//! [`PgBudgetRepository`]: budget definitions through diesel's query builder, every statement
//! filtered by project (the primary key starts with it).

use aicp_domain::budgets::{Budget, BudgetSpec, Period, Scope, ScopeKind};
use aicp_domain::ports::BudgetRepository;
use aicp_domain::{ProjectId, RepoError, Usd};
use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::from_query;
use crate::pool::{PgConn, PgPool};
use crate::schema::budgets;

/// Budgets on PostgreSQL.
pub struct PgBudgetRepository {
    pool: PgPool,
}

impl PgBudgetRepository {
    /// A repository over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn conn(&self) -> Result<PgConn, RepoError> {
        crate::pool::checkout(&self.pool).await
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = budgets)]
struct BudgetRow {
    id: Uuid,
    name: String,
    scope_kind: Option<String>,
    scope_value: Option<String>,
    period: String,
    time_zone: String,
    amount_usd: Decimal,
    thresholds: Vec<Option<i32>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<BudgetRow> for Budget {
    type Error = RepoError;

    fn try_from(r: BudgetRow) -> Result<Self, RepoError> {
        // Rows are written only from validated specs; a row that does not read back is a bug.
        let bad = |what: &str| RepoError::Unexpected(anyhow!("budget {}: invalid {what}", r.id));
        let scope = match (r.scope_kind.as_deref(), r.scope_value.clone()) {
            (Some(kind), Some(value)) => {
                Some(Scope { kind: ScopeKind::parse(kind).ok_or_else(|| bad("scope"))?, value })
            }
            _ => None,
        };
        let thresholds = r
            .thresholds
            .iter()
            .map(|t| t.and_then(|t| u32::try_from(t).ok()).ok_or_else(|| bad("threshold")))
            .collect::<Result<Vec<u32>, RepoError>>()?;
        Ok(Budget {
            id: r.id,
            spec: BudgetSpec {
                name: r.name.clone(),
                scope,
                period: Period::parse(&r.period).map_err(|_| bad("period"))?,
                time_zone: r.time_zone.parse().map_err(|_| bad("time zone"))?,
                amount: Usd::new(r.amount_usd),
                thresholds,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The columns a budget's definition is stored in: the same for a create and an update.
/// `treat_none_as_null`: an update that removes the scope must clear it, not keep it.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = budgets, treat_none_as_null = true)]
struct BudgetValues<'a> {
    name: &'a str,
    scope_kind: Option<&'a str>,
    scope_value: Option<&'a str>,
    period: &'a str,
    time_zone: &'a str,
    amount_usd: Decimal,
    thresholds: Vec<Option<i32>>,
}

impl<'a> BudgetValues<'a> {
    fn of(spec: &'a BudgetSpec) -> Self {
        Self {
            name: &spec.name,
            scope_kind: spec.scope.as_ref().map(|s| s.kind.as_str()),
            scope_value: spec.scope.as_ref().map(|s| s.value.as_str()),
            period: spec.period.as_str(),
            time_zone: spec.time_zone.name(),
            amount_usd: spec.amount.amount(),
            thresholds: thresholds(spec),
        }
    }
}

fn thresholds(spec: &BudgetSpec) -> Vec<Option<i32>> {
    spec.thresholds.iter().map(|t| i32::try_from(*t).ok()).collect()
}

#[async_trait]
impl BudgetRepository for PgBudgetRepository {
    async fn create(&self, project: &ProjectId, spec: &BudgetSpec) -> Result<Budget, RepoError> {
        let mut conn = self.conn().await?;
        let row: BudgetRow = diesel::insert_into(budgets::table)
            .values((
                budgets::project_id.eq(project.as_str()),
                budgets::id.eq(Uuid::now_v7()),
                BudgetValues::of(spec),
            ))
            .returning(BudgetRow::as_returning())
            .get_result(&mut conn)
            .await
            .map_err(from_query)?;
        row.try_into()
    }

    async fn list(&self, project: &ProjectId) -> Result<Vec<Budget>, RepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<BudgetRow> = budgets::table
            .filter(budgets::project_id.eq(project.as_str()))
            .order_by((budgets::created_at.asc(), budgets::id.asc()))
            .select(BudgetRow::as_select())
            .load(&mut conn)
            .await
            .map_err(from_query)?;
        rows.into_iter().map(Budget::try_from).collect()
    }

    async fn get(&self, project: &ProjectId, id: Uuid) -> Result<Option<Budget>, RepoError> {
        let mut conn = self.conn().await?;
        let row: Option<BudgetRow> = budgets::table
            .filter(budgets::project_id.eq(project.as_str()))
            .filter(budgets::id.eq(id))
            .select(BudgetRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(from_query)?;
        row.map(Budget::try_from).transpose()
    }

    async fn update(
        &self,
        project: &ProjectId,
        id: Uuid,
        spec: &BudgetSpec,
    ) -> Result<Option<Budget>, RepoError> {
        let mut conn = self.conn().await?;
        let row: Option<BudgetRow> = diesel::update(
            budgets::table
                .filter(budgets::project_id.eq(project.as_str()))
                .filter(budgets::id.eq(id)),
        )
        .set((BudgetValues::of(spec), budgets::updated_at.eq(diesel::dsl::now)))
        .returning(BudgetRow::as_returning())
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(from_query)?;
        row.map(Budget::try_from).transpose()
    }

    async fn delete(&self, project: &ProjectId, id: Uuid) -> Result<bool, RepoError> {
        let mut conn = self.conn().await?;
        let n = diesel::delete(
            budgets::table
                .filter(budgets::project_id.eq(project.as_str()))
                .filter(budgets::id.eq(id)),
        )
        .execute(&mut conn)
        .await
        .map_err(from_query)?;
        Ok(n > 0)
    }

    async fn projects(&self) -> Result<Vec<ProjectId>, RepoError> {
        let mut conn = self.conn().await?;
        let names: Vec<String> = budgets::table
            .select(budgets::project_id)
            .distinct()
            .load(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(names.into_iter().map(ProjectId::new).collect())
    }
}
