//! Behaviour of the analyzer through the port: exact grouping, near-duplicate scoring, band keys,
//! and the statistical promise that the estimate tracks the true shingle Jaccard similarity.
#![allow(clippy::unwrap_used)]

use aicp_similarity::{
    AnalyzerConfig, Masking, MinHashAnalyzer, NormalizeConfig, PromptAnalyzer, PromptFingerprint,
    jaccard, prompt_text,
};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

const VOCABULARY: &[&str] = &[
    "the",
    "customer",
    "order",
    "invoice",
    "summarise",
    "ticket",
    "support",
    "agent",
    "reply",
    "refund",
    "policy",
    "shipping",
    "delay",
    "product",
    "review",
    "rating",
    "account",
    "password",
    "reset",
    "email",
    "message",
    "friendly",
    "tone",
    "brief",
    "answer",
    "question",
    "context",
    "document",
    "section",
    "paragraph",
    "translate",
    "french",
    "german",
    "spanish",
    "list",
    "bullet",
    "points",
    "table",
    "json",
    "schema",
    "field",
    "value",
    "error",
    "warning",
    "log",
    "stack",
    "trace",
    "function",
    "method",
    "class",
    "test",
    "case",
    "input",
    "output",
    "format",
    "strict",
    "example",
    "system",
    "user",
    "assistant",
    "instruction",
    "follow",
    "never",
    "always",
    "include",
    "exclude",
    "detail",
    "summary",
    "title",
    "heading",
    "keyword",
    "search",
    "query",
    "result",
    "score",
    "rank",
    "filter",
    "date",
    "time",
    "price",
    "cost",
    "budget",
    "report",
    "weekly",
    "monthly",
    "team",
    "manager",
    "project",
    "task",
    "deadline",
    "status",
    "update",
    "meeting",
    "notes",
    "action",
    "items",
    "owner",
    "priority",
    "high",
    "low",
    "medium",
    "risk",
    "issue",
    "bug",
    "feature",
    "release",
    "version",
    "deploy",
    "server",
    "database",
    "cache",
    "latency",
    "request",
    "response",
    "token",
    "model",
    "prompt",
    "template",
    "variable",
    "classify",
    "sentiment",
    "positive",
    "negative",
    "neutral",
    "extract",
    "entities",
    "names",
    "places",
    "companies",
    "amounts",
    "currency",
    "country",
    "city",
    "address",
    "phone",
    "number",
];

