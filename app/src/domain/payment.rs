//! Payments reported by card terminals and payment providers (issue 6): the payment lifecycle
//! state machine, the provider event vocabulary and the money rules of each event. One
//! definition, compiled into the server (which enforces it when it applies ingested events and
//! operator actions) and into the WASM operator page (which offers only the legal actions and
//! shows why the others are refused). Matches are exhaustive with no `_` arm.
//!
//! States and every legal transition (an event type names the action that causes it):
//!
//! | from | action (event) | to |
//! |---|---|---|
//! | draft | submitted | submitted |
//! | draft, submitted | authorized | processing (a terminal skips submission) |
//! | draft, submitted, processing | cancelled | cancelled (processing: the authorisation is voided) |
//! | submitted, processing | failed | failed |
//! | processing | captured | succeeded |
//! | succeeded, partially_refunded | partially_refunded | partially_refunded, or refunded once everything captured is refunded |
//! | succeeded, partially_refunded | refunded | refunded |
//! | succeeded, partially_refunded, refunded | settled | unchanged (the payment is marked settled, once) |
//!
//! Everything else is refused with an explanation ("cannot refund: the payment is still
//! processing"). `failed` and `cancelled` are final. Settlement is an attribute, not a state: a
//! refund may follow the acquirer's settlement (it is netted in a later one).
//!
//! Money (Rappen): `captured` may not exceed the authorised amount; refunds together may not
//! exceed `captured` (a full refund returns exactly what is left); the settled amount may not
//! exceed `captured`. The ledger effect of an applied event is the difference between the books
//! before and after it ([`PaymentBook::apply`]): capture debits card clearing and credits card
//! sales, a refund reverses that, a settlement moves the amount from card clearing to the bank.

use super::ids::{PaymentId, StudioId};
use super::money::Rappen;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Lifecycle state of a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum PaymentState {
    /// Created by an operator; nothing is sent to a provider yet.
    Draft,
    /// Sent to the provider, no answer yet.
    Submitted,
    /// Authorised: the money is reserved on the card, not yet captured.
    Processing,
    /// Captured: the acquirer owes the studio the captured amount.
    Succeeded,
    /// Part of the captured amount is refunded.
    PartiallyRefunded,
    /// Everything captured is refunded. Final for refunds; may still be settled.
    Refunded,
    /// The provider declined or the authorisation failed. Final.
    Failed,
    /// Cancelled before capture (an authorisation is voided). Final.
    Cancelled,
}

/// What a provider event or an operator asks to do with a payment; the JSON spelling is the
/// provider event type (`"captured"`, `"partially_refunded"`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum PaymentAction {
    /// The payment was sent to the provider.
    Submitted,
    /// The provider authorised the amount.
    Authorized,
    /// The authorised amount (or less) was captured.
    Captured,
    /// The provider declined the payment.
    Failed,
    /// Cancelled before capture (a void).
    Cancelled,
    /// Everything still refundable was refunded.
    Refunded,
    /// Part of the captured amount was refunded.
    PartiallyRefunded,
    /// The acquirer paid the payment out to the studio's bank account.
    Settled,
}

/// A refused transition, with the explanation shown to the person who asked (and stored as the
/// reason of a parked event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[error("{explanation}")]
pub struct PaymentRefusal {
    /// State the payment is in (`None`: the payment is unknown).
    pub from: Option<PaymentState>,
    /// What was asked.
    pub action: PaymentAction,
    /// Why, as a code (with the amounts involved) the UI words in the reader's language.
    pub reason: PaymentRefusalReason,
    /// English explanation for the API, logs and parked events, e.g. "cannot refund: the
    /// payment is still processing; cancel the authorisation instead".
    pub explanation: String,
}

/// Why a payment refuses an action: the lifecycle's reasons (from the state alone) and the
/// money rules' (with the amounts, Rappen). JSON: `{"code": "over_refundable", "amount": 500,
/// "refundable": 300, "captured": 1000}`. Worded in English by
/// [`PaymentRefusalReason::explanation`] and per language by the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum PaymentRefusalReason {
    /// A draft cannot fail: it was never sent.
    NeverSubmitted,
    /// Capture before authorisation.
    NotAuthorised,
    /// A refund before anything was captured.
    NothingCaptured,
    /// A settlement before anything was captured.
    NothingToSettle,
    /// Submitting twice.
    AlreadySubmitted,
    /// Submitting or authorising an authorised payment.
    AlreadyAuthorised,
    /// A refund of an authorisation (void it instead).
    StillProcessingCancelInstead,
    /// A settlement of an authorisation.
    StillProcessing,
    /// Submitting, authorising or capturing a captured payment.
    AlreadyCaptured,
    /// A captured payment cannot fail (refund it).
    CapturedCannotFail,
    /// A captured payment cannot be cancelled (refund it).
    CapturedRefundInstead,
    /// Refunding a fully refunded payment.
    AlreadyRefunded,
    /// Anything on a failed payment.
    Failed,
    /// Anything on a cancelled payment.
    Cancelled,
    /// Submitted or authorised with 0.
    AmountNotPositive,
    /// Captured with 0.
    CapturedAmountNotPositive,
    /// Partially refunded with 0.
    RefundedAmountNotPositive,
    /// A capture over the authorised amount.
    OverAuthorised {
        /// Asked to capture (Rappen).
        amount: Rappen,
        /// Authorised (Rappen).
        authorised: Rappen,
    },
    /// A full refund of another amount than what is left.
    FullRefundNotExact {
        /// Asked to refund (Rappen).
        amount: Rappen,
        /// Still refundable (Rappen).
        refundable: Rappen,
    },
    /// A partial refund over what is left.
    OverRefundable {
        /// Asked to refund (Rappen).
        amount: Rappen,
        /// Still refundable (Rappen).
        refundable: Rappen,
        /// Captured (Rappen).
        captured: Rappen,
    },
    /// A second settlement.
    AlreadySettled {
        /// Settled before (Rappen).
        settled: Rappen,
    },
    /// A settlement below 0 or over the captured amount.
    SettlementOutOfRange {
        /// Asked to settle (Rappen).
        amount: Rappen,
        /// Captured (Rappen).
        captured: Rappen,
    },
}

