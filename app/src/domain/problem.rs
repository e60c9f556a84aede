//! What the server refuses, as data, so that each reader's page can say it in their language
//! (issue 10) while the JSON API and the log keep one English sentence.
//!
//! Two kinds, as [`AppError`](super::AppError) has them: a [`FieldProblem`] is what is wrong
//! with one input (a 422 validation error names the field; the page shows the field's label and
//! then the problem), a [`Problem`] is a business rule or the current state refusing the whole
//! request (409 or 422 with its machine code, e.g. `till_already_open`). Each carries the values
//! its sentence needs (dates, Rappen amounts, names) instead of a finished sentence, and has one
//! English `explanation`, which is the error's `message`.
//!
//! Both are part of a stored format: an idempotent request's error response is stored as the
//! serialised [`AppError`] and replayed from it, so a variant or field is renamed only together
//! with a migration of `idempotency_keys.response_body` (or not at all). Serde's default
//! (externally tagged) representation: a unit variant is a string (`"till_not_open"`), the others
//! `{"till_already_open": {"studio_name": …, "opened_on": "2026-12-05"}}`.

use super::access::{ApiScope, Permission, Role};
use super::error::AppError;
use super::export::rows_text;
use super::ids::{EmployeeId, PayoutId, ServiceId, StudioId};
use super::money::{Rappen, CURRENCY};
use super::payout::PayoutState;
use super::till::denomination_label;
use super::webhook::EVENT_TYPES;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What is wrong with one input value. Read after the field's name ("tip: the tip cannot be
/// negative" in the API; "Trinkgeld: darf nicht negativ sein" on a German page).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldProblem {
    /// An amount field left empty.
    AmountMissing,
    /// Text that is not a CHF amount (`85`, `85.50`, `1'250.00`, `1250,00` are).
    NotAnAmount {
        /// The text given.
        text: String,
    },
    /// An amount with more than two decimals: CHF amounts are whole Rappen.
    TooManyDecimals {
        /// The text given.
        text: String,
    },
    /// An amount too large to be held as `i64` Rappen.
    TooLarge {
        /// The text given.
        text: String,
    },
    /// Text that is not a date in ISO 8601 (`YYYY-MM-DD`).
    NotADate {
        /// The text given.
        text: String,
    },
    /// Text that is not a whole number of notes or coins.
    NotACount {
        /// The text given.
        text: String,
    },
    /// A record date after today in Europe/Zurich (a service cannot be registered in advance).
    InFuture {
        /// The date given.
        date: NaiveDate,
        /// Today in Zurich.
        today: NaiveDate,
    },
    /// A record date before 2000-01-01 (catches a mistyped year).
    TooFarInPast {
        /// The date given.
        date: NaiveDate,
    },
    /// A period whose last day is before its first.
    EndsBeforeStart {
        /// The first day given.
        start: NaiveDate,
        /// The last day given.
        end: NaiveDate,
    },
    /// A period longer than the view or operation takes (a payout, the dashboard and an export
    /// each cover at most a year).
    PeriodTooLong {
        /// Days in the period given, both ends included.
        days: i64,
        /// The most days allowed.
        max_days: i64,
    },
    /// An amount below zero.
    Negative,
    /// An amount that must be more than CHF 0.00 and is not.
    NotPositive,
    /// An amount over the largest one a field takes ([`MAX_SERVICE_AMOUNT`](super::MAX_SERVICE_AMOUNT)).
    OverLimit {
        /// The largest amount allowed, in Rappen.
        limit: Rappen,
    },
    /// A service price over the largest one a single service may cost.
    OverServiceLimit {
        /// The largest price allowed, in Rappen.
        limit: Rappen,
    },
    /// A currency other than CHF: amounts are Rappen, nothing is converted.
    UnsupportedCurrency {
        /// The currency given.
        currency: String,
    },
    /// Not `cash`, `card` or `twint`.
    UnknownPaymentMethod {
        /// The text given.
        text: String,
    },
    /// No employee has this id (in the caller's studios).
    UnknownEmployee {
        /// The id given.
        id: EmployeeId,
    },
    /// The employee has left: nothing new is registered for them.
    EmployeeLeft,
    /// No service has this id.
    UnknownService {
        /// The id given.
        id: ServiceId,
    },
    /// The service belongs to the other studio's catalogue than the employee's.
    ServiceOfAnotherStudio,
    /// The service was taken out of the catalogue.
    ServiceRetired,
    /// No studio has this id (in the caller's studios).
    UnknownStudio {
        /// The id given.
        id: StudioId,
    },
    /// A reason is required (a cash movement, a refund, a till variance) and none was given.
    ReasonRequired,
    /// A text longer than its field takes.
    TooLong {
        /// The most characters (Unicode scalar values) allowed.
        max_chars: usize,
    },
    /// A key of the counted notes and coins that is not a Swiss franc denomination in Rappen.
    UnknownDenomination {
        /// The key given.
        key: String,
    },
    /// A count of one note or coin below 0 or over 100,000.
    CountOutOfRange {
        /// The note or coin, in Rappen (20000 = the CHF 200 note).
        denomination: Rappen,
        /// The count given.
        count: i64,
    },
    /// Cash out of the till for more than it holds.
    OverTillCash {
        /// What the till holds by the books, in Rappen.
        holds: Rappen,
        /// The amount asked for.
        amount: Rappen,
    },
    /// A cash refund larger than the till holds.
    RefundOverTillCash {
        /// What the till holds by the books, in Rappen.
        holds: Rappen,
        /// The refund (price and tip).
        amount: Rappen,
    },
    /// The counted cash differs from the books and no reason was given.
    VarianceUnexplained {
        /// What was counted, in Rappen.
        counted: Rappen,
        /// What the books expect.
        expected: Rappen,
    },
    /// A decision on a settlement transfer without the bank's reference (case or transaction
    /// number): the decision must be traceable to what the bank said.
    BankReferenceRequired,
    /// A decision on a settlement transfer without a note of what the bank said and why.
    DecisionNoteRequired,
    /// A bank file's execution date before today (Europe/Zurich): a bank executes today at the
    /// earliest.
    ExecutionDateInPast {
        /// The date given.
        date: NaiveDate,
        /// Today in Zurich.
        today: NaiveDate,
    },
    /// A bank file's execution date on a weekend or a SIC holiday (the Swiss interbank
    /// clearing's calendar).
    NotABusinessDay {
        /// The date given.
        date: NaiveDate,
        /// The next Swiss bank business day.
        next: NaiveDate,
    },
    /// An IBAN that is not valid, or a QR-IBAN for a payee.
    InvalidIban {
        /// What is wrong with it.
        error: IbanError,
    },
    /// A studio's account given as a QR-IBAN, which only receives QR-bill payments and cannot
    /// be paid from.
    QrIbanCannotPay,
    /// A statement line matched by hand with another action than confirming.
    LineMatchedOnlyByConfirming,
    /// A statement line on another studio's account than the transfer's.
    LineOfAnotherStudio,
    /// A statement line that is matched or dismissed already.
    LineAlreadyHandled {
        /// Its match state as stored (`matched`, `dismissed`).
        state: String,
    },
    /// Not an email address (no `@`, a space, longer than 254 characters: RFC 5321's limit).
    NotAnEmail {
        /// The text as entered, trimmed.
        text: String,
    },
    /// An account for someone without a name.
    PersonNameRequired,
    /// An API key's name empty or longer than `max_chars` characters.
    KeyNameLength {
        /// The longest name accepted (100).
        max_chars: usize,
    },
    /// A password shorter than the minimum.
    PasswordTooShort {
        /// The fewest characters accepted.
        min_chars: usize,
    },
    /// A receptionist's account without its studio.
    ReceptionistNeedsStudio,
    /// A receptionist's API key without its studio.
    ReceptionistKeyNeedsStudio,
    /// An owner's API key naming a studio (it covers all of them).
    OwnerKeyCoversAllStudios,
    /// An API key with the employee role (keys are for integrations).
    KeyForEmployee,
    /// An employee's account without the employee it belongs to.
    EmployeeAccountNeedsEmployee,
    /// An API key scope beyond what its role may do.
    ScopeBeyondRole {
        /// The key's role.
        role: Role,
        /// The first scope the role does not allow.
        scope: ApiScope,
    },
    /// An email address that already has an account (users' emails are unique).
    EmailTaken {
        /// The address.
        email: String,
    },
    /// An owner deactivating their own account (the business would be left without its
    /// signed-in owner; another owner does it).
    CannotDeactivateSelf,
    /// A webhook URL longer than `max_chars` characters.
    UrlTooLong {
        /// The longest URL accepted (2,000).
        max_chars: usize,
    },
    /// A text that does not parse as a URL.
    NotAUrl {
        /// The text as entered, trimmed.
        text: String,
        /// The URL parser's reason (English, for the API and the log).
        reason: String,
    },
    /// A URL with another scheme than `https` or `http`.
    UrlScheme,
    /// A URL with a user or password in it (the receiver verifies the signature instead).
    UrlWithCredentials,
    /// A URL without a host.
    UrlWithoutHost,
    /// A destination address webhooks may not reach (server-side request forgery protection).
    DestinationNotAllowed {
        /// The address.
        ip: String,
        /// What kind of address it is.
        class: AddressClass,
    },
    /// A webhook event filter entry that names no event type.
    UnknownEventType {
        /// The entry as entered.
        entry: String,
    },
    /// A retry schedule with more than `max` retries.
    TooManyRetries {
        /// The most retries accepted.
        max: usize,
    },
    /// A retry delay outside 1 s to `max_secs`.
    RetryDelayOutOfRange {
        /// The refused delay, in seconds.
        delay: u32,
        /// The longest delay accepted, in seconds.
        max_secs: u32,
    },
    /// A webhook timeout outside 1 s to `max_secs`.
    TimeoutOutOfRange {
        /// The longest timeout accepted, in seconds.
        max_secs: u32,
    },
}

