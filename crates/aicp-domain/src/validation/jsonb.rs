//! What PostgreSQL's `jsonb` can store, checked on `metadata` before it reaches the insert.
//!
//! These limits are storage knowledge kept in the domain on purpose: the validator must refuse a
//! batch with a 400 before anything is written (a batch is all or nothing), and the domain cannot
//! ask the store. They are PostgreSQL's own limits on `numeric` and `text`, not settings.

use serde_json::Value;

use super::exact::Exact;

/// Most digits before the decimal point of a PostgreSQL `numeric` (and so of a `jsonb` number).
pub(super) const JSONB_MAX_INTEGER_DIGITS: i64 = 131_072;
/// Most digits after the decimal point of a PostgreSQL `numeric`.
pub(super) const JSONB_MAX_SCALE: i64 = 16_383;
/// PostgreSQL refuses a written exponent of this magnitude or more, even on zero (`INT_MAX / 2`).
pub(super) const JSONB_EXPONENT_LIMIT: i64 = 1_073_741_823;

/// Whether every number in `value` can be stored in `jsonb` (others fail the insert with
/// "value overflows numeric format").
pub(super) fn numbers_fit_jsonb(value: &Value) -> bool {
    match value {
        Value::Number(n) => Exact::parse(&n.to_string()).is_some_and(|e| {
            e.integer_digits() <= JSONB_MAX_INTEGER_DIGITS
                && e.written_scale <= JSONB_MAX_SCALE
                && e.written_exponent.abs() < JSONB_EXPONENT_LIMIT
        }),
        Value::Array(items) => items.iter().all(numbers_fit_jsonb),
        Value::Object(map) => map.values().all(numbers_fit_jsonb),
        _ => true,
    }
}

/// Size in bytes of `value` serialized compactly, each number counted as PostgreSQL stores it.
pub(super) fn stored_size(value: &Value) -> usize {
    let Ok(bytes) = serde_json::to_vec(value) else {
        return usize::MAX;
    };
    let grown = number_growth(value);
    usize::try_from(grown).map_or(usize::MAX, |g| bytes.len().saturating_add(g))
}

/// How many bytes longer the numbers in `value` are in plain notation than as sent (never < 0).
fn number_growth(value: &Value) -> i64 {
    match value {
        Value::Number(n) => {
            let text = n.to_string();
            let stored = Exact::parse(&text).map_or(0, |e| e.stored_len());
            (stored - text.len() as i64).max(0)
        }
        Value::Array(items) => items.iter().map(number_growth).fold(0, i64::saturating_add),
        Value::Object(map) => map.values().map(number_growth).fold(0, i64::saturating_add),
        _ => 0,
    }
}

/// Nesting depth of a JSON value (a scalar is 0, `{}` is 1).
pub(super) fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Whether a string or key holds NUL, which PostgreSQL's `text` and `jsonb` cannot store.
pub(super) fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}
