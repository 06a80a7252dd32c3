//! Rows of the planner's queries, as diesel reads them (sums come back as `numeric`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Int8, Nullable, Numeric, Text, Timestamptz};
use rust_decimal::Decimal;

#[derive(QueryableByName)]
pub(super) struct BreakdownSql {
    #[diesel(sql_type = Text)]
    pub(super) dim: String,
    #[diesel(sql_type = Numeric)]
    pub(super) cost: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) itok: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) otok: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) calls: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) lsum: Decimal,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(super) lmin: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(super) lmax: Option<i64>,
}

#[derive(QueryableByName)]
pub(super) struct FeatureModelSql {
    #[diesel(sql_type = Text)]
    pub(super) feature: String,
    #[diesel(sql_type = Text)]
    pub(super) model: String,
    #[diesel(sql_type = Numeric)]
    pub(super) cost: Decimal,
}

#[derive(QueryableByName)]
pub(super) struct PointSql {
    #[diesel(sql_type = Timestamptz)]
    pub(super) bucket: DateTime<Utc>,
    #[diesel(sql_type = Numeric)]
    pub(super) cost: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) calls: Decimal,
}

#[derive(QueryableByName)]
pub(super) struct StatsSql {
    #[diesel(sql_type = Numeric)]
    pub(super) calls: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) errors: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) retried_calls: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) retries: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) cache_hits: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) input_tokens: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) output_tokens: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) cached_tokens: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) cost: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) error_cost: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) retry_cost: Decimal,
    #[diesel(sql_type = Numeric)]
    pub(super) latency_sum: Decimal,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(super) latency_min: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(super) latency_max: Option<i64>,
    #[diesel(sql_type = Nullable<Array<Int8>>)]
    pub(super) hist: Option<Vec<i64>>,
}

#[derive(QueryableByName)]
pub(super) struct SpanSql {
    #[diesel(sql_type = Text)]
    pub(super) trace_id: String,
    #[diesel(sql_type = Text)]
    pub(super) span_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub(super) parent_span_id: Option<String>,
    #[diesel(sql_type = Text)]
    pub(super) feature: String,
    #[diesel(sql_type = Text)]
    pub(super) model: String,
    #[diesel(sql_type = Numeric)]
    pub(super) cost: Decimal,
}

#[derive(QueryableByName)]
pub(super) struct BloatSql {
    #[diesel(sql_type = Text)]
    pub(super) prompt_hash: String,
    #[diesel(sql_type = Text)]
    pub(super) content: String,
    #[diesel(sql_type = BigInt)]
    pub(super) occurrences: i64,
    #[diesel(sql_type = Numeric)]
    pub(super) total_cost: Decimal,
    #[diesel(sql_type = Double)]
    pub(super) avg_tokens: f64,
}

pub(super) fn count(d: Decimal) -> u64 {
    let t = d.trunc();
    u64::try_from(t.mantissa() / 10i128.pow(t.scale())).unwrap_or(0)
}
