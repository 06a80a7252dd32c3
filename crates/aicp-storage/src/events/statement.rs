//! The insert statement: [`InsertStatement`], a diesel query type over one group's column arrays
//! (prepared once per connection), and [`insert`], which sorts a group's rows, binds them and tells
//! each batch which of its events were new.

use std::collections::HashSet;

use aicp_domain::{EventBatch, InsertSummary, PricedEvent, RepoError};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{Array, Bool, Date, Int4, Jsonb, Nullable, Numeric, Text, Timestamptz};
use diesel_async::RunQueryDsl as _;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::sql::{COLUMNS, insert_sql};
use crate::error::{from_query, is_conflict, is_transient};
use crate::pool::PgPool;

#[derive(Debug, thiserror::Error)]
pub(super) enum InsertFailure {
    #[error("no database connection: {0}")]
    Pool(String),
    #[error("insert failed: {0}")]
    Query(diesel::result::Error),
}

impl InsertFailure {
    pub(super) fn is_transient(&self) -> bool {
        match self {
            InsertFailure::Pool(_) => true,
            InsertFailure::Query(e) => is_transient(e),
        }
    }

    pub(super) fn into_repo(self) -> RepoError {
        match self {
            InsertFailure::Pool(why) => RepoError::Unavailable(why),
            InsertFailure::Query(e) => from_query(e),
        }
    }
}

/// The insert statement over one group's columns. A query type of our own (rather than
/// `sql_query`, which diesel never caches) so that diesel-async prepares it once per connection:
/// parsing and planning this statement cost more than executing it for small batches.
/// `PROMPTS`: whether any row carries a prompt (then its fingerprint is folded too); the two
/// shapes are two statements.
struct InsertStatement<'a, const PROMPTS: bool> {
    cols: &'a Columns,
}

/// The static query id of an [`InsertStatement`] shape.
struct InsertId<const PROMPTS: bool>;

/// A static id lets diesel find the prepared statement by type, instead of rendering the ~3 KB
/// statement text and hashing it on every execution to look it up (about 3 % of a single-event
/// request's instructions under callgrind).
impl<const PROMPTS: bool> QueryId for InsertStatement<'_, PROMPTS> {
    type QueryId = InsertId<PROMPTS>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const PROMPTS: bool> Query for InsertStatement<'_, PROMPTS> {
    type SqlType = diesel::sql_types::Uuid;
}

impl<const PROMPTS: bool> QueryFragment<Pg> for InsertStatement<'_, PROMPTS> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let (head, tail) = insert_sql(PROMPTS);
        let c = self.cols;
        out.push_sql(head);
        let mut n = 0;
        let mut next = |out: &mut AstPass<'_, 'b, Pg>| {
            if n > 0 {
                out.push_sql(", ");
            }
            n += 1;
        };
        macro_rules! bind {
            ($st:ty, $field:expr, $cast:expr) => {{
                next(&mut out);
                out.push_bind_param::<Array<$st>, _>(&$field)?;
                out.push_sql($cast);
            }};
        }
        bind!(diesel::sql_types::Uuid, c.id, "::uuid[]");
        bind!(Text, c.project_id, "::text[]");
        bind!(Text, c.trace_id, "::text[]");
        bind!(Text, c.span_id, "::text[]");
        bind!(Nullable<Text>, c.parent_span_id, "::text[]");
        bind!(Text, c.feature, "::text[]");
        bind!(Nullable<Text>, c.user_id, "::text[]");
        bind!(Text, c.provider, "::text[]");
        bind!(Text, c.model, "::text[]");
        bind!(Int4, c.input_tokens, "::int4[]");
        bind!(Int4, c.output_tokens, "::int4[]");
        bind!(Int4, c.cached_tokens, "::int4[]");
        bind!(Int4, c.cache_write_tokens, "::int4[]");
        bind!(Int4, c.cache_write_1h_tokens, "::int4[]");
        bind!(Int4, c.reasoning_tokens, "::int4[]");
        bind!(Int4, c.latency_ms, "::int4[]");
        bind!(Numeric, c.estimated, "::numeric[]");
        bind!(Nullable<Numeric>, c.provider_cost, "::numeric[]");
        bind!(Numeric, c.verified, "::numeric[]");
        bind!(Numeric, c.input_cost, "::numeric[]");
        bind!(Numeric, c.cache_read_cost, "::numeric[]");
        bind!(Numeric, c.cache_write_cost, "::numeric[]");
        bind!(Numeric, c.output_cost, "::numeric[]");
        bind!(Numeric, c.reasoning_cost, "::numeric[]");
        bind!(Nullable<Text>, c.priced_as, "::text[]");
        bind!(Text, c.price_source, "::text[]");
        bind!(Nullable<Date>, c.price_effective_from, "::date[]");
        bind!(Bool, c.is_cache_hit, "::bool[]");
        bind!(Nullable<Jsonb>, c.metadata, "::jsonb[]");
        bind!(Bool, c.is_streaming, "::bool[]");
        bind!(Nullable<Text>, c.error_code, "::text[]");
        bind!(Int4, c.retry_count, "::int4[]");
        bind!(Bool, c.is_error, "::bool[]");
        bind!(Timestamptz, c.created_at, "::timestamptz[]");
        bind!(Timestamptz, c.received_at, "::timestamptz[]");
        bind!(Nullable<Text>, c.prompt_hash, "::text[]");
        bind!(Nullable<Text>, c.template_hash, "::text[]");
        bind!(Nullable<Text>, c.prompt_text, "::text[]");
        bind!(Nullable<Text>, c.prompt_signature, "::text[]");
        bind!(Nullable<Text>, c.prompt_bands, "::text[]");
        bind!(Nullable<Int4>, c.prompt_scheme, "::int4[]");
        debug_assert_eq!(n, COLUMNS.len());
        out.push_sql(tail);
        Ok(())
    }
}

