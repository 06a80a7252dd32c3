//! `GET /api/v1/anomalies` over the real database and the augurs-backed baseline.

use actix_web::http::StatusCode;
use chrono::{SecondsFormat, Timelike, Utc};
use serde_json::{Value, json};

use crate::budgets::post_events_as;
use crate::support::{TestApp, event};

#[actix_web::test]
async fn a_spike_is_reported_with_the_money_it_added_and_its_drivers_and_alerts_once() {
    let app = TestApp::new().await;
    let now = Utc::now();
    let at = |h: i64| {
        let t = now - chrono::Duration::hours(h);
        // Mid-hour, so that each call is in the hour it is meant for.
        let t = t.with_minute(30).unwrap().with_second(0).unwrap();
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    };
    // One call per hour for five days, then twenty extra calls of one user in one hour.
    let mut events: Vec<Value> =
        (2..=120).map(|h| event(&format!("n{h}"), json!({"timestamp": at(h)}))).collect();
    events.extend(
        (0..20).map(|i| event(&format!("w{i}"), json!({"userId": "whale", "timestamp": at(5)}))),
    );
    post_events_as(&app, None, events).await;

    let from = (now - chrono::Duration::hours(24)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let to = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let uri = format!("/api/v1/anomalies?from={from}&to={to}");
    let r = app.get(&uri).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = r.body.as_array().unwrap();
    let feature = list.iter().find(|a| a["dimension"] == "feature").expect("a feature anomaly");
    assert_eq!(feature["value"], "chat");
    let spike_hour = (now - chrono::Duration::hours(5)).with_minute(0).unwrap();
    assert_eq!(
        feature["start"],
        spike_hour
            .with_second(0)
            .unwrap()
            .with_nanosecond(0)
            .unwrap()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    );
    // 21 calls at 0.0075 in that hour, exactly.
    assert_eq!(feature["actualUsd"], "0.1575");
    let added: rust_decimal::Decimal = feature["addedUsd"].as_str().unwrap().parse().unwrap();
    assert!(added > rust_decimal::Decimal::new(1, 1), "most of it is above the baseline: {added}");
    assert_eq!(feature["drivers"]["topUser"]["name"], "whale");
    assert_eq!(feature["drivers"]["topUser"]["costUsd"], "0.15");
    assert_eq!(feature["drivers"]["topModel"]["name"], "gpt-4o");
    assert!(list.iter().any(|a| a["dimension"] == "model" && a["value"] == "gpt-4o"));

    // Reading again finds the same anomalies but opens no new alert.
    app.get(&uri).await;
    let alerts = app.get("/api/v1/alerts").await.body;
    let opened: Vec<&Value> =
        alerts.as_array().unwrap().iter().filter(|a| a["type"] == "anomaly.opened").collect();
    assert_eq!(opened.len(), list.len());
}

#[actix_web::test]
async fn bad_windows_are_400s() {
    let app = TestApp::new().await;
    for uri in [
        "/api/v1/anomalies",
        "/api/v1/anomalies?from=2026-01-01&to=2026-03-01",
        "/api/v1/anomalies?from=2026-01-02&to=2026-01-01",
        "/api/v1/anomalies?from=nope&to=2026-01-01",
    ] {
        let r = app.get(uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.body);
    }
    assert_eq!(app.get("/api/v1/anomalies?from=2026-01-01&to=2026-01-02").await.body, json!([]));
}