/// The kinds of address a webhook may not reach unless an operator allows them
/// ([`FieldProblem::DestinationNotAllowed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressClass {
    /// Unspecified, broadcast or multicast: never allowed.
    NotUnicast,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 169.254/16, fe80::/10 (cloud metadata services live here).
    LinkLocal,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7.
    Private,
}

impl AddressClass {
    /// "a loopback", as the English refusal says it.
    fn with_article(self) -> &'static str {
        match self {
            AddressClass::NotUnicast => "not a unicast",
            AddressClass::Loopback => "a loopback",
            AddressClass::LinkLocal => "a link-local",
            AddressClass::Private => "a private",
        }
    }
}

impl FieldProblem {
    /// The English sentence for the JSON API and the log; `field` is the input's name as the
    /// request spells it (`guaranteed_minimum`).
    pub fn explanation(&self, field: &str) -> String {
        let noun = field.replace('_', " ");
        match self {
            FieldProblem::AmountMissing => "enter an amount in CHF, e.g. 85.00".into(),
            FieldProblem::NotAnAmount { text } => {
                format!("'{text}' is not an amount in CHF, e.g. 85.00")
            }
            FieldProblem::TooManyDecimals { text } => {
                format!("'{text}' has more than two decimals; CHF amounts are in whole Rappen")
            }
            FieldProblem::TooLarge { text } => format!("'{text}' is too large"),
            FieldProblem::NotADate { text } => format!("'{text}' is not a date (YYYY-MM-DD)"),
            FieldProblem::NotACount { text } => {
                format!("'{text}' is not a whole number of notes or coins")
            }
            FieldProblem::InFuture { date, today } => {
                format!("{date} is in the future (today is {today} in Zurich)")
            }
            FieldProblem::TooFarInPast { date } => format!("{date} is too far in the past"),
            FieldProblem::EndsBeforeStart { start, end } => {
                format!("the period ends ({end}) before it starts ({start})")
            }
            FieldProblem::PeriodTooLong { days, max_days } => {
                format!("the period has {days} days; at most {max_days} are allowed here")
            }
            FieldProblem::Negative => format!("the {noun} cannot be negative"),
            FieldProblem::NotPositive => format!("the {noun} must be more than {}", Rappen(0)),
            FieldProblem::OverLimit { limit } => format!("the {noun} must be at most {limit}"),
            FieldProblem::OverServiceLimit { limit } => {
                format!("the {noun} must be at most {limit} for one service")
            }
            FieldProblem::UnsupportedCurrency { currency } => {
                format!("only {CURRENCY} is supported, not '{currency}'")
            }
            FieldProblem::UnknownPaymentMethod { text } => {
                format!("'{text}' is not a payment method (cash, card or twint)")
            }
            FieldProblem::UnknownEmployee { id } => format!("no employee with id {id}"),
            FieldProblem::EmployeeLeft => "this employee no longer works here".into(),
            FieldProblem::UnknownService { id } => format!("no service with id {id}"),
            FieldProblem::ServiceOfAnotherStudio => {
                "this service is in another studio's catalogue than the employee's".into()
            }
            FieldProblem::ServiceRetired => "this service is no longer offered".into(),
            FieldProblem::UnknownStudio { id } => format!("no studio with id {id}"),
            FieldProblem::ReasonRequired => "a reason is required".into(),
            FieldProblem::TooLong { max_chars } => {
                format!("the {noun} must be at most {max_chars} characters")
            }
            FieldProblem::UnknownDenomination { key } => format!(
                "'{key}' is not a Swiss franc note or coin in Rappen (e.g. 20000 = CHF 200, 5 = 5 Rp.)"
            ),
            FieldProblem::CountOutOfRange {
                denomination,
                count,
            } => format!(
                "{count} × {}: the count must be 0 to 100,000",
                denomination_label(denomination.0)
            ),
            FieldProblem::OverTillCash { holds, amount } => {
                format!("the till holds only {holds}; {amount} cannot be taken out")
            }
            FieldProblem::RefundOverTillCash { holds, amount } => format!(
                "the till holds only {holds}; a cash refund of {amount} cannot be paid from it"
            ),
            FieldProblem::BankReferenceRequired => {
                "record the bank's reference (its case or transaction number) before deciding"
                    .into()
            }
            FieldProblem::DecisionNoteRequired => {
                "write what the bank said and why you decide this".into()
            }
            FieldProblem::ExecutionDateInPast { date, today } => format!(
                "{date} is in the past; the bank executes today ({today}) at the earliest"
            ),
            FieldProblem::NotABusinessDay { date, next } => format!(
                "{date} is not a Swiss bank business day (weekend or SIC holiday); the next one is {next}"
            ),
            FieldProblem::InvalidIban { error } => error.to_string(),
            FieldProblem::QrIbanCannotPay => "this is a QR-IBAN, which only receives QR-bill payments; give the account's regular IBAN to pay from".into(),
            FieldProblem::LineMatchedOnlyByConfirming => {
                "a statement line is matched by confirming".into()
            }
            FieldProblem::LineOfAnotherStudio => "the line is on another studio's account".into(),
            FieldProblem::LineAlreadyHandled { state } => {
                format!("the line is {state} already; choose an unmatched line")
            }
            FieldProblem::NotAnEmail { text } => format!("'{text}' is not an email address"),
            FieldProblem::PersonNameRequired => "enter the person's name".into(),
            FieldProblem::KeyNameLength { max_chars } => format!(
                "give the key a name of 1 to {max_chars} characters saying what uses it"
            ),
            FieldProblem::PasswordTooShort { min_chars } => {
                format!("use at least {min_chars} characters")
            }
            FieldProblem::ReceptionistNeedsStudio => {
                "a receptionist works at one studio: name it".into()
            }
            FieldProblem::ReceptionistKeyNeedsStudio => {
                "a receptionist key works for one studio: name it".into()
            }
            FieldProblem::OwnerKeyCoversAllStudios => {
                "an owner key covers every studio of the business: leave the studio out".into()
            }
            FieldProblem::KeyForEmployee => {
                "API keys are for integrations: owner or receptionist".into()
            }
            FieldProblem::EmployeeAccountNeedsEmployee => {
                "an employee account belongs to one employee: name them".into()
            }
            FieldProblem::ScopeBeyondRole { role, scope } => {
                format!("a {role} key cannot have the scope '{scope}'")
            }
            FieldProblem::EmailTaken { email } => format!("{email} already has an account"),
            FieldProblem::CannotDeactivateSelf => {
                "you cannot deactivate yourself; another owner can".into()
            }
            FieldProblem::UrlTooLong { max_chars } => format!(
                "the URL may have at most {} characters",
                rows_text(*max_chars as u64)
            ),
            FieldProblem::NotAUrl { text, reason } => format!("'{text}' is not a URL: {reason}"),
            FieldProblem::UrlScheme => "the URL must start with https:// (or http://)".into(),
            FieldProblem::UrlWithCredentials => {
                "the URL may not contain a user or password; verify the signature instead".into()
            }
            FieldProblem::UrlWithoutHost => "the URL has no host".into(),
            FieldProblem::DestinationNotAllowed { ip, class } => format!(
                "{ip} is {} address; webhooks may not reach it (server-side request forgery \
                 protection; an operator can allow it with PAYOUT_ENGINE_WEBHOOK_ALLOW_DESTINATIONS)",
                class.with_article()
            ),
            FieldProblem::UnknownEventType { entry } => format!(
                "'{entry}' is not an event type; known: {} (or a prefix such as 'payment.*')",
                EVENT_TYPES
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            FieldProblem::TooManyRetries { max } => format!("at most {max} retries"),
            FieldProblem::RetryDelayOutOfRange { delay, max_secs } => {
                format!("each delay must be 1 to {max_secs} seconds; {delay} is not")
            }
            FieldProblem::TimeoutOutOfRange { max_secs } => {
                format!("the timeout must be 1 to {max_secs} seconds")
            }
            FieldProblem::VarianceUnexplained { counted, expected } => {
                let variance = counted.0 - expected.0;
                let direction = if variance > 0 { "over by" } else { "short by" };
                format!(
                    "counted {counted} but {expected} was expected ({direction} {}): say why",
                    Rappen(variance.abs())
                )
            }
        }
    }
}

/// A date as forms, query parameters and the JSON API write it: ISO 8601 `YYYY-MM-DD`,
/// surrounding spaces ignored. One parser for every date input, so each refuses alike.
///
/// Errors: 422 naming `field`, with [`FieldProblem::NotADate`] and the text as given.
pub fn parse_iso_date(field: &str, text: &str) -> Result<NaiveDate, AppError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::invalid(field, FieldProblem::NotADate { text: text.into() }))
}

