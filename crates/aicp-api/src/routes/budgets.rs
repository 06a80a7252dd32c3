//! `/api/v1/budgets`: a project's budgets and their status (spend, percent, period, forecast);
//! writes under `/api/v1/admin/projects/{project}/budgets` (admin key, like the other admin
//! endpoints).

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use aicp_domain::budgets::{Budget, BudgetError, BudgetStatus};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::budgets::Budgets;
use crate::error::{ApiError, ErrorBody};
use crate::routes::body::read_json;
use crate::routes::project_of;
use crate::state::AppState;

/// The budget handles, or 404 where the server runs without them (some tests).
pub(crate) fn budgets_of<'a>(
    state: &'a AppState,
    req: &HttpRequest,
) -> Result<&'a Budgets, ApiError> {
    state.budgets.as_ref().ok_or_else(|| ApiError::NotFound { path: req.path().to_owned() })
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// What a budget counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeItem {
    /// `feature`, `model`, `provider` or `user`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The exact value.
    pub value: String,
}

/// A budget's definition.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetItem {
    /// Id.
    pub id: Uuid,
    /// Label.
    pub name: String,
    /// What it counts; `null`: every call of the project.
    pub scope: Option<ScopeItem>,
    /// `day`, `week` (ISO, from Monday) or `month`.
    pub period: String,
    /// IANA zone whose local midnights bound the periods.
    pub time_zone: String,
    /// Limit per period, exact decimal string.
    pub amount_usd: String,
    /// Alert thresholds, whole percents, ascending.
    pub thresholds: Vec<u32>,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

impl From<&Budget> for BudgetItem {
    fn from(b: &Budget) -> Self {
        BudgetItem {
            id: b.id,
            name: b.spec.name.clone(),
            scope: b
                .spec
                .scope
                .as_ref()
                .map(|s| ScopeItem { kind: s.kind.as_str().to_owned(), value: s.value.clone() }),
            period: b.spec.period.as_str().to_owned(),
            time_zone: b.spec.time_zone.name().to_owned(),
            amount_usd: b.spec.amount.to_string(),
            thresholds: b.spec.thresholds.clone(),
            created_at: ts(b.created_at),
            updated_at: ts(b.updated_at),
        }
    }
}

/// Where a budget's spend is heading in the current period.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForecastItem {
    /// `linear`: spend so far extended at the same pace (no interval).
    pub method: String,
    /// Expected spend at the period's end.
    pub expected_spend_usd: String,
    /// Lower bound of the expectation (`null` without an interval).
    pub expected_spend_low_usd: Option<String>,
    /// Upper bound of the expectation (`null` without an interval).
    pub expected_spend_high_usd: Option<String>,
    /// When the amount is expected to be reached this period; `null` if not (or already).
    pub run_out_at: Option<String>,
    /// Whether the expected spend exceeds the amount.
    pub will_exceed: bool,
}

/// A budget in its current period.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetStatusItem {
    /// The budget.
    pub budget: BudgetItem,
    /// First instant of the current period.
    pub period_start: String,
    /// First instant of the next period.
    pub period_end: String,
    /// Spend in the period so far (exact decimal string).
    pub spend_usd: String,
    /// Amount minus spend (negative once exceeded).
    pub remaining_usd: String,
    /// Spend as a percent of the amount, two decimals.
    pub percent: String,
    /// Thresholds reached this period.
    pub thresholds_reached: Vec<u32>,
    /// Projection to the period's end.
    pub forecast: ForecastItem,
}

impl From<&BudgetStatus> for BudgetStatusItem {
    fn from(s: &BudgetStatus) -> Self {
        let amount = s.budget.spec.amount;
        let f = &s.forecast;
        BudgetStatusItem {
            budget: BudgetItem::from(&s.budget),
            period_start: ts(s.period.start),
            period_end: ts(s.period.end),
            spend_usd: s.spend.to_string(),
            remaining_usd: (amount.amount() - s.spend.amount()).normalize().to_string(),
            percent: format!("{:.2}", s.percent),
            thresholds_reached: s.reached.clone(),
            forecast: ForecastItem {
                method: f.method.as_str().to_owned(),
                expected_spend_usd: f.expected_end.to_string(),
                expected_spend_low_usd: f.interval.map(|(low, _)| low.to_string()),
                expected_spend_high_usd: f.interval.map(|(_, high)| high.to_string()),
                run_out_at: f.run_out_at.map(ts),
                will_exceed: f.exceeds(amount),
            },
        }
    }
}

