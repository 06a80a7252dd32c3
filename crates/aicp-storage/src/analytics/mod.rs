//! [`PgAnalyticsRepository`]: aggregate questions answered from the rollups for whole hours and
//! days, and from raw events only for the partial hours at the edges of a window.
//!
//! A window `[from, to]` is split into five disjoint ranges, each read from the cheapest exact
//! source, then summed:
//!
//! ```text
//! from      h0            d0 ............... d1            h1       to
//!  | raw    | hourly      | daily             | hourly      | raw    |
//! ```
//! `h0`/`h1` are the first/last whole hour inside the window, `d0`/`d1` the first/last whole UTC
//! day inside `[h0, h1)`. Empty ranges collapse (`h0 = h1 = to` when no whole hour fits). When a
//! question cannot be answered from a rollup (a `userId` filter, a time zone whose offset is not
//! whole hours) the plan collapses to raw rows only. Every range is a plain index range on
//! `(project_id, bucket)` or `(project_id, created_at)`.

use aicp_domain::analytics::{
    BloatRow, BreakdownRow, CostPoint, Cursor, FeatureModelCost, Filter, Granularity, GroupBy,
    LatencyHistogram, SpanRow, Totals, WindowStats,
};
use aicp_domain::event::StoredEvent;
use aicp_domain::{AnalyticsRepository, ProjectId, RepoError, TimeWindow, Usd};
use async_trait::async_trait;
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Numeric, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;

mod plan;
mod rows;

use plan::{Plan, bind_plan, filter_sql, union, whole_hour_offsets};
use rows::{BloatSql, BreakdownSql, FeatureModelSql, PointSql, SpanSql, StatsSql, count};

use crate::error::from_query;
use crate::pool::{PgConn, PgPool};
use crate::rows::EventRow;
use crate::schema::events;

/// Analytics on PostgreSQL.
pub struct PgAnalyticsRepository {
    pool: PgPool,
}

impl PgAnalyticsRepository {
    /// A repository over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn conn(&self) -> Result<PgConn, RepoError> {
        crate::pool::checkout(&self.pool).await
    }
}

