//! One load-generating connection of `bench ingest` and what it saw.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::Utc;

use crate::bench::common::Window;
use crate::bench::server::truncate;

/// What one connection saw.
#[derive(Default)]
pub(super) struct TaskResult {
    /// Requests started in the measured window (all completed).
    pub(super) requests: u64,
    pub(super) events: u64,
    pub(super) latencies_us: Vec<u32>,
    /// When the last measured request completed.
    pub(super) last_end: Option<Instant>,
    /// Whole run (warm-up included).
    pub(super) acknowledged: u64,
    pub(super) inserted: u64,
    pub(super) duplicates: u64,
    pub(super) failures: u64,
    pub(super) failure_samples: Vec<String>,
}

impl TaskResult {
    pub(super) fn merge(&mut self, other: TaskResult) {
        self.requests += other.requests;
        self.events += other.events;
        self.latencies_us.extend(other.latencies_us);
        self.last_end = self.last_end.max(other.last_end);
        self.acknowledged += other.acknowledged;
        self.inserted += other.inserted;
        self.duplicates += other.duplicates;
        self.failures += other.failures;
        for s in other.failure_samples {
            if self.failure_samples.len() < 5 {
                self.failure_samples.push(s);
            }
        }
    }

    fn fail(&mut self, why: String) {
        self.failures += 1;
        if self.failure_samples.len() < 5 {
            self.failure_samples.push(why);
        }
    }
}

/// One connection: sequential requests over one keep-alive connection (its own client, whose
/// pool holds at most that one connection). `client_address`, when set, is sent as
/// `X-Forwarded-For` (the server trusts the loopback proxy), so that every connection is its
/// own client to the rate limiter, as real SDKs on many hosts are.
pub(super) async fn http_task(
    url: Arc<str>,
    id_prefix: String,
    batch: usize,
    fragments: Arc<Vec<String>>,
    window: Arc<Window>,
    client_address: Option<String>,
) -> anyhow::Result<TaskResult> {
    let client = crate::bench::common::connection_client()?;
    let mut result = TaskResult::default();
    let mut n: u64 = 0;
    let mut fragment = 0;
    let mut body = String::with_capacity(batch * 560 + 32);
    loop {
        let begin = Instant::now();
        if begin >= window.stop_at {
            break;
        }
        body.clear();
        let timestamp = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        body.push_str("{\"events\":[");
        for i in 0..batch {
            if i > 0 {
                body.push(',');
            }
            let _ = write!(body, "{{\"traceId\":\"{id_prefix}{n:x}\",\"spanId\":\"sp_{n:x}\"");
            body.push_str(&fragments[fragment]);
            let _ = write!(body, ",\"timestamp\":\"{timestamp}\"}}");
            n += 1;
            fragment = (fragment + 1) % fragments.len();
        }
        body.push_str("]}");
        let mut request = client
            .post(&*url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(Bytes::copy_from_slice(body.as_bytes()));
        if let Some(address) = &client_address {
            request = request.header("x-forwarded-for", address.as_str());
        }
        let response = request.send().await;
        let ok = match response {
            Ok(r) => {
                let status = r.status();
                match r.bytes().await {
                    Ok(answer) if status == reqwest::StatusCode::ACCEPTED => {
                        result.acknowledged += batch as u64;
                        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&answer) {
                            result.inserted += v["inserted"].as_u64().unwrap_or(0);
                            result.duplicates += v["duplicates"].as_u64().unwrap_or(0);
                        }
                        true
                    }
                    Ok(answer) => {
                        result.fail(format!(
                            "{status}: {}",
                            truncate(&String::from_utf8_lossy(&answer), 300)
                        ));
                        false
                    }
                    Err(e) => {
                        result.fail(format!("{status}, body unreadable: {e}"));
                        false
                    }
                }
            }
            Err(e) => {
                result.fail(format!("request failed: {e}"));
                false
            }
        };
        let end = Instant::now();
        if ok && begin >= window.measure_from {
            result.requests += 1;
            result.events += batch as u64;
            result
                .latencies_us
                .push(u32::try_from(end.duration_since(begin).as_micros()).unwrap_or(u32::MAX));
            result.last_end = Some(end);
        }
    }
    Ok(result)
}
