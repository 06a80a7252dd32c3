//! [`PgEventRepository`]: idempotent, durable event inserts with group commit.
//!
//! Why group commit: each commit waits for a WAL flush, so one transaction per HTTP request caps
//! ingest at the disk's flush rate. Requests put their batch on a bounded queue; a few writer
//! tasks each take everything queued (up to a row budget), insert it with one statement, commit,
//! and only then answer every request in the group. A 2xx therefore still means "committed".
//!
//! Why `unnest`: one statement text for any number of rows (one array parameter per column), prepared once,
//! instead of a `VALUES` list whose text and bind count change with every batch size.
//!
//! Rows are sorted by (project, trace, span) before insert so that concurrent transactions take
//! unique-index locks in the same order and cannot deadlock.

use std::collections::HashSet;
use std::sync::Arc;

use aicp_domain::{EventBatch, EventRepository, InsertSummary, PricedEvent, RepoError};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{Array, Bool, Date, Int4, Jsonb, Nullable, Numeric, Text, Timestamptz};
use diesel_async::RunQueryDsl as _;
use rust_decimal::Decimal;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::error::{from_query, is_conflict, is_transient};
use crate::pool::PgPool;

/// Group-commit settings.
#[derive(Debug, Clone)]
pub struct GroupCommitConfig {
    /// Writer tasks (each holds at most one connection while writing).
    pub writers: usize,
    /// Requests that may wait in the queue; beyond it a request is refused at once (503).
    pub queue_capacity: usize,
    /// Most rows one writer puts into one transaction.
    pub max_rows_per_commit: usize,
}

impl Default for GroupCommitConfig {
    fn default() -> Self {
        Self { writers: 2, queue_capacity: 1024, max_rows_per_commit: 4000 }
    }
}

struct Job {
    batch: EventBatch,
    reply: oneshot::Sender<Result<InsertSummary, RepoError>>,
}

/// Event store on PostgreSQL. Cheap to share behind an `Arc`; when the last handle is dropped the
/// writers finish the queued work and stop (await [`WriterHandle::join`]).
pub struct PgEventRepository {
    queue: mpsc::Sender<Job>,
}

/// The writer tasks of a [`PgEventRepository`]. Dropping it detaches them (they still drain the
/// queue and stop when the repository is dropped).
pub struct WriterHandle {
    tasks: Vec<JoinHandle<()>>,
}

impl WriterHandle {
    /// Waits until every writer has drained the queue and stopped. Call after dropping every
    /// handle to the repository.
    pub async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

impl PgEventRepository {
    /// Starts the writer tasks on the current tokio runtime.
    pub fn start(pool: PgPool, config: &GroupCommitConfig) -> (Self, WriterHandle) {
        let (queue, rx) = mpsc::channel(config.queue_capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let mut tasks = Vec::new();
        for _ in 0..config.writers.max(1) {
            let writer = Writer {
                pool: pool.clone(),
                rx: Arc::clone(&rx),
                max_rows: config.max_rows_per_commit.max(1),
            };
            tasks.push(tokio::spawn(writer.run()));
        }
        (Self { queue }, WriterHandle { tasks })
    }
}

#[async_trait]
impl EventRepository for PgEventRepository {
    async fn insert_batch(&self, batch: EventBatch) -> Result<InsertSummary, RepoError> {
        if batch.events.is_empty() {
            return Ok(InsertSummary::default());
        }
        let (reply, answer) = oneshot::channel();
        self.queue.try_send(Job { batch, reply }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => RepoError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => {
                RepoError::Unavailable("event writer stopped".to_owned())
            }
        })?;
        answer
            .await
            .map_err(|_| RepoError::Unexpected(anyhow::anyhow!("event writer dropped a request")))?
    }
}

struct Writer {
    pool: PgPool,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    max_rows: usize,
}

impl Writer {
    async fn run(self) {
        while let Some(group) = self.next_group().await {
            self.commit_group(group).await;
        }
    }