/// A deterministic text of `words` words drawn from the vocabulary by a small LCG.
fn text(seed: u64, words: usize) -> String {
    let mut state =
        seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    (0..words)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            VOCABULARY[(state >> 33) as usize % VOCABULARY.len()]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn analyzer() -> MinHashAnalyzer {
    MinHashAnalyzer::default()
}

/// An analyzer masking exactly `masking`, behind the hash and the signature alike.
fn masking_analyzer(masking: Masking) -> MinHashAnalyzer {
    MinHashAnalyzer::new(AnalyzerConfig {
        normalize: NormalizeConfig { lowercase: true, masking },
        signature_masking: masking,
        ..AnalyzerConfig::default()
    })
    .unwrap()
}

fn shares_a_band_key(
    analyzer: &MinHashAnalyzer,
    a: &PromptFingerprint,
    b: &PromptFingerprint,
) -> bool {
    let keys = analyzer.band_keys(a);
    analyzer.band_keys(b).iter().any(|k| keys.contains(k))
}

fn replace_word(text: &str, index: usize, with: &str) -> String {
    let mut words: Vec<&str> = text.split(' ').collect();
    words[index] = with;
    words.join(" ")
}

#[test]
fn identical_prompts_get_the_same_fingerprint() {
    let a = analyzer();
    let prompt = text(1, 100);
    assert_eq!(a.fingerprint(&prompt), a.fingerprint(&prompt));
    assert_eq!(a.band_keys(&a.fingerprint(&prompt)).len(), 16);
}

#[test]
fn layout_and_case_do_not_change_the_hash() {
    let a = analyzer();
    let base = a.fingerprint("Summarise this ticket for the support team.");
    for variant in [
        "  summarise   this ticket\nfor the support team.  ",
        "SUMMARISE THIS TICKET FOR THE SUPPORT TEAM.",
        "Summarise\u{00A0}this\tticket for\u{200B} the support team.",
    ] {
        let fp = a.fingerprint(variant);
        assert_eq!(fp.hash, base.hash, "{variant:?}");
        assert_eq!(fp.signature, base.signature, "{variant:?}");
        assert_eq!(a.band_keys(&fp), a.band_keys(&base));
    }
    assert_ne!(a.fingerprint("Summarise this ticket for the sales team.").hash, base.hash);
}

#[test]
fn the_hash_is_the_md5_of_the_normalised_text() {
    let a = analyzer();
    let fp = a.fingerprint("  Hello   World ");
    assert_eq!(a.normalize("  Hello   World "), "hello world");
    assert_eq!(fp.hash, "5eb63bbbe01eeed093cb22bb8f5acdc3"); // md5("hello world")
    assert_eq!(fp.normalized_chars, 11);
    assert_eq!(fp.hash.len(), 32);
}

#[test]
fn template_prompts_share_a_hash_only_when_masking_is_on() {
    let prompts = [
        "Write a reply to ann@example.com about order 1042 placed on 2026-01-05, ref 9bddb607-7f7c-4001-b0bd-799b3c4c5793, see https://shop.example.com/o/1042",
        "Write a reply to bob.smith@mail.example.org about order 77 placed on 2025-12-31, ref 0f3c1b2a-1111-4222-8333-944455556666, see https://shop.example.com/o/77",
    ];
    let on = masking_analyzer(Masking::ALL);
    let off = masking_analyzer(Masking::NONE);
    let (a_on, b_on) = (on.fingerprint(prompts[0]), on.fingerprint(prompts[1]));
    let (a_off, b_off) = (off.fingerprint(prompts[0]), off.fingerprint(prompts[1]));

    assert_eq!(a_on.hash, b_on.hash);
    assert!((on.similarity(&a_on, &b_on) - 1.0).abs() < f64::EPSILON);
    assert_ne!(a_off.hash, b_off.hash);
    assert!(off.similarity(&a_off, &b_off) < 1.0);

    // The template hash groups by template whatever the masking setting.
    assert_eq!(a_off.template_hash, b_off.template_hash);
    assert_eq!(a_off.template_hash, a_on.hash);
    assert_eq!(a_on.template_hash, a_on.hash);
    assert_eq!(
        off.template(prompts[0]),
        "write a reply to <email> about order <num> placed on <date>, ref <uuid>, see <url>"
    );
}

#[test]
fn one_changed_word_in_a_100_word_prompt_is_a_near_duplicate() {
    let a = analyzer();
    for seed in 0..20 {
        let base = text(seed, 100);
        let edited = replace_word(&base, 50, "zebra");
        let (x, y) = (a.fingerprint(&base), a.fingerprint(&edited));
        assert_ne!(x.hash, y.hash);
        let s = a.similarity(&x, &y);
        assert!(s >= 0.8, "seed {seed}: similarity {s}");
        assert!(shares_a_band_key(&a, &x, &y), "seed {seed}");
    }
}

#[test]
fn unrelated_prompts_are_dissimilar_and_share_no_band_key() {
    let a = analyzer();
    let handwritten = [
        "You are a helpful assistant. Translate the following paragraph into French and keep the tone formal.",
        "Classify the sentiment of this product review as positive, negative or neutral and explain why in one sentence.",
        "Extract every company name, amount and currency from the invoice below and return them as JSON.",
        "def add(a, b): return a + b  # write unit tests for this function using pytest",
        "总结这篇文章的主要观点，并列出三个关键要点。",
    ];
    let mut prompts: Vec<String> = handwritten.iter().map(|s| (*s).to_owned()).collect();
    prompts.extend((100..110).map(|seed| text(seed, 120)));
    let fps: Vec<_> = prompts.iter().map(|p| a.fingerprint(p)).collect();
    for i in 0..fps.len() {
        for j in i + 1..fps.len() {
            let s = a.similarity(&fps[i], &fps[j]);
            assert!(s < 0.3, "{i} vs {j}: similarity {s}");
            assert!(!shares_a_band_key(&a, &fps[i], &fps[j]), "{i} vs {j}");
        }
    }
}

#[test]
fn similarity_is_symmetric_and_one_on_itself() {
    let a = analyzer();
    let x = a.fingerprint(&text(3, 60));
    let y = a.fingerprint(&replace_word(&text(3, 60), 10, "other"));
    assert!((a.similarity(&x, &x) - 1.0).abs() < f64::EPSILON);
    assert!((a.similarity(&x, &y) - a.similarity(&y, &x)).abs() < f64::EPSILON);
}

#[test]
fn empty_and_tiny_prompts_do_not_panic() {
    let a = analyzer();
    for prompt in ["", " ", "\n\t", "hi", "Hello", "...", "42", "é", "总"] {
        let fp = a.fingerprint(prompt);
        assert_eq!(fp.signature.len(), 128);
        assert_eq!(a.band_keys(&fp).len(), 16);
        assert!((a.similarity(&fp, &fp) - 1.0).abs() < f64::EPSILON);
    }
    let empty = a.fingerprint("");
    assert_eq!(empty.hash, "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(empty.normalized_chars, 0);
    assert!(a.similarity(&empty, &a.fingerprint("hello")) < f64::EPSILON);
}

#[test]
fn short_prompts_use_character_shingles_and_still_score_edits() {
    let a = analyzer();
    let x = a.fingerprint("Translate this sentence into French please");
    let y = a.fingerprint("Translate this sentence into German please");
    let s = a.similarity(&x, &y);
    assert!(s > 0.5 && s < 1.0, "similarity {s}");
}

#[test]
fn reordered_prompts_are_similar_but_not_identical() {
    let a = analyzer();
    let first = text(7, 60);
    let second = text(8, 60);
    let x = a.fingerprint(&format!("{first} {second}"));
    let y = a.fingerprint(&format!("{second} {first}"));
    assert_ne!(x.hash, y.hash);
    assert!(a.similarity(&x, &y) > 0.8);
}

#[test]
fn fingerprints_of_other_schemes_are_never_similar_nor_indexed() {
    let default = analyzer();
    let other =
        MinHashAnalyzer::new(AnalyzerConfig { seed: 99, ..AnalyzerConfig::default() }).unwrap();
    let prompt = text(5, 50);
    let (x, y) = (default.fingerprint(&prompt), other.fingerprint(&prompt));
    assert_eq!(x.hash, y.hash);
    assert_ne!(x.scheme, y.scheme);
    assert!(default.similarity(&x, &y) < f64::EPSILON);
    assert!(default.band_keys(&y).is_empty());
}

#[test]
fn chat_messages_fingerprint_through_their_canonical_text() {
    let a = analyzer();
    let messages =
        [("system".to_owned(), "Be brief.".to_owned()), ("user".to_owned(), "Hi!".to_owned())];
    let fp = a.fingerprint(&prompt_text(&messages));
    assert_eq!(fp, a.fingerprint("System: be brief.\nUSER:  hi!"));
}

#[test]
fn the_estimate_is_unbiased_over_many_pairs() {
    let a = analyzer();
    let mut total_error = 0.0;
    let pairs = 200;
    for seed in 0..pairs {
        let base = text(seed, 80);
        let mut edited = base.clone();
        for k in 0..(seed % 12) {
            edited =
                replace_word(&edited, ((seed * 7 + k * 13) % 80) as usize, VOCABULARY[k as usize]);
        }
        let truth = jaccard(&a.shingles(&base), &a.shingles(&edited));
        let estimate = a.similarity(&a.fingerprint(&base), &a.fingerprint(&edited));
        total_error += estimate - truth;
    }
    let mean_error = total_error / f64::from(pairs as u32);
    assert!(mean_error.abs() < 0.02, "mean error {mean_error}");
}

#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, usize),
    Insert(usize, usize),
    Delete(usize),
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(i, w)| Edit::Replace(i, w)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, w)| Edit::Insert(i, w)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(base: &str, edits: &[Edit]) -> String {
    let mut words: Vec<&str> = base.split(' ').collect();
    for edit in edits {
        if words.is_empty() {
            break;
        }
        match *edit {
            Edit::Replace(i, w) => {
                let n = words.len();
                words[i % n] = VOCABULARY[w % VOCABULARY.len()];
            }
            Edit::Insert(i, w) => {
                let n = words.len();
                words.insert(i % (n + 1), VOCABULARY[w % VOCABULARY.len()]);
            }
            Edit::Delete(i) => {
                let n = words.len();
                words.remove(i % n);
            }
        }
    }
    words.join(" ")
}

fn fixed_seed(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, rng_seed: RngSeed::Fixed(0x5EED), ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(fixed_seed(128))]

    #[test]
    fn similarity_is_bounded_symmetric_and_reflexive(x in any::<String>(), y in "\\PC{0,300}") {
        let a = analyzer();
        let (fx, fy) = (a.fingerprint(&x), a.fingerprint(&y));
        let s = a.similarity(&fx, &fy);
        prop_assert!((0.0..=1.0).contains(&s));
        prop_assert!((s - a.similarity(&fy, &fx)).abs() < f64::EPSILON);
        prop_assert!((a.similarity(&fx, &fx) - 1.0).abs() < f64::EPSILON);
        prop_assert_eq!(a.band_keys(&fx).len(), 16);
    }

    #[test]
    fn normalisation_is_idempotent(x in "\\PC{0,200}|[ a-zA-Z0-9:./@_-]{0,200}") {
        for masking in [Masking::NONE, Masking::ALL] {
            let a = masking_analyzer(masking);
            let once = a.normalize(&x);
            prop_assert_eq!(a.normalize(&once), once.clone());
            prop_assert_eq!(a.fingerprint(&once).hash, a.fingerprint(&x).hash);
        }
    }

    #[test]
    fn the_estimate_stays_close_to_the_true_shingle_jaccard(
        seed in any::<u64>(),
        words in 20_usize..200,
        edits in prop::collection::vec(edit_strategy(), 0..40),
    ) {
        let a = analyzer();
        let base = text(seed, words);
        let edited = apply(&base, &edits);
        let truth = jaccard(&a.shingles(&base), &a.shingles(&edited));
        let estimate = a.similarity(&a.fingerprint(&base), &a.fingerprint(&edited));
        prop_assert!((estimate - truth).abs() <= 0.15, "estimate {} truth {}", estimate, truth);
    }
}

