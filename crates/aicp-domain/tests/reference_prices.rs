//! Cross-checks our catalogue against another project's published catalogue
//! (`../shared/data/reference-prices/`, USD per token), for every model both know, at the date
//! the reference was taken. Skips cleanly when the reference is absent.
//!
//! Documented exceptions (where the reference is wrong, older, or priced differently), each
//! checked by hand against the provider's own price page:

use std::path::PathBuf;
use std::str::FromStr;

use aicp_domain::pricing::{Catalogue, PriceBook, original_fallback};
use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

/// Models whose reference price differs from the provider's for a known reason.
const EXCEPTIONS: &[(&str, &str)] = &[
    ("gpt-5.6-terra", "reference predates OpenAI's published price"),
    ("gpt-5.6-luna", "reference predates OpenAI's published price"),
    ("claude-3-sonnet-20240229", "reference gives cache prices; the model never supported caching"),
    (
        "gemini-1.0-pro",
        "reference uses Vertex per-character prices; ours is the Gemini API per-token price (as the original)",
    ),
    ("gemini-1.0-pro-latest", "as gemini-1.0-pro"),
    ("gemini-1.0-pro-001", "as gemini-1.0-pro"),
    ("gemini-pro", "as gemini-1.0-pro"),
    ("gemini-1.5-pro-latest", "reference price is not a published price"),
    ("gpt-3.5-turbo-16k", "the name points at gpt-3.5-turbo-16k-0613 ($3/$4), not the 0125 price"),
];

fn reference_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/reference-prices/langfuse-default-model-prices.json")
}

fn per_million(v: &Value) -> Option<Decimal> {
    let text = v.to_string();
    let d = if text.contains(['e', 'E']) {
        Decimal::from_scientific(&text).ok()?
    } else {
        Decimal::from_str(&text).ok()?
    };
    Some((d * Decimal::from(1_000_000)).round_dp(6).normalize())
}

#[test]
fn our_prices_agree_with_the_reference_catalogue_for_every_model_both_know() {
    let path = reference_file();
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: no reference catalogue at {}", path.display());
        return;
    };
    let reference: Vec<Value> = serde_json::from_str(&text).unwrap();
    let book = PriceBook::new(&Catalogue::builtin().unwrap(), &[], original_fallback());
    // The reference was taken on 2026-08-22 (see its README): compare the prices in force then.
    let at = Utc.with_ymd_and_hms(2026, 8, 22, 0, 0, 0).unwrap();
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for model in &reference {
        let name = model["modelName"].as_str().unwrap_or_default().to_ascii_lowercase();
        if EXCEPTIONS.iter().any(|(m, _)| *m == name) {
            continue;
        }
        let Some(ours) = book.find_catalogue(&name) else { continue };
        let Some(period) = ours.period_at(at) else { continue };
        let Some(tier) = model["pricingTiers"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["isDefault"] == true))
        else {
            continue;
        };
        let prices = &tier["prices"];
        compared += 1;
        let checks = [
            ("input", Some(period.rates.input)),
            ("output", Some(period.rates.output)),
            ("input_cached_tokens", period.rates.cache_read),
            ("cache_read_input_tokens", period.rates.cache_read),
        ];
        for (key, our_price) in checks {
            let Some(theirs) = prices.get(key).and_then(per_million) else { continue };
            // A reference cache price for a model we price without a discount counts as a
            // mismatch; a missing reference price does not (the reference often omits them).
            let ours = our_price.unwrap_or(period.rates.input).normalize();
            if ours != theirs {
                mismatches.push(format!("{name} {key}: ours {ours}, reference {theirs}"));
            }
        }
    }
    assert!(compared >= 80, "only {compared} models compared: the matching broke");
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

#[test]
fn every_catalogue_entry_parses_and_the_original_models_are_present() {
    let catalogue = Catalogue::builtin().unwrap();
    assert!(catalogue.models.len() >= 100, "{}", catalogue.models.len());
    let book = PriceBook::new(&catalogue, &[], original_fallback());
    for model in [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4-turbo",
        "gpt-3.5-turbo",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "claude-3-5-sonnet-20241022",
        "claude-3-5-haiku-20241022",
        "claude-3-opus-20240229",
        "claude-sonnet-4-20250514",
        "gemini-1.5-pro",
        "gemini-1.5-flash",
        "gemini-1.5-flash-8b",
        "gemini-2.0-flash-exp",
        "gemini-1.0-pro",
    ] {
        assert!(book.find_catalogue(model).is_some(), "{model} missing");
    }
    for provider in ["openai", "anthropic", "google-gemini", "mistral", "deepseek", "xai", "cohere"]
    {
        assert!(
            catalogue.models.iter().any(|m| m.provider.as_str() == provider),
            "no {provider} model"
        );
    }
    assert!(catalogue.models.iter().any(|m| m.id.contains("llama")), "no Llama model");
}
