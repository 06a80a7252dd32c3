//! `GET /metrics`: Prometheus text. Admin key on the main port (the guard); no key on
//! `METRICS_ADDR`, a separate listener meant for a private network.

use actix_web::{HttpResponse, get, web};

use crate::metrics::{EMBEDDINGS, SSE_CLIENTS, handle};
use crate::state::AppState;

/// The metrics, in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain"),
              (status = 403, description = "Not the admin key (main port)"),
              (status = 404, description = "No metrics recorder in this process")))]
#[get("/metrics")]
pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    let Some(handle) = handle() else {
        return HttpResponse::NotFound().json(crate::error::ErrorBody::plain(
            "Metrics are not enabled in this process".to_owned(),
            "not_found",
        ));
    };
    // Gauges read from state at scrape time rather than kept in step at every change.
    if let Some(live) = &state.live {
        metrics::gauge!(SSE_CLIENTS).set(live.slots.in_use() as f64);
    }
    if let Some(e) = &state.embeddings {
        let c = e.indexer.stats();
        for (kind, n) in [
            ("queued", c.queued),
            ("embedded", c.embedded),
            ("already_embedded", c.already_embedded),
            ("skipped_queue_full", c.skipped_queue_full),
            ("failed", c.failed),
        ] {
            metrics::gauge!(EMBEDDINGS, "kind" => kind).set(n as f64);
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}
