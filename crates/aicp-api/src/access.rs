//! Who may call `/api`: the guard's parts (authentication, the limiter and its policies, trusted
//! proxies, the admin key digest) and the signed stream tokens. The middleware that applies them
//! is `guard.rs`; this module depends on no application state, so the state can hold a guard.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use aicp_domain::auth::Authenticator;
use aicp_domain::ratelimit::{RateLimiter, RatePolicy};
use subtle::ConstantTimeEq;

/// Rate-limit policies per route class (the original's classes, §11).
#[derive(Debug, Clone)]
pub struct Policies {
    /// `POST /api/v1/events`.
    pub events: RatePolicy,
    /// `/api/v1/analytics/*` and `/api/v1/pricing*`.
    pub analytics: RatePolicy,
    /// `/api/v1/export/*`.
    pub export: RatePolicy,
}

/// Everything the guard needs.
pub struct Guard {
    /// Authentication.
    pub auth: Authenticator,
    /// Limiter; `None` disables rate limiting.
    pub limiter: Option<Arc<dyn RateLimiter>>,
    /// Policies.
    pub policies: Policies,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Digest of the admin key (`ADMIN_KEY`), when admin endpoints are enabled.
    pub admin_digest: Option<[u8; 32]>,
}

/// A signed token letting a browser's `EventSource` (which cannot send headers) follow the live
/// stream of `project` until `expires` (epoch seconds): `base64url(project|expires).base64url(mac)`.
pub fn stream_token(guard: &Guard, project: &aicp_domain::ProjectId, expires: i64) -> String {
    use base64::Engine;
    let payload = format!("{}|{expires}", project.as_str());
    let mac = guard.auth.digester().digest(&format!("stream-token:{payload}"));
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!("{}.{}", b64.encode(payload), b64.encode(mac))
}

/// The project of a valid, unexpired stream token.
pub(crate) fn verify_stream_token(guard: &Guard, token: &str) -> Option<aicp_domain::ProjectId> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (payload, mac) = token.split_once('.')?;
    let payload = String::from_utf8(b64.decode(payload).ok()?).ok()?;
    let mac = b64.decode(mac).ok()?;
    let want = guard.auth.digester().digest(&format!("stream-token:{payload}"));
    if !bool::from(want.as_slice().ct_eq(&mac)) {
        return None;
    }
    let (project, expires) = payload.rsplit_once('|')?;
    let expires: i64 = expires.parse().ok()?;
    (expires > chrono::Utc::now().timestamp()).then(|| aicp_domain::ProjectId::new(project))
}

/// A policy of `limit` per `period` with the whole allowance as burst (the original's window).
pub fn policy(name: &str, limit: u32, period: Duration, burst: u32) -> RatePolicy {
    RatePolicy { name: name.to_owned(), limit, period, burst }
}
