//! [`PgCostRepository`]: reading and rewriting stored costs (re-pricing) and pricing coverage.

use aicp_domain::ports::{CallCursor, ReportedCost, Repriced, UnpricedModel};
use aicp_domain::pricing::{Cost, PriceSource, Usage};
use aicp_domain::{
    CostRepository, CoverageStats, ProjectId, RepoError, StoredCall, TimeWindow, Usd,
};
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
        crate::pool::checkout(&self.pool).await
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

/// Rewrites the costs of the given events and moves the rollups by the difference, in one
/// statement: `old` reads the costs before the update (all CTEs share one snapshot), `delta`
/// pairs them with the new ones, and each rollup row is adjusted once per key, in key order.
fn update_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let adjust = |table: &str, unit: &str| {
            format!(
                "{table}_adj AS (UPDATE {table} AS r SET cost_usd = r.cost_usd + d.dcost, \
                 retried_cost_usd = r.retried_cost_usd + d.dretried, \
                 unpriced_calls = r.unpriced_calls + d.dunpriced \
                 FROM (SELECT project_id, date_trunc('{unit}', created_at, 'UTC') AS bucket, feature, \
                 model, provider, is_error, sum(dcost) AS dcost, \
                 coalesce(sum(dcost) FILTER (WHERE retry_count > 0), 0) AS dretried, \
                 sum(dunpriced) AS dunpriced FROM delta GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6) d \
                 WHERE r.project_id = d.project_id AND r.bucket = d.bucket AND r.feature = d.feature \
                 AND r.model = d.model AND r.provider = d.provider AND r.is_error = d.is_error)"
            )
        };
        format!(
            "WITH u AS (SELECT * FROM unnest($2::uuid[], $3::numeric[], $4::numeric[], $5::numeric[], \
             $6::numeric[], $7::numeric[], $8::numeric[], $9::text[], $10::text[], $11::date[]) \
             AS u(id, total, input, cache_read, cache_write, output, reasoning, priced_as, source, effective_from)), \
             old AS (SELECT e.id, e.project_id, e.created_at, e.feature, e.model, e.provider, e.user_id, \
             e.is_error, e.retry_count, e.verified_cost_usd AS cost, (e.priced_as IS NULL) AS unpriced \
             FROM events e JOIN u ON e.id = u.id WHERE e.project_id = $1), \
             upd AS (UPDATE events AS e SET verified_cost_usd = u.total, input_cost_usd = u.input, \
             cache_read_cost_usd = u.cache_read, cache_write_cost_usd = u.cache_write, \
             output_cost_usd = u.output, reasoning_cost_usd = u.reasoning, priced_as = u.priced_as, \
             price_source = u.source, price_effective_from = u.effective_from \
             FROM u WHERE e.project_id = $1 AND e.id = u.id \
             RETURNING e.id, e.verified_cost_usd AS cost, (e.priced_as IS NULL) AS unpriced), \
             delta AS (SELECT o.*, n.cost - o.cost AS dcost, n.unpriced::int - o.unpriced::int AS dunpriced \
             FROM old o JOIN upd n ON n.id = o.id), \
             {}, {}, \
             rollup_user_daily_adj AS (UPDATE rollup_user_daily AS r SET cost_usd = r.cost_usd + d.dcost \
             FROM (SELECT project_id, date_trunc('day', created_at, 'UTC') AS bucket, user_id, \
             sum(dcost) AS dcost FROM delta WHERE user_id IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3) d \
             WHERE r.project_id = d.project_id AND r.bucket = d.bucket AND r.user_id = d.user_id) \
             SELECT count(*) AS changed FROM delta",
            adjust("rollup_hourly", "hour"),
            adjust("rollup_daily", "day"),
        )
    })
}

#[derive(QueryableByName)]
struct Changed {
    #[diesel(sql_type = BigInt)]
    changed: i64,
}

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
        after: Option<CallCursor>,
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
        if let Some(CallCursor { created_at: ts, id }) = after {
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
        updates: Vec<Repriced>,
    ) -> Result<u64, RepoError> {
        if updates.is_empty() {
            return Ok(0);
        }
        let amount = |f: fn(&Cost) -> Usd| -> Vec<Decimal> {
            updates.iter().map(|u| f(&u.priced.cost).amount()).collect()
        };
        let ids: Vec<Uuid> = updates.iter().map(|u| u.id).collect();
        let (total, input, read, write, output, reasoning) = (
            amount(|c| c.total),
            amount(|c| c.input),
            amount(|c| c.cache_read),
            amount(|c| c.cache_write),
            amount(|c| c.output),
            amount(|c| c.reasoning),
        );
        let priced_as: Vec<Option<String>> =
            updates.iter().map(|u| u.priced.priced_as.clone()).collect();
        let source: Vec<&str> = updates.iter().map(|u| u.priced.source.as_str()).collect();
        let from: Vec<Option<NaiveDate>> =
            updates.iter().map(|u| u.priced.effective_from).collect();
        let project = project.as_str().to_owned();
        let mut conn = self.conn().await?;
        let lock_ids = ids.clone();
        let lock_project = project.clone();
        let changed = conn
            .transaction::<_, diesel::result::Error, _>(async move |c| {
                // The update moves rollup rows by differences, so nothing it touches may still
                // be pending (its old cost would be folded in later, on top of the difference):
                // fold everything under the fold lock, which also keeps folds out until commit.
                crate::fold::fold_everything_locked(c).await?;
                // Lock the rows first, in id order: the update below then reads costs no
                // concurrent re-pricing can change before it commits (a FOR UPDATE inside the
                // data-modifying statement would hide the rows from its own UPDATE).
                diesel::sql_query(
                    "SELECT id FROM events WHERE project_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE",
                )
                .bind::<Text, _>(lock_project)
                .bind::<Array<diesel::sql_types::Uuid>, _>(lock_ids)
                .execute(c)
                .await?;
                diesel::sql_query(update_sql())
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
                    .get_result::<Changed>(c)
                    .await
            })
            .await
            .map_err(from_query)?;
        Ok(u64::try_from(changed.changed).unwrap_or(0))
    }

    async fn coverage(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
    ) -> Result<CoverageStats, RepoError> {
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
                .map(|r| UnpricedModel {
                    model: r.model,
                    calls: u64::try_from(r.calls).unwrap_or(0),
                    tokens: to_u64(r.tokens),
                })
                .collect(),
            reported: reported
                .into_iter()
                .map(|r| ReportedCost {
                    model: r.model,
                    calls: u64::try_from(r.calls).unwrap_or(0),
                    reported: Usd::new(r.reported),
                    computed: Usd::new(r.computed),
                })
                .collect(),
        })
    }
}
