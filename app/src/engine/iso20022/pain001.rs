//! Writes credit transfer initiations: ISO 20022 pain.001.001.09 as profiled by the Swiss Payment
//! Standards 2022 (SIX, "CH version 03", schema `pain.001.001.09.ch.03.xsd`). One file carries one
//! message with one payment information block: one debtor account, one execution date, CHF only.
//!
//! Everything the CH schema would refuse is refused here first, with a message naming the transfer
//! and the field ([`BankFileError`]), so a file that reaches the bank is valid against the schema.

use super::iban::{AccountKind, Iban};
use super::BankFileError;
use crate::domain::Rappen;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use std::collections::HashMap;
use std::io;

/// The message's XML namespace (ISO 20022 pain.001.001.09; the CH profile keeps it).
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09";

/// The currency of every transfer the engine initiates.
pub const CURRENCY: &str = "CHF";

/// The largest transfer amount: CHF 999,999,999.99, the upper bound of `InstdAmt` in the SEPA
/// and Swiss Payment Standards implementation guidelines (0.01 to 999,999,999.99).
pub const MAX_AMOUNT: Rappen = Rappen(99_999_999_999);

/// Max characters of ids (schema `Max35Text_pain001_ch`: MsgId, PmtInfId, InstrId, EndToEndId).
pub const MAX_ID_LEN: usize = 35;

/// Max characters of a party name (SPS 2022 Implementation Guidelines pain.001, Dbtr/Nm and
/// Cdtr/Nm: max 70, although the schema type allows 140).
pub const MAX_NAME_LEN: usize = 70;

/// Max characters of the unstructured remittance information (schema `RmtInf/Ustrd`, Max140Text,
/// one occurrence in the CH profile).
pub const MAX_REMITTANCE_LEN: usize = 140;

/// The clearing system code of the Swiss institution id (IID) in `ClrSysMmbId/ClrSysId/Cd`
/// (ISO 20022 External Code Set `ExternalClearingSystemIdentification1Code`: CHBCC, the Swiss
/// financial institution identification).
pub const SWISS_CLEARING_SYSTEM: &str = "CHBCC";

/// One pain.001 file: one message (`GrpHdr`) with one payment information block (`PmtInf`), i.e.
/// one debtor account and one execution date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentOrder {
    /// GrpHdr/MsgId: unique per file (banks refuse a repeated one as a duplicate); 1–35 characters
    /// of the SWIFT set (see [`BankFileError::IdCharacter`]).
    pub message_id: String,
    /// GrpHdr/CreDtTm, written in UTC (`2026-12-01T09:30:00Z`).
    pub created_at: DateTime<Utc>,
    /// GrpHdr/InitgPty/Nm: the business name, 1–70 characters.
    pub initiating_party: String,
    /// PmtInf/PmtInfId: 1–35 characters of the SWIFT set; banks return it in camt.053/054
    /// (`Btch/PmtInfId`) for the batch booking.
    pub payment_info_id: String,
    /// PmtInf/ReqdExctnDt/Dt: the day the bank is to debit the account.
    pub requested_execution_date: NaiveDate,
    /// PmtInf/Dbtr: the business paying.
    pub debtor: Party,
    /// PmtInf/DbtrAcct/Id/IBAN: the account debited; a QR-IBAN is refused.
    pub debtor_account: Iban,
    /// PmtInf/DbtrAgt/FinInstnId/BICFI: the debtor's bank. `None` for a CH/LI account writes the
    /// institution id taken from the IBAN instead (`ClrSysMmbId`, clearing system `CHBCC`);
    /// `None` for an account elsewhere is refused ([`BankFileError::DebtorAgentUnknown`]).
    pub debtor_agent_bic: Option<String>,
    /// PmtInf/PmtTpInf/CtgyPurp/Cd (ISO ExternalCategoryPurpose1Code, 4 capital letters), e.g.
    /// `SALA`: the bank handles the batch as salary payments (confidential booking, no details
    /// of the single transfers on the debtor's statement). `None` leaves `PmtTpInf` out.
    pub category_purpose: Option<String>,
    /// The transfers (`CdtTrfTxInf`), at least one, in the order given.
    pub transfers: Vec<CreditTransfer>,
}

