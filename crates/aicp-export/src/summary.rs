//! The cost-summary row (one group of `GET /api/v1/export/cost-summary`): the original's CSV
//! columns and JSON object shape (docs/API.md: *Cost-summary CSV columns* under *Exports*), followed by our additive fields.

use std::borrow::Cow;

use aicp_domain::Usd;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::encoder::ExportRow;
use crate::formula::text_cell;
use crate::number::js_to_fixed2;

/// The CSV header of a cost-summary export: the original's 9 columns in its order, then
/// `Total Cost Exact (USD)` (full precision, normalised decimal).
pub const SUMMARY_CSV_HEADER: [&str; 10] = [
    "Dimension",
    "Requests",
    "Input Tokens",
    "Output Tokens",
    "Total Tokens",
    "Total Cost (USD)",
    "Avg Latency (ms)",
    "Min Latency (ms)",
    "Max Latency (ms)",
    // Additive.
    "Total Cost Exact (USD)",
];

/// One group of a cost summary: the aggregates of the events sharing one dimension value
/// (feature, model or provider).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// The group's feature, model or provider; `None` for events without one.
    pub dimension: Option<String>,
    /// Number of events (`COUNT(*)`).
    pub request_count: u64,
    /// Sum of input tokens.
    pub input_tokens: u64,
    /// Sum of output tokens.
    pub output_tokens: u64,
    /// Sum of input plus output tokens.
    pub total_tokens: u64,
    /// Sum of the verified costs.
    pub total_cost: Usd,
    /// Average latency. Rendered in JSON with its own scale, so a PostgreSQL `AVG` read into a
    /// `Decimal` keeps the original's digits (`"66.5000000000000000"`).
    pub avg_latency_ms: Decimal,
    /// Smallest latency.
    pub min_latency_ms: i32,
    /// Largest latency.
    pub max_latency_ms: i32,
}

/// The JSON object of one cost-summary group, in the original's key order: `dimension`,
/// `requestCount`, `totalInputTokens`, `totalOutputTokens`, `totalTokens`, `totalCostUsd`,
/// `avgLatencyMs`, `minLatencyMs`, `maxLatencyMs`, then the additive `totalCostUsdExact`.
///
/// As in the original (where they were PostgreSQL `numeric` text), the token sums, the cost
/// (6 decimals) and the average latency are strings; the count and the min/max latencies are
/// numbers; a missing dimension is `null`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryJson<'a> {
    dimension: Option<&'a str>,
    request_count: u64,
    total_input_tokens: String,
    total_output_tokens: String,
    total_tokens: String,
    total_cost_usd: String,
    avg_latency_ms: String,
    min_latency_ms: i32,
    max_latency_ms: i32,
    // Additive.
    total_cost_usd_exact: Usd,
}

impl<'a> SummaryJson<'a> {
    /// The JSON object of `row`.
    pub fn new(row: &'a SummaryRow) -> Self {
        Self {
            dimension: row.dimension.as_deref(),
            request_count: row.request_count,
            total_input_tokens: row.input_tokens.to_string(),
            total_output_tokens: row.output_tokens.to_string(),
            total_tokens: row.total_tokens.to_string(),
            total_cost_usd: row.total_cost.to_fixed6(),
            avg_latency_ms: row.avg_latency_ms.to_string(),
            min_latency_ms: row.min_latency_ms,
            max_latency_ms: row.max_latency_ms,
            total_cost_usd_exact: row.total_cost,
        }
    }
}

/// The JSON object of `row` (see [`SummaryJson`]).
pub fn summary_json(row: &SummaryRow) -> SummaryJson<'_> {
    SummaryJson::new(row)
}

impl ExportRow for SummaryRow {
    fn csv_header() -> &'static [&'static str] {
        &SUMMARY_CSV_HEADER
    }

    /// `Dimension` is `N/A` when missing; `Total Cost (USD)` has 6 decimals (the exact sum
    /// rounded half away from zero, as `numeric(12,6)` did); `Avg Latency (ms)` is JavaScript's
    /// `parseFloat(avg).toFixed(2)`, as in the original.
    fn csv_cells(&self, guard: bool) -> Vec<Cow<'_, str>> {
        vec![
            text_cell(self.dimension.as_deref().unwrap_or("N/A"), guard),
            Cow::Owned(self.request_count.to_string()),
            Cow::Owned(self.input_tokens.to_string()),
            Cow::Owned(self.output_tokens.to_string()),
            Cow::Owned(self.total_tokens.to_string()),
            Cow::Owned(self.total_cost.to_fixed6()),
            Cow::Owned(js_to_fixed2(self.avg_latency_ms)),
            Cow::Owned(self.min_latency_ms.to_string()),
            Cow::Owned(self.max_latency_ms.to_string()),
            Cow::Owned(self.total_cost.to_string()),
        ]
    }

    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        serde_json::to_writer(out, &SummaryJson::new(self))
    }
}
