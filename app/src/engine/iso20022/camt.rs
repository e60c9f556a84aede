//! Reads what the bank reports back: bank-to-customer statements (camt.053, `BkToCstmrStmt`) and
//! debit/credit notifications (camt.054, `BkToCstmrDbtCdtNtfctn`), ISO 20022, any message version
//! (`urn:iso:std:iso:20022:tech:xsd:camt.053.001.NN`; the .04 and .08 structures are handled:
//! `Sts` as text or `Sts/Cd`, related parties with or without `Pty`). Elements are matched on their
//! local names; nothing is validated against a schema here.
//!
//! Amounts become integer minor units exactly from their decimal text, never through a float.

use super::BankFileError;
use crate::engine::STUDIO_TIME_ZONE;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone as _};
use roxmltree::{Document, Node};

/// Which message a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatementKind {
    /// camt.053, bank-to-customer statement (end of day, booked entries).
    Camt053,
    /// camt.054, bank-to-customer debit/credit notification (single or batch bookings, often
    /// with the transaction details a statement leaves out).
    Camt054,
}

/// A camt.053 statement or camt.054 notification file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankStatement {
    /// Which message.
    pub kind: StatementKind,
    /// GrpHdr/MsgId.
    pub message_id: String,
    /// Stmt/Id (camt.053) or Ntfctn/Id (camt.054) of the first statement/notification.
    pub statement_id: Option<String>,
    /// The first statement's account as written: Acct/Id/IBAN, else Acct/Id/Othr/Id. Not
    /// validated (foreign files use other account forms).
    pub account: Option<String>,
    /// GrpHdr/CreDtTm. A time written without offset is taken as Swiss local time.
    pub created_at: Option<DateTime<FixedOffset>>,
    /// Every Stmt/Bal of every statement, in file order (camt.054 has none).
    pub balances: Vec<StatementBalance>,
    /// Every Ntry of every Stmt/Ntfctn, in file order.
    pub entries: Vec<StatementEntry>,
}

/// A balance of a statement (Stmt/Bal), e.g. the closing booked balance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementBalance {
    /// Tp/CdOrPrtry/Cd (or Prtry): `OPBD` opening booked, `CLBD` closing booked, `CLAV` closing
    /// available, …
    pub balance_type: String,
    /// Amt in minor units of `currency` (see [`StatementEntry::amount_minor`]); never negative,
    /// the sign is `direction`.
    pub amount_minor: i64,
    /// Amt/@Ccy, ISO 4217.
    pub currency: String,
    /// CdtDbtInd: a debit balance is an overdraft.
    pub direction: Direction,
    /// Dt/Dt or the date of Dt/DtTm.
    pub date: Option<NaiveDate>,
}

/// One booking (Ntry): a single transfer, or a batch of transfers booked as one amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementEntry {
    /// 0-based position in the file (over all statements), for stable keys; messages number
    /// entries from 1.
    pub index: usize,
    /// Ntry/Amt in minor units of `currency`, exact: `2080.40` CHF is 208040, `2700` JPY is 2700
    /// (ISO 4217 exponents of [`CURRENCY_EXPONENTS`]). Never negative; the sign is `direction`.
    pub amount_minor: i64,
    /// Ntry/Amt/@Ccy, ISO 4217.
    pub currency: String,
    /// Ntry/CdtDbtInd.
    pub direction: Direction,
    /// Ntry/RvslInd: the entry cancels an earlier booking of the opposite direction.
    pub reversal: bool,
    /// Ntry/Sts/Cd (v08) or Ntry/Sts (v04): `BOOK`, `PDNG`, `INFO`.
    pub status: String,
    /// Ntry/BookgDt/Dt, or the date of BookgDt/DtTm as written.
    pub booking_date: Option<NaiveDate>,
    /// Ntry/ValDt/Dt, or the date of ValDt/DtTm as written.
    pub value_date: Option<NaiveDate>,
    /// Ntry/AcctSvcrRef: the bank's reference of the booking.
    pub account_servicer_ref: Option<String>,
    /// Ntry/AddtlNtryInf: the bank's booking text.
    pub additional_info: Option<String>,
    /// Ntry/NtryDtls/TxDtls, in file order: one for a single booking, many for a batch booking,
    /// none when the bank reports no details.
    pub transactions: Vec<EntryTransaction>,
}

/// Credit (money in) or debit (money out), from the account owner's view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `CRDT`.
    Credit,
    /// `DBIT`.
    Debit,
}

