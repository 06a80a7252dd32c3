//! `/sign-in` and `/sign-out`. Signing in takes an API key (or the admin key); the session
//! lives in an encrypted cookie (see `dashboard::session`).

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::dashboard::pages::{Chrome, error_page, html};
use crate::dashboard::session::{self, SignIn, form_token};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "dash/sign_in.html")]
struct Page {
    chrome: Chrome,
    next: String,
    error: Option<String>,
}

/// Only a path of this site (no `//host`, no scheme) may be returned to.
fn local(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn page(
    csrf: String,
    cookie: Option<Cookie<'static>>,
    next: String,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let chrome = Chrome {
        title: "Sign in".into(),
        project: String::new(),
        auth_on: false,
        csrf,
        nav: Vec::new(),
        picker: None,
    };
    let body = Page { chrome, next, error };
    let mut res = html(status, body.render());
    if let Some(c) = cookie {
        let _ = res.add_cookie(&c);
    }
    res
}

/// Query of the sign-in page.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The sign-in form.
#[get("/sign-in")]
pub async fn sign_in_page(
    req: HttpRequest,
    q: web::Query<NextQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (csrf, cookie) = form_token(&req, &state);
    page(csrf, cookie, local(q.next.as_deref()), None, StatusCode::OK)
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    csrf: String,
    key: String,
    next: Option<String>,
}

/// Signs in.
#[post("/sign-in")]
pub async fn sign_in(
    req: HttpRequest,
    form: web::Form<SignInForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let next = local(form.next.as_deref());
    let (csrf, fresh) = form_token(&req, &state);
    // A login form posted from elsewhere (login CSRF) has no token of this browser's session.
    if fresh.is_some() || !bool::from(csrf.as_bytes().ct_eq(form.csrf.as_bytes())) {
        return page(
            csrf,
            fresh,
            next,
            Some("The form expired; please sign in again.".into()),
            StatusCode::FORBIDDEN,
        );
    }
    match session::sign_in(&req, &state, &form.key).await {
        SignIn::Done(cookie) => {
            HttpResponse::SeeOther().insert_header((header::LOCATION, next)).cookie(cookie).finish()
        }
        SignIn::Refused => {
            page(csrf, None, next, Some("That key is not valid.".into()), StatusCode::FORBIDDEN)
        }
        SignIn::Unavailable => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The key store is unavailable right now; retry in a moment.",
        ),
    }
}

/// The sign-out form's fields.
#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    csrf: String,
}

/// Signs out (ends the session).
#[post("/sign-out")]
pub async fn sign_out(
    req: HttpRequest,
    form: web::Form<SignOutForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (csrf, fresh) = form_token(&req, &state);
    if fresh.is_some() || !bool::from(csrf.as_bytes().ct_eq(form.csrf.as_bytes())) {
        return error_page(StatusCode::FORBIDDEN, "This form was not sent from this dashboard.");
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/sign-in"))
        .cookie(session::sign_out())
        .finish()
}