/// A debtor or creditor: name and, optionally, a structured postal address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// Nm: 1–70 characters of the SPS character set (leading and trailing spaces are dropped).
    pub name: String,
    /// PstlAdr, written structured (StrtNm, BldgNb, PstCd, TwnNm, Ctry) as SPS 2022 prefers.
    pub address: Option<PostalAddress>,
}

/// A structured postal address (schema `PostalAddress24`, CH profile). Optional parts that are
/// empty or only spaces are left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostalAddress {
    /// StrtNm: max 70 characters.
    pub street: Option<String>,
    /// BldgNb: max 16 characters.
    pub building_number: Option<String>,
    /// PstCd: 1–16 characters.
    pub post_code: String,
    /// TwnNm: 1–35 characters.
    pub town: String,
    /// Ctry: ISO 3166 alpha-2, two uppercase letters (`CH`).
    pub country: String,
}

/// One credit transfer (`CdtTrfTxInf`) in CHF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditTransfer {
    /// PmtId/InstrId: 1–35 characters of the SWIFT set; between the business and its bank.
    pub instruction_id: String,
    /// PmtId/EndToEndId: 1–35 characters of the SWIFT set, unique within the file. Ties the
    /// transfer to the payout: the bank returns it in camt.053/054 (`Refs/EndToEndId`).
    pub end_to_end_id: String,
    /// Amt/InstdAmt in Rappen: 1 to [`MAX_AMOUNT`]; written as CHF with two decimals.
    pub amount: Rappen,
    /// Cdtr: the person or company paid.
    pub creditor: Party,
    /// CdtrAcct/Id/IBAN: a regular IBAN (a QR-IBAN is refused).
    pub creditor_account: Iban,
    /// RmtInf/Ustrd: up to 140 characters the creditor sees on their statement; empty is left out.
    pub remittance_info: Option<String>,
}

/// Writes `order` as a pain.001.001.09 file for Swiss banks: UTF-8 XML with declaration, indented,
/// valid against `pain.001.001.09.ch.03.xsd`. Currency CHF; `NbOfTxs` and `CtrlSum` (the sum of
/// the amounts) are written in both the group header and the payment information block.
///
/// Errors: [`BankFileError`] for the first problem found — no transfers, an amount ≤ 0 or above
/// [`MAX_AMOUNT`], an id empty, longer than 35 or with characters outside the SWIFT set, a name
/// empty or longer than 70, a remittance longer than 140, text outside the SPS character set, an
/// invalid country code or BIC, a duplicate end-to-end id, a QR-IBAN as debtor or creditor
/// account, a non-Swiss debtor account without BIC.
pub fn write_pain001(order: &PaymentOrder) -> Result<String, BankFileError> {
    let debtor_agent = validate(order)?;
    write_document(order, &debtor_agent)
        .map_err(|error| BankFileError::Write {
            reason: error.to_string(),
        })
        .and_then(|bytes| {
            String::from_utf8(bytes).map_err(|error| BankFileError::Write {
                reason: error.to_string(),
            })
        })
}

/// How the debtor's bank is identified in `DbtrAgt/FinInstnId`.
enum DebtorAgent {
    /// `BICFI`.
    Bic(String),
    /// `ClrSysMmbId` with clearing system CHBCC and this IID.
    SwissIid(String),
}

