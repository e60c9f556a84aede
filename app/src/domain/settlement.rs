//! Settlement: money on its way between the studio's bank and someone else, tracked until the bank
//! statement shows it arrived. One state machine for every settlement item, shared by the server
//! (which enforces it) and the WASM UI (which offers only the legal actions and shows why the
//! others are refused). Matches are exhaustive with no `_` arm.
//!
//! An item is one bank payout to an employee (a transfer in a pain.001 bank file) or one card
//! payment in an acquirer's settlement batch. States:
//!
//! | from | action | to |
//! |---|---|---|
//! | scheduled | send (in a bank file / paid out by the acquirer) | in_transit |
//! | scheduled, in_transit, needs_reconciliation | confirm (a statement line matches, or a person matches one) | settled |
//! | scheduled, in_transit | flag (amount differs, overdue, ambiguous) | needs_reconciliation |
//! | in_transit, needs_reconciliation, settled | fail (returned or rejected by the bank; a return can come days after the debit was booked) | failed |
//! | failed | resolve as paid (the bank says it reached the payee after all) | settled |
//! | failed | reissue (a new transfer goes out in the next bank file) | reissued |
//! | failed | write off (it will not be paid out again) | written_off |
//!
//! There is no automatic retry of a failed bank payout (the case it prevents: paying twice
//! because a return and a late execution crossed). Every way out of `failed` needs a person who
//! records what the bank said: its reference and a note.

use super::ids::*;
use super::money::Rappen;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a settlement item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum SettlementState {
    /// Known and due, not yet on its way (a bank payout waiting for the next bank file).
    Scheduled,
    /// On its way: in a bank file handed to the bank, or paid out by the acquirer.
    InTransit,
    /// The bank statement shows it (or a person matched it). Nothing more is expected, but the
    /// payee's bank may still return it days later (then it fails).
    Settled,
    /// The bank returned or rejected it. Needs a person: resolve as paid, reissue or write off.
    Failed,
    /// The statement disagrees (another amount), it is overdue, or it could not be matched
    /// unambiguously. Needs a person.
    NeedsReconciliation,
    /// Failed and replaced by a new transfer (see the new item). Final.
    Reissued,
    /// Failed and closed without paying it out again. Final.
    WrittenOff,
}

/// What someone (or the engine) does with a settlement item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SettlementAction {
    /// Put on its way (exported in a bank file; the acquirer reported its payout). Engine only.
    Send,
    /// A statement line matches it: the money arrived (or left). The engine on import, or a
    /// person matching a line by hand.
    Confirm,
    /// The statement disagrees or it is overdue. Engine only.
    Flag,
    /// The bank returned or rejected it (from the statement, or recorded by a person).
    Fail,
    /// The bank confirms it reached the payee after all.
    ResolvePaid,
    /// Pay it again with a new transfer in the next bank file.
    Reissue,
    /// Close it without paying it out again.
    WriteOff,
}

/// A refused settlement transition, with the explanation shown to the person who asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[error("{explanation}")]
pub struct IllegalSettlementTransition {
    /// State the item is in.
    pub from: SettlementState,
    /// What was asked.
    pub action: SettlementAction,
    /// Why, as a code the UI words in the reader's language.
    pub reason: SettlementRefusalReason,
    /// English explanation for the API, logs and the command line, e.g. "cannot reissue: only
    /// a failed transfer is resolved; record the bank's failure first".
    pub explanation: String,
}

/// Why the settlement state machine refuses an action: a stable code (JSON: `"not_sent_yet"`),
/// worded in English by [`SettlementRefusalReason::explanation`] and per language by the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SettlementRefusalReason {
    /// A scheduled transfer cannot fail: it waits for the next bank file.
    NotSentYet,
    /// Resolving (paid, reissue, write-off) needs a failed transfer.
    OnlyFailedAreResolved,
    /// Sending a transfer already in transit.
    AlreadyOnItsWay,
    /// Sending a transfer that was sent and is being reconciled.
    SentAndNeedsReconciliation,
    /// Flagging a transfer already flagged.
    AlreadyNeedsReconciliation,
    /// A settled transfer changes only by a recorded failure.
    Settled,
    /// A failed transfer is never sent again by itself.
    FailedIsNeverResent,
    /// Confirming a failed transfer (resolve it as paid instead).
    FailedResolveAsPaid,
    /// Flagging a failed transfer.
    FailedNeedsAPerson,
    /// Failing a failed transfer.
    AlreadyFailed,
    /// Anything on a reissued transfer.
    Reissued,
    /// Anything on a written-off transfer.
    WrittenOff,
    /// Reissuing or writing off a card settlement: the acquirer pays it, not the studio.
    CardPaidByAcquirer,
}

impl SettlementRefusalReason {
    /// Every reason, for exhaustive tests and the translation check.
    pub const ALL: [SettlementRefusalReason; 13] = [
        SettlementRefusalReason::NotSentYet,
        SettlementRefusalReason::OnlyFailedAreResolved,
        SettlementRefusalReason::AlreadyOnItsWay,
        SettlementRefusalReason::SentAndNeedsReconciliation,
        SettlementRefusalReason::AlreadyNeedsReconciliation,
        SettlementRefusalReason::Settled,
        SettlementRefusalReason::FailedIsNeverResent,
        SettlementRefusalReason::FailedResolveAsPaid,
        SettlementRefusalReason::FailedNeedsAPerson,
        SettlementRefusalReason::AlreadyFailed,
        SettlementRefusalReason::Reissued,
        SettlementRefusalReason::WrittenOff,
        SettlementRefusalReason::CardPaidByAcquirer,
    ];

