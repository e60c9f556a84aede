//! The one error type every boundary speaks: the engine returns it, server functions carry it to
//! the WASM UI intact (it is serialisable), and the JSON API maps it to a status code and an
//! `{"error": {"code", "message"}}` body. Every variant carries a message a receptionist can act on;
//! internal details stay in the server log, never in a 5xx body.

use super::payment::{Payment, PaymentRefusalReason};
use super::payout::{IllegalTransition, PayoutAction, PayoutRefusalReason, PayoutState};
use super::problem::{FieldProblem, Problem};
use super::records::Payout;
use super::settlement::{SettlementItem, SettlementRefusalReason};
use super::wire::JsonTextEncoding;
use serde::{Deserialize, Serialize};
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

/// Everything that can go wrong, by who must act on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "AppErrorWire")]
pub enum AppError {
    /// A field is missing or wrong (422). `field` is the input's name, e.g. `price`.
    #[error("{field}: {message}")]
    Validation {
        /// The offending field, as named in the request.
        field: String,
        /// What is wrong with it and what is expected.
        message: String,
        /// The same as data, for a page to word in its reader's language; `None` where a
        /// message has not been given one yet (the page then shows `message`).
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            rename = "field_problem"
        )]
        problem: Option<FieldProblem>,
    },
    /// The request itself is unusable: not JSON, wrong content type, too large, no idempotency key.
    /// `status` is 400, 413 or 415.
    #[error("{message}")]
    BadRequest {
        /// HTTP status to answer with.
        status: u16,
        /// Stable machine code, e.g. `invalid_json`.
        code: String,
        /// For people.
        message: String,
    },
    /// The caller may not do this: not signed in (401 `unauthenticated`), signed in but not
    /// allowed (403 `forbidden`), a cross-site request (403 `csrf_rejected`), or too many attempts
    /// (429 `too_many_login_attempts`). Carries no data of what was asked for.
    #[error("{message}")]
    Denied {
        /// HTTP status to answer with: 401, 403 or 429.
        status: u16,
        /// Stable machine code.
        code: String,
        /// For people: what is refused and what to do.
        message: String,
        /// The same as data, for a page to word in its reader's language; `None` where a
        /// refusal has not been given one yet (the page then shows `message`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<Problem>,
    },
    /// The addressed thing does not exist (404).
    #[error("{message}")]
    NotFound {
        /// For people, e.g. "no payout with id …".
        message: String,
    },
    /// The request conflicts with the current state (409): a payout already in progress, an
    /// idempotency key still in flight.
    #[error("{message}")]
    Conflict {
        /// Stable machine code.
        code: String,
        /// For people.
        message: String,
        /// The same as data, for a page to word in its reader's language; `None` where a
        /// refusal has not been given one yet (the page then shows `message`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<Problem>,
    },
    /// Understood but refused by a business rule (422): nothing to pay, an idempotency key
    /// reused with a different request.
    #[error("{message}")]
    Unprocessable {
        /// Stable machine code.
        code: String,
        /// For people.
        message: String,
        /// The same as data, for a page to word in its reader's language; `None` where a
        /// refusal has not been given one yet (the page then shows `message`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<Problem>,
    },
    /// The payout state machine refused the action (409).
    #[error("{0}")]
    IllegalTransition(IllegalTransition),
    /// A payout phase failed. The payout exists, is marked failed with its phase and error, and
    /// appears in the red banner; Finish payout resumes it (500).
    #[error("{message}")]
    PayoutFailed {
        /// The payout as recorded after the failure.
        payout: Box<Payout>,
        /// For people.
        message: String,
    },
    /// A payment refused the action (409): `stale_version` when the caller's `expected_version`
    /// is not the current one, `illegal_transition` when the lifecycle or a money rule refuses
    /// it. Carries the payment as it is now, so the caller can show it and decide again.
    #[error("{message}")]
    PaymentConflict {
        /// Stable machine code: `stale_version` or `illegal_transition`.
        code: String,
        /// For people.
        message: String,
        /// The current payment.
        payment: Box<Payment>,
        /// `illegal_transition`: why, for a page to word in its reader's language.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_refusal: Option<PaymentRefusalReason>,
    },
    /// A settlement item refused the action (409): `stale_version` or `illegal_transition`, as
    /// for payments. Carries the item as it is now.
    #[error("{message}")]
    SettlementConflict {
        /// Stable machine code: `stale_version` or `illegal_transition`.
        code: String,
        /// For people.
        message: String,
        /// The current item.
        item: Box<SettlementItem>,
        /// `illegal_transition`: why, for a page to word in its reader's language.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        settlement_refusal: Option<SettlementRefusalReason>,
    },
    /// The database (or another dependency) is unreachable; retry later (503).
    #[error("{message}")]
    Unavailable {
        /// For people.
        message: String,
    },
    /// An unexpected fault. The message is generic; details are in the server log (500).
    #[error("{message}")]
    Internal {
        /// For people, with a hint to look at the log.
        message: String,
    },
    /// The request never reached the engine (network, server function transport).
    #[error("could not reach the server: {message}")]
    Transport {
        /// What the transport reported.
        message: String,
    },
}

