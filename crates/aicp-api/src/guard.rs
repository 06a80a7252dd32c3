//! The `/api` guard: authentication (who acts, for which project) then rate limiting, in the
//! original's order (auth before limits, both before routing, so unknown `/api` paths are
//! authenticated too). It also guards OTLP's `/v1/traces` (an ingest endpoint at the path OTLP
//! exporters expect) and `/metrics` (admin key). `/health`, the OpenAPI document and CORS preflights are not guarded.

use std::net::IpAddr;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, web};
use aicp_domain::auth::{AuthError, Principal};
use aicp_domain::ratelimit::{RateDecision, RatePolicy};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::access::verify_stream_token;
use crate::request_id::current_request_id;
use crate::state::AppState;

/// OTLP/HTTP trace export: guarded and limited like `POST /api/v1/events`.
const OTLP_TRACES: &str = "/v1/traces";
/// Prometheus metrics on the main port: admin key, like `/api/v1/admin/*`.
const METRICS: &str = "/metrics";

/// The key a request presents: `X-API-Key`, else `Authorization: Bearer`.
fn presented_key(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.to_owned());
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::to_owned)
}

/// The client's address: the peer, or — only when the peer is a trusted proxy — the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Some(forwarded.into_iter().rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer))
}

fn body(status: StatusCode, value: serde_json::Value) -> HttpResponse {
    let mut value = value;
    if let (Some(obj), Some(id)) = (value.as_object_mut(), current_request_id()) {
        obj.insert("requestId".into(), id.into());
    }
    HttpResponse::build(status).json(value)
}

fn rate_headers(headers: &mut HeaderMap, d: &RateDecision, policy: &RatePolicy) {
    let reset_ms = chrono::Utc::now().timestamp_millis()
        + i64::try_from(d.reset_after.as_millis()).unwrap_or(0);
    let reset_s = d.reset_after.as_secs() + u64::from(d.reset_after.subsec_nanos() > 0);
    let pairs = [
        ("x-ratelimit-limit", d.limit.to_string()),
        ("x-ratelimit-remaining", d.remaining.to_string()),
        ("x-ratelimit-reset", reset_ms.to_string()),
        ("ratelimit", format!("limit={}, remaining={}, reset={reset_s}", d.limit, d.remaining)),
        ("ratelimit-policy", format!("{};w={}", policy.limit, policy.period.as_secs())),
    ];
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(HeaderName::from_static(k), v);
        }
    }
}

/// Middleware over `/api`.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let path = req.path().to_owned();
    // OTLP's standard path is outside /api; it is an ingest endpoint all the same.
    let open = (!path.starts_with("/api/") && path != OTLP_TRACES && path != METRICS)
        || path == "/api/v1/openapi.json"
        || req.method() == Method::OPTIONS;
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let Some(guard) = state.guard.as_ref().filter(|_| !open) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // A dashboard session stands in for the key on safe requests (exports, the live stream):
    // its cookie is SameSite=Strict, and nothing that changes state accepts it.
    let presented = presented_key(req.headers()).or_else(|| {
        (req.method() == Method::GET || req.method() == Method::HEAD)
            .then(|| state.dashboard.sessions.key_of(req.request()))
            .flatten()
    });
    if path.starts_with("/api/v1/admin/") || path == METRICS {
        let ok = match (&guard.admin_digest, &presented) {
            (Some(want), Some(key)) => bool::from(guard.auth.digester().digest(key).ct_eq(want)),
            _ => false,
        };
        if !ok {
            let res = body(
                StatusCode::FORBIDDEN,
                json!({"error": "Forbidden", "message": "Invalid admin key", "code": "forbidden"}),
            );
            return Ok(req.into_response(res));
        }
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let token = (path == "/api/v1/stream/costs" && presented.is_none())
        .then(|| {
            web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
                .ok()
                .and_then(|q| q.get("token").cloned())
        })
        .flatten();
    let principal = if let Some(token) = token {
        match verify_stream_token(guard, &token) {
            Some(project) => Ok(Principal { project, key_id: None }),
            None => Err(AuthError::Invalid),
        }
    } else {
        guard.auth.authenticate(presented.as_deref()).await
    };
    let principal = match principal {
        Ok(p) => p,
        Err(AuthError::Missing) => {
            let res = body(
                StatusCode::UNAUTHORIZED,
                json!({"error": "Authentication required", "message": "Provide a valid API key via the X-API-Key header", "code": "authentication_required"}),
            );
            return Ok(req.into_response(res));
        }
        Err(AuthError::Invalid) => {
            let res = body(
                StatusCode::FORBIDDEN,
                json!({"error": "Forbidden", "message": "Invalid API key", "code": "forbidden"}),
            );
            return Ok(req.into_response(res));
        }
        Err(AuthError::Repo(e)) => {
            tracing::warn!(error = %e, "key store unavailable");
            let mut res = body(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "Service temporarily unavailable, retry later", "code": "service_unavailable"}),
            );
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Ok(req.into_response(res));
        }
    };
    let policy =
        if (path == "/api/v1/events" || path == OTLP_TRACES) && req.method() == Method::POST {
            Some(&guard.policies.events)
        } else if path.starts_with("/api/v1/analytics/") || path.starts_with("/api/v1/pricing") {
            Some(&guard.policies.analytics)
        } else if path.starts_with("/api/v1/export/") {
            Some(&guard.policies.export)
        } else {
            None
        };
    let identity = match (&principal.key_id, &presented) {
        (Some(id), _) => format!("k:{id}"),
        (None, Some(_)) => format!("p:{}", principal.project),
        (None, None) => {
            let ip =
                client_ip(req.peer_addr().map(|a| a.ip()), req.headers(), &guard.trusted_proxies);
            format!("ip:{}", ip.map_or_else(|| "unknown".to_owned(), |i| i.to_string()))
        }
    };
    let decision = match (policy, &guard.limiter) {
        (Some(policy), Some(limiter)) => Some((limiter.check(&identity, policy, 1).await, policy)),
        _ => None,
    };
    if let Some((d, policy)) = &decision {
        crate::metrics::rate_decision(&policy.name, d.allowed);
    }
    if let Some((d, policy)) = &decision
        && !d.allowed
    {
        let retry = d.retry_after.unwrap_or(policy.period);
        let secs = retry.as_secs() + u64::from(retry.subsec_nanos() > 0);
        let mut res = body(
            StatusCode::TOO_MANY_REQUESTS,
            json!({
                "error": "Rate limit exceeded",
                "message": format!("Too many requests. Limit: {} per {}s", policy.limit, policy.period.as_secs()),
                "retryAfter": secs,
                "code": "rate_limited",
            }),
        );
        rate_headers(res.headers_mut(), d, policy);
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        return Ok(req.into_response(res));
    }
    req.extensions_mut().insert(principal);
    let mut res = next.call(req).await?.map_into_boxed_body();
    if let Some((d, policy)) = &decision {
        rate_headers(res.headers_mut(), d, policy);
    }
    Ok(res)
}

/// The project of a request's principal (`default` when the guard is off).
pub fn principal_project(req: &actix_web::HttpRequest) -> aicp_domain::ProjectId {
    req.extensions()
        .get::<Principal>()
        .map_or_else(aicp_domain::ProjectId::default_project, |p| p.project.clone())
}