    /// The reason in English, after "cannot <action>: ".
    pub fn explanation(self) -> &'static str {
        use SettlementRefusalReason as R;
        match self {
            R::NotSentYet => "it has not been sent yet: it is waiting for the next bank file",
            R::OnlyFailedAreResolved => "only a failed transfer is resolved; record the bank's failure first",
            R::AlreadyOnItsWay => "it is already on its way",
            R::SentAndNeedsReconciliation => "it was already sent and needs reconciliation: match it to a statement line or record the bank's failure",
            R::AlreadyNeedsReconciliation => "it already needs reconciliation",
            R::Settled => "it is settled; the bank statement shows it (if the bank returned it since, record the failure)",
            R::FailedIsNeverResent => "a failed transfer is never sent again automatically; resolve it as reissued to pay it again",
            R::FailedResolveAsPaid => "it failed; if the bank says it reached the payee after all, resolve it as paid",
            R::FailedNeedsAPerson => "it failed and already needs a person",
            R::AlreadyFailed => "it has already failed",
            R::Reissued => "it was reissued; follow the new transfer instead",
            R::WrittenOff => "it was written off and is closed; nothing more happens to it",
            R::CardPaidByAcquirer => "a card settlement is paid by the acquirer, not by us: ask the acquirer, then resolve it as paid; a chargeback arrives as a refund event of the payment",
        }
    }
}

impl SettlementState {
    /// Every state, for exhaustive tests and filters.
    pub const ALL: [SettlementState; 7] = [
        SettlementState::Scheduled,
        SettlementState::InTransit,
        SettlementState::Settled,
        SettlementState::Failed,
        SettlementState::NeedsReconciliation,
        SettlementState::Reissued,
        SettlementState::WrittenOff,
    ];

    /// The state after `action`, or why `action` is not allowed in this state.
    pub fn apply(
        self,
        action: SettlementAction,
    ) -> Result<SettlementState, IllegalSettlementTransition> {
        use SettlementAction as A;
        use SettlementRefusalReason as R;
        use SettlementState as S;
        let refuse = |reason: SettlementRefusalReason| {
            Err(IllegalSettlementTransition {
                from: self,
                action,
                reason,
                explanation: format!("cannot {}: {}", action.verb(), reason.explanation()),
            })
        };
        match (self, action) {
            (S::Scheduled, A::Send) => Ok(S::InTransit),
            (S::Scheduled | S::InTransit | S::NeedsReconciliation, A::Confirm) => Ok(S::Settled),
            (S::Scheduled | S::InTransit, A::Flag) => Ok(S::NeedsReconciliation),
            (S::InTransit | S::NeedsReconciliation | S::Settled, A::Fail) => Ok(S::Failed),
            (S::Failed, A::ResolvePaid) => Ok(S::Settled),
            (S::Failed, A::Reissue) => Ok(S::Reissued),
            (S::Failed, A::WriteOff) => Ok(S::WrittenOff),

            (S::Scheduled, A::Fail) => refuse(R::NotSentYet),
            (S::Scheduled | S::InTransit | S::NeedsReconciliation, A::ResolvePaid)
            | (S::Scheduled | S::InTransit | S::NeedsReconciliation, A::Reissue)
            | (S::Scheduled | S::InTransit | S::NeedsReconciliation, A::WriteOff) => {
                refuse(R::OnlyFailedAreResolved)
            }
            (S::InTransit, A::Send) => refuse(R::AlreadyOnItsWay),
            (S::NeedsReconciliation, A::Send) => refuse(R::SentAndNeedsReconciliation),
            (S::NeedsReconciliation, A::Flag) => refuse(R::AlreadyNeedsReconciliation),
            (S::Settled, A::Send | A::Confirm | A::Flag)
            | (S::Settled, A::ResolvePaid | A::Reissue | A::WriteOff) => refuse(R::Settled),
            (S::Failed, A::Send) => refuse(R::FailedIsNeverResent),
            (S::Failed, A::Confirm) => refuse(R::FailedResolveAsPaid),
            (S::Failed, A::Flag) => refuse(R::FailedNeedsAPerson),
            (S::Failed, A::Fail) => refuse(R::AlreadyFailed),
            (S::Reissued, A::Send | A::Confirm | A::Flag | A::Fail)
            | (S::Reissued, A::ResolvePaid | A::Reissue | A::WriteOff) => refuse(R::Reissued),
            (S::WrittenOff, A::Send | A::Confirm | A::Flag | A::Fail)
            | (S::WrittenOff, A::ResolvePaid | A::Reissue | A::WriteOff) => refuse(R::WrittenOff),
        }
    }

    /// Whether a person must act (shown at the top of the settlement page and in the banner).
    pub fn needs_attention(self) -> bool {
        match self {
            SettlementState::Failed | SettlementState::NeedsReconciliation => true,
            SettlementState::Scheduled
            | SettlementState::InTransit
            | SettlementState::Settled
            | SettlementState::Reissued
            | SettlementState::WrittenOff => false,
        }
    }

