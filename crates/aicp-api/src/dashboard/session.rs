//! Dashboard sessions: who is looking, for which project, and the CSRF token of their forms.
//!
//! With no key configured anywhere the dashboard acts for project `default`, like the API. Once
//! keys exist, `/sign-in` takes an API key and keeps it in an encrypted (AES-GCM, the `cookie`
//! crate's private jar), `HttpOnly`, `SameSite=Strict` cookie (`Secure` over https); every page
//! authenticates it again, so a revoked key ends its sessions at once. The admin key (`ADMIN_KEY`)
//! unlocks the keys pages. Forms carry a per-session token checked in constant time, and a
//! cross-site `Origin` is refused.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite};
use actix_web::http::header;
use aicp_domain::ProjectId;
use aicp_domain::auth::AuthError;
use base64::Engine;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::state::AppState;

/// Name of the session cookie.
pub const COOKIE: &str = "aicp_session";

/// How long a session lasts without signing in again.
const TTL: chrono::Duration = chrono::Duration::hours(12);

/// What the cookie holds (encrypted).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Data {
    /// The project key signed in with.
    key: Option<String>,
    /// The admin key, once the keys pages were unlocked.
    admin: Option<String>,
    /// Token of this session's forms.
    csrf: String,
    /// Expiry, epoch seconds.
    exp: i64,
}

impl Data {
    /// A new session holding `key` and `admin`, with a new form token.
    fn fresh(key: Option<String>, admin: Option<String>) -> Self {
        Self { key, admin, csrf: new_token(), exp: (chrono::Utc::now() + TTL).timestamp() }
    }
}

/// Seals and opens session cookies.
pub struct Sessions {
    key: Key,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions")
    }
}

impl Sessions {
    /// Sessions sealed with a key derived from `master` (32 bytes or more).
    pub fn new(master: &[u8]) -> Self {
        Self { key: Key::derive_from(master) }
    }

    /// Sessions with a random key (tests, and a server without a guard): they end at restart.
    pub fn ephemeral() -> Self {
        Self { key: Key::generate() }
    }

    fn open(&self, req: &HttpRequest) -> Option<Data> {
        let sealed = req.cookie(COOKIE)?;
        let mut jar = CookieJar::new();
        jar.add_original(sealed);
        let plain = jar.private(&self.key).get(COOKIE)?;
        let data: Data = serde_json::from_str(plain.value()).ok()?;
        (data.exp > chrono::Utc::now().timestamp()).then_some(data)
    }

    fn seal(&self, data: &Data, secure: bool) -> Cookie<'static> {
        let mut jar = CookieJar::new();
        let value = serde_json::to_string(data).unwrap_or_default();
        jar.private_mut(&self.key).add(
            Cookie::build(COOKIE, value)
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(secure)
                .path("/")
                .max_age(actix_web::cookie::time::Duration::seconds(TTL.num_seconds()))
                .finish(),
        );
        jar.get(COOKIE).cloned().unwrap_or_else(|| Cookie::new(COOKIE, ""))
    }

    /// The project key of a live session (the API accepts it for safe requests).
    pub fn key_of(&self, req: &HttpRequest) -> Option<String> {
        self.open(req)?.key
    }
}

/// A cookie that removes the session.
fn removal() -> Cookie<'static> {
    let mut c = Cookie::build(COOKIE, "").path("/").finish();
    c.make_removal();
    c
}

fn new_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
}

fn secure(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// The person looking at a page.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The project every read is scoped to.
    pub project: ProjectId,
    /// Whether keys exist (so sign-in/out is offered).
    pub auth_on: bool,
    /// Whether the admin key unlocked this session.
    pub admin: bool,
    /// Whether an admin key is configured at all.
    pub admin_configured: bool,
    /// Token for this session's forms.
    pub csrf: String,
    /// A cookie to set with the response (a new session).
    pub set_cookie: Option<Cookie<'static>>,
}

/// Why a page cannot be shown to this request.
#[derive(Debug)]
pub enum Denied {
    /// Sign in first (then come back to `next`).
    SignIn {
        /// Where to return.
        next: String,
        /// Why the old session ended, if it did.
        expired: bool,
    },
    /// The key store cannot be reached.
    Unavailable,
}

fn admin_ok(state: &AppState, key: Option<&str>) -> bool {
    match (state.guard.as_ref().and_then(|g| g.admin_digest.as_ref()), key) {
        (Some(want), Some(key)) => {
            let got = state.guard.as_ref().map(|g| g.auth.digester().digest(key));
            got.is_some_and(|got| bool::from(got.ct_eq(want)))
        }
        _ => false,
    }
}

