//! [`PgCostRepository`]: reading and rewriting stored costs (re-pricing) and pricing coverage.

use aicp_domain::pricing::{Cost, PriceSource, Priced, Usage};
use aicp_domain::{CostRepository, CoverageStats, ProjectId, RepoError, StoredCall, TimeWindow, Usd};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Nullable, Numeric, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::from_query;
use crate::pool::{PgConn, PgPool};
use crate::schema::events;

/// Stored costs on PostgreSQL.
pub struct PgCostRepository {
    pool: PgPool,
}

impl PgCostRepository {
    /// A repository over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn conn(&self) -> Result<PgConn, RepoError> {
        self.pool.get().await.map_err(|e| RepoError::Unavailable(e.to_string()))
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = events)]
struct CallRow {
    id: Uuid,
    model: String,
    feature: String,
    created_at: DateTime<Utc>,
    input_tokens: i32,
    output_tokens: i32,
    cached_tokens: i32,
    cache_write_tokens: i32,
    cache_write_1h_tokens: i32,
    reasoning_tokens: i32,
    input_cost_usd: Decimal,
    cache_read_cost_usd: Decimal,
    cache_write_cost_usd: Decimal,
    output_cost_usd: Decimal,
    reasoning_cost_usd: Decimal,
    verified_cost_usd: Decimal,
    priced_as: Option<String>,
    price_source: String,
    price_effective_from: Option<NaiveDate>,
}

fn count(v: i32) -> u32 {
    v.unsigned_abs()
}

impl CallRow {
    fn into_call(self) -> StoredCall {
        let source = match self.price_source.as_str() {
            "custom" => PriceSource::Custom,
            "fallback" => PriceSource::Fallback,
            _ => PriceSource::Catalogue,
        };
        StoredCall {
            id: self.id,
            model: self.model,
            feature: self.feature,
            created_at: self.created_at,
            usage: Usage {
                input_tokens: count(self.input_tokens),
                output_tokens: count(self.output_tokens),
                cache_read_tokens: count(self.cached_tokens),
                cache_write_tokens: count(self.cache_write_tokens),
                cache_write_1h_tokens: count(self.cache_write_1h_tokens),
                reasoning_tokens: count(self.reasoning_tokens),
            },
            cost: Cost {
                input: Usd::new(self.input_cost_usd),
                cache_read: Usd::new(self.cache_read_cost_usd),
                cache_write: Usd::new(self.cache_write_cost_usd),
                output: Usd::new(self.output_cost_usd),
                reasoning: Usd::new(self.reasoning_cost_usd),
                total: Usd::new(self.verified_cost_usd),
            },
            priced_as: self.priced_as,
            source,
            effective_from: self.price_effective_from,
        }
    }
}

const UPDATE_SQL: &str = "\
UPDATE events AS e SET verified_cost_usd = u.total, input_cost_usd = u.input, \
cache_read_cost_usd = u.cache_read, cache_write_cost_usd = u.cache_write, \
output_cost_usd = u.output, reasoning_cost_usd = u.reasoning, priced_as = u.priced_as, \
price_source = u.source, price_effective_from = u.effective_from \
FROM unnest($2::uuid[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], \
$7::numeric[], $8::numeric[], $9::text[], $10::text[], $11::date[]) \
AS u(id, total, input, cache_read, cache_write, output, reasoning, priced_as, source, effective_from) \
WHERE e.project_id = $1 AND e.id = u.id";

#[derive(QueryableByName)]
struct UnpricedRow {
    #[diesel(sql_type = Text)]
    model: String,
    #[diesel(sql_type = BigInt)]
    calls: i64,
    #[diesel(sql_type = Numeric)]
    tokens: Decimal,
}

#[derive(QueryableByName)]
struct TotalsRow {
    #[diesel(sql_type = BigInt)]
    calls: i64,
    #[diesel(sql_type = Numeric)]
    tokens: Decimal,
}

#[derive(QueryableByName)]
struct ReportedRow {
    #[diesel(sql_type = Text)]
    model: String,
    #[diesel(sql_type = BigInt)]
    calls: i64,
    #[diesel(sql_type = Numeric)]
    reported: Decimal,
    #[diesel(sql_type = Numeric)]
    computed: Decimal,
}

fn to_u64(d: Decimal) -> u64 {
    u64::try_from(d.trunc().mantissa() / 10i128.pow(d.trunc().scale())).unwrap_or(u64::MAX)
}

