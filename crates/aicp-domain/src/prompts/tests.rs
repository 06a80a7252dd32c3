//! Tests of [`PromptService`] against mock ports: which report is answered, how groups, repeats,
//! savings and near-duplicates are computed, and how `/similar` uses its cache and the store.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use futures_util::FutureExt;
use rust_decimal::Decimal;

use super::similar::SimilarQuery;
use super::*;
use crate::analytics::BloatRow;
use crate::ports::{
    EventPrompt, FeatureMedian, MockAnalyticsRepository, MockJsonCache, MockPromptRepository,
    PromptModelRow, StoredPrompt,
};
use crate::project::ProjectId;
use crate::similarity::MockPromptAnalyzer;
use crate::window::TimeWindow;

fn usd(text: &str) -> Usd {
    Usd::new(Decimal::from_str(text).expect("a decimal"))
}

fn window() -> TimeWindow {
    let at = |d| Utc.with_ymd_and_hms(2026, 1, d, 0, 0, 0).single().expect("an instant");
    TimeWindow { from: at(5), to: at(6) }
}

fn row(hash: &str, model: &str, calls: u64, cost: &str) -> PromptModelRow {
    PromptModelRow {
        prompt_hash: hash.into(),
        template_hash: format!("t-{hash}"),
        content: Some(format!("text of {hash}")),
        model: model.into(),
        feature: "chat".into(),
        calls,
        cost: usd(cost),
        tokens: 150 * calls,
        uncached_input_tokens: 100 * calls,
        input_tokens: 100 * calls,
        latest_id: uuid::Uuid::nil(),
        latest_at: window().from,
        signature: vec![1, 2, 3],
        bands: vec![7],
        scheme: Some(1),
    }
}

/// An analyzer whose similarity is the share of equal signature components.
fn analyzer() -> MockPromptAnalyzer {
    let mut a = MockPromptAnalyzer::new();
    a.expect_scheme().return_const(1_u32);
    a.expect_similarity().returning(|x, y| {
        let same = x.signature.iter().zip(&y.signature).filter(|(p, q)| p == q).count();
        same as f64 / x.signature.len().max(1) as f64
    });
    a
}

fn service(
    prompts: Option<MockPromptRepository>,
    analytics: MockAnalyticsRepository,
    cache: MockJsonCache,
) -> PromptService {
    let fingerprints = prompts.map(|repo| Fingerprints {
        repo: Arc::new(repo),
        analyzer: Arc::new(analyzer()),
        cache: Arc::new(cache),
        semantic: None,
    });
    PromptService::new(
        Arc::new(analytics),
        Arc::new(crate::pricing::SharedPriceBook::new(crate::pricing::test_book())),
        fingerprints,
    )
}

fn now<F: std::future::Future>(f: F) -> F::Output {
    f.now_or_never().expect("the mocks never make the service wait")
}

#[test]
fn without_fingerprinted_prompts_the_report_is_the_original_bloat_report() {
    let mut prompts = MockPromptRepository::new();
    prompts.expect_prompt_models().returning(|_, _, _| Ok(Vec::new()));
    let mut analytics = MockAnalyticsRepository::new();
    analytics.expect_prompt_bloat().withf(|_, _, limit| *limit == REPORT_GROUPS).returning(
        |_, _, _| {
            Ok(vec![BloatRow {
                prompt_hash: "m".into(),
                content: "c".into(),
                occurrences: 3,
                total_cost: usd("1"),
                avg_tokens: 10.0,
            }])
        },
    );
    let s = service(Some(prompts), analytics, MockJsonCache::new());
    let p = ProjectId::new("p");
    let got = now(s.report(&p, &window(), REPORT_GROUPS, NearDuplicates::Include));
    assert!(matches!(got, Ok(PromptReport::Bloat(rows)) if rows.len() == 1));
}

