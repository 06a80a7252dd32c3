//! Budget validation and the service against mockall fakes.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::alerts::{AlertKind, NewAlert};
use crate::analytics::WindowStats;
use crate::clock::MockClock;
use crate::ports::{MockAlertRepository, MockAnalyticsRepository, MockBudgetRepository};
use crate::project::ProjectId;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn a_full_definition_is_read_exactly() {
    let spec = BudgetSpec::from_json(&json!({
        "name": "chat", "amountUsd": 0.1, "period": "week", "timeZone": "Europe/Berlin",
        "scope": {"type": "feature", "value": "chat"}, "thresholds": [100, 25]
    }))
    .unwrap();
    assert_eq!(spec.amount.amount(), dec("0.1"));
    assert_eq!(spec.period, Period::Week);
    assert_eq!(spec.time_zone, Tz::Europe__Berlin);
    assert_eq!(spec.scope, Some(Scope { kind: ScopeKind::Feature, value: "chat".into() }));
    assert_eq!(spec.thresholds, [25, 100]);
}

#[test]
fn defaults_are_utc_all_calls_and_50_80_100() {
    let spec =
        BudgetSpec::from_json(&json!({"name": "all", "amountUsd": "100.50", "period": "month"}))
            .unwrap();
    assert_eq!(spec.time_zone, Tz::UTC);
    assert_eq!(spec.scope, None);
    assert_eq!(spec.thresholds, DEFAULT_THRESHOLDS);
    assert_eq!(spec.amount.amount(), dec("100.50"));
}

#[test]
fn every_invalid_field_is_reported_with_its_path() {
    let issues = BudgetSpec::from_json(&json!({
        "name": "", "amountUsd": -1, "period": "year", "timeZone": "Mars/Base",
        "scope": {"type": "team", "value": ""}, "thresholds": [0, 80.5, 80]
    }))
    .unwrap_err();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "name",
            "amountUsd",
            "period",
            "timeZone",
            "scope.type",
            "scope.value",
            "thresholds.0",
            "thresholds.1"
        ]
    );
    let missing = BudgetSpec::from_json(&json!({})).unwrap_err();
    let paths: Vec<&str> = missing.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, ["name", "amountUsd", "period"]);
    assert_eq!(BudgetSpec::from_json(&json!([1])).unwrap_err()[0].message, "Expected object");
}

#[test]
fn amounts_must_be_positive_decimals_below_the_limit() {
    for (amount, message) in [
        (json!(0), "must be greater than 0"),
        (json!("abc"), "must be a decimal number"),
        (json!("1e11"), "must be less than 10000000000"),
        (json!(true), "Expected number or decimal string"),
    ] {
        let issues =
            BudgetSpec::from_json(&json!({"name": "x", "amountUsd": amount, "period": "day"}))
                .unwrap_err();
        assert_eq!(issues[0].message, message);
    }
    let repeated = BudgetSpec::from_json(
        &json!({"name": "x", "amountUsd": 1, "period": "day", "thresholds": [80, 80]}),
    )
    .unwrap_err();
    assert_eq!(repeated[0].message, "must not repeat a value");
}

#[test]
fn a_scope_filters_exactly_its_dimension() {
    let user = Scope { kind: ScopeKind::User, value: "u1".into() };
    let f = Scope::filter(Some(&user));
    assert_eq!(f.user_id.as_deref(), Some("u1"));
    assert_eq!((f.feature, f.model, f.provider), (None, None, None));
    assert_eq!(Scope::filter(None), crate::analytics::Filter::default());
}

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn budget(amount: &str, thresholds: Vec<u32>) -> Budget {
    Budget {
        id: Uuid::nil(),
        spec: BudgetSpec {
            name: "b".into(),
            scope: Some(Scope { kind: ScopeKind::Model, value: "gpt-4o".into() }),
            period: Period::Day,
            time_zone: Tz::UTC,
            amount: crate::Usd::new(dec(amount)),
            thresholds,
        },
        created_at: at(2026, 1, 1, 0),
        updated_at: at(2026, 1, 1, 0),
    }
}

fn service(
    spend: &str,
    now: DateTime<Utc>,
    b: Budget,
    raised: Arc<Mutex<Vec<NewAlert>>>,
) -> BudgetService {
    let mut budgets = MockBudgetRepository::new();
    budgets.expect_list().returning(move |_| Ok(vec![b.clone()]));
    let mut analytics = MockAnalyticsRepository::new();
    let cost = crate::Usd::new(dec(spend));
    analytics
        .expect_window_stats()
        .withf(move |p, w, f| {
            // The day's window, the budget's scope, the caller's project.
            p.as_str() == "acme"
                && w.from == at(2026, 1, 5, 0)
                && w.to == at(2026, 1, 6, 0) - chrono::Duration::microseconds(1)
                && f.model.as_deref() == Some("gpt-4o")
        })
        .returning(move |_, _, _| Ok(WindowStats { cost, ..WindowStats::default() }));
    let mut alerts = MockAlertRepository::new();
    alerts.expect_raise().returning(move |_, a| {
        let mut seen = raised.lock().unwrap();
        let new = !seen.iter().any(|s| s.dedupe_key == a.dedupe_key);
        seen.push(a.clone());
        Ok(new)
    });
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now);
    BudgetService::new(Arc::new(budgets), Arc::new(analytics), Arc::new(alerts), Arc::new(clock))
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    use futures_util::FutureExt;
    f.now_or_never().expect("the mocks never make the service wait")
}

