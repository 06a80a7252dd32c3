//! The real binary over a real socket: it creates and migrates its database, serves, and shuts
//! down cleanly on SIGTERM after finishing its work.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aicp_test_support::TestDatabase;

use crate::support::EXAMPLE_BATCH;

pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// SIGKILL: the process dies at once, as on an OOM kill or a node loss.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start(db: &TestDatabase) -> Server {
    start_with(db, &[]).await
}

/// The binary on `db` with extra environment `vars`, once it answers `/health`.
pub async fn start_with(db: &TestDatabase, vars: &[(&str, &str)]) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_aicp"))
        .envs(vars.iter().copied())
        .env("DATABASE_URL", db.url())
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("LOG_LEVEL", "warn")
        .env("WORKERS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    // Start-up includes creating and migrating the database: poll until it answers.
    for _ in 0..600 {
        if client.get(format!("{}/health", server.base)).send().await.is_ok() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

#[actix_web::test]
async fn the_binary_creates_its_database_serves_and_stops_cleanly_on_sigterm() {
    let db = TestDatabase::reserve();
    let mut server = start(&db).await;
    let client = reqwest::Client::new();
    let health = client.get(format!("{}/health", server.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let res = client
        .post(format!("{}/api/v1/events", server.base))
        .header("content-type", "application/json")
        .body(EXAMPLE_BATCH)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let status =
        Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || server.child.wait()).await.unwrap().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    let count: i64 =
        db.client().await.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0);
    assert_eq!(count, 2);
}

#[actix_web::test]
async fn a_client_that_disconnects_mid_export_leaves_no_query_running() {
    use std::io::{Read, Write};

    let db = TestDatabase::reserve();
    let server = start(&db).await;
    let client = reqwest::Client::new();
    for b in 0..40 {
        let events: Vec<serde_json::Value> = (0..500)
            .map(|i| crate::support::event(&format!("s{b}_{i}"), serde_json::json!({})))
            .collect();
        let res = client
            .post(format!("{}/api/v1/events", server.base))
            .header("content-type", "application/json")
            .body(crate::support::batch(events))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
    }
    let addr = server.base.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        sock.write_all(b"GET /api/v1/export/events?format=csv HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 16 * 1024];
        let n = sock.read(&mut buf).unwrap();
        assert!(n > 0 && buf.starts_with(b"HTTP/1.1 200"));
        // Hang up after the first chunk.
    })
    .await
    .unwrap();
    let pg = db.client().await;
    let mut active: i64 = -1;
    for _ in 0..100 {
        active = pg
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND state = 'active' AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if active == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(active, 0, "a query is still running after the client left");
    // The server is still healthy.
    assert_eq!(client.get(format!("{}/health", server.base)).send().await.unwrap().status(), 200);
}

#[actix_web::test]
async fn no_full_api_key_ever_appears_in_the_logs() {
    let db = TestDatabase::reserve();
    let log_path = std::env::temp_dir().join(format!("aicp-log-{}.txt", uuid::Uuid::new_v4()));
    let created = Command::new(env!("CARGO_BIN_EXE_aicp"))
        .args(["keys", "create", "--project", "acme", "--name", "ci"])
        .env("DATABASE_URL", db.url())
        .env("LOG_LEVEL", "trace")
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("aicp_"));
    assert!(
        !String::from_utf8_lossy(&created.stderr).contains(&key),
        "the CLI's log lines hide the key"
    );

    let port = free_port();
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_aicp"))
        .env("DATABASE_URL", db.url())
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("LOG_LEVEL", "trace")
        .env("WORKERS", "1")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let mut server = Server { child, base: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if client.get(format!("{}/health", server.base)).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ok = client
        .post(format!("{}/api/v1/events", server.base))
        .header("content-type", "application/json")
        .header("x-api-key", &key)
        .body(EXAMPLE_BATCH)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 202);
    let wrong = format!("{key}x");
    let denied = client
        .get(format!("{}/api/v1/analytics/realtime-totals", server.base))
        .header("authorization", format!("Bearer {wrong}"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let _ = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status();
    let _ = server.child.wait();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(
        logs.contains("request finished"),
        "logs were captured: {}",
        &logs[..logs.len().min(500)]
    );
    assert!(!logs.contains(&key[5..]), "a full API key was logged");
    let count: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM events WHERE project_id = 'acme'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 2);
    let dump = db
        .client()
        .await
        .query_one("SELECT string_agg(encode(digest, 'hex') || display, ',') FROM api_keys", &[])
        .await
        .unwrap();
    let stored: String = dump.get(0);
    assert!(!stored.contains(&key[5..]), "the database holds no full key");
}

/// Sends `head` (request line, headers and the start of a body that promises more) to `addr`,
/// then one `filler` byte now and then, never the whole body; returns what the server answered.
/// Only a body timeout can end such a request.
pub async fn trickle(addr: String, head: &'static [u8], filler: &'static [u8]) -> String {
    use std::io::{Read, Write};

    tokio::task::spawn_blocking(move || {
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        sock.write_all(head).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut answer = Vec::new();
        for _ in 0..300 {
            let _ = sock.write_all(filler);
            let mut buf = [0u8; 4096];
            match sock.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
            if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                break;
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn a_body_that_trickles_in_gets_408_json_and_frees_the_connection() {
    let db = TestDatabase::reserve();
    let server = start_with(&db, &[("BODY_TIMEOUT_SECS", "1")]).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let head = b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Content-Length: 1000\r\n\r\n{\"events\":[";
    let answer = trickle(addr, head, b" ").await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    assert!(answer.contains("\"requestId\""), "{answer}");
    let count: i64 =
        db.client().await.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0);
    assert_eq!(count, 0);
}
