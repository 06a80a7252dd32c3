//! `/api/v1/webhooks` (the project's receivers, secrets never shown again) and `/api/v1/alerts`
//! (what was raised); receivers are registered and removed under
//! `/api/v1/admin/projects/{project}/webhooks` (admin key).

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use aicp_domain::alerts::{Alert, Webhook, check_webhook_url};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::routes::body::read_json;
use crate::routes::budgets::{admin_project, budgets_of, parse_id, ts};
use crate::routes::project_of;
use crate::state::AppState;

/// A webhook receiver.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookItem {
    /// Id.
    pub id: Uuid,
    /// Where alerts are POSTed.
    pub url: String,
    /// Registered.
    pub created_at: String,
}

impl From<&Webhook> for WebhookItem {
    fn from(w: &Webhook) -> Self {
        WebhookItem { id: w.id, url: w.url.clone(), created_at: ts(w.created_at) }
    }
}

/// A new receiver and its signing secret (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    /// The receiver.
    pub webhook: WebhookItem,
    /// The HMAC-SHA256 signing secret.
    pub secret: String,
}

/// Body of a registration.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateWebhook {
    /// Absolute `http(s)` URL.
    pub url: String,
    /// Signing secret (16 to 256 characters); generated when absent.
    pub secret: Option<String>,
}

/// An alert.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertItem {
    /// Id (the deliveries' `Idempotency-Key`).
    pub id: Uuid,
    /// `budget.threshold`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The budget, if any.
    pub budget_id: Option<Uuid>,
    /// The period, if any.
    pub period_start: Option<String>,
    /// The threshold reached, if any.
    pub threshold_pct: Option<u32>,
    /// Details (what webhooks receive as `data`).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Raised.
    pub created_at: String,
}

impl From<&Alert> for AlertItem {
    fn from(a: &Alert) -> Self {
        AlertItem {
            id: a.id,
            kind: a.kind.clone(),
            budget_id: a.budget_id,
            period_start: a.period_start.map(ts),
            threshold_pct: a.threshold_pct,
            data: a.payload.clone(),
            created_at: ts(a.created_at),
        }
    }
}

/// `?limit=` of the alert list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AlertQuery {
    /// Most alerts, newest first (1..=500, default 100).
    pub limit: Option<String>,
}

/// The project's webhook receivers.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "alerts",
    responses((status = 200, body = Vec<WebhookItem>)))]
#[get("/webhooks")]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let hooks = budgets_of(&state, &req)?.webhooks.list(&project_of(&req)).await?;
    Ok(HttpResponse::Ok().json(hooks.iter().map(WebhookItem::from).collect::<Vec<_>>()))
}

/// The project's alerts, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertQuery),
    responses((status = 200, body = Vec<AlertItem>), (status = 400, body = ErrorBody)))]
#[get("/alerts")]
pub async fn alerts(
    req: HttpRequest,
    query: web::Query<AlertQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = match query.limit.as_deref() {
        None => 100,
        Some(text) => {
            text.parse::<usize>().ok().filter(|n| (1..=500).contains(n)).ok_or_else(|| {
                ApiError::InvalidParameter("\"limit\" must be a whole number from 1 to 500".into())
            })?
        }
    };
    let raised = budgets_of(&state, &req)?.alerts.list(&project_of(&req), limit).await?;
    Ok(HttpResponse::Ok().json(raised.iter().map(AlertItem::from).collect::<Vec<_>>()))
}

/// Register a receiver. Each alert is POSTed to it as `{"id","type","createdAt","data"}` with
/// `X-Aicp-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` and
/// `Idempotency-Key: <alert id>`, retried with backoff until it answers 2xx.
#[utoipa::path(post, path = "/api/v1/admin/projects/{project}/webhooks", tag = "alerts",
    params(("project" = String, Path)), request_body(content = CreateWebhook, content_type = "application/json"),
    responses((status = 201, body = CreatedWebhook), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[post("/admin/projects/{project}/webhooks")]
pub async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project = admin_project(&path)?;
    let body = read_json(&req, payload, state.body_limit).await?;
    let body: CreateWebhook = serde_json::from_value(body)
        .map_err(|e| ApiError::InvalidParameter(format!("invalid webhook: {e}")))?;
    check_webhook_url(&body.url).map_err(ApiError::InvalidParameter)?;
    let secret = match body.secret {
        Some(s) if (16..=256).contains(&s.chars().count()) && !s.contains('\0') => s,
        Some(_) => {
            return Err(ApiError::InvalidParameter(
                "secret must be 16 to 256 characters without NUL".into(),
            ));
        }
        None => {
            let mut bytes = [0u8; 24];
            rand::rng().fill_bytes(&mut bytes);
            format!("whsec_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
        }
    };
    let hook = budgets_of(&state, &req)?.webhooks.create(&project, &body.url, &secret).await?;
    Ok(HttpResponse::Created().json(CreatedWebhook { webhook: WebhookItem::from(&hook), secret }))
}

/// Remove a receiver and its pending deliveries.
#[utoipa::path(delete, path = "/api/v1/admin/projects/{project}/webhooks/{id}", tag = "alerts",
    params(("project" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/admin/projects/{project}/webhooks/{id}")]
pub async fn remove(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (project, id) = path.into_inner();
    let project = admin_project(&project)?;
    let id = parse_id(&id)?;
    if budgets_of(&state, &req)?.webhooks.delete(&project, id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound { path: req.path().to_owned() })
    }
}
