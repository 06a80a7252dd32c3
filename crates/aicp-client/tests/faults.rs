//! `aicp-client` against a scripted HTTP server: batching, overflow, gzip, and the faults it must
//! survive (503 with Retry-After, connection refused, a server that hangs, a 400 naming one bad
//! event). The real server is exercised in `crates/aicp-api/tests/it/client.rs`.
#![expect(clippy::unwrap_used, reason = "test code: a failed setup should panic")]

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aicp_client::{Client, Event};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A request as the fake server saw it.
#[derive(Debug)]
struct Seen {
    at: Instant,
    gzip: bool,
    key: Option<String>,
    events: Vec<Value>,
}

/// What the server answers to the n-th request (0-based): a status line, extra headers and a
/// body, or `None` to never answer.
type Script = Arc<dyn Fn(usize, &Seen) -> Option<Answer> + Send + Sync>;

/// Status, extra headers, body.
type Answer = (u16, Vec<(&'static str, String)>, String);

struct Fake {
    base: String,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl Fake {
    async fn next(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(30), self.seen.recv()).await.unwrap().unwrap()
    }
}

async fn fake(script: Script) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, seen) = mpsc::unbounded_channel();
    let count = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let (script, tx, count) = (Arc::clone(&script), tx.clone(), Arc::clone(&count));
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut read = BufReader::new(read);
                loop {
                    let mut headers = Vec::new();
                    loop {
                        let mut line = String::new();
                        if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end().to_owned();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':') {
                            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                        }
                    }
                    let header = |name: &str| {
                        headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
                    };
                    let len: usize =
                        header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                    let mut body = vec![0; len];
                    read.read_exact(&mut body).await.unwrap();
                    let gzip = header("content-encoding").as_deref() == Some("gzip");
                    if gzip {
                        let mut out = Vec::new();
                        flate2::read::GzDecoder::new(body.as_slice())
                            .read_to_end(&mut out)
                            .unwrap();
                        body = out;
                    }
                    let parsed: Value = serde_json::from_slice(&body).unwrap();
                    let seen = Seen {
                        at: Instant::now(),
                        gzip,
                        key: header("x-api-key"),
                        events: parsed["events"].as_array().cloned().unwrap_or_default(),
                    };
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    let answer = script(n, &seen);
                    let _ = tx.send(seen);
                    let Some((status, extra, body)) = answer else {
                        // Hang: hold the connection open without answering.
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    };
                    let mut res = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                        body.len()
                    );
                    for (k, v) in extra {
                        res.push_str(&format!("{k}: {v}\r\n"));
                    }
                    res.push_str("\r\n");
                    res.push_str(&body);
                    if write.write_all(res.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Fake { base, seen }
}