#[async_trait]
impl AnalyticsRepository for PgAnalyticsRepository {
    async fn breakdown(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        group_by: GroupBy,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<BreakdownRow>, RepoError> {
        let (plan, body) = if group_by == GroupBy::User {
            let plan = if filter.fits_user_rollup() && filter.user_id.is_none() {
                Plan::user_daily(window)
            } else {
                Plan::raw(window)
            };
            let rollup = "SELECT user_id AS dim, cost_usd AS cost, input_tokens AS itok, \
                          output_tokens AS otok, calls, latency_sum AS lsum, latency_min AS lmin, \
                          latency_max AS lmax FROM rollup_user_daily WHERE project_id = $1 \
                          AND bucket >= $6 AND bucket < $7";
            let raw = |table: &str, lo: &str, hi: &str| {
                format!(
                    "SELECT user_id AS dim, verified_cost_usd, input_tokens::bigint, output_tokens::bigint, \
                     1, latency_ms, latency_ms, latency_ms FROM {table} WHERE project_id = $1 AND created_at >= {lo} \
                     AND created_at < {hi} AND user_id IS NOT NULL AND {}",
                    filter_sql(true)
                )
            };
            // The rollup's days ($4..$5 = $6..$7 in this plan) plus their pending events.
            (
                plan,
                format!(
                    "{rollup} UNION ALL {} UNION ALL {} UNION ALL {}",
                    raw("events", "$2", "$4"),
                    raw("events", "$5", "$3"),
                    raw("rollup_pending", "$4", "$5")
                ),
            )
        } else {
            let col = match group_by {
                GroupBy::Feature => "feature",
                GroupBy::Model => "model",
                _ => "provider",
            };
            let plan = Plan::new(window, filter.fits_rollups(), true);
            let rollup = format!(
                "SELECT {col} AS dim, cost_usd AS cost, input_tokens AS itok, output_tokens AS otok, \
                 calls, latency_sum AS lsum, latency_min AS lmin, latency_max AS lmax"
            );
            let raw = format!(
                "SELECT {col}, verified_cost_usd, input_tokens::bigint, output_tokens::bigint, 1, \
                 latency_ms, latency_ms, latency_ms"
            );
            (plan, union(&rollup, &raw, "rollup_hourly", "rollup_daily"))
        };
        let sql = format!(
            "SELECT dim, sum(cost) AS cost, sum(itok)::numeric AS itok, sum(otok)::numeric AS otok, \
             sum(calls)::numeric AS calls, sum(lsum)::numeric AS lsum, min(lmin)::bigint AS lmin, \
             max(lmax)::bigint AS lmax FROM ({body}) s GROUP BY dim ORDER BY cost DESC, dim LIMIT {limit}"
        );
        let mut conn = self.conn().await?;
        let rows: Vec<BreakdownSql> = bind_plan!(diesel::sql_query(sql), project, plan, filter)
            .load(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(rows
            .into_iter()
            .map(|r| BreakdownRow {
                dimension: r.dim,
                cost: Usd::new(r.cost),
                tokens: count(r.itok) + count(r.otok),
                requests: count(r.calls),
                latency_sum: count(r.lsum),
                latency_min: r.lmin.and_then(|v| u32::try_from(v).ok()),
                latency_max: r.lmax.and_then(|v| u32::try_from(v).ok()),
                input_tokens: count(r.itok),
                output_tokens: count(r.otok),
            })
            .collect())
    }

    async fn feature_model_costs(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<FeatureModelCost>, RepoError> {
        let plan = Plan::new(window, filter.fits_rollups(), true);
        let body = union(
            "SELECT feature, model, cost_usd AS cost",
            "SELECT feature, model, verified_cost_usd",
            "rollup_hourly",
            "rollup_daily",
        );
        let sql = format!(
            "SELECT feature, model, sum(cost) AS cost FROM ({body}) s GROUP BY feature, model \
             ORDER BY cost DESC, feature, model LIMIT {limit}"
        );
        let mut conn = self.conn().await?;
        let rows: Vec<FeatureModelSql> = bind_plan!(diesel::sql_query(sql), project, plan, filter)
            .load(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(rows
            .into_iter()
            .map(|r| FeatureModelCost {
                feature: r.feature,
                model: r.model,
                cost: Usd::new(r.cost),
            })
            .collect())
    }

    async fn timeseries(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        granularity: Granularity,
        tz: Tz,
        filter: &Filter,
    ) -> Result<Vec<CostPoint>, RepoError> {
        let hourly = filter.fits_rollups() && whole_hour_offsets(tz, window);
        // UTC days are whole local buckets only in UTC, and only for day or longer buckets.
        let daily = tz == Tz::UTC && granularity != Granularity::Hour;
        let plan = Plan::new(window, hourly, daily);
        let unit = granularity.unit();
        let body = union(
            &format!("SELECT date_trunc('{unit}', bucket, $13) AS b, cost_usd AS cost, calls"),
            &format!("SELECT date_trunc('{unit}', created_at, $13), verified_cost_usd, 1"),
            "rollup_hourly",
            "rollup_daily",
        );
        let sql = format!(
            "SELECT b AS bucket, sum(cost) AS cost, sum(calls)::numeric AS calls FROM ({body}) s \
             GROUP BY b ORDER BY b"
        );
        let mut conn = self.conn().await?;
        let rows: Vec<PointSql> = bind_plan!(diesel::sql_query(sql), project, plan, filter)
            .bind::<Text, _>(tz.name().to_owned())
            .load(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(rows
            .into_iter()
            .map(|r| CostPoint {
                bucket: r.bucket,
                cost: Usd::new(r.cost),
                requests: count(r.calls),
            })
            .collect())
    }

    async fn window_stats(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
    ) -> Result<WindowStats, RepoError> {
        let plan = Plan::new(window, filter.fits_rollups(), true);
        let rollup = "SELECT sum(calls) AS calls, sum(calls) FILTER (WHERE is_error) AS errors, \
             sum(retried_calls) AS retried_calls, sum(retries) AS retries, sum(cache_hits) AS cache_hits, \
             sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, \
             sum(cached_tokens) AS cached_tokens, sum(cost_usd) AS cost, \
             sum(cost_usd) FILTER (WHERE is_error) AS error_cost, \
             sum(retried_cost_usd) FILTER (WHERE NOT is_error) AS retry_cost, \
             sum(latency_sum) AS latency_sum, min(latency_min)::bigint AS latency_min, \
             max(latency_max)::bigint AS latency_max, {} AS hist";
        let raw = "SELECT count(*), count(*) FILTER (WHERE is_error), \
             count(*) FILTER (WHERE retry_count > 0), sum(retry_count), \
             count(*) FILTER (WHERE cached_tokens > 0), sum(input_tokens), sum(output_tokens), \
             sum(cached_tokens), sum(verified_cost_usd), sum(verified_cost_usd) FILTER (WHERE is_error), \
             sum(verified_cost_usd) FILTER (WHERE retry_count > 0 AND NOT is_error), sum(latency_ms), \
             min(latency_ms)::bigint, max(latency_ms)::bigint, aicp_hist(latency_ms)";
        let rollup = rollup.replace("{}", &hist_sum("latency_hist"));
        let body = union(&rollup, raw, "rollup_hourly", "rollup_daily");
        let z = |c: &str| format!("coalesce(sum({c}), 0)::numeric AS {c}");
        let sql = format!(
            "SELECT {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, min(latency_min) AS latency_min, \
             max(latency_max) AS latency_max, {} AS hist FROM ({body}) s",
            z("calls"),
            z("errors"),
            z("retried_calls"),
            z("retries"),
            z("cache_hits"),
            z("input_tokens"),
            z("output_tokens"),
            z("cached_tokens"),
            z("cost"),
            z("error_cost"),
            z("retry_cost"),
            z("latency_sum"),
            hist_sum("hist"),
        );
        let mut conn = self.conn().await?;
        let r: StatsSql = bind_plan!(diesel::sql_query(sql), project, plan, filter)
            .get_result(&mut conn)
            .await
            .map_err(from_query)?;
        let mut latency = LatencyHistogram::default();
        if let Some(hist) = r.hist {
            for (slot, v) in latency.counts.iter_mut().zip(hist) {
                *slot = u64::try_from(v).unwrap_or(0);
            }
        }
        latency.sum = count(r.latency_sum);
        latency.min = r.latency_min.and_then(|v| u32::try_from(v).ok());
        latency.max = r.latency_max.and_then(|v| u32::try_from(v).ok());
        Ok(WindowStats {
            calls: count(r.calls),
            errors: count(r.errors),
            retried_calls: count(r.retried_calls),
            retries: count(r.retries),
            cache_hits: count(r.cache_hits),
            input_tokens: count(r.input_tokens),
            output_tokens: count(r.output_tokens),
            cached_tokens: count(r.cached_tokens),
            cost: Usd::new(r.cost),
            error_cost: Usd::new(r.error_cost),
            retry_cost: Usd::new(r.retry_cost),
            latency,
        })
    }

    async fn events_page(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, RepoError> {
        self.page(project, window, filter, after, limit).await
    }

    async fn top_calls(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, RepoError> {
        let query = filtered(project, window, filter)
            .order_by((
                events::verified_cost_usd.desc(),
                events::created_at.desc(),
                events::id.desc(),
            ))
            .limit(i64::try_from(limit).unwrap_or(i64::MAX));
        self.load_events(query).await
    }

    async fn trace_spans(
        &self,
        project: &ProjectId,
        trace_id: &str,
    ) -> Result<Vec<StoredEvent>, RepoError> {
        let query = events::table
            .filter(events::project_id.eq(project.as_str().to_owned()))
            .filter(events::trace_id.eq(trace_id.to_owned()))
            .select(EventRow::as_select())
            .order_by((events::created_at.asc(), events::span_id.asc()))
            .limit(10_001)
            .into_boxed();
        self.load_events(query).await
    }

    async fn spans(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<SpanRow>, RepoError> {
        // Raw rows only; the plan's unused range bounds ($4–$7) are sent typed, so PostgreSQL
        // accepts them unreferenced and the filter keeps its parameter numbers.
        let plan = Plan::raw(window);
        let sql = format!(
            "SELECT trace_id, span_id, parent_span_id, feature, model, verified_cost_usd AS cost \
             FROM events WHERE project_id = $1 AND created_at >= $2 AND created_at < $3 \
             AND {} LIMIT {limit}",
            filter_sql(true)
        );
        let mut conn = self.conn().await?;
        let rows: Vec<SpanSql> = bind_plan!(diesel::sql_query(sql), project, plan, filter)
            .load(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(rows
            .into_iter()
            .map(|r| SpanRow {
                trace_id: r.trace_id,
                span_id: r.span_id,
                parent_span_id: r.parent_span_id,
                feature: r.feature,
                model: r.model,
                cost: Usd::new(r.cost),
            })
            .collect())
    }

    async fn prompt_bloat(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        limit: usize,
    ) -> Result<Vec<BloatRow>, RepoError> {
        // The original's §7.4 semantics, with the median taken over successful calls only.
        let sql = format!(
            "WITH w AS (SELECT * FROM events WHERE project_id = $1 AND created_at >= $2 AND created_at <= $3), \
             m AS (SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY input_tokens), 0) AS median \
                   FROM w WHERE NOT is_error) \
             SELECT md5(metadata::text) AS prompt_hash, substring(metadata::text, 1, 100) AS content, \
             count(*) AS occurrences, sum(verified_cost_usd) AS total_cost, \
             avg(input_tokens + output_tokens)::float8 AS avg_tokens \
             FROM w, m WHERE metadata IS NOT NULL AND input_tokens > floor(m.median * 1.5) \
             GROUP BY 1, 2 ORDER BY total_cost DESC, prompt_hash LIMIT {limit}"
        );
        let mut conn = self.conn().await?;
        let rows: Vec<BloatSql> = diesel::sql_query(sql)
            .bind::<Text, _>(project.as_str().to_owned())
            .bind::<Timestamptz, _>(window.from)
            .bind::<Timestamptz, _>(window.to)
            .load(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(rows
            .into_iter()
            .map(|r| BloatRow {
                prompt_hash: r.prompt_hash,
                content: r.content,
                occurrences: u64::try_from(r.occurrences).unwrap_or(0),
                total_cost: Usd::new(r.total_cost),
                avg_tokens: r.avg_tokens,
            })
            .collect())
    }

    async fn totals(&self, project: &ProjectId) -> Result<Totals, RepoError> {
        #[derive(QueryableByName)]
        struct TotalsSql {
            #[diesel(sql_type = Numeric)]
            cost: Decimal,
            #[diesel(sql_type = Numeric)]
            calls: Decimal,
            #[diesel(sql_type = Numeric)]
            tokens: Decimal,
        }
        let mut conn = self.conn().await?;
        let r: TotalsSql = diesel::sql_query(
            "SELECT coalesce(sum(cost), 0) AS cost, coalesce(sum(calls), 0)::numeric AS calls, \
             coalesce(sum(tokens), 0)::numeric AS tokens FROM (\
             SELECT cost_usd AS cost, calls, input_tokens + output_tokens AS tokens \
             FROM rollup_daily WHERE project_id = $1 UNION ALL \
             SELECT verified_cost_usd, 1, input_tokens::bigint + output_tokens \
             FROM rollup_pending WHERE project_id = $1) t",
        )
        .bind::<Text, _>(project.as_str().to_owned())
        .get_result(&mut conn)
        .await
        .map_err(from_query)?;
        Ok(Totals { cost: Usd::new(r.cost), requests: count(r.calls), tokens: count(r.tokens) })
    }
}

/// The element-wise sum of the latency histograms in column `col` (arrays of
/// [`LatencyHistogram`]'s buckets), as one plain aggregate per bucket. `aicp_hist_sum` did the
/// same in a PL/pgSQL loop per row, which was most of the summary's time at 10M events; built-in
/// `sum`s run in C. Missing buckets and no rows count 0.
fn hist_sum(col: &str) -> String {
    let buckets: Vec<String> = (1..=aicp_domain::analytics::latency::BUCKETS)
        .map(|i| format!("coalesce(sum({col}[{i}]), 0)::bigint"))
        .collect();
    format!("ARRAY[{}]", buckets.join(", "))
}

type BoxedEvents<'a> = diesel::dsl::IntoBoxed<
    'a,
    diesel::dsl::Select<events::table, diesel::dsl::AsSelect<EventRow, diesel::pg::Pg>>,
    diesel::pg::Pg,
>;

fn filtered<'a>(project: &ProjectId, window: &TimeWindow, filter: &Filter) -> BoxedEvents<'a> {
    let mut q = events::table
        .select(EventRow::as_select())
        .into_boxed()
        .filter(events::project_id.eq(project.as_str().to_owned()))
        .filter(events::created_at.ge(window.from))
        .filter(events::created_at.le(window.to));
    if let Some(f) = &filter.feature {
        q = q.filter(events::feature.eq(f.clone()));
    }
    if let Some(m) = &filter.model {
        q = q.filter(events::model.eq(m.clone()));
    }
    if let Some(p) = &filter.provider {
        q = q.filter(events::provider.eq(p.clone()));
    }
    if let Some(u) = &filter.user_id {
        q = q.filter(events::user_id.eq(u.clone()));
    }
    if let Some(e) = filter.is_error {
        q = q.filter(events::is_error.eq(e));
    }
    q
}

impl PgAnalyticsRepository {
    /// A page of events, newest first, strictly after `after` (shared by the events list and
    /// exports).
    pub(crate) async fn page(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, RepoError> {
        let mut query = filtered(project, window, filter)
            .order_by((events::created_at.desc(), events::id.desc()))
            .limit(i64::try_from(limit).unwrap_or(i64::MAX));
        if let Some(c) = after {
            // A row comparison is one index range; the original's OR form was 460x slower deep down.
            query = query.filter(
                diesel::dsl::sql::<Bool>("(created_at, id) < (")
                    .bind::<Timestamptz, _>(c.created_at)
                    .sql(", ")
                    .bind::<diesel::sql_types::Uuid, _>(c.id)
                    .sql(")"),
            );
        }
        self.load_events(query).await
    }

    async fn load_events(&self, query: BoxedEvents<'_>) -> Result<Vec<StoredEvent>, RepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<EventRow> = query.load(&mut conn).await.map_err(from_query)?;
        Ok(rows.into_iter().map(StoredEvent::from).collect())
    }
}