    /// Whether nothing can change the item any more.
    pub fn is_final(self) -> bool {
        match self {
            SettlementState::Reissued | SettlementState::WrittenOff => true,
            SettlementState::Scheduled
            | SettlementState::InTransit
            | SettlementState::Settled
            | SettlementState::Failed
            | SettlementState::NeedsReconciliation => false,
        }
    }

    /// Whether nothing more is expected: settled, or failed and resolved by a person.
    pub fn is_closed(self) -> bool {
        match self {
            SettlementState::Settled | SettlementState::Reissued | SettlementState::WrittenOff => {
                true
            }
            SettlementState::Scheduled
            | SettlementState::InTransit
            | SettlementState::Failed
            | SettlementState::NeedsReconciliation => false,
        }
    }

    /// Database / JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SettlementState::Scheduled => "scheduled",
            SettlementState::InTransit => "in_transit",
            SettlementState::Settled => "settled",
            SettlementState::Failed => "failed",
            SettlementState::NeedsReconciliation => "needs_reconciliation",
            SettlementState::Reissued => "reissued",
            SettlementState::WrittenOff => "written_off",
        }
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            SettlementState::Scheduled => "Scheduled",
            SettlementState::InTransit => "In transit",
            SettlementState::Settled => "Settled",
            SettlementState::Failed => "Failed",
            SettlementState::NeedsReconciliation => "Needs reconciliation",
            SettlementState::Reissued => "Reissued",
            SettlementState::WrittenOff => "Written off",
        }
    }

    /// Parses the database / JSON spelling.
    pub fn parse(text: &str) -> Result<SettlementState, String> {
        SettlementState::ALL
            .into_iter()
            .find(|s| s.as_str() == text.trim())
            .ok_or_else(|| {
                format!("'{text}' is not a settlement state (scheduled, in_transit, settled, failed, needs_reconciliation, reissued, written_off)")
            })
    }

    /// The state of a batch, derived from its items' states: every item alike gives that state;
    /// settled mixed with closed failures (reissued, written off) is settled; any other mix that
    /// contains a failure or a disagreement needs reconciliation (a partial failure: the items
    /// show which); otherwise the least advanced of scheduled and in transit.
    pub fn of_batch(items: &[SettlementState]) -> SettlementState {
        use SettlementState as S;
        let Some(first) = items.first() else {
            return S::Scheduled;
        };
        if items.iter().all(|s| s == first) {
            return *first;
        }
        let any = |wanted: S| items.contains(&wanted);
        if any(S::Failed) || any(S::NeedsReconciliation) {
            S::NeedsReconciliation
        } else if items.iter().all(|s| s.is_closed()) {
            S::Settled
        } else if any(S::Scheduled) && !any(S::InTransit) && !any(S::Settled) {
            S::Scheduled
        } else {
            S::InTransit
        }
    }
}

impl fmt::Display for SettlementState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SettlementAction {
    /// Every action, for exhaustive tests.
    pub const ALL: [SettlementAction; 7] = [
        SettlementAction::Send,
        SettlementAction::Confirm,
        SettlementAction::Flag,
        SettlementAction::Fail,
        SettlementAction::ResolvePaid,
        SettlementAction::Reissue,
        SettlementAction::WriteOff,
    ];

    /// The actions a person may ask for through the API or the page; the others are the
    /// engine's (sending happens by exporting a bank file, flagging on statement import).
    pub const BY_PEOPLE: [SettlementAction; 5] = [
        SettlementAction::Confirm,
        SettlementAction::Fail,
        SettlementAction::ResolvePaid,
        SettlementAction::Reissue,
        SettlementAction::WriteOff,
    ];

    fn verb(self) -> &'static str {
        match self {
            SettlementAction::Send => "send",
            SettlementAction::Confirm => "confirm",
            SettlementAction::Flag => "flag for reconciliation",
            SettlementAction::Fail => "record a failure",
            SettlementAction::ResolvePaid => "resolve as paid",
            SettlementAction::Reissue => "reissue",
            SettlementAction::WriteOff => "write off",
        }
    }

    /// Button label.
    pub fn label(self) -> &'static str {
        match self {
            SettlementAction::Send => "Send",
            SettlementAction::Confirm => "Confirm settled",
            SettlementAction::Flag => "Flag",
            SettlementAction::Fail => "Record failure",
            SettlementAction::ResolvePaid => "Resolve as paid",
            SettlementAction::Reissue => "Reissue",
            SettlementAction::WriteOff => "Write off",
        }
    }

    /// Whether a person asking for this must record what the bank said (reference and note).
    pub fn needs_bank_record(self) -> bool {
        match self {
            SettlementAction::Fail
            | SettlementAction::ResolvePaid
            | SettlementAction::Reissue
            | SettlementAction::WriteOff => true,
            SettlementAction::Send | SettlementAction::Confirm | SettlementAction::Flag => false,
        }
    }
}

/// What kind of money movement an item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum SettlementKind {
    /// A committed bank payout to an employee: leaves the studio's bank (debit on the statement).
    BankPayout,
    /// A card payment settled by the acquirer: arrives at the studio's bank (credit).
    CardPayment,
}

