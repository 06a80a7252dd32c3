//! Exact money. Every amount of US dollars in the system is a [`Usd`]: a decimal with at most
//! [`Usd::SCALE`] fractional digits, never a binary float.
//!
//! Why scale 12: prices are published per million tokens with up to 6 decimals (for example
//! 0.009375 USD / 1M), so the cost of a single token needs 12 decimals to be exact. The database
//! columns are `numeric(22,12)`, which holds any per-event cost below 10^10 USD.

use std::fmt;
use std::iter::Sum;
use std::ops::Add;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// An exact amount of US dollars. Serialized as a decimal string without trailing zeros
/// (`"0.0075"`), so that JSON carries the exact value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Deserialize)]
#[serde(transparent)]
pub struct Usd(Decimal);

impl Serialize for Usd {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0.normalize())
    }
}

/// Why a decimal text is not a valid amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is not a decimal number.
    #[error("not a decimal number")]
    NotANumber,
    /// The amount is below zero.
    #[error("must be greater than or equal to 0")]
    Negative,
    /// The amount is too large to be stored.
    #[error("must be less than {0}")]
    TooLarge(Decimal),
}

impl Usd {
    /// Fractional digits kept for every stored amount.
    pub const SCALE: u32 = 12;
    /// Zero dollars.
    pub const ZERO: Usd = Usd(Decimal::ZERO);

    /// Wraps an exact decimal, rounding half-to-even to [`Usd::SCALE`] digits (a no-op for every
    /// price with at most 6 decimals per million tokens).
    pub fn new(amount: Decimal) -> Self {
        Self(amount.round_dp_with_strategy(Self::SCALE, RoundingStrategy::MidpointNearestEven))
    }

    /// Parses a JSON/decimal number text such as `0.0075`, `1e-7` or `2.5E+3` exactly, without
    /// going through a binary float. Rejects negative values and values not below `limit`.
    ///
    /// # Errors
    /// [`MoneyError`] when the text is not a number, is negative, or is not below `limit`.
    pub fn parse_bounded(text: &str, limit: Decimal) -> Result<Self, MoneyError> {
        let value = parse_decimal(text).ok_or(MoneyError::NotANumber)?;
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative);
        }
        // The bound applies to what is stored: a value just below it can round up to it.
        let usd = Self::new(value);
        if usd.0 >= limit {
            return Err(MoneyError::TooLarge(limit));
        }
        Ok(usd)
    }

    /// The exact decimal value.
    pub fn amount(self) -> Decimal {
        self.0
    }

    /// The nearest binary float, for the wire fields the original defined as JSON numbers (its
    /// dashboard does arithmetic on them). For display only: never compute money with it.
    pub fn to_f64(self) -> f64 {
        // Via the decimal text: the correctly rounded nearest double (0.0375 stays 0.0375).
        self.0.to_string().parse().unwrap_or(0.0)
    }

    /// The compatibility rendering of the original (`numeric(12,6)`): 6 decimals, half away from
    /// zero, e.g. `0.000125`. Only for wire fields that the original defined that way.
    pub fn to_fixed6(self) -> String {
        format!("{:.6}", self.0.round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero))
    }
}

/// Parses a decimal in plain or scientific notation exactly. `None` when the text is not a number
/// or does not fit a 96-bit decimal.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        Decimal::from_str(text).ok()
    }
}

impl Add for Usd {
    type Output = Usd;
    fn add(self, rhs: Usd) -> Usd {
        Usd(self.0 + rhs.0)
    }
}

impl Sum for Usd {
    fn sum<I: Iterator<Item = Usd>>(iter: I) -> Usd {
        iter.fold(Usd::ZERO, Add::add)
    }
}

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.normalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit() -> Decimal {
        Decimal::from(1_000_000)
    }

    #[test]
    fn parsing_keeps_every_digit_of_a_tiny_amount() {
        let usd = Usd::parse_bounded("0.00000015", limit()).expect("valid");
        assert_eq!(usd.amount(), Decimal::from_str("0.00000015").expect("dec"));
        assert_eq!(Usd::parse_bounded("1e-7", limit()).expect("valid").to_string(), "0.0000001");
    }

    #[test]
    fn parsing_rejects_negative_and_too_large_amounts() {
        assert_eq!(Usd::parse_bounded("-0.1", limit()), Err(MoneyError::Negative));
        assert_eq!(Usd::parse_bounded("1000000", limit()), Err(MoneyError::TooLarge(limit())));
        // Below the limit as written, but stored (12 places) it would be the limit itself.
        assert_eq!(
            Usd::parse_bounded("999999.9999999999999999", limit()),
            Err(MoneyError::TooLarge(limit()))
        );
        assert!(Usd::parse_bounded("999999.999999999999", limit()).is_ok());
        assert_eq!(Usd::parse_bounded("1e400", limit()), Err(MoneyError::NotANumber));
        assert!(Usd::parse_bounded("-0", limit()).is_ok());
    }

    #[test]
    fn amounts_are_rounded_half_even_to_twelve_decimals() {
        let usd = Usd::new(Decimal::from_str("0.0000000000005").expect("dec"));
        assert_eq!(usd.amount(), Decimal::ZERO);
        let usd = Usd::new(Decimal::from_str("0.0000000000015").expect("dec"));
        assert_eq!(usd.amount(), Decimal::from_str("0.000000000002").expect("dec"));
    }

    #[test]
    fn fixed6_rendering_matches_the_original_numeric_12_6() {
        assert_eq!(Usd::new(Decimal::from_str("0.0075").expect("d")).to_fixed6(), "0.007500");
        assert_eq!(Usd::new(Decimal::from_str("0.0078125").expect("d")).to_fixed6(), "0.007813");
        assert_eq!(Usd::ZERO.to_fixed6(), "0.000000");
    }
}
