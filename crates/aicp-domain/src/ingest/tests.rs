//! Tests of [`IngestService`] with mock ports: what reaches the repository, what the receipt
//! says, and how repository failures surface.

use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use futures_util::FutureExt;
use rust_decimal::Decimal;

use super::*;
use crate::clock::MockClock;
use crate::event::Provider;
use crate::money::Usd;
use crate::ports::{InsertSummary, MockEventRepository};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).single().expect("a valid instant")
}

fn clock_at(at: DateTime<Utc>) -> Arc<dyn Clock> {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(at);
    Arc::new(clock)
}

fn service(repo: MockEventRepository) -> IngestService {
    IngestService::new(
        Arc::new(repo),
        clock_at(now()),
        Arc::new(crate::pricing::SharedPriceBook::new(crate::pricing::test_book())),
        Limits::default(),
    )
}

fn parse(text: &str) -> Value {
    serde_json::from_str::<Value>(text).expect("valid JSON")
}

fn decimal(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal")
}

/// Runs the service. The mocks answer synchronously, so the future is ready at its first poll.
fn ingest(
    service: &IngestService,
    project: &str,
    body: &Value,
) -> Result<IngestReceipt, IngestError> {
    service
        .ingest(ProjectId::new(project), body)
        .now_or_never()
        .expect("the mocks never make the service wait")
}

const TWO_EVENTS: &str = r#"{"events":[
    {"traceId":"tr_1","spanId":"sp_1","feature":"chat","userId":"u1","provider":"openai",
     "model":"gpt-4o","inputTokens":1000,"outputTokens":500,"latencyMs":250.6,
     "estimatedCostUsd":0.0075,"timestamp":"2026-01-05T10:00:00.000Z"},
    {"traceId":"tr_1","spanId":"sp_2","parentSpanId":"sp_1","feature":"chat","provider":"anthropic",
     "model":"claude-3-5-sonnet-20241022","inputTokens":1000,"outputTokens":500,"cachedTokens":200,
     "latencyMs":2.5,"estimatedCostUsd":0,"timestamp":"2026-01-05T10:00:01.000Z","isError":true,
     "errorCode":"server_error","metadata":{"k":"v"}}
]}"#;

/// A repository that records the batch it is given and answers `summary`.
fn recording_repo(summary: InsertSummary) -> (MockEventRepository, Arc<Mutex<Vec<EventBatch>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut repo = MockEventRepository::new();
    let sink = Arc::clone(&seen);
    repo.expect_insert_batch().times(1).returning(move |batch| {
        sink.lock().expect("not poisoned").push(batch);
        Ok(summary.clone())
    });
    (repo, seen)
}

#[test]
fn a_valid_batch_is_priced_and_stored_for_the_given_project() {
    let (repo, seen) = recording_repo(InsertSummary { inserted: vec![0, 1], duplicates: 0 });
    let receipt = ingest(&service(repo), "acme", &parse(TWO_EVENTS)).expect("accepted");
    assert_eq!(receipt, IngestReceipt { received: 2, inserted: 2, duplicates: 0 });

    let batches = seen.lock().expect("not poisoned");
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    assert_eq!(batch.project, ProjectId::new("acme"));
    assert_eq!(batch.events.len(), 2);

    // gpt-4o, 1000 in / 500 out: 1000 × 2.50 / 1M + 500 × 10.00 / 1M = 0.0075.
    let first = &batch.events[0];
    assert_eq!(first.priced.cost.total.amount(), decimal("0.0075"));
    assert_eq!(first.priced.cost.input.amount(), decimal("0.0025"));
    assert_eq!(first.priced.cost.output.amount(), decimal("0.005"));
    assert_eq!(first.priced.cost.cache_read, Usd::ZERO);
    assert_eq!(first.priced.priced_as.as_deref(), Some("gpt-4o"));
    assert_eq!(first.event.span_id, "sp_1");
    assert_eq!(first.event.user_id.as_deref(), Some("u1"));
    assert_eq!(first.event.latency_ms, 251);
    assert_eq!(first.event.estimated_cost.amount(), decimal("0.0075"));

    // claude-3-5-sonnet, 800 regular + 200 cached in, 500 out: the original's 0.00996.
    let second = &batch.events[1];
    assert_eq!(second.event.span_id, "sp_2");
    assert_eq!(second.event.provider, Provider::Anthropic);
    assert_eq!(second.event.parent_span_id.as_deref(), Some("sp_1"));
    assert_eq!(second.event.latency_ms, 3);
    assert!(second.event.is_error);
    assert_eq!(second.priced.cost.total.amount(), decimal("0.00996"));
    assert_eq!(second.priced.cost.cache_read.amount(), decimal("0.00006"));
}