/// One transaction of an entry (Ntry/NtryDtls/TxDtls).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryTransaction {
    /// Refs/EndToEndId; `None` if absent or `NOTPROVIDED`. For the engine's own transfers it is
    /// the pain.001 `EndToEndId`.
    pub end_to_end_id: Option<String>,
    /// Refs/InstrId.
    pub instruction_id: Option<String>,
    /// TxDtls/Amt, else AmtDtls/TxAmt/Amt, in minor units of `currency`.
    pub amount_minor: Option<i64>,
    /// The currency of `amount_minor`.
    pub currency: Option<String>,
    /// RmtInf/Strd/CdtrRefInf/Ref: a QR reference or ISO 11649 creditor reference (RF…).
    pub creditor_reference: Option<String>,
    /// Every RmtInf/Ustrd, joined with a space.
    pub unstructured_remittance: Option<String>,
    /// RtrInf/Rsn/Cd (or Prtry): why a transfer came back, e.g. `AC04` (account closed).
    pub return_reason: Option<String>,
    /// The other party: RltdPties/Cdtr for a debit, RltdPties/Dbtr for a credit (its Pty/Nm in
    /// v08, Nm in v04, or the agent's name).
    pub counterparty_name: Option<String>,
}

/// ISO 4217 minor-unit exponents of the currencies whose amounts can be read. Any other currency
/// is refused rather than guessed, as a wrong exponent would scale the amount.
pub const CURRENCY_EXPONENTS: [(&str, u32); 8] = [
    ("CHF", 2),
    ("EUR", 2),
    ("USD", 2),
    ("GBP", 2),
    ("SEK", 2),
    ("NOK", 2),
    ("DKK", 2),
    ("JPY", 0),
];

const NOT_PROVIDED: &str = "NOTPROVIDED";

/// Parses a camt.053 statement or camt.054 notification of any message version.
///
/// Errors ([`BankFileError`]): the text is not well-formed XML (with the parser's line and
/// column); the document is a payment file (pain.*) or anything else but camt.053/054; GrpHdr/
/// MsgId, an entry's or balance's Amt, Ccy, CdtDbtInd or Sts is missing; an amount is not a
/// decimal number, has more decimals than its currency or an unknown currency; a credit/debit
/// indicator, reversal indicator or date is malformed. Entry messages name the entry (1-based)
/// and its AcctSvcrRef.
pub fn parse_statement(xml: &str) -> Result<BankStatement, BankFileError> {
    let document = Document::parse(xml).map_err(|source| {
        let position = source.pos();
        BankFileError::NotXml {
            line: position.row,
            column: position.col,
            source,
        }
    })?;
    let root = document.root_element();
    let namespace = root.tag_name().namespace().unwrap_or_default();
    let message_type = namespace
        .strip_prefix("urn:iso:std:iso:20022:tech:xsd:")
        .unwrap_or_default();
    let (kind, message_element, container_element) = if message_type.starts_with("camt.053.") {
        (StatementKind::Camt053, "BkToCstmrStmt", "Stmt")
    } else if message_type.starts_with("camt.054.") {
        (StatementKind::Camt054, "BkToCstmrDbtCdtNtfctn", "Ntfctn")
    } else if message_type.starts_with("pain.") {
        return Err(BankFileError::PaymentFile {
            kind: message_type.chars().take("pain.001".len()).collect(),
        });
    } else {
        return Err(BankFileError::NotAStatement {
            root: root.tag_name().name().to_string(),
            namespace: namespace.to_string(),
        });
    };
    let message = child(root, message_element).ok_or(BankFileError::MissingElement {
        location: "the document".into(),
        element: message_element,
    })?;
    let header = child(message, "GrpHdr").ok_or(BankFileError::MissingElement {
        location: "the document".into(),
        element: "GrpHdr",
    })?;
    let message_id = text_at(header, &["MsgId"]).ok_or(BankFileError::MissingElement {
        location: "the group header".into(),
        element: "MsgId",
    })?;
    let created_at = match text_at(header, &["CreDtTm"]) {
        Some(text) => Some(date_time("the group header", "CreDtTm", &text)?),
        None => None,
    };
    let containers: Vec<Node> = children(message, container_element).collect();
    let first = containers.first().copied();
    let mut balances = Vec::new();
    let mut entries = Vec::new();
    for container in containers {
        for balance in children(container, "Bal") {
            balances.push(parse_balance(balance, balances.len())?);
        }
        for entry in children(container, "Ntry") {
            entries.push(parse_entry(entry, entries.len())?);
        }
    }
    Ok(BankStatement {
        kind,
        message_id,
        statement_id: first.and_then(|c| text_at(c, &["Id"])),
        account: first.and_then(|c| {
            text_at(c, &["Acct", "Id", "IBAN"])
                .or_else(|| text_at(c, &["Acct", "Id", "Othr", "Id"]))
        }),
        created_at,
        balances,
        entries,
    })
}