impl PaymentRefusalReason {
    /// The reason in English, after "cannot <action>: ".
    pub fn explanation(self) -> String {
        use PaymentRefusalReason as R;
        match self {
            R::NeverSubmitted => "the payment was never submitted to a provider".into(),
            R::NotAuthorised => "the payment is not authorised yet".into(),
            R::NothingCaptured => "nothing has been captured yet".into(),
            R::NothingToSettle => {
                "nothing has been captured yet, so there is nothing to settle".into()
            }
            R::AlreadySubmitted => "the payment is already submitted".into(),
            R::AlreadyAuthorised => "the payment is already authorised".into(),
            R::StillProcessingCancelInstead => {
                "the payment is still processing; cancel the authorisation instead".into()
            }
            R::StillProcessing => "the payment is still processing".into(),
            R::AlreadyCaptured => "the payment is already captured".into(),
            R::CapturedCannotFail => {
                "the payment is already captured and cannot fail any more; refund it instead".into()
            }
            R::CapturedRefundInstead => "the payment is already captured; refund it instead".into(),
            R::AlreadyRefunded => "the payment is already fully refunded".into(),
            R::Failed => "the payment failed; a failed payment is final".into(),
            R::Cancelled => "the payment was cancelled; a cancelled payment is final".into(),
            R::AmountNotPositive => "the amount must be more than CHF 0.00".into(),
            R::CapturedAmountNotPositive => "the captured amount must be more than CHF 0.00".into(),
            R::RefundedAmountNotPositive => "the refunded amount must be more than CHF 0.00".into(),
            R::OverAuthorised { amount, authorised } => {
                format!("{amount} is over the authorised amount of {authorised}")
            }
            R::FullRefundNotExact { amount, refundable } => format!(
                "a full refund must return exactly the {refundable} still refundable, not {amount}"
            ),
            R::OverRefundable {
                amount,
                refundable,
                captured,
            } => format!(
                "{amount} is over the captured amount still refundable ({refundable} of {captured})"
            ),
            R::AlreadySettled { settled } => {
                format!("the payment is already settled ({settled})")
            }
            R::SettlementOutOfRange { amount, captured } => {
                format!("{amount} is not between CHF 0.00 and the captured {captured}")
            }
        }
    }
}

impl PaymentRefusal {
    /// The refusal of `action` in state `from` (`None`: unknown payment) for `reason`, with its
    /// English explanation ("cannot refund: …").
    pub fn new(
        from: Option<PaymentState>,
        action: PaymentAction,
        reason: PaymentRefusalReason,
    ) -> PaymentRefusal {
        PaymentRefusal {
            from,
            action,
            reason,
            explanation: format!("cannot {}: {}", action.verb(), reason.explanation()),
        }
    }
}

impl PaymentState {
    /// Every state, for exhaustive tests and filters.
    pub const ALL: [PaymentState; 8] = [
        PaymentState::Draft,
        PaymentState::Submitted,
        PaymentState::Processing,
        PaymentState::Succeeded,
        PaymentState::PartiallyRefunded,
        PaymentState::Refunded,
        PaymentState::Failed,
        PaymentState::Cancelled,
    ];

