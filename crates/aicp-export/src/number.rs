//! The original's text renderings of timestamps and numbers, reproduced exactly.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

/// JavaScript's `Date.prototype.toISOString()`: milliseconds (truncated) and `Z`, e.g.
/// `2026-01-05T10:30:00.000Z`.
pub(crate) fn iso_millis(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// JavaScript's `parseFloat(text).toFixed(2)` of a decimal, as the original rendered the average
/// latency in cost-summary CSVs. The detour through a binary double is deliberate: `1.005`
/// becomes `1.00` there, as it did in the original.
pub(crate) fn js_to_fixed2(value: Decimal) -> String {
    // Rust's float parsing is correctly rounded, like `parseFloat`. A decimal always parses.
    let x: f64 = value.to_string().parse().unwrap_or(0.0);
    let magnitude = x.abs();
    // `toFixed` takes the larger candidate on an exact tie, while Rust's formatter takes the even
    // one. At 2 decimals the only doubles that are exact ties are odd multiples of 1/8 (their
    // exact decimal value then has at most 3 decimals, so rounding it as a decimal is exact).
    let tie = (magnitude * 8.0).fract() == 0.0 && (magnitude * 4.0).fract() != 0.0;
    let body = match Decimal::from_f64_retain(magnitude) {
        Some(exact) if tie => {
            format!(
                "{:.2}",
                exact.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            )
        }
        _ => format!("{magnitude:.2}"),
    };
    // `toFixed` writes a sign for negative numbers only (`(-0).toFixed(2)` is `0.00`).
    if x < 0.0 { format!("-{body}") } else { body }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use chrono::TimeZone;

    use super::*;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap_or_default()
    }

    #[test]
    fn iso_timestamps_have_milliseconds_and_z() {
        let at = Utc.with_ymd_and_hms(2026, 1, 5, 10, 30, 0).single().unwrap_or_default();
        assert_eq!(iso_millis(at), "2026-01-05T10:30:00.000Z");
        let at = at + chrono::Duration::microseconds(123_999);
        assert_eq!(iso_millis(at), "2026-01-05T10:30:00.123Z");
    }

    #[test]
    fn to_fixed2_matches_javascript() {
        // Values checked against node's `Number.prototype.toFixed`.
        let cases = [
            ("275.5", "275.50"),
            ("100", "100.00"),
            ("66.5000000000000000", "66.50"),
            ("0", "0.00"),
            ("-0", "0.00"),
            ("1.005", "1.00"),
            ("0.125", "0.13"),
            ("0.375", "0.38"),
            ("2.625", "2.63"),
            ("0.875", "0.88"),
            ("1.255", "1.25"),
            ("8.345", "8.35"),
            ("123.456", "123.46"),
            ("0.3333333333333333333", "0.33"),
            ("-1.5", "-1.50"),
            ("-0.125", "-0.13"),
        ];
        for (input, expected) in cases {
            assert_eq!(js_to_fixed2(dec(input)), expected, "{input}");
        }
    }
}
