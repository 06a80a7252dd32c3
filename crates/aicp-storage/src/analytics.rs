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
use chrono::{DateTime, Duration, DurationRound, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Double, Int8, Nullable, Numeric, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;

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

/// The split of a window (see the module docs). Bound as `$2..$7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    from: DateTime<Utc>,
    to_excl: DateTime<Utc>,
    h0: DateTime<Utc>,
    h1: DateTime<Utc>,
    d0: DateTime<Utc>,
    d1: DateTime<Utc>,
}

fn floor(t: DateTime<Utc>, unit: Duration) -> DateTime<Utc> {
    t.duration_trunc(unit).unwrap_or(t)
}

fn ceil(t: DateTime<Utc>, unit: Duration) -> DateTime<Utc> {
    let f = floor(t, unit);
    if f == t { f } else { f + unit }
}

impl Plan {
    /// Raw rows only.
    fn raw(window: &TimeWindow) -> Self {
        let to_excl = window.to + Duration::microseconds(1);
        Self { from: window.from, to_excl, h0: to_excl, h1: to_excl, d0: to_excl, d1: to_excl }
    }

    /// Hourly and daily rollups where whole hours/days fit (`daily` false: hourly only).
    fn new(window: &TimeWindow, hourly: bool, daily: bool) -> Self {
        let raw = Self::raw(window);
        if !hourly {
            return raw;
        }
        let h0 = ceil(window.from, Duration::hours(1));
        let h1 = floor(raw.to_excl, Duration::hours(1));
        if h0 >= h1 {
            return raw;
        }
        let (d0, d1) = if daily {
            let d0 = ceil(h0, Duration::days(1));
            let d1 = floor(h1, Duration::days(1));
            if d0 < d1 { (d0, d1) } else { (h1, h1) }
        } else {
            (h1, h1)
        };
        Self { h0, h1, d0, d1, ..raw }
    }

    /// Daily per-user rollup plus raw edges: bound as h0 = d0 = first whole day, h1 = d1 = last.
    fn user_daily(window: &TimeWindow) -> Self {
        let raw = Self::raw(window);
        let d0 = ceil(window.from, Duration::days(1));
        let d1 = floor(raw.to_excl, Duration::days(1));
        if d0 >= d1 {
            return raw;
        }
        Self { h0: d0, h1: d1, d0, d1, ..raw }
    }
}

/// Filter predicates over `$8..$12` (feature, model, provider, user, is_error); `user` only for
/// raw rows.
fn filter_sql(raw: bool) -> String {
    let mut s = "($8::text IS NULL OR feature = $8) AND ($9::text IS NULL OR model = $9) \
                 AND ($10::text IS NULL OR provider = $10) AND ($12::bool IS NULL OR is_error = $12)"
        .to_owned();
    if raw {
        s.push_str(" AND ($11::text IS NULL OR user_id = $11)");
    }
    s
}

/// The five ranges of a plan over `select_rollup` (reading rollup columns) and `select_raw`
/// (reading event columns); both must produce the same columns.
fn union(select_rollup: &str, select_raw: &str, hourly_table: &str, daily_table: &str) -> String {
    let rf = filter_sql(false);
    let ef = filter_sql(true);
    format!(
        "{select_rollup} FROM {daily_table} WHERE project_id = $1 AND bucket >= $6 AND bucket < $7 AND {rf} \
         UNION ALL {select_rollup} FROM {hourly_table} WHERE project_id = $1 AND bucket >= $4 AND bucket < $6 AND {rf} \
         UNION ALL {select_rollup} FROM {hourly_table} WHERE project_id = $1 AND bucket >= $7 AND bucket < $5 AND {rf} \
         UNION ALL {select_raw} FROM events WHERE project_id = $1 AND created_at >= $2 AND created_at < $4 AND {ef} \
         UNION ALL {select_raw} FROM events WHERE project_id = $1 AND created_at >= $5 AND created_at < $3 AND {ef}"
    )
}

