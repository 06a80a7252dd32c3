//! The pages. Each module parses its request, calls domain services, and renders display rows;
//! this one holds what every page shares: the layout's data, the window picker and errors.

pub mod access;
pub mod budgets;
pub mod dimensions;
pub mod events;
pub mod keys;
pub mod live;
pub mod overview;
pub mod pricing;
pub mod prompts;
pub mod traces;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::dashboard::session::{Denied, Viewer, viewer};
use crate::dashboard::view::{RANGES, View, ViewQuery};
use crate::error::ApiError;
use crate::state::AppState;

/// A link of the navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Where.
    pub href: String,
    /// Text.
    pub label: &'static str,
    /// The current page.
    pub active: bool,
}

/// A quick range of the picker.
#[derive(Debug, Clone)]
pub struct RangeLink {
    /// Link to it.
    pub href: String,
    /// Text.
    pub label: &'static str,
    /// The current range.
    pub active: bool,
}

/// The time window picker and active filters.
#[derive(Debug, Clone)]
pub struct Picker {
    /// The page it reloads.
    pub path: String,
    /// Quick ranges.
    pub ranges: Vec<RangeLink>,
    /// Custom start value (`YYYY-MM-DD`).
    pub from: String,
    /// Custom end value.
    pub to: String,
    /// Zone.
    pub tz: String,
    /// Filters kept when the form is submitted.
    pub hidden: Vec<(String, String)>,
    /// Active filters as `(label, value, link without it)`.
    pub chips: Vec<(&'static str, String, String)>,
    /// The window in words.
    pub window_label: String,
}

/// What the layout shows around every page.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// Page title.
    pub title: String,
    /// Project shown.
    pub project: String,
    /// Offer sign-out.
    pub auth_on: bool,
    /// This session's form token.
    pub csrf: String,
    /// Navigation.
    pub nav: Vec<NavItem>,
    /// The window picker (pages over a window).
    pub picker: Option<Picker>,
}

const NAV: [(&str, &str); 13] = [
    ("/", "Overview"),
    ("/features", "Features"),
    ("/models", "Models"),
    ("/providers", "Providers"),
    ("/users", "Users"),
    ("/events", "Events"),
    ("/calls", "Top calls"),
    ("/flamegraph", "Flamegraph"),
    ("/prompts", "Prompts"),
    ("/pricing", "Pricing"),
    ("/budgets", "Budgets"),
    ("/live", "Live"),
    ("/keys", "Keys"),
];

impl Chrome {
    /// The layout of a page at `path` for `viewer`, with a picker when `view` is given.
    pub fn new(title: &str, path: &str, viewer: &Viewer, view: Option<&View>) -> Self {
        let nav = NAV
            .iter()
            .map(|(href, label)| NavItem {
                href: match view {
                    Some(v) if !matches!(*href, "/keys" | "/live" | "/pricing" | "/budgets") => {
                        v.window_href(href)
                    }
                    _ => (*href).to_owned(),
                },
                label,
                active: *href == path,
            })
            .collect();
        let picker = view.map(|v| picker(path, v));
        Self {
            title: title.to_owned(),
            project: viewer.project.as_str().to_owned(),
            auth_on: viewer.auth_on,
            csrf: viewer.csrf.clone(),
            nav,
            picker,
        }
    }
}

fn picker(path: &str, v: &View) -> Picker {
    let ranges = RANGES
        .iter()
        .map(|(range, label)| RangeLink {
            href: v.href(path, |q| {
                q.range = Some((*range).to_owned());
                q.from = None;
                q.to = None;
                q.cursor = None;
            }),
            label,
            active: v.range == *range,
        })
        .collect();
    let day =
        |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&v.tz).format("%Y-%m-%d").to_string();
    let q = &v.query;
    let hidden = [
        ("feature", &q.feature),
        ("model", &q.model),
        ("provider", &q.provider),
        ("user", &q.user),
        ("errors", &q.errors),
        ("by", &q.by),
        ("sort", &q.sort),
        ("dir", &q.dir),
        ("mode", &q.mode),
    ]
    .into_iter()
    .filter_map(|(k, val)| val.clone().filter(|s| !s.is_empty()).map(|s| (k.to_owned(), s)))
    .collect();
    let chips = v
        .chips()
        .into_iter()
        .map(|(label, value, query)| (label, value, format!("{path}{query}")))
        .collect();
    Picker {
        path: path.to_owned(),
        ranges,
        from: day(v.window.from),
        to: day(v.window.to),
        tz: q.tz.clone().unwrap_or_default(),
        hidden,
        chips,
        window_label: v.window_label(),
    }
}

