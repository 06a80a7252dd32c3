//! One span → one event in the wire format of `POST /api/v1/events`, so that it meets exactly the
//! validation JSON events meet. Attribute names follow the OpenTelemetry GenAI semantic
//! conventions, with the older and vendor spellings the main instrumentations still send
//! (OpenLLMetry, OpenLIT, the OpenAI and Anthropic instrumentations).

use serde_json::{Map, Number, Value};

use super::{AttrValue, SpanMapping, SpanRecord};

/// What a span is to ingest.
#[derive(Debug, Clone, PartialEq)]
pub enum SpanOutcome {
    /// Not an LLM call (no GenAI model attribute, or an agent/tool span): skipped, counted.
    Skipped,
    /// An LLM call, as a wire-format event (still to be validated).
    Event(Value),
}

/// The model: the one that answered, else the one asked for.
const MODEL: &[&str] = &["gen_ai.response.model", "gen_ai.request.model"];
/// The provider: current name, then the older `gen_ai.system`.
const PROVIDER: &[&str] = &["gen_ai.provider.name", "gen_ai.system"];
/// Prompt tokens (including cached ones, as the conventions define them); OpenLLMetry's older
/// `prompt_tokens`.
const INPUT: &[&str] = &["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"];
/// Completion tokens; OpenLLMetry's older `completion_tokens`.
const OUTPUT: &[&str] = &["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"];
/// Cache reads: the conventions' name, OpenLLMetry's, and the OpenAI-style `cached_tokens`.
const CACHE_READ: &[&str] = &[
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "gen_ai.usage.cached_tokens",
];
/// Cache writes: the conventions' name and OpenLLMetry's (Anthropic's `cache_creation`).
const CACHE_WRITE: &[&str] =
    &["gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens"];
/// Reasoning tokens: the conventions' name and the `reasoning_tokens` OpenLLMetry/OpenLIT send.
const REASONING: &[&str] =
    &["gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens"];
/// The end user: the current convention, then the older `enduser.id`.
const USER: &[&str] = &["user.id", "enduser.id"];
/// Whether the response was streamed (OpenLLMetry's `llm.is_streaming`).
const STREAMING: &[&str] = &["gen_ai.request.stream", "llm.is_streaming"];
/// The cost the instrumentation computed (OpenLIT's `gen_ai.usage.cost`), the client's estimate.
const COST: &[&str] = &["gen_ai.usage.cost"];
/// Operations that are not one model call: counting them would count their calls twice.
const NOT_A_CALL: &[&str] = &["invoke_agent", "create_agent", "execute_tool"];
/// Longest error code kept (the validator's limit for strings).
const MAX_ERROR_CODE_CHARS: usize = 256;

/// Maps `span` to an event, or says it is not an LLM call.
pub fn map_span(span: &SpanRecord, mapping: &SpanMapping) -> SpanOutcome {
    let Some(model) = string(span, MODEL) else {
        return SpanOutcome::Skipped;
    };
    if string(span, &["gen_ai.operation.name"]).is_some_and(|op| NOT_A_CALL.contains(&op.as_str()))
    {
        return SpanOutcome::Skipped;
    }
    let mut e = Map::new();
    e.insert("traceId".into(), hex(&span.trace_id).into());
    e.insert("spanId".into(), hex(&span.span_id).into());
    if !span.parent_span_id.is_empty() {
        e.insert("parentSpanId".into(), hex(&span.parent_span_id).into());
    }
    let feature = string(span, &[mapping.feature_attribute.as_str()])
        .or_else(|| resource_string(span, &mapping.feature_attribute))
        .unwrap_or_else(|| span.name.clone());
    e.insert("feature".into(), feature.into());
    if let Some(user) =
        string(span, USER).or_else(|| USER.iter().find_map(|k| resource_string(span, k)))
    {
        e.insert("userId".into(), user.into());
    }
    if let Some(provider) = string(span, PROVIDER) {
        e.insert("provider".into(), provider_name(&provider).into());
    }
    e.insert("model".into(), model.into());
    let tokens = [
        ("inputTokens", INPUT),
        ("outputTokens", OUTPUT),
        ("cachedTokens", CACHE_READ),
        ("cacheWriteTokens", CACHE_WRITE),
        ("reasoningTokens", REASONING),
    ];
    for (field, keys) in tokens {
        // Absent counts are 0 (a streamed call whose usage was not reported); a present but
        // malformed one is passed on as is, for the validator to reject with its message.
        let value = number(span, keys).unwrap_or_else(|| Value::from(0));
        e.insert(field.into(), value);
    }
    e.insert("latencyMs".into(), latency_ms(span.start_unix_nano, span.end_unix_nano));
    e.insert("estimatedCostUsd".into(), number(span, COST).unwrap_or_else(|| Value::from(0)));
    e.insert("timestamp".into(), timestamp(span.start_unix_nano).into());
    if let Some(streaming) = boolean(span, STREAMING) {
        e.insert("isStreaming".into(), streaming.into());
    }
    if span.status_error {
        e.insert("isError".into(), true.into());
        let code = string(span, &["error.type"])
            .or_else(|| Some(span.status_message.clone()).filter(|m| !m.is_empty()))
            .unwrap_or_else(|| "error".to_owned());
        let code: String = code.chars().take(MAX_ERROR_CODE_CHARS).collect();
        e.insert("errorCode".into(), code.into());
    }
    let mut metadata = Map::new();
    metadata.insert("source".into(), "otlp".into());
    metadata.insert("spanName".into(), span.name.clone().into());
    if let Some(op) = string(span, &["gen_ai.operation.name"]) {
        metadata.insert("operation".into(), op.into());
    }
    e.insert("metadata".into(), Value::Object(metadata));
    SpanOutcome::Event(Value::Object(e))
}