macro_rules! bind_plan {
    ($query:expr, $project:expr, $plan:expr, $filter:expr) => {
        $query
            .bind::<Text, _>($project.as_str().to_owned())
            .bind::<Timestamptz, _>($plan.from)
            .bind::<Timestamptz, _>($plan.to_excl)
            .bind::<Timestamptz, _>($plan.h0)
            .bind::<Timestamptz, _>($plan.h1)
            .bind::<Timestamptz, _>($plan.d0)
            .bind::<Timestamptz, _>($plan.d1)
            .bind::<Nullable<Text>, _>($filter.feature.clone())
            .bind::<Nullable<Text>, _>($filter.model.clone())
            .bind::<Nullable<Text>, _>($filter.provider.clone())
            .bind::<Nullable<Text>, _>($filter.user_id.clone())
            .bind::<Nullable<Bool>, _>($filter.is_error)
    };
}

#[derive(QueryableByName)]
struct BreakdownSql {
    #[diesel(sql_type = Text)]
    dim: String,
    #[diesel(sql_type = Numeric)]
    cost: Decimal,
    #[diesel(sql_type = Numeric)]
    itok: Decimal,
    #[diesel(sql_type = Numeric)]
    otok: Decimal,
    #[diesel(sql_type = Numeric)]
    calls: Decimal,
    #[diesel(sql_type = Numeric)]
    lsum: Decimal,
    #[diesel(sql_type = Nullable<BigInt>)]
    lmin: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    lmax: Option<i64>,
}

#[derive(QueryableByName)]
struct FeatureModelSql {
    #[diesel(sql_type = Text)]
    feature: String,
    #[diesel(sql_type = Text)]
    model: String,
    #[diesel(sql_type = Numeric)]
    cost: Decimal,
}

#[derive(QueryableByName)]
struct PointSql {
    #[diesel(sql_type = Timestamptz)]
    bucket: DateTime<Utc>,
    #[diesel(sql_type = Numeric)]
    cost: Decimal,
    #[diesel(sql_type = Numeric)]
    calls: Decimal,
}

#[derive(QueryableByName)]
struct StatsSql {
    #[diesel(sql_type = Numeric)]
    calls: Decimal,
    #[diesel(sql_type = Numeric)]
    errors: Decimal,
    #[diesel(sql_type = Numeric)]
    retried_calls: Decimal,
    #[diesel(sql_type = Numeric)]
    retries: Decimal,
    #[diesel(sql_type = Numeric)]
    cache_hits: Decimal,
    #[diesel(sql_type = Numeric)]
    input_tokens: Decimal,
    #[diesel(sql_type = Numeric)]
    output_tokens: Decimal,
    #[diesel(sql_type = Numeric)]
    cached_tokens: Decimal,
    #[diesel(sql_type = Numeric)]
    cost: Decimal,
    #[diesel(sql_type = Numeric)]
    error_cost: Decimal,
    #[diesel(sql_type = Numeric)]
    retry_cost: Decimal,
    #[diesel(sql_type = Numeric)]
    latency_sum: Decimal,
    #[diesel(sql_type = Nullable<BigInt>)]
    latency_min: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    latency_max: Option<i64>,
    #[diesel(sql_type = Nullable<Array<Int8>>)]
    hist: Option<Vec<i64>>,
}

#[derive(QueryableByName)]
struct SpanSql {
    #[diesel(sql_type = Text)]
    trace_id: String,
    #[diesel(sql_type = Text)]
    span_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    parent_span_id: Option<String>,
    #[diesel(sql_type = Text)]
    feature: String,
    #[diesel(sql_type = Text)]
    model: String,
    #[diesel(sql_type = Numeric)]
    cost: Decimal,
}

#[derive(QueryableByName)]
struct BloatSql {
    #[diesel(sql_type = Text)]
    prompt_hash: String,
    #[diesel(sql_type = Text)]
    content: String,
    #[diesel(sql_type = BigInt)]
    occurrences: i64,
    #[diesel(sql_type = Numeric)]
    total_cost: Decimal,
    #[diesel(sql_type = Double)]
    avg_tokens: f64,
}

