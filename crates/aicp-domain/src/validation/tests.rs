//! Unit tests of [`validate_batch`]. Bodies are parsed from JSON text (never built with `json!`
//! from Rust numbers), so that numbers keep their exact text as they would arriving over HTTP.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::*;

/// The instant every test validates at: 2026-01-05T12:00:00Z.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).single().expect("a valid instant")
}

fn parse(text: &str) -> Value {
    serde_json::from_str::<Value>(text).unwrap_or_else(|e| panic!("{text} is not JSON: {e}"))
}

fn decimal(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal")
}

/// A minimal valid event: only the required fields.
const VALID_EVENT: &str = r#"{
    "traceId": "tr_1", "spanId": "sp_1", "feature": "chat", "provider": "openai",
    "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500, "latencyMs": 812,
    "estimatedCostUsd": 0.0075, "timestamp": "2026-01-05T10:00:00.000Z"
}"#;

const REQUIRED_FIELDS: [&str; 10] = [
    "traceId",
    "spanId",
    "feature",
    "provider",
    "model",
    "inputTokens",
    "outputTokens",
    "latencyMs",
    "estimatedCostUsd",
    "timestamp",
];

fn valid_event() -> Map<String, Value> {
    match parse(VALID_EVENT) {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// The valid event with `field` set to the JSON text `raw`.
fn event_with(field: &str, raw: &str) -> Value {
    let mut event = valid_event();
    event.insert(field.to_owned(), parse(raw));
    Value::Object(event)
}

/// The valid event without `field`.
fn event_without(field: &str) -> Value {
    let mut event = valid_event();
    event.remove(field);
    Value::Object(event)
}

fn batch(events: Vec<Value>) -> Value {
    let mut root = Map::new();
    root.insert("events".to_owned(), Value::Array(events));
    Value::Object(root)
}

fn validate(body: &Value) -> Result<Vec<NewEvent>, Vec<Issue>> {
    validate_batch(body, now(), &Limits::default())
}

fn accepted(body: &Value) -> Vec<NewEvent> {
    validate(body).unwrap_or_else(|issues| panic!("{body} should be accepted: {issues:?}"))
}

fn rejected(body: &Value) -> Vec<(String, String)> {
    match validate(body) {
        Ok(events) => panic!("{body} should be rejected, got {events:?}"),
        Err(issues) => issues.into_iter().map(|i| (i.path, i.message)).collect(),
    }
}

/// The one event of a batch whose event has `field` set to `raw`, which must be accepted.
fn accepted_with(field: &str, raw: &str) -> NewEvent {
    let mut events = accepted(&batch(vec![event_with(field, raw)]));
    assert_eq!(events.len(), 1);
    events.remove(0)
}

/// The messages reported for a batch whose one event has `field` set to `raw`; every issue must
/// be at `events.0.<field>`.
fn messages_with(field: &str, raw: &str) -> Vec<String> {
    let issues = rejected(&batch(vec![event_with(field, raw)]));
    let path = format!("events.0.{field}");
    for (p, m) in &issues {
        assert_eq!(p, &path, "{field} = {raw}: unexpected issue {m:?}");
    }
    issues.into_iter().map(|(_, m)| m).collect()
}

/// The single message reported for `field` set to `raw`.
fn message_with(field: &str, raw: &str) -> String {
    let mut messages = messages_with(field, raw);
    assert_eq!(messages.len(), 1, "{field} = {raw}: {messages:?}");
    messages.remove(0)
}

fn pair(path: &str, message: &str) -> (String, String) {
    (path.to_owned(), message.to_owned())
}

const NON_NEGATIVE: &str = "Number must be greater than or equal to 0";
const AT_MOST_INT: &str = "Number must be less than or equal to 2147483647";
const FLOAT: &str = "Expected integer, received float";
const COST_TOO_LARGE: &str = "Number must be less than 1000000";
const NUL_IN_STRING: &str = "String must not contain the NUL character (\\u0000)";
const NUL_IN_METADATA: &str = "Metadata must not contain the NUL character (\\u0000)";

// ---------------------------------------------------------------------------------------------
// Accepted batches and defaults
// ---------------------------------------------------------------------------------------------

#[test]
fn the_example_batch_of_the_original_api_is_accepted_with_its_values_and_defaults() {
    let body = parse(
        r#"{"events":[
 {"traceId":"tr_V1StGXR8_Z5jdHi6B-myT","spanId":"sp_a1b2c3d4e5f6g7h8","feature":"chat-summary","userId":"user-123","provider":"openai","model":"gpt-4o","inputTokens":1000,"outputTokens":500,"cachedTokens":0,"latencyMs":812,"estimatedCostUsd":0.0075,"timestamp":"2026-01-05T10:00:00.000Z","isStreaming":false,"retryCount":0,"isError":false},
 {"traceId":"tr_x","spanId":"sp_x","feature":"chat-summary","provider":"openai","model":"gpt-4o","inputTokens":0,"outputTokens":0,"cachedTokens":0,"latencyMs":52,"estimatedCostUsd":0,"timestamp":"2026-01-05T10:00:01.000Z","isStreaming":false,"retryCount":0,"isError":true,"errorCode":"server_error","metadata":{"error":"Custom error message"}}
]}"#,
    );
    let events = accepted(&body);
    assert_eq!(events.len(), 2);

    let ok = &events[0];
    assert_eq!(ok.trace_id, "tr_V1StGXR8_Z5jdHi6B-myT");
    assert_eq!(ok.span_id, "sp_a1b2c3d4e5f6g7h8");
    assert_eq!(ok.parent_span_id, None);
    assert_eq!(ok.feature, "chat-summary");
    assert_eq!(ok.user_id.as_deref(), Some("user-123"));
    assert_eq!(ok.provider, Provider::Openai);
    assert_eq!(ok.model, "gpt-4o");
    assert_eq!((ok.input_tokens, ok.output_tokens, ok.cached_tokens), (1000, 500, 0));
    assert_eq!(ok.latency_ms, 812);
    assert_eq!(ok.estimated_cost.amount(), decimal("0.0075"));
    assert_eq!(ok.timestamp, Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).single().expect("t"));
    assert_eq!(ok.metadata, None);
    assert!(!ok.is_streaming);
    assert_eq!(ok.error_code, None);
    assert_eq!(ok.retry_count, 0);
    assert!(!ok.is_error);

    let failed = &events[1];
    assert_eq!(failed.trace_id, "tr_x");
    assert_eq!(failed.user_id, None);
    assert_eq!((failed.input_tokens, failed.output_tokens), (0, 0));
    assert_eq!(failed.latency_ms, 52);
    assert_eq!(failed.estimated_cost, Usd::ZERO);
    assert!(failed.is_error);
    assert_eq!(failed.error_code.as_deref(), Some("server_error"));
    let metadata = failed.metadata.as_ref().expect("metadata");
    assert_eq!(metadata.get("error"), Some(&Value::String("Custom error message".to_owned())));
    assert_eq!(metadata.len(), 1);
}