fn parse_balance(node: Node, index: usize) -> Result<StatementBalance, BankFileError> {
    let balance_type = text_at(node, &["Tp", "CdOrPrtry", "Cd"])
        .or_else(|| text_at(node, &["Tp", "CdOrPrtry", "Prtry"]))
        .unwrap_or_default();
    let location = format!("balance {} ({balance_type})", index + 1);
    let (amount_minor, currency) = amount(&location, child(node, "Amt"))?;
    Ok(StatementBalance {
        amount_minor,
        currency,
        direction: direction(&location, node)?,
        date: date_choice(&location, node, "Dt")?,
        balance_type,
    })
}

fn parse_entry(node: Node, index: usize) -> Result<StatementEntry, BankFileError> {
    let account_servicer_ref = text_at(node, &["AcctSvcrRef"]);
    let location = match &account_servicer_ref {
        Some(reference) => format!("entry {} (bank reference {reference})", index + 1),
        None => format!("entry {}", index + 1),
    };
    let (amount_minor, currency) = amount(&location, child(node, "Amt"))?;
    let direction = direction(&location, node)?;
    let reversal = match text_at(node, &["RvslInd"]).as_deref() {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(other) => {
            return Err(BankFileError::InvalidIndicator {
                location,
                element: "RvslInd",
                text: other.to_string(),
            })
        }
    };
    // v08 codes the status (Sts/Cd, or Sts/Prtry); v04 writes it as the element's text.
    let status = child(node, "Sts")
        .and_then(|sts| {
            text_at(sts, &["Cd"])
                .or_else(|| text_at(sts, &["Prtry"]))
                .or_else(|| trimmed(sts.text()))
        })
        .ok_or_else(|| BankFileError::MissingElement {
            location: location.clone(),
            element: "Sts",
        })?;
    let mut transactions = Vec::new();
    for details in children(node, "NtryDtls") {
        for transaction in children(details, "TxDtls") {
            let tx_location = format!("{location}, transaction {}", transactions.len() + 1);
            transactions.push(parse_transaction(transaction, direction, &tx_location)?);
        }
    }
    Ok(StatementEntry {
        index,
        amount_minor,
        currency,
        direction,
        reversal,
        status,
        booking_date: date_choice(&location, node, "BookgDt")?,
        value_date: date_choice(&location, node, "ValDt")?,
        additional_info: text_at(node, &["AddtlNtryInf"]),
        account_servicer_ref,
        transactions,
    })
}

fn parse_transaction(
    node: Node,
    entry_direction: Direction,
    location: &str,
) -> Result<EntryTransaction, BankFileError> {
    let amount_node =
        child(node, "Amt").or_else(|| descendant_at(node, &["AmtDtls", "TxAmt", "Amt"]));
    let (amount_minor, currency) = match amount_node {
        Some(node) => {
            let (minor, currency) = amount(location, Some(node))?;
            (Some(minor), Some(currency))
        }
        None => (None, None),
    };
    let direction = if child(node, "CdtDbtInd").is_some() {
        direction(location, node)?
    } else {
        entry_direction
    };
    let counterparty = match direction {
        Direction::Debit => "Cdtr",
        Direction::Credit => "Dbtr",
    };
    let unstructured: Vec<String> = descendant_at(node, &["RmtInf"])
        .map(|remittance| {
            children(remittance, "Ustrd")
                .filter_map(|u| trimmed(u.text()))
                .collect()
        })
        .unwrap_or_default();
    Ok(EntryTransaction {
        end_to_end_id: text_at(node, &["Refs", "EndToEndId"]).filter(|id| id != NOT_PROVIDED),
        instruction_id: text_at(node, &["Refs", "InstrId"]),
        amount_minor,
        currency,
        creditor_reference: descendant_at(node, &["RmtInf"]).and_then(|remittance| {
            children(remittance, "Strd").find_map(|s| text_at(s, &["CdtrRefInf", "Ref"]))
        }),
        unstructured_remittance: if unstructured.is_empty() {
            None
        } else {
            Some(unstructured.join(" "))
        },
        return_reason: text_at(node, &["RtrInf", "Rsn", "Cd"])
            .or_else(|| text_at(node, &["RtrInf", "Rsn", "Prtry"])),
        counterparty_name: descendant_at(node, &["RltdPties", counterparty]).and_then(party_name),
    })
}

