//! The dashboard in-process over the real database: every page renders with numbers equal to
//! the JSON API for the same window, drill-downs and filters narrow, bad input gets a clear page,
//! and access (sign-in, CSRF, sign-out, admin, tenancy) holds. The same pages are driven in a
//! real browser by `browser.rs`.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use aicp_api::dashboard::format::money;
use aicp_domain::Usd;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::support::{TestApp, TextReply, batch, event};

/// The fixture's day, as the dashboard asks for it.
pub const VIEW: &str = "range=custom&from=2026-01-05&to=2026-01-05&tz=UTC";
/// The same window for the API.
const API_W: &str = "from=2026-01-05T00:00:00Z&to=2026-01-05T23:59:59.999999Z";

/// Calls of two features, three models, two users, one failure, one retry and one trace.
pub async fn fixture(app: &TestApp) {
    let events = vec![
        event(
            "d1",
            json!({"feature": "chat", "model": "gpt-4o", "timestamp": "2026-01-05T10:00:00Z", "userId": "u1", "prompt": "Summarize the ticket for billing"}),
        ),
        event(
            "d2",
            json!({"feature": "chat", "model": "gpt-4o", "timestamp": "2026-01-05T10:05:00Z", "userId": "u1", "prompt": "Summarize the ticket for billing"}),
        ),
        event(
            "d3",
            json!({"feature": "search", "model": "gpt-4o-mini", "inputTokens": 9000, "timestamp": "2026-01-05T11:00:00Z", "userId": "u2", "retryCount": 1}),
        ),
        event(
            "d4",
            json!({"feature": "search", "model": "mystery-model", "timestamp": "2026-01-05T12:00:00Z", "isError": true, "errorCode": "server_error", "userId": "u2"}),
        ),
        json!({"traceId": "tr_dash", "spanId": "root", "feature": "agent", "provider": "openai", "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500, "latencyMs": 10, "estimatedCostUsd": 0, "timestamp": "2026-01-05T13:00:00Z"}),
        json!({"traceId": "tr_dash", "spanId": "child", "parentSpanId": "root", "feature": "search", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 1000, "outputTokens": 500, "latencyMs": 10, "estimatedCostUsd": 0, "timestamp": "2026-01-05T13:00:01Z"}),
    ];
    let reply = app.post_events(batch(events)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
}

pub async fn page(app: &TestApp, uri: &str) -> TextReply {
    app.call_text(TestRequest::get().uri(uri).insert_header(("accept", "text/html"))).await
}

fn usd(v: &Value) -> Usd {
    Usd::new(v.as_str().expect("an exact decimal string").parse::<Decimal>().expect("a decimal"))
}

/// The API's exact spend of the fixture's day under `filter` (e.g. `&feature=chat`).
async fn api_spend(app: &TestApp, filter: &str) -> Usd {
    let r = app.get(&format!("/api/v1/analytics/summary?{API_W}{filter}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    usd(&r.body["totalCostUsd"])
}

#[actix_web::test]
async fn every_page_renders_and_its_numbers_equal_the_api() {
    let app = TestApp::new().await;
    fixture(&app).await;
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
        let r = page(&app, &format!("{path}?{VIEW}")).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert!(
            r.headers.get("content-type").unwrap().to_str().unwrap().starts_with("text/html"),
            "{path}"
        );
        assert!(r.body.contains("<main id=\"main\">"), "{path} has the layout");
        assert!(r.headers.contains_key("content-security-policy"), "{path}");
    }
    for path in ["/live", "/keys", "/sign-in"] {
        assert_eq!(page(&app, path).await.status, StatusCode::OK, "{path}");
    }
    // Overview: the spend card is the API's exact total, formatted.
    let total = api_spend(&app, "").await;
    let overview = page(&app, &format!("/?{VIEW}")).await.body;
    assert!(
        overview.contains(&format!("<div class=\"value\">{}</div>", money(total))),
        "{overview}"
    );
    assert!(overview.contains(&format!("${total} exactly")), "the exact amount is on hover");
    assert!(overview.contains("<svg role=\"img\" aria-labelledby=\"trend\""), "the chart is drawn");
    // Features: every row's cost is the API's cost for that feature, and the total is the sum.
    let features = page(&app, &format!("/features?{VIEW}")).await.body;
    let mut sum = Usd::ZERO;
    for feature in ["chat", "search", "agent"] {
        let spend = api_spend(&app, &format!("&feature={feature}")).await;
        sum = sum + spend;
        assert!(
            features.contains(&format!("title=\"${spend} exactly\">{}</td>", money(spend))),
            "{feature} in {features}"
        );
    }
    assert_eq!(sum, total, "the rows add up to the window's spend");
    assert!(features.contains(&format!("data-total>{}</td>", money(total))));
}

#[actix_web::test]
async fn drill_down_and_filters_narrow_to_the_events_behind_a_row() {
    let app = TestApp::new().await;
    fixture(&app).await;
    let features = page(&app, &format!("/features?{VIEW}")).await.body;
    let link =
        "/events?range=custom&#38;from=2026-01-05&#38;to=2026-01-05&#38;tz=UTC&#38;feature=chat";
    assert!(features.contains(link), "{features}");
    let events = page(&app, &link.replace("&#38;", "&")).await.body;
    assert_eq!(events.matches("<td>chat</td>").count(), 2, "{events}");
    assert!(!events.contains("<td>search</td>"));
    assert!(events.contains("feature: chat ✕"), "the filter is shown as a chip");
    let failed = page(&app, &format!("/events?{VIEW}&errors=true")).await.body;
    assert_eq!(failed.matches("failed (server_error)").count(), 1, "{failed}");
    // The trace link opens the tree with subtree costs.
    let top = page(&app, &format!("/calls?{VIEW}")).await.body;
    assert!(top.contains("/traces/tr%5Fdash?tz=UTC"), "{top}");
    let trace = page(&app, "/traces/tr_dash?tz=UTC").await.body;
    assert!(
        trace.contains("<code>root</code>") && trace.contains("└ <code>child</code>"),
        "{trace}"
    );
    assert!(trace.contains("aria-level=\"2\""));
    // Sorting by calls puts search (3 calls) above chat (2).
    let sorted = page(&app, &format!("/features?{VIEW}&sort=calls&dir=desc")).await.body;
    let at = |name: &str| sorted.find(&format!(">{name}</a></td>")).unwrap();
    assert!(at("search") < at("chat"));
    assert!(sorted.contains("aria-sort=\"descending\""));
}

#[actix_web::test]
async fn a_new_project_sees_how_to_send_its_first_event() {
    let app = TestApp::new().await;
    let r = page(&app, "/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("No events yet"), "{}", r.body);
    assert!(
        r.body.contains("/api/v1/events -H &#39;content-type: application/json&#39;")
            || r.body.contains("/api/v1/events -H &#x27;content-type"),
        "{}",
        r.body
    );
}

#[actix_web::test]
async fn bad_views_get_a_clear_page_and_unknown_pages_a_404_page() {
    let app = TestApp::new().await;
    let cases = [
        ("/?range=2w", "Unknown range &#39;2w&#39;"),
        ("/features?tz=Mars/Base", "Mars/Base"),
        ("/events?range=custom&from=2026-01-06&to=2026-01-05", "The start must be before the end"),
        ("/events?cursor=%00garbage", "cursor"),
        ("/traces/x?tz=UTC&range=1h&errors=maybe", "errors"),
        ("/prompts/not-a-uuid", "An event id is a UUID"),
    ];
    for (uri, message) in cases {
        let r = page(&app, uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            r.body.to_lowercase().contains(&message.to_lowercase())
                || r.body.contains(&message.replace("&#39;", "&#x27;")),
            "{uri}: {}",
            r.body
        );
    }
    let missing = page(&app, "/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("There is no page at this address"));
    // API clients keep the JSON 404.
    let api = app.get("/api/v1/nothing").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert_eq!(api.body["error"], "Not found");
    let trace = page(&app, "/traces/absent").await;
    assert_eq!(trace.status, StatusCode::NOT_FOUND);
}

/// The part of `html` from `start` to the end of the element it opens (`</table>` etc.).
fn fragment<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let a = html.find(start).unwrap_or_else(|| panic!("{start} in {html}"));
    let b = html[a..].find(end).map_or(html.len(), |b| a + b + end.len());
    &html[a..b]
}

#[actix_web::test]
async fn the_meaningful_fragments_keep_their_markup() {
    let app = TestApp::new().await;
    fixture(&app).await;
    let features = page(&app, &format!("/features?{VIEW}")).await.body;
    insta::assert_snapshot!(
        "features_table",
        fragment(&features, "<table id=\"dimension-table\">", "</table>")
    );
    let trace = page(&app, "/traces/tr_dash?tz=UTC").await.body;
    insta::assert_snapshot!(
        "trace_table",
        fragment(&trace, "<table id=\"trace-table\"", "</table>")
    );
    let overview = page(&app, &format!("/?{VIEW}")).await.body;
    insta::assert_snapshot!(
        "overview_cards",
        fragment(&overview, "<div class=\"cards\">", "</section>")
    );
}

#[actix_web::test]
async fn with_the_database_down_a_page_says_so_and_the_overview_degrades_panel_by_panel() {
    use std::sync::Arc;

    use aicp_domain::RepoError;
    use aicp_domain::ports::{
        MockAnalyticsRepository, MockCostRepository, MockEventRepository, MockPriceRepository,
    };

    use crate::support::{FixedProbe, Parts};

    let down = || RepoError::Unavailable("connection refused".into());
    let mut analytics = MockAnalyticsRepository::new();
    analytics.expect_window_stats().returning(move |_, _, _| Err(down()));
    analytics.expect_breakdown().returning(move |_, _, _, _, _| Err(down()));
    analytics.expect_timeseries().returning(move |_, _, _, _, _| Err(down()));
    analytics.expect_events_page().returning(move |_, _, _, _, _| Err(down()));
    // Lifetime totals still answer: the overview shows what it can.
    analytics.expect_totals().returning(|_| Ok(aicp_domain::analytics::Totals::default()));
    let app = TestApp::from_parts(Parts {
        repo: Arc::new(MockEventRepository::new()),
        prices: Arc::new(MockPriceRepository::new()),
        costs: Arc::new(MockCostRepository::new()),
        analytics: Arc::new(analytics),
        exporter: Arc::new(aicp_domain::ports::MockEventExporter::new()),
        keys: Arc::new(aicp_domain::auth::MockKeyStore::new()),
        database: Arc::new(FixedProbe(false)),
        redis: Arc::new(FixedProbe(true)),
        prompts: None,
    });
    for path in ["/features", "/events"] {
        let r = page(&app, &format!("{path}?{VIEW}")).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(r.body.contains("The database is unavailable right now"), "{path}: {}", r.body);
    }
    let r = page(&app, &format!("/?{VIEW}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body.matches("This panel could not be loaded").count(), 5, "{}", r.body);
    assert!(r.body.contains("No events yet"), "the panel that answered is shown");
}