/// Column arrays for the `unnest` insert.
#[derive(Default)]
struct Columns {
    id: Vec<Uuid>,
    project_id: Vec<String>,
    trace_id: Vec<String>,
    span_id: Vec<String>,
    parent_span_id: Vec<Option<String>>,
    feature: Vec<String>,
    user_id: Vec<Option<String>>,
    provider: Vec<String>,
    model: Vec<String>,
    input_tokens: Vec<i32>,
    output_tokens: Vec<i32>,
    cached_tokens: Vec<i32>,
    cache_write_tokens: Vec<i32>,
    cache_write_1h_tokens: Vec<i32>,
    reasoning_tokens: Vec<i32>,
    latency_ms: Vec<i32>,
    estimated: Vec<Decimal>,
    provider_cost: Vec<Option<Decimal>>,
    verified: Vec<Decimal>,
    input_cost: Vec<Decimal>,
    cache_read_cost: Vec<Decimal>,
    cache_write_cost: Vec<Decimal>,
    output_cost: Vec<Decimal>,
    reasoning_cost: Vec<Decimal>,
    priced_as: Vec<Option<String>>,
    price_source: Vec<&'static str>,
    price_effective_from: Vec<Option<NaiveDate>>,
    is_cache_hit: Vec<bool>,
    metadata: Vec<Option<serde_json::Value>>,
    is_streaming: Vec<bool>,
    error_code: Vec<Option<String>>,
    retry_count: Vec<i32>,
    is_error: Vec<bool>,
    created_at: Vec<DateTime<Utc>>,
    received_at: Vec<DateTime<Utc>>,
    prompt_hash: Vec<Option<String>>,
    template_hash: Vec<Option<String>>,
    prompt_text: Vec<Option<String>>,
    prompt_signature: Vec<Option<String>>,
    prompt_bands: Vec<Option<String>>,
    prompt_scheme: Vec<Option<i32>>,
}

/// PostgreSQL's text form of an array: `{1,2,3}`.
pub(crate) fn array_text<T: ToString>(values: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = values.into_iter().map(|v| v.to_string()).collect();
    format!("{{{}}}", items.join(","))
}

