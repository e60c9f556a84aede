//! Money as integer minor units. A [`Rappen`] amount is never a float: 1 CHF = 100 Rappen.
//! This module owns parsing of user-entered CHF text and display formatting; it must never round
//! silently (a value that does not fit in whole Rappen is refused).

use super::problem::FieldProblem;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The only currency the studios use today. Money in JSON is always an integer amount in minor
/// units beside a `currency` field (the Stripe convention).
pub const CURRENCY: &str = "CHF";

/// Largest price (or tip) one service may carry: 100,000.00 CHF. Anything above is a typing error
/// (an extra zero), never a real haircut.
pub const MAX_SERVICE_AMOUNT: Rappen = Rappen(10_000_000);

/// An amount of Swiss francs in Rappen (minor units). Signed, because payout lines carry
/// deductions (chair rent) as negative amounts.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
pub struct Rappen(pub i64);

impl Rappen {
    /// Zero francs.
    pub const ZERO: Rappen = Rappen(0);

    /// The raw minor-unit value.
    pub fn minor(self) -> i64 {
        self.0
    }

    /// Parses a CHF amount typed by a person: `85`, `85.5`, `85.50`, `1'250.00`, `1250,00`.
    ///
    /// Errors (what is wrong with the field): empty text, more than two decimals, anything that
    /// is not a number, or a value that does not fit in `i64` Rappen.
    pub fn parse_chf(text: &str) -> Result<Rappen, FieldProblem> {
        let cleaned: String = text
            .trim()
            .trim_start_matches("CHF")
            .trim()
            .chars()
            .filter(|c| *c != '\'' && *c != '’' && *c != ' ')
            .map(|c| if c == ',' { '.' } else { c })
            .collect();
        if cleaned.is_empty() {
            return Err(FieldProblem::AmountMissing);
        }
        let (negative, digits) = match cleaned.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, cleaned.as_str()),
        };
        let (whole, fraction) = match digits.split_once('.') {
            Some((w, f)) => (w, f),
            None => (digits, ""),
        };
        let valid_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty())
            || !valid_digits(whole)
            || !valid_digits(fraction)
        {
            return Err(FieldProblem::NotAnAmount { text: text.into() });
        }
        if fraction.len() > 2 {
            return Err(FieldProblem::TooManyDecimals { text: text.into() });
        }
        let too_large = || FieldProblem::TooLarge { text: text.into() };
        let whole_value: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_large())?
        };
        let fraction_value: i64 = match fraction.len() {
            0 => 0,
            1 => fraction.parse::<i64>().map_err(|_| too_large())? * 10,
            _ => fraction.parse().map_err(|_| too_large())?,
        };
        let rappen = whole_value
            .checked_mul(100)
            .and_then(|v| v.checked_add(fraction_value))
            .ok_or_else(too_large)?;
        Ok(Rappen(if negative { -rappen } else { rappen }))
    }

    /// Formats as `18,080.00`-style text without currency: `18'080.00` (Swiss grouping).
    pub fn format_plain(self) -> String {
        let negative = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let francs = abs / 100;
        let cents = abs % 100;
        let digits = francs.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push('\'');
            }
            grouped.push(ch);
        }
        format!("{}{grouped}.{cents:02}", if negative { "−" } else { "" })
    }

    /// Checked addition; `None` on overflow.
    pub fn checked_add(self, other: Rappen) -> Option<Rappen> {
        self.0.checked_add(other.0).map(Rappen)
    }
}

impl fmt::Display for Rappen {
    /// `CHF 18'080.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CHF {}", self.format_plain())
    }
}

/// A commission rate in basis points: 10,000 bp = 100 %.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
pub struct BasisPoints(pub i64);

impl BasisPoints {
    /// The commission on `price`, rounded half up to whole Rappen (prices are never negative).
    /// Example: 40 % (4,000 bp) of CHF 85.55 = 3,422 Rappen (34.22).
    pub fn commission_on(self, price: Rappen) -> Rappen {
        Rappen((price.0 * self.0 + 5_000) / 10_000)
    }

    /// `40 %` or `42.5 %`.
    pub fn percent_text(self) -> String {
        // Integer arithmetic only: float formatting would add its machinery to the WASM bundle.
        let (whole, hundredths) = (self.0 / 100, (self.0 % 100).abs());
        if hundredths == 0 {
            format!("{whole} %")
        } else {
            let fraction = format!("{hundredths:02}");
            format!("{whole}.{} %", fraction.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ways_people_type_francs() {
        assert_eq!(Rappen::parse_chf("85"), Ok(Rappen(8_500)));
        assert_eq!(Rappen::parse_chf("85.5"), Ok(Rappen(8_550)));
        assert_eq!(Rappen::parse_chf("85,05"), Ok(Rappen(8_505)));
        assert_eq!(Rappen::parse_chf("CHF 1'250.00"), Ok(Rappen(125_000)));
        assert_eq!(Rappen::parse_chf(".50"), Ok(Rappen(50)));
        assert_eq!(Rappen::parse_chf("-3"), Ok(Rappen(-300)));
    }

    #[test]
    fn refuses_text_that_is_not_whole_rappen() {
        assert!(Rappen::parse_chf("").is_err());
        assert!(Rappen::parse_chf("abc").is_err());
        assert!(Rappen::parse_chf("1.234").is_err());
        assert!(Rappen::parse_chf("1e5").is_err());
        assert!(Rappen::parse_chf("99999999999999999999").is_err());
        assert_eq!(
            Rappen::parse_chf("92233720368547758.07"),
            Ok(Rappen(i64::MAX))
        );
        assert!(Rappen::parse_chf("92233720368547758.08").is_err());
    }

    #[test]
    fn formats_with_swiss_grouping() {
        assert_eq!(Rappen(1_808_000).to_string(), "CHF 18'080.00");
        assert_eq!(Rappen(5).format_plain(), "0.05");
        assert_eq!(Rappen(-3_000).format_plain(), "−30.00");
        assert_eq!(Rappen(100_000_000).format_plain(), "1'000'000.00");
    }

    #[test]
    fn commission_rounds_half_up_to_the_rappen() {
        assert_eq!(
            BasisPoints(4_000).commission_on(Rappen(8_555)),
            Rappen(3_422)
        );
        assert_eq!(BasisPoints(5_000).commission_on(Rappen(1)), Rappen(1));
        assert_eq!(BasisPoints(0).commission_on(Rappen(9_999)), Rappen(0));
        assert_eq!(BasisPoints(4_250).percent_text(), "42.5 %");
        assert_eq!(BasisPoints(4_000).percent_text(), "40 %");
        assert_eq!(BasisPoints(4_205).percent_text(), "42.05 %");
        assert_eq!(BasisPoints(5).percent_text(), "0.05 %");
    }
}