#[test]
fn groups_add_up_their_models_and_find_near_duplicates_above_the_threshold() {
    let mut prompts = MockPromptRepository::new();
    prompts.expect_prompt_models().returning(|_, _, _| {
        Ok(vec![
            row("a", "gpt-4o", 3, "0.3"),
            row("a", "gpt-4o-mini", 1, "0.1"),
            row("b", "x", 1, "2"),
        ])
    });
    prompts.expect_feature_medians().returning(|_, _, _| {
        Ok(vec![FeatureMedian { feature: "chat".into(), input_tokens: 100.0 }])
    });
    prompts.expect_candidates().returning(|_, _, exclude, _| {
        // "near" agrees with both on 3 of 3 components, "far" on none.
        let near = StoredPrompt {
            prompt_hash: "near".into(),
            signature: vec![1, 2, 3],
            bands: vec![],
            scheme: Some(1),
        };
        let far = StoredPrompt {
            prompt_hash: "far".into(),
            signature: vec![9, 9, 9],
            bands: vec![],
            scheme: Some(1),
        };
        Ok([near, far].into_iter().filter(|c| c.prompt_hash != exclude).collect())
    });
    prompts
        .expect_prompts_by_hash()
        .withf(|_, hashes, w| hashes == ["near".to_owned()] && w.is_some())
        .returning(|_, _, _| Ok(vec![row("near", "gpt-4o", 2, "0.5")]));
    let s = service(Some(prompts), MockAnalyticsRepository::new(), MockJsonCache::new());
    let p = ProjectId::new("p");
    let got = now(s.report(&p, &window(), REPORT_GROUPS, NearDuplicates::Include));
    let Ok(PromptReport::Groups(groups)) = got else { panic!("groups expected: {got:?}") };
    // Most expensive first: b (2 USD) then a (0.4 USD over two models).
    assert_eq!(groups.iter().map(|g| g.prompt_hash.as_str()).collect::<Vec<_>>(), ["b", "a"]);
    let a = &groups[1];
    assert_eq!((a.occurrences, a.total_cost), (4, usd("0.4")));
    assert_eq!(a.repeated_spend, usd("0.3"));
    assert_eq!(a.response_cache_saving, a.repeated_spend);
    assert_eq!(a.bloat.avg_input_tokens, 100.0);
    assert!(!a.bloat.bloated);
    assert_eq!(a.similar.len(), 1);
    assert_eq!((a.similar[0].prompt_hash.as_str(), a.similar[0].similarity), ("near", 1.0));
    assert_eq!(groups[0].repeated_spend, Usd::ZERO);
}

#[test]
fn templates_sum_variants_exactly_and_put_the_most_expensive_first() {
    let mut prompts = MockPromptRepository::new();
    prompts.expect_prompt_models().returning(|_, _, _| {
        let mut v1 = row("v1", "m", 2, "0.1");
        let mut v2 = row("v2", "m", 1, "0.2");
        v1.template_hash = "T".into();
        v2.template_hash = "T".into();
        Ok(vec![v1, v2, row("solo", "m", 1, "0.25")])
    });
    let s = service(Some(prompts), MockAnalyticsRepository::new(), MockJsonCache::new());
    let got = now(s.templates(&ProjectId::new("p"), &window())).expect("answered");
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].template_hash.as_str(), got[0].prompts, got[0].occurrences), ("T", 2, 3));
    assert_eq!(got[0].total_cost, usd("0.3"));
}

fn lexical(limit: usize) -> SimilarQuery {
    SimilarQuery { threshold: 0.8, limit, mode: SimilarityMode::Lexical }
}

#[test]
fn similar_answers_from_the_cache_without_reading_the_store() {
    let cached = vec![SimilarPrompt {
        id: uuid::Uuid::nil(),
        prompt_hash: "h".into(),
        content: String::new(),
        feature: "chat".into(),
        model: "m".into(),
        similarity: 0.9,
        occurrences: 2,
        total_cost: usd("0.000000000001"),
    }];
    let text = serde_json::to_string(&cached).expect("serialisable");
    let mut cache = MockJsonCache::new();
    cache.expect_get().returning(move |_| Some(text.clone()));
    // No expectation on the repository: any call would fail the test.
    let s = service(Some(MockPromptRepository::new()), MockAnalyticsRepository::new(), cache);
    let got =
        now(s.similar(&ProjectId::new("p"), uuid::Uuid::nil(), lexical(10))).expect("answered");
    assert!(got.cached);
    assert_eq!(got.prompts, cached, "the exact cost survives the cache");
}