impl SettlementKind {
    /// Both kinds, for exhaustive tests.
    pub const ALL: [SettlementKind; 2] = [SettlementKind::BankPayout, SettlementKind::CardPayment];

    /// [`SettlementState::apply`] for an item of this kind: a card settlement is paid by the
    /// acquirer, not by the studio, so it is never reissued or written off by us (ask the
    /// acquirer, then resolve it as paid; a chargeback arrives as a refund event of the
    /// payment). The engine and the page both ask this, so the page offers only what the engine
    /// accepts.
    pub fn apply(
        self,
        state: SettlementState,
        action: SettlementAction,
    ) -> Result<SettlementState, IllegalSettlementTransition> {
        let paid_by_us_only = matches!(
            action,
            SettlementAction::Reissue | SettlementAction::WriteOff
        );
        if self == SettlementKind::CardPayment && paid_by_us_only {
            let reason = SettlementRefusalReason::CardPaidByAcquirer;
            return Err(IllegalSettlementTransition {
                from: state,
                action,
                reason,
                explanation: format!("cannot {}: {}", action.verb(), reason.explanation()),
            });
        }
        state.apply(action)
    }
}

/// One settlement item as the API and the page show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SettlementItem {
    /// The item.
    pub id: SettlementItemId,
    /// Bank payout or card payment.
    pub kind: SettlementKind,
    /// The studio whose bank account it moves through.
    pub studio_id: StudioId,
    /// The bank file or acquirer batch it is in, once sent.
    pub batch_id: Option<SettlementBatchId>,
    /// The payout it pays (bank payouts).
    pub payout_id: Option<PayoutId>,
    /// The employee paid (bank payouts).
    pub employee_id: Option<EmployeeId>,
    /// Who is paid or who pays: the employee's name, or the provider.
    pub counterparty: String,
    /// The end-to-end id the transfer carries; the bank returns it on the statement (max 35
    /// characters, SPS pain.001 `EndToEndId`).
    pub end_to_end_id: String,
    /// Rappen, always positive.
    pub amount: Rappen,
    /// Always "CHF".
    pub currency: String,
    /// Where it is.
    pub state: SettlementState,
    /// Business day (SIC calendar) on which the money should arrive.
    pub expected_on: NaiveDate,
    /// Business days from today (Europe/Zurich) to `expected_on`; 0 when due or overdue.
    pub business_days_left: u32,
    /// Whether `expected_on` has passed while the item is still open.
    pub overdue: bool,
    /// Why it failed or needs reconciliation ("returned by the bank: AC04 account closed").
    pub reason: Option<String>,
    /// The same as data, for a page to word in its reader's language (`None` where no reason
    /// is recorded, and for reasons recorded before this was stored).
    #[serde(default)]
    pub reconciliation_reason: Option<ReconciliationReason>,
    /// What the bank said, as recorded by the person who resolved it.
    pub bank_reference: Option<String>,
    /// The resolving person's note.
    pub note: Option<String>,
    /// The failed item this one reissues.
    pub reissue_of: Option<SettlementItemId>,
    /// Optimistic concurrency: +1 on every change; actions send it back as `expected_version`.
    pub version: i64,
    /// When it was created (UTC).
    pub created_at: DateTime<Utc>,
    /// When it last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A bank file (pain.001) or acquirer settlement batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SettlementBatch {
    /// The batch.
    pub id: SettlementBatchId,
    /// Bank payouts (a pain.001 file) or card payments (an acquirer settlement).
    pub kind: SettlementKind,
    /// The studio.
    pub studio_id: StudioId,
    /// The file's message id (pain.001 `MsgId`), or our reference of a card batch.
    pub reference: String,
    /// The acquirer of a card settlement batch.
    pub provider: Option<String>,
    /// Requested execution date (bank file) or expected settlement date (business day).
    pub expected_on: NaiveDate,
    /// Number of items.
    pub item_count: i64,
    /// Sum of the items (Rappen).
    pub total: Rappen,
    /// Derived from the items' states ([`SettlementState::of_batch`]).
    pub state: SettlementState,
    /// When it was created (UTC).
    pub created_at: DateTime<Utc>,
}

