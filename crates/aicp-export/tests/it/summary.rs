//! Cost-summary exports (docs/API.md: *Cost-summary CSV columns*).

use std::str::FromStr;

use aicp_export::{ExportFormat, ExportOptions, SUMMARY_CSV_HEADER, SummaryRow, export_rows};
use futures_util::stream;
use rust_decimal::Decimal;

use crate::support::{Boom, body, usd};

/// A group: `tokens` is (input, output), `latency` is (avg, min, max).
fn row(
    dimension: Option<&str>,
    count: u64,
    tokens: (u64, u64),
    cost: &str,
    latency: (&str, i32, i32),
) -> SummaryRow {
    let (input, output) = tokens;
    let (avg, min, max) = latency;
    SummaryRow {
        dimension: dimension.map(str::to_owned),
        request_count: count,
        input_tokens: input,
        output_tokens: output,
        total_tokens: input + output,
        total_cost: usd(cost),
        avg_latency_ms: Decimal::from_str(avg).unwrap(),
        min_latency_ms: min,
        max_latency_ms: max,
    }
}

async fn export(rows: Vec<SummaryRow>, format: ExportFormat) -> String {
    let rows = stream::iter(rows.into_iter().map(Ok::<_, Boom>));
    body(export_rows(rows, format, ExportOptions::default())).await
}

#[tokio::test]
async fn the_csv_matches_the_original_observed_lines_plus_the_exact_cost() {
    let text = export(
        vec![
            row(Some("search"), 1, (1000, 500), "0.025", ("100.0000000000000000", 100, 100)),
            row(Some("chat"), 2, (2000, 1000), "0.01746", ("275.5000000000000000", 251, 300)),
        ],
        ExportFormat::Csv,
    )
    .await;
    assert_eq!(
        text,
        "Dimension,Requests,Input Tokens,Output Tokens,Total Tokens,Total Cost (USD),Avg Latency (ms),Min Latency (ms),Max Latency (ms),Total Cost Exact (USD)\n\
         search,1,1000,500,1500,0.025000,100.00,100,100,0.025\n\
         chat,2,2000,1000,3000,0.017460,275.50,251,300,0.01746\n"
    );
    assert_eq!(SUMMARY_CSV_HEADER.len(), 10);
}

#[tokio::test]
async fn a_missing_dimension_is_n_a_in_csv_and_null_in_json() {
    let rows = vec![row(None, 1, (1, 1), "0", ("5", 5, 5))];
    let csv = export(rows.clone(), ExportFormat::Csv).await;
    assert_eq!(csv.lines().nth(1).unwrap(), "N/A,1,1,1,2,0.000000,5.00,5,5,0");
    let json = export(rows, ExportFormat::Json).await;
    assert!(json.starts_with("[{\"dimension\":null,"), "{json}");
}

#[tokio::test]
async fn a_dimension_starting_with_a_formula_trigger_is_neutralised() {
    let csv = export(
        vec![row(Some("=cmd|' /C calc'!A0"), 1, (1, 1), "0", ("5", 5, 5))],
        ExportFormat::Csv,
    )
    .await;
    assert!(csv.lines().nth(1).unwrap().starts_with("'=cmd|' /C calc'!A0,"), "{csv}");
}

#[tokio::test]
async fn the_json_matches_the_original_observed_object_plus_the_exact_cost() {
    let text = export(
        vec![row(Some("gpt-4o"), 4, (1030, 530), "0.007875", ("66.5000000000000000", 5, 251))],
        ExportFormat::Json,
    )
    .await;
    assert_eq!(
        text,
        "[{\"dimension\":\"gpt-4o\",\"requestCount\":4,\"totalInputTokens\":\"1030\",\"totalOutputTokens\":\"530\",\"totalTokens\":\"1560\",\"totalCostUsd\":\"0.007875\",\"avgLatencyMs\":\"66.5000000000000000\",\"minLatencyMs\":5,\"maxLatencyMs\":251,\"totalCostUsdExact\":\"0.007875\"}]"
    );
}

#[tokio::test]
async fn the_average_latency_is_rounded_like_javascript_to_fixed() {
    let csv = export(
        vec![
            row(Some("a"), 200, (1, 1), "0", ("1.005", 1, 2)),
            row(Some("b"), 8, (1, 1), "0", ("0.125", 0, 1)),
        ],
        ExportFormat::Csv,
    )
    .await;
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[1].contains(",1.00,"), "{csv}");
    assert!(lines[2].contains(",0.13,"), "{csv}");
}

#[tokio::test]
async fn empty_summaries_are_a_header_line_an_empty_array_and_nothing() {
    assert_eq!(
        export(vec![], ExportFormat::Csv).await,
        format!("{}\n", SUMMARY_CSV_HEADER.join(","))
    );
    assert_eq!(export(vec![], ExportFormat::Json).await, "[]");
    assert_eq!(export(vec![], ExportFormat::Ndjson).await, "");
}

#[tokio::test]
async fn ndjson_summaries_are_one_object_per_line() {
    let text = export(
        vec![
            row(Some("a"), 1, (1, 1), "0.1", ("1", 1, 1)),
            row(Some("b"), 1, (1, 1), "0.2", ("1", 1, 1)),
        ],
        ExportFormat::Ndjson,
    )
    .await;
    let lines: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["totalCostUsd"], "0.200000");
}
