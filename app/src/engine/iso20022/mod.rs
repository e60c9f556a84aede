//! Swiss bank files: pure conversion between the engine's values and ISO 20022 XML. This module
//! never touches the database, the clock or the network; callers hand it values and store or send
//! what it returns.
//!
//! - [`iban`]: account numbers (ISO 13616 IBAN, checked with `iban_validate`; QR-IBANs told apart
//!   per the SIX "Swiss Implementation Guidelines for the QR-bill").
//! - [`pain001`]: writes credit transfer initiations, pain.001.001.09 as profiled by the Swiss
//!   Payment Standards 2022 ("CH version 03", schema `pain.001.001.09.ch.03.xsd`, copied to
//!   `app/fixtures/iso20022/`); every file it writes is valid against that schema.
//! - [`camt`]: reads bank-to-customer statements camt.053 and debit/credit notifications
//!   camt.054, any message version (tested with .001.04 and .001.08 structures).
//!
//! Amounts are integers in both directions: [`Rappen`](crate::domain::Rappen) are written as
//! francs with exactly two decimals by integer arithmetic, and statement amounts are read into
//! minor units exactly from their decimal text; no float ever holds money here.

pub mod camt;
pub mod iban;
pub mod pain001;

use crate::domain::Rappen;

/// Why a bank file could not be written (pain.001) or read (camt.053/054). Messages are for the
/// person operating payouts: each names the transfer, entry or party and the field concerned.
/// Transfers and entries are numbered from 1 in messages (entry 1 has
/// [`camt::StatementEntry::index`] 0).
#[derive(Debug, thiserror::Error)]
pub enum BankFileError {
    /// A payment order without transfers (a pain.001 needs at least one `CdtTrfTxInf`).
    #[error("the payment order has no transfers; a pain.001 file needs at least one")]
    NoTransfers,
    /// A transfer amount of zero or less (the schema's amounts are positive; a refund is not a
    /// negative transfer).
    #[error(
        "{transfer}: the amount {amount} is not positive; a transfer must move more than CHF 0.00"
    )]
    AmountNotPositive {
        /// Which transfer, e.g. `transfer 3 (end-to-end id PAYOUT-42)`.
        transfer: String,
        /// The refused amount.
        amount: Rappen,
    },
    /// A transfer amount above CHF 999,999,999.99, the largest amount the Swiss Payment
    /// Standards accept in `InstdAmt`.
    #[error("{transfer}: the amount {amount} is above CHF 999'999'999.99, the largest a bank transfer may carry")]
    AmountTooLarge {
        /// Which transfer.
        transfer: String,
        /// The refused amount.
        amount: Rappen,
    },
    /// A required text or reference is empty (the schema's texts have at least one character).
    #[error("{location}: the {field} is empty")]
    EmptyField {
        /// Where, e.g. `the debtor` or `transfer 2 (end-to-end id X)`.
        location: String,
        /// Which field, e.g. `creditor name`.
        field: &'static str,
    },
    /// A text or reference longer than the schema or the Swiss Payment Standards allow.
    #[error("{location}: the {field} has {actual} characters; at most {max} are allowed")]
    TooLong {
        /// Where.
        location: String,
        /// Which field.
        field: &'static str,
        /// The limit (characters).
        max: usize,
        /// The length given (characters).
        actual: usize,
    },
    /// A message, payment, instruction or end-to-end id with a character outside the SWIFT set
    /// the CH schema allows for ids (`Max35Text_pain001_ch`: A–Z, a–z, 0–9, space and
    /// `+ ? / - : ( ) . , '`).
    #[error(
        "{location}: the {field} '{value}' contains '{character}', which bank references may not \
         contain (allowed: letters A-Z, digits, space and + ? / - : ( ) . , ')"
    )]
    IdCharacter {
        /// Where.
        location: String,
        /// Which id.
        field: &'static str,
        /// The whole id.
        value: String,
        /// The first refused character.
        character: char,
    },
    /// A name, address or remittance text with a character outside the Swiss Payment Standards'
    /// character set (the CH schema's `SPSText`: Basic Latin, Latin-1 Supplement, Latin
    /// Extended-A, `€`, `Ș ș Ț ț`, no control characters). Nothing is transliterated silently.
    #[error(
        "{location}: the {field} contains '{character}' (U+{code:04X}), which Swiss bank files \
         cannot carry (allowed: Latin letters with their accents, digits and common punctuation); \
         please write it with Latin letters",
        code = u32::from(*.character)
    )]
    TextCharacter {
        /// Where.
        location: String,
        /// Which field.
        field: &'static str,
        /// The first refused character.
        character: char,
    },
    /// A country that is not two uppercase letters (ISO 3166 alpha-2, schema `CountryCode`).
    #[error(
        "{location}: the country '{country}' is not a two-letter ISO 3166 country code such as CH"
    )]
    CountryCode {
        /// Where.
        location: String,
        /// The refused value.
        country: String,
    },
    /// Two transfers in one file share an end-to-end id, so the bank's report could not tell
    /// them apart.
    #[error(
        "transfers {first} and {second} have the same end-to-end id '{id}'; each transfer in a \
         file needs its own, as the bank reports it back to identify the payout"
    )]
    DuplicateEndToEndId {
        /// The earlier transfer (1-based).
        first: usize,
        /// The later transfer (1-based).
        second: usize,
        /// The shared id.
        id: String,
    },
    /// A QR-IBAN as debtor or creditor account: it only receives QR-bill payments (with a QR
    /// reference), which a payout is not.
    #[error(
        "{location}: the account is a QR-IBAN, which only receives QR-bill payments carrying a \
         QR reference; use the regular IBAN of the account"
    )]
    QrIban {
        /// Which account, e.g. `the debtor account`.
        location: String,
    },
    /// A debtor agent BIC that does not have the BIC shape (ISO 9362: 8 or 11 characters).
    #[error("the debtor's bank BIC '{bic}' is not a valid BIC (8 or 11 letters and digits, e.g. UBSWCHZH80A)")]
    InvalidBic {
        /// The refused value.
        bic: String,
    },
    /// No BIC for the debtor's bank and a debtor account outside CH/LI, whose IBAN does not
    /// contain a Swiss institution id to identify the bank with.
    #[error(
        "the debtor account is a {country} IBAN, so its bank cannot be identified from the IBAN; \
         please give the bank's BIC"
    )]
    DebtorAgentUnknown {
        /// The debtor account's country.
        country: String,
    },
    /// Writing the XML failed (cannot happen with an in-memory buffer; reported, not ignored).
    #[error("writing the payment file failed: {reason}")]
    Write {
        /// The writer's error.
        reason: String,
    },
    /// The text is not well-formed XML.
    #[error("this is not a readable XML file (line {line}, column {column}): {source}")]
    NotXml {
        /// 1-based line of the problem.
        line: u32,
        /// 1-based column of the problem.
        column: u32,
        /// The parser's error.
        #[source]
        source: roxmltree::Error,
    },
    /// A payment initiation (pain.*) file where a statement was expected: a common mix-up of the
    /// file sent to the bank with the file received from it.
    #[error(
        "this is a {kind} payment file (sent to the bank), not a bank statement; please upload \
         the camt.053 statement or camt.054 notification received from the bank"
    )]
    PaymentFile {
        /// The message kind, e.g. `pain.001`.
        kind: String,
    },
    /// Some other XML document.
    #[error(
        "this is not a camt.053 bank statement or camt.054 notification (its root element is \
         '{root}' in namespace '{namespace}')"
    )]
    NotAStatement {
        /// The root element's local name.
        root: String,
        /// The root element's namespace (empty if none).
        namespace: String,
    },
    /// An element the statement needs is missing, e.g. an entry without `Amt`.
    #[error("{location}: {element} is missing")]
    MissingElement {
        /// Where, e.g. `entry 4 (bank reference 2026120312345)`.
        location: String,
        /// The element's path, e.g. `Amt` or `CdtDbtInd`.
        element: &'static str,
    },
    /// An amount text that is not a non-negative decimal number.
    #[error("{location}: the amount '{text}' is not a decimal number (digits with an optional decimal point)")]
    InvalidAmount {
        /// Where.
        location: String,
        /// The text as written.
        text: String,
    },
    /// An amount with more (non-zero) decimals than its currency has minor units (ISO 4217).
    #[error("{location}: the amount '{text}' has more decimals than {currency} has ({exponent})")]
    TooManyDecimals {
        /// Where.
        location: String,
        /// The text as written.
        text: String,
        /// The amount's currency.
        currency: String,
        /// The currency's number of decimals.
        exponent: u32,
    },
    /// A currency whose number of decimals this reader does not know, so the amount cannot be
    /// converted to minor units exactly.
    #[error("{location}: the currency '{currency}' is not supported (known: {known})")]
    UnsupportedCurrency {
        /// Where.
        location: String,
        /// The currency code as written.
        currency: String,
        /// The supported currency codes.
        known: String,
    },
    /// An amount too large for `i64` minor units.
    #[error("{location}: the amount '{text}' is too large")]
    AmountOutOfRange {
        /// Where.
        location: String,
        /// The text as written.
        text: String,
    },
    /// A credit/debit indicator other than `CRDT` or `DBIT`.
    #[error("{location}: the credit/debit indicator '{text}' is neither CRDT nor DBIT")]
    InvalidDirection {
        /// Where.
        location: String,
        /// The text as written.
        text: String,
    },
    /// A date or date-time that is not in ISO 8601 form.
    #[error("{location}: {element} '{text}' is not a valid ISO 8601 date or date-time")]
    InvalidDate {
        /// Where.
        location: String,
        /// Which element, e.g. `BookgDt`.
        element: &'static str,
        /// The text as written.
        text: String,
    },
    /// A true/false indicator that is not an XML Schema boolean (`true`, `false`, `1`, `0`).
    #[error("{location}: {element} '{text}' is neither true nor false")]
    InvalidIndicator {
        /// Where.
        location: String,
        /// Which element, e.g. `RvslInd`.
        element: &'static str,
        /// The text as written.
        text: String,
    },
}

/// Validation of generated and fixture XML against the schemas in `app/fixtures/iso20022/`.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub(crate) mod testing {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// A file in `app/fixtures/iso20022/`.
    pub fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/iso20022")
            .join(name)
    }

    /// Runs `xmllint --noout --schema SCHEMA FILE` and fails the test with xmllint's messages if
    /// the file is not valid. A missing xmllint fails too: skipping would hide invalid files.
    pub fn assert_valid(file: &Path, schema: &Path) {
        let output = Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(schema)
            .arg(file)
            .output()
            .unwrap_or_else(|error| {
                panic!(
                    "xmllint could not be run ({error}); install libxml2-utils \
                     (apt-get install libxml2-utils) to validate bank files against their schema"
                )
            });
        assert!(
            output.status.success(),
            "{} is not valid against {}:\n{}",
            file.display(),
            schema.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
