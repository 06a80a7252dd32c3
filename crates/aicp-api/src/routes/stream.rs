//! `GET /api/v1/stream/costs`: the live cost stream (server-sent events), and
//! `POST /api/v1/stream/token`: a short-lived signed token for browsers, whose `EventSource`
//! cannot send an API key header.
//!
//! Frames: a `retry:` hint, the original's `snapshot` frame, then one `cost_update` frame per
//! committed batch of the caller's project — with the original's `data:{…}` and, at top level,
//! the fields the original dashboard reads (`count`, `totalCost`, `timestamp`, `features`) —
//! and a `: keepalive` comment at a regular interval. A client that falls behind is dropped
//! instead of buffered; a disconnect frees its slot at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use aicp_domain::live::{LiveFeed, LiveMessage};
use aicp_domain::{ProjectId, Usd};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use serde_json::json;

use crate::error::{ApiError, ErrorBody};
use crate::routes::project_of;
use crate::state::AppState;

/// The live stream's wiring and limits.
pub struct Live {
    /// This process's feed.
    pub feed: Arc<dyn LiveFeed>,
    /// Connection slots.
    pub slots: Arc<Slots>,
    /// Interval of `: keepalive` comments.
    pub keepalive: Duration,
}

/// Connection caps, per project and in total.
#[derive(Debug)]
pub struct Slots {
    per_project: usize,
    total: usize,
    used: AtomicUsize,
    by_project: Mutex<HashMap<ProjectId, usize>>,
}

/// A taken slot, given back when dropped (the stream ends or the client disconnects).
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    project: ProjectId,
}

impl Slots {
    /// At most `per_project` streams per project and `total` in all.
    pub fn new(per_project: usize, total: usize) -> Arc<Self> {
        Arc::new(Self {
            per_project,
            total,
            used: AtomicUsize::new(0),
            by_project: Mutex::default(),
        })
    }

    /// Takes a slot for `project`.
    ///
    /// # Errors
    /// 429 when the project is at its cap, 503 when the server is.
    pub fn acquire(self: &Arc<Self>, project: &ProjectId) -> Result<Slot, ApiError> {
        let mut by_project =
            self.by_project.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mine = by_project.get(project).copied().unwrap_or(0);
        if mine >= self.per_project {
            return Err(ApiError::TooManyStreams(self.per_project));
        }
        if self.used.load(Ordering::SeqCst) >= self.total {
            return Err(ApiError::StreamCapacity);
        }
        self.used.fetch_add(1, Ordering::SeqCst);
        by_project.insert(project.clone(), mine + 1);
        Ok(Slot { slots: Arc::clone(self), project: project.clone() })
    }

    /// Streams open now.
    pub fn in_use(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut by_project =
            self.slots.by_project.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = by_project.get_mut(&self.project) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                by_project.remove(&self.project);
            }
        }
        self.slots.used.fetch_sub(1, Ordering::SeqCst);
    }
}

enum Frame {
    Data(String),
    Keepalive,
    End,
}

fn sse(frame: &Frame) -> Bytes {
    match frame {
        Frame::Data(json) => Bytes::from(format!("data: {json}\n\n")),
        Frame::Keepalive => Bytes::from_static(b": keepalive\n\n"),
        Frame::End => Bytes::new(),
    }
}

/// Follow the caller's project's costs live (server-sent events). Browsers pass
/// `?token=` from `POST /api/v1/stream/token` instead of an API key header.
#[utoipa::path(get, path = "/api/v1/stream/costs", tag = "stream",
    params(("token" = Option<String>, Query, description = "Signed stream token (browsers)")),
    responses(
        (status = 200, description = "text/event-stream", content_type = "text/event-stream"),
        (status = 429, description = "Too many streams for this project", body = ErrorBody),
        (status = 503, description = "Too many streams on this server", body = ErrorBody)))]
#[get("/stream/costs")]
pub async fn costs(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some(live) = state.live.as_ref() else {
        return Err(ApiError::NotFound { path: req.path().to_owned() });
    };
    let project = project_of(&req);
    let slot = live.slots.acquire(&project)?;
    // Follow before reading the snapshot, so no update committed in between is missed.
    let updates = live.feed.follow();
    let total = match state.analytics.totals(&project).await {
        Ok(t) => Usd::to_f64(t.cost),
        Err(e) => {
            tracing::warn!(error = %e, "live snapshot unavailable; sending 0");
            0.0
        }
    };
    let now = || chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let snapshot = json!({"type": "snapshot", "totalCost": total, "timestamp": now()}).to_string();
    let mine = project.as_str().to_owned();
    let updates = updates.filter_map(move |m| {
        let frame = match m {
            LiveMessage::Update(u) if u.project == mine => {
                let ts = u.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                Some(Frame::Data(
                    json!({
                        "type": "cost_update",
                        "data": {
                            "costDelta": Usd::to_f64(u.cost_delta),
                            "costDeltaUsd": u.cost_delta,
                            "requestsDelta": u.requests_delta,
                            "tokensDelta": u.tokens_delta,
                            "timestamp": ts,
                        },
                        "count": u.requests_delta,
                        "totalCost": Usd::to_f64(u.cost_delta),
                        "timestamp": ts,
                        "features": u.features,
                    })
                    .to_string(),
                ))
            }
            LiveMessage::Update(_) => None,
            LiveMessage::Lagged => {
                tracing::info!("dropping a live-stream client that fell behind");
                Some(Frame::End)
            }
        };
        std::future::ready(frame)
    });
    let period = live.keepalive;
    let ticks = stream::unfold((), move |()| async move {
        tokio::time::sleep(period).await;
        Some((Frame::Keepalive, ()))
    });
    let head =
        stream::iter([Bytes::from(format!("retry: {}\n\n", 3000)), sse(&Frame::Data(snapshot))]);
    let body = stream::select(updates.chain(stream::iter([Frame::End])), ticks)
        .take_while(|f| std::future::ready(!matches!(f, Frame::End)))
        .map(move |f| {
            // The slot lives as long as the stream: dropped with it when the client leaves.
            let _held = &slot;
            sse(&f)
        });
    let all = head.chain(body).map(Ok::<_, actix_web::Error>);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(all))
}

/// Issue a stream token for the caller's project, valid for 5 minutes (for `EventSource`).
#[utoipa::path(post, path = "/api/v1/stream/token", tag = "stream",
    responses((status = 200, description = "{token, expiresAt}", body = Object)))]
#[post("/stream/token")]
pub async fn token(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some(guard) = state.guard.as_ref() else {
        return Err(ApiError::NotFound { path: req.path().to_owned() });
    };
    let project = project_of(&req);
    let expires = chrono::Utc::now() + chrono::Duration::minutes(5);
    let token = crate::guard::stream_token(guard, &project, expires.timestamp());
    Ok(HttpResponse::Ok().json(json!({
        "token": token,
        "expiresAt": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })))
}