    /// The state after `action` (before the money rules of [`PaymentBook::apply`]), or why
    /// `action` is not allowed in this state. A partial refund is answered with
    /// `PartiallyRefunded`; the book turns it into `Refunded` when nothing is left.
    pub fn apply(self, action: PaymentAction) -> Result<PaymentState, PaymentRefusal> {
        use PaymentAction as A;
        use PaymentRefusalReason as R;
        use PaymentState as S;
        let refuse =
            |reason: PaymentRefusalReason| Err(PaymentRefusal::new(Some(self), action, reason));
        match (self, action) {
            (S::Draft, A::Submitted) => Ok(S::Submitted),
            (S::Draft, A::Authorized) | (S::Submitted, A::Authorized) => Ok(S::Processing),
            (S::Draft, A::Cancelled)
            | (S::Submitted, A::Cancelled)
            | (S::Processing, A::Cancelled) => Ok(S::Cancelled),
            (S::Draft, A::Failed) => refuse(R::NeverSubmitted),
            (S::Draft, A::Captured) | (S::Submitted, A::Captured) => refuse(R::NotAuthorised),
            (S::Draft, A::Refunded)
            | (S::Draft, A::PartiallyRefunded)
            | (S::Submitted, A::Refunded)
            | (S::Submitted, A::PartiallyRefunded) => refuse(R::NothingCaptured),
            (S::Draft, A::Settled) | (S::Submitted, A::Settled) => refuse(R::NothingToSettle),
            (S::Submitted, A::Submitted) => refuse(R::AlreadySubmitted),
            (S::Submitted, A::Failed) | (S::Processing, A::Failed) => Ok(S::Failed),
            (S::Processing, A::Submitted) | (S::Processing, A::Authorized) => {
                refuse(R::AlreadyAuthorised)
            }
            (S::Processing, A::Captured) => Ok(S::Succeeded),
            (S::Processing, A::Refunded) | (S::Processing, A::PartiallyRefunded) => {
                refuse(R::StillProcessingCancelInstead)
            }
            (S::Processing, A::Settled) => refuse(R::StillProcessing),
            (S::Succeeded, A::Refunded) | (S::PartiallyRefunded, A::Refunded) => Ok(S::Refunded),
            (S::Succeeded, A::PartiallyRefunded) | (S::PartiallyRefunded, A::PartiallyRefunded) => {
                Ok(S::PartiallyRefunded)
            }
            (S::Succeeded, A::Settled)
            | (S::PartiallyRefunded, A::Settled)
            | (S::Refunded, A::Settled) => Ok(self),
            (S::Succeeded, A::Submitted)
            | (S::Succeeded, A::Authorized)
            | (S::Succeeded, A::Captured)
            | (S::PartiallyRefunded, A::Submitted)
            | (S::PartiallyRefunded, A::Authorized)
            | (S::PartiallyRefunded, A::Captured)
            | (S::Refunded, A::Submitted)
            | (S::Refunded, A::Authorized)
            | (S::Refunded, A::Captured) => refuse(R::AlreadyCaptured),
            (S::Succeeded, A::Failed)
            | (S::PartiallyRefunded, A::Failed)
            | (S::Refunded, A::Failed) => refuse(R::CapturedCannotFail),
            (S::Succeeded, A::Cancelled)
            | (S::PartiallyRefunded, A::Cancelled)
            | (S::Refunded, A::Cancelled) => refuse(R::CapturedRefundInstead),
            (S::Refunded, A::Refunded) | (S::Refunded, A::PartiallyRefunded) => {
                refuse(R::AlreadyRefunded)
            }
            (
                S::Failed,
                A::Submitted
                | A::Authorized
                | A::Captured
                | A::Failed
                | A::Cancelled
                | A::Refunded
                | A::PartiallyRefunded
                | A::Settled,
            ) => refuse(R::Failed),
            (
                S::Cancelled,
                A::Submitted
                | A::Authorized
                | A::Captured
                | A::Failed
                | A::Cancelled
                | A::Refunded
                | A::PartiallyRefunded
                | A::Settled,
            ) => refuse(R::Cancelled),
        }
    }

    /// Whether no action can change this state any more (settlement aside).
    pub fn is_final(self) -> bool {
        match self {
            PaymentState::Failed | PaymentState::Cancelled => true,
            PaymentState::Draft
            | PaymentState::Submitted
            | PaymentState::Processing
            | PaymentState::Succeeded
            | PaymentState::PartiallyRefunded
            | PaymentState::Refunded => false,
        }
    }

    /// Database / JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::Draft => "draft",
            PaymentState::Submitted => "submitted",
            PaymentState::Processing => "processing",
            PaymentState::Succeeded => "succeeded",
            PaymentState::PartiallyRefunded => "partially_refunded",
            PaymentState::Refunded => "refunded",
            PaymentState::Failed => "failed",
            PaymentState::Cancelled => "cancelled",
        }
    }

    /// Parses the database / JSON spelling.
    pub fn parse(text: &str) -> Result<PaymentState, String> {
        PaymentState::ALL
            .into_iter()
            .find(|s| s.as_str() == text.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = PaymentState::ALL.iter().map(|s| s.as_str()).collect();
                format!("'{text}' is not a payment state ({})", names.join(", "))
            })
    }
}

impl fmt::Display for PaymentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PaymentAction {
    /// Every action, for exhaustive tests and the operator page's buttons.
    pub const ALL: [PaymentAction; 8] = [
        PaymentAction::Submitted,
        PaymentAction::Authorized,
        PaymentAction::Captured,
        PaymentAction::Failed,
        PaymentAction::Cancelled,
        PaymentAction::Refunded,
        PaymentAction::PartiallyRefunded,
        PaymentAction::Settled,
    ];