/// The form token of the request's session, and the cookie of a new (empty) session when it
/// has none.
pub fn form_token(req: &HttpRequest, state: &AppState) -> (String, Option<Cookie<'static>>) {
    token_of(req, state, state.dashboard.sessions.open(req).as_ref())
}

/// The form token of the opened session `data`, or of a new empty one (with its cookie).
fn token_of(
    req: &HttpRequest,
    state: &AppState,
    data: Option<&Data>,
) -> (String, Option<Cookie<'static>>) {
    match data {
        Some(d) => (d.csrf.clone(), None),
        None => {
            let d = Data::fresh(None, None);
            (d.csrf.clone(), Some(state.dashboard.sessions.seal(&d, secure(req))))
        }
    }
}

/// Who is looking. Pages call this first.
///
/// # Errors
/// [`Denied::SignIn`] when keys exist and the request has no valid session.
pub async fn viewer(req: &HttpRequest, state: &AppState) -> Result<Viewer, Denied> {
    // Opened (decrypted) once per request.
    let data = state.dashboard.sessions.open(req);
    let (csrf, set_cookie) = token_of(req, state, data.as_ref());
    let admin = admin_ok(state, data.as_ref().and_then(|d| d.admin.as_deref()));
    let admin_configured = state.guard.as_ref().is_some_and(|g| g.admin_digest.is_some());
    let Some(guard) = state.guard.as_ref() else {
        return Ok(Viewer {
            project: ProjectId::default_project(),
            auth_on: false,
            admin,
            admin_configured,
            csrf,
            set_cookie,
        });
    };
    let required = guard.auth.required().await.map_err(|_| Denied::Unavailable)?;
    let base = Viewer {
        project: ProjectId::default_project(),
        auth_on: required,
        admin,
        admin_configured,
        csrf,
        set_cookie,
    };
    if !required {
        return Ok(base);
    }
    let next = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
    match data.as_ref().and_then(|d| d.key.as_deref()) {
        // An admin-only session manages keys; it reads the `default` project's data.
        None if admin => Ok(base),
        None => Err(Denied::SignIn { next, expired: false }),
        Some(key) => match guard.auth.authenticate(Some(key)).await {
            Ok(p) => Ok(Viewer { project: p.project, ..base }),
            Err(AuthError::Repo(_)) => Err(Denied::Unavailable),
            Err(_) => Err(Denied::SignIn { next, expired: true }),
        },
    }
}

/// Whether a form post may change anything: its token is this session's, and it does not come
/// from another site (`Origin`, when the browser sends one, names this host).
pub fn form_allowed(req: &HttpRequest, viewer: &Viewer, token: &str) -> bool {
    let same_token = bool::from(viewer.csrf.as_bytes().ct_eq(token.as_bytes()));
    let origin_ok = match req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = req.connection_info().host().to_owned();
            origin.split_once("://").is_some_and(|(_, rest)| rest == host)
        }
    };
    same_token && origin_ok && viewer.set_cookie.is_none()
}

/// Outcome of a sign-in attempt.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in; set this cookie.
    Done(Cookie<'static>),
    /// The key is not valid.
    Refused,
    /// The key store cannot be reached.
    Unavailable,
}

/// Signs in with `key`: a project key starts a project session, the admin key an admin one.
pub async fn sign_in(req: &HttpRequest, state: &AppState, key: &str) -> SignIn {
    let key = key.trim();
    let Some(guard) = state.guard.as_ref() else { return SignIn::Refused };
    let data = Data::fresh;
    if admin_ok(state, Some(key)) {
        let d = data(None, Some(key.to_owned()));
        return SignIn::Done(state.dashboard.sessions.seal(&d, secure(req)));
    }
    match guard.auth.authenticate(Some(key)).await {
        Ok(_) => {
            let d = data(Some(key.to_owned()), None);
            SignIn::Done(state.dashboard.sessions.seal(&d, secure(req)))
        }
        Err(AuthError::Repo(_)) => SignIn::Unavailable,
        Err(_) => SignIn::Refused,
    }
}

/// Adds the admin key to the current session; `None` when it is not the admin key.
pub fn unlock_admin(req: &HttpRequest, state: &AppState, key: &str) -> Option<Cookie<'static>> {
    let key = key.trim();
    if !admin_ok(state, Some(key)) {
        return None;
    }
    let sessions = &state.dashboard.sessions;
    let mut d = sessions.open(req).unwrap_or_else(|| Data::fresh(None, None));
    d.admin = Some(key.to_owned());
    Some(sessions.seal(&d, secure(req)))
}

/// The cookie that ends the session.
pub fn sign_out() -> Cookie<'static> {
    removal()
}
