//! Shared helpers: the Redis URL, unique prefixes, policies, and a proxy that can play a hung
//! Redis and then recover.

use std::net::SocketAddr;
use std::time::Duration;

use aicp_cache::{RateLimiterConfig, RedisPool, RedisRateLimiter, build_pool};
use aicp_domain::ratelimit::RatePolicy;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Guards against a hang: no single call in these tests may take this long.
pub const HANG_GUARD: Duration = Duration::from_secs(5);

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub fn unique_prefix() -> String {
    format!("aicp-test:{}:", uuid::Uuid::new_v4().simple())
}

pub fn policy(name: &str, limit: u32, period: Duration, burst: u32) -> RatePolicy {
    RatePolicy { name: name.to_owned(), limit, period, burst }
}

pub fn pool(url: &str) -> RedisPool {
    build_pool(url, Duration::from_secs(2)).unwrap()
}

/// A limiter over the real Redis with a unique prefix and a timeout generous enough for a busy
/// machine, so that every decision in a test comes from Redis.
pub fn redis_limiter() -> RedisRateLimiter {
    let config = RateLimiterConfig {
        prefix: unique_prefix(),
        timeout: Duration::from_secs(2),
        ..RateLimiterConfig::default()
    };
    RedisRateLimiter::new(pool(&redis_url()), config)
}

/// Runs `future`, failing the test if it hangs.
pub async fn guarded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(HANG_GUARD, future).await.expect("the call hung")
}

/// The keys matching `pattern` (SCAN, not KEYS: the Redis may be shared).
pub async fn scan(pattern: &str) -> Vec<String> {
    let mut conn = pool(&redis_url()).get().await.unwrap();
    let (mut cursor, mut keys) = (0u64, Vec::new());
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// Removes the keys of `limiter`'s prefix at the end of a passing test (the TTLs would, later:
/// some of these tests use hour-long intervals).
pub async fn remove_keys(limiter: &RedisRateLimiter) {
    let keys = scan(&format!("{}*", limiter.config().prefix)).await;
    if !keys.is_empty() {
        let mut conn = pool(&redis_url()).get().await.unwrap();
        let () = redis::cmd("UNLINK").arg(&keys).query_async(&mut conn).await.unwrap();
    }
}

/// `url` with its host and port replaced by `addr` (credentials and database kept).
fn with_addr(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let userinfo = authority.rsplit_once('@').map(|(u, _)| format!("{u}@")).unwrap_or_default();
    format!("{scheme}://{userinfo}{addr}/{path}")
}

/// The `host:port` of `url`.
fn host_port(url: &str) -> String {
    let (_, rest) = url.split_once("://").unwrap();
    let authority = rest.split('/').next().unwrap();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    if host_port.contains(':') { host_port.to_owned() } else { format!("{host_port}:6379") }
}

/// A TCP proxy to the real Redis. Up: it forwards. Down: it accepts connections and never
/// answers (like a SIGSTOPped Redis), and cuts the connections it was forwarding.
pub struct SwitchableProxy {
    url: String,
    up: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl SwitchableProxy {
    pub async fn start(up: bool) -> Self {
        let upstream_url = redis_url();
        let upstream = host_port(&upstream_url);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = with_addr(&upstream_url, listener.local_addr().unwrap());
        let (tx, rx) = watch::channel(up);
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut rx = rx.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if !*rx.borrow_and_update() {
                        // Hung: hold the socket unread until the proxy comes up, then drop it.
                        let _ = rx.wait_for(|up| *up).await;
                        return;
                    }
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = rx.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { url, up: tx, task }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

impl Drop for SwitchableProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.up.send_replace(true);
    }
}
