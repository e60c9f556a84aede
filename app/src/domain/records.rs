//! Wire and view types shared by the server, the JSON API and the WASM UI: studios, employees,
//! the service catalogue, service records, day records, payouts and their lines.
//! All money is [`Rappen`] (integer minor units) with a `currency` beside it; dates are calendar
//! dates in Europe/Zurich; timestamps are UTC.

use super::ids::*;
use super::money::{BasisPoints, Rappen};
use super::payout::{PayoutPhase, PayoutState};
use super::problem::{FieldProblem, Problem};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How the client paid for a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum PaymentMethod {
    /// Notes and coins into the till.
    Cash,
    /// Debit or credit card at the terminal.
    Card,
    /// TWINT, the Swiss mobile payment app.
    Twint,
}

impl PaymentMethod {
    /// Every method, for forms and validation messages.
    pub const ALL: [PaymentMethod; 3] = [
        PaymentMethod::Cash,
        PaymentMethod::Card,
        PaymentMethod::Twint,
    ];

    /// Database / JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Card => "card",
            PaymentMethod::Twint => "twint",
        }
    }

    /// Label for people.
    pub fn label(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "Cash",
            PaymentMethod::Card => "Card",
            PaymentMethod::Twint => "TWINT",
        }
    }

    /// Parses the database / JSON spelling; the error's explanation lists the accepted values.
    pub fn parse(text: &str) -> Result<PaymentMethod, FieldProblem> {
        PaymentMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == text.trim().to_ascii_lowercase())
            .ok_or_else(|| FieldProblem::UnknownPaymentMethod {
                text: text.to_string(),
            })
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A studio.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Studio {
    /// Studio id.
    pub id: StudioId,
    /// Display name, e.g. "Salon Seefeld".
    pub name: String,
}

/// An employee with what is owed to them right now (all unpaid records, any date).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct EmployeeSummary {
    /// Employee id.
    pub id: EmployeeId,
    /// Full name.
    pub name: String,
    /// The studio they work in.
    pub studio_id: StudioId,
    /// That studio's name.
    pub studio_name: String,
    /// Default commission rate.
    pub commission_bps: BasisPoints,
    /// Service and day records not claimed by any payout (cancelled payouts release theirs).
    pub unpaid_record_count: i64,
    /// What a payout of all unpaid records would pay, in Rappen.
    pub unpaid_total: Rappen,
    /// Always "CHF".
    pub currency: String,
    /// Oldest unpaid record date, if any (the natural start of the next payout period).
    pub oldest_unpaid_on: Option<NaiveDate>,
    /// Newest unpaid record date, if any.
    pub newest_unpaid_on: Option<NaiveDate>,
}

/// A service in a studio's catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Service {
    /// Service id.
    pub id: ServiceId,
    /// The studio whose catalogue it is in.
    pub studio_id: StudioId,
    /// "Cut & blow-dry".
    pub name: String,
    /// Category used for commission overrides: "hair", "colour", "nails", "cosmetics".
    pub category: String,
    /// Usual price; the receptionist may enter another.
    pub list_price: Rappen,
}

/// What the JSON API and the register form send to record a service (wire shape: every field is
/// typed so malformed ids, dates and numbers are refused by name before any business rule runs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ServiceRecordRequest {
    /// Who performed the service.
    pub employee_id: EmployeeId,
    /// Which catalogue service (must be in the employee's studio).
    pub service_id: ServiceId,
    /// Price paid, in Rappen: 1 to 10,000,000 (100,000.00 CHF).
    pub price: i64,
    /// Tip, in Rappen, 0 to 10,000,000; goes entirely to the employee.
    #[serde(default)]
    pub tip: i64,
    /// Must be "CHF" when given.
    #[serde(default)]
    pub currency: Option<String>,
    /// cash, card or twint.
    pub payment_method: String,
    /// Day the service was performed (ISO date, Europe/Zurich); not in the future.
    pub performed_on: NaiveDate,
}

