//! Validation of an ingest batch, with the original's error envelope.
//!
//! The original validated with zod and answered `{"error":"Validation failed","details":[{path,
//! message}]}`; its SDK and users read those messages, so we produce the same paths
//! (`events.3.model`) and zod's wording, in schema key order. Where the original let bad input
//! reach the database and answered 500 (integers above 2^31-1, costs of 1e6 or more, NUL characters,
//! non-object metadata), we add a rule and a message in the same style.
//!
//! Numbers are read from their JSON text exactly (serde_json's `arbitrary_precision`), so no value
//! passes through a binary float: `1e3` is the integer 1000, `1e-400` is a (tiny) fraction, `1e400`
//! is too large, and a cost is rounded once, half to even, to [`Usd::SCALE`] decimals.
//!
//! Like zod, every failing check of a field is reported (`-1.5` tokens gives both
//! `Expected integer, received float` and `Number must be greater than or equal to 0`).
//!
//! `metadata` is measured as PostgreSQL's `jsonb` will store it: a number counts with its plain
//! decimal length (`1e1000` is 1001 bytes), so a small body cannot expand into a huge row, and
//! numbers `jsonb` cannot hold at all are rejected here instead of failing the insert
//! (`validation/jsonb.rs`); numbers are read by `validation/exact.rs`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::{NewEvent, Provider};
use crate::money::Usd;
use crate::timestamp::parse_event_timestamp;

mod exact;
mod jsonb;

use exact::{Exact, Rounding};
use jsonb::{
    JSONB_MAX_INTEGER_DIGITS, JSONB_MAX_SCALE, contains_nul, depth, numbers_fit_jsonb, stored_size,
};

/// Most events accepted in one batch (as the original).
pub const MAX_BATCH_EVENTS: usize = 500;
/// Longest prompt text (characters), as `prompt` or all `messages` together.
pub const MAX_PROMPT_CHARS: usize = 256 * 1024;
/// Most chat messages in one prompt.
pub const MAX_MESSAGES: usize = 512;
/// Most issues reported for one body; the rest are summarised by the count in the log.
pub const MAX_ISSUES: usize = 100;

/// One validation problem: where (`events.3.model`) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Dot-joined path from the body's root; `""` for the root itself.
    pub path: String,
    /// Human-readable message in zod's wording.
    pub message: String,
}

/// Bounds on event fields. Defaults follow the reliability guide.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest id (`traceId`, `spanId`, `parentSpanId`), in characters.
    pub max_id_chars: usize,
    /// Longest other string (`feature`, `model`, `userId`, `errorCode`), in characters.
    pub max_string_chars: usize,
    /// Largest `metadata`, serialized compactly, in bytes (numbers counted at the length
    /// PostgreSQL stores them with, e.g. `1e100` as 101 bytes).
    pub max_metadata_bytes: usize,
    /// Deepest nesting of `metadata`.
    pub max_metadata_depth: usize,
    /// How far in the future a timestamp may be (client clocks drift).
    pub max_future_skew: Duration,
    /// Earliest accepted timestamp.
    pub earliest: DateTime<Utc>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_id_chars: 128,
            max_string_chars: 256,
            max_metadata_bytes: 16 * 1024,
            max_metadata_depth: 16,
            max_future_skew: Duration::hours(24),
            earliest: Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single().unwrap_or_default(),
        }
    }
}

/// Largest token count, retry count and latency: PostgreSQL `integer`.
const MAX_INT: i64 = i32::MAX as i64;

/// Validates a parsed request body `{"events":[...]}` received at `now`.
///
/// # Errors
/// Every problem found (at most [`MAX_ISSUES`]), in schema order; nothing is partially accepted.
pub fn validate_batch(
    body: &Value,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<Vec<NewEvent>, Vec<Issue>> {
    let mut v = Validator { issues: Vec::new(), limits, now };
    let Some(root) = v.object(body, "") else {
        return Err(v.issues);
    };
    let events = match root.get("events") {
        None => return Err(vec![issue("events", "Required")]),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(vec![issue("events", &expected("array", other))]);
        }
    };
    if events.is_empty() {
        return Err(vec![issue("events", "Array must contain at least 1 element(s)")]);
    }
    if events.len() > MAX_BATCH_EVENTS {
        let msg = format!("Array must contain at most {MAX_BATCH_EVENTS} element(s)");
        return Err(vec![issue("events", &msg)]);
    }
    // Every event is checked (no short-circuit), so that all issues are reported.
    let parsed: Vec<Option<NewEvent>> =
        events.iter().enumerate().map(|(i, e)| v.event(e, &format!("events.{i}"))).collect();
    if v.issues.is_empty() {
        // Every rejected event reports an issue; should one ever not, refuse the whole batch
        // rather than silently drop the event.
        if let Some(events) = parsed.into_iter().collect::<Option<Vec<_>>>() {
            return Ok(events);
        }
        v.issues.push(issue("events", "Invalid event"));
    }
    v.issues.truncate(MAX_ISSUES);
    Err(v.issues)
}

