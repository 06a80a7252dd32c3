//! The dashboard in a real headless Chromium (driven over WebDriver by chromedriver) against the
//! real `aicp` binary: every page loads with no console error and no failed request (and a
//! screenshot under `target/dashboard-screenshots/`), the window picker and filters change the
//! URL and the numbers, drill-down works, an export button downloads its file, the live total
//! moves when an event is ingested, sign-in and sign-out work, a forged cross-site form is
//! refused, and another project's data never appears.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them these
//! tests fail with the install command; they never pass silently.
//!
//! Why WebDriver rather than the DevTools protocol: the workspace enables serde_json's
//! `arbitrary_precision` (exact money), which breaks CDP clients that decode messages through
//! untagged enums; fantoccini reads WebDriver answers as plain JSON values.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aicp_test_support::TestDatabase;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::dashboard::VIEW;
use crate::live::{Proc, free_port, server};
use crate::support::{batch, event};

fn need(path: &str) -> PathBuf {
    let exe = PathBuf::from(path);
    assert!(
        exe.exists(),
        "the browser tests need {path}: install it with `apt-get install -y chromium chromium-driver`"
    );
    exe
}

/// Where screenshots go: `target/dashboard-screenshots/`.
fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A chromedriver, a headless Chromium session on it, and that session's download folder.
struct Browser {
    client: Client,
    driver: Child,
    profile: PathBuf,
    downloads: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Killing chromedriver does not end its Chromium (the session is never closed from a
        // synchronous drop), which then outlives the test: end every process of this session's
        // own profile first (its path is unique to this browser).
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", "--", &format!("--user-data-dir={}", self.profile.display())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
        let _ = std::fs::remove_dir_all(&self.downloads);
    }
}

async fn browser() -> Browser {
    let chromium = need("/usr/bin/chromium");
    let chromedriver = need("/usr/bin/chromedriver");
    let port = free_port();
    let driver = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let id = uuid::Uuid::new_v4();
    let profile = std::env::temp_dir().join(format!("aicp-chrome-{id}"));
    let downloads = std::env::temp_dir().join(format!("aicp-downloads-{id}"));
    std::fs::create_dir_all(&downloads).unwrap();
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            // Without the networking flags Chromium's own connections are refused by this
            // machine's closed network, many at a time.
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
            },
        },
        "goog:loggingPrefs": {"browser": "ALL"},
    });
    let caps: fantoccini::wd::Capabilities = caps.as_object().unwrap().clone();
    let mut client = None;
    for _ in 0..100 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let client = client.expect("a WebDriver session on chromedriver");
    Browser { client, driver, profile, downloads }
}

/// chromedriver's browser log (console errors, exceptions, failed loads), read and cleared.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

impl Browser {
    /// Everything logged at error level since the last call.
    async fn problems(&self) -> Vec<String> {
        let log = self.client.issue_cmd(BrowserLog).await.unwrap();
        log.as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        self.settle().await;
    }

    /// Waits for the document to load and late subresources (the flamegraph, the live stream).
    async fn settle(&self) {
        for _ in 0..100 {
            if self.js("return document.readyState").await == "complete" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }

    async fn js(&self, script: &str) -> String {
        match self.client.execute(script, Vec::new()).await.unwrap() {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }

    async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
        self.settle().await;
    }

    async fn shot(&self, name: &str) {
        // The whole page, not just the window.
        let height = self.js("return String(document.documentElement.scrollHeight)").await;
        let height: u32 = height.parse().unwrap_or(900).clamp(600, 4000);
        self.client.set_window_size(1280, height).await.unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
        self.client.set_window_size(1280, 900).await.unwrap();
    }
}

/// Posts a batch to the server as an SDK would.
async fn ingest(base: &str, key: Option<&str>, events: Vec<serde_json::Value>) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/api/v1/events"))
        .header("content-type", "application/json")
        .body(batch(events));
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap_or_default());
}

