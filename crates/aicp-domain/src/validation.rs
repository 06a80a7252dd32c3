//! Validation of an ingest batch, with the original's error envelope.
//!
//! The original validated with zod and answered `{"error":"Validation failed","details":[{path,
//! message}]}`; its SDK and users read those messages, so we produce the same paths
//! (`events.3.model`) and zod's wording, in schema key order. Where the original let bad input
//! reach the database and answered 500 (integers above 2^31-1, costs of 1e6 or more, NUL characters,
//! non-object metadata), we add a rule and a message in the same style.
//!
//! Numbers are read from their JSON text exactly (serde_json's `arbitrary_precision`), so no value
//! passes through a binary float.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::event::{NewEvent, Provider};
use crate::money::{MoneyError, Usd, parse_decimal};
use crate::timestamp::parse_event_timestamp;

/// Most events accepted in one batch (as the original).
pub const MAX_BATCH_EVENTS: usize = 500;
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
    /// Largest `metadata`, serialized, in bytes.
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
    let parsed: Vec<Option<NewEvent>> = events
        .iter()
        .enumerate()
        .map(|(i, e)| v.event(e, &format!("events.{i}")))
        .collect();
    if v.issues.is_empty() {
        Ok(parsed.into_iter().flatten().collect())
    } else {
        v.issues.truncate(MAX_ISSUES);
        Err(v.issues)
    }
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
        let estimated_cost = self.cost(obj, path, "estimatedCostUsd");
        let timestamp = self.timestamp(obj, path);
        let metadata = self.metadata(obj, path);
        let is_streaming = self.boolean(obj, path, "isStreaming");
        let error_code = self.string(obj, path, "errorCode", Optional, 0, strs);
        let retry_count = self.integer(obj, path, "retryCount", Optional);
        let is_error = self.boolean(obj, path, "isError");
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
            estimated_cost: estimated_cost?,
            timestamp: timestamp?,
            metadata: metadata?,
            is_streaming: is_streaming?.unwrap_or(false),
            error_code: error_code?,
            retry_count: retry_count?.unwrap_or(0),
            is_error: is_error?.unwrap_or(false),
        })
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
        let chars = s.chars().count();
        let problem = if chars < min {
            Some(format!("String must contain at least {min} character(s)"))
        } else if chars > max {
            Some(format!("String must contain at most {max} character(s)"))
        } else if s.contains('\0') {
            Some("String must not contain the NUL character (\\u0000)".to_owned())
        } else {
            None
        };
        match problem {
            Some(message) => {
                self.push(path, key, message);
                None
            }
            None => Some(Some(s.clone())),
        }
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

    /// A JSON number as an exact decimal, or the type error.
    fn number(&mut self, value: &Value, path: &str, key: &str) -> Option<NumberText> {
        match value {
            Value::Number(n) => Some(NumberText::of(n)),
            other => {
                self.push(path, key, expected("number", other));
                None
            }
        }
    }

    /// A non-negative integer that fits PostgreSQL `integer`.
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
        let message = match n.decimal {
            Some(d) if !d.fract().is_zero() => "Expected integer, received float".to_owned(),
            Some(d) if d.is_sign_negative() && !d.is_zero() => non_negative(),
            Some(d) if d > Decimal::from(MAX_INT) => at_most_int(),
            Some(d) => return i32::try_from(d.mantissa() / 10i128.pow(d.scale())).ok().map(Some),
            None if n.negative => non_negative(),
            None => at_most_int(),
        };
        self.push(path, key, message);
        None
    }

    /// `latencyMs`: a non-negative number (fractions allowed, rounded half up as the original).
    fn latency(&mut self, obj: &Map<String, Value>, path: &str) -> Option<i32> {
        let key = "latencyMs";
        let value = self.field(obj, path, key, Required)?;
        let n = self.number(value, path, key)?;
        let rounded = n
            .decimal
            .map(|d| d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero));
        let message = match rounded {
            Some(d) if d.is_sign_negative() && !d.is_zero() => non_negative(),
            Some(d) if d > Decimal::from(MAX_INT) => at_most_int(),
            Some(d) => return i32::try_from(d.mantissa() / 10i128.pow(d.scale())).ok(),
            None if n.negative => non_negative(),
            None => at_most_int(),
        };
        self.push(path, key, message);
        None
    }

    fn cost(&mut self, obj: &Map<String, Value>, path: &str, key: &str) -> Option<Usd> {
        let value = self.field(obj, path, key, Required)?;
        let n = self.number(value, path, key)?;
        let limit = Decimal::from(1_000_000);
        let message = match Usd::parse_bounded(&n.text, limit) {
            Ok(usd) => return Some(usd),
            Err(MoneyError::Negative) => non_negative(),
            Err(MoneyError::NotANumber) if n.negative => non_negative(),
            Err(MoneyError::TooLarge(_) | MoneyError::NotANumber) => {
                format!("Number must be less than {limit}")
            }
        };
        self.push(path, key, message);
        None
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
        } else if serde_json::to_vec(value).map_or(usize::MAX, |v| v.len()) > max_bytes {
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

/// A JSON number's exact text and, when it fits, its decimal value.
struct NumberText {
    text: String,
    decimal: Option<Decimal>,
    negative: bool,
}

impl NumberText {
    fn of(n: &Number) -> Self {
        let text = n.to_string();
        let decimal = parse_decimal(&text);
        let negative = text.starts_with('-');
        Self { text, decimal, negative }
    }
}

/// Nesting depth of a JSON value (a scalar is 0, `{}` is 1).
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}
