//! The live cost stream over real sockets: frames, no duplicates after reconnect cycles, fan-out
//! across two server processes, Redis stopped and restarted mid-stream, caps, tokens.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aicp_test_support::TestDatabase;
use serde_json::Value;

use crate::support::{batch, event};

pub(crate) struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) async fn server(
    db: &TestDatabase,
    redis: &str,
    prefix: &str,
    extra: &[(&str, &str)],
) -> (Proc, String) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aicp"));
    cmd.env("DATABASE_URL", db.url())
        .env("REDIS_URL", redis)
        .env("REDIS_KEY_PREFIX", prefix)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("LOG_LEVEL", "warn")
        .env("WORKERS", "1")
        .env("LIVE_KEEPALIVE_SECS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = Proc(cmd.spawn().unwrap());
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if client.get(format!("{base}/health")).send().await.is_ok() {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not start");
}

/// A reader of server-sent events.
struct Sse {
    res: reqwest::Response,
    buf: String,
}

impl Sse {
    async fn open(base: &str, query: &str, key: Option<&str>) -> reqwest::Response {
        let mut req = reqwest::Client::new().get(format!("{base}/api/v1/stream/costs{query}"));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        req.send().await.unwrap()
    }

    async fn connect(base: &str) -> Self {
        let res = Self::open(base, "", None).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Self { res, buf: String::new() }
    }

    /// The next frame (`data` JSON, or `keepalive`, or `retry`), or `None` after `wait`.
    async fn next(&mut self, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(pos) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..pos + 2).collect();
                let frame = frame.trim_end().to_owned();
                return Some(if let Some(d) = frame.strip_prefix("data: ") {
                    d.to_owned()
                } else if frame.starts_with(": keepalive") {
                    "keepalive".to_owned()
                } else {
                    frame
                });
            }
            let left = deadline.checked_duration_since(tokio::time::Instant::now())?;
            match tokio::time::timeout(left, self.res.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// Updates received within `wait` (keepalives skipped).
    async fn updates(&mut self, wait: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
            match self.next(left).await {
                Some(f) if f.starts_with('{') => {
                    let v: Value = serde_json::from_str(&f).unwrap();
                    if v["type"] == "cost_update" {
                        out.push(v);
                    }
                }
                Some(_) => {}
                None => break,
            }
        }
        out
    }
}

async fn ingest(base: &str, spans: &[&str], key: Option<&str>) {
    let events = spans.iter().map(|s| event(s, serde_json::json!({"feature": "live"}))).collect();
    let mut req = reqwest::Client::new()
        .post(format!("{base}/api/v1/events"))
        .header("content-type", "application/json")
        .body(batch(events));
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    assert_eq!(req.send().await.unwrap().status(), 202);
}

fn prefix() -> String {
    format!("aicp-test:{}:", uuid::Uuid::new_v4())
}

#[actix_web::test]
async fn frames_follow_the_original_and_never_repeat_after_reconnect_cycles() {
    let db = TestDatabase::reserve();
    let (_p, base) = server(&db, &crate::support::redis_url(), &prefix(), &[]).await;
    for _ in 0..10 {
        let mut s = Sse::connect(&base).await;
        assert!(s.next(Duration::from_secs(5)).await.unwrap().starts_with("retry:"));
    }
    let mut s = Sse::connect(&base).await;
    assert!(s.next(Duration::from_secs(5)).await.unwrap().starts_with("retry:"));
    let snapshot: Value =
        serde_json::from_str(&s.next(Duration::from_secs(5)).await.unwrap()).unwrap();
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["totalCost"], 0.0);
    ingest(&base, &["a", "b"], None).await;
    ingest(&base, &["a", "b"], None).await; // a retry: announces nothing
    let updates = s.updates(Duration::from_millis(2500)).await;
    assert_eq!(updates.len(), 1, "{updates:?}");
    let u = &updates[0];
    assert_eq!(u["data"]["requestsDelta"], 2);
    assert_eq!(u["count"], 2);
    assert_eq!(u["totalCost"], 0.015);
    assert_eq!(u["features"], serde_json::json!(["live"]));
    assert!(u["timestamp"].is_string() && u["data"]["timestamp"].is_string());
    // Keepalives keep coming.
    assert_eq!(s.next(Duration::from_secs(3)).await.as_deref(), Some("keepalive"));
}

#[actix_web::test]
async fn an_event_ingested_through_one_process_reaches_a_client_of_another() {
    let db = TestDatabase::reserve();
    let p = prefix();
    let (_a, base_a) = server(&db, &crate::support::redis_url(), &p, &[]).await;
    let (_b, base_b) = server(&db, &crate::support::redis_url(), &p, &[]).await;
    let mut on_b = Sse::connect(&base_b).await;
    let mut on_a = Sse::connect(&base_a).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    ingest(&base_a, &["x"], None).await;
    assert_eq!(on_b.updates(Duration::from_secs(2)).await.len(), 1);
    assert_eq!(on_a.updates(Duration::from_secs(1)).await.len(), 1);
}

