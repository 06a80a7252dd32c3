//! Worked examples of the formula and the book. Prices are spelled out here so that these tests
//! do not move when the catalogue is updated (the catalogue has its own tests).
#![allow(clippy::unwrap_used)]

use std::str::FromStr;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::money::Usd;
use crate::pricing::test_book;
use crate::project::ProjectId;

const TEST_CATALOGUE: &str = include_str!("testdata/catalogue.toml");

fn book() -> PriceBook {
    test_book()
}

fn when() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
}

fn usage(input: u32, output: u32, cached: u32) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: cached,
        ..Usage::default()
    }
}

fn total(model: &str, u: Usage) -> String {
    book().price(&ProjectId::default_project(), model, when(), u).cost.total.to_string()
}

fn dec(s: &str) -> Usd {
    Usd::new(Decimal::from_str(s).unwrap())
}

#[test]
fn the_original_vectors_hold_where_the_original_was_right() {
    assert_eq!(total("gpt-4o", usage(1000, 500, 0)), "0.0075");
    assert_eq!(total("claude-3-5-sonnet-20241022", usage(1000, 500, 200)), "0.00996");
    assert_eq!(total("claude-3-5-sonnet-20241022", usage(100, 50, 200)), "0.00081");
    assert_eq!(total("unknown-model", usage(1000, 500, 0)), "0.025");
    assert_eq!(total("gpt-4o", usage(0, 0, 0)), "0");
    assert_eq!(total("gpt-4o", usage(1_000_000, 1_000_000, 0)), "12.5");
    assert_eq!(total("gpt-4o-mini", usage(123, 456, 0)), "0.00029205");
    assert_eq!(total("gemini-1.5-flash", usage(1000, 1000, 500)), "0.000346875");
    assert_eq!(total("gemini-2.0-flash-exp", usage(1_000_000, 1_000_000, 0)), "0");
    assert_eq!(total("gpt-4o", usage(0, 1, 0)), "0.00001");
    assert_eq!(total("text-embedding-3-small", usage(1000, 0, 0)), "0.00002");
    assert_eq!(total("gpt-4-turbo", usage(2_000_000_000, 0, 0)), "20000");
}

#[test]
fn one_cheap_token_is_not_rounded_away() {
    assert_eq!(total("gpt-4o", usage(1, 0, 0)), "0.0000025");
    assert_eq!(total("gpt-4o", usage(3125, 0, 0)), "0.0078125");
    assert_eq!(total("gpt-4o-mini", usage(1, 0, 0)), "0.00000015");
}

#[test]
fn cached_tokens_are_charged_at_the_cached_price_never_free_never_twice() {
    // 800 × 2.50 + 200 × 1.25 + 500 × 10.00 per 1M (the original said 0.007: cached were free).
    assert_eq!(total("gpt-4o", usage(1000, 500, 200)), "0.00725");
    // No cache discount: cached tokens cost the full input price.
    assert_eq!(total("gpt-4-turbo", usage(1000, 0, 200)), total("gpt-4-turbo", usage(1000, 0, 0)));
}

#[test]
fn anthropic_cache_writes_are_priced_by_ttl() {
    // Anthropic usage: input 100, cache read 2000, cache write 1000 (400 of them 1-hour), output 50.
    // Our semantics: inputTokens = 100 + 2000 + 1000.
    let u = Usage {
        input_tokens: 3100,
        output_tokens: 50,
        cache_read_tokens: 2000,
        cache_write_tokens: 1000,
        cache_write_1h_tokens: 400,
        reasoning_tokens: 0,
    };
    let priced = book().price(&ProjectId::default_project(), "claude-3-5-sonnet-latest", when(), u);
    let c = priced.cost;
    assert_eq!(c.input, dec("0.0003")); // 100 × 3.00
    assert_eq!(c.cache_read, dec("0.0006")); // 2000 × 0.30
    assert_eq!(c.cache_write, dec("0.00465")); // 600 × 3.75 + 400 × 6.00
    assert_eq!(c.output, dec("0.00075")); // 50 × 15.00
    assert_eq!(c.total, dec("0.0063"));
    assert_eq!(priced.priced_as.as_deref(), Some("claude-3-5-sonnet-20241022"));
    assert_eq!(priced.source, PriceSource::Catalogue);
}