/// Why a text is not an acceptable IBAN. Neither the messages nor the values carry the text as
/// entered: an IBAN is personal data, and refusals are logged (the person sees what they typed
/// in their form).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IbanError {
    /// Nothing (or only spaces) was entered.
    #[error("no IBAN was entered")]
    Empty,
    /// Not the IBAN shape: two letters, two check digits, then up to 30 letters and digits.
    #[error(
        "this is not a valid IBAN: an IBAN starts with two letters (the country) and two \
         check digits, followed by up to 30 letters and digits"
    )]
    Format,
    /// The length does not match the country's IBAN length (checked for the countries in
    /// the engine's `IBAN_LENGTHS` before the check digits, so a missing digit is named as such).
    #[error(
        "the IBAN has the wrong length for a {country} IBAN: {expected} characters expected, \
         {actual} given"
    )]
    Length {
        /// The country code.
        country: String,
        /// The length of that country's IBANs.
        expected: usize,
        /// Letters and digits entered (spaces not counted).
        actual: usize,
    },
    /// The ISO 13616 check digits (mod 97) do not match: usually a typing error.
    #[error(
        "this is not a valid IBAN: the check digits do not match (please compare it with the \
         bank's document; a character is probably mistyped)"
    )]
    Checksum,
    /// The check digits match, but the account part does not have the country's format.
    #[error(
        "this is not a valid IBAN: the account part does not have the format of a {country} IBAN"
    )]
    CountryFormat {
        /// The country code.
        country: String,
    },
    /// The country code is not one of the IBAN registry's countries.
    #[error("this is not a valid IBAN: '{country}' is not a country that uses IBANs")]
    UnknownCountry {
        /// The country code.
        country: String,
    },
    /// A QR-IBAN where a payout is to be paid (the engine's `parse_payee_iban`).
    #[error(
        "this is a QR-IBAN, which only receives payments carrying a QR reference (QR-bill \
         payments); a salary or payout transfer has none, so the bank would reject it. Please \
         give the regular IBAN of the same account (it is on the account statement or in \
         e-banking)"
    )]
    QrIban,
}