#[actix_web::test]
async fn streams_are_capped_per_project_and_a_disconnect_frees_the_slot() {
    let db = TestDatabase::reserve();
    let (_p, base) =
        server(&db, &crate::support::redis_url(), &prefix(), &[("LIVE_MAX_PER_PROJECT", "1")])
            .await;
    let first = Sse::connect(&base).await;
    let second = Sse::open(&base, "", None).await;
    assert_eq!(second.status(), 429);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["code"], "too_many_streams");
    drop(first);
    let mut ok = false;
    for _ in 0..50 {
        if Sse::open(&base, "", None).await.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the slot was not freed");
}

#[actix_web::test]
async fn browsers_follow_with_a_short_lived_signed_token() {
    let db = TestDatabase::reserve();
    let (_p, base) =
        server(&db, &crate::support::redis_url(), &prefix(), &[("API_KEYS", "k1")]).await;
    assert_eq!(Sse::open(&base, "", None).await.status(), 401);
    let token: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/stream/token"))
        .header("x-api-key", "k1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t = token["token"].as_str().unwrap();
    assert_eq!(Sse::open(&base, &format!("?token={t}"), None).await.status(), 200);
    assert_eq!(Sse::open(&base, &format!("?token={t}x"), None).await.status(), 403);
    // The token is for the stream only.
    let other = reqwest::Client::new()
        .get(format!("{base}/api/v1/analytics/realtime-totals?token={t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 401);
}

struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis(port: u16) -> Option<Redis> {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(Redis(child))
}

async fn wait_for_redis(port: u16) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis did not start");
}

#[actix_web::test]
async fn with_redis_stopped_the_stream_stays_open_and_resumes_when_it_returns() {
    let port = free_port();
    let Some(redis) = start_redis(port) else {
        eprintln!("skipped: no redis-server binary");
        return;
    };
    wait_for_redis(port).await;
    let url = format!("redis://127.0.0.1:{port}");
    let db = TestDatabase::reserve();
    let (_p, base) = server(&db, &url, &prefix(), &[]).await;
    let mut s = Sse::connect(&base).await;
    drop(redis);
    // Keepalives keep the stream open; ingest still works; this process's clients still see
    // updates (published locally while Redis cannot take them).
    assert!(s.next(Duration::from_secs(5)).await.is_some());
    ingest(&base, &["down-1"], None).await;
    let during = s.updates(Duration::from_secs(2)).await;
    assert_eq!(during.len(), 1, "{during:?}");
    let _redis = start_redis(port).unwrap();
    wait_for_redis(port).await;
    // Give the subscriber time to re-subscribe by itself (it retries at most every 2 s).
    tokio::time::sleep(Duration::from_secs(3)).await;
    ingest(&base, &["up-1"], None).await;
    let after = s.updates(Duration::from_secs(2)).await;
    assert_eq!(after.len(), 1, "{after:?}");
}

#[actix_web::test]
async fn a_client_that_closes_its_connection_frees_its_slot_without_waiting_for_a_write() {
    // Keepalives far away: only noticing the close on the socket can free the slots.
    let db = TestDatabase::reserve();
    let extra = [("LIVE_MAX_PER_PROJECT", "3"), ("LIVE_KEEPALIVE_SECS", "600")];
    let (_p, base) = server(&db, &crate::support::redis_url(), &prefix(), &extra).await;
    for round in 0..3 {
        let mut open = Vec::new();
        for _ in 0..3 {
            let mut s = None;
            // The slots of the previous round are freed as their closes are noticed.
            for _ in 0..100 {
                let res = Sse::open(&base, "", None).await;
                if res.status() == 200 {
                    s = Some(res);
                    break;
                }
                assert_eq!(res.status(), 429);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            open.push(s.unwrap_or_else(|| panic!("round {round}: a closed stream kept its slot")));
        }
        assert_eq!(Sse::open(&base, "", None).await.status(), 429, "the cap still holds");
        drop(open);
    }
}

#[actix_web::test]
async fn sigterm_ends_open_streams_with_a_closing_comment_and_the_process_exits() {
    // A shutdown timeout far beyond the test's patience: open streams must not hold it.
    let db = TestDatabase::reserve();
    let extra = [("SHUTDOWN_TIMEOUT_SECS", "600"), ("LIVE_KEEPALIVE_SECS", "600")];
    let (mut p, base) = server(&db, &crate::support::redis_url(), &prefix(), &extra).await;
    let mut streams = vec![Sse::connect(&base).await, Sse::connect(&base).await];
    for s in &mut streams {
        assert!(s.next(Duration::from_secs(5)).await.is_some_and(|f| f.starts_with("retry")));
    }
    let pid = p.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    for s in &mut streams {
        let mut frames = Vec::new();
        while let Some(f) = s.next(Duration::from_secs(60)).await {
            frames.push(f);
        }
        assert!(
            frames.iter().any(|f| f.starts_with(": closing")),
            "no closing comment before the end: {frames:?}"
        );
    }
    let exit = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::task::spawn_blocking(move || p.0.wait()),
    )
    .await
    .expect("the process still runs: open streams held the shutdown")
    .unwrap()
    .unwrap();
    assert!(exit.success(), "{exit:?}");
}