/// Issue 20: prompts of one template are near-duplicates at the default threshold.
const TICKETS: [&str; 3] = [
    "Summarize the following support ticket for the billing team: customer 4411 says the invoice is wrong",
    "Summarize the following support ticket for the billing team: customer 9382 says the invoice is wrong",
    "Summarize the following support ticket for the billing team: customer 1200 says the invoice is late",
];
const TRANSLATION: &str =
    "Translate this product description into French: a waterproof hiking boot with a rubber sole";

#[test]
fn prompts_of_one_template_are_near_duplicates_by_default() {
    let a = analyzer();
    let fps: Vec<_> = TICKETS.iter().map(|t| a.fingerprint(t)).collect();
    for i in 0..fps.len() {
        for j in i + 1..fps.len() {
            assert_ne!(fps[i].hash, fps[j].hash, "still different prompts");
            let s = a.similarity(&fps[i], &fps[j]);
            assert!(s >= 0.8, "{i} vs {j}: similarity {s}");
            assert!(shares_a_band_key(&a, &fps[i], &fps[j]), "{i} vs {j}");
        }
    }
    // The same number differs only in its value: the signatures agree everywhere.
    assert_eq!(fps[0].signature, fps[1].signature);
    let translation = a.fingerprint(TRANSLATION);
    for fp in &fps {
        assert!(a.similarity(fp, &translation) < 0.3);
    }
}

