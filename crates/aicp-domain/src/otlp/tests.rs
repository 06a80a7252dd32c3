//! Tests of the span mapping and of [`ingest_spans`] over a mock repository.

use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use futures_util::FutureExt;

use super::*;
use crate::clock::MockClock;
use crate::ports::{EventBatch, InsertSummary, MockEventRepository};
use crate::validation::Limits;

/// 2026-01-05T10:00:00Z in nanoseconds.
const START: u64 = 1_767_607_200_000_000_000;

fn s(v: &str) -> AttrValue {
    AttrValue::Str(v.to_owned())
}

fn span(id: u8, attrs: &[(&str, AttrValue)]) -> SpanRecord {
    SpanRecord {
        trace_id: vec![0xab; 16],
        span_id: vec![id; 8],
        parent_span_id: Vec::new(),
        name: "chat gpt-4o".to_owned(),
        start_unix_nano: START,
        end_unix_nano: START + 812_500_000,
        status_error: false,
        status_message: String::new(),
        attributes: attrs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
        resource: Arc::new(Vec::new()),
    }
}

fn genai(id: u8) -> SpanRecord {
    span(
        id,
        &[
            ("gen_ai.operation.name", s("chat")),
            ("gen_ai.provider.name", s("openai")),
            ("gen_ai.request.model", s("gpt-4o")),
            ("gen_ai.response.model", s("gpt-4o-2024-08-06")),
            ("gen_ai.usage.input_tokens", AttrValue::Int(1000)),
            ("gen_ai.usage.output_tokens", AttrValue::Int(500)),
        ],
    )
}

fn event_of(span: &SpanRecord) -> Value {
    match map_span(span, &SpanMapping::default()) {
        SpanOutcome::Event(e) => e,
        SpanOutcome::Skipped => panic!("expected an event"),
    }
}

#[test]
fn a_chat_span_maps_to_the_wire_event_json_ingest_takes() {
    let e = event_of(&genai(1));
    let want = json!({
        "traceId": "abababababababababababababababab", "spanId": "0101010101010101",
        "feature": "chat gpt-4o", "provider": "openai", "model": "gpt-4o-2024-08-06",
        "inputTokens": 1000, "outputTokens": 500, "cachedTokens": 0, "cacheWriteTokens": 0,
        "reasoningTokens": 0, "latencyMs": 812.5, "estimatedCostUsd": 0,
        "timestamp": "2026-01-05T10:00:00.000000Z",
        "metadata": {"source": "otlp", "spanName": "chat gpt-4o", "operation": "chat"}
    });
    assert_eq!(e, want);
}

#[test]
fn older_and_vendor_attribute_names_are_read() {
    let mut sp = span(
        2,
        &[
            ("gen_ai.system", s("Anthropic")),
            ("gen_ai.request.model", s("claude-sonnet-4-5")),
            ("gen_ai.usage.prompt_tokens", AttrValue::Int(300)),
            ("gen_ai.usage.completion_tokens", AttrValue::Double(40.0)),
            ("gen_ai.usage.cache_read_input_tokens", AttrValue::Int(100)),
            ("gen_ai.usage.cache_creation_input_tokens", s("50")),
            ("gen_ai.usage.reasoning_tokens", AttrValue::Int(7)),
            ("gen_ai.usage.cost", AttrValue::Double(0.0123)),
            ("enduser.id", s("u-9")),
            ("llm.is_streaming", AttrValue::Bool(true)),
        ],
    );
    sp.parent_span_id = vec![0x0f; 8];
    let e = event_of(&sp);
    assert_eq!(e["provider"], "anthropic");
    assert_eq!(e["model"], "claude-sonnet-4-5");
    assert_eq!(e["inputTokens"], 300);
    assert_eq!(e["outputTokens"], 40, "a whole double is sent as the integer it is");
    assert_eq!(e["cachedTokens"], 100);
    assert_eq!(e["cacheWriteTokens"], 50);
    assert_eq!(e["reasoningTokens"], 7);
    assert_eq!(e["estimatedCostUsd"].to_string(), "0.0123");
    assert_eq!(e["userId"], "u-9");
    assert_eq!(e["isStreaming"], true);
    assert_eq!(e["parentSpanId"], "0f0f0f0f0f0f0f0f");
}

