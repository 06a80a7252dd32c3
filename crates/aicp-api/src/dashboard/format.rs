//! How the dashboard writes numbers: money that never hides spend (`$1,234.56`, `$0.0123`,
//! `$0.000041`), with the exact amount kept for the hover title; rates, changes and latencies as
//! people read them. Display only: every sum is made from exact amounts before it is formatted.

use aicp_domain::Usd;
use rust_decimal::{Decimal, RoundingStrategy};

/// Groups the integer digits of `digits` in threes with commas.
fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `$1,234.56` from one dollar up; below it, three significant digits (`$0.0123`,
/// `$0.000041`), so that small spend never shows as `$0.00`. Exact zero is `$0.00`.
pub fn money(amount: Usd) -> String {
    let value = amount.amount();
    let negative = value.is_sign_negative() && !value.is_zero();
    let abs = value.abs();
    let text = if abs.is_zero() {
        "0.00".to_owned()
    } else if abs >= Decimal::ONE {
        let rounded = abs.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        let s = format!("{rounded:.2}");
        let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
        format!("{}.{frac}", group_thousands(int))
    } else {
        let rounded = abs
            .round_sf_with_strategy(3, RoundingStrategy::MidpointAwayFromZero)
            .unwrap_or(abs)
            .normalize();
        let s = rounded.to_string();
        // At least two decimals, as money usually reads.
        match s.split_once('.') {
            Some((_, frac)) if frac.len() >= 2 => s,
            Some((int, frac)) => format!("{int}.{frac:0<2}"),
            None => format!("{s}.00"),
        }
    };
    if negative { format!("−${text}") } else { format!("${text}") }
}

/// The exact amount, as stored (for titles and tables' hover).
pub fn exact(amount: Usd) -> String {
    format!("${amount} exactly")
}

/// `12.3 %` (one decimal).
pub fn percent(fraction: f64) -> String {
    format!("{:.1} %", fraction * 100.0)
}

/// A change against the previous window: `+12.4 %`, `−3.0 %`, or `new` when there was nothing
/// before.
pub fn change(fraction: Option<f64>) -> String {
    match fraction {
        None => "new".to_owned(),
        Some(f) if f >= 0.0 => format!("+{:.1} %", f * 100.0),
        Some(f) => format!("−{:.1} %", -f * 100.0),
    }
}

/// `820 ms`, `2.4 s`, `—` when unknown.
pub fn latency(ms: Option<u32>) -> String {
    match ms {
        None => "—".to_owned(),
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        Some(ms) => format!("{:.1} s", f64::from(ms) / 1000.0),
    }
}

/// `1,234,567`.
pub fn count(n: u64) -> String {
    group_thousands(&n.to_string())
}

/// `12.3k`, `4.5M` for large token counts, the exact number below ten thousand.
pub fn compact(n: u64) -> String {
    match n {
        0..10_000 => count(n),
        10_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.1}B", n as f64 / 1e9),
    }
}

/// The share `part / whole` of two exact amounts, as a percentage (0 without a whole).
pub fn share(part: Usd, whole: Usd) -> String {
    if whole.amount().is_zero() {
        return percent(0.0);
    }
    let ratio = part.amount() / whole.amount() * Decimal::ONE_HUNDRED;
    format!("{:.1} %", ratio.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn usd(s: &str) -> Usd {
        Usd::new(Decimal::from_str(s).unwrap())
    }

    #[test]
    fn money_never_hides_small_spend_and_groups_large_spend() {
        assert_eq!(money(usd("1234.5678")), "$1,234.57");
        assert_eq!(money(usd("1234567")), "$1,234,567.00");
        assert_eq!(money(usd("1")), "$1.00");
        assert_eq!(money(usd("0.0123")), "$0.0123");
        assert_eq!(money(usd("0.000041")), "$0.000041");
        assert_eq!(money(usd("0.00004149")), "$0.0000415");
        assert_eq!(money(usd("0.5")), "$0.50");
        assert_eq!(money(Usd::ZERO), "$0.00");
        assert_eq!(money(usd("-2.5")), "−$2.50");
    }

    #[test]
    fn rates_changes_and_latencies_read_as_people_write_them() {
        assert_eq!(percent(0.1234), "12.3 %");
        assert_eq!(change(Some(0.124)), "+12.4 %");
        assert_eq!(change(Some(-0.03)), "−3.0 %");
        assert_eq!(change(None), "new");
        assert_eq!(latency(Some(820)), "820 ms");
        assert_eq!(latency(Some(2400)), "2.4 s");
        assert_eq!(latency(None), "—");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(compact(9999), "9,999");
        assert_eq!(compact(45_600), "45.6k");
        assert_eq!(share(usd("1"), usd("3")), "33.3 %");
        assert_eq!(share(usd("1"), Usd::ZERO), "0.0 %");
    }
}