fn issue(path: &str, message: &str) -> Issue {
    Issue { path: path.to_owned(), message: message.to_owned() }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn expected(want: &str, got: &Value) -> String {
    format!("Expected {want}, received {}", type_name(got))
}

struct Validator<'a> {
    issues: Vec<Issue>,
    limits: &'a Limits,
    now: DateTime<Utc>,
}

/// Whether a field may be absent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Presence {
    Required,
    Optional,
}
use Presence::{Optional, Required};

impl Validator<'_> {
    fn push(&mut self, path: &str, key: &str, message: String) {
        let path = match (path.is_empty(), key.is_empty()) {
            (_, true) => path.to_owned(),
            (true, false) => key.to_owned(),
            (false, false) => format!("{path}.{key}"),
        };
        self.issues.push(Issue { path, message });
    }

    fn object<'v>(&mut self, value: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        match value {
            Value::Object(map) => Some(map),
            other => {
                self.push(path, "", expected("object", other));
                None
            }
        }
    }

    /// Looks a field up; reports `Required` when a required one is absent.
    fn field<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        path: &str,
        key: &str,
        presence: Presence,
    ) -> Option<&'v Value> {
        let value = obj.get(key);
        if value.is_none() && presence == Required {
            self.push(path, key, "Required".to_owned());
        }
        value
    }

    fn event(&mut self, value: &Value, path: &str) -> Option<NewEvent> {
        let obj = self.object(value, path)?;
        let ids = self.limits.max_id_chars;
        let strs = self.limits.max_string_chars;
        let trace_id = self.string(obj, path, "traceId", Required, 1, ids);
        let span_id = self.string(obj, path, "spanId", Required, 1, ids);
        let parent_span_id = self.string(obj, path, "parentSpanId", Optional, 0, ids);
        let feature = self.string(obj, path, "feature", Required, 1, strs);
        let user_id = self.string(obj, path, "userId", Optional, 0, strs);
        let provider = self.provider(obj, path);
        let model = self.string(obj, path, "model", Required, 1, strs);
        let input_tokens = self.integer(obj, path, "inputTokens", Required);
        let output_tokens = self.integer(obj, path, "outputTokens", Required);
        let cached_tokens = self.integer(obj, path, "cachedTokens", Optional);
        let latency_ms = self.latency(obj, path);
        let estimated_cost = self.cost(obj, path, "estimatedCostUsd", Required);
        let timestamp = self.timestamp(obj, path);
        let metadata = self.metadata(obj, path);
        let is_streaming = self.boolean(obj, path, "isStreaming");
        let error_code = self.string(obj, path, "errorCode", Optional, 0, strs);
        let retry_count = self.integer(obj, path, "retryCount", Optional);
        let is_error = self.boolean(obj, path, "isError");
        // Additive usage details (not in the original; its payloads stay valid without them).
        let reasoning_tokens = self.integer(obj, path, "reasoningTokens", Optional);
        let cache_write_tokens = self.integer(obj, path, "cacheWriteTokens", Optional);
        let cache_write_1h_tokens = self.integer(obj, path, "cacheWrite1hTokens", Optional);
        let provider_cost = self.cost(obj, path, "providerCostUsd", Optional);
        let prompt = self.prompt(obj, path).map(|p| {
            // The original's convention: the prompt inside metadata.
            p.or_else(|| metadata.as_ref()?.as_ref()?.get("prompt")?.as_str().map(str::to_owned))
        });
        Some(NewEvent {
            trace_id: trace_id??,
            span_id: span_id??,
            parent_span_id: parent_span_id?,
            feature: feature??,
            user_id: user_id?,
            provider: provider?,
            model: model??,
            input_tokens: input_tokens??,
            output_tokens: output_tokens??,
            cached_tokens: cached_tokens?.unwrap_or(0),
            latency_ms: latency_ms?,
            estimated_cost: estimated_cost??,
            timestamp: timestamp?,
            metadata: metadata?,
            is_streaming: is_streaming?.unwrap_or(false),
            error_code: error_code?,
            retry_count: retry_count?.unwrap_or(0),
            is_error: is_error?.unwrap_or(false),
            reasoning_tokens: reasoning_tokens?.unwrap_or(0),
            cache_write_tokens: cache_write_tokens?.unwrap_or(0),
            cache_write_1h_tokens: cache_write_1h_tokens?.unwrap_or(0),
            provider_cost: provider_cost?,
            prompt: prompt?,
        })
    }

    /// The prompt (additive): `prompt` as text, else `messages` as `[{role, content}]` joined into
    /// one canonical text. `None` = invalid (reported); `Some(None)` = absent.
    fn prompt(&mut self, obj: &Map<String, Value>, path: &str) -> Option<Option<String>> {
        if obj.contains_key("prompt") {
            return self.string(obj, path, "prompt", Optional, 0, MAX_PROMPT_CHARS);
        }
        let Some(value) = obj.get("messages") else { return Some(None) };
        let Value::Array(items) = value else {
            self.push(path, "messages", expected("array", value));
            return None;
        };
        if items.len() > MAX_MESSAGES {
            self.push(
                path,
                "messages",
                format!("Array must contain at most {MAX_MESSAGES} element(s)"),
            );
            return None;
        }
        let before = self.issues.len();
        let mut pairs = Vec::with_capacity(items.len());
        let mut total = 0;
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}.messages.{i}");
            let Some(m) = self.object(item, &item_path) else { continue };
            let role = self.string(m, &item_path, "role", Required, 1, 64);
            let content = self.string(m, &item_path, "content", Required, 0, MAX_PROMPT_CHARS);
            if let (Some(Some(role)), Some(Some(content))) = (role, content) {
                total += content.chars().count();
                pairs.push((role, content));
            }
        }
        if total > MAX_PROMPT_CHARS {
            self.push(
                path,
                "messages",
                format!("Messages must contain at most {MAX_PROMPT_CHARS} characters in all"),
            );
        }
        (self.issues.len() == before).then(|| Some(crate::similarity::prompt_text(&pairs)))
    }

    /// `None` = invalid (reported); `Some(None)` = absent; `Some(Some(s))` = valid.
    fn string(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
        presence: Presence,
        min: usize,
        max: usize,
    ) -> Option<Option<String>> {
        let Some(value) = self.field(obj, path, key, presence) else {
            return (presence == Optional).then_some(None);
        };
        let Value::String(s) = value else {
            self.push(path, key, expected("string", value));
            return None;
        };
        let before = self.issues.len();
        let chars = s.chars().count();
        if chars < min {
            self.push(path, key, format!("String must contain at least {min} character(s)"));
        }
        if chars > max {
            self.push(path, key, format!("String must contain at most {max} character(s)"));
        }
        if s.contains('\0') {
            let message = "String must not contain the NUL character (\\u0000)".to_owned();
            self.push(path, key, message);
        }
        (self.issues.len() == before).then(|| Some(s.clone()))
    }

    fn provider(&mut self, obj: &Map<String, Value>, path: &str) -> Option<Provider> {
        let value = self.field(obj, path, "provider", Required)?;
        let options = Provider::ALL
            .iter()
            .map(|p| format!("'{}'", p.as_str()))
            .collect::<Vec<_>>()
            .join(" | ");
        match value {
            Value::String(s) => Provider::parse(s).or_else(|| {
                let msg = format!("Invalid enum value. Expected {options}, received '{s}'");
                self.push(path, "provider", msg);
                None
            }),
            other => {
                let msg = format!("Expected {options}, received {}", type_name(other));
                self.push(path, "provider", msg);
                None
            }
        }
    }

    /// A JSON number read exactly, or the type error.
    fn number(&mut self, value: &Value, path: &str, key: &str) -> Option<Exact> {
        let Value::Number(n) = value else {
            self.push(path, key, expected("number", value));
            return None;
        };
        let exact = Exact::parse(&n.to_string());
        if exact.is_none() {
            // Unreachable for parsed JSON: serde_json only produces numbers in JSON's grammar.
            self.push(path, key, "Invalid number".to_owned());
        }
        exact
    }

    /// A non-negative integer that fits PostgreSQL `integer` (zod's `.int().nonnegative()`, plus
    /// the upper bound). Every failing check is reported, as zod does.
    fn integer(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
        presence: Presence,
    ) -> Option<Option<i32>> {
        let Some(value) = self.field(obj, path, key, presence) else {
            return (presence == Optional).then_some(None);
        };
        let n = self.number(value, path, key)?;
        let before = self.issues.len();
        if !n.is_integer() {
            self.push(path, key, "Expected integer, received float".to_owned());
        }
        if n.is_negative() {
            self.push(path, key, non_negative());
        }
        if self.issues.len() > before {
            return None;
        }
        match n.rounded(0, Rounding::HalfEven).and_then(|v| i32::try_from(v).ok()) {
            Some(v) => Some(Some(v)),
            None => {
                self.push(path, key, at_most_int());
                None
            }
        }
    }

    /// `latencyMs`: a non-negative number (fractions allowed, rounded half up as the original's
    /// `Math.round`), at most PostgreSQL `integer` once rounded.
    fn latency(&mut self, obj: &Map<String, Value>, path: &str) -> Option<i32> {
        let key = "latencyMs";
        let value = self.field(obj, path, key, Required)?;
        let n = self.number(value, path, key)?;
        // zod checks the number as sent: -0.4 is negative even though it rounds to 0.
        if n.is_negative() {
            self.push(path, key, non_negative());
            return None;
        }
        let rounded = n.rounded(0, Rounding::HalfUp).and_then(|v| i32::try_from(v).ok());
        if rounded.is_none() {
            self.push(path, key, at_most_int());
        }
        rounded
    }

    /// A non-negative amount below 10^6 USD (the original's `numeric(12,6)` overflowed there).
    /// `None` = invalid (reported); `Some(None)` = absent and optional.
    fn cost(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
        presence: Presence,
    ) -> Option<Option<Usd>> {
        const LIMIT_DIGITS: i64 = 7; // 10^6 is the smallest number with 7 integer digits
        let Some(value) = self.field(obj, path, key, presence) else {
            return (presence == Optional).then_some(None);
        };
        let n = self.number(value, path, key)?;
        if n.is_negative() {
            self.push(path, key, non_negative());
            return None;
        }
        // The bound applies to the stored amount: a value just below it can round up to it.
        let amount = (n.integer_digits() < LIMIT_DIGITS)
            .then(|| n.rounded(Usd::SCALE, Rounding::HalfEven))
            .flatten()
            .and_then(|m| Decimal::try_from_i128_with_scale(m, Usd::SCALE).ok())
            .filter(|a| *a < Decimal::from(1_000_000));
        match amount {
            Some(amount) => Some(Some(Usd::new(amount.normalize()))),
            None => {
                self.push(path, key, "Number must be less than 1000000".to_owned());
                None
            }
        }
    }

    fn timestamp(&mut self, obj: &Map<String, Value>, path: &str) -> Option<DateTime<Utc>> {
        let key = "timestamp";
        let value = self.field(obj, path, key, Required)?;
        let Value::String(s) = value else {
            self.push(path, key, expected("string", value));
            return None;
        };
        let message = match parse_event_timestamp(s) {
            None => "Invalid datetime".to_owned(),
            Some(t) if t > self.now + self.limits.max_future_skew => format!(
                "Timestamp must not be more than {} hours in the future",
                self.limits.max_future_skew.num_hours()
            ),
            Some(t) if t < self.limits.earliest => format!(
                "Timestamp must not be before {}",
                self.limits.earliest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            Some(t) => return Some(t),
        };
        self.push(path, key, message);
        None
    }

    fn metadata(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
    ) -> Option<Option<Map<String, Value>>> {
        let key = "metadata";
        let Some(value) = obj.get(key) else {
            return Some(None);
        };
        let map = match value {
            Value::Object(map) => map,
            other => {
                self.push(path, key, expected("object", other));
                return None;
            }
        };
        let max_depth = self.limits.max_metadata_depth;
        let max_bytes = self.limits.max_metadata_bytes;
        let message = if depth(value) > max_depth {
            format!("Metadata must be nested at most {max_depth} levels deep")
        } else if contains_nul(value) {
            "Metadata must not contain the NUL character (\\u0000)".to_owned()
        } else if !numbers_fit_jsonb(value) {
            format!(
                "Metadata numbers must have at most {JSONB_MAX_INTEGER_DIGITS} digits before and \
                 {JSONB_MAX_SCALE} after the decimal point"
            )
        } else if stored_size(value) > max_bytes {
            format!("Metadata must be at most {max_bytes} bytes as JSON")
        } else {
            return Some(Some(map.clone()));
        };
        self.push(path, key, message);
        None
    }

    fn boolean(&mut self, obj: &Map<String, Value>, path: &str, key: &str) -> Option<Option<bool>> {
        match obj.get(key) {
            None => Some(None),
            Some(Value::Bool(b)) => Some(Some(*b)),
            Some(other) => {
                self.push(path, key, expected("boolean", other));
                None
            }
        }
    }
}

fn non_negative() -> String {
    "Number must be greater than or equal to 0".to_owned()
}

fn at_most_int() -> String {
    format!("Number must be less than or equal to {MAX_INT}")
}

#[cfg(test)]
mod tests;
