//! `/keys`: API keys and projects, for the holder of the admin key (`ADMIN_KEY`): list a
//! project's keys, create one (its secret shown once, never again), revoke one (it stops working
//! at once, and so do dashboard sessions signed in with it).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::dashboard::pages::{Chrome, error_page, failure, form_viewer, render};
use crate::dashboard::session::{Viewer, unlock_admin, viewer};
use crate::state::AppState;

/// A key row.
pub struct KeyRow {
    id: String,
    name: String,
    display: String,
    created: String,
    revoked: String,
}

#[derive(Template)]
#[template(path = "dash/keys.html")]
struct Page {
    chrome: Chrome,
    admin: bool,
    admin_configured: bool,
    project: String,
    keys: Vec<KeyRow>,
    new_key: Option<String>,
    message: Option<String>,
}

/// Query of the keys page.
#[derive(Debug, Deserialize)]
pub struct KeysQuery {
    project: Option<String>,
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    project: &str,
    new_key: Option<String>,
    message: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let keys = if viewer.admin {
        let Ok(p) = crate::keys::project_name(project) else {
            return error_page(
                StatusCode::BAD_REQUEST,
                "A project name has 1 to 64 letters, digits, '-' or '_'.",
            );
        };
        match state.keys.list(&p).await {
            Ok(keys) => keys,
            Err(e) => return failure(e),
        }
    } else {
        Vec::new()
    };
    let body = Page {
        chrome: Chrome::new("Keys", "/keys", viewer, None),
        admin: viewer.admin,
        admin_configured: viewer.admin_configured,
        project: project.to_owned(),
        keys: keys
            .into_iter()
            .map(|k| KeyRow {
                id: k.id.to_string(),
                name: k.name,
                display: k.display,
                created: k.created_at,
                revoked: k.revoked_at.unwrap_or_default(),
            })
            .collect(),
        new_key,
        message,
    };
    let mut res = render(viewer, &body);
    *res.status_mut() = status;
    res
}

/// The keys page.
#[get("/keys")]
pub async fn page(
    req: HttpRequest,
    q: web::Query<KeysQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let viewer = match viewer(&req, &state).await {
        Ok(v) => v,
        Err(d) => return d.response(),
    };
    let project = q.project.clone().unwrap_or_else(|| viewer.project.as_str().to_owned());
    show(&state, &viewer, &project, None, None, StatusCode::OK).await
}

/// The admin-key form.
#[derive(Debug, Deserialize)]
pub struct UnlockForm {
    csrf: String,
    admin_key: String,
}

/// Unlocks the keys pages with the admin key.
#[post("/keys/unlock")]
pub async fn unlock(
    req: HttpRequest,
    form: web::Form<UnlockForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let viewer = match form_viewer(&req, &state, &form.csrf).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    match unlock_admin(&req, &state, &form.admin_key) {
        Some(cookie) => HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, "/keys"))
            .cookie(cookie)
            .finish(),
        None => {
            let project = viewer.project.as_str().to_owned();
            show(
                &state,
                &viewer,
                &project,
                None,
                Some("That is not the admin key.".into()),
                StatusCode::FORBIDDEN,
            )
            .await
        }
    }
}

/// The create-key form.
#[derive(Debug, Deserialize)]
pub struct CreateForm {
    csrf: String,
    project: String,
    name: String,
}

/// Creates a key and shows it once.
#[post("/keys/create")]
pub async fn create(
    req: HttpRequest,
    form: web::Form<CreateForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let viewer = match form_viewer(&req, &state, &form.csrf).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let Some(guard) = state.guard.as_ref().filter(|_| viewer.admin) else {
        return error_page(StatusCode::FORBIDDEN, "Managing keys needs the admin key.");
    };
    let project = match crate::keys::project_name(form.project.trim()) {
        Ok(p) => p,
        Err(m) => return error_page(StatusCode::BAD_REQUEST, &m),
    };
    let name = form.name.trim();
    if name.is_empty() || name.len() > 128 || name.contains('\0') {
        return error_page(StatusCode::BAD_REQUEST, "A key name has 1 to 128 characters.");
    }
    match crate::keys::create(state.keys.as_ref(), guard.auth.digester(), &project, name).await {
        Ok((_, key)) => {
            guard.auth.invalidate();
            show(&state, &viewer, project.as_str(), Some(key), None, StatusCode::OK).await
        }
        Err(e) => match e.downcast::<aicp_domain::RepoError>() {
            Ok(repo) => failure(repo),
            Err(e) => failure(crate::error::ApiError::Internal(e)),
        },
    }
}

/// The revoke form.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    csrf: String,
    project: String,
    id: String,
}

/// Revokes a key.
#[post("/keys/revoke")]
pub async fn revoke(
    req: HttpRequest,
    form: web::Form<RevokeForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let viewer = match form_viewer(&req, &state, &form.csrf).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let Some(guard) = state.guard.as_ref().filter(|_| viewer.admin) else {
        return error_page(StatusCode::FORBIDDEN, "Managing keys needs the admin key.");
    };
    let (Ok(project), Ok(id)) =
        (crate::keys::project_name(form.project.trim()), uuid::Uuid::parse_str(form.id.trim()))
    else {
        return error_page(StatusCode::BAD_REQUEST, "Unknown project or key id.");
    };
    match state.keys.revoke(&project, id).await {
        Ok(true) => {
            guard.auth.invalidate();
            show(
                &state,
                &viewer,
                project.as_str(),
                None,
                Some("The key was revoked.".into()),
                StatusCode::OK,
            )
            .await
        }
        Ok(false) => error_page(StatusCode::NOT_FOUND, "No such active key."),
        Err(e) => failure(e),
    }
}