    /// What the action does, as the verb of a refusal ("cannot refund: ...").
    pub fn verb(self) -> &'static str {
        match self {
            PaymentAction::Submitted => "submit",
            PaymentAction::Authorized => "authorise",
            PaymentAction::Captured => "capture",
            PaymentAction::Failed => "mark as failed",
            PaymentAction::Cancelled => "cancel",
            PaymentAction::Refunded => "refund",
            PaymentAction::PartiallyRefunded => "refund partially",
            PaymentAction::Settled => "settle",
        }
    }

    /// Button label on the operator page.
    pub fn label(self) -> &'static str {
        match self {
            PaymentAction::Submitted => "Submit",
            PaymentAction::Authorized => "Authorise",
            PaymentAction::Captured => "Capture",
            PaymentAction::Failed => "Mark failed",
            PaymentAction::Cancelled => "Cancel",
            PaymentAction::Refunded => "Refund all",
            PaymentAction::PartiallyRefunded => "Refund part",
            PaymentAction::Settled => "Mark settled",
        }
    }

    /// Whether the action carries an amount that matters (capture, refunds, settlement; and the
    /// authorised amount of `submitted`/`authorized`).
    pub fn takes_amount(self) -> bool {
        match self {
            PaymentAction::Submitted
            | PaymentAction::Authorized
            | PaymentAction::Captured
            | PaymentAction::Refunded
            | PaymentAction::PartiallyRefunded
            | PaymentAction::Settled => true,
            PaymentAction::Failed | PaymentAction::Cancelled => false,
        }
    }

    /// Whether an event of this type may be the first one of a payment (creating it).
    pub fn creates_payment(self) -> bool {
        match self {
            PaymentAction::Submitted | PaymentAction::Authorized => true,
            PaymentAction::Captured
            | PaymentAction::Failed
            | PaymentAction::Cancelled
            | PaymentAction::Refunded
            | PaymentAction::PartiallyRefunded
            | PaymentAction::Settled => false,
        }
    }

    /// Database / JSON spelling (the provider event type).
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentAction::Submitted => "submitted",
            PaymentAction::Authorized => "authorized",
            PaymentAction::Captured => "captured",
            PaymentAction::Failed => "failed",
            PaymentAction::Cancelled => "cancelled",
            PaymentAction::Refunded => "refunded",
            PaymentAction::PartiallyRefunded => "partially_refunded",
            PaymentAction::Settled => "settled",
        }
    }

    /// Parses the database / JSON spelling.
    pub fn parse(text: &str) -> Result<PaymentAction, String> {
        PaymentAction::ALL
            .into_iter()
            .find(|a| a.as_str() == text.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = PaymentAction::ALL.iter().map(|a| a.as_str()).collect();
                format!(
                    "'{text}' is not a payment event type ({})",
                    names.join(", ")
                )
            })
    }
}

impl fmt::Display for PaymentAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The money of one payment (Rappen) with its state: what the state machine and the money rules
/// decide on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PaymentBook {
    /// Lifecycle state.
    pub state: PaymentState,
    /// Authorised (or, for a draft, requested) amount.
    pub amount: Rappen,
    /// Captured amount (0 until captured).
    pub captured: Rappen,
    /// Refunded so far (0 ..= captured).
    pub refunded: Rappen,
    /// Paid out by the acquirer to the bank (0 until settled).
    pub settled: Rappen,
    /// Whether a settlement was applied (the settled amount may be 0 for a fully refunded
    /// payment).
    pub is_settled: bool,
}

/// What applying an action moved, in Rappen (all ≥ 0): the ledger transfer each amount posts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PaymentMovement {
    /// Newly captured: card clearing +, card sales −.
    pub captured: Rappen,
    /// Newly refunded: card sales +, card clearing −.
    pub refunded: Rappen,
    /// Newly settled: bank +, card clearing −.
    pub settled: Rappen,
}

impl PaymentMovement {
    /// Whether the action moved no money (authorisations, failures, cancellations).
    pub fn is_empty(&self) -> bool {
        self.captured.0 == 0 && self.refunded.0 == 0 && self.settled.0 == 0
    }
}

impl PaymentBook {
    /// The book of a payment that does not exist yet: a draft of `amount`.
    pub fn new_draft(amount: Rappen) -> PaymentBook {
        PaymentBook {
            state: PaymentState::Draft,
            amount,
            captured: Rappen(0),
            refunded: Rappen(0),
            settled: Rappen(0),
            is_settled: false,
        }
    }

    /// What is still refundable (captured minus refunded).
    pub fn refundable(&self) -> Rappen {
        Rappen(self.captured.0 - self.refunded.0)
    }