fn fixture_events() -> Vec<serde_json::Value> {
    vec![
        event(
            "b1",
            json!({"feature": "chat", "model": "gpt-4o", "timestamp": "2026-01-05T10:00:00Z", "userId": "u1", "prompt": "Summarize the ticket"}),
        ),
        event(
            "b2",
            json!({"feature": "chat", "model": "gpt-4o", "timestamp": "2026-01-05T10:05:00Z", "userId": "u1", "prompt": "Summarize the ticket"}),
        ),
        event(
            "b3",
            json!({"feature": "search", "model": "gpt-4o-mini", "timestamp": "2026-01-05T11:00:00Z", "userId": "u2", "retryCount": 1}),
        ),
        event(
            "b4",
            json!({"feature": "search", "model": "mystery-model", "timestamp": "2026-01-05T12:00:00Z", "isError": true}),
        ),
        json!({"traceId": "tr_b", "spanId": "root", "feature": "agent", "provider": "openai", "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500, "latencyMs": 10, "estimatedCostUsd": 0, "timestamp": "2026-01-05T13:00:00Z"}),
        json!({"traceId": "tr_b", "spanId": "child", "parentSpanId": "root", "feature": "search", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 1000, "outputTokens": 500, "latencyMs": 10, "estimatedCostUsd": 0, "timestamp": "2026-01-05T13:00:01Z"}),
    ]
}

async fn started(extra: &[(&str, &str)]) -> (TestDatabase, Proc, String) {
    let db = TestDatabase::new().await;
    let prefix = format!("aicp-test:{}:", uuid::Uuid::new_v4());
    let (proc, base) = server(&db, &crate::support::redis_url(), &prefix, extra).await;
    (db, proc, base)
}

#[actix_web::test]
async fn every_page_loads_clean_in_a_browser_and_is_screenshotted() {
    // An admin key (authentication stays off: no API key exists) to create a budget with.
    let (_db, _proc, base) = started(&[("ADMIN_KEY", "admin-key-for-the-browser-test")]).await;
    let b = browser().await;
    // Before any event: the empty state teaches the first call.
    b.open(&format!("{base}/")).await;
    assert!(b.js("return document.body.innerText").await.contains("No events yet"));
    b.shot("00-empty").await;
    ingest(&base, None, fixture_events()).await;
    let budget = reqwest::Client::new()
        .post(format!("{base}/api/v1/admin/projects/default/budgets"))
        .header("x-api-key", "admin-key-for-the-browser-test")
        .json(&json!({"name": "January", "amountUsd": "0.01", "period": "month"}))
        .send()
        .await
        .unwrap();
    assert_eq!(budget.status(), 201, "{}", budget.text().await.unwrap_or_default());
    let pages = [
        ("01-overview", format!("/?{VIEW}")),
        ("02-features", format!("/features?{VIEW}")),
        ("03-models", format!("/models?{VIEW}")),
        ("04-providers", format!("/providers?{VIEW}")),
        ("05-users", format!("/users?{VIEW}")),
        ("06-events", format!("/events?{VIEW}")),
        ("07-top-calls", format!("/calls?{VIEW}")),
        ("08-flamegraph", format!("/flamegraph?{VIEW}")),
        ("09-trace", "/traces/tr_b?tz=UTC".to_owned()),
        ("10-prompts", format!("/prompts?{VIEW}")),
        ("11-pricing", format!("/pricing?{VIEW}")),
        ("12-live", "/live".to_owned()),
        ("13-keys", "/keys".to_owned()),
        ("14-budgets", "/budgets".to_owned()),
    ];
    for (name, path) in pages {
        b.open(&format!("{base}{path}")).await;
        let title = b.js("return document.title").await;
        assert!(title.ends_with("AI Cost Profiler"), "{path}: {title}");
        assert_eq!(
            b.problems().await,
            Vec::<String>::new(),
            "{path} had console errors or failed requests"
        );
        // Every request of the page succeeded (Resource Timing's status; 0 for cross-origin).
        let failed = b
            .js("return performance.getEntriesByType('resource').filter(r => r.responseStatus >= 400).map(r => r.name).join(' ')")
            .await;
        assert_eq!(failed, "", "{path}");
        b.shot(name).await;
    }
    // The overview with its chart, styles and script weighs well under 300 KB.
    b.open(&format!("{base}/?{VIEW}")).await;
    let weight: f64 = b
        .js("return String(performance.getEntriesByType('resource').reduce((s, r) => s + r.transferSize, 0) + performance.getEntriesByType('navigation')[0].transferSize)")
        .await
        .parse()
        .unwrap();
    assert!(weight > 0.0 && weight < 300_000.0, "the overview weighs {weight} bytes");
}

#[actix_web::test]
async fn the_picker_filters_drill_down_and_exports_work_in_a_browser() {
    let (_db, _proc, base) = started(&[]).await;
    ingest(&base, None, fixture_events()).await;
    let b = browser().await;
    b.open(&format!("{base}/features?{VIEW}")).await;
    let rows = "return String(document.querySelectorAll('#dimension-table tbody tr').length)";
    assert_eq!(b.js(rows).await, "3");
    // Drill-down: the chat row opens its events, filtered in the URL.
    b.click("#dimension-table a[href*='feature=chat']").await;
    assert!(
        b.url().await.contains("/events?") && b.url().await.contains("feature=chat"),
        "{}",
        b.url().await
    );
    let column = |n: usize| {
        format!(
            "return Array.from(document.querySelectorAll('#events-table tbody tr td:nth-child({n})')).map(t => t.textContent).join(',')"
        )
    };
    assert_eq!(b.js(&column(2)).await, "chat,chat");
    // The filter form: failed calls of any feature.
    b.client
        .find(Locator::Css("form[aria-label=Filters] input[name=feature]"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    b.client
        .find(Locator::Css("select[name=errors] option[value=true]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.click("form[aria-label=Filters] button[type=submit]").await;
    assert!(b.url().await.contains("errors=true"), "{}", b.url().await);
    assert_eq!(b.js(&column(9)).await, "failed");
    // The window picker: "Last 24 hours" has none of January's calls.
    b.open(&format!("{base}/features?{VIEW}")).await;
    b.click(".picker a.chip[href*='range=24h']").await;
    assert!(b.url().await.contains("range=24h"));
    assert_eq!(b.js(rows).await, "0");
    // Custom dates typed into the picker.
    b.client
        .find(Locator::Css(".picker input[name=from]"))
        .await
        .unwrap()
        .send_keys("01052026")
        .await
        .unwrap();
    b.client
        .find(Locator::Css(".picker input[name=to]"))
        .await
        .unwrap()
        .send_keys("01052026")
        .await
        .unwrap();
    b.click(".picker button[type=submit]").await;
    assert!(
        b.url().await.contains("range=custom") && b.url().await.contains("from=2026-01-05"),
        "{}",
        b.url().await
    );
    assert_eq!(b.js(rows).await, "3");
    assert_eq!(b.problems().await, Vec::<String>::new());
    // An export button downloads the file.
    b.open(&format!("{base}/events?{VIEW}")).await;
    b.click(".exports a[href*='format=csv']").await;
    let mut csv = None;
    for _ in 0..100 {
        csv = std::fs::read_dir(&b.downloads)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "csv"));
        if csv.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let csv = csv.expect("the export was downloaded");
    let body = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(body.lines().count(), 1 + 6, "{body}");
}

#[actix_web::test]
async fn the_live_total_moves_when_an_event_arrives() {
    let (_db, _proc, base) = started(&[]).await;
    ingest(&base, None, vec![event("l1", json!({}))]).await;
    let b = browser().await;
    b.open(&format!("{base}/live")).await;
    for _ in 0..100 {
        if b.js("return document.getElementById('live-status').textContent").await == "connected" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = "return document.getElementById('live-total').textContent";
    let before = b.js(total).await;
    assert_eq!(before, "$0.0075", "gpt-4o, 1000 in + 500 out");
    ingest(&base, None, vec![event("l2", json!({"traceId": "tr_2"}))]).await;
    let mut after = String::new();
    for _ in 0..100 {
        after = b.js(total).await;
        if after != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(after, "$0.015", "the total moved by exactly one call");
    assert_eq!(b.js("return document.getElementById('live-calls').textContent").await, "1");
    let feed = b.js("return document.getElementById('live-feed').textContent").await;
    assert!(feed.contains("1 call(s) · $0.0075 · chat"), "{feed}");
    b.shot("12-live-after-event").await;
    assert_eq!(b.problems().await, Vec::<String>::new());
}

#[actix_web::test]
async fn sign_in_sign_out_forgery_and_tenancy_in_a_browser() {
    let (_db, _proc, base) =
        started(&[("ADMIN_KEY", "admin-secret"), ("KEY_PEPPER", "browser-test-pepper")]).await;
    let client = reqwest::Client::new();
    let mut keys = Vec::new();
    for project in ["alpha", "beta"] {
        let r: Value = client
            .post(format!("{base}/api/v1/admin/projects/{project}/keys"))
            .header("x-api-key", "admin-secret")
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        keys.push(r["key"].as_str().unwrap().to_owned());
    }
    for (key, feature) in keys.iter().zip(["alpha-feature", "beta-feature"]) {
        let e = event(
            &format!("{feature}-1"),
            json!({"feature": feature, "timestamp": "2026-01-05T10:00:00Z"}),
        );
        ingest(&base, Some(key), vec![e]).await;
    }
    let b = browser().await;
    // A page asks for sign-in first.
    b.open(&format!("{base}/features?{VIEW}")).await;
    assert!(b.url().await.contains("/sign-in?next="), "{}", b.url().await);
    b.shot("14-sign-in").await;
    b.client
        .find(Locator::Css("input[name=key]"))
        .await
        .unwrap()
        .send_keys(&keys[0])
        .await
        .unwrap();
    b.click("form[aria-label='Sign in'] button").await;
    assert!(b.url().await.contains("/features?"), "back where it started: {}", b.url().await);
    // Alpha's data, never beta's, on every page.
    for path in ["/", "/features", "/events", "/prompts", "/pricing", "/flamegraph"] {
        b.open(&format!("{base}{path}?{VIEW}")).await;
        let html = b.client.source().await.unwrap();
        assert!(!html.contains("beta-feature"), "{path} leaked beta's data");
        assert!(html.contains("project <strong>alpha</strong>"), "{path}");
    }
    assert_eq!(b.problems().await, Vec::<String>::new());
    // A form posted from another site carries no token of this session: refused, nothing kept.
    let evil = free_port();
    let page = format!(
        "<form id=f method=post action='{base}/pricing/custom'><input name=csrf value=forged><input name=model value=evil-model><input name=effective_from value=2026-01-01><input name=input value=1><input name=output value=1></form><script>document.getElementById('f').submit()</script>"
    );
    let server = actix_web::HttpServer::new(move || {
        let html = page.clone();
        actix_web::App::new().default_service(actix_web::web::to(move || {
            let html = html.clone();
            async move { actix_web::HttpResponse::Ok().content_type("text/html").body(html) }
        }))
    })
    .workers(1)
    .bind(("127.0.0.1", evil))
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    b.client.goto(&format!("http://127.0.0.1:{evil}/")).await.unwrap();
    for _ in 0..50 {
        if b.url().await.starts_with(&base) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.settle().await;
    let refused = b.js("return document.body.innerText").await;
    assert!(refused.contains("Not allowed"), "{refused}");
    let prices: Value = client
        .get(format!("{base}/api/v1/pricing"))
        .header("x-api-key", &keys[0])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prices["custom"], json!([]), "the forged form stored nothing");
    handle.stop(true).await;
    b.problems().await;
    // Sign out: the next page asks for a key again.
    b.open(&format!("{base}/?{VIEW}")).await;
    b.click("form[action='/sign-out'] button").await;
    assert!(b.url().await.ends_with("/sign-in"), "{}", b.url().await);
    b.open(&format!("{base}/features")).await;
    assert!(b.url().await.contains("/sign-in?next="));
}