#[test]
fn long_context_prompts_are_priced_entirely_at_the_tier() {
    let u = usage(200_001, 1000, 0);
    let c = book().price(&ProjectId::default_project(), "claude-sonnet-4-5", when(), u).cost;
    assert_eq!(c.input, dec("1.200006")); // 200001 × 6.00
    assert_eq!(c.output, dec("0.0225")); // 1000 × 22.50
    let at_threshold = usage(200_000, 1000, 0);
    let c =
        book().price(&ProjectId::default_project(), "claude-sonnet-4-5", when(), at_threshold).cost;
    assert_eq!(c.input, dec("0.6"));
}

#[test]
fn reasoning_tokens_are_part_of_output_and_priced_at_their_rate() {
    let u = Usage {
        input_tokens: 1000,
        output_tokens: 3000,
        reasoning_tokens: 2000,
        ..Usage::default()
    };
    let c = book().price(&ProjectId::default_project(), "o3", when(), u).cost;
    assert_eq!(c.output, dec("0.008")); // 1000 × 8.00
    assert_eq!(c.reasoning, dec("0.016")); // 2000 × 8.00 (no separate rate: output's)
    assert_eq!(c.total, dec("0.026"));
}

#[test]
fn the_price_in_force_on_the_day_of_the_call_is_used() {
    let b = book();
    let p = ProjectId::default_project();
    let before = Utc.with_ymd_and_hms(2024, 9, 30, 23, 59, 59).unwrap();
    let after = Utc.with_ymd_and_hms(2024, 10, 1, 0, 0, 0).unwrap();
    let u = usage(1_000_000, 0, 0);
    assert_eq!(b.price(&p, "gpt-4o", before, u).cost.total, dec("5"));
    assert_eq!(b.price(&p, "gpt-4o", after, u).cost.total, dec("2.5"));
    // Older than every period: the first period.
    let ancient = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(b.price(&p, "gpt-4o", ancient, u).cost.total, dec("5"));
    assert_eq!(b.price(&p, "gpt-4o", after, u).effective_from.unwrap().to_string(), "2024-10-01");
}

#[test]
fn a_dated_snapshot_with_its_own_price_is_not_priced_as_its_alias() {
    assert_eq!(total("gpt-4o-2024-05-13", usage(1_000_000, 0, 0)), "5");
    assert_eq!(total("gpt-4o-2024-08-06", usage(1_000_000, 0, 0)), "2.5");
    assert_eq!(total("openai/GPT-4o-2024-08-06", usage(1_000_000, 0, 0)), "2.5");
}

#[test]
fn an_unknown_model_is_priced_by_the_fallback_and_marked() {
    let priced = book().price(&ProjectId::default_project(), "mystery", when(), usage(1, 0, 0));
    assert_eq!(priced.source, PriceSource::Fallback);
    assert_eq!(priced.priced_as, None);
    assert_eq!(priced.effective_from, None);
}

#[test]
fn a_custom_price_applies_to_its_project_from_its_date_only() {
    let catalogue = Catalogue::parse(TEST_CATALOGUE).unwrap();
    let from = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let custom = CustomPrice {
        project: ProjectId::new("acme"),
        model: "gpt-4o".to_owned(),
        period: PricePeriod {
            from,
            rates: Rates::new(Decimal::from(1), Decimal::from(2)),
            tiers: vec![],
        },
    };
    let b = PriceBook::new(&catalogue, &[custom], original_fallback());
    let u = usage(1_000_000, 0, 0);
    let acme = ProjectId::new("acme");
    let priced = b.price(&acme, "gpt-4o-2024-08-06", when(), u);
    assert_eq!(priced.cost.total, dec("1"));
    assert_eq!(priced.source, PriceSource::Custom);
    let before = Utc.with_ymd_and_hms(2025, 12, 31, 0, 0, 0).unwrap();
    assert_eq!(b.price(&acme, "gpt-4o", before, u).cost.total, dec("2.5"));
    assert_eq!(b.price(&ProjectId::new("other"), "gpt-4o", when(), u).cost.total, dec("2.5"));
}

