//! `GET /api/v1/stream/costs`: the live cost stream (server-sent events), and
//! `POST /api/v1/stream/token`: a short-lived signed token for browsers, whose `EventSource`
//! cannot send an API key header.
//!
//! Frames: a `retry:` hint, the original's `snapshot` frame, then one `cost_update` frame per
//! committed batch of the caller's project — with the original's `data:{…}` and, at top level,
//! the fields the original dashboard reads (`count`, `totalCost`, `timestamp`, `features`) —
//! and a `: keepalive` comment at a regular interval. A client that falls behind is dropped
//! instead of buffered; a client that closes its connection frees its slot at once (noticed on
//! the socket, `disconnect.rs`, not at the next write); when the server shuts down every stream
//! gets a final `: closing` comment and ends, so shutdown does not wait for its timeout and
//! `EventSource` reconnects (to another node) after the `retry:` hint.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use aicp_domain::Usd;
use aicp_domain::live::LiveMessage;
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use serde_json::json;

use crate::error::{ApiError, ErrorBody};
use crate::routes::project_of;
use crate::state::AppState;

enum Frame {
    Data(String),
    Keepalive,
    /// The server is shutting down: the last frame.
    Closing,
    End,
}

fn sse(frame: &Frame) -> Bytes {
    match frame {
        Frame::Data(json) => Bytes::from(format!("data: {json}\n\n")),
        Frame::Keepalive => Bytes::from_static(b": keepalive\n\n"),
        Frame::Closing => Bytes::from_static(b": closing: the server is shutting down\n\n"),
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
        Ok(t) => t.cost,
        Err(e) => {
            tracing::warn!(error = %e, "live snapshot unavailable; sending 0");
            Usd::ZERO
        }
    };
    let now = || chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let snapshot = json!({
        "type": "snapshot",
        "totalCost": Usd::to_f64(total),
        "totalCostUsd": total,
        "timestamp": now(),
    })
    .to_string();
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
    let gone = crate::disconnect::closed(&req);
    let gone = stream::once(async move {
        match gone {
            Some(closed) => closed.await,
            None => std::future::pending().await,
        }
        Frame::End
    });
    let mut closing = live.closing.clone();
    let closing = stream::once(async move {
        // An error means the sender is gone, which also means the server is going.
        let _ = closing.wait_for(|c| *c).await;
    })
    .flat_map(|()| stream::iter([Frame::Closing, Frame::End]));
    let head =
        stream::iter([Bytes::from(format!("retry: {}\n\n", 3000)), sse(&Frame::Data(snapshot))]);
    let events = stream::select(updates.chain(stream::iter([Frame::End])), ticks);
    let body = stream::select(events, stream::select(gone, closing))
        .take_while(|f| std::future::ready(!matches!(f, Frame::End)))
        .map(move |f| {
            // The slot lives as long as the stream: dropped with it when the client leaves.
            let _held = &slot;
            sse(&f)
        });
    let all = head.chain(body).map(Ok::<_, actix_web::Error>);
    Ok(HttpResponse::Ok()
        // The connection ends with the stream (a shutdown would otherwise wait for the idle
        // keep-alive connection); EventSource opens a new one to reconnect anyway.
        .force_close()
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
    let token = crate::access::stream_token(guard, &project, expires.timestamp());
    Ok(HttpResponse::Ok().json(json!({
        "token": token,
        "expiresAt": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })))
}
