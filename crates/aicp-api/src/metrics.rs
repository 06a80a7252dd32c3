//! Prometheus metrics: the recorder, the names, and the helpers the handlers call. The `metrics`
//! macros write to one process-wide recorder, so any module (the rollup folder later) adds a
//! counter or gauge with one macro call and it appears in `GET /metrics`.

use aicp_domain::otlp::SpanReceipt;

/// OTLP spans by outcome (`accepted`, `duplicate`, `skipped`, `rejected`).
pub const OTLP_SPANS: &str = "aicp_otlp_spans_total";

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
