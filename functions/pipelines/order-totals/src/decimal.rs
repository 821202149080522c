//! Exact decimal arithmetic for order amounts.
//!
//! Owns [`Decimal`]: parsing a DynamoDB number's text, adding, negating and printing it
//! back, without ever going through floating point (a sum of money must come out to the
//! cent). Must not know about stream records or tables.

use std::fmt;

/// The most fractional digits an amount may have. DynamoDB numbers carry 38 significant
/// digits; an amount with more than this many decimals is not money and is rejected.
const SCALE_MAX_DIGITS: u32 = 18;
/// The most significant digits of a DynamoDB number.
const PRECISION_MAX_DIGITS: usize = 38;

/// An exact decimal `units / 10^scale`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decimal {
    units: i128,
    scale: u32,
}

impl Decimal {
    /// Zero.
    pub const ZERO: Decimal = Decimal { units: 0, scale: 0 };

    /// Parses the text of a DynamoDB number (`"12.50"`, `"-3"`, `"1.5E2"`).
    pub fn parse(text: &str) -> Result<Decimal, String> {
        let bad = || format!("{text:?} is not a number with at most {SCALE_MAX_DIGITS} decimals");
        let (negative, rest) = match text.trim().strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.trim().strip_prefix('+').unwrap_or(text.trim())),
        };
        let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().map_err(|_| bad())?),
            None => (rest, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = format!("{int_part}{frac_part}");
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let significant = digits.trim_start_matches('0');
        if significant.len() > PRECISION_MAX_DIGITS {
            return Err(bad());
        }
        let mut units: i128 = if significant.is_empty() {
            0
        } else {
            significant.parse().map_err(|_| bad())?
        };
        // The value is `digits * 10^(exponent - frac_len)`.
        let frac_len = i32::try_from(frac_part.len()).map_err(|_| bad())?;
        let shift = exponent.checked_sub(frac_len).ok_or_else(bad)?;
        let scale = if shift >= 0 {
            units = units
                .checked_mul(pow10(shift.unsigned_abs()).ok_or_else(bad)?)
                .ok_or_else(bad)?;
            0
        } else {
            shift.unsigned_abs()
        };
        if scale > SCALE_MAX_DIGITS {
            return Err(bad());
        }
        if negative {
            units = -units;
        }
        Ok(Decimal { units, scale })
    }

    /// Whether this is zero.
    pub fn is_zero(self) -> bool {
        self.units == 0
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let a = self.units.checked_mul(pow10(scale - self.scale)?)?;
        let b = other.units.checked_mul(pow10(scale - other.scale)?)?;
        Some(Decimal {
            units: a.checked_add(b)?,
            scale,
        })
    }

    /// `-self`.
    pub fn neg(self) -> Decimal {
        Decimal {
            units: -self.units,
            scale: self.scale,
        }
    }
}

fn pow10(exponent: u32) -> Option<i128> {
    10i128.checked_pow(exponent)
}

/// Prints the shortest exact form: no exponent, no trailing fractional zeros
/// (`12.5`, `-3`, `0.07`), which DynamoDB accepts as a number.
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.units.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let (int_part, frac_part) = if digits.len() > scale {
            let (i, fr) = digits.split_at(digits.len() - scale);
            (i.to_owned(), fr.to_owned())
        } else {
            ("0".to_owned(), format!("{digits:0>scale$}"))
        };
        let frac_part = frac_part.trim_end_matches('0');
        if self.units < 0 {
            f.write_str("-")?;
        }
        f.write_str(&int_part)?;
        if !frac_part.is_empty() {
            write!(f, ".{frac_part}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Decimal;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn parses_and_prints_dynamodb_numbers() {
        for (text, printed) in [
            ("12.50", "12.5"),
            ("-3", "-3"),
            ("0.07", "0.07"),
            ("1.5E2", "150"),
            ("25e-2", "0.25"),
            ("+4.00", "4"),
            ("-0.0", "0"),
            ("000123.4500", "123.45"),
        ] {
            assert_eq!(d(text).to_string(), printed, "{text}");
        }
        for bad in ["", "-", "1.2.3", "abc", "1e", "1e-40", "1x"] {
            assert!(Decimal::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn adds_exactly() {
        let sum = d("0.1").checked_add(d("0.2")).unwrap();
        assert_eq!(sum.to_string(), "0.3");
        let back = sum.checked_add(d("0.3").neg()).unwrap();
        assert!(back.is_zero());
        assert_eq!(
            d("10").checked_add(d("-12.75")).unwrap().to_string(),
            "-2.75"
        );
        let huge = d("99999999999999999999999999999999999999");
        assert!(huge.checked_add(huge).is_none(), "overflow is reported");
    }
}
