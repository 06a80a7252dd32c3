//! The SQL text of the event insert (the stored columns in bind order, the queueing of new events
//! for the rollup fold, the prompt fingerprint fold) and of the rollup fold itself. The fold's
//! upserts are one piece of SQL over rows named `ins`, used by the background fold of
//! `rollup_pending` ([`fold_pending_sql`]) and by `cargo xtask seed` after COPY
//! ([`fold_into_rollups_sql`]), so the two can never disagree.

/// The stored columns, in bind order.
pub(super) const COLUMNS: [(&str, &str); 41] = [
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
    ("prompt_scheme", "int4"),
];

/// Bound columns that are not stored in `events` (they go to `prompt_fingerprints`).
const NOT_IN_EVENTS: [&str; 3] = ["prompt_signature", "prompt_bands", "prompt_scheme"];

/// Upserts the fingerprints of the distinct prompts among the rows selected by `rows` (columns
/// `project_id, prompt_hash, template_hash, signature integer[], bands bigint[], scheme integer`,
/// `prompt_hash` not null) into `prompt_fingerprints`, as a CTE named `prompt_fold`. A prompt
/// already known keeps its row, unless another scheme made it: then it is fingerprinted again
/// (the only moment its text exists when only fingerprints are kept). Ordered by key, so
/// concurrent statements lock in one order.
pub fn prompt_fold_cte(rows: &str) -> String {
    format!(
        "prompt_fold AS (INSERT INTO prompt_fingerprints (project_id, prompt_hash, template_hash, \
         signature, bands, scheme) SELECT DISTINCT ON (project_id, prompt_hash) project_id, \
         prompt_hash, template_hash, signature, bands, scheme FROM ({rows}) AS p \
         ORDER BY project_id, prompt_hash \
         ON CONFLICT (project_id, prompt_hash) DO UPDATE SET template_hash = EXCLUDED.template_hash, \
         signature = EXCLUDED.signature, bands = EXCLUDED.bands, scheme = EXCLUDED.scheme \
         WHERE prompt_fingerprints.scheme IS DISTINCT FROM EXCLUDED.scheme)"
    )
}

/// Columns the rollups are computed from: returned by the event insert, copied into
/// `rollup_pending` and read back by the fold.
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
/// [`ROLLUP_INPUT`], e.g. events loaded with COPY, which bypasses the insert statement and its
/// queueing) into the rollups; returns the number of rows folded. The same upserts as the
/// background fold.
pub fn fold_into_rollups_sql(rows: &str) -> String {
    format!("WITH ins AS ({rows}), {} SELECT count(*) AS folded FROM ins", rollup_upserts())
}

/// The background fold's statement: deletes up to `$1` rows of `rollup_pending` and adds exactly
/// the deleted rows to the rollups, atomically (one statement; the caller's transaction also
/// holds the fold lock). Returns the rows folded and how long the oldest of them waited (ms).
///
/// Exactly once: a pending row leaves the table only by this DELETE, and its delta reaches the
/// rollups only through the upserts over what that DELETE returned, in the same transaction, so
/// both happen or neither does. A concurrent DELETE of the same row (a second folder without the
/// lock) blocks on the row lock and then skips the row, so it cannot be folded twice either.
/// The rows are picked by physical position (`ctid`), which needs no index and takes the oldest
/// pages first.
pub fn fold_pending_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "WITH ins AS (DELETE FROM rollup_pending WHERE ctid = ANY(ARRAY(\
             SELECT ctid FROM rollup_pending LIMIT $1)) RETURNING {ROLLUP_INPUT}, queued_at), {} \
             SELECT count(*) AS folded, coalesce((extract(epoch FROM clock_timestamp() - min(queued_at)) \
             * 1000)::bigint, 0) AS oldest_wait_ms FROM ins",
            rollup_upserts()
        )
    })
}

/// The CTE that queues the inserted rows (`ins`) for the fold.
fn queue_pending() -> String {
    format!(
        "pending AS (INSERT INTO rollup_pending ({ROLLUP_INPUT}) SELECT {ROLLUP_INPUT} FROM ins)"
    )
}

/// One statement: insert the events (skipping known ones) and queue exactly the inserted rows
/// for the rollup fold in `rollup_pending`; returns the ids of the inserted rows. No rollup row
/// is touched here: concurrent writers used to queue on the current hour's rollup rows, so
/// rollups are brought up to date by the fold, in large batches, once per key per fold.
pub(super) fn insert_sql(with_prompts: bool) -> &'static (String, String) {
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
                queue_pending(),
                prompt_fold_cte(
                    "SELECT project_id, prompt_hash, template_hash, \
                     prompt_signature::integer[] AS signature, prompt_bands::bigint[] AS bands, \
                     prompt_scheme AS scheme FROM u WHERE prompt_hash IS NOT NULL"
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
                format!(") AS u({names}){source}), {} SELECT id FROM ins", queue_pending()),
            )
        }
    };
    if with_prompts { PROMPTS.get_or_init(build) } else { PLAIN.get_or_init(build) }
}