#[async_trait]
impl CostRepository for PgCostRepository {
    async fn scan_calls<'a>(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        model: Option<&'a str>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<StoredCall>, RepoError> {
        let mut query = events::table
            .filter(events::project_id.eq(project.as_str()))
            .filter(events::created_at.ge(window.from))
            .filter(events::created_at.le(window.to))
            .select(CallRow::as_select())
            .order_by((events::created_at.asc(), events::id.asc()))
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .into_boxed();
        if let Some(m) = model {
            let m = m.to_ascii_lowercase();
            query = query.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("(lower(model) = ")
                    .bind::<Text, _>(m.clone())
                    .sql(" OR priced_as = ")
                    .bind::<Text, _>(m)
                    .sql(")"),
            );
        }
        if let Some((ts, id)) = after {
            // Row comparison: one index range instead of an OR of two predicates.
            query = query.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("(created_at, id) > (")
                    .bind::<Timestamptz, _>(ts)
                    .sql(", ")
                    .bind::<diesel::sql_types::Uuid, _>(id)
                    .sql(")"),
            );
        }
        let mut conn = self.conn().await?;
        let rows: Vec<CallRow> = query.load(&mut conn).await.map_err(from_query)?;
        Ok(rows.into_iter().map(CallRow::into_call).collect())
    }

    async fn update_costs(
        &self,
        project: &ProjectId,
        updates: Vec<(Uuid, Priced)>,
    ) -> Result<u64, RepoError> {
        if updates.is_empty() {
            return Ok(0);
        }
        let amount = |f: fn(&Cost) -> Usd| -> Vec<Decimal> {
            updates.iter().map(|(_, p)| f(&p.cost).amount()).collect()
        };
        let ids: Vec<Uuid> = updates.iter().map(|(id, _)| *id).collect();
        let (total, input, read, write, output, reasoning) = (
            amount(|c| c.total),
            amount(|c| c.input),
            amount(|c| c.cache_read),
            amount(|c| c.cache_write),
            amount(|c| c.output),
            amount(|c| c.reasoning),
        );
        let priced_as: Vec<Option<String>> = updates.iter().map(|(_, p)| p.priced_as.clone()).collect();
        let source: Vec<&str> = updates.iter().map(|(_, p)| p.source.as_str()).collect();
        let from: Vec<Option<NaiveDate>> = updates.iter().map(|(_, p)| p.effective_from).collect();
        let project = project.as_str().to_owned();
        let mut conn = self.conn().await?;
        let changed = conn
            .transaction::<_, diesel::result::Error, _>(async move |c| {
                diesel::sql_query(UPDATE_SQL)
                    .bind::<Text, _>(project)
                    .bind::<Array<diesel::sql_types::Uuid>, _>(ids)
                    .bind::<Array<Numeric>, _>(total)
                    .bind::<Array<Numeric>, _>(input)
                    .bind::<Array<Numeric>, _>(read)
                    .bind::<Array<Numeric>, _>(write)
                    .bind::<Array<Numeric>, _>(output)
                    .bind::<Array<Numeric>, _>(reasoning)
                    .bind::<Array<Nullable<Text>>, _>(priced_as)
                    .bind::<Array<Text>, _>(source)
                    .bind::<Array<Nullable<Date>>, _>(from)
                    .execute(c)
                    .await
            })
            .await
            .map_err(from_query)?;
        Ok(changed as u64)
    }

    async fn coverage(&self, project: &ProjectId, window: &TimeWindow) -> Result<CoverageStats, RepoError> {
        const WHERE: &str = "project_id = $1 AND created_at >= $2 AND created_at <= $3";
        let mut conn = self.conn().await?;
        let bind = |sql: String| {
            diesel::sql_query(sql)
                .bind::<Text, _>(project.as_str().to_owned())
                .bind::<Timestamptz, _>(window.from)
                .bind::<Timestamptz, _>(window.to)
        };
        let totals: TotalsRow = bind(format!(
            "SELECT count(*) AS calls, coalesce(sum(input_tokens::bigint + output_tokens), 0)::numeric AS tokens \
             FROM events WHERE {WHERE}"
        ))
        .get_result(&mut conn)
        .await
        .map_err(from_query)?;
        let unpriced: Vec<UnpricedRow> = bind(format!(
            "SELECT model, count(*) AS calls, coalesce(sum(input_tokens::bigint + output_tokens), 0)::numeric AS tokens \
             FROM events WHERE {WHERE} AND priced_as IS NULL GROUP BY model ORDER BY calls DESC, model LIMIT 100"
        ))
        .load(&mut conn)
        .await
        .map_err(from_query)?;
        let reported: Vec<ReportedRow> = bind(format!(
            "SELECT model, count(*) AS calls, \
             sum(coalesce(provider_cost_usd, estimated_cost_usd)) AS reported, \
             sum(verified_cost_usd) AS computed \
             FROM events WHERE {WHERE} AND (provider_cost_usd IS NOT NULL OR estimated_cost_usd > 0) \
             GROUP BY model ORDER BY abs(sum(coalesce(provider_cost_usd, estimated_cost_usd)) - sum(verified_cost_usd)) DESC, model \
             LIMIT 100"
        ))
        .load(&mut conn)
        .await
        .map_err(from_query)?;
        Ok(CoverageStats {
            calls: u64::try_from(totals.calls).unwrap_or(0),
            tokens: to_u64(totals.tokens),
            unpriced: unpriced
                .into_iter()
                .map(|r| (r.model, u64::try_from(r.calls).unwrap_or(0), to_u64(r.tokens)))
                .collect(),
            reported: reported
                .into_iter()
                .map(|r| {
                    (r.model, u64::try_from(r.calls).unwrap_or(0), Usd::new(r.reported), Usd::new(r.computed))
                })
                .collect(),
        })
    }
}
