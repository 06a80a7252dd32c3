//! Tests of [`AnalyticsService`] against a mock store: caps, previous windows, bucket limits,
//! filling, paging and narrowing reach the store and the answer as intended.

use std::str::FromStr;

use chrono::TimeZone;
use futures_util::FutureExt;
use rust_decimal::Decimal;

use super::*;
use crate::ports::MockAnalyticsRepository;

fn at(d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, d, h, 0, 0).single().expect("a valid instant")
}

fn window() -> TimeWindow {
    TimeWindow { from: at(5, 0), to: at(6, 0) }
}

fn usd(text: &str) -> Usd {
    Usd::new(Decimal::from_str(text).expect("a decimal"))
}

fn row(dimension: &str, cost: &str) -> BreakdownRow {
    BreakdownRow {
        dimension: dimension.into(),
        cost: usd(cost),
        tokens: 10,
        requests: 2,
        latency_sum: 100,
        latency_min: Some(10),
        latency_max: Some(90),
        input_tokens: 6,
        output_tokens: 4,
    }
}

fn service(repo: MockAnalyticsRepository) -> AnalyticsService {
    AnalyticsService::new(Arc::new(repo))
}

/// The mocks answer at once, so every future is ready at its first poll.
fn now<F: std::future::Future>(f: F) -> F::Output {
    f.now_or_never().expect("the mocks never make the service wait")
}

#[test]
fn breakdown_asks_one_row_more_than_it_shows_and_says_when_it_cut() {
    let mut repo = MockAnalyticsRepository::new();
    repo.expect_breakdown().withf(|_, _, _, _, limit| *limit == BREAKDOWN_MAX + 1).returning(
        |_, _, _, _, limit| Ok((0..limit).map(|i| row(&format!("f{i}"), "1")).collect()),
    );
    let s = service(repo);
    let p = ProjectId::new("p");
    let got = now(s.breakdown(&p, &window(), GroupBy::Feature, &Filter::default(), BREAKDOWN_MAX));
    let got = got.expect("answered");
    assert!(got.truncated);
    assert_eq!(got.value.len(), BREAKDOWN_MAX);
}

#[test]
fn breakdown_stats_reads_each_group_with_the_filter_narrowed_to_it() {
    let mut repo = MockAnalyticsRepository::new();
    repo.expect_breakdown()
        .returning(|_, _, _, _, _| Ok(vec![row("chat", "3"), row("search", "1")]));
    repo.expect_window_stats()
        .withf(|_, _, f| f.model.as_deref() == Some("gpt-4o") && f.feature.is_some())
        .times(2)
        .returning(|_, _, f| {
            let calls = if f.feature.as_deref() == Some("chat") { 7 } else { 1 };
            Ok(WindowStats { calls, ..WindowStats::default() })
        });
    let s = service(repo);
    let filter = Filter { model: Some("gpt-4o".into()), ..Filter::default() };
    let got = now(s.breakdown_stats(&ProjectId::new("p"), &window(), GroupBy::Feature, &filter, 5))
        .expect("answered");
    assert!(!got.truncated);
    let calls: Vec<(String, u64)> =
        got.value.iter().map(|d| (d.row.dimension.clone(), d.stats.calls)).collect();
    assert_eq!(calls, vec![("chat".into(), 7), ("search".into(), 1)]);
}

#[test]
fn timeseries_refuses_too_many_buckets_without_asking_the_store() {
    let repo = MockAnalyticsRepository::new();
    let s = service(repo);
    let w = TimeWindow { from: at(1, 0), to: at(1, 0) + Duration::days(400) };
    let err = now(s.timeseries(
        &ProjectId::new("p"),
        &w,
        Granularity::Hour,
        chrono_tz::UTC,
        &Filter::default(),
        false,
    ))
    .expect_err("refused");
    assert!(matches!(err, AnalyticsError::TooManyBuckets { max: SERIES_MAX, unit: "hour" }));
}

#[test]
fn timeseries_fill_adds_every_empty_bucket_as_zero() {
    let mut repo = MockAnalyticsRepository::new();
    repo.expect_timeseries().returning(|_, _, _, _, _| {
        Ok(vec![CostPoint { bucket: at(5, 3), cost: usd("0.5"), requests: 4 }])
    });
    let s = service(repo);
    let w = TimeWindow { from: at(5, 0), to: at(5, 5) };
    let p = ProjectId::new("p");
    let got =
        now(s.timeseries(&p, &w, Granularity::Hour, chrono_tz::UTC, &Filter::default(), true))
            .expect("answered");
    assert_eq!(got.len(), 6);
    assert_eq!(got[3], CostPoint { bucket: at(5, 3), cost: usd("0.5"), requests: 4 });
    assert!(got.iter().enumerate().all(|(i, p)| i == 3 || p.cost == Usd::ZERO && p.requests == 0));
}