impl AppError {
    /// A 422 for `field`.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation {
            field: field.into(),
            message: message.into(),
            problem: None,
        }
    }

    /// A 422 for `field` with its problem as data; the message is the problem's English
    /// explanation.
    pub fn invalid(field: &str, problem: FieldProblem) -> Self {
        AppError::Validation {
            field: field.into(),
            message: problem.explanation(field),
            problem: Some(problem),
        }
    }

    /// A 409 `problem.code()` with its problem as data (the current state refuses the request).
    pub fn conflict_with(problem: Problem) -> Self {
        AppError::Conflict {
            code: problem.code().into(),
            message: problem.explanation(),
            problem: Some(problem),
        }
    }

    /// A 422 `problem.code()` with its problem as data (a business rule refuses the request).
    pub fn unprocessable_with(problem: Problem) -> Self {
        AppError::Unprocessable {
            code: problem.code().into(),
            message: problem.explanation(),
            problem: Some(problem),
        }
    }

    /// A 401 `unauthenticated`: no valid session cookie or API key came with the request.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        AppError::Denied {
            status: 401,
            code: "unauthenticated".into(),
            message: message.into(),
            problem: None,
        }
    }

    /// A 403 `forbidden`: the caller's role or API key scopes do not allow the action.
    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Denied {
            status: 403,
            code: "forbidden".into(),
            message: message.into(),
            problem: None,
        }
    }

    /// A 401, 403 or 429 refusal (`status`) with its problem as data: the code and the English
    /// message come from it.
    pub fn denied_with(status: u16, problem: Problem) -> Self {
        AppError::Denied {
            status,
            code: problem.code().into(),
            message: problem.explanation(),
            problem: Some(problem),
        }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        AppError::NotFound {
            message: message.into(),
        }
    }

    /// A 409 with a machine code.
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        AppError::Conflict {
            code: code.into(),
            message: message.into(),
            problem: None,
        }
    }

    /// A 422 business-rule refusal with a machine code.
    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        AppError::Unprocessable {
            code: code.into(),
            message: message.into(),
            problem: None,
        }
    }

    /// A 400-family refusal of the request itself.
    pub fn bad_request(status: u16, code: &str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// HTTP status code for this error.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Validation { .. } => 422,
            AppError::BadRequest { status, .. } => *status,
            AppError::Denied { status, .. } => *status,
            AppError::NotFound { .. } => 404,
            AppError::Conflict { .. } => 409,
            AppError::Unprocessable { .. } => 422,
            AppError::IllegalTransition(_) => 409,
            AppError::PayoutFailed { .. } => 500,
            AppError::PaymentConflict { .. } => 409,
            AppError::SettlementConflict { .. } => 409,
            AppError::Unavailable { .. } => 503,
            AppError::Internal { .. } => 500,
            AppError::Transport { .. } => 502,
        }
    }

    /// Stable machine-readable code for the JSON `error.code` field.
    pub fn code(&self) -> &str {
        match self {
            AppError::Validation { .. } => "validation_failed",
            AppError::BadRequest { code, .. } => code,
            AppError::Denied { code, .. } => code,
            AppError::NotFound { .. } => "not_found",
            AppError::Conflict { code, .. } => code,
            AppError::Unprocessable { code, .. } => code,
            AppError::IllegalTransition(_) => "illegal_transition",
            AppError::PayoutFailed { .. } => "payout_failed",
            AppError::PaymentConflict { code, .. } => code,
            AppError::SettlementConflict { code, .. } => code,
            AppError::Unavailable { .. } => "unavailable",
            AppError::Internal { .. } => "internal_error",
            AppError::Transport { .. } => "transport_error",
        }
    }

    /// The field a validation error names, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Validation { field, .. } => Some(field),
            AppError::BadRequest { .. }
            | AppError::Denied { .. }
            | AppError::NotFound { .. }
            | AppError::Conflict { .. }
            | AppError::Unprocessable { .. }
            | AppError::IllegalTransition(_)
            | AppError::PayoutFailed { .. }
            | AppError::PaymentConflict { .. }
            | AppError::SettlementConflict { .. }
            | AppError::Unavailable { .. }
            | AppError::Internal { .. }
            | AppError::Transport { .. } => None,
        }
    }
}