#[test]
fn similar_drops_the_call_itself_and_caches_the_answer() {
    let mut cache = MockJsonCache::new();
    cache.expect_get().returning(|_| None);
    cache
        .expect_put()
        .withf(|key, _, ttl| key.contains("lexical:1") && *ttl == SIMILAR_TTL)
        .times(1)
        .return_const(());
    let mut prompts = MockPromptRepository::new();
    prompts.expect_event_prompt().returning(|_, _| {
        Ok(EventPrompt::Prompt(StoredPrompt {
            prompt_hash: "me".into(),
            signature: vec![1, 2, 3],
            bands: vec![7],
            scheme: Some(1),
        }))
    });
    prompts.expect_candidates().returning(|_, _, _, _| {
        Ok(vec![StoredPrompt {
            prompt_hash: "twin".into(),
            signature: vec![1, 2, 3],
            bands: vec![7],
            scheme: Some(1),
        }])
    });
    prompts
        .expect_prompts_by_hash()
        .withf(|_, _, w| w.is_none())
        .returning(|_, _, _| Ok(vec![row("me", "m", 1, "0.1"), row("twin", "m", 2, "0.2")]));
    let s = service(Some(prompts), MockAnalyticsRepository::new(), cache);
    let got =
        now(s.similar(&ProjectId::new("p"), uuid::Uuid::nil(), lexical(10))).expect("answered");
    assert!(!got.cached);
    // "me" had one call (this one): it is not its own near-duplicate.
    assert_eq!(got.prompts.iter().map(|p| p.prompt_hash.as_str()).collect::<Vec<_>>(), ["twin"]);
}

#[test]
fn similar_errors_say_what_was_wrong() {
    let mut cache = MockJsonCache::new();
    cache.expect_get().returning(|_| None);
    let mut prompts = MockPromptRepository::new();
    prompts.expect_event_prompt().returning(|_, _| Ok(EventPrompt::NoSuchEvent));
    let s = service(Some(prompts), MockAnalyticsRepository::new(), cache);
    let p = ProjectId::new("p");
    let id = uuid::Uuid::nil();
    assert!(matches!(now(s.similar(&p, id, lexical(10))), Err(PromptError::EventNotFound)));
    let semantic = SimilarQuery { mode: SimilarityMode::Semantic, ..lexical(10) };
    assert!(matches!(now(s.similar(&p, id, semantic)), Err(PromptError::SemanticUnavailable)));
    let off = service(None, MockAnalyticsRepository::new(), MockJsonCache::new());
    assert!(matches!(now(off.similar(&p, id, lexical(10))), Err(PromptError::Disabled)));
}

#[test]
fn mode_parses_the_two_modes_and_names_anything_else() {
    assert_eq!(SimilarityMode::parse(None), Ok(SimilarityMode::Lexical));
    assert_eq!(SimilarityMode::parse(Some("")), Ok(SimilarityMode::Lexical));
    assert_eq!(SimilarityMode::parse(Some("semantic")), Ok(SimilarityMode::Semantic));
    assert!(SimilarityMode::parse(Some("fuzzy")).is_err_and(|e| e.contains("fuzzy")));
}

#[test]
fn fingerprints_of_another_scheme_are_never_near_duplicates() {
    let mut cache = MockJsonCache::new();
    cache.expect_get().returning(|_| None);
    cache.expect_put().return_const(());
    let mut prompts = MockPromptRepository::new();
    prompts.expect_event_prompt().returning(|_, _| {
        Ok(EventPrompt::Prompt(StoredPrompt {
            prompt_hash: "me".into(),
            signature: vec![1, 2, 3],
            bands: vec![7],
            scheme: Some(1),
        }))
    });
    // The same signature, but made by an older scheme (or before schemes were recorded).
    prompts.expect_candidates().returning(|_, _, _, _| {
        Ok(vec![
            StoredPrompt {
                prompt_hash: "old".into(),
                signature: vec![1, 2, 3],
                bands: vec![7],
                scheme: Some(2),
            },
            StoredPrompt {
                prompt_hash: "older".into(),
                signature: vec![1, 2, 3],
                bands: vec![7],
                scheme: None,
            },
        ])
    });
    prompts.expect_prompts_by_hash().returning(|_, hashes, _| {
        assert_eq!(hashes, ["me".to_owned()], "only the call's own prompt is read");
        Ok(vec![row("me", "m", 2, "0.1")])
    });
    let s = service(Some(prompts), MockAnalyticsRepository::new(), cache);
    let got =
        now(s.similar(&ProjectId::new("p"), uuid::Uuid::nil(), lexical(10))).expect("answered");
    assert_eq!(got.prompts.iter().map(|p| p.prompt_hash.as_str()).collect::<Vec<_>>(), ["me"]);
}
