//! Random events for the rollup tests (shared by `rollups.rs` and `fold.rs`).
#![allow(dead_code, reason = "each test binary uses its own part")]

use aicp_domain::ports::RollupFolder;
use aicp_domain::{NewEvent, PriceBook, PricedEvent, ProjectId, Provider, Usd};
use aicp_storage::PgRollupFolder;
use chrono::{Duration, TimeZone, Utc};
use rand::Rng;
use rand::rngs::StdRng;

pub const FEATURES: [&str; 3] = ["chat", "search", "summary"];
pub const MODELS: [(&str, Provider); 4] = [
    ("gpt-4o", Provider::Openai),
    ("gpt-4o-mini", Provider::Openai),
    ("claude-3-5-sonnet-20241022", Provider::Anthropic),
    ("mystery-model", Provider::Openai),
];

pub fn random_event(
    rng: &mut StdRng,
    book: &PriceBook,
    project: &ProjectId,
    span: usize,
) -> PricedEvent {
    let (model, provider) = MODELS[rng.random_range(0..MODELS.len())];
    let input = rng.random_range(0..5000);
    let event = NewEvent {
        trace_id: format!("tr_{}", span / 3),
        span_id: format!("sp_{span}"),
        parent_span_id: None,
        feature: FEATURES[rng.random_range(0..FEATURES.len())].to_owned(),
        user_id: rng.random_bool(0.7).then(|| format!("u{}", rng.random_range(0..4))),
        provider,
        model: model.to_owned(),
        input_tokens: input,
        output_tokens: rng.random_range(0..2000),
        cached_tokens: if rng.random_bool(0.3) { rng.random_range(0..=input) } else { 0 },
        latency_ms: rng.random_range(0..20_000),
        estimated_cost: Usd::ZERO,
        timestamp: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
            + Duration::minutes(rng.random_range(0..3 * 24 * 60)),
        metadata: None,
        is_streaming: rng.random_bool(0.2),
        error_code: None,
        retry_count: if rng.random_bool(0.1) { rng.random_range(1..4) } else { 0 },
        is_error: rng.random_bool(0.05),
        reasoning_tokens: 0,
        cache_write_tokens: 0,
        cache_write_1h_tokens: 0,
        provider_cost: None,
        prompt: None,
    };
    let priced = book.price(project, &event.model, event.timestamp, event.usage());
    PricedEvent { event, priced, prompt: None }
}

/// Folds until nothing is pending; returns how many events were folded.
pub async fn fold_all(folder: &PgRollupFolder) -> u64 {
    let mut total = 0;
    loop {
        match folder.fold(10_000).await.unwrap() {
            Some(o) if o.folded == 0 => return total,
            Some(o) => total += o.folded,
            // Another folder is at work: it will finish soon.
            None => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}
