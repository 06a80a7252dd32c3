//! Delivering one batch: gzip, retries with backoff and jitter honouring `Retry-After`, bad events
//! dropped on a `400` that names them, oversized batches split on `413`.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};

use crate::event::Event;

/// Longest `Retry-After` obeyed; a larger one is cut to this (the batch is retried, not lost).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What the client counts (read into `Stats` by the client).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) recorded: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) retries: AtomicU64,
}

/// How requests are made and retried.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) max_attempts: u32,
    pub(crate) base_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) timeout: Duration,
    pub(crate) gzip: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            gzip: true,
        }
    }
}

pub(crate) struct Sender {
    http: reqwest::Client,
    url: String,
    api_key: Option<String>,
    settings: Settings,
}

/// What one request came back with.
enum Outcome {
    Accepted,
    /// These positions of the batch are invalid (the server's `details`).
    Invalid(Vec<usize>),
    TooLarge,
    Retry(Option<Duration>),
    Fatal(String),
}

impl Sender {
    pub(crate) fn new(
        url: String,
        api_key: Option<String>,
        settings: Settings,
    ) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()?;
        Ok(Self { http, url, api_key, settings })
    }

    /// Delivers `batch`, counting every event once as sent, rejected or failed.
    pub(crate) async fn deliver(&self, batch: Vec<Event>, c: &Counters) {
        let mut work = vec![batch];
        while let Some(mut events) = work.pop() {
            let mut attempt = 0u32;
            while !events.is_empty() {
                match self.post(&events).await {
                    Outcome::Accepted => {
                        c.sent.fetch_add(events.len() as u64, Ordering::Relaxed);
                        events.clear();
                    }
                    Outcome::Invalid(bad) => {
                        // The rest of the batch is valid: send it again at once.
                        tracing::warn!(
                            rejected = bad.len(),
                            "aicp: the server rejected invalid events"
                        );
                        c.rejected.fetch_add(bad.len() as u64, Ordering::Relaxed);
                        events = events
                            .into_iter()
                            .enumerate()
                            .filter(|(i, _)| !bad.contains(i))
                            .map(|(_, e)| e)
                            .collect();
                    }
                    Outcome::TooLarge if events.len() > 1 => {
                        let half = events.split_off(events.len() / 2);
                        work.push(half);
                        work.push(std::mem::take(&mut events));
                    }
                    Outcome::TooLarge => {
                        tracing::warn!("aicp: an event is larger than the server's body limit");
                        c.failed.fetch_add(1, Ordering::Relaxed);
                        events.clear();
                    }
                    Outcome::Fatal(why) => {
                        tracing::warn!(error = %why, events = events.len(), "aicp: events refused");
                        c.failed.fetch_add(events.len() as u64, Ordering::Relaxed);
                        events.clear();
                    }
                    Outcome::Retry(after) => {
                        attempt += 1;
                        if attempt >= self.settings.max_attempts {
                            tracing::warn!(
                                events = events.len(),
                                attempts = attempt,
                                "aicp: giving up on a batch"
                            );
                            c.failed.fetch_add(events.len() as u64, Ordering::Relaxed);
                            events.clear();
                        } else {
                            c.retries.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(after.unwrap_or_else(|| self.backoff(attempt)))
                                .await;
                        }
                    }
                }
            }
        }
    }

    /// `base · 2^(attempt−1)`, capped, randomised to between half and all of it (so that many
    /// clients failing together do not retry together).
    fn backoff(&self, attempt: u32) -> Duration {
        let s = &self.settings;
        let exp = s.base_backoff.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let full = exp.min(s.max_backoff);
        let half = full / 2;
        half + full.saturating_sub(half).mul_f64(rand::rng().random::<f64>())
    }

    async fn post(&self, events: &[Event]) -> Outcome {
        let body = match serde_json::to_vec(&serde_json::json!({ "events": events })) {
            Ok(b) => b,
            Err(e) => return Outcome::Fatal(format!("cannot serialize events: {e}")),
        };
        let mut req = self.http.post(&self.url).header(CONTENT_TYPE, "application/json");
        if let Some(key) = &self.api_key {
            req = req.header("x-api-key", key);
        }
        req = if self.settings.gzip {
            match gzip(&body) {
                Ok(gz) => req.header(CONTENT_ENCODING, "gzip").body(gz),
                Err(_) => req.body(body),
            }
        } else {
            req.body(body)
        };
        let res = match req.send().await {
            Ok(res) => res,
            // Connection refused or reset, timeouts: the server may not have stored anything,
            // or may have; either way a re-send is safe.
            Err(e) => {
                tracing::debug!(error = %e, "aicp: request failed");
                return Outcome::Retry(None);
            }
        };
        let status = res.status();
        if status.is_success() {
            return Outcome::Accepted;
        }
        if status == StatusCode::TOO_MANY_REQUESTS
            || status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
        {
            let after = res
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
            return Outcome::Retry(after);
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Outcome::TooLarge;
        }
        let text = res.text().await.unwrap_or_default();
        if status == StatusCode::BAD_REQUEST {
            let bad = invalid_positions(&text, events.len());
            if !bad.is_empty() {
                return Outcome::Invalid(bad);
            }
        }
        Outcome::Fatal(format!("{status}: {}", text.chars().take(300).collect::<String>()))
    }
}

/// Positions named by a validation error's `details[].path` (`events.3.model` → 3).
fn invalid_positions(body: &str, len: usize) -> Vec<usize> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else { return Vec::new() };
    let mut bad: Vec<usize> = v["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|i| i["path"].as_str())
                .filter_map(|p| p.strip_prefix("events.")?.split('.').next()?.parse::<usize>().ok())
                .filter(|&i| i < len)
                .collect()
        })
        .unwrap_or_default();
    bad.sort_unstable();
    bad.dedup();
    bad
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::fast(),
    );
    enc.write_all(bytes)?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_positions_of_bad_events_are_read_from_the_validation_details() {
        let body = r#"{"error":"Validation failed","details":[
            {"path":"events.3.model","message":"Required"},{"path":"events.3.provider","message":"x"},
            {"path":"events.0.inputTokens","message":"y"},{"path":"events.9.model","message":"beyond"}]}"#;
        assert_eq!(invalid_positions(body, 5), vec![0, 3]);
        assert_eq!(
            invalid_positions(r#"{"details":[{"path":"events","message":"m"}]}"#, 5),
            Vec::<usize>::new()
        );
        assert_eq!(invalid_positions("not json", 5), Vec::<usize>::new());
    }

    #[test]
    fn backoff_doubles_within_jitter_and_stops_at_the_cap() {
        let s = Sender::new(
            "http://x".into(),
            None,
            Settings {
                base_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_millis(1000),
                ..Settings::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        for (attempt, full) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (30, 1000)] {
            let d = s.backoff(attempt).as_millis();
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d} ms outside [{}, {full}]",
                full / 2
            );
        }
    }
}