    /// Applies `action` with `amount` (Rappen, ≥ 0; ignored by `failed` and `cancelled`):
    /// the state machine first, then the money rules. Returns the new book and the money it
    /// moved.
    ///
    /// Errors: the state machine's refusal, or a money rule's: a capture over the authorised
    /// amount, a refund over what is refundable, a full refund that is not exactly what is left,
    /// a second settlement, a settlement over the captured amount, an amount of 0 where money
    /// must move.
    pub fn apply(
        &self,
        action: PaymentAction,
        amount: Rappen,
    ) -> Result<(PaymentBook, PaymentMovement), PaymentRefusal> {
        let mut next_state = self.state.apply(action)?;
        use PaymentRefusalReason as R;
        let refuse =
            |reason: PaymentRefusalReason| PaymentRefusal::new(Some(self.state), action, reason);
        let mut book = *self;
        let mut moved = PaymentMovement::default();
        match action {
            PaymentAction::Submitted | PaymentAction::Authorized => {
                if amount.0 <= 0 {
                    return Err(refuse(R::AmountNotPositive));
                }
                book.amount = amount;
            }
            PaymentAction::Captured => {
                if amount.0 <= 0 {
                    return Err(refuse(R::CapturedAmountNotPositive));
                }
                if amount.0 > self.amount.0 {
                    return Err(refuse(R::OverAuthorised {
                        amount,
                        authorised: self.amount,
                    }));
                }
                book.captured = amount;
                moved.captured = amount;
            }
            PaymentAction::Failed | PaymentAction::Cancelled => {}
            PaymentAction::Refunded => {
                let left = self.refundable();
                if amount != left {
                    return Err(refuse(R::FullRefundNotExact {
                        amount,
                        refundable: left,
                    }));
                }
                book.refunded = self.captured;
                moved.refunded = left;
            }
            PaymentAction::PartiallyRefunded => {
                let left = self.refundable();
                if amount.0 <= 0 {
                    return Err(refuse(R::RefundedAmountNotPositive));
                }
                if amount.0 > left.0 {
                    return Err(refuse(R::OverRefundable {
                        amount,
                        refundable: left,
                        captured: self.captured,
                    }));
                }
                book.refunded = Rappen(self.refunded.0 + amount.0);
                moved.refunded = amount;
                if book.refunded == self.captured {
                    next_state = PaymentState::Refunded;
                }
            }
            PaymentAction::Settled => {
                if self.is_settled {
                    return Err(refuse(R::AlreadySettled {
                        settled: self.settled,
                    }));
                }
                if amount.0 < 0 || amount.0 > self.captured.0 {
                    return Err(refuse(R::SettlementOutOfRange {
                        amount,
                        captured: self.captured,
                    }));
                }
                book.settled = amount;
                book.is_settled = true;
                moved.settled = amount;
            }
        }
        book.state = next_state;
        Ok((book, moved))
    }
}

/// A payment as the operator page and the API show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Payment {
    /// Engine id.
    pub id: PaymentId,
    /// The studio (merchant) it was paid to.
    pub studio_id: StudioId,
    /// Provider name as reported (`"sumup"`, `"worldline"`, `"manual"` for operator drafts).
    pub provider: String,
    /// The provider's id of the payment (unique per provider).
    pub provider_payment_id: String,
    /// Lifecycle state.
    pub state: PaymentState,
    /// Authorised (or requested) amount, Rappen.
    pub amount: Rappen,
    /// Captured, Rappen.
    pub captured: Rappen,
    /// Refunded so far, Rappen.
    pub refunded: Rappen,
    /// Settled to the bank, Rappen.
    pub settled: Rappen,
    /// Whether the acquirer's settlement was recorded.
    pub is_settled: bool,
    /// Always "CHF".
    pub currency: String,
    /// Optimistic-concurrency version: 1 when created, +1 on every change. A mutation that names
    /// another version is refused with 409 `stale_version` and the current payment.
    pub version: i64,
    /// When the payment was created (UTC).
    pub created_at: DateTime<Utc>,
    /// When it last changed (UTC).
    pub updated_at: DateTime<Utc>,
    /// Provider time of the last applied event (UTC).
    pub last_event_at: Option<DateTime<Utc>>,
}

impl Payment {
    /// The state and money the rules decide on.
    pub fn book(&self) -> PaymentBook {
        PaymentBook {
            state: self.state,
            amount: self.amount,
            captured: self.captured,
            refunded: self.refunded,
            settled: self.settled,
            is_settled: self.is_settled,
        }
    }
}

/// One event as a provider (or a terminal gateway) delivers it (`POST /api/v1/payment-events`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PaymentEventRequest {
    /// Provider name: 1 to 40 of `a-z 0-9 _ -`.
    pub provider: String,
    /// The provider's payment id: 1 to 100 printable ASCII characters.
    pub provider_payment_id: String,
    /// `submitted`, `authorized`, `captured`, `failed`, `cancelled`, `refunded`,
    /// `partially_refunded` or `settled`.
    pub event_type: PaymentAction,
    /// Rappen, 0 ..= 100,000,000 (CHF 1 million); must be > 0 for authorisations, captures and
    /// refunds.
    pub amount: i64,
    /// Must be "CHF".
    pub currency: String,
    /// When the provider says it happened (RFC 3339; stored in UTC to the millisecond).
    pub occurred_at: DateTime<Utc>,
    /// The studio (merchant) the payment belongs to.
    pub studio_id: StudioId,
}

/// Several events at once (`POST /api/v1/payment-events/batch`): 1 to
/// [`MAX_PAYMENT_EVENT_BATCH`] of them, each accepted or refused on its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PaymentEventBatch {
    /// The events, in delivery order. Kept as raw JSON here so that one malformed event is
    /// refused on its own instead of failing the whole batch.
    #[cfg_attr(
        feature = "ssr",
        schema(value_type = Vec<PaymentEventRequest>, min_items = 1, max_items = 500)
    )]
    pub events: Vec<serde_json::Value>,
}

/// Most events in one batch request.
pub const MAX_PAYMENT_EVENT_BATCH: usize = 500;

/// What became of one delivered event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IngestOutcome {
    /// New: stored in the inbox; the worker applies it shortly.
    Accepted,
    /// Already received with the same content (a redelivery): acknowledged, no effect.
    Duplicate,
    /// Refused: invalid, not allowed for the caller, or the same event key with other content.
    /// Nothing was stored.
    Rejected,
}

