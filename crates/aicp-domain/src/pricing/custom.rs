//! Validation of a custom price (the body of `PUT /api/v1/pricing`), with the same
//! `{path, message}` issues as event validation.
//!
//! ```json
//! {"model": "gpt-4o", "provider": "openai", "effectiveFrom": "2026-01-01",
//!  "input": "2.00", "output": 8, "cacheRead": "0.50",
//!  "tiers": [{"aboveInputTokens": 200000, "input": 4, "output": 16, "cacheRead": 1}]}
//! ```
//! Prices are USD per 1M tokens, JSON numbers or decimal strings, read exactly, ≥ 0, < 1e6, at
//! most 6 decimals.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::money::parse_decimal;
use crate::pricing::book::CustomPrice;
use crate::pricing::catalogue::{MAX_PRICE_DECIMALS, PricePeriod};
use crate::pricing::formula::{Rates, Tier};
use crate::project::ProjectId;
use crate::provider::Provider;
use crate::validation::Issue;

const KINDS: [&str; 4] = ["cacheRead", "cacheWrite5m", "cacheWrite1h", "reasoning"];

/// Parses a custom price body for `project`; also returns the provider when the body names one.
///
/// # Errors
/// Every problem found.
pub fn parse_custom_price(
    project: &ProjectId,
    body: &Value,
) -> Result<(CustomPrice, Option<Provider>), Vec<Issue>> {
    let mut issues = Vec::new();
    let Value::Object(obj) = body else {
        return Err(vec![issue("", "Expected object")]);
    };
    let model = match obj.get("model") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 256 && !s.contains('\0') => {
            Some(s.trim().to_ascii_lowercase())
        }
        Some(_) => {
            issues.push(issue("model", "Expected a non-empty string of at most 256 characters"));
            None
        }
        None => {
            issues.push(issue("model", "Required"));
            None
        }
    };
    let provider = match obj.get("provider") {
        None => None,
        Some(Value::String(s)) => {
            let p = Provider::parse(s);
            if p.is_none() {
                issues.push(issue("provider", &format!("Unknown provider '{s}'")));
            }
            p
        }
        Some(_) => {
            issues.push(issue("provider", "Expected string"));
            None
        }
    };
    let from = match obj.get("effectiveFrom") {
        Some(Value::String(s)) => {
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
            if d.is_none() {
                issues.push(issue("effectiveFrom", "Expected a date YYYY-MM-DD"));
            }
            d
        }
        Some(_) => {
            issues.push(issue("effectiveFrom", "Expected a date YYYY-MM-DD"));
            None
        }
        None => {
            issues.push(issue("effectiveFrom", "Required"));
            None
        }
    };
    let base = parse_rates(obj, "", &mut issues);
    let mut tiers = Vec::new();
    match obj.get("tiers") {
        None => {}
        Some(Value::Array(items)) if items.len() <= 8 => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("tiers.{i}");
                let Value::Object(t) = item else {
                    issues.push(issue(&path, "Expected object"));
                    continue;
                };
                let above = match t.get("aboveInputTokens") {
                    Some(Value::Number(n)) => n.as_u64().filter(|v| *v > 0),
                    _ => None,
                };
                if above.is_none() {
                    issues.push(issue(
                        &format!("{path}.aboveInputTokens"),
                        "Expected a positive integer",
                    ));
                }
                let tier_rates = parse_rates(t, &path, &mut issues);
                if let (Some(base), Some(tr)) = (&base, &tier_rates) {
                    for (kind, b, r) in kinds_of(base, tr) {
                        if b != r {
                            let msg = "A tier must price exactly the usage kinds of its base price";
                            issues.push(issue(&format!("{path}.{kind}"), msg));
                        }
                    }
                }
                if let (Some(above_input_tokens), Some(rates)) = (above, tier_rates) {
                    tiers.push(Tier { above_input_tokens, rates });
                }
            }
            if tiers.windows(2).any(|w| w[0].above_input_tokens >= w[1].above_input_tokens) {
                issues.push(issue("tiers", "Tiers must have strictly increasing aboveInputTokens"));
            }
        }
        Some(_) => issues.push(issue("tiers", "Expected an array of at most 8 tiers")),
    }
    match (issues.is_empty(), model, from, base) {
        (true, Some(model), Some(from), Some(rates)) => Ok((
            CustomPrice {
                project: project.clone(),
                model,
                period: PricePeriod { from, rates, tiers },
            },
            provider,
        )),
        _ => Err(issues),
    }
}

fn issue(path: &str, message: &str) -> Issue {
    Issue { path: path.to_owned(), message: message.to_owned() }
}