/// Checks everything the CH schema and the Swiss Payment Standards require and returns how the
/// debtor's bank is written.
fn validate(order: &PaymentOrder) -> Result<DebtorAgent, BankFileError> {
    const HEADER: &str = "the payment order";
    check_id(HEADER, "message id", &order.message_id)?;
    check_id(HEADER, "payment information id", &order.payment_info_id)?;
    check_text(
        "the initiating party",
        "name",
        &order.initiating_party,
        MAX_NAME_LEN,
    )?;
    check_party("the debtor", &order.debtor)?;
    if order.debtor_account.kind() == AccountKind::QrIban {
        return Err(BankFileError::QrIban {
            location: "the debtor account".into(),
        });
    }
    let debtor_agent = debtor_agent(order)?;
    if let Some(purpose) = &order.category_purpose {
        if purpose.len() != 4 || !purpose.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(BankFileError::IdCharacter {
                location: HEADER.into(),
                field: "category purpose",
                value: purpose.clone(),
                character: purpose
                    .chars()
                    .find(|c| !c.is_ascii_uppercase())
                    .unwrap_or(' '),
            });
        }
    }
    if order.transfers.is_empty() {
        return Err(BankFileError::NoTransfers);
    }
    let mut end_to_end_ids: HashMap<&str, usize> = HashMap::new();
    for (i, transfer) in order.transfers.iter().enumerate() {
        let number = i + 1;
        let location = format!(
            "transfer {number} (end-to-end id {})",
            transfer.end_to_end_id
        );
        check_id(&location, "end-to-end id", &transfer.end_to_end_id)?;
        check_id(&location, "instruction id", &transfer.instruction_id)?;
        if let Some(first) = end_to_end_ids.insert(&transfer.end_to_end_id, number) {
            return Err(BankFileError::DuplicateEndToEndId {
                first,
                second: number,
                id: transfer.end_to_end_id.clone(),
            });
        }
        if transfer.amount.minor() <= 0 {
            return Err(BankFileError::AmountNotPositive {
                transfer: location,
                amount: transfer.amount,
            });
        }
        if transfer.amount > MAX_AMOUNT {
            return Err(BankFileError::AmountTooLarge {
                transfer: location,
                amount: transfer.amount,
            });
        }
        check_text(
            &location,
            "creditor name",
            &transfer.creditor.name,
            MAX_NAME_LEN,
        )?;
        if let Some(address) = &transfer.creditor.address {
            check_address(&format!("{location}, creditor address"), address)?;
        }
        if transfer.creditor_account.kind() == AccountKind::QrIban {
            return Err(BankFileError::QrIban {
                location: format!("{location}: the creditor account"),
            });
        }
        if let Some(remittance) = present(transfer.remittance_info.as_deref()) {
            check_text(
                &location,
                "remittance information",
                remittance,
                MAX_REMITTANCE_LEN,
            )?;
        }
    }
    Ok(debtor_agent)
}

/// The debtor's bank: the BIC if given, else the IID of a CH/LI IBAN. SPS 2022 Implementation
/// Guidelines pain.001, PmtInf/DbtrAgt/FinInstnId: BIC or IID (ClrSysMmbId, CHBCC), not both.
fn debtor_agent(order: &PaymentOrder) -> Result<DebtorAgent, BankFileError> {
    match order.debtor_agent_bic.as_deref().map(str::trim) {
        Some(bic) => {
            if is_bic(bic) {
                Ok(DebtorAgent::Bic(bic.to_string()))
            } else {
                Err(BankFileError::InvalidBic {
                    bic: bic.to_string(),
                })
            }
        }
        None => match order.debtor_account.institution_id() {
            Some(iid) => Ok(DebtorAgent::SwissIid(iid.to_string())),
            None => Err(BankFileError::DebtorAgentUnknown {
                country: order.debtor_account.country().to_string(),
            }),
        },
    }
}

/// Schema `BICFIDec2014Identifier`: `[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?`.
fn is_bic(text: &str) -> bool {
    let bytes = text.as_bytes();
    let upper_or_digit = |b: &u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    matches!(bytes.len(), 8 | 11)
        && bytes[..4].iter().all(upper_or_digit)
        && bytes[4..6].iter().all(u8::is_ascii_uppercase)
        && bytes[6..].iter().all(upper_or_digit)
}

/// Ids (schema `Max35Text_pain001_ch`): 1–35 characters of
/// `[A-Za-z0-9]`, space and `+ ? / - : ( ) . , '`.
fn check_id(location: &str, field: &'static str, value: &str) -> Result<(), BankFileError> {
    if value.is_empty() {
        return Err(BankFileError::EmptyField {
            location: location.to_string(),
            field,
        });
    }
    let actual = value.chars().count();
    if actual > MAX_ID_LEN {
        return Err(BankFileError::TooLong {
            location: location.to_string(),
            field,
            max: MAX_ID_LEN,
            actual,
        });
    }
    // The schema's pattern also lets `|` and non-ASCII spaces through (a quirk of its character
    // class); the SWIFT set the Swiss Payment Standards describe has neither, so both are refused.
    match value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || " +?/-:().,'".contains(*c)))
    {
        Some(character) => Err(BankFileError::IdCharacter {
            location: location.to_string(),
            field,
            value: value.to_string(),
            character,
        }),
        None => Ok(()),
    }
}

