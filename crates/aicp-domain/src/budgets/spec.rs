//! What a client may define as a budget, validated from its JSON body into a [`BudgetSpec`]
//! (every problem reported at once, as `{path, message}` issues like the ingest validator).

use std::str::FromStr;

use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde_json::Value;

use super::{Period, Scope, ScopeKind};
use crate::money::{MoneyError, Usd};
use crate::validation::Issue;

/// Thresholds when a budget names none: warn at half, at 80 % and when it is used up.
pub const DEFAULT_THRESHOLDS: [u32; 3] = [50, 80, 100];
/// Largest budget amount (what `numeric(22,12)` holds, with margin).
pub const MAX_AMOUNT: i64 = 10_000_000_000;
const MAX_NAME_CHARS: usize = 128;
const MAX_SCOPE_CHARS: usize = 256;
const MAX_THRESHOLDS: usize = 10;
const MAX_THRESHOLD_PCT: u64 = 1000;

/// A budget's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetSpec {
    /// Label.
    pub name: String,
    /// The calls it counts; `None`: all of the project's.
    pub scope: Option<Scope>,
    /// When it resets.
    pub period: Period,
    /// The zone whose local midnights bound the periods.
    pub time_zone: Tz,
    /// The limit per period.
    pub amount: Usd,
    /// Percents of `amount` that raise an alert when reached, ascending, distinct.
    pub thresholds: Vec<u32>,
}

fn issue(path: &str, message: impl Into<String>) -> Issue {
    Issue { path: path.to_owned(), message: message.into() }
}

fn text<'a>(body: &'a Value, key: &str, issues: &mut Vec<Issue>) -> Option<&'a str> {
    match body.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            issues.push(issue(key, "Expected string"));
            None
        }
    }
}

fn bounded(path: &str, value: &str, max: usize, issues: &mut Vec<Issue>) -> bool {
    let chars = value.chars().count();
    if chars == 0 || chars > max {
        issues.push(issue(path, format!("must be 1 to {max} characters")));
        false
    } else if value.contains('\0') {
        issues.push(issue(path, "must not contain a NUL character"));
        false
    } else {
        true
    }
}

impl BudgetSpec {
    /// Validates a JSON body: `{"name", "amountUsd", "period", "timeZone"?, "scope"?:
    /// {"type", "value"}, "thresholds"?}`. `amountUsd` is a number or a decimal string, read
    /// exactly.
    ///
    /// # Errors
    /// Every issue found, each with the path of the field.
    pub fn from_json(body: &Value) -> Result<Self, Vec<Issue>> {
        let mut issues = Vec::new();
        if !body.is_object() {
            return Err(vec![issue("", "Expected object")]);
        }
        let name = match text(body, "name", &mut issues) {
            Some(n) if bounded("name", n, MAX_NAME_CHARS, &mut issues) => Some(n.to_owned()),
            Some(_) => None,
            None => {
                if body.get("name").is_none_or(Value::is_null) {
                    issues.push(issue("name", "Required"));
                }
                None
            }
        };
        let amount = parse_amount(body.get("amountUsd"), &mut issues);
        let period = match text(body, "period", &mut issues) {
            Some(p) => Period::parse(p).map_err(|m| issues.push(issue("period", m))).ok(),
            None => {
                if body.get("period").is_none_or(Value::is_null) {
                    issues.push(issue("period", "Required"));
                }
                None
            }
        };
        let time_zone = match text(body, "timeZone", &mut issues) {
            None => Some(Tz::UTC),
            Some(name) => crate::analytics::query::parse_tz(Some(name))
                .map_err(|m| issues.push(issue("timeZone", m)))
                .ok(),
        };
        let scope = parse_scope(body.get("scope"), &mut issues);
        let thresholds = parse_thresholds(body.get("thresholds"), &mut issues);
        match (name, amount, period, time_zone, scope, thresholds) {
            (
                Some(name),
                Some(amount),
                Some(period),
                Some(time_zone),
                Some(scope),
                Some(thresholds),
            ) if issues.is_empty() => {
                Ok(Self { name, scope, period, time_zone, amount, thresholds })
            }
            _ => Err(issues),
        }
    }
}

fn parse_amount(value: Option<&Value>, issues: &mut Vec<Issue>) -> Option<Usd> {
    // Numbers keep their exact text (serde_json's arbitrary precision), so 0.1 stays 0.1.
    let text = match value {
        None | Some(Value::Null) => {
            issues.push(issue("amountUsd", "Required"));
            return None;
        }
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            issues.push(issue("amountUsd", "Expected number or decimal string"));
            return None;
        }
    };
    match Usd::parse_bounded(text.trim(), Decimal::from(MAX_AMOUNT)) {
        Ok(usd) if usd.amount() > Decimal::ZERO => Some(usd),
        Ok(_) => {
            issues.push(issue("amountUsd", "must be greater than 0"));
            None
        }
        Err(MoneyError::NotANumber) => {
            issues.push(issue("amountUsd", "must be a decimal number"));
            None
        }
        Err(e) => {
            issues.push(issue("amountUsd", e.to_string()));
            None
        }
    }
}

/// `Some(None)` for no scope, `Some(Some(_))` for a valid one, `None` after an issue.
fn parse_scope(value: Option<&Value>, issues: &mut Vec<Issue>) -> Option<Option<Scope>> {
    let obj = match value {
        None | Some(Value::Null) => return Some(None),
        Some(Value::Object(o)) => o,
        Some(_) => {
            issues.push(issue("scope", "Expected object or null"));
            return None;
        }
    };
    let kind = match obj.get("type") {
        Some(Value::String(t)) => ScopeKind::parse(t).or_else(|| {
            issues.push(issue(
                "scope.type",
                format!("Invalid enum value. Expected 'feature' | 'model' | 'provider' | 'user', received '{t}'"),
            ));
            None
        }),
        _ => {
            issues.push(issue("scope.type", "Required"));
            None
        }
    };
    let value = match obj.get("value") {
        Some(Value::String(v)) => {
            bounded("scope.value", v, MAX_SCOPE_CHARS, issues).then(|| v.clone())
        }
        _ => {
            issues.push(issue("scope.value", "Required"));
            None
        }
    };
    Some(Some(Scope { kind: kind?, value: value? }))
}

fn parse_thresholds(value: Option<&Value>, issues: &mut Vec<Issue>) -> Option<Vec<u32>> {
    let list = match value {
        None | Some(Value::Null) => return Some(DEFAULT_THRESHOLDS.to_vec()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            issues.push(issue("thresholds", "Expected array"));
            return None;
        }
    };
    if list.is_empty() || list.len() > MAX_THRESHOLDS {
        issues.push(issue("thresholds", format!("must have 1 to {MAX_THRESHOLDS} entries")));
        return None;
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        // Whole percents only: `80`, not `80.5` or `"80"`.
        let pct = v
            .as_number()
            .and_then(|n| u64::from_str(&n.to_string()).ok())
            .filter(|p| (1..=MAX_THRESHOLD_PCT).contains(p));
        match pct.and_then(|p| u32::try_from(p).ok()) {
            Some(p) => out.push(p),
            None => issues.push(issue(
                &format!("thresholds.{i}"),
                format!("must be a whole percent from 1 to {MAX_THRESHOLD_PCT}"),
            )),
        }
    }
    let before = out.len();
    out.sort_unstable();
    out.dedup();
    if out.len() != before {
        issues.push(issue("thresholds", "must not repeat a value"));
    }
    (out.len() == list.len()).then_some(out)
}