#[test]
fn omitted_optional_fields_take_the_defaults_of_the_original() {
    let events = accepted(&batch(vec![parse(VALID_EVENT)]));
    let event = &events[0];
    assert_eq!(event.cached_tokens, 0);
    assert_eq!(event.retry_count, 0);
    assert!(!event.is_streaming);
    assert!(!event.is_error);
    assert_eq!(event.parent_span_id, None);
    assert_eq!(event.user_id, None);
    assert_eq!(event.error_code, None);
    assert_eq!(event.metadata, None);
}

#[test]
fn optional_fields_that_are_sent_are_kept() {
    let mut event = valid_event();
    for (key, raw) in [
        ("parentSpanId", r#""sp_0""#),
        ("userId", r#""u""#),
        ("cachedTokens", "200"),
        ("metadata", r#"{"a":[1,{"b":null}]}"#),
        ("isStreaming", "true"),
        ("errorCode", r#""rate_limit""#),
        ("retryCount", "3"),
        ("isError", "true"),
    ] {
        event.insert(key.to_owned(), parse(raw));
    }
    let events = accepted(&batch(vec![Value::Object(event)]));
    let e = &events[0];
    assert_eq!(e.parent_span_id.as_deref(), Some("sp_0"));
    assert_eq!(e.user_id.as_deref(), Some("u"));
    assert_eq!(e.cached_tokens, 200);
    assert_eq!(
        e.metadata.as_ref().map(|m| Value::Object(m.clone())),
        Some(parse(r#"{"a":[1,{"b":null}]}"#))
    );
    assert!(e.is_streaming);
    assert_eq!(e.error_code.as_deref(), Some("rate_limit"));
    assert_eq!(e.retry_count, 3);
    assert!(e.is_error);
}

#[test]
fn events_are_returned_in_request_order() {
    let events: Vec<Value> =
        (0..5).map(|i| event_with("spanId", &format!(r#""sp_{i}""#))).collect();
    let spans: Vec<String> = accepted(&batch(events)).into_iter().map(|e| e.span_id).collect();
    assert_eq!(spans, ["sp_0", "sp_1", "sp_2", "sp_3", "sp_4"]);
}

#[test]
fn latency_is_rounded_half_up_like_math_round() {
    for (raw, want) in [
        ("250.6", 251),
        ("2.5", 3),
        ("250.4", 250),
        ("0.5", 1),
        ("0.49999999999999999999999999999999", 0),
        ("0", 0),
        ("-0", 0),
        ("812", 812),
        ("8.12e2", 812),
        ("1e-400", 0),
        ("2147483647", 2_147_483_647),
        ("2147483647.4", 2_147_483_647),
    ] {
        assert_eq!(accepted_with("latencyMs", raw).latency_ms, want, "latencyMs {raw}");
    }
}

#[test]
fn a_latency_that_rounds_above_i32_max_is_rejected() {
    for raw in ["2147483647.5", "2147483648", "1e10", "1e400"] {
        assert_eq!(message_with("latencyMs", raw), AT_MOST_INT, "latencyMs {raw}");
    }
}

#[test]
fn a_negative_latency_is_rejected_even_when_it_rounds_to_zero() {
    for raw in ["-1", "-0.4", "-0.5", "-1e-400", "-1e400"] {
        assert_eq!(message_with("latencyMs", raw), NON_NEGATIVE, "latencyMs {raw}");
    }
}

// ---------------------------------------------------------------------------------------------
// The shape of the body
// ---------------------------------------------------------------------------------------------

#[test]
fn a_root_that_is_not_an_object_is_rejected_at_the_empty_path() {
    for (raw, got) in [
        ("[]", "array"),
        ("null", "null"),
        (r#""events""#, "string"),
        ("1", "number"),
        ("true", "boolean"),
    ] {
        assert_eq!(
            rejected(&parse(raw)),
            [pair("", &format!("Expected object, received {got}"))],
            "root {raw}"
        );
    }
}

#[test]
fn a_body_without_events_is_rejected_with_required() {
    assert_eq!(rejected(&parse("{}")), [pair("events", "Required")]);
    assert_eq!(rejected(&parse(r#"{"event":[]}"#)), [pair("events", "Required")]);
}

#[test]
fn events_that_is_not_an_array_is_rejected_with_the_zod_type_message() {
    for (raw, got) in [
        ("{}", "object"),
        ("null", "null"),
        (r#""[]""#, "string"),
        ("3", "number"),
        ("false", "boolean"),
    ] {
        let body = parse(&format!(r#"{{"events":{raw}}}"#));
        assert_eq!(rejected(&body), [pair("events", &format!("Expected array, received {got}"))]);
    }
}

#[test]
fn an_empty_batch_is_rejected() {
    assert_eq!(
        rejected(&parse(r#"{"events":[]}"#)),
        [pair("events", "Array must contain at least 1 element(s)")]
    );
}

#[test]
fn a_batch_of_501_events_is_rejected_and_one_of_500_is_accepted() {
    let events: Vec<Value> = (0..=MAX_BATCH_EVENTS).map(|_| parse(VALID_EVENT)).collect();
    assert_eq!(events.len(), 501);
    assert_eq!(
        rejected(&batch(events.clone())),
        [pair("events", "Array must contain at most 500 element(s)")]
    );
    let at_limit = events[..MAX_BATCH_EVENTS].to_vec();
    assert_eq!(accepted(&batch(at_limit)).len(), 500);
}

#[test]
fn a_batch_over_the_limit_is_rejected_before_its_events_are_looked_at() {
    let events: Vec<Value> = (0..=MAX_BATCH_EVENTS).map(|_| parse("{}")).collect();
    assert_eq!(
        rejected(&batch(events)),
        [pair("events", "Array must contain at most 500 element(s)")]
    );
}

#[test]
fn an_element_that_is_not_an_object_is_rejected_at_its_index() {
    for (raw, got) in [("42", "number"), ("null", "null"), ("[]", "array"), (r#""e""#, "string")] {
        let mut events: Vec<Value> = (0..3).map(|_| parse(VALID_EVENT)).collect();
        events.push(parse(raw));
        assert_eq!(
            rejected(&batch(events)),
            [pair("events.3", &format!("Expected object, received {got}"))],
            "element {raw}"
        );
    }
}

#[test]
fn unknown_fields_are_ignored_in_the_body_and_in_events() {
    let mut event = valid_event();
    event.insert("costUsd".to_owned(), parse(r#""not a number""#));
    event.insert("verifiedCostUsd".to_owned(), parse("-1"));
    event.insert("projectId".to_owned(), parse(r#""someone-else""#));
    let mut root = Map::new();
    root.insert("events".to_owned(), Value::Array(vec![Value::Object(event)]));
    root.insert("sdkVersion".to_owned(), parse(r#"{"name":"x"}"#));
    let events = accepted(&Value::Object(root));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].trace_id, "tr_1");
}

// ---------------------------------------------------------------------------------------------
// Required fields and types
// ---------------------------------------------------------------------------------------------

#[test]
fn an_empty_event_reports_every_required_field_in_schema_order() {
    let issues = rejected(&parse(r#"{"events":[{}]}"#));
    let want: Vec<_> =
        REQUIRED_FIELDS.iter().map(|f| pair(&format!("events.0.{f}"), "Required")).collect();
    assert_eq!(issues, want);
}

#[test]
fn each_missing_required_field_is_reported_as_required_at_its_path() {
    for field in REQUIRED_FIELDS {
        let events = vec![parse(VALID_EVENT), event_without(field)];
        assert_eq!(
            rejected(&batch(events)),
            [pair(&format!("events.1.{field}"), "Required")],
            "without {field}"
        );
    }
}

#[test]
fn a_null_user_id_is_rejected_as_zod_does() {
    assert_eq!(message_with("userId", "null"), "Expected string, received null");
}

#[test]
fn null_is_not_absence_for_any_optional_field() {
    for (field, want) in [
        ("parentSpanId", "string"),
        ("userId", "string"),
        ("cachedTokens", "number"),
        ("metadata", "object"),
        ("isStreaming", "boolean"),
        ("errorCode", "string"),
        ("retryCount", "number"),
        ("isError", "boolean"),
    ] {
        assert_eq!(
            message_with(field, "null"),
            format!("Expected {want}, received null"),
            "{field} null"
        );
    }
}

#[test]
fn null_for_a_required_field_is_a_type_error_not_required() {
    assert_eq!(message_with("traceId", "null"), "Expected string, received null");
    assert_eq!(message_with("inputTokens", "null"), "Expected number, received null");
    assert_eq!(message_with("timestamp", "null"), "Expected string, received null");
}

#[test]
fn numbers_sent_as_strings_are_not_coerced() {
    for field in [
        "inputTokens",
        "outputTokens",
        "cachedTokens",
        "latencyMs",
        "estimatedCostUsd",
        "retryCount",
    ] {
        assert_eq!(message_with(field, r#""1000""#), "Expected number, received string", "{field}");
    }
}

#[test]
fn booleans_of_the_wrong_type_are_rejected() {
    for field in ["isStreaming", "isError"] {
        assert_eq!(message_with(field, r#""true""#), "Expected boolean, received string");
        assert_eq!(message_with(field, "1"), "Expected boolean, received number");
    }
}

#[test]
fn strings_of_the_wrong_type_are_rejected_with_the_received_type() {
    assert_eq!(message_with("traceId", "123"), "Expected string, received number");
    assert_eq!(message_with("model", "[]"), "Expected string, received array");
    assert_eq!(message_with("feature", "{}"), "Expected string, received object");
    assert_eq!(message_with("spanId", "false"), "Expected string, received boolean");
    assert_eq!(message_with("timestamp", "1767607200000"), "Expected string, received number");
}

#[test]
fn numbers_of_the_wrong_type_are_rejected_with_the_received_type() {
    assert_eq!(message_with("inputTokens", "[]"), "Expected number, received array");
    assert_eq!(message_with("latencyMs", "{}"), "Expected number, received object");
    assert_eq!(message_with("estimatedCostUsd", "true"), "Expected number, received boolean");
}

// ---------------------------------------------------------------------------------------------
// Integers
// ---------------------------------------------------------------------------------------------

const INTEGER_FIELDS: [&str; 4] = ["inputTokens", "outputTokens", "cachedTokens", "retryCount"];

fn integer_of(event: &NewEvent, field: &str) -> i32 {
    match field {
        "inputTokens" => event.input_tokens,
        "outputTokens" => event.output_tokens,
        "cachedTokens" => event.cached_tokens,
        "retryCount" => event.retry_count,
        other => panic!("not an integer field: {other}"),
    }
}

#[test]
fn a_float_for_an_integer_field_is_rejected() {
    for field in INTEGER_FIELDS {
        for raw in ["1.5", "0.1", "1e-1", "12.5e-1", "1e-400"] {
            assert_eq!(message_with(field, raw), FLOAT, "{field} {raw}");
        }
    }
}

#[test]
fn an_integral_float_is_an_integer_as_in_javascript() {
    for field in INTEGER_FIELDS {
        assert_eq!(integer_of(&accepted_with(field, "1.0"), field), 1, "{field}");
        assert_eq!(integer_of(&accepted_with(field, "7.000"), field), 7, "{field}");
    }
}

#[test]
fn a_negative_integer_is_rejected() {
    for field in INTEGER_FIELDS {
        assert_eq!(message_with(field, "-1"), NON_NEGATIVE, "{field}");
        assert_eq!(message_with(field, "-1e400"), NON_NEGATIVE, "{field}");
    }
}

#[test]
fn a_negative_fraction_reports_both_failing_zod_checks_in_order() {
    for field in INTEGER_FIELDS {
        assert_eq!(messages_with(field, "-1.5"), [FLOAT, NON_NEGATIVE], "{field}");
    }
}

#[test]
fn negative_zero_is_zero() {
    for field in INTEGER_FIELDS {
        assert_eq!(integer_of(&accepted_with(field, "-0"), field), 0, "{field}");
    }
    let event = accepted_with("estimatedCostUsd", "-0");
    assert_eq!(event.estimated_cost, Usd::ZERO);
    assert!(!event.estimated_cost.amount().is_sign_negative());
    assert_eq!(event.estimated_cost.to_string(), "0");
}

#[test]
fn a_token_count_above_i32_max_is_rejected_with_its_path() {
    for field in INTEGER_FIELDS {
        assert_eq!(message_with(field, "2147483648"), AT_MOST_INT, "{field}");
        assert_eq!(message_with(field, "4294967296"), AT_MOST_INT, "{field}");
        assert_eq!(message_with(field, "1e10"), AT_MOST_INT, "{field}");
    }
    let issues =
        rejected(&batch(vec![parse(VALID_EVENT), event_with("outputTokens", "2147483648")]));
    assert_eq!(issues, [pair("events.1.outputTokens", AT_MOST_INT)]);
}

#[test]
fn a_token_count_of_exactly_i32_max_is_accepted() {
    for field in INTEGER_FIELDS {
        assert_eq!(integer_of(&accepted_with(field, "2147483647"), field), i32::MAX, "{field}");
    }
}

#[test]
fn a_token_count_in_exponent_notation_is_read_as_an_integer() {
    for (raw, want) in [
        ("1e3", 1000),
        ("1E3", 1000),
        ("1e+3", 1000),
        ("2.5e3", 2500),
        ("1.0e1", 10),
        ("12500e-1", 1250),
        ("0e5", 0),
        ("2.147483647e9", i32::MAX),
    ] {
        assert_eq!(accepted_with("inputTokens", raw).input_tokens, want, "inputTokens {raw}");
    }
}

#[test]
fn huge_and_tiny_numbers_are_handled_without_panic() {
    let huge = [
        "1e400",
        "1E+400",
        "1e99999999999999999999999999",
        "123456789012345678901234567890123456789012345678901234567890",
    ];
    for raw in huge {
        for field in INTEGER_FIELDS {
            assert_eq!(message_with(field, raw), AT_MOST_INT, "{field} {raw}");
        }
        assert_eq!(message_with("latencyMs", raw), AT_MOST_INT, "latencyMs {raw}");
        assert_eq!(message_with("estimatedCostUsd", raw), COST_TOO_LARGE, "cost {raw}");
    }
    for raw in ["-1e400", "-1e99999999999999999999999999"] {
        for field in ["inputTokens", "latencyMs", "estimatedCostUsd"] {
            assert_eq!(message_with(field, raw), NON_NEGATIVE, "{field} {raw}");
        }
    }
    for raw in ["1e-400", "1e-99999999999999999999999999", "0.0000000000000000000000000000001"] {
        assert_eq!(message_with("inputTokens", raw), FLOAT, "inputTokens {raw}");
        assert_eq!(accepted_with("latencyMs", raw).latency_ms, 0, "latencyMs {raw}");
        assert_eq!(accepted_with("estimatedCostUsd", raw).estimated_cost, Usd::ZERO, "{raw}");
    }
    for raw in ["0e400", "0e-400", "0.000e99999999999999999999", "-0.0e-5"] {
        assert_eq!(accepted_with("inputTokens", raw).input_tokens, 0, "inputTokens {raw}");
        assert_eq!(accepted_with("estimatedCostUsd", raw).estimated_cost, Usd::ZERO, "{raw}");
    }
}

#[test]
fn a_number_with_more_digits_than_a_decimal_holds_is_still_read_exactly() {
    // 10^35 × 10^-35 = 1: too many digits for a 96-bit decimal, but an ordinary integer.
    let one = "100000000000000000000000000000000000e-35";
    assert_eq!(accepted_with("inputTokens", one).input_tokens, 1);
    assert_eq!(accepted_with("latencyMs", one).latency_ms, 1);
    assert_eq!(accepted_with("estimatedCostUsd", one).estimated_cost.amount(), Decimal::ONE);
    // 1 + 10^-40 is not an integer, whatever a float would make of it.
    let almost_one = "1.0000000000000000000000000000000000000001";
    assert_eq!(message_with("inputTokens", almost_one), FLOAT);
}

// ---------------------------------------------------------------------------------------------
// Costs
// ---------------------------------------------------------------------------------------------

#[test]
fn an_estimated_cost_of_one_million_or_more_is_rejected() {
    for raw in ["1000000", "1000000.0", "1e6", "1000000.000000000000000000001", "12345678"] {
        assert_eq!(message_with("estimatedCostUsd", raw), COST_TOO_LARGE, "{raw}");
    }
    // Below the limit as sent, but it would be stored (12 places) as the limit itself.
    for raw in ["999999.9999999999999999", "999999.9999999999995"] {
        assert_eq!(message_with("estimatedCostUsd", raw), COST_TOO_LARGE, "{raw}");
    }
}

#[test]
fn an_estimated_cost_just_below_one_million_is_accepted_exactly() {
    assert_eq!(
        accepted_with("estimatedCostUsd", "999999.999").estimated_cost.amount(),
        decimal("999999.999")
    );
    assert_eq!(
        accepted_with("estimatedCostUsd", "999999.999999999999").estimated_cost.amount(),
        decimal("999999.999999999999")
    );
}

#[test]
fn a_negative_estimated_cost_is_rejected() {
    for raw in ["-0.01", "-1", "-1e-400"] {
        assert_eq!(message_with("estimatedCostUsd", raw), NON_NEGATIVE, "{raw}");
    }
}

#[test]
fn a_tiny_estimated_cost_is_kept_exactly() {
    let cost = accepted_with("estimatedCostUsd", "1e-7").estimated_cost;
    assert_eq!(cost.amount(), decimal("0.0000001"));
    assert_eq!(cost.to_string(), "0.0000001");
    for (raw, want) in [
        ("0.0075", "0.0075"),
        ("7.5e-3", "0.0075"),
        ("0.00000015", "0.00000015"),
        ("1.5E-7", "0.00000015"),
        ("0.000000000001", "0.000000000001"),
        ("1e-12", "0.000000000001"),
        ("12.5", "12.5"),
    ] {
        assert_eq!(
            accepted_with("estimatedCostUsd", raw).estimated_cost.amount(),
            decimal(want),
            "{raw}"
        );
    }
}

#[test]
fn an_estimated_cost_is_rounded_half_even_to_twelve_decimals() {
    for (raw, want) in [
        ("0.0000000000005", "0"),
        ("0.0000000000015", "0.000000000002"),
        ("0.0000000000025", "0.000000000002"),
        ("0.00000000000250001", "0.000000000003"),
        ("1e-13", "0"),
        ("6e-13", "0.000000000001"),
    ] {
        assert_eq!(
            accepted_with("estimatedCostUsd", raw).estimated_cost.amount(),
            decimal(want),
            "{raw}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------------------------

const STRING_FIELDS: [(&str, usize); 7] = [
    ("traceId", 128),
    ("spanId", 128),
    ("parentSpanId", 128),
    ("feature", 256),
    ("userId", 256),
    ("model", 256),
    ("errorCode", 256),
];

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

#[test]
fn a_nul_character_in_any_string_field_is_rejected() {
    for (field, _) in STRING_FIELDS {
        assert_eq!(message_with(field, r#""a\u0000b""#), NUL_IN_STRING, "{field}");
        assert_eq!(message_with(field, r#""\u0000""#), NUL_IN_STRING, "{field}");
    }
}

#[test]
fn strings_longer_than_the_limits_are_rejected() {
    for (field, max) in STRING_FIELDS {
        let longest = "x".repeat(max);
        let event = accepted(&batch(vec![event_with(field, &json_string(&longest))]));
        assert_eq!(event.len(), 1);
        assert_eq!(
            message_with(field, &json_string(&"x".repeat(max + 1))),
            format!("String must contain at most {max} character(s)"),
            "{field}"
        );
    }
}

#[test]
fn string_limits_count_characters_not_bytes() {
    let accents = "é".repeat(256);
    assert_eq!(accepted_with("feature", &json_string(&accents)).feature, accents);
    let emoji = "🦀".repeat(128);
    assert_eq!(accepted_with("traceId", &json_string(&emoji)).trace_id, emoji);
}

#[test]
fn a_string_too_long_and_with_a_nul_reports_both_problems() {
    let raw = json_string(&format!("{}\u{0}", "x".repeat(256)));
    assert_eq!(
        messages_with("model", &raw),
        ["String must contain at most 256 character(s)", NUL_IN_STRING]
    );
}

#[test]
fn an_empty_required_string_is_rejected_and_an_empty_optional_one_is_kept() {
    for field in ["traceId", "spanId", "feature", "model"] {
        assert_eq!(
            message_with(field, r#""""#),
            "String must contain at least 1 character(s)",
            "{field}"
        );
    }
    let event = accepted_with("userId", r#""""#);
    assert_eq!(event.user_id.as_deref(), Some(""));
    assert_eq!(accepted_with("parentSpanId", r#""""#).parent_span_id.as_deref(), Some(""));
    assert_eq!(accepted_with("errorCode", r#""""#).error_code.as_deref(), Some(""));
}

// ---------------------------------------------------------------------------------------------
// Provider
// ---------------------------------------------------------------------------------------------

const PROVIDER_OPTIONS: &str = "'openai' | 'anthropic' | 'google-gemini' | 'mistral' | 'deepseek' \
    | 'xai' | 'cohere' | 'meta' | 'azure-openai' | 'bedrock' | 'groq' | 'together' | 'fireworks' \
    | 'openrouter'";

#[test]
fn an_unknown_provider_is_rejected_with_the_zod_enum_message() {
    assert_eq!(
        message_with("provider", r#""bogus""#),
        format!("Invalid enum value. Expected {PROVIDER_OPTIONS}, received 'bogus'")
    );
    assert!(
        message_with("provider", r#""bogus""#).starts_with(
            "Invalid enum value. Expected 'openai' | 'anthropic' | 'google-gemini' | "
        )
    );
}

#[test]
fn provider_names_are_matched_exactly() {
    for raw in [r#""OpenAI""#, r#""openai ""#, r#""google_gemini""#, r#""""#] {
        let name = parse(raw);
        let name = name.as_str().expect("a string");
        assert_eq!(
            message_with("provider", raw),
            format!("Invalid enum value. Expected {PROVIDER_OPTIONS}, received '{name}'")
        );
    }
}

#[test]
fn a_provider_of_the_wrong_type_names_the_options_and_the_received_type() {
    for (raw, got) in [("null", "null"), ("[]", "array"), ("1", "number")] {
        assert_eq!(
            message_with("provider", raw),
            format!("Expected {PROVIDER_OPTIONS}, received {got}")
        );
    }
}

#[test]
fn every_provider_wire_name_is_accepted() {
    for provider in Provider::ALL {
        let raw = json_string(provider.as_str());
        assert_eq!(accepted_with("provider", &raw).provider, provider);
    }
}

// ---------------------------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------------------------

#[test]
fn metadata_that_is_not_an_object_is_rejected() {
    for (raw, got) in [
        ("[]", "array"),
        (r#"[{"a":1}]"#, "array"),
        ("null", "null"),
        (r#""{}""#, "string"),
        ("1", "number"),
        ("true", "boolean"),
    ] {
        assert_eq!(
            message_with("metadata", raw),
            format!("Expected object, received {got}"),
            "metadata {raw}"
        );
    }
}

#[test]
fn a_nul_character_anywhere_in_metadata_is_rejected() {
    for raw in [
        r#"{"a\u0000":1}"#,
        r#"{"a":"x\u0000y"}"#,
        r#"{"a":{"b":["ok","\u0000"]}}"#,
        r#"{"a":[{"\u0000":null}]}"#,
    ] {
        assert_eq!(message_with("metadata", raw), NUL_IN_METADATA, "metadata {raw}");
    }
}

/// `{"k":"xxx…"}` of exactly `bytes` bytes when serialized.
fn metadata_of_size(bytes: usize) -> String {
    let raw = format!(r#"{{"k":"{}"}}"#, "x".repeat(bytes - 8));
    assert_eq!(raw.len(), bytes);
    raw
}

#[test]
fn metadata_of_16_kib_is_accepted_and_one_byte_more_is_rejected() {
    let event = accepted_with("metadata", &metadata_of_size(16 * 1024));
    assert!(event.metadata.is_some());
    assert_eq!(
        message_with("metadata", &metadata_of_size(16 * 1024 + 1)),
        "Metadata must be at most 16384 bytes as JSON"
    );
}

#[test]
fn metadata_size_is_measured_compactly_not_as_sent() {
    // The same 16 KiB object, sent with lots of whitespace, is still 16 KiB.
    let raw = metadata_of_size(16 * 1024).replace(':', " :   ").replace('{', "{\n\n   ");
    assert!(accepted_with("metadata", &raw).metadata.is_some());
}

#[test]
fn metadata_numbers_count_with_the_length_postgresql_stores() {
    // 1e16400 is 9 bytes as sent but 16401 digits in jsonb.
    assert_eq!(
        message_with("metadata", r#"{"a":1e16400}"#),
        "Metadata must be at most 16384 bytes as JSON"
    );
    assert_eq!(
        message_with("metadata", r#"{"a":1e-16380}"#),
        "Metadata must be at most 16384 bytes as JSON"
    );
    assert!(accepted_with("metadata", r#"{"a":1e100,"b":-2.5e-50,"c":1.50}"#).metadata.is_some());
}

#[test]
fn metadata_numbers_that_postgresql_cannot_store_are_rejected() {
    let limits = Limits { max_metadata_bytes: 10 * 1024 * 1024, ..Limits::default() };
    let check =
        |raw: &str| validate_batch(&batch(vec![event_with("metadata", raw)]), now(), &limits);
    let message = "Metadata numbers must have at most 131072 digits before and 16383 after the \
                   decimal point";
    for raw in [
        r#"{"a":1e131072}"#,
        r#"{"a":[1e-16384]}"#,
        r#"{"a":1.5e-16383}"#,
        r#"{"a":{"b":1e99999999999999999999}}"#,
        r#"{"a":0e-999999}"#,
        r#"{"a":0e1073741823}"#,
    ] {
        let issues = check(raw).expect_err(raw);
        assert_eq!(
            issues,
            [Issue { path: "events.0.metadata".to_owned(), message: message.to_owned() }]
        );
    }
    for raw in
        [r#"{"a":1e131071}"#, r#"{"a":1e-16383}"#, r#"{"a":0e999999}"#, r#"{"a":1.50e131070}"#]
    {
        assert!(check(raw).is_ok(), "{raw} fits PostgreSQL numeric");
    }
}

/// An object nested `depth` levels deep (`{}` is 1).
fn nested_metadata(depth: usize) -> String {
    format!("{}{{}}{}", r#"{"a":"#.repeat(depth - 1), "}".repeat(depth - 1))
}

#[test]
fn metadata_nested_16_levels_is_accepted_and_17_is_rejected() {
    assert!(accepted_with("metadata", &nested_metadata(16)).metadata.is_some());
    assert_eq!(
        message_with("metadata", &nested_metadata(17)),
        "Metadata must be nested at most 16 levels deep"
    );
}

#[test]
fn arrays_count_as_levels_of_metadata_nesting() {
    let raw = format!(r#"{{"a":{}1{}}}"#, "[".repeat(15), "]".repeat(15));
    assert!(accepted_with("metadata", &raw).metadata.is_some());
    let raw = format!(r#"{{"a":{}1{}}}"#, "[".repeat(16), "]".repeat(16));
    assert_eq!(message_with("metadata", &raw), "Metadata must be nested at most 16 levels deep");
}

#[test]
fn an_empty_metadata_object_is_kept() {
    assert_eq!(accepted_with("metadata", "{}").metadata, Some(Map::new()));
}

// ---------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------

fn timestamp_of(raw: &str) -> DateTime<Utc> {
    accepted_with("timestamp", &json_string(raw)).timestamp
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("an RFC 3339 instant").with_timezone(&Utc)
}

#[test]
fn timestamps_with_offsets_are_accepted_and_converted_to_utc() {
    assert_eq!(timestamp_of("2026-01-05T12:00:00+02:00"), utc("2026-01-05T10:00:00Z"));
    assert_eq!(timestamp_of("2026-01-05T08:30:00-0130"), utc("2026-01-05T10:00:00Z"));
    assert_eq!(timestamp_of("2026-01-05T10:00Z"), utc("2026-01-05T10:00:00Z"));
    assert_eq!(timestamp_of("2026-01-05T10:00:00.123456Z"), utc("2026-01-05T10:00:00.123456Z"));
}

#[test]
fn a_timestamp_that_is_not_a_datetime_is_rejected_with_invalid_datetime() {
    for raw in [
        "2026-01-05",
        "2026-01-05 10:00:00Z",
        "2026-01-05T10:00:00",
        "2026-02-30T10:00:00Z",
        "2026-01-05t10:00:00z",
        "1767607200000",
        "",
    ] {
        assert_eq!(message_with("timestamp", &json_string(raw)), "Invalid datetime", "{raw}");
    }
}

#[test]
fn a_timestamp_more_than_24_hours_in_the_future_is_rejected() {
    // now() is 2026-01-05T12:00:00Z.
    assert_eq!(timestamp_of("2026-01-06T12:00:00Z"), utc("2026-01-06T12:00:00Z"));
    for raw in ["2026-01-06T12:00:00.001Z", "2026-01-07T00:00:00Z", "9999-12-31T23:59:59Z"] {
        assert_eq!(
            message_with("timestamp", &json_string(raw)),
            "Timestamp must not be more than 24 hours in the future",
            "{raw}"
        );
    }
    // The offset is applied before comparing: 13:00+02:00 is 11:00Z on the next day.
    assert_eq!(timestamp_of("2026-01-06T13:00:00+02:00"), utc("2026-01-06T11:00:00Z"));
}

#[test]
fn a_timestamp_before_2000_is_rejected() {
    assert_eq!(timestamp_of("2000-01-01T00:00:00Z"), utc("2000-01-01T00:00:00Z"));
    for raw in ["1999-12-31T23:59:59.999Z", "1970-01-01T00:00:00Z", "0000-01-01T00:00:00Z"] {
        assert_eq!(
            message_with("timestamp", &json_string(raw)),
            "Timestamp must not be before 2000-01-01T00:00:00Z",
            "{raw}"
        );
    }
    // 2000-01-01T00:30+01:00 is still 1999 in UTC.
    assert_eq!(
        message_with("timestamp", r#""2000-01-01T00:30:00+01:00""#),
        "Timestamp must not be before 2000-01-01T00:00:00Z"
    );
}

#[test]
fn the_future_bound_follows_the_given_now() {
    let later = now() + Duration::days(365);
    let body = batch(vec![event_with("timestamp", r#""2026-06-01T00:00:00Z""#)]);
    assert!(validate(&body).is_err());
    assert!(validate_batch(&body, later, &Limits::default()).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Order and number of issues
// ---------------------------------------------------------------------------------------------

#[test]
fn issues_of_one_event_are_listed_in_schema_key_order() {
    // Keys deliberately in reverse order; schema order is neither this nor alphabetical.
    let event = parse(
        r#"{
        "isError": "yes", "retryCount": -1, "errorCode": null, "isStreaming": 1,
        "metadata": [], "timestamp": "yesterday", "estimatedCostUsd": "1", "latencyMs": -1,
        "cachedTokens": 1.5, "outputTokens": null, "model": "", "provider": "bogus",
        "userId": null, "feature": "", "parentSpanId": 7, "spanId": ""
    }"#,
    );
    let p = |field: &str| format!("events.0.{field}");
    let got = rejected(&batch(vec![event]));
    let want = vec![
        pair(&p("traceId"), "Required"),
        pair(&p("spanId"), "String must contain at least 1 character(s)"),
        pair(&p("parentSpanId"), "Expected string, received number"),
        pair(&p("feature"), "String must contain at least 1 character(s)"),
        pair(&p("userId"), "Expected string, received null"),
        pair(
            &p("provider"),
            &format!("Invalid enum value. Expected {PROVIDER_OPTIONS}, received 'bogus'"),
        ),
        pair(&p("model"), "String must contain at least 1 character(s)"),
        pair(&p("inputTokens"), "Required"),
        pair(&p("outputTokens"), "Expected number, received null"),
        pair(&p("cachedTokens"), FLOAT),
        pair(&p("latencyMs"), NON_NEGATIVE),
        pair(&p("estimatedCostUsd"), "Expected number, received string"),
        pair(&p("timestamp"), "Invalid datetime"),
        pair(&p("metadata"), "Expected object, received array"),
        pair(&p("isStreaming"), "Expected boolean, received number"),
        pair(&p("errorCode"), "Expected string, received null"),
        pair(&p("retryCount"), NON_NEGATIVE),
        pair(&p("isError"), "Expected boolean, received string"),
    ];
    assert_eq!(got, want);
}

#[test]
fn issues_of_several_events_are_listed_by_event_index() {
    let mut events: Vec<Value> = (0..12).map(|_| parse(VALID_EVENT)).collect();
    events[11] = event_without("model");
    events[2] = event_with("inputTokens", "-1");
    events[10] = parse("null");
    assert_eq!(
        rejected(&batch(events)),
        [
            pair("events.2.inputTokens", NON_NEGATIVE),
            pair("events.10", "Expected object, received null"),
            pair("events.11.model", "Required"),
        ]
    );
}

#[test]
fn one_bad_event_rejects_the_whole_batch() {
    let events = vec![parse(VALID_EVENT), event_with("provider", r#""bogus""#), parse(VALID_EVENT)];
    let issues = validate(&batch(events)).expect_err("nothing is partially accepted");
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].path, "events.1.provider");
}

#[test]
fn at_most_max_issues_are_reported_the_first_ones_in_order() {
    let events: Vec<Value> = (0..MAX_BATCH_EVENTS).map(|_| parse("{}")).collect();
    let issues = rejected(&batch(events));
    assert_eq!(issues.len(), MAX_ISSUES);
    assert_eq!(issues[0], pair("events.0.traceId", "Required"));
    // Ten required fields per empty event: the first 100 issues are those of events 0..=9.
    assert_eq!(issues[MAX_ISSUES - 1], pair("events.9.timestamp", "Required"));
}

#[test]
fn exactly_max_issues_are_all_reported() {
    let events: Vec<Value> = (0..10).map(|_| parse("{}")).collect();
    assert_eq!(rejected(&batch(events)).len(), 100);
    let events: Vec<Value> = (0..9).map(|_| parse("{}")).collect();
    assert_eq!(rejected(&batch(events)).len(), 90);
}

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

#[test]
fn the_default_limits_are_those_of_the_reliability_guide() {
    let limits = Limits::default();
    assert_eq!(limits.max_id_chars, 128);
    assert_eq!(limits.max_string_chars, 256);
    assert_eq!(limits.max_metadata_bytes, 16 * 1024);
    assert_eq!(limits.max_metadata_depth, 16);
    assert_eq!(limits.max_future_skew, Duration::hours(24));
    assert_eq!(limits.earliest, utc("2000-01-01T00:00:00Z"));
}

#[test]
fn custom_limits_are_applied_and_named_in_the_messages() {
    let limits = Limits {
        max_id_chars: 4,
        max_string_chars: 6,
        max_metadata_bytes: 10,
        max_metadata_depth: 2,
        max_future_skew: Duration::hours(1),
        earliest: utc("2026-01-01T00:00:00Z"),
    };
    let mut event = valid_event();
    for (key, raw) in [
        ("traceId", r#""12345""#),
        ("model", r#""1234567""#),
        ("timestamp", r#""2026-01-05T13:00:00.001Z""#),
        ("metadata", r#"{"a":"0123456789"}"#),
    ] {
        event.insert(key.to_owned(), parse(raw));
    }
    let issues = validate_batch(&batch(vec![Value::Object(event)]), now(), &limits)
        .expect_err("over every custom limit");
    let got: Vec<_> = issues.into_iter().map(|i| (i.path, i.message)).collect();
    assert_eq!(
        got,
        [
            pair("events.0.traceId", "String must contain at most 4 character(s)"),
            pair("events.0.model", "String must contain at most 6 character(s)"),
            pair("events.0.timestamp", "Timestamp must not be more than 1 hours in the future"),
            pair("events.0.metadata", "Metadata must be at most 10 bytes as JSON"),
        ]
    );
    let deep = batch(vec![event_with("metadata", r#"{"a":{"b":{}}}"#)]);
    let issues = validate_batch(&deep, now(), &limits).expect_err("too deep");
    assert_eq!(issues[0].message, "Metadata must be nested at most 2 levels deep");
    let early = batch(vec![event_with("timestamp", r#""2025-12-31T23:59:59Z""#)]);
    let issues = validate_batch(&early, now(), &limits).expect_err("too early");
    assert_eq!(issues[0].message, "Timestamp must not be before 2026-01-01T00:00:00Z");
}

#[test]
fn issues_serialize_as_the_original_details_entries() {
    let issue = Issue { path: "events.3.model".to_owned(), message: "Required".to_owned() };
    assert_eq!(
        serde_json::to_value(&issue).expect("serializes"),
        parse(r#"{"path":"events.3.model","message":"Required"}"#)
    );
}

// ---------------------------------------------------------------------------------------------
// The exact number reader
// ---------------------------------------------------------------------------------------------

#[test]
fn the_exact_reader_normalizes_digits_and_exponent() {
    let e = Exact::parse("-0012.3400e+2").expect("a number");
    assert!(e.negative);
    assert_eq!(e.digits, [1, 2, 3, 4]);
    assert_eq!(e.exponent, 0);
    assert!(e.is_integer());
    let zero = Exact::parse("-0.000e-7").expect("a number");
    assert!(zero.is_zero() && !zero.is_negative() && zero.is_integer());
    for bad in ["", "-", "1.", ".5", "1e", "1e+", "--1", "1x", "0x10", "1.2.3", "1e5e5"] {
        assert_eq!(Exact::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn the_stored_length_is_the_plain_decimal_length() {
    for (raw, len) in [
        ("0", 1),
        ("-0", 1),
        ("12", 2),
        ("-12", 3),
        ("1.50", 4),
        ("1e3", 4),
        ("1.5e3", 4),
        ("1.50e1", 4),
        ("1e-3", 5),
        ("-2.5e-2", 6),
        ("0.0", 3),
    ] {
        assert_eq!(Exact::parse(raw).expect("a number").stored_len(), len, "{raw}");
    }
}

mod properties {
    use proptest::prelude::*;
    use rust_decimal::RoundingStrategy;

    use super::*;

    /// Any JSON number text, including ones far outside every bound.
    fn json_number() -> impl Strategy<Value = String> {
        proptest::string::string_regex(
            "-?(0|[1-9][0-9]{0,40})(\\.[0-9]{1,40})?([eE][+-]?[0-9]{1,25})?",
        )
        .expect("a valid regex")
    }

    /// A decimal text that rust_decimal represents exactly: `mantissa × 10^-scale`.
    fn plain_decimal() -> impl Strategy<Value = (u64, u32)> {
        (any::<u64>(), 0u32..=19)
    }

    fn text_of(mantissa: u64, scale: u32) -> String {
        Decimal::from_i128_with_scale(i128::from(mantissa), scale).to_string()
    }

    proptest! {
        #[test]
        fn any_json_number_in_any_numeric_field_is_accepted_or_rejected_without_panic(
            raw in json_number(),
            field in prop::sample::select(vec![
                "inputTokens", "outputTokens", "cachedTokens", "retryCount", "latencyMs",
                "estimatedCostUsd",
            ]),
        ) {
            let body = batch(vec![event_with(field, &raw)]);
            if let Err(issues) = validate(&body) {
                prop_assert!(!issues.is_empty());
                for issue in issues {
                    prop_assert_eq!(issue.path, format!("events.0.{field}"));
                    prop_assert!(
                        [FLOAT, NON_NEGATIVE, AT_MOST_INT, COST_TOO_LARGE]
                            .contains(&issue.message.as_str()),
                        "unexpected message {}", issue.message
                    );
                }
            }
        }

        #[test]
        fn any_json_number_in_metadata_is_accepted_or_rejected_without_panic(raw in json_number()) {
            let body = batch(vec![event_with("metadata", &format!(r#"{{"n":{raw}}}"#))]);
            let _ = validate(&body);
        }

        #[test]
        fn a_cost_is_the_decimal_rounded_half_even_to_twelve_places((m, scale) in plain_decimal()) {
            let text = text_of(m, scale);
            let want = decimal(&text);
            let body = batch(vec![event_with("estimatedCostUsd", &text)]);
            if want < Decimal::from(1_000_000) {
                let events = validate(&body).map_err(|i| TestCaseError::fail(format!("{i:?}")))?;
                let rounded = want.round_dp_with_strategy(12, RoundingStrategy::MidpointNearestEven);
                prop_assert_eq!(events[0].estimated_cost.amount(), rounded);
            } else {
                prop_assert!(validate(&body).is_err());
            }
        }

        #[test]
        fn a_latency_is_the_decimal_rounded_half_away_from_zero((m, scale) in plain_decimal()) {
            let text = text_of(m, scale);
            let rounded = decimal(&text).round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
            let body = batch(vec![event_with("latencyMs", &text)]);
            match i32::try_from(rounded.mantissa()) {
                Ok(want) if rounded.scale() == 0 => {
                    let events = validate(&body).map_err(|i| TestCaseError::fail(format!("{i:?}")))?;
                    prop_assert_eq!(events[0].latency_ms, want);
                }
                _ => prop_assert!(validate(&body).is_err()),
            }
        }

        #[test]
        fn scientific_notation_means_the_same_as_plain_notation(
            m in 0u64..10_000_000_000, exponent in -20i32..=20,
        ) {
            let scientific = format!("{m}e{exponent}");
            let plain = match Decimal::from_scientific(&scientific) {
                Ok(d) => d.to_string(),
                Err(_) => return Ok(()),
            };
            for field in ["inputTokens", "latencyMs", "estimatedCostUsd"] {
                let a = validate(&batch(vec![event_with(field, &scientific)]));
                let b = validate(&batch(vec![event_with(field, &plain)]));
                prop_assert_eq!(a, b, "{} vs {} in {}", scientific, plain, field);
            }
        }

        #[test]
        fn an_integer_token_count_is_accepted_exactly_when_it_fits_postgres_integer(n in any::<i64>()) {
            let body = batch(vec![event_with("inputTokens", &n.to_string())]);
            match validate(&body) {
                Ok(events) => {
                    prop_assert!((0..=i64::from(i32::MAX)).contains(&n));
                    prop_assert_eq!(i64::from(events[0].input_tokens), n);
                }
                Err(issues) => {
                    let want = if n < 0 { NON_NEGATIVE } else { AT_MOST_INT };
                    prop_assert!(n < 0 || n > i64::from(i32::MAX));
                    prop_assert_eq!(issues, vec![Issue {
                        path: "events.0.inputTokens".to_owned(),
                        message: want.to_owned(),
                    }]);
                }
            }
        }
    }
}
