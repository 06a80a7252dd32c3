//! OpenTelemetry GenAI spans as events: the mapping from a span's GenAI semantic-convention
//! attributes to an event, and the use case that ingests a request's spans through the same
//! [`IngestService`] as JSON ingest (same validation, pricing and idempotency).
//!
//! The types here are plain: the API crate converts OTLP protobuf (or its JSON form) into them,
//! so this crate stays free of protobuf crates.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::ingest::{IngestError, IngestService};
use crate::project::ProjectId;
use crate::validation::MAX_BATCH_EVENTS;

mod mapping;

pub use mapping::{SpanOutcome, map_span};

/// An attribute value, as OTLP's `AnyValue` carries it (arrays and maps are not needed for the
/// mapping and arrive as [`AttrValue::Other`]).
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// `stringValue`.
    Str(String),
    /// `intValue`.
    Int(i64),
    /// `doubleValue` (token counts sometimes arrive as doubles; a cost is converted exactly from
    /// the double's shortest decimal text, never through float arithmetic).
    Double(f64),
    /// `boolValue`.
    Bool(bool),
    /// Anything else (arrays, maps, bytes, empty).
    Other,
}

/// Key/value attributes in the order they were sent.
pub type Attributes = Vec<(String, AttrValue)>;

/// One span, with what the mapping reads of it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// Trace id bytes (16 for a valid span).
    pub trace_id: Vec<u8>,
    /// Span id bytes (8 for a valid span).
    pub span_id: Vec<u8>,
    /// Parent span id bytes (empty for a root span).
    pub parent_span_id: Vec<u8>,
    /// Span name (the feature when no feature attribute is present).
    pub name: String,
    /// Start, nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end_unix_nano: u64,
    /// Whether the span's status is `ERROR`.
    pub status_error: bool,
    /// The status message (used as the error code when there is no `error.type`).
    pub status_message: String,
    /// The span's attributes.
    pub attributes: Attributes,
    /// The attributes of the resource that emitted the span (user and feature may be there).
    pub resource: Arc<Attributes>,
}

/// How spans are read: which attribute names the product feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanMapping {
    /// Attribute carrying the feature (span first, then resource); the span name otherwise.
    pub feature_attribute: String,
}

impl Default for SpanMapping {
    fn default() -> Self {
        Self { feature_attribute: DEFAULT_FEATURE_ATTRIBUTE.to_owned() }
    }
}

/// The feature attribute when none is configured.
pub const DEFAULT_FEATURE_ATTRIBUTE: &str = "aicp.feature";

/// What an OTLP export request did (OTLP's partial success, plus our counts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanReceipt {
    /// Spans stored now.
    pub inserted: usize,
    /// GenAI spans stored earlier (a re-sent export) and skipped.
    pub duplicates: usize,
    /// Spans without GenAI attributes, skipped (not an error).
    pub skipped: usize,
    /// GenAI spans that failed validation (OTLP `rejected_spans`).
    pub rejected: usize,
    /// Why spans were rejected (the first few issues), empty when none was.
    pub error_message: String,
}

/// Most rejection messages quoted in [`SpanReceipt::error_message`].
const MAX_QUOTED_ISSUES: usize = 5;

/// Ingests `spans` for `project` through `ingest`: spans without GenAI attributes are skipped,
/// GenAI spans become events; events that fail validation are rejected one by one (the rest are
/// stored), as OTLP's partial success expects.
///
/// # Errors
/// [`IngestError::Unavailable`], [`IngestError::Overloaded`] or [`IngestError::Unexpected`]: the
/// store failed; events of earlier chunks (of [`MAX_BATCH_EVENTS`]) may be stored, which is safe
/// because a re-sent export is idempotent.
pub async fn ingest_spans(
    ingest: &IngestService,
    project: &ProjectId,
    spans: &[SpanRecord],
    mapping: &SpanMapping,
) -> Result<SpanReceipt, IngestError> {
    let mut receipt = SpanReceipt::default();
    let mut events = Vec::new();
    for span in spans {
        match map_span(span, mapping) {
            SpanOutcome::Skipped => receipt.skipped += 1,
            SpanOutcome::Event(e) => events.push(e),
        }
    }
    let mut issues: Vec<String> = Vec::new();
    for chunk in events.chunks(MAX_BATCH_EVENTS) {
        let mut chunk: Vec<Value> = chunk.to_vec();
        // Validation is per event: after dropping the events the issues name, the rest is sent
        // again. At most `MAX_ISSUES` issues come back per pass, so a chunk with many bad events
        // may take several passes; each pass drops at least one event, so this ends.
        while !chunk.is_empty() {
            let body = json!({ "events": chunk });
            match ingest.ingest(project.clone(), &body).await {
                Ok(r) => {
                    receipt.inserted += r.inserted;
                    receipt.duplicates += r.duplicates;
                    chunk.clear();
                }
                Err(IngestError::Invalid(found)) => {
                    let bad = rejected_indices(&found, chunk.len());
                    issues.extend(found.iter().map(|i| describe(i, &chunk)));
                    receipt.rejected += bad.len();
                    chunk = chunk
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| !bad.contains(i))
                        .map(|(_, e)| e)
                        .collect();
                }
                Err(other) => return Err(other),
            }
        }
    }
    if receipt.rejected > 0 {
        let quoted: Vec<&str> = issues.iter().take(MAX_QUOTED_ISSUES).map(String::as_str).collect();
        receipt.error_message = format!(
            "{} GenAI span(s) rejected: {}{}",
            receipt.rejected,
            quoted.join("; "),
            if issues.len() > MAX_QUOTED_ISSUES { "; …" } else { "" }
        );
    }
    Ok(receipt)
}

/// An issue as the exporter can act on it: the span id instead of the position in our batch
/// (`span 00f0…: model: Required`).
fn describe(issue: &crate::validation::Issue, chunk: &[Value]) -> String {
    let mut parts = issue.path.splitn(3, '.');
    let (_, index, field) = (parts.next(), parts.next(), parts.next());
    let span = index
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|i| chunk.get(i))
        .and_then(|e| e.get("spanId"))
        .and_then(Value::as_str);
    match span {
        Some(span) => format!("span {span}: {}: {}", field.unwrap_or(""), issue.message),
        None => format!("{}: {}", issue.path, issue.message),
    }
}

/// Positions of the events named by `issues` (`events.3.model` → 3); every event when an issue
/// names no event (a batch-level problem) or when there is no issue at all.
fn rejected_indices(issues: &[crate::validation::Issue], len: usize) -> Vec<usize> {
    let mut bad = Vec::new();
    if issues.is_empty() {
        return (0..len).collect();
    }
    for issue in issues {
        let index = issue
            .path
            .strip_prefix("events.")
            .and_then(|rest| rest.split('.').next())
            .and_then(|n| n.parse::<usize>().ok());
        match index {
            Some(i) if i < len => {
                if !bad.contains(&i) {
                    bad.push(i);
                }
            }
            _ => return (0..len).collect(),
        }
    }
    bad
}

#[cfg(test)]
mod tests;