/// Why a bank statement line matched nothing or not exactly, or why a settlement item failed
/// or needs reconciliation, as data: the page words it in the reader's language, while the
/// stored `explanation` / `reason` keeps the English of [`ReconciliationReason::explanation`]
/// for the API and the logs. JSON: `{"code": "amount_differs", "debited": 12000, "expected":
/// 15000}` (Rappen), `{"code": "returned_by_bank", "bank_code": "AC04"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ReconciliationReason {
    /// A line in another currency: only CHF lines are matched.
    OtherCurrency {
        /// ISO 4217 code of the line.
        currency: String,
    },
    /// A debit (or a reversal) without an end-to-end id.
    NoEndToEndId,
    /// No bank payout of the studio carries the line's end-to-end id.
    UnknownEndToEndId {
        /// The id on the line.
        end_to_end_id: String,
    },
    /// A credit without an end-to-end id of ours and no card batch of its amount around its
    /// booking date.
    NoCardBatch,
    /// Several card batches add up to the credit's amount around its date: a person decides.
    SeveralCardBatches {
        /// How many.
        count: u32,
    },
    /// The acquirer credited less than the card batch expects.
    BatchShort {
        /// Credited (Rappen).
        credited: Rappen,
        /// Expected for the batch (Rappen).
        expected: Rappen,
    },
    /// A return for a transfer that failed or was resolved before (a duplicate line).
    AlreadyFinal {
        /// The transfer's state.
        state: SettlementState,
    },
    /// A debit for a transfer an earlier statement line settled (a duplicate line).
    AlreadySettled,
    /// The bank debited another amount than the payout's.
    AmountDiffers {
        /// Debited (Rappen).
        debited: Rappen,
        /// The payout's amount (Rappen).
        expected: Rappen,
    },
    /// A debit for a transfer that needs reconciliation, failed or is resolved.
    DebitForUnsettled {
        /// Debited (Rappen).
        debited: Rappen,
        /// The transfer's state.
        state: SettlementState,
    },
    /// The bank returned the transfer, with its ISO 20022 return reason code
    /// (ExternalReturnReason1Code, e.g. AC04) when the statement gives one.
    ReturnedByBank {
        /// The code.
        bank_code: Option<String>,
    },
    /// A person recorded that the bank reports the transfer failed.
    BankReportsFailure {
        /// What the bank said, as the person wrote it.
        note: String,
    },
    /// Not on any bank statement some business days after it was due.
    Overdue {
        /// When it was due (SIC business day).
        expected_on: NaiveDate,
        /// Business days of grace after that.
        grace_days: u32,
    },
    /// A person matched the line to its item.
    MatchedByHand,
}

impl ReconciliationReason {
    /// English, for the API and the logs ("the bank debited CHF 120.00 but the payout is
    /// CHF 150.00").
    pub fn explanation(&self) -> String {
        use ReconciliationReason as R;
        match self {
            R::OtherCurrency { currency } => format!("in {currency}; only CHF lines are matched"),
            R::NoEndToEndId => "no end-to-end id; match it by hand if it is a settlement".into(),
            R::UnknownEndToEndId { end_to_end_id } => {
                format!("no bank payout has the end-to-end id {end_to_end_id}")
            }
            R::NoCardBatch => "no end-to-end id of ours and no card batch of this amount around this date; match it by hand if it is a settlement".into(),
            R::SeveralCardBatches { count } => format!(
                "{count} card batches add up to this amount around this date; match it by hand"
            ),
            R::BatchShort { credited, expected } => format!(
                "the acquirer credited {credited} of the {expected} expected for this batch; confirm the payments that arrived and record a failure for the others"
            ),
            R::AlreadyFinal { state } => {
                format!("the transfer is {} already", state.label().to_lowercase())
            }
            R::AlreadySettled => "already settled by an earlier statement line".into(),
            R::AmountDiffers { debited, expected } => {
                format!("the bank debited {debited} but the payout is {expected}")
            }
            R::DebitForUnsettled { debited, state } => format!(
                "the bank debited {debited} for a transfer that is {}; check with the bank and resolve it by hand",
                state.label().to_lowercase()
            ),
            R::ReturnedByBank { bank_code } => match bank_code {
                Some(code) => format!(
                    "returned by the bank ({code}{})",
                    ReturnCode::parse(code).map_or(String::new(), |known| format!(": {}", known.explanation()))
                ),
                None => "returned by the bank (no reason code)".into(),
            },
            R::BankReportsFailure { note } => format!("the bank reports it failed: {note}"),
            R::Overdue {
                expected_on,
                grace_days,
            } => format!(
                "not on any bank statement {grace_days} business days after it was due ({expected_on}); import the latest statement or ask the bank"
            ),
            R::MatchedByHand => "matched by hand".into(),
        }
    }
}

/// The ISO 20022 return reason codes Swiss banks use most (ExternalReturnReason1Code), which
/// the page and the API explain; other codes are shown as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnCode {
    /// AC01: account number incorrect.
    Ac01,
    /// AC04: account closed.
    Ac04,
    /// AC06: account blocked.
    Ac06,
    /// AM04: insufficient funds.
    Am04,
    /// BE01: name does not match the account.
    Be01,
    /// MS03: reason not given by the bank.
    Ms03,
    /// RC01: bank identifier incorrect.
    Rc01,
}

impl ReturnCode {
    /// The code for `text` ("AC04"), if it is one of the known ones.
    pub fn parse(text: &str) -> Option<ReturnCode> {
        match text {
            "AC01" => Some(ReturnCode::Ac01),
            "AC04" => Some(ReturnCode::Ac04),
            "AC06" => Some(ReturnCode::Ac06),
            "AM04" => Some(ReturnCode::Am04),
            "BE01" => Some(ReturnCode::Be01),
            "MS03" => Some(ReturnCode::Ms03),
            "RC01" => Some(ReturnCode::Rc01),
            _ => None,
        }
    }

    /// English meaning ("account closed").
    pub fn explanation(self) -> &'static str {
        match self {
            ReturnCode::Ac01 => "account number incorrect",
            ReturnCode::Ac04 => "account closed",
            ReturnCode::Ac06 => "account blocked",
            ReturnCode::Am04 => "insufficient funds",
            ReturnCode::Be01 => "name does not match the account",
            ReturnCode::Ms03 => "reason not given by the bank",
            ReturnCode::Rc01 => "bank identifier incorrect",
        }
    }
}