/// The name of a related party: `Pty/Nm` (v08 `Party40Choice`), `Agt/FinInstnId/Nm` (an agent),
/// or `Nm` (v04 `PartyIdentification43`).
fn party_name(party: Node) -> Option<String> {
    text_at(party, &["Pty", "Nm"])
        .or_else(|| text_at(party, &["Agt", "FinInstnId", "Nm"]))
        .or_else(|| text_at(party, &["Nm"]))
}

/// Reads an `Amt` element (`<Amt Ccy="CHF">2080.40</Amt>`) into minor units and currency.
fn amount(location: &str, node: Option<Node>) -> Result<(i64, String), BankFileError> {
    let node = node.ok_or_else(|| BankFileError::MissingElement {
        location: location.to_string(),
        element: "Amt",
    })?;
    let currency = node
        .attribute("Ccy")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| BankFileError::MissingElement {
            location: location.to_string(),
            element: "Amt/@Ccy",
        })?
        .to_string();
    let text = node.text().unwrap_or_default().trim();
    let minor = minor_units(location, text, &currency)?;
    Ok((minor, currency))
}

/// Converts the decimal text of an amount to minor units of `currency`, exactly: `18.15` EUR is
/// 1815, `2700` JPY is 2700. Trailing zeros beyond the currency's decimals are accepted
/// (`35.000` CHF is 3500, the same number); any other extra decimal is refused.
fn minor_units(location: &str, text: &str, currency: &str) -> Result<i64, BankFileError> {
    let exponent = CURRENCY_EXPONENTS
        .iter()
        .find(|(code, _)| *code == currency)
        .map(|(_, exponent)| *exponent)
        .ok_or_else(|| BankFileError::UnsupportedCurrency {
            location: location.to_string(),
            currency: currency.to_string(),
            known: CURRENCY_EXPONENTS
                .iter()
                .map(|(code, _)| *code)
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let invalid = || BankFileError::InvalidAmount {
        location: location.to_string(),
        text: text.to_string(),
    };
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return Err(invalid());
    }
    let places = exponent as usize;
    let fraction = match fraction.get(places..) {
        Some(extra) if extra.bytes().any(|b| b != b'0') => {
            return Err(BankFileError::TooManyDecimals {
                location: location.to_string(),
                text: text.to_string(),
                currency: currency.to_string(),
                exponent,
            })
        }
        Some(_) => &fraction[..places],
        None => fraction,
    };
    let out_of_range = || BankFileError::AmountOutOfRange {
        location: location.to_string(),
        text: text.to_string(),
    };
    // Both parts are ASCII digits by now, so parsing can only fail by overflow.
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| out_of_range())?
    };
    let padded = format!("{fraction:0<places$}");
    let fraction: i64 = if padded.is_empty() {
        0
    } else {
        padded.parse().map_err(|_| out_of_range())?
    };
    whole
        .checked_mul(10_i64.pow(exponent))
        .and_then(|scaled| scaled.checked_add(fraction))
        .ok_or_else(out_of_range)
}

fn direction(location: &str, node: Node) -> Result<Direction, BankFileError> {
    match text_at(node, &["CdtDbtInd"]) {
        Some(code) if code == "CRDT" => Ok(Direction::Credit),
        Some(code) if code == "DBIT" => Ok(Direction::Debit),
        Some(text) => Err(BankFileError::InvalidDirection {
            location: location.to_string(),
            text,
        }),
        None => Err(BankFileError::MissingElement {
            location: location.to_string(),
            element: "CdtDbtInd",
        }),
    }
}

