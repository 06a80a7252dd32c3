//! The event of one LLM call, in the wire format of `POST /api/v1/events`, and helpers that fill
//! it from a provider's usage numbers.

use chrono::{DateTime, Utc};
use rand::Rng;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value};

/// One LLM call. Build with [`Event::new`] or a usage helper, then chain setters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    trace_id: String,
    span_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_span_id: Option<String>,
    feature: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    provider: String,
    model: String,
    input_tokens: u32,
    output_tokens: u32,
    cached_tokens: u32,
    #[serde(skip_serializing_if = "is_zero")]
    cache_write_tokens: u32,
    #[serde(skip_serializing_if = "is_zero")]
    reasoning_tokens: u32,
    latency_ms: u32,
    #[serde(serialize_with = "exact")]
    estimated_cost_usd: Decimal,
    #[serde(serialize_with = "rfc3339")]
    timestamp: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Map<String, Value>>,
    is_streaming: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    retry_count: u32,
    is_error: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A decimal as a JSON number with exactly its digits (never through a binary float).
fn exact<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    let n: serde_json::Number =
        d.normalize().to_string().parse().map_err(serde::ser::Error::custom)?;
    n.serialize(s)
}

fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Usage numbers as OpenAI reports them (`usage` of a chat completion).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenAiUsage {
    /// `prompt_tokens` (cached ones included).
    pub prompt_tokens: u32,
    /// `completion_tokens` (reasoning included).
    pub completion_tokens: u32,
    /// `prompt_tokens_details.cached_tokens`.
    pub cached_tokens: u32,
    /// `completion_tokens_details.reasoning_tokens`.
    pub reasoning_tokens: u32,
}

/// Usage numbers as Anthropic reports them (`usage` of a message). Its `input_tokens` exclude
/// cache reads and writes; the event's input counts all three, as OpenAI's does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnthropicUsage {
    /// `input_tokens` (uncached).
    pub input_tokens: u32,
    /// `output_tokens`.
    pub output_tokens: u32,
    /// `cache_read_input_tokens`.
    pub cache_read_input_tokens: u32,
    /// `cache_creation_input_tokens`.
    pub cache_creation_input_tokens: u32,
}

impl Event {
    /// A call of `model` at `provider` (`openai`, `anthropic`, `google-gemini`, …) for `feature`,
    /// now, with fresh random trace and span ids and zero usage.
    pub fn new(
        feature: impl Into<String>,
        provider: impl Into<String>,
        model: impl Into<String>,
    ) -> Self {
        Self {
            trace_id: random_hex(16),
            span_id: random_hex(8),
            parent_span_id: None,
            feature: feature.into(),
            user_id: None,
            provider: provider.into(),
            model: model.into(),
            input_tokens: 0,
            output_tokens: 0,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
            latency_ms: 0,
            estimated_cost_usd: Decimal::ZERO,
            timestamp: Utc::now(),
            metadata: None,
            is_streaming: false,
            error_code: None,
            retry_count: 0,
            is_error: false,
        }
    }

    /// An OpenAI call with its usage.
    pub fn from_openai_usage(
        feature: impl Into<String>,
        model: impl Into<String>,
        u: &OpenAiUsage,
    ) -> Self {
        let mut e = Self::new(feature, "openai", model);
        e.input_tokens = u.prompt_tokens;
        e.output_tokens = u.completion_tokens;
        e.cached_tokens = u.cached_tokens;
        e.reasoning_tokens = u.reasoning_tokens;
        e
    }

    /// An Anthropic call with its usage (input = uncached + cache reads + cache writes).
    pub fn from_anthropic_usage(
        feature: impl Into<String>,
        model: impl Into<String>,
        u: &AnthropicUsage,
    ) -> Self {
        let mut e = Self::new(feature, "anthropic", model);
        e.input_tokens = u
            .input_tokens
            .saturating_add(u.cache_read_input_tokens)
            .saturating_add(u.cache_creation_input_tokens);
        e.output_tokens = u.output_tokens;
        e.cached_tokens = u.cache_read_input_tokens;
        e.cache_write_tokens = u.cache_creation_input_tokens;
        e
    }