#[test]
fn invalid_catalogues_are_rejected_with_the_model_named() {
    let bad = [
        (
            "unknown provider",
            TEST_CATALOGUE.replacen("provider = \"openai\"", "provider = \"acme\"", 1),
        ),
        ("7 decimals", TEST_CATALOGUE.replacen("\"0.075\"", "\"0.0750001\"", 1)),
        ("negative", TEST_CATALOGUE.replacen("\"0.15\"", "\"-0.15\"", 1)),
        ("dates out of order", TEST_CATALOGUE.replacen("2024-10-01", "2024-01-01", 1)),
        (
            "duplicate id",
            format!(
                "{TEST_CATALOGUE}\n[[models]]\nprovider = \"openai\"\nid = \"o3\"\n[[models.prices]]\nfrom = \"2025-01-01\"\ninput = \"1\"\noutput = \"1\"\n"
            ),
        ),
        (
            "misspelt usage kind",
            TEST_CATALOGUE.replacen("cache_read = \"1.25\"", "cache_reed = \"1.25\"", 1),
        ),
        ("tier missing a kind", TEST_CATALOGUE.replacen("cache_write_1h = \"12.00\"", "", 1)),
        ("uppercase id", TEST_CATALOGUE.replacen("id = \"o3\"", "id = \"O3\"", 1)),
    ];
    for (name, text) in bad {
        assert!(Catalogue::parse(&text).is_err(), "{name} should be rejected");
    }
}

fn any_usage() -> impl Strategy<Value = Usage> {
    let n = 0..=i32::MAX as u32;
    (n.clone(), n.clone(), n.clone(), n.clone(), n.clone(), n).prop_map(|(i, o, r, w, w1, re)| {
        Usage {
            input_tokens: i,
            output_tokens: o,
            cache_read_tokens: r,
            cache_write_tokens: w,
            cache_write_1h_tokens: w1,
            reasoning_tokens: re,
        }
    })
}

const MODELS: [&str; 6] = [
    "gpt-4o",
    "claude-3-5-sonnet-20241022",
    "claude-sonnet-4-5",
    "o3",
    "deepseek-reasoner",
    "mystery",
];

proptest! {
    #[test]
    fn cost_is_never_negative_and_is_the_sum_of_its_parts(u in any_usage(), m in 0usize..MODELS.len()) {
        let c = book().price(&ProjectId::default_project(), MODELS[m], when(), u).cost;
        prop_assert!(c.total >= Usd::ZERO);
        prop_assert_eq!(c.total, c.input + c.cache_read + c.cache_write + c.output + c.reasoning);
    }

    #[test]
    fn cost_is_monotone_in_every_token_count(u in any_usage(), m in 0usize..MODELS.len(), extra in 1u32..1_000_000, kind in 0usize..6) {
        let b = book();
        let p = ProjectId::default_project();
        let base = b.price(&p, MODELS[m], when(), u).cost.total;
        // `extra` more tokens of one kind; the totals that contain that kind grow with it (a
        // cache read is also an input token, a reasoning token also an output token).
        let mut more = u;
        let add = |v: &mut u32| *v = v.saturating_add(extra);
        match kind {
            0 => add(&mut more.input_tokens),
            1 => add(&mut more.output_tokens),
            2 => { add(&mut more.cache_read_tokens); add(&mut more.input_tokens); }
            3 => { add(&mut more.cache_write_tokens); add(&mut more.input_tokens); }
            4 => { add(&mut more.cache_write_1h_tokens); add(&mut more.cache_write_tokens); add(&mut more.input_tokens); }
            _ => { add(&mut more.reasoning_tokens); add(&mut more.output_tokens); }
        }
        // Tiers make the price step up with the prompt, never down.
        prop_assert!(b.price(&p, MODELS[m], when(), more).cost.total >= base);
    }

    #[test]
    fn cost_is_additive_over_calls_below_tiers(a in 0u32..100_000, b in 0u32..100_000, o1 in 0u32..100_000, o2 in 0u32..100_000) {
        let book = book();
        let p = ProjectId::default_project();
        let one = book.price(&p, "gpt-4o", when(), usage(a, o1, 0)).cost.total;
        let two = book.price(&p, "gpt-4o", when(), usage(b, o2, 0)).cost.total;
        let both = book.price(&p, "gpt-4o", when(), usage(a + b, o1 + o2, 0)).cost.total;
        prop_assert_eq!(one + two, both);
    }
}
