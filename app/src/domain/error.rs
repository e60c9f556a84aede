//! The one error type every boundary speaks: the engine returns it, server functions carry it to
//! the WASM UI intact (it is serialisable), and the JSON API maps it to a status code and an
//! `{"error": {"code", "message"}}` body. Every variant carries a message a receptionist can act on;
//! internal details stay in the server log, never in a 5xx body.

use super::payout::IllegalTransition;
use super::records::Payout;
use super::wire::JsonTextEncoding;
use serde::{Deserialize, Serialize};
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

/// Everything that can go wrong, by who must act on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppError {
    /// A field is missing or wrong (422). `field` is the input's name, e.g. `price`.
    #[error("{field}: {message}")]
    Validation {
        /// The offending field, as named in the request.
        field: String,
        /// What is wrong with it and what is expected.
        message: String,
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
    },
    /// Understood but refused by a business rule (422): nothing to pay, an idempotency key
    /// reused with a different request.
    #[error("{message}")]
    Unprocessable {
        /// Stable machine code.
        code: String,
        /// For people.
        message: String,
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
        }
    }

    /// A 422 business-rule refusal with a machine code.
    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        AppError::Unprocessable {
            code: code.into(),
            message: message.into(),
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
            AppError::NotFound { .. } => 404,
            AppError::Conflict { .. } => 409,
            AppError::Unprocessable { .. } => 422,
            AppError::IllegalTransition(_) => 409,
            AppError::PayoutFailed { .. } => 500,
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
            AppError::NotFound { .. } => "not_found",
            AppError::Conflict { code, .. } => code,
            AppError::Unprocessable { code, .. } => code,
            AppError::IllegalTransition(_) => "illegal_transition",
            AppError::PayoutFailed { .. } => "payout_failed",
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
            | AppError::NotFound { .. }
            | AppError::Conflict { .. }
            | AppError::Unprocessable { .. }
            | AppError::IllegalTransition(_)
            | AppError::PayoutFailed { .. }
            | AppError::Unavailable { .. }
            | AppError::Internal { .. }
            | AppError::Transport { .. } => None,
        }
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
