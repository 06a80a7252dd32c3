//! Webhook delivery from the durable outbox: signed, retried until the receiver answers 2xx,
//! resumed by a new deliverer after the old one was killed.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use aicp_api::budgets::deliverer::{Deliverer, DelivererSettings, Outcome};
use aicp_domain::SystemClock;
use aicp_domain::alerts::{SignatureError, verify};
use serde_json::json;

use crate::budgets::{create_budget, post_events_as, this_month};
use crate::support::TestApp;

const SECRET: &str = "whsec_test_secret_0123456789";

/// One request as the receiver saw it.
#[derive(Clone)]
struct Received {
    signature: String,
    idempotency_key: String,
    body: Vec<u8>,
}

/// A receiver on loopback that answers `status` (changeable) and records every request.
struct Receiver {
    url: String,
    status: Arc<AtomicU16>,
    seen: Arc<Mutex<Vec<Received>>>,
    server: actix_web::dev::ServerHandle,
}

async fn receiver(status: u16) -> Receiver {
    let status = Arc::new(AtomicU16::new(status));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (st, sn) = (status.clone(), seen.clone());
    let server = HttpServer::new(move || {
        let (st, sn) = (st.clone(), sn.clone());
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let (st, sn) = (st.clone(), sn.clone());
            async move {
                let header = |name: &str| {
                    req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
                };
                sn.lock().unwrap().push(Received {
                    signature: header("x-aicp-signature"),
                    idempotency_key: header("idempotency-key"),
                    body: body.to_vec(),
                });
                HttpResponse::build(StatusCode::from_u16(st.load(Ordering::SeqCst)).unwrap())
                    .finish()
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Receiver { url: format!("http://{addr}/hook"), status, seen, server: handle }
}

/// Fast retries: the test waits on outcomes, not on the clock.
fn settings() -> DelivererSettings {
    DelivererSettings {
        poll: Duration::from_millis(10),
        lease: Duration::from_secs(60),
        timeout: Duration::from_secs(5),
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(1),
        ..DelivererSettings::default()
    }
}

/// An app with a webhook to `url` and one budget alert raised (so one delivery queued).
async fn app_with_alert(url: &str) -> TestApp {
    let app = TestApp::new().await.with_guard(&[("ADMIN_KEY", "admin-secret")]);
    let hook = app
        .call(
            TestRequest::post()
                .uri("/api/v1/admin/projects/default/webhooks")
                .insert_header(("x-api-key", "admin-secret"))
                .insert_header(("content-type", "application/json"))
                .set_payload(json!({"url": url, "secret": SECRET}).to_string()),
        )
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.body);
    assert_eq!(hook.body["secret"], SECRET);
    let listed = app.get("/api/v1/webhooks").await.body;
    assert_eq!(listed[0]["url"], url);
    assert!(listed[0].get("secret").is_none(), "the secret is shown once only");
    create_budget(
        &app,
        "default",
        json!({"name": "tiny", "amountUsd": "0.001", "period": "month", "thresholds": [100]}),
    )
    .await;
    let ts = this_month();
    post_events_as(&app, None, vec![crate::support::event("w1", json!({"timestamp": ts}))]).await;
    assert_eq!(app.get("/api/v1/budgets/status").await.status, StatusCode::OK);
    app
}

fn deliverer(app: &TestApp) -> Deliverer {
    let alerts = app.state().budgets.as_ref().unwrap().alerts.clone();
    Deliverer::new(alerts, Arc::new(SystemClock), settings()).unwrap()
}

async fn outbox(app: &TestApp) -> (i32, bool) {
    let db = app.db.as_ref().unwrap().client().await;
    let row = db
        .query_one("SELECT attempts, delivered_at IS NOT NULL FROM alert_outbox", &[])
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// Runs `d` until an attempt happens (a failed attempt is due again after 1 ms).
async fn attempt(d: &Deliverer) -> Vec<Outcome> {
    for _ in 0..500 {
        let outcomes = d.run_once().await.unwrap();
        if !outcomes.is_empty() {
            return outcomes;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no delivery came due");
}

#[actix_web::test]
async fn a_receiver_that_fails_then_recovers_gets_the_alert_signed_and_it_is_then_delivered() {
    let rx = receiver(500).await;
    let app = app_with_alert(&rx.url).await;
    let d = deliverer(&app);
    assert_eq!(attempt(&d).await, [Outcome::Failed]);
    assert_eq!(attempt(&d).await, [Outcome::Failed]);
    assert_eq!(outbox(&app).await, (2, false));
    rx.status.store(204, Ordering::SeqCst);
    assert_eq!(attempt(&d).await, [Outcome::Delivered]);
    assert_eq!(outbox(&app).await, (3, true));
    // Delivered: never sent again.
    assert!(d.run_once().await.unwrap().is_empty());

    let seen = rx.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    let alert = app.get("/api/v1/alerts").await.body[0].clone();
    for r in &seen {
        // The same idempotency key (the alert id) on every attempt.
        assert_eq!(r.idempotency_key, alert["id"].as_str().unwrap());
        let now = chrono::Utc::now().timestamp();
        assert_eq!(verify(SECRET, &r.signature, &r.body, now, 300), Ok(()));
        assert_eq!(
            verify("another-secret-entirely", &r.signature, &r.body, now, 300),
            Err(SignatureError::Mismatch)
        );
    }
    let body: serde_json::Value = serde_json::from_slice(&seen[2].body).unwrap();
    assert_eq!(body["type"], "budget.threshold");
    assert_eq!(body["id"], alert["id"]);
    assert_eq!(body["data"]["thresholdPct"], 100);
    rx.server.stop(false).await;
}

#[actix_web::test]
async fn delivery_resumes_after_the_deliverer_is_killed() {
    let rx = receiver(503).await;
    let app = app_with_alert(&rx.url).await;
    // A running deliverer fails against the receiver, then is killed (its task dropped),
    // possibly in the middle of a send: its claim then lasts only for its lease.
    let alerts = app.state().budgets.as_ref().unwrap().alerts.clone();
    let short_lease = DelivererSettings { lease: Duration::from_millis(200), ..settings() };
    let task = Deliverer::new(alerts.clone(), Arc::new(SystemClock), short_lease).unwrap().start();
    for _ in 0..500 {
        if outbox(&app).await.0 >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    task.abort();
    let _ = task.await;
    let (attempts, delivered) = outbox(&app).await;
    assert!(attempts >= 1 && !delivered);

    // Another deliverer that claims the delivery and dies before answering holds it only for
    // its lease: nobody sends it meanwhile, and it is due again afterwards.
    let mut claimed = Vec::new();
    for _ in 0..500 {
        let now = chrono::Utc::now();
        claimed =
            alerts.claim_due(now, now + chrono::Duration::milliseconds(200), 10).await.unwrap();
        if !claimed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(claimed.len(), 1);
    let fresh = deliverer(&app);
    assert!(fresh.run_once().await.unwrap().is_empty(), "leased to the dead deliverer");

    // The receiver recovers; a new deliverer (a restarted server) delivers from the outbox.
    rx.status.store(200, Ordering::SeqCst);
    assert_eq!(attempt(&fresh).await, [Outcome::Delivered]);
    assert!(outbox(&app).await.1);
    rx.server.stop(false).await;
}

#[actix_web::test]
async fn webhook_registration_refuses_bad_urls_and_short_secrets() {
    let app = TestApp::new().await.with_guard(&[("ADMIN_KEY", "admin-secret")]);
    for body in [
        json!({"url": "ftp://x/y"}),
        json!({"url": "https://ok.example/x", "secret": "short"}),
        json!({"nourl": true}),
    ] {
        let r = app
            .call(
                TestRequest::post()
                    .uri("/api/v1/admin/projects/default/webhooks")
                    .insert_header(("x-api-key", "admin-secret"))
                    .insert_header(("content-type", "application/json"))
                    .set_payload(body.to_string()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
    }
    let generated = app
        .call(
            TestRequest::post()
                .uri("/api/v1/admin/projects/default/webhooks")
                .insert_header(("x-api-key", "admin-secret"))
                .insert_header(("content-type", "application/json"))
                .set_payload(json!({"url": "https://ok.example/x"}).to_string()),
        )
        .await;
    assert_eq!(generated.status, StatusCode::CREATED);
    assert!(generated.body["secret"].as_str().unwrap().starts_with("whsec_"));
    let id = generated.body["webhook"]["id"].as_str().unwrap();
    let uri = format!("/api/v1/admin/projects/default/webhooks/{id}");
    let del = |uri: String| {
        app.call(TestRequest::delete().uri(&uri).insert_header(("x-api-key", "admin-secret")))
    };
    assert_eq!(del(uri.clone()).await.status, StatusCode::NO_CONTENT);
    assert_eq!(del(uri).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/webhooks").await.body, json!([]));
}
