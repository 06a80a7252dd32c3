//! JSON and NDJSON event exports, and the shared event row shape.

use aicp_export::{ExportFormat, ExportOptions, event_json, export_rows};
use serde_json::Value;

use crate::support::{awkward_event, chunks, export_text, observed_event, rows};

/// The keys of the event row, in the order they must be serialized.
const KEY_ORDER: [&str; 32] = [
    // The original's, in schema order (docs/API.md: the *Event row* of
    // `GET /api/v1/analytics/events`).
    "id",
    "traceId",
    "spanId",
    "parentSpanId",
    "projectId",
    "feature",
    "userId",
    "provider",
    "model",
    "inputTokens",
    "outputTokens",
    "cachedTokens",
    "latencyMs",
    "estimatedCostUsd",
    "verifiedCostUsd",
    "isCacheHit",
    "metadata",
    "isStreaming",
    "errorCode",
    "retryCount",
    "isError",
    "createdAt",
    // Additive.
    "verifiedCostUsdExact",
    "estimatedCostUsdExact",
    "providerCostUsd",
    "cacheWriteTokens",
    "cacheWrite1hTokens",
    "reasoningTokens",
    "pricedAs",
    "priceSource",
    "costBreakdown",
    "receivedAt",
];

/// The top-level keys of a compact JSON object, in textual order.
fn keys_in_order(object_text: &str) -> Vec<String> {
    let map: serde_json::Map<String, Value> = serde_json::from_str(object_text).unwrap();
    let mut found: Vec<(usize, String)> = map
        .keys()
        .map(|k| {
            let needle = format!("\"{k}\":");
            (object_text.find(&needle).unwrap(), k.clone())
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, k)| k).collect()
}

#[tokio::test]
async fn a_small_export_has_exactly_these_bytes() {
    let text = export_text(vec![observed_event(), awkward_event()], ExportFormat::Json).await;
    insta::assert_snapshot!("events_json", text);
}

#[tokio::test]
async fn an_empty_export_is_an_empty_array() {
    assert_eq!(export_text(vec![], ExportFormat::Json).await, "[]");
}

#[test]
fn the_row_keys_come_in_the_original_order_then_the_additive_ones() {
    let text = serde_json::to_string(&event_json(&awkward_event())).unwrap();
    assert_eq!(keys_in_order(&text), KEY_ORDER);
}

#[test]
fn the_row_has_the_original_value_formats() {
    let text = serde_json::to_string(&event_json(&observed_event())).unwrap();
    assert!(text.starts_with(
        "{\"id\":\"e982bc9c-5a1d-4c1e-9f1e-0a7c1d2b3c4d\",\"traceId\":\"tr_1\",\"spanId\":\"sp_1\",\"parentSpanId\":null,\"projectId\":\"default\",\"feature\":\"chat\",\"userId\":null,\"provider\":\"anthropic\",\"model\":\"claude-3-5-sonnet-20241022\",\"inputTokens\":1000,\"outputTokens\":500,\"cachedTokens\":200,\"latencyMs\":300,\"estimatedCostUsd\":\"0.009960\",\"verifiedCostUsd\":\"0.009960\",\"isCacheHit\":true,\"metadata\":null,\"isStreaming\":true,\"errorCode\":null,\"retryCount\":0,\"isError\":false,\"createdAt\":\"2026-01-05T10:30:00.000Z\","
    ), "{text}");
    let row: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(row["verifiedCostUsdExact"], "0.00996");
    assert_eq!(row["providerCostUsd"], Value::Null);
    assert_eq!(row["pricedAs"], "claude-3-5-sonnet-20241022");
    assert_eq!(row["costBreakdown"]["total"], "0.00996");
}

#[test]
fn exact_costs_keep_every_digit_while_the_compatible_ones_have_six_decimals() {
    let row: Value = serde_json::to_value(event_json(&awkward_event())).unwrap();
    assert_eq!(row["verifiedCostUsd"], "0.000000");
    assert_eq!(row["verifiedCostUsdExact"], "0.000000123456");
    assert_eq!(row["estimatedCostUsd"], "0.000000");
    assert_eq!(row["providerCostUsd"], "0.0000123");
    assert_eq!(row["createdAt"], "2026-01-05T13:02:00.123Z");
    assert_eq!(row["metadata"]["attempt"], 2);
    assert_eq!(row["errorCode"], "-rate_limit\nretry", "JSON is never neutralised");
}

#[tokio::test]
async fn the_export_rows_are_the_event_json_rows() {
    let events = vec![observed_event(), awkward_event()];
    let text = export_text(events.clone(), ExportFormat::Json).await;
    let expected = format!(
        "[{}]",
        events
            .iter()
            .map(|e| serde_json::to_string(&event_json(e)).unwrap())
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(text, expected);
}

#[tokio::test]
async fn ndjson_is_one_row_object_per_line() {
    let events = vec![observed_event(), awkward_event()];
    let text = export_text(events.clone(), ExportFormat::Ndjson).await;
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    for (line, event) in lines.iter().zip(&events) {
        assert_eq!(*line, serde_json::to_string(&event_json(event)).unwrap());
    }
}

#[tokio::test]
async fn an_empty_ndjson_export_yields_no_chunk() {
    let output = export_rows(rows(vec![]), ExportFormat::Ndjson, ExportOptions::default());
    assert!(chunks(output).await.is_empty());
}
