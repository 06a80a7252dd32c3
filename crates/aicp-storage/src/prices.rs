//! [`PgPriceRepository`]: the `model_prices` table through diesel's query builder.

use aicp_domain::pricing::{PriceRow, UsageKind};
use aicp_domain::{PriceRepository, ProjectId, Provider, RepoError};
use async_trait::async_trait;
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;

use crate::error::from_query;
use crate::pool::PgPool;
use crate::schema::model_prices;

/// Prices on PostgreSQL.
pub struct PgPriceRepository {
    pool: PgPool,
}

impl PgPriceRepository {
    /// A repository over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(Insertable)]
#[diesel(table_name = model_prices)]
struct NewPriceRow {
    project_id: Option<String>,
    provider: Option<String>,
    model: String,
    aliases: Vec<Option<String>>,
    usage_kind: &'static str,
    above_input_tokens: i64,
    usd_per_1m: Decimal,
    effective_from: NaiveDate,
    catalogue_version: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = model_prices)]
struct StoredPriceRow {
    project_id: Option<String>,
    provider: Option<String>,
    model: String,
    aliases: Vec<Option<String>>,
    usage_kind: String,
    above_input_tokens: i64,
    usd_per_1m: Decimal,
    effective_from: NaiveDate,
}

fn to_new(row: PriceRow, version: Option<&str>) -> NewPriceRow {
    NewPriceRow {
        project_id: row.project.map(|p| p.as_str().to_owned()),
        provider: row.provider.map(|p| p.as_str().to_owned()),
        model: row.model,
        aliases: row.aliases.into_iter().map(Some).collect(),
        usage_kind: row.kind.as_str(),
        above_input_tokens: i64::try_from(row.above_input_tokens).unwrap_or(i64::MAX),
        usd_per_1m: row.usd_per_1m,
        effective_from: row.effective_from,
        catalogue_version: version.map(str::to_owned),
    }
}

fn from_stored(row: StoredPriceRow) -> Result<PriceRow, RepoError> {
    let kind = UsageKind::parse(&row.usage_kind).ok_or_else(|| {
        RepoError::Unexpected(anyhow::anyhow!(
            "unknown usage kind {:?} in model_prices",
            row.usage_kind
        ))
    })?;
    Ok(PriceRow {
        project: row.project_id.map(ProjectId::new),
        provider: row.provider.as_deref().and_then(Provider::parse),
        model: row.model,
        aliases: row.aliases.into_iter().flatten().collect(),
        kind,
        above_input_tokens: u64::try_from(row.above_input_tokens).unwrap_or(0),
        usd_per_1m: row.usd_per_1m.normalize(),
        effective_from: row.effective_from,
    })
}

async fn conn(pool: &PgPool) -> Result<crate::pool::PgConn, RepoError> {
    crate::pool::checkout(pool).await
}

#[async_trait]
impl PriceRepository for PgPriceRepository {
    async fn replace_catalogue(&self, version: &str, rows: Vec<PriceRow>) -> Result<(), RepoError> {
        let rows: Vec<NewPriceRow> = rows.into_iter().map(|r| to_new(r, Some(version))).collect();
        let mut conn = conn(&self.pool).await?;
        conn.transaction::<_, diesel::result::Error, _>(async move |c| {
            diesel::delete(model_prices::table.filter(model_prices::project_id.is_null()))
                .execute(c)
                .await?;
            // Chunks keep each statement under PostgreSQL's bind-parameter limit.
            for chunk in rows.chunks(1000) {
                diesel::insert_into(model_prices::table).values(chunk).execute(c).await?;
            }
            Ok(())
        })
        .await
        .map_err(from_query)
    }

    async fn load(&self) -> Result<Vec<PriceRow>, RepoError> {
        let mut conn = conn(&self.pool).await?;
        let rows: Vec<StoredPriceRow> = model_prices::table
            .select(StoredPriceRow::as_select())
            .load(&mut conn)
            .await
            .map_err(from_query)?;
        rows.into_iter().map(from_stored).collect()
    }

    async fn put_custom(&self, rows: Vec<PriceRow>) -> Result<(), RepoError> {
        let Some(first) = <[PriceRow]>::first(&rows) else { return Ok(()) };
        let project = first.project.as_ref().map(|p| p.as_str().to_owned()).ok_or_else(|| {
            RepoError::Unexpected(anyhow::anyhow!("a custom price needs a project"))
        })?;
        let (model, from) = (first.model.clone(), first.effective_from);
        let rows: Vec<NewPriceRow> = rows.into_iter().map(|r| to_new(r, None)).collect();
        let mut conn = conn(&self.pool).await?;
        conn.transaction::<_, diesel::result::Error, _>(async move |c| {
            diesel::delete(
                model_prices::table
                    .filter(model_prices::project_id.eq(&project))
                    .filter(model_prices::model.eq(&model))
                    .filter(model_prices::effective_from.eq(from)),
            )
            .execute(c)
            .await?;
            diesel::insert_into(model_prices::table).values(&rows).execute(c).await?;
            Ok(())
        })
        .await
        .map_err(from_query)
    }
}