/// A statement line that matched nothing (or matched ambiguously), for manual matching.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, sqlx::FromRow))]
pub struct StatementLine {
    /// The line.
    pub id: StatementLineId,
    /// The statement it came from.
    pub statement_id: BankStatementId,
    /// "credit" (money in) or "debit" (money out).
    pub direction: String,
    /// Rappen (positive).
    pub amount: Rappen,
    /// The currency on the statement (lines in another currency than CHF are never matched).
    pub currency: String,
    /// The end-to-end id the bank reported, if any.
    pub end_to_end_id: Option<String>,
    /// Remittance text, creditor reference or additional entry information.
    pub reference: Option<String>,
    /// Counterparty name.
    pub counterparty: Option<String>,
    /// Booking date.
    pub booked_on: Option<NaiveDate>,
    /// Bank's return reason code (e.g. AC04), for a returned transfer.
    pub return_reason: Option<String>,
    /// "matched", "unmatched", "mismatch" (matched an item by id, but not its amount or state),
    /// "duplicate" (an earlier statement already matched it) or "dismissed" (a person marked it
    /// as not a settlement, with a note).
    pub match_state: String,
    /// The item it matched.
    pub item_id: Option<SettlementItemId>,
    /// The card settlement batch it paid as a whole (one acquirer credit for many payments).
    pub batch_id: Option<SettlementBatchId>,
    /// Why it is unmatched or mismatched, for people (English; for a dismissed line, the
    /// dismissing person's note).
    pub explanation: Option<String>,
    /// The same as data, for a page to word in its reader's language (`None` for a matched or
    /// dismissed line, and for lines imported before this was stored).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", sqlx(json(nullable)))]
    pub reconciliation_reason: Option<ReconciliationReason>,
}

/// The settlement overview of the caller's studios.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SettlementOverview {
    /// Items that need a person (failed, needs reconciliation), oldest first.
    pub attention: Vec<SettlementItem>,
    /// Items scheduled or in transit, soonest expected first.
    pub in_transit: Vec<SettlementItem>,
    /// The latest settled and closed items (at most 100).
    pub recent: Vec<SettlementItem>,
    /// Bank files and acquirer batches, newest first (at most 50).
    pub batches: Vec<SettlementBatch>,
    /// Statement lines waiting for manual matching, oldest first.
    pub unmatched_lines: Vec<StatementLine>,
    /// Sum in transit (scheduled + in transit), Rappen.
    pub in_transit_total: Rappen,
    /// Statement imports not finished: going on now, or stopped part-way (importing the same
    /// file again continues them), oldest first.
    #[serde(default)]
    pub unfinished_imports: Vec<StatementImportProgress>,
}

/// `POST /api/v1/settlements/items/{id}/actions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SettlementActionRequest {
    /// One of [`SettlementAction::BY_PEOPLE`].
    pub action: SettlementAction,
    /// The version the person saw; a stale one gets 409 with the current item.
    pub expected_version: i64,
    /// What the bank calls it (its reference, case number): required to record a failure and
    /// to resolve one.
    #[serde(default)]
    pub bank_reference: Option<String>,
    /// What the bank said / why: required with a bank reference, and to confirm by hand.
    #[serde(default)]
    pub note: Option<String>,
    /// For a manual confirmation: the statement line that shows the money.
    #[serde(default)]
    pub line_id: Option<StatementLineId>,
}

/// `POST /api/v1/bank-files`: collect the scheduled bank payouts of a studio into a pain.001 file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BankFileRequest {
    /// The studio whose account pays.
    pub studio_id: StudioId,
    /// Requested execution date; default: the next business day. Must be a business day, today
    /// or later.
    #[serde(default)]
    pub execution_date: Option<NaiveDate>,
}

/// A bank file written: the batch and its items.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BankFile {
    /// The batch (reference = the file's `MsgId`).
    pub batch: SettlementBatch,
    /// The transfers in it.
    pub items: Vec<SettlementItem>,
    /// Where to download the XML: `/api/v1/bank-files/{id}/pain.001.xml`.
    pub download_url: String,
    /// Scheduled payouts left out of this file, and why ("Lara Meier: no IBAN on file"). They
    /// stay scheduled for the next file.
    pub skipped: Vec<String>,
    /// The same as data, for a page to word in its reader's language.
    #[serde(default)]
    pub skipped_payouts: Vec<SkippedPayout>,
}

/// A scheduled bank payout a bank file left out, and why. It stays scheduled for the next file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SkippedPayout {
    /// The employee to be paid.
    pub employee_name: String,
    /// What is wrong with the employee's IBAN on file; `None`: no IBAN is on file.
    pub iban_error: Option<super::problem::IbanError>,
}

impl SkippedPayout {
    /// English, as in the bank file's `skipped` list: "Lara Meier: no IBAN on file; add it
    /// under Settlements".
    pub fn explanation(&self) -> String {
        match &self.iban_error {
            None => format!(
                "{}: no IBAN on file; add it under Settlements",
                self.employee_name
            ),
            Some(error) => format!("{}: {error}", self.employee_name),
        }
    }
}