/// Texts (schema `SPSText` restricted to `max` characters): not empty after trimming, at most
/// `max` characters, every character in the SPS set.
fn check_text(
    location: &str,
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), BankFileError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(BankFileError::EmptyField {
            location: location.to_string(),
            field,
        });
    }
    let actual = value.chars().count();
    if actual > max {
        return Err(BankFileError::TooLong {
            location: location.to_string(),
            field,
            max,
            actual,
        });
    }
    match value.chars().find(|c| !is_sps_character(*c)) {
        Some(character) => Err(BankFileError::TextCharacter {
            location: location.to_string(),
            field,
            character,
        }),
        None => Ok(()),
    }
}

/// The CH schema's `SPSText` pattern: `[\p{IsBasicLatin}\p{IsLatin-1Supplement}
/// \p{IsLatinExtended-A}€ȘșȚț-[\p{C}]]`. Within those blocks `\p{C}` is the C0/C1 control
/// characters and the soft hyphen U+00AD (a format character).
fn is_sps_character(c: char) -> bool {
    matches!(c,
        '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{AC}' | '\u{AE}'..='\u{17F}' | '€' | 'Ș' | 'ș' | 'Ț' | 'ț')
}

fn check_party(location: &str, party: &Party) -> Result<(), BankFileError> {
    check_text(location, "name", &party.name, MAX_NAME_LEN)?;
    match &party.address {
        Some(address) => check_address(&format!("{location}'s address"), address),
        None => Ok(()),
    }
}

/// `PostalAddress24` as the CH profile allows it for debtor and creditor; `location` names whose
/// address it is.
fn check_address(location: &str, address: &PostalAddress) -> Result<(), BankFileError> {
    if let Some(street) = present(address.street.as_deref()) {
        check_text(location, "street", street, 70)?;
    }
    if let Some(building) = present(address.building_number.as_deref()) {
        check_text(location, "building number", building, 16)?;
    }
    check_text(location, "post code", &address.post_code, 16)?;
    check_text(location, "town", &address.town, 35)?;
    let country = address.country.trim();
    if country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(BankFileError::CountryCode {
            location: location.to_string(),
            country: address.country.clone(),
        })
    }
}