#[test]
fn thresholds_reached_raise_one_alert_each_and_only_once_per_period() {
    let raised = Arc::new(Mutex::new(Vec::new()));
    // 8.00 of 10.00 at noon: 50 % and 80 % are reached (exactly at 80), 100 % is not.
    let s = service("8", at(2026, 1, 5, 12), budget("10", vec![50, 80, 100]), raised.clone());
    let acme = ProjectId::new("acme");
    let status = run(s.status(&acme)).unwrap();
    assert_eq!(status[0].spend.amount(), dec("8"));
    assert_eq!(status[0].percent, dec("80"));
    assert_eq!(status[0].reached, [50, 80]);
    assert_eq!(status[0].period.start, at(2026, 1, 5, 0));
    // Linear: 8 in 12 h → 16 by the end of the day; the 10 run out at 15:00.
    assert_eq!(status[0].forecast.expected_end.amount(), dec("16"));
    assert_eq!(status[0].forecast.run_out_at, Some(at(2026, 1, 5, 15)));
    // A second read (or a second server) raises nothing new.
    run(s.status(&acme)).unwrap();
    let seen = raised.lock().unwrap();
    let keys: Vec<&str> = seen.iter().map(|a| a.dedupe_key.as_str()).collect();
    let start = at(2026, 1, 5, 0).timestamp();
    let k50 = format!("budget:{}:{start}:50", Uuid::nil());
    let k80 = format!("budget:{}:{start}:80", Uuid::nil());
    // The forecast (16 of 10) also says the amount will be exceeded: its own alert.
    let kf = format!("budget:{}:{start}:forecast", Uuid::nil());
    let once = [k50.as_str(), k80.as_str(), kf.as_str()];
    assert_eq!(keys, [once, once].concat());
    assert_eq!(seen[0].payload["spendUsd"], "8");
    assert_eq!(seen[0].payload["thresholdPct"], 50);
}

#[test]
fn a_forecast_above_the_amount_alerts_once_per_period_and_only_before_the_amount_is_reached() {
    let acme = ProjectId::new("acme");
    // 8 by noon: 16 expected by midnight, above 10.
    let raised = Arc::new(Mutex::new(Vec::new()));
    let s = service("8", at(2026, 1, 5, 12), budget("10", vec![]), raised.clone());
    run(s.status(&acme)).unwrap();
    run(s.status(&acme)).unwrap();
    {
        let seen = raised.lock().unwrap();
        assert!(seen.iter().all(|a| a.kind == AlertKind::BudgetForecast), "{seen:?}");
        assert_eq!(seen.len(), 2, "asked twice");
        assert_eq!(seen[0].dedupe_key, seen[1].dedupe_key, "one key per budget and period");
        assert_eq!(seen[0].payload["expectedSpendUsd"], "16");
        assert_eq!(seen[0].payload["runOutAt"], "2026-01-05T15:00:00.000Z");
        assert_eq!(seen[0].payload["forecastMethod"], "linear");
    }
    // 2 by noon: 4 expected, below 10: nothing.
    let raised = Arc::new(Mutex::new(Vec::new()));
    let s = service("2", at(2026, 1, 5, 12), budget("10", vec![]), raised.clone());
    run(s.status(&acme)).unwrap();
    assert!(raised.lock().unwrap().is_empty());
    // Already above the amount: the forecast has nothing left to warn about.
    let raised = Arc::new(Mutex::new(Vec::new()));
    let s = service("12", at(2026, 1, 5, 12), budget("10", vec![]), raised.clone());
    run(s.status(&acme)).unwrap();
    assert!(raised.lock().unwrap().is_empty());
}

#[test]
fn a_spend_just_below_a_threshold_does_not_reach_it() {
    let raised = Arc::new(Mutex::new(Vec::new()));
    let s = service("7.999999999999", at(2026, 1, 5, 12), budget("10", vec![80]), raised.clone());
    let status = run(s.status(&ProjectId::new("acme"))).unwrap();
    assert!(status[0].reached.is_empty());
    // (Its forecast, about 16 of 10, raises the forecast alert; no threshold is reached.)
    assert!(raised.lock().unwrap().iter().all(|a| a.kind != AlertKind::BudgetThreshold));
}