/// How many business days after its cause money settles (`T+N`), per method or provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, sqlx::FromRow))]
pub struct SettlementTerm {
    /// `bank_payout` (execution to the employee's bank), `card` (capture to the acquirer's
    /// credit, for providers without a term of their own), or a provider's name.
    pub key: String,
    /// N of `T+N`, in SIC business days (0 to 30).
    pub business_days: i64,
    /// When it was last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// `PUT /api/v1/settlement-terms/{key}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SettlementTermRequest {
    /// N of `T+N`, in SIC business days (0 to 30).
    pub business_days: i64,
}

/// `POST /api/v1/bank-statements/lines/{id}/dismiss`: a line that is not a settlement (rent,
/// fees) leaves the manual-matching list with a note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DismissLineRequest {
    /// Why it is not a settlement.
    pub note: String,
}

/// What importing a bank statement did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StatementImport {
    /// The import.
    pub statement_id: BankStatementId,
    /// True when this exact file was imported before: nothing changed, this is the first
    /// import's result.
    pub duplicate: bool,
    /// "camt.053" or "camt.054".
    pub kind: String,
    /// The file's message id.
    pub message_id: String,
    /// Lines read (one per transaction; an entry without details is one line).
    pub lines: i64,
    /// Items confirmed settled.
    pub settled: i64,
    /// Items marked failed (returned by the bank).
    pub failed: i64,
    /// Items flagged for reconciliation (amount differs).
    pub needs_reconciliation: i64,
    /// Lines that matched nothing, listed for manual matching.
    pub unmatched: i64,
    /// Lines already matched by an earlier statement.
    pub duplicates: i64,
}

/// How far the import of one bank statement is. A statement is matched in steps of a few
/// hundred lines, each committed on its own, so this is what another reader (the settlements
/// page, a second request) sees while it goes on, and what the command line prints after each
/// step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StatementImportProgress {
    /// The import.
    pub statement_id: BankStatementId,
    /// The studio whose account the statement is of.
    pub studio_id: StudioId,
    /// "camt.053" or "camt.054".
    pub kind: String,
    /// The file's message id.
    pub message_id: String,
    /// Lines matched and stored so far.
    pub lines_done: i64,
    /// Lines of the file (one per transaction; an entry without details is one line).
    pub lines_total: i64,
    /// When the import started (UTC).
    pub started_at: DateTime<Utc>,
    /// When its last step committed (UTC).
    pub progress_at: DateTime<Utc>,
    /// True when an unfinished import stopped: a step failed, or it has not moved for
    /// [`STATEMENT_IMPORT_STALLS_AFTER_SECS`] (its process ended). Importing the same file again
    /// continues it from the line after `lines_done`; nothing is matched twice.
    pub stalled: bool,
}

/// Seconds without a finished step after which an unfinished statement import counts as
/// stopped ([`StatementImportProgress::stalled`]); a step of a few hundred lines takes well
/// under a second.
pub const STATEMENT_IMPORT_STALLS_AFTER_SECS: i64 = 60;

impl StatementImportProgress {
    /// Percent of the lines done, 0 to 100 (100 for a file without lines).
    pub fn percent(&self) -> i64 {
        if self.lines_total <= 0 {
            100
        } else {
            self.lines_done.clamp(0, self.lines_total) * 100 / self.lines_total
        }
    }
}

