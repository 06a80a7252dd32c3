//! Realistic SDK payloads for `bench ingest`, built once from the seed generator so that the client
//! spends its CPU on the network, not on JSON.

use std::fmt::Write as _;

use aicp_domain::ProjectId;
use chrono::Utc;
use uuid::Uuid;

use crate::seed::{self, Call, Catalog, FastRng, Row};

/// Event fragments (everything but ids and timestamp), built once: realistic SDK payloads.
pub(super) fn json_fragments(count: usize) -> anyhow::Result<Vec<String>> {
    let book = seed::price_book()?;
    let project = ProjectId::default_project();
    let now = Utc::now();
    let catalog = Catalog::new();
    let mut rng = FastRng::new(2026);
    let all = (0..count)
        .map(|_| {
            let feature = catalog.feature(&mut rng);
            let user = catalog.user(&mut rng).map(str::to_owned);
            let call = Call::sample(&mut rng, feature);
            let cost = book.price(&project, call.model, now, call.usage()).cost.total.amount().normalize();
            let mut s = format!(",\"feature\":\"{}\"", feature.name);
            if let Some(user) = user {
                let _ = write!(s, ",\"userId\":\"{user}\"");
            }
            let _ = write!(
                s,
                ",\"provider\":\"{}\",\"model\":\"{}\",\"inputTokens\":{},\"outputTokens\":{},\"cachedTokens\":{},\
                 \"latencyMs\":{},\"estimatedCostUsd\":{cost},\"isStreaming\":{},\"retryCount\":{},\"isError\":{}",
                call.provider,
                call.model,
                call.input_tokens,
                call.output_tokens,
                call.cached_tokens,
                call.latency_ms,
                call.is_streaming,
                call.retry_count,
                call.is_error,
            );
            if let Some(code) = call.error_code {
                let _ = write!(s, ",\"errorCode\":\"{code}\"");
            }
            if let Some(json) = call.metadata {
                let _ = write!(s, ",\"metadata\":{json}");
            }
            s
        })
        .collect::<Vec<_>>();
    Ok(all)
}

/// CSV rows for `bench_copy` without their first four fields (id, project, trace, span).
pub(super) fn csv_tails(count: usize) -> anyhow::Result<Vec<String>> {
    let book = seed::price_book()?;
    let project_id = ProjectId::default_project();
    let catalog = Catalog::new();
    let mut rng = FastRng::new(2027);
    let now = Utc::now();
    let project = seed::csv_quote("default");
    let all = (0..count)
        .map(|_| {
            let feature = catalog.feature(&mut rng);
            let user = catalog.user(&mut rng).map(str::to_owned);
            let call = Call::sample(&mut rng, feature);
            let priced = book.price(&project_id, call.model, now, call.usage());
            let mut line = String::new();
            let row = Row {
                id: Uuid::nil(),
                project_csv: &project,
                trace_id: "t",
                span_id: "s",
                parent_span_id: None,
                feature: feature.name,
                user_id: user.as_deref(),
                call: &call,
                priced: &priced,
                created_at: now,
            };
            seed::write_csv_row(&mut line, &row);
            let fourth_comma = line.match_indices(',').nth(3).map_or(0, |(i, _)| i);
            line[fourth_comma..].to_owned()
        })
        .collect::<Vec<_>>();
    Ok(all)
}