/// The result of one delivered event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IngestResult {
    /// Position in the batch (0 for a single event).
    pub index: usize,
    /// Accepted, duplicate or rejected.
    pub outcome: IngestOutcome,
    /// The event's deterministic idempotency key (absent when the event could not be read).
    pub event_key: Option<String>,
    /// Inbox sequence number (accepted and duplicate events).
    pub sequence: Option<i64>,
    /// Why it was rejected: `{code, message, field?}` as in every API error.
    pub error: Option<IngestError>,
}

/// Why one event of a batch was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IngestError {
    /// Stable machine code (`validation_failed`, `forbidden`, `event_key_conflict`).
    pub code: String,
    /// For people.
    pub message: String,
    /// The offending field, for a validation error.
    pub field: Option<String>,
}

/// The answer to a batch: one result per event, in order, and the counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IngestReport {
    /// Newly stored.
    pub accepted: usize,
    /// Redeliveries acknowledged without effect.
    pub duplicates: usize,
    /// Refused (see each result's error).
    pub rejected: usize,
    /// One per event, in request order.
    pub results: Vec<IngestResult>,
}

/// Where an inbox event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum InboxStatus {
    /// Stored, waiting for the worker.
    Received,
    /// Applied to its payment (exactly once).
    Applied,
    /// Could not apply; its reason is kept and it is retried when its payment changes.
    Parked,
}

impl InboxStatus {
    /// Database / JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::Received => "received",
            InboxStatus::Applied => "applied",
            InboxStatus::Parked => "parked",
        }
    }

    /// Parses the database / JSON spelling.
    pub fn parse(text: &str) -> Result<InboxStatus, String> {
        [
            InboxStatus::Received,
            InboxStatus::Applied,
            InboxStatus::Parked,
        ]
        .into_iter()
        .find(|s| s.as_str() == text.trim())
        .ok_or_else(|| format!("'{text}' is not an inbox status (received, applied, parked)"))
    }
}

/// Why the worker parked a payment event, as data, so that the operator's page words it in
/// the reader's language (the inbox's `reason` keeps the English explanation for the API and
/// the logs). JSON: `{"kind": "refused", "action": "refunded", "from": "processing",
/// "reason": {"code": "still_processing_cancel_instead"}}`, `{"kind": "unknown_payment"}`,
/// `{"kind": "other_studio"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParkReason {
    /// The payment's lifecycle or money rules refuse the event ([`PaymentBook::apply`]).
    Refused {
        /// What the event asked for.
        action: PaymentAction,
        /// The payment's state then (`None`: the event would have created it).
        from: Option<PaymentState>,
        /// Why.
        reason: PaymentRefusalReason,
    },
    /// No submitted or authorized event has arrived for the payment yet (it may still come:
    /// events are reordered on the way).
    UnknownPayment,
    /// The provider's payment id belongs to another studio's payment.
    OtherStudio,
}

impl ParkReason {
    /// The reason a refusal gives.
    pub fn refused(refusal: &PaymentRefusal) -> ParkReason {
        ParkReason::Refused {
            action: refusal.action,
            from: refusal.from,
            reason: refusal.reason,
        }
    }

    /// English, for the API's `reason` and the logs: "cannot refund: the payment is still
    /// processing; …", "unknown payment: acme has reported no submitted or authorized event for
    /// payment pi_1 yet".
    pub fn explanation(self, provider: &str, provider_payment_id: &str) -> String {
        match self {
            ParkReason::Refused {
                action,
                from,
                reason,
            } => PaymentRefusal::new(from, action, reason).explanation,
            ParkReason::UnknownPayment => format!(
                "unknown payment: {provider} has reported no submitted or authorized event for payment {provider_payment_id} yet"
            ),
            ParkReason::OtherStudio => format!(
                "payment {provider_payment_id} at {provider} belongs to another studio"
            ),
        }
    }
}

/// An event in the inbox, as the owner sees it (parked events with their reason).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct InboxEvent {
    /// Inbox sequence number (delivery order).
    pub sequence: i64,
    /// Deterministic idempotency key.
    pub event_key: String,
    /// The studio.
    pub studio_id: StudioId,
    /// Provider.
    pub provider: String,
    /// Provider payment id.
    pub provider_payment_id: String,
    /// Event type.
    pub event_type: PaymentAction,
    /// Rappen.
    pub amount: Rappen,
    /// Provider time (UTC).
    pub occurred_at: DateTime<Utc>,
    /// When we received it (UTC).
    pub received_at: DateTime<Utc>,
    /// Received, applied or parked.
    pub status: InboxStatus,
    /// Why it is parked, in English.
    pub reason: Option<String>,
    /// Why it is parked, as data (`None` for events parked before this was stored, and for
    /// events not parked).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", sqlx(json(nullable)))]
    pub park_reason: Option<ParkReason>,
    /// How many times the worker tried to apply it.
    pub attempts: i64,
}

/// Counts of the inbox by status, for the operator page and for waiting in tests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InboxSummary {
    /// Waiting for the worker.
    pub received: i64,
    /// Applied.
    pub applied: i64,
    /// Parked (see their reasons).
    pub parked: i64,
}