/// A recorded service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ServiceRecord {
    /// Record id.
    pub id: ServiceRecordId,
    /// Studio.
    pub studio_id: StudioId,
    /// Employee.
    pub employee_id: EmployeeId,
    /// Employee's name.
    pub employee_name: String,
    /// Catalogue service.
    pub service_id: ServiceId,
    /// Its name.
    pub service_name: String,
    /// Price in Rappen.
    pub price: Rappen,
    /// Tip in Rappen.
    pub tip: Rappen,
    /// Always "CHF".
    pub currency: String,
    /// How the client paid.
    pub payment_method: PaymentMethod,
    /// Commission rate that applied when it was registered (employee rate or category override).
    pub commission_bps: BasisPoints,
    /// Commission in Rappen, fixed at registration.
    pub commission: Rappen,
    /// Day performed.
    pub performed_on: NaiveDate,
    /// When it was registered (UTC).
    pub created_at: DateTime<Utc>,
    /// The payout holding it, if any.
    pub payout_id: Option<PayoutId>,
    /// When the client's payment was refunded (UTC); a refunded service is never paid out.
    #[serde(default)]
    pub refunded_at: Option<DateTime<Utc>>,
    /// Why it was refunded.
    #[serde(default)]
    pub refund_reason: Option<String>,
}

impl ServiceRecord {
    /// Why this service cannot be refunded now, or `None` when it can. The one rule the server
    /// enforces and the reception page uses to offer or explain the Refund button.
    ///
    /// A refund reverses the service's ledger transfer, including the employee's commission; once
    /// a payout holds the service that commission is being (or has been) paid, so the refund
    /// would take back money the employee already has. The payout must be cancelled first (a
    /// failed one), and a committed payout's services stay as they are.
    pub fn refund_refusal(&self) -> Option<Problem> {
        if let Some(at) = self.refunded_at {
            return Some(Problem::AlreadyRefunded {
                on: at.date_naive(),
            });
        }
        if self.payout_id.is_some() {
            return Some(Problem::RefundHeldByPayout);
        }
        None
    }
}

/// Refunding a registered service to the client: reverses its revenue, tip and commission in
/// the ledger; a cash refund is taken out of the studio's open till.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Why (required, at most 500 characters): shown in the ledger and the Z report.
    pub reason: String,
}

/// What the JSON API and the reception form send to record an employee's working day (one per
/// employee and date): the daily deduction (chair rent) and the guaranteed daily minimum, both
/// settled by the next payout that covers the date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DayRecordRequest {
    /// Who worked.
    pub employee_id: EmployeeId,
    /// The working day (ISO date, Europe/Zurich); not in the future.
    pub worked_on: NaiveDate,
    /// Deducted from the payout, in Rappen, 0 to 10,000,000 (e.g. chair rent).
    #[serde(default)]
    pub deduction: i64,
    /// When the day's commission is below this, the payout tops it up; Rappen, 0 to 10,000,000.
    #[serde(default)]
    pub guaranteed_minimum: i64,
    /// Must be "CHF" when given.
    #[serde(default)]
    pub currency: Option<String>,
    /// Free text for people, at most 500 characters.
    #[serde(default)]
    pub note: Option<String>,
}

/// A recorded working day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct DayRecord {
    /// Record id.
    pub id: DayRecordId,
    /// Studio.
    pub studio_id: StudioId,
    /// Employee.
    pub employee_id: EmployeeId,
    /// Employee's name.
    pub employee_name: String,
    /// The working day.
    pub worked_on: NaiveDate,
    /// Daily deduction in Rappen.
    pub deduction: Rappen,
    /// Guaranteed daily minimum in Rappen (0 = none).
    pub guaranteed_minimum: Rappen,
    /// Always "CHF".
    pub currency: String,
    /// Note for people.
    pub note: String,
    /// When it was recorded (UTC).
    pub created_at: DateTime<Utc>,
    /// The payout holding it, if any.
    pub payout_id: Option<PayoutId>,
}

/// How a payout reaches the employee.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum PayoutMethod {
    /// Bank transfer from the studio's account (the default).
    #[default]
    Bank,
    /// Cash from the till; needs the studio's till open.
    Cash,
}

impl PayoutMethod {
    /// `true` for [`PayoutMethod::Bank`] (the default, left out of fingerprints).
    pub fn is_bank(&self) -> bool {
        *self == PayoutMethod::Bank
    }

    /// Label for people.
    pub fn label(self) -> &'static str {
        match self {
            PayoutMethod::Bank => "Bank transfer",
            PayoutMethod::Cash => "Cash from the till",
        }
    }

    /// Parses the JSON spelling (bank, cash).
    pub fn parse(text: &str) -> Result<PayoutMethod, String> {
        match text.trim() {
            "bank" | "" => Ok(PayoutMethod::Bank),
            "cash" => Ok(PayoutMethod::Cash),
            other => Err(format!("'{other}' is not a payout method (bank or cash)")),
        }
    }
}