/// A `DateAndDateTime2Choice` child (`BookgDt`, `ValDt`, `Dt`): its `Dt`, or the date of its
/// `DtTm` as written (the bank's local date, whatever the offset).
fn date_choice(
    location: &str,
    node: Node,
    element: &'static str,
) -> Result<Option<NaiveDate>, BankFileError> {
    let Some(choice) = child(node, element) else {
        return Ok(None);
    };
    let invalid = |text: String| BankFileError::InvalidDate {
        location: location.to_string(),
        element,
        text,
    };
    if let Some(text) = text_at(choice, &["Dt"]) {
        // xs:date may carry a time zone (`2026-12-01+01:00`); the calendar date is what counts.
        return match NaiveDate::parse_and_remainder(&text, "%Y-%m-%d") {
            Ok((date, rest)) if rest.is_empty() || is_time_zone(rest) => Ok(Some(date)),
            Ok(_) | Err(_) => Err(invalid(text)),
        };
    }
    match text_at(choice, &["DtTm"]) {
        Some(text) => match NaiveDateTime::parse_and_remainder(&text, "%Y-%m-%dT%H:%M:%S%.f") {
            Ok((date_time, rest)) if rest.is_empty() || is_time_zone(rest) => {
                Ok(Some(date_time.date()))
            }
            Ok(_) | Err(_) => Err(invalid(text)),
        },
        None => Ok(None),
    }
}

/// `Z`, `+01:00` or `-05:00`.
fn is_time_zone(text: &str) -> bool {
    let b = text.as_bytes();
    text == "Z"
        || (b.len() == 6
            && matches!(b[0], b'+' | b'-')
            && b[1..3].iter().all(u8::is_ascii_digit)
            && b[3] == b':'
            && b[4..6].iter().all(u8::is_ascii_digit))
}

/// An ISO 8601 date-time with offset; one written without offset is Swiss local time (the Swiss
/// banks' convention). Malformed text, or a local time in the hour skipped by the spring clock
/// change, is [`BankFileError::InvalidDate`].
fn date_time(
    location: &str,
    element: &'static str,
    text: &str,
) -> Result<DateTime<FixedOffset>, BankFileError> {
    let invalid = || BankFileError::InvalidDate {
        location: location.to_string(),
        element,
        text: text.to_string(),
    };
    match DateTime::parse_from_rfc3339(text) {
        Ok(with_offset) => Ok(with_offset),
        Err(_) => {
            let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .map_err(|_| invalid())?;
            STUDIO_TIME_ZONE
                .from_local_datetime(&local)
                .earliest()
                .map(|zoned| zoned.fixed_offset())
                .ok_or_else(invalid)
        }
    }
}

/// The first element child of `node` with this local name.
fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// The element children of `node` with this local name.
fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The element at a path of local names below `node` (first match at each step).
fn descendant_at<'a, 'input>(node: Node<'a, 'input>, path: &[&str]) -> Option<Node<'a, 'input>> {
    path.iter().try_fold(node, |at, name| child(at, name))
}

/// The trimmed, non-empty text of the element at `path`.
fn text_at(node: Node, path: &[&str]) -> Option<String> {
    descendant_at(node, path).and_then(|n| trimmed(n.text()))
}