impl Columns {
    fn push(&mut self, id: Uuid, project: &str, p: &PricedEvent, received_at: DateTime<Utc>) {
        let e = &p.event;
        let cost = &p.priced.cost;
        self.id.push(id);
        self.project_id.push(project.to_owned());
        self.trace_id.push(e.trace_id.clone());
        self.span_id.push(e.span_id.clone());
        self.parent_span_id.push(e.parent_span_id.clone());
        self.feature.push(e.feature.clone());
        self.user_id.push(e.user_id.clone());
        self.provider.push(e.provider.as_str().to_owned());
        self.model.push(e.model.clone());
        self.input_tokens.push(e.input_tokens);
        self.output_tokens.push(e.output_tokens);
        self.cached_tokens.push(e.cached_tokens);
        self.cache_write_tokens.push(e.cache_write_tokens);
        self.cache_write_1h_tokens.push(e.cache_write_1h_tokens);
        self.reasoning_tokens.push(e.reasoning_tokens);
        self.latency_ms.push(e.latency_ms);
        self.estimated.push(e.estimated_cost.amount());
        self.provider_cost.push(e.provider_cost.map(|c| c.amount()));
        self.verified.push(cost.total.amount());
        self.input_cost.push(cost.input.amount());
        self.cache_read_cost.push(cost.cache_read.amount());
        self.cache_write_cost.push(cost.cache_write.amount());
        self.output_cost.push(cost.output.amount());
        self.reasoning_cost.push(cost.reasoning.amount());
        self.priced_as.push(p.priced.priced_as.clone());
        self.price_source.push(p.priced.source.as_str());
        self.price_effective_from.push(p.priced.effective_from);
        self.is_cache_hit.push(e.cached_tokens > 0);
        self.metadata.push(e.metadata.clone().map(serde_json::Value::Object));
        self.is_streaming.push(e.is_streaming);
        self.error_code.push(e.error_code.clone());
        self.retry_count.push(e.retry_count);
        self.is_error.push(e.is_error);
        self.created_at.push(e.timestamp);
        self.received_at.push(received_at);
        let prompt = p.prompt.as_ref();
        self.prompt_hash.push(prompt.map(|r| r.hash.clone()));
        self.template_hash.push(prompt.map(|r| r.template_hash.clone()));
        self.prompt_text.push(prompt.and_then(|r| r.text.clone()));
        // Signatures and band keys are unsigned; stored as their signed bit patterns.
        self.prompt_signature
            .push(prompt.map(|r| array_text(r.signature.iter().map(|v| v.cast_signed()))));
        self.prompt_bands.push(prompt.map(|r| array_text(r.bands.iter().map(|v| v.cast_signed()))));
        self.prompt_scheme.push(prompt.map(|r| r.scheme.cast_signed()));
    }
}

/// [`insert`], retried twice when PostgreSQL aborted it to break a deadlock or a serialization
/// conflict (nothing was written then, so a retry is safe).
pub(super) async fn insert_retrying(
    pool: &PgPool,
    batches: &[&EventBatch],
) -> Result<Vec<InsertSummary>, InsertFailure> {
    let mut attempt = 0;
    loop {
        match insert(pool, batches).await {
            Err(InsertFailure::Query(e)) if attempt < 2 && is_conflict(&e) => {
                attempt += 1;
                tracing::info!(error = %e, attempt, "insert aborted by a conflict; retrying");
            }
            other => return other,
        }
    }
}

/// Inserts the events of `batches` in one statement (one implicit transaction); returns one
/// summary per batch.
async fn insert(
    pool: &PgPool,
    batches: &[&EventBatch],
) -> Result<Vec<InsertSummary>, InsertFailure> {
    // (batch, position, id), sorted by the unique key for a deterministic lock order. The sort
    // is stable, so of two equal keys the one sent first is the one inserted.
    let mut rows: Vec<(usize, usize, Uuid)> = Vec::new();
    for (b, batch) in batches.iter().enumerate() {
        for i in 0..batch.events.len() {
            rows.push((b, i, Uuid::now_v7()));
        }
    }
    let key = |&(b, i, _): &(usize, usize, Uuid)| {
        let e = &batches[b].events[i].event;
        (batches[b].project.as_str(), e.trace_id.as_str(), e.span_id.as_str())
    };
    rows.sort_by(|x, y| key(x).cmp(&key(y)));

    let mut cols = Columns::default();
    let received_at = Utc::now();
    for &(b, i, id) in &rows {
        cols.push(id, batches[b].project.as_str(), &batches[b].events[i], received_at);
    }
    let mut conn = pool.get().await.map_err(|e| InsertFailure::Pool(e.to_string()))?;
    let inserted: Vec<Uuid> = if cols.prompt_hash.iter().any(Option::is_some) {
        InsertStatement::<true> { cols: &cols }.load(&mut conn).await
    } else {
        InsertStatement::<false> { cols: &cols }.load(&mut conn).await
    }
    .map_err(InsertFailure::Query)?;

    let inserted: HashSet<Uuid> = inserted.into_iter().collect();
    let mut summaries: Vec<InsertSummary> = vec![InsertSummary::default(); batches.len()];
    for &(b, i, id) in &rows {
        if inserted.contains(&id) {
            summaries[b].inserted.push(i);
        } else {
            summaries[b].duplicates += 1;
        }
    }
    for s in &mut summaries {
        s.inserted.sort_unstable();
    }
    Ok(summaries)
}
