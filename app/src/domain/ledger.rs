//! The double-entry ledger's vocabulary, shared by the server and the UI: the chart of accounts of a
//! studio, transfers and their postings, and balances.
//!
//! Sign convention: a posting's `amount` is in Rappen, **debit positive, credit negative**, so the
//! postings of every transfer sum to zero. An asset or expense account's balance is its sum; a
//! liability or revenue account's balance is shown negated (what is owed or earned, as a positive
//! number). Transfers are immutable (the database refuses UPDATE and DELETE); a correction is a
//! reversing transfer.

use super::ids::*;
use super::money::Rappen;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The four account types of the chart, which decide the sign of a shown balance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// Something the studio has (cash, money on its way, the bank account). Debit-normal.
    Asset,
    /// Something the studio owes (employees' pay, tips). Credit-normal.
    Liability,
    /// What the studio earns. Credit-normal.
    Revenue,
    /// What the studio spends. Debit-normal.
    Expense,
}

impl AccountKind {
    /// `true` when a debit increases the balance (assets and expenses).
    pub fn debit_normal(self) -> bool {
        match self {
            AccountKind::Asset | AccountKind::Expense => true,
            AccountKind::Liability | AccountKind::Revenue => false,
        }
    }
}

/// A studio's accounts. Each studio has one of each, except [`AccountCode::EmployeePayable`],
/// which exists once per employee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum AccountCode {
    /// Notes and coins in the till.
    CashDrawer,
    /// Card payments the acquirer has yet to settle to the bank.
    CardClearing,
    /// TWINT payments yet to settle to the bank.
    TwintClearing,
    /// The studio's bank account (bank payouts leave from here).
    Bank,
    /// Price of services performed (VAT included).
    ServiceRevenue,
    /// Daily deductions charged to employees (chair rent).
    DeductionIncome,
    /// Tips received for employees and not yet paid out to them.
    TipsPayable,
    /// Commission earned by employees, and guaranteed-minimum top-ups.
    CommissionExpense,
    /// What the studio owes one employee: commission accrued minus deductions, until paid out.
    EmployeePayable,
    /// Till count differences (counted minus expected cash at close).
    CashOverShort,
    /// Cash taken to or brought from outside the till (bank deposit, change fund), by reason.
    CashTransfers,
    /// Card payments captured through a payment provider (issue 6), net of their refunds.
    CardSales,
    /// Bank payouts the bank returned (issue 9): back in the bank account and still owed to the
    /// employees until resolved (paid after all, reissued or written off).
    ReturnedPayouts,
    /// Returned bank payouts the owner wrote off: the studio will not pay them out again.
    PayoutWriteOffs,
}

impl AccountCode {
    /// Every account code, in chart order.
    pub const ALL: [AccountCode; 14] = [
        AccountCode::CashDrawer,
        AccountCode::CardClearing,
        AccountCode::TwintClearing,
        AccountCode::Bank,
        AccountCode::TipsPayable,
        AccountCode::EmployeePayable,
        AccountCode::ReturnedPayouts,
        AccountCode::ServiceRevenue,
        AccountCode::CardSales,
        AccountCode::DeductionIncome,
        AccountCode::PayoutWriteOffs,
        AccountCode::CommissionExpense,
        AccountCode::CashOverShort,
        AccountCode::CashTransfers,
    ];

    /// Database / JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountCode::CashDrawer => "cash_drawer",
            AccountCode::CardClearing => "card_clearing",
            AccountCode::TwintClearing => "twint_clearing",
            AccountCode::Bank => "bank",
            AccountCode::ServiceRevenue => "service_revenue",
            AccountCode::DeductionIncome => "deduction_income",
            AccountCode::TipsPayable => "tips_payable",
            AccountCode::CommissionExpense => "commission_expense",
            AccountCode::EmployeePayable => "employee_payable",
            AccountCode::CashOverShort => "cash_over_short",
            AccountCode::CashTransfers => "cash_transfers",
            AccountCode::CardSales => "card_sales",
            AccountCode::ReturnedPayouts => "returned_payouts",
            AccountCode::PayoutWriteOffs => "payout_write_offs",
        }
    }

    /// Name for people.
    pub fn label(self) -> &'static str {
        match self {
            AccountCode::CashDrawer => "Cash drawer",
            AccountCode::CardClearing => "Card clearing",
            AccountCode::TwintClearing => "TWINT clearing",
            AccountCode::Bank => "Bank",
            AccountCode::ServiceRevenue => "Service revenue",
            AccountCode::DeductionIncome => "Deduction income",
            AccountCode::TipsPayable => "Tips payable",
            AccountCode::CommissionExpense => "Commission expense",
            AccountCode::EmployeePayable => "Payable to employee",
            AccountCode::CashOverShort => "Cash over/short",
            AccountCode::CashTransfers => "Cash in/out",
            AccountCode::CardSales => "Card sales (payment provider)",
            AccountCode::ReturnedPayouts => "Returned bank payouts (owed)",
            AccountCode::PayoutWriteOffs => "Written-off bank payouts",
        }
    }

    /// Asset, liability, revenue or expense.
    pub fn kind(self) -> AccountKind {
        match self {
            AccountCode::CashDrawer
            | AccountCode::CardClearing
            | AccountCode::TwintClearing
            | AccountCode::Bank
            | AccountCode::CashTransfers => AccountKind::Asset,
            AccountCode::TipsPayable
            | AccountCode::EmployeePayable
            | AccountCode::ReturnedPayouts => AccountKind::Liability,
            AccountCode::ServiceRevenue
            | AccountCode::DeductionIncome
            | AccountCode::CardSales
            | AccountCode::PayoutWriteOffs => AccountKind::Revenue,
            AccountCode::CommissionExpense | AccountCode::CashOverShort => AccountKind::Expense,
        }
    }

    /// Parses the database / JSON spelling.
    pub fn parse(text: &str) -> Result<AccountCode, String> {
        AccountCode::ALL
            .into_iter()
            .find(|c| c.as_str() == text.trim())
            .ok_or_else(|| format!("'{text}' is not an account"))
    }
}