#[test]
fn the_project_is_passed_through_unchanged() {
    for project in ["default", "Acme Corp", "proj_01J9Z", ""] {
        let (repo, seen) = recording_repo(InsertSummary { inserted: vec![0, 1], duplicates: 0 });
        ingest(&service(repo), project, &parse(TWO_EVENTS)).expect("accepted");
        let batches = seen.lock().expect("not poisoned");
        assert_eq!(batches[0].project.as_str(), project);
    }
}

#[test]
fn a_body_field_cannot_choose_the_project() {
    let body = parse(
        r#"{"projectId":"evil","events":[{"projectId":"evil","traceId":"t","spanId":"s",
        "feature":"f","provider":"openai","model":"gpt-4o","inputTokens":1,"outputTokens":1,
        "latencyMs":1,"estimatedCostUsd":0,"timestamp":"2026-01-05T10:00:00Z"}]}"#,
    );
    let (repo, seen) = recording_repo(InsertSummary { inserted: vec![0], duplicates: 0 });
    ingest(&service(repo), "acme", &body).expect("accepted");
    assert_eq!(seen.lock().expect("not poisoned")[0].project, ProjectId::new("acme"));
}

#[test]
fn an_unknown_model_is_priced_with_the_fallback_and_marked() {
    let body = parse(
        r#"{"events":[{"traceId":"t","spanId":"s","feature":"f","provider":"openai",
        "model":"mystery-model","inputTokens":1000,"outputTokens":500,"latencyMs":1,
        "estimatedCostUsd":0,"timestamp":"2026-01-05T10:00:00Z","isError":true}]}"#,
    );
    let (repo, seen) = recording_repo(InsertSummary { inserted: vec![0], duplicates: 0 });
    ingest(&service(repo), "acme", &body).expect("accepted");
    let batches = seen.lock().expect("not poisoned");
    let priced = &batches[0].events[0].priced;
    assert_eq!(priced.cost.total.amount(), decimal("0.025"));
    assert_eq!(priced.priced_as, None);
}

#[test]
fn the_receipt_reports_inserted_and_duplicates_from_the_repository_summary() {
    let (repo, _) = recording_repo(InsertSummary { inserted: vec![1], duplicates: 1 });
    let receipt = ingest(&service(repo), "acme", &parse(TWO_EVENTS)).expect("accepted");
    assert_eq!(receipt, IngestReceipt { received: 2, inserted: 1, duplicates: 1 });

    let (repo, _) = recording_repo(InsertSummary { inserted: vec![], duplicates: 2 });
    let receipt = ingest(&service(repo), "acme", &parse(TWO_EVENTS)).expect("a retried batch");
    assert_eq!(receipt, IngestReceipt { received: 2, inserted: 0, duplicates: 2 });
}

