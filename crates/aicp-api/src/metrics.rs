//! Prometheus metrics: the recorder, the names, the request middleware and the ingest decorator.
//! The `metrics` macros write to one process-wide recorder (that is how the `metrics` facade
//! works), so any module, in any crate, adds a counter or gauge with one macro call and it
//! appears in `GET /metrics` (`routes/metrics.rs`).

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use aicp_domain::otlp::SpanReceipt;
use aicp_domain::ports::{EventBatch, EventRepository, InsertSummary, RepoError};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// HTTP requests by method, route pattern and status.
pub const HTTP_REQUESTS: &str = "aicp_http_requests_total";
/// HTTP request latency by method and route pattern.
pub const HTTP_DURATION: &str = "aicp_http_request_duration_seconds";
/// Events by outcome of the store (`inserted`, `duplicate`).
pub const EVENTS: &str = "aicp_events_total";
/// Event batches refused before the store, by reason (`invalid`).
pub const EVENTS_REFUSED: &str = "aicp_ingest_batches_refused_total";
/// Store failures of ingest, by reason (`unavailable`, `overloaded`, `unexpected`).
pub const INGEST_FAILURES: &str = "aicp_ingest_failures_total";
/// Events per batch handed to the group-commit writers.
pub const INGEST_BATCH: &str = "aicp_ingest_batch_events";
/// Time a batch waited for its commit (queue plus transaction).
pub const INGEST_COMMIT: &str = "aicp_ingest_commit_seconds";
/// Rate-limit decisions by policy and decision (`allowed`, `limited`).
pub const RATE_LIMIT: &str = "aicp_ratelimit_decisions_total";
/// Open live-stream (SSE) connections.
pub const SSE_CLIENTS: &str = "aicp_sse_clients";
/// Rows written by exports.
pub const EXPORT_ROWS: &str = "aicp_export_rows_total";
/// OTLP spans by outcome (`accepted`, `duplicate`, `skipped`, `rejected`).
pub const OTLP_SPANS: &str = "aicp_otlp_spans_total";
/// Events folded into the rollups by this process.
pub const FOLDED: &str = "aicp_rollup_folded_events_total";
/// Folds of this process that failed (nothing folded; retried with backoff).
pub const FOLD_FAILURES: &str = "aicp_rollup_fold_failures_total";
/// How long the oldest event of each fold had waited: the lag of the rollups behind the events.
pub const FOLD_WAIT: &str = "aicp_rollup_fold_wait_seconds";
/// Events committed but not yet folded (all processes), read every second.
pub const PENDING: &str = "aicp_rollup_pending_events";
/// Age of the oldest of them (0 when none).
pub const PENDING_AGE: &str = "aicp_rollup_pending_age_seconds";
/// The embeddings worker's counters by kind (`queued`, `embedded`, …), since start-up.
pub const EMBEDDINGS: &str = "aicp_embeddings_prompts";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder (once per process; later calls return the same handle).
/// `None` when another recorder was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let seconds =
                [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
            let events = [1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0];
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(INGEST_BATCH.into()), &events))
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .as_ref()
}

/// The installed recorder's handle, if any.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get().and_then(Option::as_ref)
}

/// Drains histograms periodically (the exporter does not on its own when it renders for us).
pub fn spawn_upkeep(
    handle: &'static PrometheusHandle,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    })
}

/// Counts every request by method, route pattern (never the raw path: bounded label values) and
/// status, and times it.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    // The pattern of the route the path matches, even when the guard answers before routing.
    let route = req.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    metrics::counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    res
}

/// Counts what an OTLP export did.
pub fn otlp_spans(r: &SpanReceipt) {
    for (outcome, n) in [
        ("accepted", r.inserted),
        ("duplicate", r.duplicates),
        ("skipped", r.skipped),
        ("rejected", r.rejected),
    ] {
        metrics::counter!(OTLP_SPANS, "outcome" => outcome).increment(n as u64);
    }
}

/// Counts a batch refused by validation.
pub fn batch_refused() {
    metrics::counter!(EVENTS_REFUSED, "reason" => "invalid").increment(1);
}

/// Counts a rate-limit decision.
pub fn rate_decision(policy: &str, allowed: bool) {
    let decision = if allowed { "allowed" } else { "limited" };
    metrics::counter!(RATE_LIMIT, "policy" => policy.to_owned(), "decision" => decision)
        .increment(1);
}

/// The event store, counted: every ingest path (JSON, OTLP) goes through it.
pub struct MeteredEvents(pub Arc<dyn EventRepository>);

#[async_trait::async_trait]
impl EventRepository for MeteredEvents {
    async fn insert_batch(&self, batch: EventBatch) -> Result<InsertSummary, RepoError> {
        metrics::histogram!(INGEST_BATCH).record(batch.events.len() as f64);
        let started = Instant::now();
        let result = self.0.insert_batch(batch).await;
        metrics::histogram!(INGEST_COMMIT).record(started.elapsed().as_secs_f64());
        match &result {
            Ok(s) => {
                metrics::counter!(EVENTS, "outcome" => "inserted")
                    .increment(s.inserted.len() as u64);
                metrics::counter!(EVENTS, "outcome" => "duplicate").increment(s.duplicates as u64);
            }
            Err(e) => {
                let reason = match e {
                    RepoError::Unavailable(_) => "unavailable",
                    RepoError::Overloaded => "overloaded",
                    RepoError::Unexpected(_) => "unexpected",
                };
                metrics::counter!(INGEST_FAILURES, "reason" => reason).increment(1);
            }
        }
        result
    }
}