fn budget_error(e: BudgetError, req: &HttpRequest) -> ApiError {
    match e {
        BudgetError::Invalid(issues) => ApiError::Validation(issues),
        BudgetError::NotFound => ApiError::NotFound { path: req.path().to_owned() },
        BudgetError::Repo(e) => ApiError::from(e),
    }
}

pub(crate) fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::InvalidParameter("the id must be a UUID".into()))
}

pub(crate) fn admin_project(name: &str) -> Result<aicp_domain::ProjectId, ApiError> {
    crate::keys::project_name(name).map_err(ApiError::InvalidParameter)
}

/// The project's budgets.
#[utoipa::path(get, path = "/api/v1/budgets", tag = "budgets",
    responses((status = 200, body = Vec<BudgetItem>)))]
#[get("/budgets")]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let budgets = budgets_of(&state, &req)?.service.list(&project_of(&req)).await?;
    Ok(HttpResponse::Ok().json(budgets.iter().map(BudgetItem::from).collect::<Vec<_>>()))
}

/// Every budget of the project in its current period: spend (rollups plus events not yet
/// folded, as every read), percent, period bounds and forecast. Reading it also raises any
/// threshold alert not yet raised this period.
#[utoipa::path(get, path = "/api/v1/budgets/status", tag = "budgets",
    responses((status = 200, body = Vec<BudgetStatusItem>), (status = 503, body = ErrorBody)))]
#[get("/budgets/status")]
pub async fn status(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let statuses = budgets_of(&state, &req)?.service.status(&project_of(&req)).await?;
    Ok(HttpResponse::Ok().json(statuses.iter().map(BudgetStatusItem::from).collect::<Vec<_>>()))
}

/// One budget of the project.
#[utoipa::path(get, path = "/api/v1/budgets/{id}", tag = "budgets",
    params(("id" = String, Path)),
    responses((status = 200, body = BudgetItem), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/budgets/{id}")]
pub async fn get_one(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let budget = budgets_of(&state, &req)?
        .service
        .get(&project_of(&req), id)
        .await
        .map_err(|e| budget_error(e, &req))?;
    Ok(HttpResponse::Ok().json(BudgetItem::from(&budget)))
}

/// Create a budget. Body: `{"name", "amountUsd", "period": "day"|"week"|"month",
/// "timeZone"?: IANA name (UTC), "scope"?: {"type": "feature"|"model"|"provider"|"user",
/// "value"}, "thresholds"?: [50, 80, 100]}`.
#[utoipa::path(post, path = "/api/v1/admin/projects/{project}/budgets", tag = "budgets",
    params(("project" = String, Path)), request_body(content = Object, content_type = "application/json"),
    responses((status = 201, body = BudgetItem), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[post("/admin/projects/{project}/budgets")]
pub async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project = admin_project(&path)?;
    let body = read_json(&req, payload, state.body_limit).await?;
    let budget = budgets_of(&state, &req)?
        .service
        .create(&project, &body)
        .await
        .map_err(|e| budget_error(e, &req))?;
    Ok(HttpResponse::Created().json(BudgetItem::from(&budget)))
}

/// Replace a budget's definition (same body as creation).
#[utoipa::path(put, path = "/api/v1/admin/projects/{project}/budgets/{id}", tag = "budgets",
    params(("project" = String, Path), ("id" = String, Path)), request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = BudgetItem), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[put("/admin/projects/{project}/budgets/{id}")]
pub async fn update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (project, id) = path.into_inner();
    let (project, id) = (admin_project(&project)?, parse_id(&id)?);
    let body = read_json(&req, payload, state.body_limit).await?;
    let budget = budgets_of(&state, &req)?
        .service
        .update(&project, id, &body)
        .await
        .map_err(|e| budget_error(e, &req))?;
    Ok(HttpResponse::Ok().json(BudgetItem::from(&budget)))
}

/// Delete a budget (its alerts stay listed).
#[utoipa::path(delete, path = "/api/v1/admin/projects/{project}/budgets/{id}", tag = "budgets",
    params(("project" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/admin/projects/{project}/budgets/{id}")]
pub async fn remove(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (project, id) = path.into_inner();
    let (project, id) = (admin_project(&project)?, parse_id(&id)?);
    budgets_of(&state, &req)?
        .service
        .delete(&project, id)
        .await
        .map_err(|e| budget_error(e, &req))?;
    Ok(HttpResponse::NoContent().finish())
}