/// An operator's action on a payment (`POST /api/v1/payments/{id}/actions`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PaymentActionRequest {
    /// The action (a provider event type).
    pub action: PaymentAction,
    /// Rappen, for actions that move money (ignored by `failed` and `cancelled`).
    #[serde(default)]
    pub amount: Option<i64>,
    /// The version the operator saw; another one is refused with 409 `stale_version`.
    pub expected_version: i64,
}

/// A draft payment created by an operator (`POST /api/v1/payments`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPaymentRequest {
    /// The studio.
    pub studio_id: StudioId,
    /// Rappen, > 0.
    pub amount: i64,
    /// Must be "CHF" when given.
    #[serde(default)]
    pub currency: Option<String>,
}

/// The per-studio totals of payments (Rappen), for reconciliation and the parallel run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PaymentTotals {
    /// The studio.
    pub studio_id: StudioId,
    /// Payments by state name.
    pub payments: std::collections::BTreeMap<String, i64>,
    /// Captured, Rappen.
    pub captured: i64,
    /// Refunded, Rappen.
    pub refunded: i64,
    /// Settled (paid out by the acquirer), Rappen.
    pub settled: i64,
    /// Card clearing balance from the ledger (debit balance), Rappen.
    pub card_clearing_balance: i64,
    /// Card sales balance from the ledger (credit shown positive), Rappen.
    pub card_sales_balance: i64,
    /// Bank balance from the ledger (debit balance), Rappen.
    pub bank_balance: i64,
    /// Parked events.
    pub parked_events: i64,
}

