//! Checks of the rollups against a naive recomputation from the raw rows.

use tokio_postgres::Client;

/// Rows of the rollup tables that differ from the same aggregates computed from `events`, both
/// ways (0 when they are equal). Meaningful once nothing is pending: see [`pending_events`].
///
/// # Errors
/// When a query fails.
pub async fn rollup_mismatches(client: &Client) -> Result<i64, tokio_postgres::Error> {
    let bucketed = |table: &str, unit: &str| {
        format!(
            "WITH naive AS (SELECT project_id, date_trunc('{unit}', created_at, 'UTC') AS bucket, feature, \
             model, provider, is_error, count(*) AS calls, count(*) FILTER (WHERE retry_count > 0) AS rc, \
             sum(retry_count) AS retries, count(*) FILTER (WHERE cached_tokens > 0) AS hits, \
             count(*) FILTER (WHERE is_streaming) AS streaming, count(*) FILTER (WHERE priced_as IS NULL) AS unpriced, \
             sum(input_tokens) AS i, sum(output_tokens) AS o, sum(cached_tokens) AS c, \
             sum(verified_cost_usd) AS cost, coalesce(sum(verified_cost_usd) FILTER (WHERE retry_count > 0), 0) AS rcost, \
             sum(latency_ms) AS ls, min(latency_ms) AS lmin, max(latency_ms) AS lmax, aicp_hist(latency_ms) AS h \
             FROM events GROUP BY 1, 2, 3, 4, 5, 6), \
             roll AS (SELECT project_id, bucket, feature, model, provider, is_error, calls, retried_calls, retries, \
             cache_hits, streaming_calls, unpriced_calls, input_tokens, output_tokens, cached_tokens, cost_usd, \
             retried_cost_usd, latency_sum, latency_min, latency_max, latency_hist FROM {table}) \
             SELECT (SELECT count(*) FROM (SELECT * FROM naive EXCEPT SELECT * FROM roll) a) + \
                    (SELECT count(*) FROM (SELECT * FROM roll EXCEPT SELECT * FROM naive) b)"
        )
    };
    let users = "WITH naive AS (SELECT project_id, date_trunc('day', created_at, 'UTC') AS bucket, user_id, \
        count(*), sum(input_tokens), sum(output_tokens), sum(verified_cost_usd), sum(latency_ms), \
        min(latency_ms), max(latency_ms) \
        FROM events WHERE user_id IS NOT NULL GROUP BY 1, 2, 3), \
        roll AS (SELECT project_id, bucket, user_id, calls, input_tokens, output_tokens, cost_usd, latency_sum, \
        latency_min, latency_max \
        FROM rollup_user_daily) \
        SELECT (SELECT count(*) FROM (SELECT * FROM naive EXCEPT SELECT * FROM roll) a) + \
               (SELECT count(*) FROM (SELECT * FROM roll EXCEPT SELECT * FROM naive) b)";
    let mut total = 0;
    for sql in
        [bucketed("rollup_hourly", "hour"), bucketed("rollup_daily", "day"), users.to_owned()]
    {
        let n: i64 = client.query_one(&sql, &[]).await?.get(0);
        total += n;
    }
    Ok(total)
}

/// Events committed but not yet folded into the rollups.
///
/// # Errors
/// When the query fails.
pub async fn pending_events(client: &Client) -> Result<i64, tokio_postgres::Error> {
    Ok(client.query_one("SELECT count(*) FROM rollup_pending", &[]).await?.get(0))
}

/// Events stored twice in `rollup_pending` or pending for an event that is not stored (both must
/// be 0: a pending row is a copy of one stored event).
///
/// # Errors
/// When the query fails.
pub async fn orphan_or_duplicate_pending(client: &Client) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT (SELECT count(*) FROM rollup_pending p WHERE NOT EXISTS \
             (SELECT 1 FROM events e WHERE e.id = p.id)) + \
             (SELECT count(*) - count(DISTINCT id) FROM rollup_pending)",
            &[],
        )
        .await?
        .get(0))
}