/// Where the cash of a refused cash operation would have come from: a refund or a payout is
/// paid from the studio's open till.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CashUse {
    /// Counting, moving cash in or out, closing: the till itself.
    Till,
    /// A cash refund of a service to the client.
    Refund,
    /// A payout to an employee in cash.
    Payout,
}

/// A business rule or the current state refusing a request as a whole (409 or 422). Its
/// [`code`](Problem::code) is the error's stable machine code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// The studio's till is not open (`till_not_open`, 409): cash moves only through an open
    /// till, so that the Z report accounts for it.
    TillNotOpen {
        /// What the cash was for.
        cash_for: CashUse,
    },
    /// An earlier till of the studio is still open (`till_already_open`, 409): one till a
    /// studio at a time, closed with a count before the next opens.
    TillAlreadyOpen {
        /// The studio's name.
        studio_name: String,
        /// The day that till was opened (Europe/Zurich).
        opened_on: NaiveDate,
    },
    /// Today's till was counted and closed already (`till_already_closed`, 409): a Z report is
    /// final.
    TillAlreadyClosed {
        /// The studio's name.
        studio_name: String,
    },
    /// The employee's working day on this date is recorded already (`day_already_recorded`,
    /// 409): a day's deduction is taken once.
    DayAlreadyRecorded {
        /// The date.
        worked_on: NaiveDate,
    },
    /// The service was refunded before (`refund_refused`, 409).
    AlreadyRefunded {
        /// The day of that refund (UTC).
        on: NaiveDate,
    },
    /// The service is in a payout to the employee (`refund_refused`, 409): the refund would
    /// take back commission being paid.
    RefundHeldByPayout,
    /// The employee has no unpaid records in the period (`nothing_to_pay`, 422).
    NoUnpaidRecords {
        /// The employee's name.
        employee_name: String,
        /// First day of the period.
        start: NaiveDate,
        /// Last day of the period.
        end: NaiveDate,
    },
    /// The deductions are larger than the earnings in the period (`nothing_to_pay`, 422).
    DeductionsExceedEarnings {
        /// The employee's name.
        employee_name: String,
        /// First day of the period.
        start: NaiveDate,
        /// Last day of the period.
        end: NaiveDate,
        /// The (zero or negative) total, in Rappen.
        total: Rappen,
    },
    /// A cash payout larger than the till holds (`till_insufficient_cash`, 409).
    TillInsufficientCash {
        /// What the till holds by the books, in Rappen.
        holds: Rappen,
        /// The employee's name.
        employee_name: String,
        /// The payout's total, in Rappen.
        total: Rappen,
    },
    /// The employee has a pending or failed payout (`payout_in_progress`, 409): one open
    /// payout per employee, so no record is paid twice.
    PayoutInProgress {
        /// The employee's name.
        employee_name: String,
        /// The open payout and its state, when it could be read (it may have finished
        /// meanwhile).
        open: Option<(PayoutId, PayoutState)>,
    },
    /// The payout changed while it was being cancelled (`payout_changed`, 409).
    PayoutChanged,
    /// The idempotency key came with a different request before (`idempotency_key_reused`, 422).
    IdempotencyKeyReused,
    /// A request with this idempotency key is still running (`idempotency_key_in_flight`, 409).
    IdempotencyKeyInFlight,
    /// A returned bank transfer that was returned before and resolved (`already_returned`,
    /// 409): a second return needs the bank's explanation on a new item.
    AlreadyReturned,
    /// A bank file for a studio without an IBAN on file (`no_bank_account`, 422).
    NoBankAccount {
        /// The studio's name.
        studio_name: String,
    },
    /// A bank file for a studio whose IBAN on file is not valid (`no_bank_account`, 422).
    StudioIbanInvalid {
        /// What is wrong with it.
        error: IbanError,
    },
    /// No scheduled bank payout can go into a bank file (`nothing_to_send`, 422): none is
    /// waiting, or every one waiting lacks a usable IBAN (`skipped` says whose and why).
    NothingToSend {
        /// The payouts left out (empty: none is waiting).
        skipped: Vec<super::settlement::SkippedPayout>,
    },
    /// Another bank file took some of the payouts meanwhile (`bank_file_conflict`, 409).
    BankFileConflict,
    /// A bank statement larger than the import takes (`statement_too_large`, 422).
    StatementTooLarge {
        /// The largest statement taken, in MiB.
        max_mib: usize,
    },
    /// A bank statement the camt.053 / camt.054 reader cannot read (`invalid_statement`, 422).
    InvalidStatement {
        /// The reader's English, technical detail (line and column, the element missing), for
        /// whoever looks into the file.
        detail: String,
    },
    /// A bank statement naming no IBAN for its account (`unknown_account`, 422).
    StatementWithoutAccount,
    /// A bank statement for an account that is none of the caller's studios'
    /// (`unknown_account`, 422).
    UnknownStatementAccount {
        /// The statement's IBAN.
        account: String,
    },
    /// Sign-in refused: no active account with this email and password (401
    /// `invalid_credentials`; which of the two was wrong is not said, so that the answer does not
    /// tell whether an address has an account).
    InvalidCredentials,
    /// An action on a disabled webhook endpoint (409 `endpoint_disabled`).
    EndpointDisabled {
        /// What was asked for.
        action: EndpointAction,
    },
    /// A webhook endpoint update based on an old version (409 `version_conflict`).
    EndpointVersionConflict {
        /// The endpoint's version now.
        current: i64,
        /// The version the update was based on.
        expected: i64,
    },
    /// Sign-in refused by the attempt limit (429 `too_many_login_attempts`).
    TooManySignInAttempts {
        /// Which limit: this computer's address, or this account's.
        limit: SignInLimit,
        /// Seconds until the next attempt is counted again, as of the refusal. Only ever sent
        /// in the answer to the attempt itself: sign-in is not an idempotent (stored) request,
        /// so no replay can repeat a wait that has since run out.
        seconds: u64,
    },
    /// The caller may not do this (`forbidden`, 403): their role, their API key's scopes, or
    /// the studio named is not theirs. Pages hide what a role may not do, so a person meets
    /// this on an address typed or kept from another role, or a key on a call it was not
    /// given the scope for.
    NotPermitted {
        /// What was asked.
        action: Permission,
        /// Why the caller may not.
        refusal: PermissionRefusal,
    },
}