/// The bank details of an employee (for bank payouts) or a studio (the paying account).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BankAccountRequest {
    /// The IBAN, with or without spaces. An employee's must not be a QR-IBAN.
    pub iban: String,
    /// Account holder's name as the bank knows it (studios; employees default to their name).
    #[serde(default)]
    pub holder: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use SettlementAction as A;
    use SettlementState as S;

    /// Every legal transition, written out by hand: the table is the specification.
    const LEGAL: [(SettlementState, SettlementAction, SettlementState); 12] = [
        (S::Scheduled, A::Send, S::InTransit),
        (S::Scheduled, A::Confirm, S::Settled),
        (S::InTransit, A::Confirm, S::Settled),
        (S::NeedsReconciliation, A::Confirm, S::Settled),
        (S::Scheduled, A::Flag, S::NeedsReconciliation),
        (S::InTransit, A::Flag, S::NeedsReconciliation),
        (S::InTransit, A::Fail, S::Failed),
        (S::NeedsReconciliation, A::Fail, S::Failed),
        (S::Settled, A::Fail, S::Failed),
        (S::Failed, A::ResolvePaid, S::Settled),
        (S::Failed, A::Reissue, S::Reissued),
        (S::Failed, A::WriteOff, S::WrittenOff),
    ];

    #[test]
    fn exactly_the_legal_transitions_are_allowed_and_every_other_is_explained() {
        for state in S::ALL {
            for action in A::ALL {
                let legal = LEGAL
                    .iter()
                    .find(|(s, a, _)| *s == state && *a == action)
                    .map(|(_, _, to)| *to);
                match (legal, state.apply(action)) {
                    (Some(to), Ok(got)) => assert_eq!(got, to, "{state:?} --{action:?}-->"),
                    (None, Err(refusal)) => {
                        assert_eq!((refusal.from, refusal.action), (state, action));
                        assert!(refusal.explanation.starts_with("cannot "));
                        assert!(refusal.explanation.len() > 25, "{}", refusal.explanation);
                    }
                    (Some(to), Err(refusal)) => {
                        panic!("{state:?} --{action:?}--> {to:?} refused: {refusal}")
                    }
                    (None, Ok(to)) => panic!("{state:?} --{action:?}--> {to:?} must be refused"),
                }
            }
        }
    }

    #[test]
    fn a_card_settlement_is_never_reissued_or_written_off_by_us() {
        for state in S::ALL {
            for action in A::ALL {
                let card = SettlementKind::CardPayment.apply(state, action);
                match action {
                    A::Reissue | A::WriteOff => {
                        let refusal = card.expect_err("the acquirer pays it");
                        assert_eq!(refusal.reason, SettlementRefusalReason::CardPaidByAcquirer);
                        assert!(refusal.explanation.starts_with("cannot "));
                    }
                    A::Send | A::Confirm | A::Flag | A::Fail | A::ResolvePaid => {
                        assert_eq!(card, state.apply(action), "{state:?} {action:?}");
                    }
                }
                let bank = SettlementKind::BankPayout.apply(state, action);
                assert_eq!(bank, state.apply(action), "{state:?} {action:?}");
            }
        }
    }

    #[test]
    fn every_refusal_reason_is_reachable() {
        let given: Vec<SettlementRefusalReason> = SettlementKind::ALL
            .into_iter()
            .flat_map(|kind| S::ALL.map(move |state| (kind, state)))
            .flat_map(|(kind, state)| A::ALL.map(|action| kind.apply(state, action)))
            .filter_map(|outcome| outcome.err().map(|refusal| refusal.reason))
            .collect();
        for reason in SettlementRefusalReason::ALL {
            assert!(given.contains(&reason), "{reason:?} is never given");
        }
    }

    #[test]
    fn a_failed_transfer_is_never_sent_again_without_a_person() {
        let refusal = S::Failed.apply(A::Send).expect_err("no automatic retry");
        assert!(refusal
            .explanation
            .contains("never sent again automatically"));
        assert!(A::BY_PEOPLE.iter().all(|a| *a != A::Send && *a != A::Flag));
        for action in [A::Fail, A::ResolvePaid, A::Reissue, A::WriteOff] {
            assert!(action.needs_bank_record(), "{action:?}");
        }
    }

    #[test]
    fn final_states_accept_nothing_and_attention_states_are_open() {
        for state in S::ALL {
            if state.is_final() {
                assert!(A::ALL.iter().all(|a| state.apply(*a).is_err()), "{state:?}");
            }
            assert!(!(state.is_closed() && state.needs_attention()));
            assert!(!state.is_final() || state.is_closed());
        }
    }

    #[test]
    fn a_batch_with_a_partial_failure_needs_reconciliation() {
        assert_eq!(S::of_batch(&[S::Settled, S::Settled]), S::Settled);
        assert_eq!(
            S::of_batch(&[S::Settled, S::Failed]),
            S::NeedsReconciliation
        );
        assert_eq!(S::of_batch(&[S::InTransit, S::Settled]), S::InTransit);
        assert_eq!(
            S::of_batch(&[S::Settled, S::Reissued, S::WrittenOff]),
            S::Settled
        );
        assert_eq!(S::of_batch(&[S::Failed]), S::Failed);
        assert_eq!(S::of_batch(&[]), S::Scheduled);
    }

    #[test]
    fn states_round_trip_their_names() {
        for state in S::ALL {
            assert_eq!(S::parse(state.as_str()), Ok(state));
        }
        assert!(S::parse("paid")
            .unwrap_err()
            .contains("needs_reconciliation"));
    }

    #[test]
    fn a_reconciliation_reason_reads_as_the_api_has_always_said_it() {
        use ReconciliationReason as R;
        let cases = [
            (
                R::ReturnedByBank {
                    bank_code: Some("AC04".into()),
                },
                "returned by the bank (AC04: account closed)",
            ),
            (
                R::ReturnedByBank {
                    bank_code: Some("XY99".into()),
                },
                "returned by the bank (XY99)",
            ),
            (
                R::ReturnedByBank { bank_code: None },
                "returned by the bank (no reason code)",
            ),
            (
                R::AmountDiffers {
                    debited: Rappen(12_000),
                    expected: Rappen(15_000),
                },
                "the bank debited CHF 120.00 but the payout is CHF 150.00",
            ),
            (
                R::AlreadyFinal {
                    state: SettlementState::WrittenOff,
                },
                "the transfer is written off already",
            ),
            (
                R::Overdue {
                    expected_on: NaiveDate::from_ymd_opt(2026, 11, 13).expect("a date"),
                    grace_days: 2,
                },
                "not on any bank statement 2 business days after it was due (2026-11-13); import the latest statement or ask the bank",
            ),
        ];
        for (reason, english) in cases {
            assert_eq!(reason.explanation(), english);
        }
        let json = serde_json::to_value(R::SeveralCardBatches { count: 2 }).expect("json");
        assert_eq!(
            json,
            serde_json::json!({ "code": "several_card_batches", "count": 2 })
        );
    }
}