fn trimmed(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::super::testing::{assert_valid, fixture};
    use super::*;

    const GENKGO_SAMPLE: &str = include_str!("../../../fixtures/iso20022/camt053-sample-v8.xml");
    const STUDIO_053: &str = include_str!("../../../fixtures/iso20022/camt053-studio-chf.xml");
    const STUDIO_054: &str = include_str!("../../../fixtures/iso20022/camt054-studio-chf.xml");

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn the_genkgo_sample_is_read_with_exact_minor_units_in_four_currencies() {
        let statement = parse_statement(GENKGO_SAMPLE).unwrap();
        assert_eq!(statement.kind, StatementKind::Camt053);
        assert_eq!(statement.message_id, "CAMT053RIB000000000001");
        assert_eq!(
            statement.statement_id.as_deref(),
            Some("253EURNL26VAYB8060476890")
        );
        assert_eq!(statement.account.as_deref(), Some("NL26VAYB8060476890"));
        assert_eq!(
            statement.created_at,
            Some(DateTime::parse_from_rfc3339("2015-03-10T18:43:50+00:00").unwrap())
        );
        let balances: Vec<(&str, i64, &str, Direction)> = statement
            .balances
            .iter()
            .map(|b| {
                (
                    b.balance_type.as_str(),
                    b.amount_minor,
                    b.currency.as_str(),
                    b.direction,
                )
            })
            .collect();
        assert_eq!(
            balances,
            [
                ("OPBD", 1815, "EUR", Direction::Credit),
                ("CLBD", 2700, "SEK", Direction::Debit),
                ("OPAV", 3500, "CHF", Direction::Credit),
                ("CLAV", 2700, "JPY", Direction::Debit),
            ]
        );
        assert_eq!(statement.balances[3].date, date(2014, 12, 31));

        assert_eq!(statement.entries.len(), 1);
        let entry = &statement.entries[0];
        assert_eq!(entry.index, 0);
        assert_eq!((entry.amount_minor, entry.currency.as_str()), (885, "EUR"));
        assert_eq!(entry.direction, Direction::Credit);
        assert!(!entry.reversal);
        assert_eq!(entry.status, "BOOK");
        assert_eq!(
            entry.booking_date,
            date(2014, 12, 31),
            "the date of BookgDt/DtTm"
        );
        assert_eq!(entry.value_date, date(2015, 1, 2));
        assert_eq!(
            entry.account_servicer_ref.as_deref(),
            Some("AAAASESS-FP-CN_98765/01")
        );
        assert_eq!(entry.transactions.len(), 1);
        let transaction = &entry.transactions[0];
        assert_eq!(
            transaction.end_to_end_id.as_deref(),
            Some("MUELL/FINP/RA12345")
        );
        assert_eq!(transaction.amount_minor, Some(0));
        assert_eq!(transaction.currency.as_deref(), Some("SEK"));
        assert_eq!(
            transaction.creditor_reference.as_deref(),
            Some("4654654654654654")
        );
        assert_eq!(transaction.counterparty_name.as_deref(), Some("NAME NAME"));
        assert_eq!(transaction.return_reason, None);
    }

    #[test]
    fn the_studio_statement_fixture_is_valid_against_the_camt_053_schema() {
        assert_valid(
            &fixture("camt053-studio-chf.xml"),
            &fixture("six-camt.053.001.08.xsd"),
        );
        assert_valid(
            &fixture("camt053-sample-v8.xml"),
            &fixture("six-camt.053.001.08.xsd"),
        );
    }

    #[test]
    fn the_studio_statement_yields_the_batch_the_return_the_acquirer_credit_and_the_unknown_debit()
    {
        let statement = parse_statement(STUDIO_053).unwrap();
        assert_eq!(statement.kind, StatementKind::Camt053);
        assert_eq!(statement.account.as_deref(), Some("CH9300762011623852957"));
        assert_eq!(
            statement.created_at.map(|at| at.to_rfc3339()),
            Some("2026-12-04T18:05:00+01:00".to_string())
        );
        let closing = statement
            .balances
            .iter()
            .find(|b| b.balance_type == "CLBD")
            .unwrap();
        assert_eq!(
            (closing.amount_minor, closing.direction),
            (1_173_205, Direction::Credit)
        );
        let entries = &statement.entries;
        assert_eq!(entries.len(), 5);
        assert_eq!(
            entries.iter().map(|e| e.index).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        let signed: i64 = entries
            .iter()
            .map(|e| match e.direction {
                Direction::Credit => e.amount_minor,
                Direction::Debit => -e.amount_minor,
            })
            .sum();
        assert_eq!(1_000_000 + signed, 1_173_205, "opening + entries = closing");

        let batch = &entries[0];
        assert_eq!(
            (batch.amount_minor, batch.direction, batch.booking_date),
            (208_040, Direction::Debit, date(2026, 12, 1))
        );
        let parts: Vec<(Option<&str>, Option<i64>, Option<&str>)> = batch
            .transactions
            .iter()
            .map(|t| {
                (
                    t.end_to_end_id.as_deref(),
                    t.amount_minor,
                    t.counterparty_name.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            parts,
            [
                (
                    Some("E2E-FIXTURE-0001"),
                    Some(125_040),
                    Some("Zoë Müller-Lüdenscheid")
                ),
                (Some("E2E-FIXTURE-0002"), Some(83_000), Some("Marco Rossi")),
            ]
        );
        assert_eq!(
            batch.transactions[0].instruction_id.as_deref(),
            Some("INSTR-FIXTURE-0001")
        );

        let single = &entries[1];
        assert_eq!(
            (single.amount_minor, single.direction),
            (41_500, Direction::Debit)
        );
        assert_eq!(
            single.transactions[0].end_to_end_id.as_deref(),
            Some("E2E-FIXTURE-0003")
        );

        let returned = &entries[2];
        assert_eq!(
            (returned.amount_minor, returned.direction, returned.reversal),
            (41_500, Direction::Credit, false)
        );
        assert_eq!(
            returned.account_servicer_ref.as_deref(),
            Some("BK20261202-000201")
        );
        let returned_transfer = &returned.transactions[0];
        assert_eq!(
            returned_transfer.end_to_end_id.as_deref(),
            Some("E2E-FIXTURE-0003")
        );
        assert_eq!(returned_transfer.return_reason.as_deref(), Some("AC04"));
        assert_eq!(
            returned_transfer.counterparty_name.as_deref(),
            Some("Lea Brunner")
        );

        let acquirer = &entries[3];
        assert_eq!(
            (acquirer.amount_minor, acquirer.direction),
            (391_235, Direction::Credit)
        );
        let settlement = &acquirer.transactions[0];
        assert_eq!(settlement.end_to_end_id, None, "NOTPROVIDED is no id");
        assert_eq!(
            settlement.counterparty_name.as_deref(),
            Some("Worldline Schweiz AG")
        );
        assert!(acquirer
            .additional_info
            .as_deref()
            .unwrap()
            .contains("WL-BATCH-20261201-0042"));
        assert_eq!(
            settlement.unstructured_remittance.as_deref(),
            Some("Settlement WL-BATCH-20261201-0042 card payments 01.12.2026")
        );

        let unknown = &entries[4];
        assert_eq!(
            (unknown.amount_minor, unknown.direction),
            (9_990, Direction::Debit)
        );
        assert_eq!(
            unknown.transactions[0].end_to_end_id.as_deref(),
            Some("UNKNOWN-0009")
        );
        assert_eq!(unknown.booking_date, date(2026, 12, 4));
    }

    #[test]
    fn the_debit_notification_is_read_with_amounts_from_the_amount_details() {
        let notification = parse_statement(STUDIO_054).unwrap();
        assert_eq!(notification.kind, StatementKind::Camt054);
        assert_eq!(notification.message_id, "NTFCTN-MSG-20261201-0001");
        assert_eq!(
            notification.statement_id.as_deref(),
            Some("NTFCTN-20261201-0001")
        );
        assert_eq!(
            notification.account.as_deref(),
            Some("CH9300762011623852957")
        );
        assert!(notification.balances.is_empty());
        assert_eq!(notification.entries.len(), 1);
        let entry = &notification.entries[0];
        assert_eq!(
            (entry.amount_minor, entry.direction),
            (208_040, Direction::Debit)
        );
        let parts = entry
            .transactions
            .iter()
            .map(|t| {
                (
                    t.end_to_end_id.as_deref(),
                    t.amount_minor,
                    t.currency.as_deref(),
                    t.counterparty_name.as_deref(),
                )
            })
            .collect::<Vec<_>>();
        assert_eq!(
            parts,
            [
                (
                    Some("E2E-FIXTURE-0001"),
                    Some(125_040),
                    Some("CHF"),
                    Some("Zoë Müller-Lüdenscheid")
                ),
                (
                    Some("E2E-FIXTURE-0002"),
                    Some(83_000),
                    Some("CHF"),
                    Some("Marco Rossi")
                ),
            ]
        );
    }

    #[test]
    fn a_version_04_statement_with_status_text_and_plain_party_names_is_read() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.04">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>V04-1</MsgId><CreDtTm>2026-12-01T18:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>S1</Id>
      <Acct><Id><IBAN>CH9300762011623852957</IBAN></Id></Acct>
      <Ntry>
        <Amt Ccy="CHF">12.5</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <RvslInd>true</RvslInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2026-12-01</Dt></BookgDt>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>E2E-V04</EndToEndId></Refs>
          <RltdPties><Cdtr><Nm>Anna Keller</Nm></Cdtr></RltdPties>
        </TxDtls></NtryDtls>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>"#;
        let statement = parse_statement(xml).unwrap();
        // No offset: Swiss local time, CET in December.
        assert_eq!(
            statement.created_at.map(|at| at.to_rfc3339()),
            Some("2026-12-01T18:00:00+01:00".to_string())
        );
        let entry = &statement.entries[0];
        assert_eq!((entry.amount_minor, entry.status.as_str()), (1250, "BOOK"));
        assert!(entry.reversal);
        assert_eq!(
            entry.transactions[0].counterparty_name.as_deref(),
            Some("Anna Keller")
        );
        assert_eq!(entry.transactions[0].amount_minor, None);
    }

    #[test]
    fn a_payment_file_given_as_a_statement_is_refused_as_such() {
        let pain = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><CstmrCdtTrfInitn/></Document>"#;
        let error = parse_statement(pain).unwrap_err();
        assert!(matches!(error, BankFileError::PaymentFile { .. }));
        assert!(
            error.to_string().starts_with(
                "this is a pain.001 payment file (sent to the bank), not a bank statement"
            ),
            "{error}"
        );
        let other = parse_statement(r#"<html xmlns="http://www.w3.org/1999/xhtml"/>"#).unwrap_err();
        assert_eq!(
            other.to_string(),
            "this is not a camt.053 bank statement or camt.054 notification (its root element is \
             'html' in namespace 'http://www.w3.org/1999/xhtml')"
        );
    }

    #[test]
    fn text_that_is_not_xml_is_refused_with_line_and_column() {
        let error = parse_statement("Datum;Betrag\n01.12.2026;2080.40\n").unwrap_err();
        let BankFileError::NotXml { line, column, .. } = &error else {
            panic!("expected NotXml, got {error:?}");
        };
        assert_eq!((*line, *column), (1, 1));
        assert!(error
            .to_string()
            .starts_with("this is not a readable XML file (line 1, column 1): "));
        let truncated = parse_statement(&STUDIO_053[..2000]).unwrap_err();
        assert!(
            matches!(truncated, BankFileError::NotXml { .. }),
            "{truncated:?}"
        );
    }

    #[test]
    fn a_chf_amount_with_three_decimals_is_refused_naming_the_entry() {
        let xml = STUDIO_053.replacen(
            r#"<Amt Ccy="CHF">415.00</Amt>"#,
            r#"<Amt Ccy="CHF">12.345</Amt>"#,
            1,
        );
        let error = parse_statement(&xml).unwrap_err();
        assert!(matches!(
            error,
            BankFileError::TooManyDecimals { exponent: 2, .. }
        ));
        assert_eq!(
            error.to_string(),
            "entry 2 (bank reference BK20261201-000102): the amount '12.345' has more decimals \
             than CHF has (2)"
        );
    }

    #[test]
    fn malformed_amounts_directions_and_missing_elements_are_refused_naming_the_entry() {
        let not_a_number = STUDIO_053.replacen(">99.90<", ">99,90<", 1);
        assert_eq!(
            parse_statement(&not_a_number).unwrap_err().to_string(),
            "entry 5 (bank reference BK20261204-000401): the amount '99,90' is not a decimal \
             number (digits with an optional decimal point)"
        );
        let no_direction =
            STUDIO_053.replacen("<CdtDbtInd>DBIT</CdtDbtInd>\n        <Sts>", "<Sts>", 1);
        assert_eq!(
            parse_statement(&no_direction).unwrap_err().to_string(),
            "entry 1 (bank reference BK20261201-000101): CdtDbtInd is missing"
        );
        let no_amount = STUDIO_053.replacen(r#"<Amt Ccy="CHF">3912.35</Amt>"#, "", 1);
        assert!(matches!(
            parse_statement(&no_amount).unwrap_err(),
            BankFileError::MissingElement { element: "Amt", .. }
        ));
        let unknown_currency = STUDIO_053.replacen(r#"Ccy="CHF">99.90"#, r#"Ccy="XAU">99.90"#, 1);
        assert!(matches!(
            parse_statement(&unknown_currency).unwrap_err(),
            BankFileError::UnsupportedCurrency { .. }
        ));
    }

    #[test]
    fn amounts_are_converted_exactly_by_each_currency_exponent() {
        let minor = |text: &str, currency: &str| minor_units("test", text, currency).unwrap();
        assert_eq!(minor("18.15", "EUR"), 1815);
        assert_eq!(minor("2700", "JPY"), 2700);
        assert_eq!(minor("8.8", "CHF"), 880);
        assert_eq!(minor(".05", "CHF"), 5);
        assert_eq!(
            minor("35.000", "CHF"),
            3500,
            "trailing zeros are the same number"
        );
        assert_eq!(minor("0", "SEK"), 0);
        assert_eq!(minor("92233720368547758.07", "CHF"), i64::MAX);
        assert!(matches!(
            minor_units("test", "92233720368547758.08", "CHF"),
            Err(BankFileError::AmountOutOfRange { .. })
        ));
        assert!(matches!(
            minor_units("test", "2700.5", "JPY"),
            Err(BankFileError::TooManyDecimals { exponent: 0, .. })
        ));
        for bad in ["", ".", "-1.00", "1e3", "1.2.3", "CHF 5"] {
            assert!(
                matches!(
                    minor_units("test", bad, "CHF"),
                    Err(BankFileError::InvalidAmount { .. })
                ),
                "{bad}"
            );
        }
    }
}