/// Our provider name for an OpenTelemetry `gen_ai.provider.name` / `gen_ai.system` value
/// (instrumentations differ in case and separators); unknown values pass through lowercased, for
/// the validator to reject with the list of providers it knows.
fn provider_name(value: &str) -> String {
    let v = value.trim().to_ascii_lowercase();
    let ours = match v.as_str() {
        "openai" => "openai",
        "anthropic" => "anthropic",
        "azure.ai.openai" | "az.ai.openai" | "azure_openai" | "azure-openai" | "azure" => {
            "azure-openai"
        }
        "gcp.gemini" | "gcp.vertex_ai" | "gcp.gen_ai" | "vertex_ai" | "vertexai" | "gemini"
        | "google" | "google_genai" | "google-gemini" => "google-gemini",
        "mistral_ai" | "mistralai" | "mistral" => "mistral",
        "deepseek" => "deepseek",
        "x_ai" | "xai" => "xai",
        "cohere" => "cohere",
        "meta" | "llama" => "meta",
        "aws.bedrock" | "aws_bedrock" | "bedrock" => "bedrock",
        "groq" => "groq",
        "together" | "together_ai" | "togetherai" => "together",
        "fireworks" | "fireworks_ai" => "fireworks",
        "openrouter" => "openrouter",
        _ => return v,
    };
    ours.to_owned()
}

fn find<'s>(span: &'s SpanRecord, keys: &[&str]) -> Option<&'s AttrValue> {
    keys.iter().find_map(|k| span.attributes.iter().find(|(name, _)| name == k).map(|(_, v)| v))
}

fn string(span: &SpanRecord, keys: &[&str]) -> Option<String> {
    match find(span, keys)? {
        AttrValue::Str(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn resource_string(span: &SpanRecord, key: &str) -> Option<String> {
    span.resource.iter().find(|(name, _)| name == key).and_then(|(_, v)| match v {
        AttrValue::Str(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    })
}

fn boolean(span: &SpanRecord, keys: &[&str]) -> Option<bool> {
    match find(span, keys)? {
        AttrValue::Bool(b) => Some(*b),
        _ => None,
    }
}

/// A numeric attribute as a JSON number. Integers as they are; a double from its shortest
/// decimal text (Rust's `Display` of `f64` round-trips), so a cost is read exactly from what the
/// exporter meant, never through float arithmetic; a numeric string (some SDKs send those) as the
/// number it spells. Anything else is passed on as is, for the validator to reject.
fn number(span: &SpanRecord, keys: &[&str]) -> Option<Value> {
    Some(match find(span, keys)? {
        AttrValue::Int(i) => Value::from(*i),
        AttrValue::Double(d) => {
            parse_number(&d.to_string()).unwrap_or_else(|| d.to_string().into())
        }
        AttrValue::Str(s) => parse_number(s.trim()).unwrap_or_else(|| s.clone().into()),
        AttrValue::Bool(b) => Value::Bool(*b),
        AttrValue::Other => Value::Null,
    })
}

fn parse_number(text: &str) -> Option<Value> {
    match serde_json::from_str::<Value>(text).ok()? {
        Value::Number(n) => Some(Value::Number(n)),
        _ => None,
    }
}

/// End − start in milliseconds, exactly (nanosecond resolution as a decimal fraction); a span that
/// ends before it starts is passed on negative, for the validator to reject.
fn latency_ms(start: u64, end: u64) -> Value {
    let (sign, nanos) = if end >= start { ("", end - start) } else { ("-", start - end) };
    let frac = format!("{:06}", nanos % 1_000_000);
    let frac = frac.trim_end_matches('0');
    let whole = nanos / 1_000_000;
    let text =
        if frac.is_empty() { format!("{sign}{whole}") } else { format!("{sign}{whole}.{frac}") };
    parse_number(&text).unwrap_or_else(|| Value::Number(Number::from(0)))
}

/// Start time as RFC 3339 UTC with nanoseconds.
fn timestamp(unix_nano: u64) -> String {
    let secs = i64::try_from(unix_nano / 1_000_000_000).unwrap_or(i64::MAX);
    let nanos = u32::try_from(unix_nano % 1_000_000_000).unwrap_or(0);
    chrono::DateTime::from_timestamp(secs, nanos).map_or_else(
        || "invalid".to_owned(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    )
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