    /// Waits for one job, then takes whatever else is queued, up to the row budget.
    async fn next_group(&self) -> Option<Vec<Job>> {
        let mut rx = self.rx.lock().await;
        let first = rx.recv().await?;
        let mut rows = first.batch.events.len();
        let mut group = vec![first];
        while rows < self.max_rows {
            match rx.try_recv() {
                Ok(job) => {
                    rows += job.batch.events.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        Some(group)
    }

    async fn commit_group(&self, group: Vec<Job>) {
        let batches: Vec<&EventBatch> = group.iter().map(|j| &j.batch).collect();
        match insert_retrying(&self.pool, &batches).await {
            Ok(summaries) => {
                for (job, summary) in group.into_iter().zip(summaries) {
                    let _ = job.reply.send(Ok(summary));
                }
            }
            // One request's data must not fail the others: retry each on its own unless the
            // database itself is the problem.
            Err(InsertFailure::Query(e)) if group.len() > 1 && !is_transient(&e) => {
                tracing::warn!(error = %e, requests = group.len(), "grouped insert failed; retrying requests one by one");
                for job in group {
                    let result = insert_retrying(&self.pool, &[&job.batch])
                        .await
                        .map_err(InsertFailure::into_repo);
                    let _ = job.reply.send(result.map(|mut s| s.remove(0)));
                }
            }
            Err(failure) => {
                let reason = failure.to_string();
                tracing::warn!(error = %reason, requests = group.len(), "event insert failed");
                let transient = failure.is_transient();
                for job in group {
                    let err = if transient {
                        RepoError::Unavailable(reason.clone())
                    } else {
                        RepoError::Unexpected(anyhow::anyhow!("{reason}"))
                    };
                    let _ = job.reply.send(Err(err));
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum InsertFailure {
    #[error("no database connection: {0}")]
    Pool(String),
    #[error("insert failed: {0}")]
    Query(diesel::result::Error),
}

impl InsertFailure {
    fn is_transient(&self) -> bool {
        match self {
            InsertFailure::Pool(_) => true,
            InsertFailure::Query(e) => is_transient(e),
        }
    }

    fn into_repo(self) -> RepoError {
        match self {
            InsertFailure::Pool(why) => RepoError::Unavailable(why),
            InsertFailure::Query(e) => from_query(e),
        }
    }
}

/// The stored columns, in bind order.
const COLUMNS: [(&str, &str); 40] = [
    ("id", "uuid"),
    ("project_id", "text"),
    ("trace_id", "text"),
    ("span_id", "text"),
    ("parent_span_id", "text"),
    ("feature", "text"),
    ("user_id", "text"),
    ("provider", "text"),
    ("model", "text"),
    ("input_tokens", "int4"),
    ("output_tokens", "int4"),
    ("cached_tokens", "int4"),
    ("cache_write_tokens", "int4"),
    ("cache_write_1h_tokens", "int4"),
    ("reasoning_tokens", "int4"),
    ("latency_ms", "int4"),
    ("estimated_cost_usd", "numeric"),
    ("provider_cost_usd", "numeric"),
    ("verified_cost_usd", "numeric"),
    ("input_cost_usd", "numeric"),
    ("cache_read_cost_usd", "numeric"),
    ("cache_write_cost_usd", "numeric"),
    ("output_cost_usd", "numeric"),
    ("reasoning_cost_usd", "numeric"),
    ("priced_as", "text"),
    ("price_source", "text"),
    ("price_effective_from", "date"),
    ("is_cache_hit", "bool"),
    ("metadata", "jsonb"),
    ("is_streaming", "bool"),
    ("error_code", "text"),
    ("retry_count", "int4"),
    ("is_error", "bool"),
    ("created_at", "timestamptz"),
    ("received_at", "timestamptz"),
    ("prompt_hash", "text"),
    ("template_hash", "text"),
    ("prompt_text", "text"),
    // Arrays per row travel as their text form (unnest would flatten a 2-D array).
    ("prompt_signature", "text"),
    ("prompt_bands", "text"),
];

/// Bound columns that are not stored in `events` (they go to `prompt_fingerprints`).
const NOT_IN_EVENTS: [&str; 2] = ["prompt_signature", "prompt_bands"];

/// Upserts the fingerprints of the distinct prompts among the rows selected by `rows` (columns
/// `project_id, prompt_hash, template_hash, signature integer[], bands bigint[]`, `prompt_hash`
/// not null) into `prompt_fingerprints`, as a CTE named `prompt_fold`. A prompt already known
/// keeps its row. Ordered by key, so concurrent statements lock in one order.
pub fn prompt_fold_cte(rows: &str) -> String {
    format!(
        "prompt_fold AS (INSERT INTO prompt_fingerprints (project_id, prompt_hash, template_hash, \
         signature, bands) SELECT DISTINCT ON (project_id, prompt_hash) project_id, prompt_hash, \
         template_hash, signature, bands FROM ({rows}) AS p ORDER BY project_id, prompt_hash \
         ON CONFLICT (project_id, prompt_hash) DO NOTHING)"
    )
}

/// Columns the rollups are computed from (returned by the event insert).
pub const ROLLUP_INPUT: &str = "id, project_id, created_at, feature, model, provider, user_id, is_error, \
    retry_count, cached_tokens, is_streaming, priced_as, input_tokens, output_tokens, \
    cache_write_tokens, reasoning_tokens, verified_cost_usd, latency_ms";

/// The upsert of one time-bucketed rollup from the inserted rows (`ins`). Rows are grouped and
/// ordered by the key, so concurrent statements lock rollup rows in the same order.
fn rollup_upsert(table: &str, unit: &str) -> String {
    format!(
        "{table} AS (INSERT INTO {table} AS r (project_id, bucket, feature, model, provider, is_error, \
         calls, retried_calls, retries, cache_hits, streaming_calls, unpriced_calls, input_tokens, \
         output_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost_usd, \
         retried_cost_usd, latency_sum, latency_min, latency_max, latency_hist) \
         SELECT project_id, date_trunc('{unit}', created_at, 'UTC'), feature, model, provider, is_error, \
         count(*), count(*) FILTER (WHERE retry_count > 0), sum(retry_count), \
         count(*) FILTER (WHERE cached_tokens > 0), count(*) FILTER (WHERE is_streaming), \
         count(*) FILTER (WHERE priced_as IS NULL), sum(input_tokens), sum(output_tokens), \
         sum(cached_tokens), sum(cache_write_tokens), sum(reasoning_tokens), sum(verified_cost_usd), \
         coalesce(sum(verified_cost_usd) FILTER (WHERE retry_count > 0), 0), sum(latency_ms), \
         min(latency_ms), max(latency_ms), aicp_hist(latency_ms) \
         FROM ins GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6 \
         ON CONFLICT (project_id, bucket, feature, model, provider, is_error) DO UPDATE SET \
         calls = r.calls + excluded.calls, retried_calls = r.retried_calls + excluded.retried_calls, \
         retries = r.retries + excluded.retries, cache_hits = r.cache_hits + excluded.cache_hits, \
         streaming_calls = r.streaming_calls + excluded.streaming_calls, \
         unpriced_calls = r.unpriced_calls + excluded.unpriced_calls, \
         input_tokens = r.input_tokens + excluded.input_tokens, \
         output_tokens = r.output_tokens + excluded.output_tokens, \
         cached_tokens = r.cached_tokens + excluded.cached_tokens, \
         cache_write_tokens = r.cache_write_tokens + excluded.cache_write_tokens, \
         reasoning_tokens = r.reasoning_tokens + excluded.reasoning_tokens, \
         cost_usd = r.cost_usd + excluded.cost_usd, \
         retried_cost_usd = r.retried_cost_usd + excluded.retried_cost_usd, \
         latency_sum = r.latency_sum + excluded.latency_sum, \
         latency_min = least(r.latency_min, excluded.latency_min), \
         latency_max = greatest(r.latency_max, excluded.latency_max), \
         latency_hist = aicp_hist_add(r.latency_hist, excluded.latency_hist))"
    )
}

/// The three rollup upserts, as CTEs over rows named `ins` (columns [`ROLLUP_INPUT`]).
fn rollup_upserts() -> String {
    format!(
        "{}, {}, \
         rollup_user_daily AS (INSERT INTO rollup_user_daily AS r (project_id, bucket, user_id, \
             calls, input_tokens, output_tokens, cost_usd, latency_sum, latency_min, latency_max) \
             SELECT project_id, date_trunc('day', created_at, 'UTC'), user_id, count(*), \
             sum(input_tokens), sum(output_tokens), sum(verified_cost_usd), sum(latency_ms), \
             min(latency_ms), max(latency_ms) \
             FROM ins WHERE user_id IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 \
             ON CONFLICT (project_id, bucket, user_id) DO UPDATE SET calls = r.calls + excluded.calls, \
             input_tokens = r.input_tokens + excluded.input_tokens, \
             output_tokens = r.output_tokens + excluded.output_tokens, \
             cost_usd = r.cost_usd + excluded.cost_usd, \
             latency_sum = r.latency_sum + excluded.latency_sum, \
             latency_min = least(r.latency_min, excluded.latency_min), \
             latency_max = greatest(r.latency_max, excluded.latency_max)) \
         ",
        rollup_upsert("rollup_hourly", "hour"),
        rollup_upsert("rollup_daily", "day"),
    )
}

/// One statement folding the rows selected by `rows` (which must select the columns of
/// [`ROLLUP_INPUT`], e.g. events loaded with COPY, which bypasses the insert statement) into the
/// rollups; returns the number of rows folded. The same SQL as the insert path, so the two can
/// never disagree.
pub fn fold_into_rollups_sql(rows: &str) -> String {
    format!("WITH ins AS ({rows}), {} SELECT count(*) AS folded FROM ins", rollup_upserts())
}

/// One statement: insert the events (skipping known ones) and fold exactly the inserted rows
/// into the rollups; returns the ids of the inserted rows. The data-modifying CTEs run in the
/// order written for every writer, so all writers take locks in the same order.
fn insert_sql(with_prompts: bool) -> &'static (String, String) {
    static PLAIN: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    static PROMPTS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let build = move || {
        let names: Vec<&str> = COLUMNS.iter().map(|(n, _)| *n).collect();
        let stored: Vec<&str> =
            names.iter().copied().filter(|n| !NOT_IN_EVENTS.contains(n)).collect();
        let (names, stored) = (names.join(", "), stored.join(", "));
        let insert = format!(
            "INSERT INTO events ({stored}) SELECT {stored} FROM {{source}} \
             ON CONFLICT (project_id, trace_id, span_id) DO NOTHING RETURNING {ROLLUP_INPUT}"
        );
        if with_prompts {
            // The unnested rows feed two writes (events, prompt fingerprints): a CTE.
            let tail = format!(
                ") AS u({names})), ins AS ({}), {}, {} SELECT id FROM ins",
                insert.replace("{source}", "u"),
                rollup_upserts(),
                prompt_fold_cte(
                    "SELECT project_id, prompt_hash, template_hash, \
                     prompt_signature::integer[] AS signature, prompt_bands::bigint[] AS bands \
                     FROM u WHERE prompt_hash IS NOT NULL"
                ),
            );
            ("WITH u AS (SELECT * FROM unnest(".to_owned(), tail)
        } else {
            // No prompt in the group: the unnest feeds the insert directly (no materialised CTE).
            let (head, source) = insert
                .split_once("{source}")
                .map(|(h, t)| (h.to_owned(), t.to_owned()))
                .unwrap_or_default();
            (
                format!("WITH ins AS ({head}unnest("),
                format!(") AS u({names}){source}), {} SELECT id FROM ins", rollup_upserts()),
            )
        }
    };
    if with_prompts { PROMPTS.get_or_init(build) } else { PLAIN.get_or_init(build) }
}

/// The insert statement over one group's columns. A query type of our own (rather than
/// `sql_query`, which diesel never caches) so that diesel-async prepares it once per connection:
/// parsing and planning this statement cost more than executing it for small batches.
struct InsertStatement<'a> {
    cols: &'a Columns,
    /// Whether any row carries a prompt (then its fingerprint is folded too).
    with_prompts: bool,
}

impl QueryId for InsertStatement<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for InsertStatement<'_> {
    type SqlType = diesel::sql_types::Uuid;
}

impl QueryFragment<Pg> for InsertStatement<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let (head, tail) = insert_sql(self.with_prompts);
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
    }
}

/// [`insert`], retried twice when PostgreSQL aborted it to break a deadlock or a serialization
/// conflict (nothing was written then, so a retry is safe).
async fn insert_retrying(
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
    let inserted: Vec<Uuid> =
        InsertStatement { with_prompts: cols.prompt_hash.iter().any(Option::is_some), cols: &cols }
            .load(&mut conn)
            .await
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