#[test]
fn summary_compares_with_the_window_of_the_same_length_just_before() {
    let mut repo = MockAnalyticsRepository::new();
    let w = window();
    repo.expect_window_stats().returning(move |_, asked, _| {
        let calls = if *asked == w { 4 } else { 2 };
        Ok(WindowStats {
            calls,
            cost: usd(if calls == 4 { "2" } else { "1" }),
            ..Default::default()
        })
    });
    let s = service(repo);
    let got = now(s.summary(&ProjectId::new("p"), &w, &Filter::default())).expect("answered");
    assert_eq!(got.previous.to, w.from - Duration::microseconds(1));
    assert_eq!(got.previous.to - got.previous.from, w.to - w.from);
    assert_eq!(got.summary.current.requests, 4);
    assert_eq!(got.summary.previous.requests, 2);
    assert_eq!(got.summary.change.total_cost, Some(1.0));
}

#[test]
fn a_missing_trace_is_none_and_a_store_failure_is_an_error() {
    let mut repo = MockAnalyticsRepository::new();
    repo.expect_trace_spans().withf(|_, t| t == "absent").returning(|_, _| Ok(Vec::new()));
    repo.expect_trace_spans()
        .withf(|_, t| t == "down")
        .returning(|_, _| Err(RepoError::Unavailable("connection refused".into())));
    let s = service(repo);
    let p = ProjectId::new("p");
    assert_eq!(now(s.trace(&p, "absent")).expect("answered"), None);
    assert!(matches!(now(s.trace(&p, "down")), Err(RepoError::Unavailable(_))));
}

#[test]
fn narrowed_sets_exactly_the_grouped_dimension() {
    let base = Filter { is_error: Some(true), ..Filter::default() };
    let f = narrowed(&base, GroupBy::User, "u1");
    assert_eq!(f, Filter { user_id: Some("u1".into()), is_error: Some(true), ..Filter::default() });
    assert_eq!(narrowed(&base, GroupBy::Provider, "openai").provider.as_deref(), Some("openai"));
}

#[test]
fn stacked_series_splits_each_bucket_exactly_into_leaders_and_other() {
    let mut repo = MockAnalyticsRepository::new();
    repo.expect_breakdown()
        .withf(|_, _, by, _, top| *by == GroupBy::Model && *top == 1)
        .returning(|_, _, _, _, _| Ok(vec![row("gpt-4o", "0.7")]));
    repo.expect_timeseries().returning(|_, _, _, _, f| {
        Ok(if f.model.is_some() {
            vec![CostPoint { bucket: at(5, 1), cost: usd("0.7"), requests: 1 }]
        } else {
            vec![
                CostPoint { bucket: at(5, 0), cost: usd("0.1"), requests: 1 },
                CostPoint { bucket: at(5, 1), cost: usd("0.9"), requests: 3 },
            ]
        })
    });
    let s = service(repo);
    let w = TimeWindow { from: at(5, 0), to: at(5, 1) };
    let got = now(s.stacked_series(
        &ProjectId::new("p"),
        &w,
        Granularity::Hour,
        chrono_tz::UTC,
        &Filter::default(),
        GroupBy::Model,
        1,
    ))
    .expect("answered");
    assert_eq!(got.buckets, vec![at(5, 0), at(5, 1)]);
    assert_eq!(got.series[0], ("gpt-4o".to_owned(), vec![Usd::ZERO, usd("0.7")]));
    assert_eq!(got.series[1], (OTHER.to_owned(), vec![usd("0.1"), usd("0.2")]));
    assert_eq!(got.totals, vec![usd("0.1"), usd("0.9")]);
}

#[test]
fn granularity_follows_the_window_length() {
    let w = |days| TimeWindow { from: at(1, 0), to: at(1, 0) + Duration::days(days) };
    assert_eq!(granularity_for(&w(1)), Granularity::Hour);
    assert_eq!(granularity_for(&w(30)), Granularity::Day);
    assert_eq!(granularity_for(&w(365)), Granularity::Week);
}