#[test]
fn an_exhausted_budget_has_no_run_out_time_ahead() {
    let raised = Arc::new(Mutex::new(Vec::new()));
    let s = service("12", at(2026, 1, 5, 6), budget("10", vec![100]), raised);
    let status = run(s.status(&ProjectId::new("acme"))).unwrap();
    assert_eq!(status[0].percent, dec("120"));
    assert_eq!(status[0].forecast.run_out_at, None);
    assert_eq!(status[0].forecast.expected_end.amount(), dec("48"));
}

#[test]
fn invalid_definitions_change_nothing() {
    let budgets = MockBudgetRepository::new(); // no create expected: calling it would panic
    let s = BudgetService::new(
        Arc::new(budgets),
        Arc::new(MockAnalyticsRepository::new()),
        Arc::new(MockAlertRepository::new()),
        Arc::new(MockClock::new()),
    );
    let err = run(s.create(&ProjectId::new("acme"), &json!({"name": "x"}))).unwrap_err();
    assert!(matches!(err, BudgetError::Invalid(ref issues) if issues.len() == 2));
}

#[test]
fn a_store_failure_reaches_the_caller_and_raises_nothing() {
    let mut budgets = MockBudgetRepository::new();
    budgets.expect_list().returning(|_| Ok(vec![budget("10", vec![50])]));
    let mut analytics = MockAnalyticsRepository::new();
    analytics
        .expect_window_stats()
        .returning(|_, _, _| Err(crate::RepoError::Unavailable("down".into())));
    let mut clock = MockClock::new();
    clock.expect_now().return_const(at(2026, 1, 5, 12));
    // No raise expected: the alert mock panics if called.
    let s = BudgetService::new(
        Arc::new(budgets),
        Arc::new(analytics),
        Arc::new(MockAlertRepository::new()),
        Arc::new(clock),
    );
    let err = run(s.status(&ProjectId::new("acme"))).unwrap_err();
    assert!(matches!(err, crate::RepoError::Unavailable(_)));
}

mod seasonal {
    use super::*;
    use crate::ports::{MockSeriesForecaster, SeriesForecast};

    fn day() -> PeriodBounds {
        PeriodBounds::containing(Period::Day, Tz::UTC, at(2026, 1, 5, 12))
    }

    fn now() -> DateTime<Utc> {
        at(2026, 1, 5, 12) + chrono::Duration::minutes(30)
    }

    fn usd(s: &str) -> crate::Usd {
        crate::Usd::new(dec(s))
    }

    #[test]
    fn too_little_history_falls_back_without_asking_the_model() {
        let model = MockSeriesForecaster::new(); // panics if called
        let history = vec![usd("1"); DAILY_HISTORY_HOURS - 1];
        assert_eq!(seasonal_forecast(&model, day(), now(), usd("2"), usd("10"), &history), None);
    }

    #[test]
    fn the_rest_of_the_period_is_summed_from_the_hourly_forecast_with_its_interval() {
        let mut model = MockSeriesForecaster::new();
        model
            .expect_forecast()
            // Three days: a daily cycle only; 12:00 through 24:00 is 13 steps.
            .withf(|h, periods, horizon, level| {
                h.len() == 72 && periods == [24] && *horizon == 13 && *level == INTERVAL_LEVEL
            })
            .returning(|_, _, horizon, _| {
                Ok(SeriesForecast {
                    point: vec![1.0; horizon],
                    lower: vec![0.5; horizon],
                    upper: vec![2.0; horizon],
                })
            });
        let history = vec![usd("1"); 72];
        let f = seasonal_forecast(&model, day(), now(), usd("2"), usd("10"), &history).unwrap();
        assert_eq!(f.method, ForecastMethod::Seasonal);
        // 2 spent + half of the current hour + 11 full hours at 1.0 per hour.
        assert_eq!(f.expected_end.amount(), dec("13.5"));
        assert_eq!(f.interval, Some((usd("7.75"), usd("25"))));
        // 2.5 after 13:00, +1 per hour: 10 is reached half-way through 20:00–21:00.
        assert_eq!(f.run_out_at, Some(at(2026, 1, 5, 20) + chrono::Duration::minutes(30)));
    }

    #[test]
    fn two_weeks_of_history_add_the_weekly_cycle_and_a_failing_model_falls_back() {
        let mut model = MockSeriesForecaster::new();
        model
            .expect_forecast()
            .withf(|_, periods, _, _| periods == [24, 168])
            .returning(|_, _, _, _| Err("no fit".into()));
        let history = vec![usd("1"); WEEKLY_HISTORY_HOURS];
        assert_eq!(seasonal_forecast(&model, day(), now(), usd("2"), usd("10"), &history), None);
    }
}
