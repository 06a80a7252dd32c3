//! `/api/v1/admin/*`: API keys of any project, guarded by `ADMIN_KEY` (see the guard).

use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::keys;
use crate::state::AppState;

fn store_and_guard(state: &AppState) -> Result<&crate::access::Guard, ApiError> {
    state.guard.as_ref().ok_or(ApiError::NotFound { path: "/api/v1/admin".into() })
}

/// Body of a key creation.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateKey {
    /// Label, e.g. `backend-prod` (default `api`).
    name: Option<String>,
}

/// Create a key for a project (created if new). The secret is in the response, once; only its
/// digest is stored.
#[utoipa::path(post, path = "/api/v1/admin/projects/{project}/keys", tag = "admin",
    params(("project" = String, Path)), request_body(content = Option<CreateKey>, content_type = "application/json"),
    responses((status = 201, description = "The key, shown once", body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[post("/admin/projects/{project}/keys")]
pub async fn create(
    path: web::Path<String>,
    body: Option<web::Json<CreateKey>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let guard = store_and_guard(&state)?;
    let project = keys::project_name(&path).map_err(ApiError::InvalidParameter)?;
    let name = body.and_then(|b| b.into_inner().name).unwrap_or_else(|| "api".to_owned());
    if name.is_empty() || name.len() > 128 || name.contains('\0') {
        return Err(ApiError::InvalidParameter("name must be 1 to 128 characters".into()));
    }
    let (info, key) = keys::create(state.keys.as_ref(), guard.auth.digester(), &project, &name)
        .await
        .map_err(|e| match e.downcast::<aicp_domain::RepoError>() {
            Ok(repo) => ApiError::from(repo),
            Err(e) => ApiError::Internal(e),
        })?;
    guard.auth.invalidate();
    Ok(HttpResponse::Created().json(serde_json::json!({ "key": key, "info": info })))
}

/// List a project's keys (display forms only).
#[utoipa::path(get, path = "/api/v1/admin/projects/{project}/keys", tag = "admin",
    params(("project" = String, Path)),
    responses((status = 200, body = Vec<Object>), (status = 403, body = ErrorBody)))]
#[get("/admin/projects/{project}/keys")]
pub async fn list(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    store_and_guard(&state)?;
    let project = keys::project_name(&path).map_err(ApiError::InvalidParameter)?;
    Ok(HttpResponse::Ok().json(state.keys.list(&project).await?))
}

/// Revoke a key; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/admin/projects/{project}/keys/{id}", tag = "admin",
    params(("project" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[delete("/admin/projects/{project}/keys/{id}")]
pub async fn revoke(
    req: actix_web::HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let guard = store_and_guard(&state)?;
    let (project, id) = path.into_inner();
    let project = keys::project_name(&project).map_err(ApiError::InvalidParameter)?;
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::InvalidParameter("the key id must be a UUID".into()))?;
    if state.keys.revoke(&project, id).await? {
        guard.auth.invalidate();
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound { path: req.path().to_owned() })
    }
}