/// The JSON shape of every [`AppError`] at once: `kind` beside the fields of all variants. Reading
/// this flat object and then picking the variant accepts the same input as the derived
/// internally tagged representation, without serde's buffering of the whole object (whose
/// generic machinery, instantiated for every variant's fields, is large in the WASM bundle).
#[derive(Deserialize)]
struct AppErrorWire {
    kind: ErrorKind,
    field: Option<String>,
    message: Option<String>,
    status: Option<u16>,
    code: Option<String>,
    payout: Option<Box<Payout>>,
    payment: Option<Box<Payment>>,
    item: Option<Box<SettlementItem>>,
    from: Option<PayoutState>,
    action: Option<PayoutAction>,
    reason: Option<PayoutRefusalReason>,
    explanation: Option<String>,
    problem: Option<Problem>,
    field_problem: Option<FieldProblem>,
    payment_refusal: Option<PaymentRefusalReason>,
    settlement_refusal: Option<SettlementRefusalReason>,
}

/// The `kind` tags of [`AppError`].
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ErrorKind {
    Validation,
    BadRequest,
    Denied,
    NotFound,
    Conflict,
    Unprocessable,
    IllegalTransition,
    PayoutFailed,
    PaymentConflict,
    SettlementConflict,
    Unavailable,
    Internal,
    Transport,
}

impl TryFrom<AppErrorWire> for AppError {
    type Error = String;

    fn try_from(wire: AppErrorWire) -> Result<Self, String> {
        fn required<T>(value: Option<T>, name: &str) -> Result<T, String> {
            value.ok_or_else(|| format!("missing field `{name}`"))
        }
        let AppErrorWire {
            kind,
            field,
            message,
            status,
            code,
            payout,
            payment,
            item,
            from,
            action,
            reason,
            explanation,
            problem,
            field_problem,
            payment_refusal,
            settlement_refusal,
        } = wire;
        Ok(match kind {
            ErrorKind::Validation => AppError::Validation {
                field: required(field, "field")?,
                message: required(message, "message")?,
                problem: field_problem,
            },
            ErrorKind::BadRequest => AppError::BadRequest {
                status: required(status, "status")?,
                code: required(code, "code")?,
                message: required(message, "message")?,
            },
            ErrorKind::Denied => AppError::Denied {
                status: required(status, "status")?,
                code: required(code, "code")?,
                message: required(message, "message")?,
                problem,
            },
            ErrorKind::NotFound => AppError::NotFound {
                message: required(message, "message")?,
            },
            ErrorKind::Conflict => AppError::Conflict {
                code: required(code, "code")?,
                message: required(message, "message")?,
                problem,
            },
            ErrorKind::Unprocessable => AppError::Unprocessable {
                code: required(code, "code")?,
                message: required(message, "message")?,
                problem,
            },
            ErrorKind::IllegalTransition => AppError::IllegalTransition(IllegalTransition {
                from: required(from, "from")?,
                action: required(action, "action")?,
                reason: required(reason, "reason")?,
                explanation: required(explanation, "explanation")?,
            }),
            ErrorKind::PayoutFailed => AppError::PayoutFailed {
                payout: required(payout, "payout")?,
                message: required(message, "message")?,
            },
            ErrorKind::PaymentConflict => AppError::PaymentConflict {
                code: required(code, "code")?,
                message: required(message, "message")?,
                payment: required(payment, "payment")?,
                payment_refusal,
            },
            ErrorKind::SettlementConflict => AppError::SettlementConflict {
                code: required(code, "code")?,
                message: required(message, "message")?,
                item: required(item, "item")?,
                settlement_refusal,
            },
            ErrorKind::Unavailable => AppError::Unavailable {
                message: required(message, "message")?,
            },
            ErrorKind::Internal => AppError::Internal {
                message: required(message, "message")?,
            },
            ErrorKind::Transport => AppError::Transport {
                message: required(message, "message")?,
            },
        })
    }
}