#[test]
fn an_invalid_batch_never_reaches_the_repository() {
    let mut repo = MockEventRepository::new();
    repo.expect_insert_batch().times(0);
    let service = service(repo);

    let body = parse(&TWO_EVENTS.replace("\"openai\"", "\"bogus\""));
    match ingest(&service, "acme", &body) {
        Err(IngestError::Invalid(issues)) => {
            assert_eq!(issues.len(), 1);
            assert_eq!(issues[0].path, "events.0.provider");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    match ingest(&service, "acme", &parse("{}")) {
        Err(IngestError::Invalid(issues)) => {
            assert_eq!(
                issues,
                [Issue { path: "events".to_owned(), message: "Required".to_owned() }]
            );
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn a_batch_with_one_bad_event_among_good_ones_stores_nothing() {
    let mut repo = MockEventRepository::new();
    repo.expect_insert_batch().times(0);
    let body = parse(&TWO_EVENTS.replace("\"cachedTokens\":200", "\"cachedTokens\":-1"));
    match ingest(&service(repo), "acme", &body) {
        Err(IngestError::Invalid(issues)) => {
            assert_eq!(issues.len(), 1);
            assert_eq!(issues[0].path, "events.1.cachedTokens");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn the_clock_decides_what_is_too_far_in_the_future() {
    // TWO_EVENTS happened on 2026-01-05; a clock two days earlier sees them 48 h ahead.
    let mut repo = MockEventRepository::new();
    repo.expect_insert_batch().times(0);
    let early = IngestService::new(
        Arc::new(repo),
        clock_at(Utc.with_ymd_and_hms(2026, 1, 3, 10, 0, 0).single().expect("t")),
        Arc::new(crate::pricing::SharedPriceBook::new(crate::pricing::test_book())),
        Limits::default(),
    );
    match ingest(&early, "acme", &parse(TWO_EVENTS)) {
        Err(IngestError::Invalid(issues)) => {
            let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
            assert_eq!(paths, ["events.0.timestamp", "events.1.timestamp"]);
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn failing_repo(error: fn() -> RepoError) -> MockEventRepository {
    let mut repo = MockEventRepository::new();
    repo.expect_insert_batch().times(1).returning(move |_| Err(error()));
    repo
}

#[test]
fn an_unavailable_repository_maps_to_unavailable() {
    let repo = failing_repo(|| RepoError::Unavailable("connection refused".to_owned()));
    match ingest(&service(repo), "acme", &parse(TWO_EVENTS)) {
        Err(IngestError::Unavailable(why)) => assert_eq!(why, "connection refused"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn an_overloaded_repository_maps_to_overloaded() {
    let repo = failing_repo(|| RepoError::Overloaded);
    match ingest(&service(repo), "acme", &parse(TWO_EVENTS)) {
        Err(IngestError::Overloaded) => {}
        other => panic!("expected Overloaded, got {other:?}"),
    }
}

#[test]
fn an_unexpected_repository_error_maps_to_unexpected_with_its_message() {
    let repo = failing_repo(|| RepoError::Unexpected(anyhow::anyhow!("disk on fire")));
    match ingest(&service(repo), "acme", &parse(TWO_EVENTS)) {
        Err(IngestError::Unexpected(e)) => assert_eq!(e.to_string(), "disk on fire"),
        other => panic!("expected Unexpected, got {other:?}"),
    }
}

#[test]
fn ingest_errors_have_short_messages() {
    assert_eq!(IngestError::Invalid(Vec::new()).to_string(), "validation failed");
    assert_eq!(IngestError::Overloaded.to_string(), "overloaded");
    assert_eq!(
        IngestError::from(RepoError::Unavailable("timeout".to_owned())).to_string(),
        "storage unavailable: timeout"
    );
}

#[test]
fn only_the_rows_actually_inserted_are_announced_to_the_live_stream() {
    use crate::live::MockCostPublisher;

    let mut repo = MockEventRepository::new();
    // The second event was already stored: only the first is new.
    repo.expect_insert_batch()
        .returning(|_| Ok(InsertSummary { inserted: vec![0], duplicates: 1 }));
    let mut publisher = MockCostPublisher::new();
    publisher
        .expect_publish()
        .times(1)
        .withf(|u| {
            u.project == "acme"
                && u.requests_delta == 1
                && u.tokens_delta == 1500
                && u.cost_delta.amount() == decimal("0.0075")
                && u.features == ["chat"]
        })
        .returning(|_| ());
    let svc = service(repo).with_publisher(Arc::new(publisher));
    ingest(&svc, "acme", &parse(TWO_EVENTS)).expect("accepted");

    let mut repo = MockEventRepository::new();
    repo.expect_insert_batch().returning(|_| Ok(InsertSummary { inserted: vec![], duplicates: 2 }));
    let mut silent = MockCostPublisher::new();
    silent.expect_publish().times(0);
    let svc = service(repo).with_publisher(Arc::new(silent));
    ingest(&svc, "acme", &parse(TWO_EVENTS)).expect("accepted");
}

#[test]
fn the_sink_gets_each_new_distinct_prompt_once_and_nothing_for_duplicates() {
    use crate::embedding::MockPromptSink;
    use crate::similarity::{MockPromptAnalyzer, PromptFingerprint};

    let mut analyzer = MockPromptAnalyzer::new();
    analyzer.expect_fingerprint().returning(|text| PromptFingerprint {
        hash: format!("h:{}", text.to_lowercase()),
        template_hash: String::new(),
        signature: vec![],
        scheme: 1,
        normalized_chars: text.len(),
    });
    analyzer.expect_band_keys().returning(|_| vec![]);
    let analyzer: Arc<dyn crate::similarity::PromptAnalyzer> = Arc::new(analyzer);
    let body = parse(
        r#"{"events":[
        {"traceId":"t","spanId":"a","feature":"f","provider":"openai","model":"gpt-4o",
         "inputTokens":1,"outputTokens":1,"latencyMs":1,
         "estimatedCostUsd":0,"timestamp":"2026-01-05T10:00:00.000Z","prompt":"Hello"},
        {"traceId":"t","spanId":"b","feature":"f","provider":"openai","model":"gpt-4o",
         "inputTokens":1,"outputTokens":1,"latencyMs":1,
         "estimatedCostUsd":0,"timestamp":"2026-01-05T10:00:00.000Z","prompt":"hello"},
        {"traceId":"t","spanId":"c","feature":"f","provider":"openai","model":"gpt-4o",
         "inputTokens":1,"outputTokens":1,"latencyMs":1,
         "estimatedCostUsd":0,"timestamp":"2026-01-05T10:00:00.000Z"},
        {"traceId":"t","spanId":"d","feature":"f","provider":"openai","model":"gpt-4o",
         "inputTokens":1,"outputTokens":1,"latencyMs":1,
         "estimatedCostUsd":0,"timestamp":"2026-01-05T10:00:00.000Z","prompt":"Other"}
    ]}"#,
    );

    // "Hello" and "hello" share a hash: one offer; "Other" was a duplicate event: not offered.
    let mut repo = MockEventRepository::new();
    repo.expect_insert_batch()
        .returning(|_| Ok(InsertSummary { inserted: vec![0, 1, 2], duplicates: 1 }));
    let mut sink = MockPromptSink::new();
    sink.expect_offer()
        .times(1)
        .withf(|project, prompts| {
            project.as_str() == "acme"
                && *prompts == [PendingPrompt { hash: "h:hello".into(), text: "Hello".into() }]
        })
        .returning(|_, _| ());
    let svc = service(repo)
        .with_prompts(Arc::clone(&analyzer), PromptStorage::Fingerprint)
        .with_prompt_sink(Arc::new(sink));
    ingest(&svc, "acme", &body).expect("accepted");

    // A retried batch stores nothing new: nothing is offered.
    let mut repo = MockEventRepository::new();
    repo.expect_insert_batch().returning(|_| Ok(InsertSummary { inserted: vec![], duplicates: 4 }));
    let mut silent = MockPromptSink::new();
    silent.expect_offer().times(0);
    let svc = service(repo)
        .with_prompts(analyzer, PromptStorage::Fingerprint)
        .with_prompt_sink(Arc::new(silent));
    ingest(&svc, "acme", &body).expect("accepted");
}