/// What the JSON API and the owner's form send to create and commit a payout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PayoutRequest {
    /// Who is paid.
    pub employee_id: EmployeeId,
    /// First day of the period (inclusive, ISO date).
    pub period_start: NaiveDate,
    /// Last day of the period (inclusive, ISO date); not before `period_start`.
    pub period_end: NaiveDate,
    /// bank (default) or cash (from the studio's open till).
    #[serde(default)]
    pub method: PayoutMethod,
}

/// A payout as the API and UI show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Payout {
    /// Payout id.
    pub id: PayoutId,
    /// Who is paid.
    pub employee_id: EmployeeId,
    /// Their name.
    pub employee_name: String,
    /// Their studio.
    pub studio_id: StudioId,
    /// Lifecycle state.
    pub state: PayoutState,
    /// Last completed recovery-point phase.
    pub phase: PayoutPhase,
    /// Lines claimed (0 until `lines_claimed`).
    pub record_count: i64,
    /// Sum of the lines in Rappen (the preview's total until `lines_claimed`).
    pub total: Rappen,
    /// Always "CHF".
    pub currency: String,
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Last day of the period.
    pub period_end: NaiveDate,
    /// The phase that failed, when `state` is failed (or was, before a Finish).
    pub failed_phase: Option<PayoutPhase>,
    /// The failure's message, for people.
    pub error: Option<String>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
    /// Committed (UTC).
    pub committed_at: Option<DateTime<Utc>>,
    /// Bank transfer or cash from the till.
    pub method: PayoutMethod,
    /// Records the preview counted when the payout was created.
    pub expected_record_count: i64,
    /// Total the preview computed when the payout was created, in Rappen.
    pub expected_total: Rappen,
}

/// What kind of record a payout line settles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum LineKind {
    /// A service record: commission plus tip.
    Service,
    /// A day record: guaranteed-minimum top-up minus daily deduction.
    Day,
}

/// One line of a payout (or of a preview): one record and how its amount was computed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PayoutLine {
    /// Service or day.
    pub kind: LineKind,
    /// The service record or day record id.
    pub record_id: uuid::Uuid,
    /// Date performed / worked.
    pub on_date: NaiveDate,
    /// Service name (service lines).
    pub service_name: Option<String>,
    /// Payment method (service lines).
    pub payment_method: Option<PaymentMethod>,
    /// Price (service lines).
    pub price: Rappen,
    /// Commission rate (service lines).
    pub commission_bps: BasisPoints,
    /// Commission (service lines).
    pub commission: Rappen,
    /// Tip (service lines).
    pub tip: Rappen,
    /// Daily deduction, e.g. chair rent (day lines), as a positive number.
    pub deduction: Rappen,
    /// Guaranteed daily minimum (day lines), 0 when none.
    pub guaranteed_minimum: Rappen,
    /// Commission earned that day (day lines), compared with the minimum.
    pub day_earned: Rappen,
    /// Top-up to reach the guaranteed minimum (day lines).
    pub top_up: Rappen,
    /// What this line pays, in Rappen (negative for a net deduction).
    pub amount: Rappen,
}

/// What committing a payout would pay: every line, before anything is written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PayoutPreview {
    /// Who would be paid.
    pub employee_id: EmployeeId,
    /// Their name.
    pub employee_name: String,
    /// Period start.
    pub period_start: NaiveDate,
    /// Period end.
    pub period_end: NaiveDate,
    /// Every payable line, oldest first.
    pub lines: Vec<PayoutLine>,
    /// Number of lines.
    pub record_count: i64,
    /// Sum of the lines, in Rappen.
    pub total: Rappen,
    /// Always "CHF".
    pub currency: String,
}

/// A payout with its lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PayoutDetail {
    /// The payout.
    pub payout: Payout,
    /// Its claimed lines, oldest first (empty before `lines_claimed`).
    pub lines: Vec<PayoutLine>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_methods_parse_case_insensitively_and_refuse_others() {
        assert_eq!(PaymentMethod::parse("TWINT"), Ok(PaymentMethod::Twint));
        let refusal = PaymentMethod::parse("bitcoin").expect_err("unknown");
        assert!(refusal
            .explanation("payment_method")
            .contains("cash, card or twint"));
    }
}