impl Denied {
    /// The response for it: a redirect to sign-in (clearing an ended session) or a 503 page.
    pub fn response(self) -> HttpResponse {
        match self {
            Denied::SignIn { next, expired } => {
                let q = serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
                let mut res = HttpResponse::SeeOther();
                res.insert_header((header::LOCATION, format!("/sign-in?{q}")));
                if expired {
                    res.cookie(crate::dashboard::session::sign_out());
                }
                res.finish()
            }
            Denied::Unavailable => error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The key store is unavailable right now; retry in a moment.",
            ),
        }
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "dash/error.html")]
struct ErrorPage {
    chrome: Chrome,
    heading: String,
    message: String,
}

/// A page saying what went wrong, with `status`.
pub fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    let heading = match status.as_u16() {
        400 => "That view cannot be shown",
        403 => "Not allowed",
        404 => "Not found",
        503 => "Temporarily unavailable",
        _ => "Something went wrong",
    };
    let chrome = Chrome {
        title: heading.to_owned(),
        project: String::new(),
        auth_on: false,
        csrf: String::new(),
        nav: Vec::new(),
        picker: None,
    };
    let page = ErrorPage { chrome, heading: heading.to_owned(), message: message.to_owned() };
    html(status, page.render())
}

/// A rendered page with the dashboard's headers (CSP, no caching), or a 500 that says so.
pub fn html(status: StatusCode, rendered: askama::Result<String>) -> HttpResponse {
    match rendered {
        Ok(body) => {
            let mut res =
                HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body);
            // Pages load only their own script and styles; inline SVG needs no script.
            res.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'self'; frame-ancestors 'none'; form-action 'self'",
                ),
            );
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "page rendering failed");
            HttpResponse::InternalServerError().content_type("text/plain").body("rendering failed")
        }
    }
}

/// Renders `page` for `viewer` (setting its new session cookie, if any).
pub fn render(viewer: &Viewer, page: &impl Template) -> HttpResponse {
    let mut res = html(StatusCode::OK, page.render());
    if let Some(c) = &viewer.set_cookie {
        let _ = res.add_cookie(c);
    }
    res
}

/// The viewer and the checked view of a request, or the response that ends it (sign in, or a
/// 400 page naming the bad value).
pub async fn begin(
    req: &HttpRequest,
    state: &AppState,
    query: &ViewQuery,
) -> Result<(Viewer, View), HttpResponse> {
    let viewer = viewer(req, state).await.map_err(Denied::response)?;
    let view =
        query.resolve(state.clock.now()).map_err(|m| error_page(StatusCode::BAD_REQUEST, &m))?;
    Ok((viewer, view))
}

/// The viewer of a form post, or the response that ends it: sign in first, or 403 when the form
/// does not carry this session's token or comes from another site.
pub async fn form_viewer(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
) -> Result<Viewer, HttpResponse> {
    let viewer = viewer(req, state).await.map_err(Denied::response)?;
    if !crate::dashboard::session::form_allowed(req, &viewer, token) {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "This form was not sent from this dashboard; reload the page and try again.",
        ));
    }
    Ok(viewer)
}

/// A service failure as a page: a client error says what to change; a store outage says so.
pub fn failure(e: impl Into<ApiError>) -> HttpResponse {
    let e: ApiError = e.into();
    match &e {
        ApiError::InvalidParameter(m) => error_page(StatusCode::BAD_REQUEST, m),
        ApiError::Unavailable | ApiError::Overloaded => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The database is unavailable right now; retry in a moment.",
        ),
        ApiError::NotFound { .. } | ApiError::EventNotFound => {
            error_page(StatusCode::NOT_FOUND, "There is nothing here for this project.")
        }
        _ => {
            tracing::error!(error = ?e, "dashboard page failed");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong; it was logged.")
        }
    }
}

/// A panel's own failure (the rest of the page still renders).
pub fn panel_error(e: impl std::fmt::Display) -> String {
    tracing::warn!(error = %e, "dashboard panel failed");
    "This panel could not be loaded; the rest of the page is current.".to_owned()
}