/// Why an action is not permitted ([`Problem::NotPermitted`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionRefusal {
    /// The person's role does not include the action (`domain::access::Role::may`).
    Role {
        /// The caller's role.
        role: Role,
    },
    /// The API key was not given the scope that grants the action.
    MissingScope {
        /// The scope the action needs.
        scope: ApiScope,
    },
    /// No API key may do this, whatever its scopes (users, keys and the activity log are
    /// managed by signed-in owners only).
    NoApiKey,
    /// The studio named is not one of the caller's.
    OtherStudio,
}

/// What was asked of a disabled webhook endpoint ([`Problem::EndpointDisabled`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointAction {
    /// Sending it a test event.
    SendTest,
    /// Resending one of its messages.
    Resend,
    /// Redriving its dead-letter queue.
    Redrive,
}

/// Which sign-in attempt limit refused ([`Problem::TooManySignInAttempts`]): attempts are counted
/// per IP address (someone trying many accounts) and per email address (someone trying many
/// passwords on one account, from many addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInLimit {
    /// The attempts from the caller's IP address.
    ThisComputer,
    /// The attempts on the email address.
    ThisAccount,
}

impl Problem {
    /// The stable machine code (`error.code` in the JSON API).
    pub fn code(&self) -> &'static str {
        match self {
            Problem::TillNotOpen { .. } => "till_not_open",
            Problem::TillAlreadyOpen { .. } => "till_already_open",
            Problem::TillAlreadyClosed { .. } => "till_already_closed",
            Problem::DayAlreadyRecorded { .. } => "day_already_recorded",
            Problem::AlreadyRefunded { .. } | Problem::RefundHeldByPayout => "refund_refused",
            Problem::NoUnpaidRecords { .. } | Problem::DeductionsExceedEarnings { .. } => {
                "nothing_to_pay"
            }
            Problem::TillInsufficientCash { .. } => "till_insufficient_cash",
            Problem::PayoutInProgress { .. } => "payout_in_progress",
            Problem::PayoutChanged => "payout_changed",
            Problem::IdempotencyKeyReused => "idempotency_key_reused",
            Problem::IdempotencyKeyInFlight => "idempotency_key_in_flight",
            Problem::AlreadyReturned => "already_returned",
            Problem::NoBankAccount { .. } | Problem::StudioIbanInvalid { .. } => "no_bank_account",
            Problem::NothingToSend { .. } => "nothing_to_send",
            Problem::BankFileConflict => "bank_file_conflict",
            Problem::StatementTooLarge { .. } => "statement_too_large",
            Problem::InvalidStatement { .. } => "invalid_statement",
            Problem::StatementWithoutAccount | Problem::UnknownStatementAccount { .. } => {
                "unknown_account"
            }
            Problem::EndpointDisabled { .. } => "endpoint_disabled",
            Problem::EndpointVersionConflict { .. } => "version_conflict",
            Problem::InvalidCredentials => "invalid_credentials",
            Problem::TooManySignInAttempts { .. } => "too_many_login_attempts",
            Problem::NotPermitted { .. } => "forbidden",
        }
    }

    /// The English sentence for the JSON API and the log.
    pub fn explanation(&self) -> String {
        match self {
            Problem::TillNotOpen {
                cash_for: CashUse::Till,
            } => "the studio's till is not open: open it first".into(),
            Problem::TillNotOpen {
                cash_for: CashUse::Refund,
            } => "a cash refund is paid from the till: open the studio's till first".into(),
            Problem::TillNotOpen {
                cash_for: CashUse::Payout,
            } => "a cash payout is paid from the till: open today's till first".into(),
            Problem::TillAlreadyOpen {
                studio_name,
                opened_on,
            } => format!(
                "the till of {studio_name} opened on {opened_on} is still open; close it first"
            ),
            Problem::TillAlreadyClosed { studio_name } => format!(
                "today's till of {studio_name} was already counted and closed; a closed till cannot reopen"
            ),
            Problem::DayAlreadyRecorded { worked_on } => {
                format!("{worked_on} is already recorded as a working day for this employee")
            }
            Problem::AlreadyRefunded { on } => {
                format!("cannot refund: this service was already refunded on {on} (UTC)")
            }
            Problem::RefundHeldByPayout => {
                "cannot refund: this service is in a payout to the employee (cancel that payout \
                 first if it failed; a committed payout's services cannot be refunded here)"
                    .into()
            }
            Problem::NoUnpaidRecords {
                employee_name,
                start,
                end,
            } => format!("{employee_name} has no unpaid records between {start} and {end}"),
            Problem::DeductionsExceedEarnings {
                employee_name,
                start,
                end,
                total,
            } => format!(
                "{employee_name}'s deductions exceed the earnings between {start} and {end} (total {total}); nothing to pay out"
            ),
            Problem::TillInsufficientCash {
                holds,
                employee_name,
                total,
            } => format!(
                "the till holds {holds} but the payout to {employee_name} is {total}: put cash in or pay by bank"
            ),
            Problem::PayoutInProgress {
                employee_name,
                open,
            } => {
                let detail = match open {
                    Some((id, state)) => format!(" (payout {id}, {})", state.as_str()),
                    None => String::new(),
                };
                format!("{employee_name} already has an unfinished payout{detail}; finish or cancel it first")
            }
            Problem::PayoutChanged => {
                "the payout changed while cancelling it; reload and try again".into()
            }
            Problem::IdempotencyKeyReused => "this Idempotency-Key was already used for a different request; send a new key for a new action".into(),
            Problem::IdempotencyKeyInFlight => "a request with this Idempotency-Key is still being processed; retry in a moment".into(),
            Problem::AlreadyReturned => "this transfer was returned once already and resolved; a second return needs the bank's explanation in a note on a new item".into(),
            Problem::NoBankAccount { studio_name } => format!("{studio_name} has no bank account on file; set its IBAN under Settlements before writing a bank file"),
            Problem::StudioIbanInvalid { error } => format!("the studio's IBAN on file is not valid ({error}); set it again under Settlements"),
            Problem::NothingToSend { skipped } if skipped.is_empty() => {
                "no committed bank payout is waiting for a bank file".into()
            }
            Problem::NothingToSend { skipped } => format!(
                "no scheduled payout can be sent: {}",
                skipped
                    .iter()
                    .map(super::settlement::SkippedPayout::explanation)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Problem::BankFileConflict => "another bank file took some of these payouts meanwhile; reload and write the file again".into(),
            Problem::StatementTooLarge { max_mib } => format!("the statement is larger than {max_mib} MiB; import it in parts (one camt.053 per day)"),
            Problem::InvalidStatement { detail } => detail.clone(),
            Problem::StatementWithoutAccount => "the statement names no IBAN for its account".into(),
            Problem::UnknownStatementAccount { account } => format!("the statement is for account {account}, which is not the bank account of any of your studios; set the studio's IBAN under Settlements first"),
            Problem::EndpointDisabled { action } => {
                let to_do = match action {
                    EndpointAction::SendTest => "to send a test event",
                    EndpointAction::Resend => "before resending",
                    EndpointAction::Redrive => "before redriving its dead-letter queue",
                };
                format!("the endpoint is disabled; enable it {to_do}")
            }
            Problem::EndpointVersionConflict { current, expected } => format!(
                "the endpoint was changed meanwhile (version {current} now, not {expected}); reload it and try again"
            ),
            Problem::InvalidCredentials => "wrong email or password".into(),
            Problem::TooManySignInAttempts { limit, seconds } => {
                let whom = match limit {
                    SignInLimit::ThisComputer => "from this computer",
                    SignInLimit::ThisAccount => "for this account",
                };
                format!("too many sign-in attempts {whom}; try again in {seconds} seconds")
            }
            Problem::NotPermitted { action, refusal } => {
                let action = action.describe();
                match refusal {
                    PermissionRefusal::Role { role } => {
                        let article = match role {
                            Role::Owner | Role::Employee => "an",
                            Role::Receptionist => "a",
                        };
                        format!("{article} {role} may not {action}; ask the owner")
                    }
                    PermissionRefusal::MissingScope { scope } => {
                        format!("this API key may not {action}: it lacks the scope '{scope}'")
                    }
                    PermissionRefusal::NoApiKey => format!("API keys may not {action}"),
                    PermissionRefusal::OtherStudio => {
                        format!("you may not {action} of this studio: it is not one of yours")
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_permission_keeps_the_english_the_api_has_always_sent() {
        let refused = |action, refusal| Problem::NotPermitted { action, refusal }.explanation();
        assert_eq!(
            refused(
                Permission::CancelPayout,
                PermissionRefusal::Role {
                    role: Role::Receptionist
                }
            ),
            "a receptionist may not cancel payouts; ask the owner"
        );
        assert_eq!(
            refused(
                Permission::ManageUsers,
                PermissionRefusal::Role { role: Role::Owner }
            ),
            "an owner may not manage users; ask the owner"
        );
        assert_eq!(
            refused(
                Permission::ReadPayouts,
                PermissionRefusal::MissingScope {
                    scope: ApiScope::PayoutsRead
                }
            ),
            "this API key may not read payouts: it lacks the scope 'payouts:read'"
        );
        assert_eq!(
            refused(Permission::ManageUsers, PermissionRefusal::NoApiKey),
            "API keys may not manage users"
        );
        assert_eq!(
            refused(Permission::RegisterService, PermissionRefusal::OtherStudio),
            "you may not register services of this studio: it is not one of yours"
        );
        let problem = Problem::NotPermitted {
            action: Permission::CancelPayout,
            refusal: PermissionRefusal::Role {
                role: Role::Receptionist,
            },
        };
        assert_eq!(problem.code(), "forbidden");
        let wire = serde_json::to_value(&problem).expect("serialises");
        assert_eq!(
            wire,
            serde_json::json!({"not_permitted": {"action": "cancel_payout",
                "refusal": {"role": {"role": "receptionist"}}}})
        );
    }

    #[test]
    fn the_api_keeps_its_english_sentences() {
        // Integrations and the server tests read these messages; wording them from data must
        // not change them.
        assert_eq!(
            FieldProblem::Negative.explanation("guaranteed_minimum"),
            "the guaranteed minimum cannot be negative"
        );
        assert_eq!(
            FieldProblem::VarianceUnexplained {
                counted: Rappen(9_500),
                expected: Rappen(10_000)
            }
            .explanation("variance_reason"),
            "counted CHF 95.00 but CHF 100.00 was expected (short by CHF 5.00): say why"
        );
        assert_eq!(
            FieldProblem::CountOutOfRange {
                denomination: Rappen(20_000),
                count: -1
            }
            .explanation("denominations"),
            "-1 × CHF 200: the count must be 0 to 100,000"
        );
        let open = Problem::PayoutInProgress {
            employee_name: "Anna Huber".into(),
            open: Some((PayoutId(uuid::Uuid::nil()), PayoutState::Failed)),
        };
        assert_eq!(open.code(), "payout_in_progress");
        assert_eq!(
            open.explanation(),
            "Anna Huber already has an unfinished payout (payout 00000000-0000-0000-0000-000000000000, failed); finish or cancel it first"
        );
    }

    #[test]
    fn dates_are_read_as_iso_8601_and_a_typo_is_named() {
        assert_eq!(
            parse_iso_date("worked_on", " 2026-09-30 "),
            Ok(NaiveDate::from_ymd_opt(2026, 9, 30).expect("a date"))
        );
        assert_eq!(
            parse_iso_date("worked_on", "30.09.2026"),
            Err(AppError::invalid(
                "worked_on",
                FieldProblem::NotADate {
                    text: "30.09.2026".into()
                }
            ))
        );
        assert!(
            parse_iso_date("to", "2026-02-30").is_err(),
            "no 30 February"
        );
    }

    #[test]
    fn counts_in_english_sentences_are_grouped_by_thousands() {
        assert_eq!(
            FieldProblem::UrlTooLong { max_chars: 2_000 }.explanation("url"),
            "the URL may have at most 2,000 characters"
        );
    }

    #[test]
    fn problems_travel_in_the_stored_shape() {
        let problem = Problem::TillAlreadyOpen {
            studio_name: "Studio Marktgasse".into(),
            opened_on: NaiveDate::from_ymd_opt(2026, 12, 4).expect("a date"),
        };
        let json = serde_json::to_string(&problem).expect("a problem serialises");
        assert_eq!(
            json,
            r#"{"till_already_open":{"studio_name":"Studio Marktgasse","opened_on":"2026-12-04"}}"#
        );
        assert_eq!(
            serde_json::from_str::<Problem>(&json).expect("it reads back"),
            problem
        );
        assert_eq!(
            serde_json::to_string(&FieldProblem::EmployeeLeft).expect("it serialises"),
            r#""employee_left""#
        );
    }
}