fn accepted() -> Option<Answer> {
    Some((202, vec![], r#"{"success":true}"#.to_owned()))
}

fn ev(span: &str) -> Event {
    Event::new("chat", "openai", "gpt-4o").ids("t", span).tokens(10, 5)
}

fn spans(seen: &Seen) -> Vec<String> {
    seen.events.iter().map(|e| e["spanId"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test]
async fn full_batches_go_at_once_gzipped_with_the_key_and_flush_sends_the_rest() {
    let mut server = fake(Arc::new(|_, _| accepted())).await;
    let client = Client::builder(&server.base)
        .api_key("k-1")
        .batch_size(10)
        .flush_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    for i in 0..25 {
        client.record(ev(&format!("s{i}")));
    }
    client.flush().await;
    let sizes = [server.next().await, server.next().await, server.next().await];
    assert_eq!(sizes.iter().map(|s| s.events.len()).collect::<Vec<_>>(), [10, 10, 5]);
    assert!(sizes.iter().all(|s| s.gzip && s.key.as_deref() == Some("k-1")));
    let stats = client.stats();
    assert_eq!((stats.recorded, stats.sent, stats.queued), (25, 25, 0));
}

#[tokio::test]
async fn a_partial_batch_is_sent_after_the_flush_interval_without_a_flush() {
    let mut server = fake(Arc::new(|_, _| accepted())).await;
    let client =
        Client::builder(&server.base).flush_interval(Duration::from_millis(50)).build().unwrap();
    client.record(ev("a"));
    client.record(ev("b"));
    assert_eq!(spans(&server.next().await), ["a", "b"]);
}

#[tokio::test]
async fn a_full_buffer_drops_the_oldest_events_and_counts_them() {
    let mut server = fake(Arc::new(|_, _| accepted())).await;
    let client = Client::builder(&server.base)
        .buffer(3)
        .batch_size(100)
        .flush_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    for s in ["1", "2", "3", "4", "5"] {
        client.record(ev(s));
    }
    assert_eq!(client.stats().dropped, 2);
    client.flush().await;
    assert_eq!(spans(&server.next().await), ["3", "4", "5"]);
}

#[tokio::test]
async fn a_503_with_retry_after_is_retried_after_the_servers_delay_not_the_backoff() {
    let mut server = fake(Arc::new(|n, _| {
        if n == 0 {
            Some((
                503,
                vec![("retry-after", "1".to_owned())],
                r#"{"code":"service_unavailable"}"#.to_owned(),
            ))
        } else {
            accepted()
        }
    }))
    .await;
    let client = Client::builder(&server.base)
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
        .build()
        .unwrap();
    client.record(ev("a"));
    client.flush().await;
    let (first, second) = (server.next().await, server.next().await);
    assert_eq!(spans(&second), ["a"], "the same batch, re-sent");
    // With a 1 ms backoff the retry could only come this late by honouring Retry-After.
    assert!(second.at.duration_since(first.at) >= Duration::from_secs(1));
    let stats = client.stats();
    assert_eq!((stats.sent, stats.retries, stats.failed), (1, 1, 0));
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_given_up_without_the_caller_noticing() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = Client::builder(format!("http://127.0.0.1:{port}"))
        .max_attempts(3)
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .build()
        .unwrap();
    client.record(ev("a"));
    client.record(ev("b"));
    client.flush().await;
    let stats = client.stats();
    assert_eq!((stats.sent, stats.failed, stats.retries), (0, 2, 2));
}

#[tokio::test]
async fn a_server_that_hangs_is_cut_off_by_the_timeout_and_retried() {
    let mut server = fake(Arc::new(|n, _| if n == 0 { None } else { accepted() })).await;
    let client = Client::builder(&server.base)
        .timeout(Duration::from_millis(200))
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
        .build()
        .unwrap();
    client.record(ev("a"));
    client.flush().await;
    assert_eq!(spans(&server.next().await), ["a"]);
    assert_eq!(spans(&server.next().await), ["a"]);
    let stats = client.stats();
    assert_eq!((stats.sent, stats.retries), (1, 1));
}

#[tokio::test]
async fn a_400_naming_one_bad_event_drops_it_and_sends_the_rest() {
    let mut server = fake(Arc::new(|_, seen: &Seen| {
        let bad: Vec<Value> = seen
            .events
            .iter()
            .enumerate()
            .filter(|(_, e)| e["model"] == "")
            .map(|(i, _)| json!({"path": format!("events.{i}.model"), "message": "String must contain at least 1 character(s)"}))
            .collect();
        if bad.is_empty() {
            accepted()
        } else {
            Some((400, vec![], json!({"error": "Validation failed", "details": bad}).to_string()))
        }
    }))
    .await;
    let client = Client::builder(&server.base).build().unwrap();
    client.record(ev("a"));
    client.record(Event::new("chat", "openai", "").ids("t", "bad"));
    client.record(ev("c"));
    client.flush().await;
    assert_eq!(server.next().await.events.len(), 3);
    assert_eq!(spans(&server.next().await), ["a", "c"]);
    let stats = client.stats();
    assert_eq!((stats.sent, stats.rejected, stats.failed), (2, 1, 0));
}

#[tokio::test]
async fn a_wrong_key_is_not_retried() {
    let mut server =
        fake(Arc::new(|_, _| Some((403, vec![], r#"{"error":"Forbidden"}"#.to_owned())))).await;
    let client = Client::builder(&server.base).api_key("nope").build().unwrap();
    client.record(ev("a"));
    client.flush().await;
    server.next().await;
    let stats = client.stats();
    assert_eq!((stats.failed, stats.retries), (1, 0));
}

#[tokio::test]
async fn shutdown_flushes_and_dropping_the_client_sends_what_is_buffered() {
    let mut server = fake(Arc::new(|_, _| accepted())).await;
    let client =
        Client::builder(&server.base).flush_interval(Duration::from_secs(3600)).build().unwrap();
    client.record(ev("a"));
    client.shutdown().await;
    assert_eq!(spans(&server.next().await), ["a"]);
    client.record(ev("late"));
    assert_eq!(client.stats().sent, 1);
    let dropped =
        Client::builder(&server.base).flush_interval(Duration::from_secs(3600)).build().unwrap();
    dropped.record(ev("b"));
    drop(dropped);
    assert_eq!(spans(&server.next().await), ["b"]);
}

#[test]
fn building_outside_a_runtime_or_with_a_bad_endpoint_is_an_error() {
    assert!(matches!(
        Client::builder("http://localhost:1").build(),
        Err(aicp_client::BuildError::NoRuntime)
    ));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _guard = rt.enter();
    assert!(matches!(
        Client::builder("localhost:3100").build(),
        Err(aicp_client::BuildError::InvalidEndpoint(_))
    ));
}
