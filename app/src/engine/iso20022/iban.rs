//! Account numbers: IBANs as people type them, checked (ISO 13616 check digits and each country's
//! account format, via the `iban_validate` crate) and told apart from QR-IBANs.
//!
//! An IBAN is personal data: [`Iban`]'s `Debug` shows only its country, check digits and last four
//! characters, so a value that lands in a log does not reveal the account.

use iban::IbanLike as _;
use std::fmt;
use std::str::FromStr;

/// A valid IBAN in electronic form: uppercase, no spaces, e.g. `CH9300762011623852957`.
///
/// Built only by [`parse_iban`] / [`parse_payee_iban`] (or `str::parse`), so the check digits and
/// the country's account format are always correct. `Display` prints the electronic form (what
/// bank files carry); [`Iban::formatted`] the paper form in groups of four; `Debug` a masked form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Iban(String);

/// What an account number can receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// A regular IBAN: receives any credit transfer.
    Iban,
    /// A QR-IBAN (SIX "Swiss Implementation Guidelines for the QR-bill": a CH/LI IBAN whose
    /// institution id is in the QR-IID range 30000–31999). It only receives payments carrying a
    /// QR reference, i.e. QR-bill payments.
    QrIban,
}

impl Iban {
    /// The IBAN in electronic form (uppercase, no spaces).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The two-letter ISO 3166 country code, e.g. `CH`.
    pub fn country(&self) -> &str {
        &self.0[..2]
    }

    /// Whether the account is held in Switzerland or Liechtenstein (which share the Swiss
    /// clearing system and IBAN format).
    pub fn is_swiss(&self) -> bool {
        matches!(self.country(), "CH" | "LI")
    }

    /// The institution id (IID) of a Swiss/Liechtenstein IBAN: the five digits after the check
    /// digits (IBAN positions 5–9), e.g. `00762`. `None` for other countries.
    pub fn institution_id(&self) -> Option<&str> {
        if self.is_swiss() {
            self.0.get(4..9)
        } else {
            None
        }
    }

    /// Regular IBAN or QR-IBAN. A CH/LI IBAN whose IID is in 30000–31999 is a QR-IBAN (SIX "Swiss
    /// Implementation Guidelines for the QR-bill", section "QR-IID").
    pub fn kind(&self) -> AccountKind {
        // The CH/LI account format makes the IID five digits, so 30000–31999 is "starts 30 or 31".
        let qr_iid = self
            .institution_id()
            .is_some_and(|iid| iid.starts_with("30") || iid.starts_with("31"));
        if qr_iid {
            AccountKind::QrIban
        } else {
            AccountKind::Iban
        }
    }

    /// The paper form: groups of four separated by spaces, e.g. `CH93 0076 2011 6238 5295 7`.
    pub fn formatted(&self) -> String {
        let mut text = String::with_capacity(self.0.len() + self.0.len() / 4);
        for (i, c) in self.0.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                text.push(' ');
            }
            text.push(c);
        }
        text
    }
}

impl fmt::Display for Iban {
    /// The electronic form, `CH9300762011623852957`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Iban {
    /// `Iban(CH93…2957)`: enough to tell accounts apart in a log, not enough to pay into one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = self.0.len().saturating_sub(4).max(4);
        write!(
            f,
            "Iban({}…{})",
            self.0.get(..4).unwrap_or_default(),
            self.0.get(tail..).unwrap_or_default()
        )
    }
}

impl FromStr for Iban {
    type Err = IbanError;

    /// Same as [`parse_iban`].
    fn from_str(text: &str) -> Result<Iban, IbanError> {
        parse_iban(text)
    }
}

pub use crate::domain::IbanError;

/// IBAN lengths (ISO 13616 IBAN registry, SWIFT) of Switzerland, Liechtenstein and the
/// neighbouring countries cross-border staff bank in, so a missing or extra character gets a
/// message about the length rather than about the check digits.
pub const IBAN_LENGTHS: [(&str, usize); 6] = [
    ("CH", 21),
    ("LI", 21),
    ("DE", 22),
    ("AT", 20),
    ("FR", 27),
    ("IT", 27),
];

/// Parses an IBAN as a person types it: spaces anywhere and lowercase letters are accepted.
///
/// Errors: [`IbanError`] naming the problem (empty, not IBAN-shaped, wrong length for the
/// country, check digits, country format, unknown country).
pub fn parse_iban(text: &str) -> Result<Iban, IbanError> {
    let electronic: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if electronic.is_empty() {
        return Err(IbanError::Empty);
    }
    if let Some(&(country, expected)) = IBAN_LENGTHS
        .iter()
        .find(|(country, _)| electronic.starts_with(country))
    {
        let actual = electronic.chars().count();
        if actual != expected {
            return Err(IbanError::Length {
                country: country.to_string(),
                expected,
                actual,
            });
        }
    }
    match electronic.parse::<iban::Iban>() {
        Ok(valid) => Ok(Iban(valid.electronic_str().to_string())),
        Err(iban::ParseIbanError::InvalidBaseIban { source }) => Err(match source {
            iban::ParseBaseIbanError::InvalidFormat => IbanError::Format,
            iban::ParseBaseIbanError::InvalidChecksum => IbanError::Checksum,
        }),
        Err(iban::ParseIbanError::InvalidBban(base)) => Err(IbanError::CountryFormat {
            country: base.country_code().to_string(),
        }),
        Err(iban::ParseIbanError::UnknownCountry(base)) => Err(IbanError::UnknownCountry {
            country: base.country_code().to_string(),
        }),
    }
}