#[test]
fn the_feature_comes_from_the_configured_attribute_then_the_resource_then_the_span_name() {
    let mapping = SpanMapping { feature_attribute: "app.feature".to_owned() };
    let mut sp = genai(3);
    sp.attributes.push(("app.feature".to_owned(), s("summaries")));
    let SpanOutcome::Event(e) = map_span(&sp, &mapping) else { panic!("an event") };
    assert_eq!(e["feature"], "summaries");
    let mut sp = genai(3);
    sp.resource = Arc::new(vec![("app.feature".to_owned(), s("from-resource"))]);
    let SpanOutcome::Event(e) = map_span(&sp, &mapping) else { panic!("an event") };
    assert_eq!(e["feature"], "from-resource");
    let SpanOutcome::Event(e) = map_span(&genai(3), &mapping) else { panic!("an event") };
    assert_eq!(e["feature"], "chat gpt-4o");
}

#[test]
fn an_error_status_makes_an_error_event_with_the_error_type_as_code() {
    let mut sp = genai(4);
    sp.status_error = true;
    sp.status_message = "upstream said no".to_owned();
    assert_eq!(event_of(&sp)["errorCode"], "upstream said no");
    sp.attributes.push(("error.type".to_owned(), s("rate_limit_exceeded")));
    let e = event_of(&sp);
    assert_eq!(e["isError"], true);
    assert_eq!(e["errorCode"], "rate_limit_exceeded");
}

#[test]
fn spans_without_a_model_and_agent_or_tool_spans_are_skipped() {
    assert_eq!(
        map_span(&span(5, &[("http.method", s("GET"))]), &SpanMapping::default()),
        SpanOutcome::Skipped
    );
    let agent = span(
        6,
        &[("gen_ai.operation.name", s("invoke_agent")), ("gen_ai.request.model", s("gpt-4o"))],
    );
    assert_eq!(map_span(&agent, &SpanMapping::default()), SpanOutcome::Skipped);
}

fn service(repo: MockEventRepository) -> IngestService {
    let mut clock = MockClock::new();
    clock
        .expect_now()
        .return_const(Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).single().expect("instant"));
    IngestService::new(
        Arc::new(repo),
        Arc::new(clock),
        Arc::new(crate::pricing::SharedPriceBook::new(crate::pricing::test_book())),
        Limits::default(),
    )
}

fn run(service: &IngestService, spans: &[SpanRecord]) -> Result<SpanReceipt, IngestError> {
    ingest_spans(service, &ProjectId::new("p"), spans, &SpanMapping::default())
        .now_or_never()
        .expect("the mocks never make the service wait")
}

#[test]
fn invalid_genai_spans_are_rejected_one_by_one_and_the_rest_is_stored() {
    let seen: Arc<Mutex<Vec<EventBatch>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let mut repo = MockEventRepository::new();
    repo.expect_insert_batch().times(1).returning(move |batch| {
        let n = batch.events.len();
        sink.lock().expect("not poisoned").push(batch);
        Ok(InsertSummary { inserted: (0..n).collect(), duplicates: 0 })
    });
    let mut unknown = genai(7);
    unknown.attributes[1] = ("gen_ai.provider.name".to_owned(), s("acme.llm"));
    let plain = span(8, &[("http.route", s("/"))]);
    let receipt = run(&service(repo), &[genai(1), unknown, plain, genai(2)]).expect("accepted");
    assert_eq!((receipt.inserted, receipt.skipped, receipt.rejected), (2, 1, 1));
    assert!(
        receipt.error_message.contains("span 0707070707070707: provider"),
        "{}",
        receipt.error_message
    );
    let batches = seen.lock().expect("not poisoned");
    let spans: Vec<&str> = batches[0].events.iter().map(|e| e.event.span_id.as_str()).collect();
    assert_eq!(spans, ["0101010101010101", "0202020202020202"]);
}

#[test]
fn a_request_with_no_genai_span_stores_nothing_and_is_no_error() {
    let mut repo = MockEventRepository::new();
    repo.expect_insert_batch().times(0);
    let receipt = run(&service(repo), &[span(1, &[])]).expect("accepted");
    assert_eq!(receipt, SpanReceipt { skipped: 1, ..SpanReceipt::default() });
}

#[test]
fn a_store_failure_is_returned_as_is() {
    let mut repo = MockEventRepository::new();
    repo.expect_insert_batch()
        .returning(|_| Err(crate::ports::RepoError::Unavailable("down".to_owned())));
    assert!(matches!(run(&service(repo), &[genai(1)]), Err(IngestError::Unavailable(_))));
}
