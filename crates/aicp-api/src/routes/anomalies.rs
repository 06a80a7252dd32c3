//! `GET /api/v1/anomalies?from&to`: hourly cost per feature and per model against its seasonal
//! baseline; each anomaly with its window, the money it added and what drove it.

use actix_web::{HttpRequest, HttpResponse, get, web};
use aicp_domain::anomalies::{Anomaly, AnomalyError, Contributor, dimension_name};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::routes::budgets::{budgets_of, ts};
use crate::routes::project_of;
use crate::routes::query::AnalyticsQuery;
use crate::state::AppState;

/// The largest contributor within an anomaly.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContributorItem {
    /// Model, feature or user id.
    pub name: String,
    /// Its cost within the anomaly (exact decimal string).
    pub cost_usd: String,
}

fn contributor(c: &Option<Contributor>) -> Option<ContributorItem> {
    c.as_ref().map(|c| ContributorItem { name: c.name.clone(), cost_usd: c.cost.to_string() })
}

/// What drove an anomaly.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriversItem {
    /// Top model (feature anomaly) or feature (model anomaly).
    pub top_model: Option<ContributorItem>,
    /// Top feature (model anomaly).
    pub top_feature: Option<ContributorItem>,
    /// Top end user.
    pub top_user: Option<ContributorItem>,
    /// Failed share of calls within the anomaly, and in the 14 days before it.
    pub error_rate: f64,
    /// See `errorRate`.
    pub baseline_error_rate: f64,
    /// Retried share of calls within the anomaly, and before it.
    pub retry_rate: f64,
    /// See `retryRate`.
    pub baseline_retry_rate: f64,
}

/// One anomaly.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnomalyItem {
    /// `feature` or `model`.
    pub dimension: String,
    /// Which one.
    pub value: String,
    /// First anomalous hour.
    pub start: String,
    /// End of the last anomalous hour.
    pub end: String,
    /// Cost within the anomaly (exact).
    pub actual_usd: String,
    /// What the seasonal baseline expected.
    pub expected_usd: String,
    /// Money added above the baseline.
    pub added_usd: String,
    /// What drove it.
    pub drivers: DriversItem,
}

impl From<&Anomaly> for AnomalyItem {
    fn from(a: &Anomaly) -> Self {
        let model = a.dimension == aicp_domain::analytics::GroupBy::Model;
        let other = contributor(&a.drivers.top_other);
        let (top_model, top_feature) = if model { (None, other) } else { (other, None) };
        AnomalyItem {
            dimension: dimension_name(a.dimension).to_owned(),
            value: a.value.clone(),
            start: ts(a.start),
            end: ts(a.end),
            actual_usd: a.actual.to_string(),
            expected_usd: a.expected.to_string(),
            added_usd: a.added.to_string(),
            drivers: DriversItem {
                top_model,
                top_feature,
                top_user: contributor(&a.drivers.top_user),
                error_rate: a.drivers.error_rate,
                baseline_error_rate: a.drivers.baseline_error_rate,
                retry_rate: a.drivers.retry_rate,
                baseline_retry_rate: a.drivers.baseline_retry_rate,
            },
        }
    }
}

/// Cost anomalies of the costliest 10 features and 10 models of the window (at most 31 days),
/// each against a seasonal baseline learnt from its hourly cost over the 14 days before; most
/// money added first. Newly found anomalies also raise `anomaly.opened` alerts.
#[utoipa::path(get, path = "/api/v1/anomalies", tag = "alerts",
    params(("from" = String, Query), ("to" = String, Query)),
    responses((status = 200, body = Vec<AnomalyItem>), (status = 400, body = ErrorBody)))]
#[get("/anomalies")]
pub async fn list(
    req: HttpRequest,
    query: web::Query<AnalyticsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let window = query.window()?;
    let budgets = budgets_of(&state, &req)?;
    let found =
        budgets.anomalies.scan(&project_of(&req), &window, state.clock.now()).await.map_err(
            |e| match e {
                AnomalyError::WindowTooLong => ApiError::InvalidParameter(e.to_string()),
                AnomalyError::Repo(e) => ApiError::from(e),
            },
        )?;
    Ok(HttpResponse::Ok().json(found.iter().map(AnomalyItem::from).collect::<Vec<_>>()))
}