/// Parses the IBAN a payout is paid into: as [`parse_iban`], but a QR-IBAN is refused
/// ([`IbanError::QrIban`]), because a QR-IBAN only receives payments with a QR reference and a
/// payout transfer has none. Any valid IBAN is accepted otherwise, also outside CH/LI
/// (cross-border staff).
pub fn parse_payee_iban(text: &str) -> Result<Iban, IbanError> {
    let iban = parse_iban(text)?;
    match iban.kind() {
        AccountKind::Iban => Ok(iban),
        AccountKind::QrIban => Err(IbanError::QrIban),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const TEST_IBAN: &str = "CH9300762011623852957";
    /// A QR-IBAN from the SIX QR-bill examples: IID 31999.
    const TEST_QR_IBAN: &str = "CH44 3199 9123 0008 8901 2";

    #[test]
    fn the_swiss_test_iban_parses_also_with_spaces_and_lowercase() {
        for typed in [
            TEST_IBAN,
            "CH93 0076 2011 6238 5295 7",
            "ch93 0076 2011 6238 5295 7",
            "  ch9300762011 623852957 ",
        ] {
            let iban = parse_iban(typed).unwrap();
            assert_eq!(iban.as_str(), TEST_IBAN, "{typed}");
            assert_eq!(iban.to_string(), TEST_IBAN);
            assert_eq!(iban.kind(), AccountKind::Iban);
            assert!(iban.is_swiss());
            assert_eq!(iban.institution_id(), Some("00762"));
        }
        assert_eq!(TEST_IBAN.parse::<Iban>().unwrap().as_str(), TEST_IBAN);
    }

    #[test]
    fn a_wrong_check_digit_is_refused_with_words() {
        let error = parse_iban("CH94 0076 2011 6238 5295 7").unwrap_err();
        assert!(matches!(error, IbanError::Checksum), "{error:?}");
        assert_eq!(
            error.to_string(),
            "this is not a valid IBAN: the check digits do not match (please compare it with \
             the bank's document; a character is probably mistyped)"
        );
        // An IBAN is personal data: refusals are logged, so they never carry it.
        assert!(!error.to_string().contains("5295"));
        assert!(!format!("{error:?}").contains("5295"));
    }

    #[test]
    fn a_missing_digit_is_named_as_the_wrong_length_for_the_country() {
        let error = parse_iban("CH93 0076 2011 6238 5295").unwrap_err();
        assert_eq!(
            error.to_string(),
            "the IBAN has the wrong length for a CH IBAN: 21 characters expected, 20 given"
        );
    }

    #[test]
    fn text_that_is_no_iban_at_all_and_empty_text_are_refused() {
        assert_eq!(parse_iban("  ").unwrap_err(), IbanError::Empty);
        assert!(matches!(
            parse_iban("12345").unwrap_err(),
            IbanError::Format
        ));
        let unknown = parse_iban("XX82 0000 0000 0000 0000 0").unwrap_err();
        assert!(
            matches!(
                unknown,
                IbanError::UnknownCountry { .. } | IbanError::Checksum
            ),
            "{unknown:?}"
        );
    }

    #[test]
    fn a_valid_foreign_iban_is_accepted_but_not_swiss() {
        let german = parse_payee_iban("DE89 3704 0044 0532 0130 00").unwrap();
        assert!(!german.is_swiss());
        assert_eq!(german.country(), "DE");
        assert_eq!(german.institution_id(), None);
        assert_eq!(german.kind(), AccountKind::Iban);
    }

    #[test]
    fn a_qr_iban_is_recognised_and_refused_as_a_payee_account_with_the_reason() {
        let qr = parse_iban(TEST_QR_IBAN).unwrap();
        assert_eq!(qr.kind(), AccountKind::QrIban);
        assert_eq!(qr.institution_id(), Some("31999"));
        let error = parse_payee_iban(TEST_QR_IBAN).unwrap_err();
        assert!(matches!(error, IbanError::QrIban));
        let message = error.to_string();
        assert!(message.contains("QR-IBAN"), "{message}");
        assert!(message.contains("QR reference"), "{message}");
        assert!(message.contains("regular IBAN"), "{message}");
        assert_eq!(parse_payee_iban(TEST_IBAN).unwrap().as_str(), TEST_IBAN);
    }

    #[test]
    fn debug_output_does_not_reveal_the_full_iban() {
        let iban = parse_iban(TEST_IBAN).unwrap();
        let debug = format!("{iban:?}");
        assert_eq!(debug, "Iban(CH93…2957)");
        assert!(!debug.contains("0076"));
        let in_a_struct = format!("{:?}", Some(iban));
        assert!(!in_a_struct.contains(TEST_IBAN));
    }

    #[test]
    fn formatted_groups_the_iban_by_four() {
        let iban = parse_iban(TEST_IBAN).unwrap();
        assert_eq!(iban.formatted(), "CH93 0076 2011 6238 5295 7");
    }
}