#[test]
fn the_version_1_defaults_missed_them() {
    let old = MinHashAnalyzer::new(AnalyzerConfig::V1).unwrap();
    let (x, y) = (old.fingerprint(TICKETS[0]), old.fingerprint(TICKETS[1]));
    assert!(old.similarity(&x, &y) < 0.8);
}

#[test]
fn different_tasks_sharing_most_words_stay_apart() {
    let a = analyzer();
    let pairs = [
        (TICKETS[0], &TICKETS[0].replace("billing", "legal")),
        (TRANSLATION, &TRANSLATION.replace("French", "German")),
        (
            "Translate into French: \"where is the station\"",
            &"Translate into German: \"where is the station\"".to_owned(),
        ),
    ];
    for (x, y) in pairs {
        let s = a.similarity(&a.fingerprint(x), &a.fingerprint(y));
        assert!(s < 0.8, "{x:?} vs {y:?}: similarity {s}");
    }
}

#[test]
fn quoted_free_text_is_a_variable_of_the_template() {
    let a = analyzer();
    let x = a.fingerprint(
        "Classify the sentiment of this review as positive or negative: \"The boots leaked on the first walk\"",
    );
    let y = a.fingerprint(
        "Classify the sentiment of this review as positive or negative: “Great fit, warm and dry”",
    );
    assert_ne!(x.hash, y.hash);
    assert_eq!(x.signature, y.signature);
    assert_eq!(
        a.signature_text("Say \"hi there\" to <b>Ann</b> at 10:30"),
        "say <quote> to <b>ann</b> at <time>"
    );
    assert_eq!(a.normalize("Say \"hi\" at 10:30"), "say \"hi\" at 10:30");
}
