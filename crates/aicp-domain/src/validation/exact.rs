//! Exact reading of JSON numbers from their text: `±digits × 10^exponent`, rounded once to the
//! scale a field needs, so that no value passes through a binary float.

/// How [`Exact::rounded`] breaks ties.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Rounding {
    /// To the even neighbour (banker's rounding, as [`Usd::new`](crate::money::Usd::new)).
    HalfEven,
    /// Away from zero (JavaScript's `Math.round` for the non-negative numbers it is used on).
    HalfUp,
}

/// Exponents are clamped to this magnitude; beyond it every value is far outside every bound.
const EXPONENT_CLAMP: i64 = 1_000_000_000_000;
/// Most significant digits [`Exact::rounded`] returns (10^30 fits an `i128`).
const MAX_ROUNDED_DIGITS: i64 = 30;

/// A JSON number read exactly from its text: `±digits × 10^exponent`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Exact {
    pub(super) negative: bool,
    /// Significant digits (each 0..=9), without leading or trailing zeros; empty for zero.
    pub(super) digits: Vec<u8>,
    /// Power of ten of the last significant digit; 0 for zero.
    pub(super) exponent: i64,
    /// Fraction digits as written minus the written exponent: PostgreSQL's display scale when
    /// positive (`1.50` keeps 2, `1e-3` has 3, `1.5e3` has none).
    pub(super) written_scale: i64,
    /// The exponent as written (clamped), which PostgreSQL bounds even for zero.
    pub(super) written_exponent: i64,
}

impl Exact {
    /// Parses `-?digits[.digits][(e|E)[+-]digits]`; `None` for anything else.
    pub(super) fn parse(text: &str) -> Option<Exact> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent_text) = match rest.split_once(['e', 'E']) {
            Some((m, e)) => (m, Some(e)),
            None => (rest, None),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty()
            || !all_digits(int_part)
            || !all_digits(frac_part)
            || (mantissa.contains('.') && frac_part.is_empty())
        {
            return None;
        }
        let written_exponent = match exponent_text {
            Some(e) => parse_exponent(e)?,
            None => 0,
        };
        let frac_len = i64::try_from(frac_part.len()).ok()?;
        let mut digits: Vec<u8> = int_part
            .bytes()
            .chain(frac_part.bytes())
            .map(|b| b - b'0')
            .skip_while(|&d| d == 0)
            .collect();
        let mut exponent = written_exponent - frac_len;
        while digits.last() == Some(&0) {
            digits.pop();
            exponent += 1;
        }
        if digits.is_empty() {
            exponent = 0;
        }
        let written_scale = frac_len - written_exponent;
        Some(Exact { negative, digits, exponent, written_scale, written_exponent })
    }

    pub(super) fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Below zero (`-0` is not).
    pub(super) fn is_negative(&self) -> bool {
        self.negative && !self.is_zero()
    }

    pub(super) fn is_integer(&self) -> bool {
        self.exponent >= 0
    }

    /// Digits before the decimal point, leading zeros excepted (0 for a value below 1).
    pub(super) fn integer_digits(&self) -> i64 {
        if self.is_zero() { 0 } else { (self.digits.len() as i64 + self.exponent).max(0) }
    }

    /// The magnitude rounded to `scale` decimals, as an integer count of 10^-scale; `None` when
    /// it has more than [`MAX_ROUNDED_DIGITS`] digits.
    pub(super) fn rounded(&self, scale: u32, rounding: Rounding) -> Option<i128> {
        let value = |digits: &[u8]| digits.iter().fold(0i128, |acc, &d| acc * 10 + i128::from(d));
        let n = self.digits.len() as i64;
        let shift = self.exponent + i64::from(scale);
        if self.is_zero() {
            return Some(0);
        }
        if shift >= 0 {
            if n + shift > MAX_ROUNDED_DIGITS {
                return None;
            }
            let shift = u32::try_from(shift).ok()?;
            return Some(value(&self.digits) * 10i128.pow(shift));
        }
        let dropped = -shift;
        if dropped > n {
            // What is dropped is below a tenth of the last kept unit: round down.
            return Some(0);
        }
        let keep = usize::try_from(n - dropped).ok()?;
        if keep as i64 > MAX_ROUNDED_DIGITS {
            return None;
        }
        let kept = value(&self.digits[..keep]);
        let first_dropped = self.digits[keep];
        // The digits have no trailing zero, so when more than one digit is dropped, what follows
        // the first is > 0 and a first dropped 5 means more than half.
        let up = first_dropped > 5
            || (first_dropped == 5
                && (dropped > 1 || rounding == Rounding::HalfUp || kept % 2 == 1));
        Some(kept + i128::from(up))
    }

    /// Length of the number as PostgreSQL prints it back from `jsonb` (plain decimal notation).
    pub(super) fn stored_len(&self) -> i64 {
        let sign = i64::from(self.is_negative());
        let integer = self.integer_digits().max(1);
        let fraction = if self.written_scale > 0 { 1 + self.written_scale } else { 0 };
        sign + integer + fraction
    }
}

/// A JSON exponent `[+-]digits`, clamped to ±[`EXPONENT_CLAMP`].
fn parse_exponent(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude =
        digits.iter().fold(0i64, |acc, d| (acc * 10 + i64::from(d - b'0')).min(EXPONENT_CLAMP));
    Some(if negative { -magnitude } else { magnitude })
}
