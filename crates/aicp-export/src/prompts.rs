//! Rows of the prompt-analysis export (`/api/v1/export/prompts`, which the original dashboard
//! calls but the original never had): the same fields as `GET /api/v1/analytics/prompts`.

use std::borrow::Cow;

use aicp_domain::Usd;
use serde::Serialize;

use crate::encoder::ExportRow;
use crate::formula::text_cell;

/// CSV header of the prompt export.
pub const PROMPT_CSV_HEADER: [&str; 7] = [
    "Prompt Hash",
    "Content",
    "Occurrences",
    "Total Cost (USD)",
    "Avg Tokens",
    "Total Cost Exact (USD)",
    "Feature",
];

/// One prompt group.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptRow {
    /// MD5 of the prompt text.
    pub prompt_hash: String,
    /// Prompt text (as much as the privacy setting keeps).
    pub content: String,
    /// Calls.
    pub occurrences: u64,
    /// Their cost.
    pub total_cost: Usd,
    /// Mean input + output tokens.
    pub avg_tokens: f64,
    /// Feature of most calls (empty for the metadata-based groups, which have none).
    pub feature: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PromptJson<'a> {
    prompt_hash: &'a str,
    content: &'a str,
    occurrences: u64,
    total_cost_usd: String,
    avg_tokens: f64,
    total_cost_usd_exact: Usd,
    feature: &'a str,
}

impl ExportRow for PromptRow {
    fn csv_header() -> &'static [&'static str] {
        &PROMPT_CSV_HEADER
    }

    fn csv_cells(&self, guard: bool) -> Vec<Cow<'_, str>> {
        vec![
            text_cell(&self.prompt_hash, guard),
            text_cell(&self.content, guard),
            Cow::Owned(self.occurrences.to_string()),
            Cow::Owned(self.total_cost.to_fixed6()),
            Cow::Owned(format!("{:.2}", self.avg_tokens)),
            Cow::Owned(self.total_cost.to_string()),
            text_cell(&self.feature, guard),
        ]
    }

    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        serde_json::to_writer(
            out,
            &PromptJson {
                prompt_hash: &self.prompt_hash,
                content: &self.content,
                occurrences: self.occurrences,
                total_cost_usd: self.total_cost.to_fixed6(),
                avg_tokens: self.avg_tokens,
                total_cost_usd_exact: self.total_cost,
                feature: &self.feature,
            },
        )
    }
}