fn kinds_of<'a>(a: &'a Rates, b: &'a Rates) -> [(&'static str, bool, bool); 4] {
    [
        (KINDS[0], a.cache_read.is_some(), b.cache_read.is_some()),
        (KINDS[1], a.cache_write_5m.is_some(), b.cache_write_5m.is_some()),
        (KINDS[2], a.cache_write_1h.is_some(), b.cache_write_1h.is_some()),
        (KINDS[3], a.reasoning.is_some(), b.reasoning.is_some()),
    ]
}

fn parse_rates(obj: &Map<String, Value>, path: &str, issues: &mut Vec<Issue>) -> Option<Rates> {
    let before = issues.len();
    let join = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    let mut get = |key: &str, required: bool| -> Option<Decimal> {
        match obj.get(key) {
            None if required => {
                issues.push(issue(&join(key), "Required"));
                None
            }
            None => None,
            Some(v) => match price(v) {
                Ok(d) => Some(d),
                Err(msg) => {
                    issues.push(issue(&join(key), &msg));
                    None
                }
            },
        }
    };
    let input = get("input", true);
    let output = get("output", true);
    let cache_read = get(KINDS[0], false);
    let cache_write_5m = get(KINDS[1], false);
    let cache_write_1h = get(KINDS[2], false);
    let reasoning = get(KINDS[3], false);
    if issues.len() != before {
        return None;
    }
    Some(Rates {
        input: input?,
        output: output?,
        cache_read,
        cache_write_5m,
        cache_write_1h,
        reasoning,
    })
}

fn price(value: &Value) -> Result<Decimal, String> {
    let parsed = match value {
        Value::Number(n) => parse_decimal(&n.to_string()),
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        _ => return Err("Expected a number or a decimal string".to_owned()),
    };
    let Some(d) = parsed else {
        return Err("Expected a decimal number below 1000000".to_owned());
    };
    let d = d.normalize();
    if d.is_sign_negative() && !d.is_zero() {
        return Err("Number must be greater than or equal to 0".to_owned());
    }
    if d >= Decimal::from(1_000_000) {
        return Err("Number must be less than 1000000".to_owned());
    }
    if d.scale() > MAX_PRICE_DECIMALS {
        return Err(format!(
            "Prices have at most {MAX_PRICE_DECIMALS} decimals (USD per 1M tokens)"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn parse(body: Value) -> Result<(CustomPrice, Option<Provider>), Vec<Issue>> {
        parse_custom_price(&ProjectId::new("acme"), &body)
    }

    #[test]
    fn a_full_custom_price_is_read_exactly() {
        let (price, provider) = parse(json!({
            "model": "GPT-4o", "provider": "openai", "effectiveFrom": "2026-01-01",
            "input": "2.000001", "output": 8, "cacheRead": 0.5,
            "tiers": [{"aboveInputTokens": 200000, "input": 4, "output": 16, "cacheRead": "1"}]
        }))
        .unwrap();
        assert_eq!(price.model, "gpt-4o");
        assert_eq!(provider, Some(Provider::Openai));
        assert_eq!(price.period.rates.input, Decimal::from_str("2.000001").unwrap());
        assert_eq!(price.period.rates.cache_read, Some(Decimal::from_str("0.5").unwrap()));
        assert_eq!(price.period.tiers.len(), 1);
    }

    #[test]
    fn bad_custom_prices_list_every_problem_with_its_path() {
        let issues = parse(json!({
            "input": -1, "output": "abc", "cacheRead": "0.0000001", "effectiveFrom": "2026-13-01",
            "tiers": [{"aboveInputTokens": 0, "input": 1, "output": 1, "reasoning": 1}]
        }))
        .unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        for p in
            ["model", "effectiveFrom", "input", "output", "cacheRead", "tiers.0.aboveInputTokens"]
        {
            assert!(paths.contains(&p), "{p} missing from {paths:?}");
        }
        assert!(parse(json!([1])).is_err());
        assert!(
            parse(json!({"model": "m", "effectiveFrom": "2026-01-01", "input": 1e7, "output": 1}))
                .is_err()
        );
    }

    #[test]
    fn a_tier_must_price_the_same_kinds_as_its_base() {
        let issues = parse(json!({
            "model": "m", "effectiveFrom": "2026-01-01", "input": 1, "output": 2, "cacheRead": 0.1,
            "tiers": [{"aboveInputTokens": 1000, "input": 2, "output": 4}]
        }))
        .unwrap_err();
        assert_eq!(issues[0].path, "tiers.0.cacheRead");
    }
}