    /// Trace and span ids (re-sending an event with the same ids never stores it twice).
    #[must_use]
    pub fn ids(mut self, trace_id: impl Into<String>, span_id: impl Into<String>) -> Self {
        self.trace_id = trace_id.into();
        self.span_id = span_id.into();
        self
    }

    /// The parent span.
    #[must_use]
    pub fn parent(mut self, span_id: impl Into<String>) -> Self {
        self.parent_span_id = Some(span_id.into());
        self
    }

    /// The end user.
    #[must_use]
    pub fn user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Prompt and completion tokens.
    #[must_use]
    pub fn tokens(mut self, input: u32, output: u32) -> Self {
        self.input_tokens = input;
        self.output_tokens = output;
        self
    }

    /// Latency in milliseconds.
    #[must_use]
    pub fn latency_ms(mut self, ms: u32) -> Self {
        self.latency_ms = ms;
        self
    }

    /// The caller's own cost estimate (the server prices every call itself as well).
    #[must_use]
    pub fn estimated_cost(mut self, usd: Decimal) -> Self {
        self.estimated_cost_usd = usd;
        self
    }

    /// When the call happened (default: when the event was built).
    #[must_use]
    pub fn at(mut self, timestamp: DateTime<Utc>) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// A failed call with its error class.
    #[must_use]
    pub fn error(mut self, code: impl Into<String>) -> Self {
        self.is_error = true;
        self.error_code = Some(code.into());
        self
    }

    /// Retries the caller made.
    #[must_use]
    pub fn retries(mut self, n: u32) -> Self {
        self.retry_count = n;
        self
    }

    /// Whether the response was streamed.
    #[must_use]
    pub fn streaming(mut self, yes: bool) -> Self {
        self.is_streaming = yes;
        self
    }

    /// Free-form metadata (a JSON object, ≤ 16 KiB on the server).
    #[must_use]
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The span id.
    pub fn span_id(&self) -> &str {
        &self.span_id
    }

    /// The trace id.
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_serializes_to_the_wire_format_with_an_exact_cost() {
        let at = DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z").map(|t| t.to_utc());
        let e = Event::new("chat", "openai", "gpt-4o")
            .ids("t1", "s1")
            .tokens(1000, 500)
            .latency_ms(812)
            .estimated_cost(Decimal::new(75, 4))
            .at(at.unwrap_or_default());
        let text = serde_json::to_string(&e).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"traceId":"t1","spanId":"s1","feature":"chat","provider":"openai","model":"gpt-4o","inputTokens":1000,"outputTokens":500,"cachedTokens":0,"latencyMs":812,"estimatedCostUsd":0.0075,"timestamp":"2026-01-05T10:00:00.000Z","isStreaming":false,"retryCount":0,"isError":false}"#
        );
    }

    #[test]
    fn anthropic_usage_counts_cache_reads_and_writes_in_the_input() {
        let u = AnthropicUsage {
            input_tokens: 100,
            output_tokens: 20,
            cache_read_input_tokens: 1000,
            cache_creation_input_tokens: 50,
        };
        let e = Event::from_anthropic_usage("f", "claude-sonnet-4-5", &u);
        assert_eq!((e.input_tokens, e.cached_tokens, e.cache_write_tokens), (1150, 1000, 50));
        let o = OpenAiUsage {
            prompt_tokens: 10,
            completion_tokens: 5,
            cached_tokens: 4,
            reasoning_tokens: 3,
        };
        let e = Event::from_openai_usage("f", "o3", &o);
        assert_eq!(
            (e.input_tokens, e.output_tokens, e.cached_tokens, e.reasoning_tokens),
            (10, 5, 4, 3)
        );
        assert_eq!((e.trace_id.len(), e.span_id.len()), (32, 16));
    }
}