impl fmt::Display for AccountCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a transfer was posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum TransferKind {
    /// A service was registered: revenue and tip in, commission accrued.
    ServiceRegistered,
    /// A working day was recorded: its deduction charged to the employee.
    DayRecorded,
    /// A payout committed: the employee's payable (and tips) paid from the cash drawer or bank.
    PayoutCommitted,
    /// Cash put into the till (reason required).
    CashIn,
    /// Cash taken out of the till (reason required).
    CashOut,
    /// The difference between counted and expected cash at a till's close.
    TillVariance,
    /// Undoes an earlier transfer (posting for posting, signs flipped).
    Reversal,
    /// A provider captured a card payment: card clearing +, card sales −.
    PaymentCaptured,
    /// A provider refunded (part of) a card payment: card sales +, card clearing −.
    PaymentRefunded,
    /// The acquirer paid a payment out to the bank: bank +, card clearing −.
    PaymentSettled,
    /// The bank returned a bank payout (issue 9): bank +, returned payouts −.
    BankPayoutReturned,
    /// A returned bank payout was resolved: returned payouts +, and bank − (paid after all,
    /// reissued) or payout write-offs − (written off).
    BankPayoutResolved,
}

impl TransferKind {
    /// Every kind (the database's CHECK constraint lists exactly these).
    pub const ALL: [TransferKind; 12] = [
        TransferKind::ServiceRegistered,
        TransferKind::DayRecorded,
        TransferKind::PayoutCommitted,
        TransferKind::CashIn,
        TransferKind::CashOut,
        TransferKind::TillVariance,
        TransferKind::Reversal,
        TransferKind::PaymentCaptured,
        TransferKind::PaymentRefunded,
        TransferKind::PaymentSettled,
        TransferKind::BankPayoutReturned,
        TransferKind::BankPayoutResolved,
    ];

    /// Kinds of which each cause has at most one transfer (a unique index on kind and cause
    /// id): a retry of the posting finds the first one instead of writing a second.
    pub fn one_per_cause(self) -> bool {
        match self {
            TransferKind::ServiceRegistered
            | TransferKind::DayRecorded
            | TransferKind::PayoutCommitted
            | TransferKind::TillVariance
            | TransferKind::PaymentCaptured
            | TransferKind::PaymentRefunded
            | TransferKind::PaymentSettled
            | TransferKind::BankPayoutReturned
            | TransferKind::BankPayoutResolved => true,
            TransferKind::CashIn | TransferKind::CashOut | TransferKind::Reversal => false,
        }
    }

    /// Database / JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::ServiceRegistered => "service_registered",
            TransferKind::DayRecorded => "day_recorded",
            TransferKind::PayoutCommitted => "payout_committed",
            TransferKind::CashIn => "cash_in",
            TransferKind::CashOut => "cash_out",
            TransferKind::TillVariance => "till_variance",
            TransferKind::Reversal => "reversal",
            TransferKind::PaymentCaptured => "payment_captured",
            TransferKind::PaymentRefunded => "payment_refunded",
            TransferKind::PaymentSettled => "payment_settled",
            TransferKind::BankPayoutReturned => "bank_payout_returned",
            TransferKind::BankPayoutResolved => "bank_payout_resolved",
        }
    }
}

impl fmt::Display for TransferKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of a transfer: an amount debited (positive) or credited (negative) to one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Posting {
    /// The account.
    pub account: AccountCode,
    /// The employee, for [`AccountCode::EmployeePayable`]; otherwise `None`.
    pub employee_id: Option<EmployeeId>,
    /// Rappen; debit positive, credit negative.
    pub amount: Rappen,
}

/// A balanced, immutable set of postings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Transfer {
    /// Idempotent id: derived from what caused it, so a retry finds the existing transfer.
    pub id: TransferId,
    /// Studio whose books it is in.
    pub studio_id: StudioId,
    /// Why it was posted.
    pub kind: TransferKind,
    /// Words for people ("Cut & blow-dry by Lara Meier, cash").
    pub reason: String,
    /// What caused it: "service_record", "day_record", "payout", "till_session", "transfer".
    pub cause_type: String,
    /// The id of what caused it.
    pub cause_id: uuid::Uuid,
    /// The business day it belongs to (Europe/Zurich), for balances as of a date.
    pub effective_on: NaiveDate,
    /// When it was written (UTC).
    pub created_at: DateTime<Utc>,
    /// The transfer this one reverses, for a reversal.
    pub reverses: Option<TransferId>,
    /// At least two postings, summing to zero.
    pub postings: Vec<Posting>,
    /// Always "CHF".
    pub currency: String,
}

/// An account's balance at the end of a business day (or now).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AccountBalance {
    /// The account.
    pub account: AccountCode,
    /// Its name for people (with the employee's name for a payable account).
    pub name: String,
    /// Asset, liability, revenue or expense.
    pub kind: AccountKind,
    /// The employee, for a payable account.
    pub employee_id: Option<EmployeeId>,
    /// Sum of postings (Rappen, debit positive).
    pub debit_balance: Rappen,
    /// The balance as people read it: positive when the account holds (asset, expense) or owes
    /// (liability) or has earned (revenue) money.
    pub balance: Rappen,
    /// Always "CHF".
    pub currency: String,
}