impl PaymentTotals {
    /// The totals of a studio with no payment, no balance and no parked event (all zeros).
    pub fn empty(studio_id: StudioId) -> PaymentTotals {
        PaymentTotals {
            studio_id,
            payments: std::collections::BTreeMap::new(),
            captured: 0,
            refunded: 0,
            settled: 0,
            card_clearing_balance: 0,
            card_sales_balance: 0,
            bank_balance: 0,
            parked_events: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentAction as A;
    use PaymentState as S;

    /// Every (state, action) pair and its outcome, written out by hand so the table, not the
    /// implementation, is the specification.
    const TABLE: [(PaymentState, PaymentAction, Option<PaymentState>); 64] = [
        (S::Draft, A::Submitted, Some(S::Submitted)),
        (S::Draft, A::Authorized, Some(S::Processing)),
        (S::Draft, A::Captured, None),
        (S::Draft, A::Failed, None),
        (S::Draft, A::Cancelled, Some(S::Cancelled)),
        (S::Draft, A::Refunded, None),
        (S::Draft, A::PartiallyRefunded, None),
        (S::Draft, A::Settled, None),
        (S::Submitted, A::Submitted, None),
        (S::Submitted, A::Authorized, Some(S::Processing)),
        (S::Submitted, A::Captured, None),
        (S::Submitted, A::Failed, Some(S::Failed)),
        (S::Submitted, A::Cancelled, Some(S::Cancelled)),
        (S::Submitted, A::Refunded, None),
        (S::Submitted, A::PartiallyRefunded, None),
        (S::Submitted, A::Settled, None),
        (S::Processing, A::Submitted, None),
        (S::Processing, A::Authorized, None),
        (S::Processing, A::Captured, Some(S::Succeeded)),
        (S::Processing, A::Failed, Some(S::Failed)),
        (S::Processing, A::Cancelled, Some(S::Cancelled)),
        (S::Processing, A::Refunded, None),
        (S::Processing, A::PartiallyRefunded, None),
        (S::Processing, A::Settled, None),
        (S::Succeeded, A::Submitted, None),
        (S::Succeeded, A::Authorized, None),
        (S::Succeeded, A::Captured, None),
        (S::Succeeded, A::Failed, None),
        (S::Succeeded, A::Cancelled, None),
        (S::Succeeded, A::Refunded, Some(S::Refunded)),
        (
            S::Succeeded,
            A::PartiallyRefunded,
            Some(S::PartiallyRefunded),
        ),
        (S::Succeeded, A::Settled, Some(S::Succeeded)),
        (S::PartiallyRefunded, A::Submitted, None),
        (S::PartiallyRefunded, A::Authorized, None),
        (S::PartiallyRefunded, A::Captured, None),
        (S::PartiallyRefunded, A::Failed, None),
        (S::PartiallyRefunded, A::Cancelled, None),
        (S::PartiallyRefunded, A::Refunded, Some(S::Refunded)),
        (
            S::PartiallyRefunded,
            A::PartiallyRefunded,
            Some(S::PartiallyRefunded),
        ),
        (S::PartiallyRefunded, A::Settled, Some(S::PartiallyRefunded)),
        (S::Refunded, A::Submitted, None),
        (S::Refunded, A::Authorized, None),
        (S::Refunded, A::Captured, None),
        (S::Refunded, A::Failed, None),
        (S::Refunded, A::Cancelled, None),
        (S::Refunded, A::Refunded, None),
        (S::Refunded, A::PartiallyRefunded, None),
        (S::Refunded, A::Settled, Some(S::Refunded)),
        (S::Failed, A::Submitted, None),
        (S::Failed, A::Authorized, None),
        (S::Failed, A::Captured, None),
        (S::Failed, A::Failed, None),
        (S::Failed, A::Cancelled, None),
        (S::Failed, A::Refunded, None),
        (S::Failed, A::PartiallyRefunded, None),
        (S::Failed, A::Settled, None),
        (S::Cancelled, A::Submitted, None),
        (S::Cancelled, A::Authorized, None),
        (S::Cancelled, A::Captured, None),
        (S::Cancelled, A::Failed, None),
        (S::Cancelled, A::Cancelled, None),
        (S::Cancelled, A::Refunded, None),
        (S::Cancelled, A::PartiallyRefunded, None),
        (S::Cancelled, A::Settled, None),
    ];

    #[test]
    fn every_state_and_action_pair_is_in_the_table_once() {
        for state in S::ALL {
            for action in A::ALL {
                let rows = TABLE
                    .iter()
                    .filter(|(s, a, _)| *s == state && *a == action)
                    .count();
                assert_eq!(rows, 1, "{state:?} x {action:?}");
            }
        }
    }

    #[test]
    fn each_transition_matches_the_table_and_refusals_explain_themselves() {
        for (state, action, expected) in TABLE {
            let outcome = state.apply(action);
            match expected {
                Some(to) => assert_eq!(outcome, Ok(to), "{state:?} --{action:?}-->"),
                None => {
                    let refusal = outcome.expect_err("must be refused");
                    assert_eq!((refusal.from, refusal.action), (Some(state), action));
                    assert!(
                        refusal
                            .explanation
                            .starts_with(&format!("cannot {}: ", action.verb())),
                        "{}",
                        refusal.explanation
                    );
                    assert!(refusal.explanation.len() > 25, "{}", refusal.explanation);
                }
            }
        }
        assert_eq!(
            S::Processing
                .apply(A::Refunded)
                .expect_err("refused")
                .explanation,
            "cannot refund: the payment is still processing; cancel the authorisation instead"
        );
    }

    #[test]
    fn final_states_refuse_everything() {
        for state in S::ALL.into_iter().filter(|s| s.is_final()) {
            for action in A::ALL {
                assert!(state.apply(action).is_err(), "{state:?} {action:?}");
            }
        }
        for state in S::ALL.into_iter().filter(|s| !s.is_final()) {
            assert!(
                A::ALL.into_iter().any(|a| state.apply(a).is_ok()),
                "{state:?} is a dead end but not final"
            );
        }
    }

    fn book_after(steps: &[(PaymentAction, i64)]) -> Result<PaymentBook, PaymentRefusal> {
        let mut book = PaymentBook::new_draft(Rappen(0));
        for (action, amount) in steps {
            book = book.apply(*action, Rappen(*amount))?.0;
        }
        Ok(book)
    }

    #[test]
    fn money_moves_with_the_lifecycle() {
        let captured = book_after(&[(A::Authorized, 10_000), (A::Captured, 9_000)]).expect("ok");
        assert_eq!(captured.state, S::Succeeded);
        let (refunded, moved) = captured
            .apply(A::PartiallyRefunded, Rappen(4_000))
            .expect("partial refund");
        assert_eq!(refunded.state, S::PartiallyRefunded);
        assert_eq!(moved.refunded, Rappen(4_000));
        let (all, moved) = refunded
            .apply(A::PartiallyRefunded, Rappen(5_000))
            .expect("the rest");
        assert_eq!(
            all.state,
            S::Refunded,
            "refunding what is left is a full refund"
        );
        assert_eq!(moved.refunded, Rappen(5_000));
        let (settled, moved) = all.apply(A::Settled, Rappen(0)).expect("settles at 0");
        assert!(settled.is_settled);
        assert!(moved.is_empty());
    }

    #[test]
    fn money_rules_refuse_what_the_provider_cannot_have_meant() {
        let captured = book_after(&[(A::Authorized, 10_000), (A::Captured, 10_000)]).expect("ok");
        let over = captured
            .apply(A::PartiallyRefunded, Rappen(10_001))
            .expect_err("over the captured amount");
        assert!(
            over.explanation.contains("over the captured amount"),
            "{}",
            over.explanation
        );
        let not_all = captured
            .apply(A::Refunded, Rappen(5_000))
            .expect_err("a full refund must be exact");
        assert!(
            not_all.explanation.contains("exactly"),
            "{}",
            not_all.explanation
        );
        let over_auth = book_after(&[(A::Authorized, 10_000), (A::Captured, 10_001)])
            .expect_err("capture over authorisation");
        assert!(over_auth.explanation.contains("authorised"));
        let (settled, _) = captured.apply(A::Settled, Rappen(10_000)).expect("settles");
        let twice = settled.apply(A::Settled, Rappen(10_000)).expect_err("once");
        assert!(twice.explanation.contains("already settled"));
        let (after, moved) = settled
            .apply(A::PartiallyRefunded, Rappen(1_000))
            .expect("a refund after settlement is netted later");
        assert_eq!(
            (after.refunded, moved.refunded),
            (Rappen(1_000), Rappen(1_000))
        );
    }

    #[test]
    fn names_round_trip() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Ok(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::json!(s.as_str()))
            );
        }
        for a in A::ALL {
            assert_eq!(A::parse(a.as_str()), Ok(a));
            assert_eq!(
                serde_json::to_value(a).ok(),
                Some(serde_json::json!(a.as_str()))
            );
        }
        assert!(A::parse("chargeback").is_err());
    }
}