impl From<IllegalTransition> for AppError {
    fn from(value: IllegalTransition) -> Self {
        AppError::IllegalTransition(value)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonTextEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport {
            message: value.to_string(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::{EmployeeId, PayoutId, PayoutMethod, PayoutPhase, Rappen, StudioId};

    fn payout() -> Payout {
        let at = chrono::DateTime::from_timestamp(1_790_000_000, 0).expect("a valid timestamp");
        let day = at.date_naive();
        Payout {
            id: PayoutId(uuid::Uuid::from_u128(1)),
            employee_id: EmployeeId(uuid::Uuid::from_u128(2)),
            employee_name: "Ana".into(),
            studio_id: StudioId(uuid::Uuid::from_u128(3)),
            state: PayoutState::Failed,
            phase: PayoutPhase::LinesClaimed,
            record_count: 3,
            total: Rappen(12_345),
            currency: "CHF".into(),
            period_start: day,
            period_end: day,
            failed_phase: Some(PayoutPhase::TotalsVerified),
            error: Some("disk full".into()),
            created_at: at,
            updated_at: at,
            committed_at: None,
            method: PayoutMethod::Cash,
            expected_record_count: 3,
            expected_total: Rappen(12_345),
        }
    }

    fn payment() -> crate::domain::Payment {
        let at = chrono::DateTime::from_timestamp(1_790_000_000, 0).expect("a valid timestamp");
        crate::domain::Payment {
            id: crate::domain::PaymentId(uuid::Uuid::from_u128(4)),
            studio_id: StudioId(uuid::Uuid::from_u128(3)),
            provider: "sumup".into(),
            provider_payment_id: "p-1".into(),
            state: crate::domain::PaymentState::Processing,
            amount: Rappen(5_000),
            captured: Rappen(0),
            refunded: Rappen(0),
            settled: Rappen(0),
            is_settled: false,
            currency: "CHF".into(),
            version: 2,
            created_at: at,
            updated_at: at,
            last_event_at: Some(at),
        }
    }

    #[test]
    fn every_variant_reads_back_from_its_json() {
        let errors = [
            AppError::validation("price", "enter an amount"),
            AppError::bad_request(415, "unsupported_media_type", "send JSON"),
            AppError::not_found("no payout"),
            AppError::forbidden("owners only"),
            AppError::unauthenticated("sign in"),
            AppError::conflict("idempotency_key_in_flight", "wait"),
            AppError::unprocessable("nothing_to_pay", "no records"),
            AppError::invalid(
                "amount",
                FieldProblem::OverTillCash {
                    holds: Rappen(1_000),
                    amount: Rappen(2_000),
                },
            ),
            AppError::conflict_with(Problem::PayoutInProgress {
                employee_name: "Ana".into(),
                open: Some((PayoutId(uuid::Uuid::from_u128(1)), PayoutState::Failed)),
            }),
            AppError::unprocessable_with(Problem::IdempotencyKeyReused),
            AppError::IllegalTransition(IllegalTransition {
                from: PayoutState::Committed,
                action: PayoutAction::Cancel,
                reason: PayoutRefusalReason::CommittedIsFinal,
                explanation: "cannot cancel: committed".into(),
            }),
            AppError::PayoutFailed {
                payout: Box::new(payout()),
                message: "failed while verifying totals".into(),
            },
            AppError::PaymentConflict {
                code: "stale_version".into(),
                message: "the payment changed".into(),
                payment: Box::new(payment()),
                payment_refusal: None,
            },
            AppError::PaymentConflict {
                code: "illegal_transition".into(),
                message: "cannot partially refund: CHF 60.00 is over the captured amount".into(),
                payment: Box::new(payment()),
                payment_refusal: Some(crate::domain::PaymentRefusalReason::OverRefundable {
                    amount: crate::domain::Rappen(6_000),
                    refundable: crate::domain::Rappen(5_000),
                    captured: crate::domain::Rappen(5_000),
                }),
            },
            AppError::Unavailable {
                message: "retry".into(),
            },
            AppError::Internal {
                message: "logged".into(),
            },
            AppError::Transport {
                message: "offline".into(),
            },
        ];
        for error in errors {
            let json = serde_json::to_string(&error).expect("an error serialises");
            assert!(json.contains("\"kind\":"), "{json}");
            let read_back =
                serde_json::from_str::<AppError>(&json).expect("its own JSON reads back");
            assert_eq!(read_back, error, "{json}");
        }
    }

    #[test]
    fn the_json_shape_is_kind_beside_the_fields() {
        let parsed: Result<AppError, _> = serde_json::from_str(
            r#"{"kind":"illegal_transition","from":"committed","action":"cancel","reason":"committed_is_final","explanation":"no","extra":1}"#,
        );
        assert_eq!(
            parsed.ok(),
            Some(AppError::IllegalTransition(IllegalTransition {
                from: PayoutState::Committed,
                action: PayoutAction::Cancel,
                reason: PayoutRefusalReason::CommittedIsFinal,
                explanation: "no".into(),
            }))
        );
        let missing = serde_json::from_str::<AppError>(r#"{"kind":"not_found"}"#);
        assert!(missing
            .err()
            .is_some_and(|e| e.to_string().contains("missing field `message`")));
        assert!(serde_json::from_str::<AppError>(r#"{"kind":"teapot","message":"x"}"#).is_err());
    }
}
