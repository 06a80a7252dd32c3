//! Fixtures and helpers shared by the tests.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use aicp_domain::Usd;
use aicp_domain::event::StoredEvent;
use aicp_domain::pricing::Cost;
use aicp_export::{ExportError, ExportFormat, ExportOptions, export_rows};
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use futures_util::{Stream, StreamExt, stream};
use rust_decimal::Decimal;

/// The upstream error of test row streams.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("boom")]
pub struct Boom;

pub fn usd(text: &str) -> Usd {
    Usd::new(Decimal::from_str(text).unwrap())
}

pub fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap()
}

/// The row of the original's observed CSV line (docs/API.md: *Event CSV columns*):
/// `e982bc9c-...,2026-01-05T10:30:00.000Z,chat,anthropic,claude-3-5-sonnet-20241022,1000,500,200,1500,0.009960,300,true,false,,0`.
pub fn observed_event() -> StoredEvent {
    StoredEvent {
        id: uuid::Uuid::parse_str("e982bc9c-5a1d-4c1e-9f1e-0a7c1d2b3c4d").unwrap(),
        trace_id: "tr_1".to_owned(),
        span_id: "sp_1".to_owned(),
        parent_span_id: None,
        project_id: "default".to_owned(),
        feature: "chat".to_owned(),
        user_id: None,
        provider: "anthropic".to_owned(),
        model: "claude-3-5-sonnet-20241022".to_owned(),
        input_tokens: 1000,
        output_tokens: 500,
        cached_tokens: 200,
        cache_write_tokens: 0,
        cache_write_1h_tokens: 0,
        reasoning_tokens: 0,
        latency_ms: 300,
        estimated_cost: usd("0.00996"),
        provider_cost: None,
        verified_cost: usd("0.00996"),
        cost: Cost {
            input: usd("0.0024"),
            cache_read: usd("0.00006"),
            cache_write: Usd::ZERO,
            output: usd("0.0075"),
            reasoning: Usd::ZERO,
            total: usd("0.00996"),
        },
        priced_as: Some("claude-3-5-sonnet-20241022".to_owned()),
        price_source: "catalogue".to_owned(),
        is_cache_hit: true,
        metadata: None,
        is_streaming: true,
        error_code: None,
        retry_count: 0,
        is_error: false,
        created_at: at(2026, 1, 5, 10, 30, 0),
        received_at: at(2026, 1, 5, 10, 30, 1),
    }
}

/// A failed call with every optional field set, client text that needs quoting and
/// neutralising, a sub-micro-dollar cost and metadata.
pub fn awkward_event() -> StoredEvent {
    StoredEvent {
        id: uuid::Uuid::parse_str("0190f5a1-0000-7000-8000-000000000002").unwrap(),
        trace_id: "tr,2".to_owned(),
        span_id: "sp_2".to_owned(),
        parent_span_id: Some("sp_1".to_owned()),
        project_id: "default".to_owned(),
        feature: "=HYPERLINK(\"http://evil\",\"x\")".to_owned(),
        user_id: Some("@alice".to_owned()),
        provider: "openai".to_owned(),
        model: "gpt-4o \"mini\"".to_owned(),
        input_tokens: 12,
        output_tokens: 7,
        cached_tokens: 0,
        cache_write_tokens: 3,
        cache_write_1h_tokens: 1,
        reasoning_tokens: 2,
        latency_ms: 42,
        estimated_cost: Usd::ZERO,
        provider_cost: Some(usd("0.0000123")),
        verified_cost: usd("0.000000123456"),
        cost: Cost { total: usd("0.000000123456"), ..Cost::default() },
        priced_as: None,
        price_source: "fallback".to_owned(),
        is_cache_hit: false,
        metadata: Some(serde_json::json!({"route": "/chat", "attempt": 2})),
        is_streaming: false,
        error_code: Some("-rate_limit\nretry".to_owned()),
        retry_count: 3,
        is_error: true,
        created_at: at(2026, 1, 5, 13, 2, 0) + chrono::Duration::microseconds(123_456),
        received_at: at(2026, 1, 5, 13, 2, 1),
    }
}

/// A plain event numbered `n`, for bulk exports.
pub fn numbered_event(n: u32) -> StoredEvent {
    let mut e = observed_event();
    e.id = uuid::Uuid::from_u128(u128::from(n));
    e.span_id = format!("sp_{n}");
    e.input_tokens = i32::try_from(n).unwrap();
    e
}

/// A row stream over `events`.
pub fn rows(events: Vec<StoredEvent>) -> impl Stream<Item = Result<StoredEvent, Boom>> {
    stream::iter(events.into_iter().map(Ok))
}

/// Every chunk of `output`, panicking on an error.
pub async fn chunks<E: std::fmt::Debug>(
    output: impl Stream<Item = Result<Bytes, ExportError<E>>>,
) -> Vec<Bytes> {
    output.map(|chunk| chunk.expect("no export error")).collect().await
}

/// The whole body of `output` as text.
pub async fn body<E: std::fmt::Debug>(
    output: impl Stream<Item = Result<Bytes, ExportError<E>>>,
) -> String {
    let bytes: Vec<u8> = chunks(output).await.concat();
    String::from_utf8(bytes).expect("UTF-8 output")
}

/// The body of an event export with default options.
pub async fn export_text(events: Vec<StoredEvent>, format: ExportFormat) -> String {
    body(export_rows(rows(events), format, ExportOptions::default())).await
}

/// Runs `fut` to completion on a fresh current-thread runtime (for proptest bodies).
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(fut)
}

/// A row stream that records being dropped and how many rows were pulled from it.
pub struct Probe<S> {
    pub inner: S,
    pub dropped: Arc<AtomicBool>,
    pub pulled: Arc<std::sync::atomic::AtomicUsize>,
}

impl<S> Probe<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, dropped: Arc::default(), pulled: Arc::default() }
    }
}

impl<S> Drop for Probe<S> {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

impl<S: Stream + Unpin> Stream for Probe<S> {
    type Item = S::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<S::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        if let Poll::Ready(Some(_)) = &polled {
            self.pulled.fetch_add(1, Ordering::SeqCst);
        }
        polled
    }
}
