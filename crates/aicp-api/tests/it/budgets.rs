//! Budgets over the real database: CRUD with the admin key, status per project and scope,
//! validation errors, and threshold alerts raised once per period.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use aicp_domain::budgets::{Period, PeriodBounds};
use chrono::{SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::guard::issue_key;
use crate::support::{Reply, TestApp, batch, event};

const ADMIN: &str = "admin-secret";

async fn admin(app: &TestApp, method: TestRequest, uri: &str, body: Option<Value>) -> Reply {
    let mut req = method.uri(uri).insert_header(("x-api-key", ADMIN));
    if let Some(body) = body {
        req = req.insert_header(("content-type", "application/json")).set_payload(body.to_string());
    }
    app.call(req).await
}

pub(crate) async fn create_budget(app: &TestApp, project: &str, body: Value) -> Value {
    let r = admin(
        app,
        TestRequest::post(),
        &format!("/api/v1/admin/projects/{project}/budgets"),
        Some(body),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

async fn get_as(app: &TestApp, key: &str, uri: &str) -> Reply {
    app.call(TestRequest::get().uri(uri).insert_header(("x-api-key", key.to_owned()))).await
}

/// A timestamp inside the current UTC month (now, or the month's first instant just after a
/// boundary), so that events land in the budgets' current period.
pub(crate) fn this_month() -> String {
    let now = Utc::now();
    let start = PeriodBounds::containing(Period::Month, Tz::UTC, now).start;
    (now - chrono::Duration::seconds(1)).max(start).to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) async fn post_events_as(app: &TestApp, key: Option<&str>, events: Vec<Value>) {
    let mut req = TestRequest::post()
        .uri("/api/v1/events")
        .insert_header(("content-type", "application/json"))
        .set_payload(batch(events));
    if let Some(key) = key {
        req = req.insert_header(("x-api-key", key.to_owned()));
    }
    let r = app.call(req).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}

#[actix_web::test]
async fn budgets_count_only_their_scope_in_their_own_project() {
    let app = TestApp::new().await.with_guard(&[("ADMIN_KEY", ADMIN)]);
    let acme = issue_key(&app, "acme").await;
    let other = issue_key(&app, "other").await;
    let chat = create_budget(
        &app,
        "acme",
        json!({"name": "chat", "amountUsd": "0.01", "period": "month",
               "scope": {"type": "feature", "value": "chat"}}),
    )
    .await;
    let whole = create_budget(
        &app,
        "other",
        json!({"name": "all", "amountUsd": 10, "period": "month", "timeZone": "Europe/Berlin"}),
    )
    .await;
    let ts = this_month();
    post_events_as(
        &app,
        Some(&acme),
        vec![
            // gpt-4o, 1000 + 500 tokens: 0.0075 each (priced by the server).
            event("a1", json!({"feature": "chat", "timestamp": ts})),
            event("a2", json!({"feature": "search", "timestamp": ts})),
        ],
    )
    .await;
    post_events_as(
        &app,
        Some(&other),
        (1..=3)
            .map(|i| event(&format!("b{i}"), json!({"feature": "chat", "timestamp": ts})))
            .collect(),
    )
    .await;

    let mine = get_as(&app, &acme, "/api/v1/budgets/status").await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    let list = mine.body.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["budget"]["id"], chat["id"]);
    // Only acme's chat calls: 0.0075 of 0.01.
    assert_eq!(list[0]["spendUsd"], "0.0075");
    assert_eq!(list[0]["remainingUsd"], "0.0025");
    assert_eq!(list[0]["percent"], "75.00");
    assert_eq!(list[0]["thresholdsReached"], json!([50]));
    assert_eq!(list[0]["forecast"]["method"], "linear");

    let theirs = get_as(&app, &other, "/api/v1/budgets/status").await;
    let list = theirs.body.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["budget"]["id"], whole["id"]);
    assert_eq!(list[0]["spendUsd"], "0.0225");
    assert_eq!(list[0]["budget"]["timeZone"], "Europe/Berlin");

    // Another project's budget is not found, read or written, by id.
    let id = chat["id"].as_str().unwrap();
    assert_eq!(
        get_as(&app, &other, &format!("/api/v1/budgets/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get_as(&app, &acme, &format!("/api/v1/budgets/{id}")).await.status, StatusCode::OK);
    let cross = admin(
        &app,
        TestRequest::put(),
        &format!("/api/v1/admin/projects/other/budgets/{id}"),
        Some(json!({"name": "x", "amountUsd": 1, "period": "day"})),
    )
    .await;
    assert_eq!(cross.status, StatusCode::NOT_FOUND);
    let cross = admin(
        &app,
        TestRequest::delete(),
        &format!("/api/v1/admin/projects/other/budgets/{id}"),
        None,
    )
    .await;
    assert_eq!(cross.status, StatusCode::NOT_FOUND);

    // The alerts are each project's own: the 50 % threshold and the forecast (75 % spent
    // early in the period ends far above the amount).
    let alerts = get_as(&app, &acme, "/api/v1/alerts").await;
    let alerts = alerts.body.as_array().unwrap().clone();
    let threshold: Vec<&Value> =
        alerts.iter().filter(|a| a["type"] == "budget.threshold").collect();
    assert_eq!(threshold.len(), 1);
    assert_eq!(threshold[0]["thresholdPct"], 50);
    assert_eq!(threshold[0]["data"]["spendUsd"], "0.0075");
    let forecast: Vec<&Value> =
        alerts.iter().filter(|a| a["type"] == "budget.forecast_exceeds").collect();
    assert_eq!(forecast.len(), 1, "{alerts:?}");
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(get_as(&app, &other, "/api/v1/alerts").await.body, json!([]));
}

#[actix_web::test]
async fn a_budget_is_updated_and_deleted_with_the_admin_key_only() {
    let app = TestApp::new().await.with_guard(&[("ADMIN_KEY", ADMIN)]);
    let key = issue_key(&app, "acme").await;
    let created =
        create_budget(&app, "acme", json!({"name": "d", "amountUsd": 5, "period": "day"})).await;
    assert_eq!(created["thresholds"], json!([50, 80, 100]));
    assert_eq!(created["timeZone"], "UTC");
    assert_eq!(created["scope"], Value::Null);
    let uri = format!("/api/v1/admin/projects/acme/budgets/{}", created["id"].as_str().unwrap());

    // A project key cannot write budgets, even its own project's.
    let denied = app
        .call(
            TestRequest::post()
                .uri("/api/v1/admin/projects/acme/budgets")
                .insert_header(("x-api-key", key.clone()))
                .insert_header(("content-type", "application/json"))
                .set_payload(json!({"name": "d", "amountUsd": 5, "period": "day"}).to_string()),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    let updated = admin(
        &app,
        TestRequest::put(),
        &uri,
        Some(json!({"name": "weekly", "amountUsd": "7.5", "period": "week", "timeZone": "America/New_York",
                    "scope": {"type": "user", "value": "u1"}, "thresholds": [90]})),
    )
    .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["amountUsd"], "7.5");
    assert_eq!(updated.body["scope"], json!({"type": "user", "value": "u1"}));
    let listed = get_as(&app, &key, "/api/v1/budgets").await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_eq!(listed.body[0]["name"], "weekly");
    // An update without a scope clears it (the whole definition is replaced).
    let unscoped = admin(
        &app,
        TestRequest::put(),
        &uri,
        Some(json!({"name": "weekly", "amountUsd": "7.5", "period": "week"})),
    )
    .await;
    assert_eq!(unscoped.status, StatusCode::OK, "{}", unscoped.body);
    assert_eq!(unscoped.body["scope"], Value::Null);

    assert_eq!(admin(&app, TestRequest::delete(), &uri, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(admin(&app, TestRequest::delete(), &uri, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get_as(&app, &key, "/api/v1/budgets").await.body, json!([]));
}

#[actix_web::test]
async fn invalid_budgets_are_400s_that_store_nothing() {
    let app = TestApp::new().await.with_guard(&[("ADMIN_KEY", ADMIN)]);
    let uri = "/api/v1/admin/projects/acme/budgets";
    let bad = admin(
        &app,
        TestRequest::post(),
        uri,
        Some(
            json!({"name": "", "amountUsd": "-3", "period": "fortnight", "timeZone": "Nowhere/Land",
                    "thresholds": [0]}),
        ),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["code"], "validation_failed");
    let paths: Vec<&str> = bad.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["name", "amountUsd", "period", "timeZone", "thresholds.0"]);

    let not_json = app
        .call(
            TestRequest::post()
                .uri(uri)
                .insert_header(("x-api-key", ADMIN))
                .insert_header(("content-type", "application/json"))
                .set_payload("{"),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    let bad_project = admin(
        &app,
        TestRequest::post(),
        "/api/v1/admin/projects/Not%20A%20Name/budgets",
        Some(json!({"name": "d", "amountUsd": 5, "period": "day"})),
    )
    .await;
    assert_eq!(bad_project.status, StatusCode::BAD_REQUEST);
    let bad_id =
        admin(&app, TestRequest::delete(), "/api/v1/admin/projects/acme/budgets/nope", None).await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/api/v1/budgets/nope").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/api/v1/alerts?limit=0").await.status, StatusCode::BAD_REQUEST);

    let db = app.db.as_ref().unwrap().client().await;
    let n: i64 = db.query_one("SELECT count(*) FROM budgets", &[]).await.unwrap().get(0);
    assert_eq!(n, 0);
}

/// The percents of the threshold alerts among `alerts`.
fn threshold_pcts(alerts: &Value) -> Vec<u64> {
    alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "budget.threshold")
        .map(|a| a["thresholdPct"].as_u64().unwrap())
        .collect()
}

#[actix_web::test]
async fn each_threshold_alerts_once_per_period_however_often_and_concurrently_evaluated() {
    let app = TestApp::new().await.with_guard(&[("ADMIN_KEY", ADMIN)]);
    create_budget(
        &app,
        "default",
        json!({"name": "m", "amountUsd": "0.01", "period": "month", "thresholds": [50, 80, 100]}),
    )
    .await;
    let ts = this_month();
    // 0.0075 (gpt-4o, 1000 + 500 tokens) of 0.01: 75 %.
    post_events_as(&app, None, vec![event("e1", json!({"timestamp": ts}))]).await;
    let state = app.state();
    let service = &state.budgets.as_ref().unwrap().service;
    // Five concurrent status reads and an evaluator round: one alert (50 %).
    let reads = (0..5).map(|_| app.get("/api/v1/budgets/status"));
    for r in futures_util::future::join_all(reads).await {
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(service.evaluate_all().await.unwrap(), 0);
    let projects = service.projects().await.unwrap();
    assert_eq!(projects.iter().map(|p| p.as_str()).collect::<Vec<_>>(), ["default"]);
    let alerts = app.get("/api/v1/alerts").await.body;
    assert_eq!(threshold_pcts(&alerts), [50]);
    let forecasts = |alerts: &Value| {
        alerts.as_array().unwrap().iter().filter(|a| a["type"] == "budget.forecast_exceeds").count()
    };
    assert_eq!(forecasts(&alerts), 1, "the forecast alerts once too: {alerts}");

    // More spend crosses 80 % and 100 % at once: each alerts once.
    post_events_as(&app, None, vec![event("e2", json!({"timestamp": ts}))]).await;
    assert_eq!(service.evaluate_all().await.unwrap(), 2);
    assert_eq!(service.evaluate_all().await.unwrap(), 0);
    app.get("/api/v1/budgets/status").await;
    let alerts = app.get("/api/v1/alerts").await.body;
    let mut pcts = threshold_pcts(&alerts);
    pcts.sort_unstable();
    assert_eq!(pcts, [50, 80, 100]);
    assert_eq!(forecasts(&alerts), 1, "no second forecast alert once the amount is spent");
    let status = app.get("/api/v1/budgets/status").await.body;
    assert_eq!(status[0]["percent"], "150.00");
    assert_eq!(status[0]["remainingUsd"], "-0.005");
}

#[actix_web::test]
async fn the_openapi_document_describes_the_budget_alert_and_webhook_routes() {
    let app = TestApp::new().await;
    let doc = app.get("/api/v1/openapi.json").await.body;
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/budgets",
        "/api/v1/budgets/status",
        "/api/v1/budgets/{id}",
        "/api/v1/admin/projects/{project}/budgets",
        "/api/v1/admin/projects/{project}/budgets/{id}",
        "/api/v1/webhooks",
        "/api/v1/admin/projects/{project}/webhooks",
        "/api/v1/admin/projects/{project}/webhooks/{id}",
        "/api/v1/alerts",
        "/api/v1/anomalies",
    ] {
        assert!(paths.contains_key(path), "{path} is missing");
    }
    assert!(doc["components"]["schemas"]["BudgetStatusItem"].is_object());
}

#[actix_web::test]
async fn a_scope_with_days_of_hourly_history_gets_a_seasonal_forecast_with_an_interval() {
    let app = TestApp::new().await.with_guard(&[("ADMIN_KEY", ADMIN)]);
    for (name, feature) in [("busy", "chat"), ("new", "brand-new")] {
        create_budget(
            &app,
            "default",
            json!({"name": name, "amountUsd": 100, "period": "month",
                   "scope": {"type": "feature", "value": feature}}),
        )
        .await;
    }
    // One chat call per hour for the last 100 hours, more during the day (UTC 9-17).
    let now = Utc::now();
    let events: Vec<Value> = (1..=100)
        .map(|h| {
            let t = now - chrono::Duration::hours(h);
            let tokens = if (9..17).contains(&chrono::Timelike::hour(&t)) { 4000 } else { 1000 };
            event(
                &format!("h{h}"),
                json!({"feature": "chat", "inputTokens": tokens,
                       "timestamp": t.to_rfc3339_opts(SecondsFormat::Millis, true)}),
            )
        })
        .collect();
    post_events_as(&app, None, events).await;
    let status = app.get("/api/v1/budgets/status").await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    let dec = |v: &Value| v.as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap();
    let busy = &status.body[0]["forecast"];
    assert_eq!(busy["method"], "seasonal", "{busy}");
    let (low, mid, high) = (
        dec(&busy["expectedSpendLowUsd"]),
        dec(&busy["expectedSpendUsd"]),
        dec(&busy["expectedSpendHighUsd"]),
    );
    assert!(low <= mid && mid <= high, "{busy}");
    // Whatever the model says, the period's spend so far is the floor.
    assert!(low >= dec(&status.body[0]["spendUsd"]));
    // No history at all: the labelled linear projection, without an interval.
    let fresh = &status.body[1]["forecast"];
    assert_eq!(fresh["method"], "linear");
    assert_eq!(fresh["expectedSpendLowUsd"], Value::Null);
}

#[actix_web::test]
async fn the_budgets_page_shows_spend_forecast_alerts_and_anomalies_as_the_api_does() {
    let app = TestApp::new().await.with_guard(&[("ADMIN_KEY", ADMIN)]);
    let empty = crate::dashboard::page(&app, "/budgets").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains("No budgets yet."), "{}", empty.body);
    create_budget(
        &app,
        "default",
        json!({"name": "chat monthly", "amountUsd": "0.01", "period": "month",
               "scope": {"type": "feature", "value": "chat"}}),
    )
    .await;
    post_events_as(&app, None, vec![event("p1", json!({"timestamp": this_month()}))]).await;
    let html = crate::dashboard::page(&app, "/budgets").await;
    assert_eq!(html.status, StatusCode::OK);
    let table = html.body.split("id=\"budgets-table\"").nth(1).expect("the budgets table");
    assert!(table.contains("chat monthly"));
    assert!(table.contains("feature = chat"));
    // 0.0075 of 0.01, as GET /api/v1/budgets/status says.
    let api = app.get("/api/v1/budgets/status").await.body;
    assert!(table.contains(&format!("{} %", api[0]["percent"].as_str().unwrap())));
    assert!(table.contains("title=\"$0.0075 exactly\""), "the exact spend is in the hover title");
    assert!(table.contains("linear projection"));
    let alerts = html.body.split("id=\"alerts-table\"").nth(1).expect("the alerts table");
    assert!(alerts.contains("chat monthly reached 50 %"));
    assert!(html.body.contains("href=\"/budgets\""), "the navigation links the page");
}