fn count(d: Decimal) -> u64 {
    let t = d.trunc();
    u64::try_from(t.mantissa() / 10i128.pow(t.scale())).unwrap_or(0)
}

/// Whether `tz` is a whole number of hours from UTC at both ends of the window, so that UTC
/// hours are whole local hours (zones like Asia/Kolkata, +05:30, are read from raw rows).
fn whole_hour_offsets(tz: Tz, window: &TimeWindow) -> bool {
    [window.from, window.to]
        .iter()
        .all(|t| tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc() % 3600 == 0)
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
            let raw = |lo: &str, hi: &str| {
                format!(
                    "SELECT user_id AS dim, verified_cost_usd, input_tokens::bigint, output_tokens::bigint, \
                     1, latency_ms, latency_ms, latency_ms FROM events WHERE project_id = $1 AND created_at >= {lo} \
                     AND created_at < {hi} AND user_id IS NOT NULL AND {}",
                    filter_sql(true)
                )
            };
            (plan, format!("{rollup} UNION ALL {} UNION ALL {}", raw("$2", "$4"), raw("$5", "$3")))
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
             max(latency_max)::bigint AS latency_max, aicp_hist_sum(latency_hist) AS hist";
        let raw = "SELECT count(*), count(*) FILTER (WHERE is_error), \
             count(*) FILTER (WHERE retry_count > 0), sum(retry_count), \
             count(*) FILTER (WHERE cached_tokens > 0), sum(input_tokens), sum(output_tokens), \
             sum(cached_tokens), sum(verified_cost_usd), sum(verified_cost_usd) FILTER (WHERE is_error), \
             sum(verified_cost_usd) FILTER (WHERE retry_count > 0 AND NOT is_error), sum(latency_ms), \
             min(latency_ms)::bigint, max(latency_ms)::bigint, aicp_hist(latency_ms)";
        let body = union(rollup, raw, "rollup_hourly", "rollup_daily");
        let z = |c: &str| format!("coalesce(sum({c}), 0)::numeric AS {c}");
        let sql = format!(
            "SELECT {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, min(latency_min) AS latency_min, \
             max(latency_max) AS latency_max, aicp_hist_sum(hist) AS hist FROM ({body}) s",
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
            "SELECT coalesce(sum(cost_usd), 0) AS cost, coalesce(sum(calls), 0)::numeric AS calls, \
             coalesce(sum(input_tokens + output_tokens), 0)::numeric AS tokens \
             FROM rollup_daily WHERE project_id = $1",
        )
        .bind::<Text, _>(project.as_str().to_owned())
        .get_result(&mut conn)
        .await
        .map_err(from_query)?;
        Ok(Totals { cost: Usd::new(r.cost), requests: count(r.calls), tokens: count(r.tokens) })
    }
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, d, h, m, 0).single().unwrap_or_default()
    }

    #[test]
    fn a_window_splits_into_raw_edges_whole_hours_and_whole_days() {
        let w = TimeWindow { from: at(10, 30, 1), to: at(15, 45, 4) };
        let p = Plan::new(&w, true, true);
        assert_eq!((p.h0, p.h1), (at(11, 0, 1), at(15, 0, 4)));
        assert_eq!((p.d0, p.d1), (at(0, 0, 2), at(0, 0, 4)));
        let short = TimeWindow { from: at(10, 30, 1), to: at(10, 45, 1) };
        let p = Plan::new(&short, true, true);
        assert_eq!((p.h0, p.h1, p.d0, p.d1), (p.to_excl, p.to_excl, p.to_excl, p.to_excl));
        let hours = TimeWindow { from: at(10, 0, 1), to: at(13, 0, 1) };
        let p = Plan::new(&hours, true, true);
        assert_eq!((p.h0, p.h1), (at(10, 0, 1), at(13, 0, 1)));
        assert_eq!((p.d0, p.d1), (p.h1, p.h1));
    }
}
