//! Who may see and change what through the dashboard: sign-in with a key, sessions in an
//! encrypted cookie, CSRF on every form, sign-out, the admin key for keys, a session's cookie on
//! the API's safe requests only, and a session never showing another project's data.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::json;

use crate::dashboard::{VIEW, fixture};
use crate::guard::issue_key;
use crate::support::{TestApp, TextReply, batch, event};

/// The `name=value` of the session cookie a response sets.
fn session_cookie(r: &TextReply) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("aicp_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// The form token in a page.
fn csrf(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("a form with a token") + 19;
    body[at..].split('"').next().unwrap().to_owned()
}

fn get(uri: &str, cookie: Option<&str>) -> TestRequest {
    let req = TestRequest::get().uri(uri).insert_header(("accept", "text/html"));
    match cookie {
        Some(c) => req.insert_header(("cookie", c.to_owned())),
        None => req,
    }
}

fn form(uri: &str, cookie: &str, body: &str) -> TestRequest {
    TestRequest::post()
        .uri(uri)
        .insert_header(("cookie", cookie.to_owned()))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(body.to_owned())
}

fn enc(v: &str) -> String {
    serde_urlencoded::to_string([("", v)]).unwrap().trim_start_matches('=').to_owned()
}

/// Signs in with `key` as a browser would; the session cookie.
async fn sign_in(app: &TestApp, key: &str) -> String {
    let form_page = app.call_text(get("/sign-in?next=/features", None)).await;
    assert_eq!(form_page.status, StatusCode::OK);
    let cookie = session_cookie(&form_page).expect("a session for the form's token");
    let token = csrf(&form_page.body);
    let r = app
        .call_text(form(
            "/sign-in",
            &cookie,
            &format!("csrf={token}&key={}&next=/features", enc(key)),
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers.get("location").unwrap(), "/features");
    let set = r
        .headers
        .get_all("set-cookie")
        .find_map(|v| v.to_str().ok().filter(|v| v.starts_with("aicp_session=")))
        .unwrap()
        .to_owned();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    session_cookie(&r).unwrap()
}

#[actix_web::test]
async fn once_keys_exist_pages_need_a_session_started_with_a_valid_key() {
    let app =
        TestApp::new().await.with_guard(&[("API_KEYS", "k-one"), ("ADMIN_KEY", "admin-secret")]);
    let r = app.call_text(get("/features?range=24h", None)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers.get("location").unwrap(), "/sign-in?next=%2Ffeatures%3Frange%3D24h");
    // A wrong key is refused with the form shown again; nothing is signed in.
    let form_page = app.call_text(get("/sign-in", None)).await;
    let cookie = session_cookie(&form_page).unwrap();
    let token = csrf(&form_page.body);
    let wrong = app.call_text(form("/sign-in", &cookie, &format!("csrf={token}&key=nope"))).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(wrong.body.contains("That key is not valid"));
    // A sign-in posted without this browser's token (login CSRF) is refused.
    let forged = app.call_text(form("/sign-in", &cookie, "csrf=forged&key=k-one")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // The right key starts a session that shows the pages.
    let session = sign_in(&app, "k-one").await;
    let page = app.call_text(get("/features?range=24h", Some(&session))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("project <strong>default</strong>"));
    // A tampered cookie is no session.
    let tampered = format!("{session}x");
    assert_eq!(app.call_text(get("/", Some(&tampered))).await.status, StatusCode::SEE_OTHER);
    // Sign-out ends it (and needs the session's token).
    let token = csrf(&page.body);
    let bad = app.call_text(form("/sign-out", &session, "csrf=other")).await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
    let out = app.call_text(form("/sign-out", &session, &format!("csrf={token}"))).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let removal =
        out.headers.get_all("set-cookie").find_map(|v| v.to_str().ok()).unwrap().to_owned();
    assert!(removal.starts_with("aicp_session=;") && removal.contains("Max-Age=0"), "{removal}");
    // The sign-in page never redirects elsewhere than this site.
    let evil = app.call_text(get("/sign-in?next=//evil.example/x", None)).await;
    assert!(evil.body.contains("name=\"next\" value=\"/\""), "{}", evil.body);
}

#[actix_web::test]
async fn a_forged_cross_site_form_post_changes_nothing() {
    let app = TestApp::new().await.with_guard(&[("API_KEYS", "k-one")]);
    let session = sign_in(&app, "k-one").await;
    let page = app.call_text(get("/pricing", Some(&session))).await;
    let token = csrf(&page.body);
    let body =
        |t: &str| format!("csrf={t}&model=my-model&effective_from=2026-01-01&input=1&output=2");
    // No token, a wrong token, or the right token from another site's page: all refused.
    for (t, origin) in [("", None), ("wrong", None), (token.as_str(), Some("https://evil.example"))]
    {
        let mut req = form("/pricing/custom", &session, &body(t));
        if let Some(o) = origin {
            req = req.insert_header(("origin", o));
        }
        let r = app.call_text(req).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{t} {origin:?}");
    }
    let prices = app
        .call(TestRequest::get().uri("/api/v1/pricing").insert_header(("x-api-key", "k-one")))
        .await;
    assert_eq!(prices.body["custom"], json!([]), "nothing was stored");
    // The same form from this dashboard works, and a bad price is a 400 page naming the field.
    let ok = app.call_text(form("/pricing/custom", &session, &body(&token))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.body.contains("Saved the price of my-model"));
    let bad = app
        .call_text(form(
            "/pricing/custom",
            &session,
            &format!("csrf={token}&model=m2&effective_from=2026-01-01&input=-1&output=2"),
        ))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("input"), "{}", bad.body);
}

#[actix_web::test]
async fn the_session_cookie_opens_safe_api_reads_and_nothing_that_writes() {
    let app = TestApp::new().await.with_guard(&[("API_KEYS", "k-one")]);
    fixture_with_key(&app, "k-one").await;
    let session = sign_in(&app, "k-one").await;
    let export = app
        .call_text(
            TestRequest::get()
                .uri("/api/v1/export/events?format=csv&from=2026-01-05&to=2026-01-05")
                .insert_header(("cookie", session.clone())),
        )
        .await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    assert_eq!(export.body.lines().count(), 1 + 6, "header and the six events");
    let write = app
        .call_text(
            TestRequest::post()
                .uri("/api/v1/events")
                .insert_header(("cookie", session))
                .insert_header(("content-type", "application/json"))
                .set_payload(batch(vec![event("x1", json!({}))])),
        )
        .await;
    assert_eq!(write.status, StatusCode::UNAUTHORIZED, "a cookie never authorises a write");
}

async fn fixture_with_key(app: &TestApp, key: &str) {
    let r = app
        .call(
            TestRequest::post()
                .uri("/api/v1/events")
                .insert_header(("x-api-key", key.to_owned()))
                .insert_header(("content-type", "application/json"))
                .set_payload(dashboard_batch()),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}

fn dashboard_batch() -> String {
    batch(
        ["d1", "d2", "d3", "d4", "d5", "d6"]
            .iter()
            .map(|s| event(s, json!({"timestamp": "2026-01-05T10:00:00Z"})))
            .collect(),
    )
}

#[actix_web::test]
async fn keys_are_managed_with_the_admin_key_and_shown_once() {
    let app =
        TestApp::new().await.with_guard(&[("API_KEYS", "k-one"), ("ADMIN_KEY", "admin-secret")]);
    let session = sign_in(&app, "k-one").await;
    let keys = app.call_text(get("/keys", Some(&session))).await;
    assert!(keys.body.contains("Admin key"), "a project key does not manage keys");
    let token = csrf(&keys.body);
    let refused = app
        .call_text(form("/keys/create", &session, &format!("csrf={token}&project=acme&name=b")))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let wrong = app
        .call_text(form("/keys/unlock", &session, &format!("csrf={token}&admin_key=guess")))
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let unlocked = app
        .call_text(form("/keys/unlock", &session, &format!("csrf={token}&admin_key=admin-secret")))
        .await;
    assert_eq!(unlocked.status, StatusCode::SEE_OTHER);
    let admin = session_cookie(&unlocked).unwrap();
    let created = app
        .call_text(form("/keys/create", &admin, &format!("csrf={token}&project=acme&name=backend")))
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let at =
        created.body.find("id=\"new-key\">").unwrap_or_else(|| panic!("{}", created.body)) + 13;
    let key = created.body[at..].split('<').next().unwrap().to_owned();
    assert!(key.starts_with("aicp_"));
    // Shown once: the list shows only its display form.
    let list = app.call_text(get("/keys?project=acme", Some(&admin))).await;
    assert!(!list.body.contains(&key) && list.body.contains("backend"));
    // The new key signs in to its project; revoking it ends that session at once.
    let acme = sign_in(&app, &key).await;
    assert!(
        app.call_text(get("/", Some(&acme))).await.body.contains("project <strong>acme</strong>")
    );
    let at = list.body.find("name=\"id\" value=\"").unwrap() + 17;
    let id = list.body[at..].split('"').next().unwrap().to_owned();
    let revoked = app
        .call_text(form("/keys/revoke", &admin, &format!("csrf={token}&project=acme&id={id}")))
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(app.call_text(get("/", Some(&acme))).await.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn a_session_never_shows_another_projects_data() {
    let app = TestApp::new().await.with_guard(&[("ADMIN_KEY", "admin-secret")]);
    let (a, b) = (issue_key(&app, "alpha").await, issue_key(&app, "beta").await);
    for (key, feature) in [(&a, "alpha-only-feature"), (&b, "beta-only-feature")] {
        let body = batch(vec![event(
            &format!("{feature}-1"),
            json!({"feature": feature, "timestamp": "2026-01-05T10:00:00Z", "userId": format!("{feature}-user"), "traceId": format!("{feature}-trace"), "prompt": format!("{feature} prompt text")}),
        )]);
        let r = app
            .call(
                TestRequest::post()
                    .uri("/api/v1/events")
                    .insert_header(("x-api-key", key.clone()))
                    .insert_header(("content-type", "application/json"))
                    .set_payload(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    let session = sign_in(&app, &a).await;
    for path in [
        "/",
        "/features",
        "/models",
        "/providers",
        "/users",
        "/events",
        "/calls",
        "/flamegraph",
        "/prompts",
        "/pricing",
    ] {
        let r = app.call_text(get(&format!("{path}?{VIEW}"), Some(&session))).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(!r.body.contains("beta-only"), "{path} leaked beta's data");
        if ["/features", "/events"].contains(&path) {
            assert!(r.body.contains("alpha-only-feature"), "{path} shows alpha's own data");
        }
    }
    let other_trace = app.call_text(get("/traces/beta-only-feature-trace", Some(&session))).await;
    assert_eq!(other_trace.status, StatusCode::NOT_FOUND);
    // With no key anywhere, the dashboard acts for `default` like the API.
    let open = TestApp::new().await;
    fixture(&open).await;
    assert!(
        crate::dashboard::page(&open, "/").await.body.contains("project <strong>default</strong>")
    );
}

#[actix_web::test]
async fn with_the_key_store_down_pages_and_sign_in_answer_503_pages() {
    use std::sync::Arc;

    use aicp_domain::RepoError;
    use aicp_domain::auth::MockKeyStore;
    use aicp_domain::ports::{
        MockAnalyticsRepository, MockCostRepository, MockEventExporter, MockEventRepository,
        MockPriceRepository,
    };

    use crate::support::{FixedProbe, Parts};

    let mut keys = MockKeyStore::new();
    keys.expect_any_active().returning(|| Err(RepoError::Unavailable("down".into())));
    keys.expect_find().returning(|_| Err(RepoError::Unavailable("down".into())));
    let app = TestApp::from_parts(Parts {
        repo: Arc::new(MockEventRepository::new()),
        prices: Arc::new(MockPriceRepository::new()),
        costs: Arc::new(MockCostRepository::new()),
        analytics: Arc::new(MockAnalyticsRepository::new()),
        exporter: Arc::new(MockEventExporter::new()),
        keys: Arc::new(keys),
        database: Arc::new(FixedProbe(false)),
        redis: Arc::new(FixedProbe(true)),
        prompts: None,
    })
    .with_guard(&[]);
    // Whether keys exist cannot be known: the page says the store is unavailable.
    let r = app.call_text(get("/features", None)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(r.body.contains("The key store is unavailable"));
    // Signing in cannot check the key either: 503, and no session is started.
    let form_page = app.call_text(get("/sign-in", None)).await;
    let cookie = session_cookie(&form_page).unwrap();
    let token = csrf(&form_page.body);
    let r = app.call_text(form("/sign-in", &cookie, &format!("csrf={token}&key=some-key"))).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(session_cookie(&r).is_none());
}