/// An optional text that is not empty after trimming.
fn present(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

/// Rappen as francs with exactly two decimals, by integer arithmetic: 1808000 → `18080.00`.
/// Only called with validated, positive amounts (and their sum, hence `i128`).
fn decimal_chf(rappen: i128) -> String {
    format!("{}.{:02}", rappen / 100, rappen % 100)
}

type XmlWriter = Writer<Vec<u8>>;

fn write_document(order: &PaymentOrder, debtor_agent: &DebtorAgent) -> io::Result<Vec<u8>> {
    let count = order.transfers.len().to_string();
    let control_sum = decimal_chf(
        order
            .transfers
            .iter()
            .map(|t| i128::from(t.amount.minor()))
            .sum(),
    );
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("Document")
        .with_attribute(("xmlns", NAMESPACE))
        .write_inner_content(|w| {
            w.create_element("CstmrCdtTrfInitn")
                .write_inner_content(|w| {
                    w.create_element("GrpHdr").write_inner_content(|w| {
                        leaf(w, "MsgId", &order.message_id)?;
                        leaf(
                            w,
                            "CreDtTm",
                            &order.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                        )?;
                        leaf(w, "NbOfTxs", &count)?;
                        leaf(w, "CtrlSum", &control_sum)?;
                        w.create_element("InitgPty").write_inner_content(|w| {
                            leaf(w, "Nm", order.initiating_party.trim())
                        })?;
                        Ok(())
                    })?;
                    w.create_element("PmtInf").write_inner_content(|w| {
                        leaf(w, "PmtInfId", &order.payment_info_id)?;
                        leaf(w, "PmtMtd", "TRF")?;
                        leaf(w, "NbOfTxs", &count)?;
                        leaf(w, "CtrlSum", &control_sum)?;
                        if let Some(purpose) = &order.category_purpose {
                            w.create_element("PmtTpInf").write_inner_content(|w| {
                                w.create_element("CtgyPurp")
                                    .write_inner_content(|w| leaf(w, "Cd", purpose))?;
                                Ok(())
                            })?;
                        }
                        w.create_element("ReqdExctnDt").write_inner_content(|w| {
                            leaf(
                                w,
                                "Dt",
                                &order
                                    .requested_execution_date
                                    .format("%Y-%m-%d")
                                    .to_string(),
                            )
                        })?;
                        party(w, "Dbtr", &order.debtor)?;
                        account(w, "DbtrAcct", &order.debtor_account)?;
                        w.create_element("DbtrAgt").write_inner_content(|w| {
                            w.create_element("FinInstnId").write_inner_content(|w| {
                                match debtor_agent {
                                    DebtorAgent::Bic(bic) => leaf(w, "BICFI", bic),
                                    DebtorAgent::SwissIid(iid) => {
                                        w.create_element("ClrSysMmbId").write_inner_content(
                                            |w| {
                                                w.create_element("ClrSysId").write_inner_content(
                                                    |w| leaf(w, "Cd", SWISS_CLEARING_SYSTEM),
                                                )?;
                                                leaf(w, "MmbId", iid)
                                            },
                                        )?;
                                        Ok(())
                                    }
                                }
                            })?;
                            Ok(())
                        })?;
                        for transfer in &order.transfers {
                            credit_transfer(w, transfer)?;
                        }
                        Ok(())
                    })?;
                    Ok(())
                })?;
            Ok(())
        })?;
    Ok(w.into_inner())
}

fn credit_transfer(w: &mut XmlWriter, transfer: &CreditTransfer) -> io::Result<()> {
    w.create_element("CdtTrfTxInf").write_inner_content(|w| {
        w.create_element("PmtId").write_inner_content(|w| {
            leaf(w, "InstrId", &transfer.instruction_id)?;
            leaf(w, "EndToEndId", &transfer.end_to_end_id)
        })?;
        w.create_element("Amt").write_inner_content(|w| {
            w.create_element("InstdAmt")
                .with_attribute(("Ccy", CURRENCY))
                .write_text_content(BytesText::new(&decimal_chf(i128::from(
                    transfer.amount.minor(),
                ))))?;
            Ok(())
        })?;
        party(w, "Cdtr", &transfer.creditor)?;
        account(w, "CdtrAcct", &transfer.creditor_account)?;
        if let Some(remittance) = present(transfer.remittance_info.as_deref()) {
            w.create_element("RmtInf")
                .write_inner_content(|w| leaf(w, "Ustrd", remittance))?;
        }
        Ok(())
    })?;
    Ok(())
}

fn party(w: &mut XmlWriter, element: &str, party: &Party) -> io::Result<()> {
    w.create_element(element).write_inner_content(|w| {
        leaf(w, "Nm", party.name.trim())?;
        if let Some(address) = &party.address {
            w.create_element("PstlAdr").write_inner_content(|w| {
                if let Some(street) = present(address.street.as_deref()) {
                    leaf(w, "StrtNm", street)?;
                }
                if let Some(building) = present(address.building_number.as_deref()) {
                    leaf(w, "BldgNb", building)?;
                }
                leaf(w, "PstCd", address.post_code.trim())?;
                leaf(w, "TwnNm", address.town.trim())?;
                leaf(w, "Ctry", address.country.trim())
            })?;
        }
        Ok(())
    })?;
    Ok(())
}

fn account(w: &mut XmlWriter, element: &str, iban: &Iban) -> io::Result<()> {
    w.create_element(element).write_inner_content(|w| {
        w.create_element("Id")
            .write_inner_content(|w| leaf(w, "IBAN", iban.as_str()))?;
        Ok(())
    })?;
    Ok(())
}

/// `<name>text</name>`, the text escaped by quick-xml.
fn leaf(w: &mut XmlWriter, name: &str, text: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(text))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::super::iban::parse_iban;
    use super::super::testing::{assert_valid, fixture};
    use super::*;

    fn order() -> PaymentOrder {
        PaymentOrder {
            message_id: "MSG-20261201-0001".into(),
            created_at: DateTime::parse_from_rfc3339("2026-12-01T09:30:00+01:00")
                .unwrap()
                .with_timezone(&Utc),
            initiating_party: "Salon Bellezza GmbH".into(),
            payment_info_id: "PMT-20261201-0001".into(),
            requested_execution_date: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
            debtor: Party {
                name: "Salon Bellezza GmbH".into(),
                address: Some(PostalAddress {
                    street: Some("Bahnhofstrasse".into()),
                    building_number: Some("12".into()),
                    post_code: "8001".into(),
                    town: "Zürich".into(),
                    country: "CH".into(),
                }),
            },
            debtor_account: parse_iban("CH93 0076 2011 6238 5295 7").unwrap(),
            debtor_agent_bic: None,
            category_purpose: Some("SALA".into()),
            transfers: vec![
                CreditTransfer {
                    instruction_id: "INSTR-0001".into(),
                    end_to_end_id: "E2E-PAYOUT-0001".into(),
                    amount: Rappen(1_808_000),
                    creditor: Party {
                        name: "Marco Rossi".into(),
                        address: Some(PostalAddress {
                            street: Some("Via Nassa".into()),
                            building_number: Some("5a".into()),
                            post_code: "6900".into(),
                            town: "Lugano".into(),
                            country: "CH".into(),
                        }),
                    },
                    creditor_account: parse_iban("CH56 0483 5012 3456 7800 9").unwrap(),
                    remittance_info: Some("Payout November 2026 <commission & tips>".into()),
                },
                CreditTransfer {
                    instruction_id: "INSTR-0002".into(),
                    end_to_end_id: "E2E-PAYOUT-0002".into(),
                    amount: Rappen(1),
                    creditor: Party {
                        name: "Zoë Müller-Lüdenscheid".into(),
                        address: None,
                    },
                    creditor_account: parse_iban("CH93 0076 2011 6238 5295 7").unwrap(),
                    remittance_info: None,
                },
                CreditTransfer {
                    instruction_id: "INSTR-0003".into(),
                    end_to_end_id: "E2E-PAYOUT-0003".into(),
                    amount: Rappen(99_999),
                    creditor: Party {
                        name: "Anna Keller".into(),
                        address: None,
                    },
                    creditor_account: parse_iban("DE89 3704 0044 0532 0130 00").unwrap(),
                    remittance_info: Some("Payout 2026-11".into()),
                },
            ],
        }
    }

    /// The text of every `<name>` element, in document order.
    fn texts(xml: &str, name: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(xml).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name((NAMESPACE, name)))
            .map(|n| n.text().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn a_file_with_three_transfers_is_valid_against_the_swiss_schema() {
        let xml = write_pain001(&order()).unwrap();
        let path = std::env::temp_dir().join(format!(
            "pain001-{}-{}.xml",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::write(&path, &xml).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            assert_valid(&path, &fixture("pain.001.001.09.ch.03.xsd"));
        });
        std::fs::remove_file(&path).unwrap();
        if let Err(failure) = outcome {
            std::panic::resume_unwind(failure);
        }
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    }

    #[test]
    fn totals_counts_and_amounts_are_written_with_two_decimals() {
        let xml = write_pain001(&order()).unwrap();
        assert_eq!(texts(&xml, "NbOfTxs"), ["3", "3"]);
        // 18080.00 + 0.01 + 999.99
        assert_eq!(texts(&xml, "CtrlSum"), ["19080.00", "19080.00"]);
        assert_eq!(texts(&xml, "InstdAmt"), ["18080.00", "0.01", "999.99"]);
        assert_eq!(
            texts(&xml, "EndToEndId"),
            ["E2E-PAYOUT-0001", "E2E-PAYOUT-0002", "E2E-PAYOUT-0003"]
        );
        assert!(xml.contains("<InstdAmt Ccy=\"CHF\">18080.00</InstdAmt>"));
        assert_eq!(texts(&xml, "PmtMtd"), ["TRF"]);
        assert_eq!(texts(&xml, "CreDtTm"), ["2026-12-01T08:30:00Z"]);
        assert_eq!(texts(&xml, "Dt"), ["2026-12-02"]);
    }

    #[test]
    fn names_keep_their_umlauts_and_markup_characters_are_escaped() {
        let xml = write_pain001(&order()).unwrap();
        assert!(xml.contains("<Nm>Zoë Müller-Lüdenscheid</Nm>"));
        assert!(xml.contains("&lt;commission &amp; tips&gt;"));
        assert_eq!(
            texts(&xml, "Ustrd"),
            ["Payout November 2026 <commission & tips>", "Payout 2026-11"]
        );
        assert_eq!(
            texts(&xml, "StrtNm"),
            ["Bahnhofstrasse", "Via Nassa"],
            "debtor and the creditor with an address"
        );
    }

    #[test]
    fn a_category_purpose_is_four_capital_letters_and_can_be_left_out() {
        let xml = write_pain001(&order()).unwrap();
        assert!(xml.contains("<PmtTpInf>"));
        let mut plain = order();
        plain.category_purpose = None;
        assert!(!write_pain001(&plain).unwrap().contains("PmtTpInf"));
        plain.category_purpose = Some("sal".into());
        let refusal = write_pain001(&plain).unwrap_err().to_string();
        assert!(refusal.contains("category purpose"), "{refusal}");
    }

    #[test]
    fn the_debtor_bank_is_the_iid_of_a_swiss_iban_or_the_bic_given() {
        let xml = write_pain001(&order()).unwrap();
        // The first Cd is the category purpose (salary), the second the clearing system.
        assert_eq!(texts(&xml, "Cd"), ["SALA", SWISS_CLEARING_SYSTEM]);
        assert_eq!(texts(&xml, "MmbId"), ["00762"]);
        assert!(texts(&xml, "BICFI").is_empty());

        let mut with_bic = order();
        with_bic.debtor_agent_bic = Some("UBSWCHZH80A".into());
        let xml = write_pain001(&with_bic).unwrap();
        assert_eq!(texts(&xml, "BICFI"), ["UBSWCHZH80A"]);
        assert!(texts(&xml, "MmbId").is_empty());

        with_bic.debtor_agent_bic = Some("UBS".into());
        assert!(matches!(
            write_pain001(&with_bic).unwrap_err(),
            BankFileError::InvalidBic { .. }
        ));

        let mut foreign = order();
        foreign.debtor_account = parse_iban("DE89 3704 0044 0532 0130 00").unwrap();
        assert_eq!(
            write_pain001(&foreign).unwrap_err().to_string(),
            "the debtor account is a DE IBAN, so its bank cannot be identified from the IBAN; \
             please give the bank's BIC"
        );
    }

    #[test]
    fn an_order_without_transfers_is_refused() {
        let mut empty = order();
        empty.transfers.clear();
        let error = write_pain001(&empty).unwrap_err();
        assert!(matches!(error, BankFileError::NoTransfers));
        assert_eq!(
            error.to_string(),
            "the payment order has no transfers; a pain.001 file needs at least one"
        );
    }

    #[test]
    fn a_zero_or_too_large_amount_is_refused_naming_the_transfer() {
        let mut zero = order();
        zero.transfers[1].amount = Rappen(0);
        assert_eq!(
            write_pain001(&zero).unwrap_err().to_string(),
            "transfer 2 (end-to-end id E2E-PAYOUT-0002): the amount CHF 0.00 is not positive; \
             a transfer must move more than CHF 0.00"
        );
        let mut huge = order();
        huge.transfers[0].amount = Rappen(MAX_AMOUNT.minor() + 1);
        assert!(matches!(
            write_pain001(&huge).unwrap_err(),
            BankFileError::AmountTooLarge { .. }
        ));
        huge.transfers[0].amount = MAX_AMOUNT;
        assert!(write_pain001(&huge).is_ok());
    }

    #[test]
    fn an_id_of_36_characters_or_with_foreign_characters_is_refused() {
        let mut long = order();
        long.transfers[2].end_to_end_id = "E".repeat(36);
        assert_eq!(
            write_pain001(&long).unwrap_err().to_string(),
            format!(
                "transfer 3 (end-to-end id {}): the end-to-end id has 36 characters; at most 35 \
                 are allowed",
                "E".repeat(36)
            )
        );
        let mut message = order();
        message.message_id = "MSG_2026".into();
        assert_eq!(
            write_pain001(&message).unwrap_err().to_string(),
            "the payment order: the message id 'MSG_2026' contains '_', which bank references \
             may not contain (allowed: letters A-Z, digits, space and + ? / - : ( ) . , ')"
        );
        let mut empty = order();
        empty.transfers[0].instruction_id = String::new();
        assert_eq!(
            write_pain001(&empty).unwrap_err().to_string(),
            "transfer 1 (end-to-end id E2E-PAYOUT-0001): the instruction id is empty"
        );
    }

    #[test]
    fn a_duplicate_end_to_end_id_is_refused() {
        let mut duplicate = order();
        duplicate.transfers[2].end_to_end_id = "E2E-PAYOUT-0001".into();
        let error = write_pain001(&duplicate).unwrap_err();
        assert!(matches!(
            error,
            BankFileError::DuplicateEndToEndId {
                first: 1,
                second: 3,
                ..
            }
        ));
        assert!(error
            .to_string()
            .starts_with("transfers 1 and 3 have the same end-to-end id 'E2E-PAYOUT-0001'"));
    }

    #[test]
    fn a_qr_iban_as_creditor_or_debtor_account_is_refused() {
        let qr = parse_iban("CH44 3199 9123 0008 8901 2").unwrap();
        let mut creditor = order();
        creditor.transfers[1].creditor_account = qr.clone();
        assert_eq!(
            write_pain001(&creditor).unwrap_err().to_string(),
            "transfer 2 (end-to-end id E2E-PAYOUT-0002): the creditor account: the account is a \
             QR-IBAN, which only receives QR-bill payments carrying a QR reference; use the \
             regular IBAN of the account"
        );
        let mut debtor = order();
        debtor.debtor_account = qr;
        assert!(matches!(
            write_pain001(&debtor).unwrap_err(),
            BankFileError::QrIban { .. }
        ));
    }

    #[test]
    fn names_and_texts_are_checked_for_length_emptiness_and_the_swiss_character_set() {
        let mut empty_name = order();
        empty_name.transfers[0].creditor.name = "  ".into();
        assert_eq!(
            write_pain001(&empty_name).unwrap_err().to_string(),
            "transfer 1 (end-to-end id E2E-PAYOUT-0001): the creditor name is empty"
        );
        let mut long_name = order();
        long_name.debtor.name = "A".repeat(71);
        assert!(matches!(
            write_pain001(&long_name).unwrap_err(),
            BankFileError::TooLong {
                max: 70,
                actual: 71,
                ..
            }
        ));
        let mut long_remittance = order();
        long_remittance.transfers[0].remittance_info = Some("x".repeat(141));
        assert!(matches!(
            write_pain001(&long_remittance).unwrap_err(),
            BankFileError::TooLong { max: 140, .. }
        ));
        let mut cyrillic = order();
        cyrillic.transfers[1].creditor.name = "Зоя Мюллер".into();
        assert_eq!(
            write_pain001(&cyrillic).unwrap_err().to_string(),
            "transfer 2 (end-to-end id E2E-PAYOUT-0002): the creditor name contains 'З' \
             (U+0417), which Swiss bank files cannot carry (allowed: Latin letters with their \
             accents, digits and common punctuation); please write it with Latin letters"
        );
        let mut newline = order();
        newline.transfers[0].remittance_info = Some("line one\nline two".into());
        assert!(matches!(
            write_pain001(&newline).unwrap_err(),
            BankFileError::TextCharacter {
                character: '\n',
                ..
            }
        ));
        let mut country = order();
        if let Some(address) = country.debtor.address.as_mut() {
            address.country = "Schweiz".into();
        }
        assert!(matches!(
            write_pain001(&country).unwrap_err(),
            BankFileError::CountryCode { .. }
        ));
    }

    #[test]
    fn romanian_and_euro_characters_the_schema_allows_pass() {
        let mut allowed = order();
        allowed.transfers[0].creditor.name = "Ștefan Țurcanu".into();
        allowed.transfers[0].remittance_info = Some("Prämie 50 € – Œuvre".into());
        let error = write_pain001(&allowed).unwrap_err();
        // The en dash is outside the SPS set; the rest of the text is not.
        assert!(matches!(
            error,
            BankFileError::TextCharacter {
                character: '–', ..
            }
        ));
        allowed.transfers[0].remittance_info = Some("Prämie 50 € - Œuvre".into());
        assert!(write_pain001(&allowed).is_ok());
    }
}
