//! `/budgets`: every budget of the project in its current period (spend, percent, forecast),
//! the latest alerts, and the cost anomalies of the last 7 days. The same domain services as
//! `/api/v1/budgets/status`, `/api/v1/alerts` and `/api/v1/anomalies`.

use actix_web::{HttpRequest, HttpResponse, get, web};
use aicp_domain::anomalies::dimension_name;
use aicp_domain::budgets::ForecastMethod;
use askama::Template;
use chrono::Duration;

use crate::dashboard::format::{exact, money};
use crate::dashboard::pages::{Chrome, failure, render};
use crate::dashboard::session::viewer;
use crate::error::ApiError;
use crate::state::AppState;

/// One budget row.
struct BudgetRow {
    name: String,
    scope: String,
    period: String,
    spend: String,
    spend_exact: String,
    amount: String,
    percent: String,
    over: bool,
    forecast: String,
    method: &'static str,
    run_out: String,
}

/// One alert row.
struct AlertRow {
    at: String,
    kind: String,
    what: String,
}

/// One anomaly row.
struct AnomalyRow {
    what: String,
    window: String,
    added: String,
    added_exact: String,
    drivers: String,
}

#[derive(Template)]
#[template(path = "dash/budgets.html")]
struct Page {
    chrome: Chrome,
    budgets: Vec<BudgetRow>,
    alerts: Vec<AlertRow>,
    anomalies: Vec<AnomalyRow>,
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The budgets page.
#[get("/budgets")]
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let viewer = match viewer(&req, &state).await {
        Ok(v) => v,
        Err(d) => return d.response(),
    };
    let Some(b) = state.budgets.as_ref() else {
        return failure(ApiError::NotFound { path: "/budgets".into() });
    };
    let project = &viewer.project;
    let statuses = match b.service.status(project).await {
        Ok(s) => s,
        Err(e) => return failure(e),
    };
    let now = state.clock.now();
    let week = aicp_domain::TimeWindow { from: now - Duration::days(7), to: now };
    let anomalies = match b.anomalies.scan(project, &week, now).await {
        Ok(a) => a,
        Err(aicp_domain::anomalies::AnomalyError::Repo(e)) => return failure(e),
        Err(e) => return failure(ApiError::InvalidParameter(e.to_string())),
    };
    let alerts = match b.alerts.list(project, 20).await {
        Ok(a) => a,
        Err(e) => return failure(e),
    };
    let budgets = statuses
        .iter()
        .map(|s| {
            let f = &s.forecast;
            let forecast = match f.interval {
                Some((low, high)) => {
                    format!("{} ({} – {})", money(f.expected_end), money(low), money(high))
                }
                None => money(f.expected_end),
            };
            BudgetRow {
                name: s.budget.spec.name.clone(),
                scope: s.budget.spec.scope.as_ref().map_or_else(
                    || "all calls".to_owned(),
                    |sc| format!("{} = {}", sc.kind.as_str(), sc.value),
                ),
                period: format!("{} ({})", s.budget.spec.period.as_str(), s.budget.spec.time_zone),
                spend: money(s.spend),
                spend_exact: exact(s.spend),
                amount: money(s.budget.amount()),
                percent: format!("{:.2} %", s.percent),
                over: s.spend >= s.budget.amount(),
                forecast,
                method: match f.method {
                    ForecastMethod::Seasonal => "seasonal",
                    ForecastMethod::Linear => "linear projection",
                },
                run_out: f.run_out_at.map_or_else(|| "—".to_owned(), when),
            }
        })
        .collect();
    let alerts = alerts
        .iter()
        .map(|a| AlertRow {
            at: when(a.created_at),
            kind: a.kind.clone(),
            what: match (a.payload.get("budgetName"), a.payload.get("value")) {
                (Some(name), _) => format!(
                    "{} reached {} % ({} USD)",
                    name.as_str().unwrap_or(""),
                    a.threshold_pct.unwrap_or(0),
                    a.payload["spendUsd"].as_str().unwrap_or("")
                ),
                (_, Some(value)) => format!(
                    "{} {}: +{} USD",
                    a.payload["dimension"].as_str().unwrap_or(""),
                    value.as_str().unwrap_or(""),
                    a.payload["addedUsd"].as_str().unwrap_or("")
                ),
                _ => String::new(),
            },
        })
        .collect();
    let anomalies = anomalies
        .iter()
        .map(|a| {
            let mut drivers = Vec::new();
            if let Some(c) = &a.drivers.top_other {
                drivers.push(format!("{} ({})", c.name, money(c.cost)));
            }
            if let Some(c) = &a.drivers.top_user {
                drivers.push(format!("user {} ({})", c.name, money(c.cost)));
            }
            if a.drivers.error_rate > a.drivers.baseline_error_rate + 0.1 {
                drivers.push(format!("errors {:.0} %", 100.0 * a.drivers.error_rate));
            }
            AnomalyRow {
                what: format!("{} {}", dimension_name(a.dimension), a.value),
                window: format!("{} – {}", when(a.start), a.end.format("%H:%M")),
                added: money(a.added),
                added_exact: exact(a.added),
                drivers: drivers.join(", "),
            }
        })
        .collect();
    let body = Page {
        chrome: Chrome::new("Budgets", "/budgets", &viewer, None),
        budgets,
        alerts,
        anomalies,
    };
    render(&viewer, &body)
}
