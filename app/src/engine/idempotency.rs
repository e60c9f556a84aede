//! Idempotency keys, following the IETF draft "The Idempotency-Key HTTP Header Field": the first
//! request with a key is executed and its response stored; a replay returns the stored response; the
//! same key with a different request is refused (422); the same key while the first request is
//! still running is refused (409). The key is claimed with `INSERT .. ON CONFLICT DO NOTHING`, in
//! the same transaction as the write where the operation is one transaction.
//!
//! A key whose request died mid-way stays `in_flight` only for a lease; after it, a retry takes the
//! key over (and, for payouts, resumes the payout the first request created).

use super::db::{self, DbTransaction};
use super::{db_error, now};
use crate::domain::{AppError, Problem};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Longest accepted key (the draft recommends UUIDs; we accept any printable ASCII up to this).
pub const MAX_KEY_LEN: usize = 255;

/// A validated idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Validates a client-supplied key: 1 to 255 printable ASCII characters.
    ///
    /// Errors: 400 `idempotency_key_missing` when absent or empty, 400 `invalid_idempotency_key`
    /// when too long or not printable ASCII.
    pub fn parse(raw: Option<&str>) -> Result<IdempotencyKey, AppError> {
        let key = raw.map(str::trim).unwrap_or_default();
        if key.is_empty() {
            return Err(AppError::bad_request(
                400,
                "idempotency_key_missing",
                "this request changes data and needs an Idempotency-Key header (a fresh UUID per action)",
            ));
        }
        if key.len() > MAX_KEY_LEN || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(AppError::bad_request(
                400,
                "invalid_idempotency_key",
                format!(
                    "the Idempotency-Key must be 1 to {MAX_KEY_LEN} printable ASCII characters"
                ),
            ));
        }
        Ok(IdempotencyKey(key.to_owned()))
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key in the caller's namespace (`<actor> <key>`): keys are per client (as the draft
    /// recommends), so one caller's key can never replay another caller's stored response.
    pub fn for_caller(&self, caller: &super::access::Caller) -> IdempotencyKey {
        IdempotencyKey(format!("{} {}", caller.actor(), self.0))
    }
}

/// SHA-256 (hex) of the canonical JSON of a validated request: two requests are "the same" when
/// their parsed content is equal, whatever their whitespace or field order.
pub fn fingerprint<T: Serialize>(operation: &str, request: &T) -> Result<String, AppError> {
    let json = serde_json::to_vec(request).map_err(|error| {
        tracing::error!(%error, operation, "cannot serialise request for its fingerprint");
        AppError::Internal {
            message: "could not fingerprint the request; it is logged on the server".into(),
        }
    })?;
    let mut hasher = Sha256::new();
    hasher.update(operation.as_bytes());
    hasher.update([0]);
    hasher.update(&json);
    Ok(hex::encode(hasher.finalize()))
}

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim {
    /// First use: execute the operation, then [`complete`] the key.
    New,
    /// The first request died while holding the key and its lease ran out: execute (resuming
    /// whatever it left), then [`complete`].
    TakenOver,
    /// Already completed: return this stored response unchanged.
    Replay {
        /// HTTP status of the first response.
        status: u16,
        /// JSON body of the first response.
        body: String,
    },
}

/// Claims `key` for `operation` inside `tx`.
///
/// Errors: 422 `idempotency_key_reused` when the key was used for a different request;
/// 409 `idempotency_key_in_flight` while the first request still holds it.
pub async fn claim(
    tx: &mut DbTransaction,
    operation: &str,
    key: &IdempotencyKey,
    fingerprint: &str,
    lease: Duration,
) -> Result<Claim, AppError> {
    let now = now();
    let lease_end =
        now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
    let inserted = db::query(
        "INSERT INTO idempotency_keys (operation, key, fingerprint, state, locked_until, created_at)
         VALUES ($1, $2, $3, 'in_flight', $4, $5)
         ON CONFLICT (operation, key) DO NOTHING",
    )
    .bind(operation)
    .bind(key.as_str())
    .bind(fingerprint)
    .bind(lease_end)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db_error("claiming the idempotency key"))?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::New);
    }
    let (stored_fingerprint, state, status, body, locked_until): (
        String,
        String,
        Option<i64>,
        Option<String>,
        chrono::DateTime<chrono::Utc>,
    ) = db::query_as(
        "SELECT fingerprint, state, response_status, response_body, locked_until
         FROM idempotency_keys WHERE operation = $1 AND key = $2",
    )
    .bind(operation)
    .bind(key.as_str())
    .fetch_one(&mut *tx)
    .await
    .map_err(db_error("reading the idempotency key"))?;
    if stored_fingerprint != fingerprint {
        return Err(AppError::unprocessable_with(Problem::IdempotencyKeyReused));
    }
    match (state.as_str(), status, body) {
        ("completed", Some(status), Some(body)) => Ok(Claim::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body,
        }),
        _ if locked_until > now => Err(AppError::conflict_with(Problem::IdempotencyKeyInFlight)),
        _ => {
            let taken = db::query(
                "UPDATE idempotency_keys SET locked_until = $3
                 WHERE operation = $1 AND key = $2 AND state = 'in_flight' AND locked_until = $4",
            )
            .bind(operation)
            .bind(key.as_str())
            .bind(lease_end)
            .bind(locked_until)
            .execute(&mut *tx)
            .await
            .map_err(db_error("taking over the idempotency key"))?;
            if taken.rows_affected() == 1 {
                tracing::warn!(
                    operation,
                    key = key.as_str(),
                    "took over an abandoned idempotency key"
                );
                Ok(Claim::TakenOver)
            } else {
                Err(AppError::conflict_with(Problem::IdempotencyKeyInFlight))
            }
        }
    }
}

/// Stores the response of the request holding `key`.
pub async fn complete(
    tx: &mut DbTransaction,
    operation: &str,
    key: &IdempotencyKey,
    status: u16,
    body: &str,
) -> Result<(), AppError> {
    db::query(
        "UPDATE idempotency_keys SET state = 'completed', response_status = $3, response_body = $4
         WHERE operation = $1 AND key = $2",
    )
    .bind(operation)
    .bind(key.as_str())
    .bind(i64::from(status))
    .bind(body)
    .execute(&mut *tx)
    .await
    .map_err(db_error("storing the idempotent response"))?;
    Ok(())
}

/// Forgets an in-flight key whose request failed without changing anything, so the client may
/// correct the request and retry with the same key.
pub async fn release(
    tx: &mut DbTransaction,
    operation: &str,
    key: &IdempotencyKey,
) -> Result<(), AppError> {
    db::query(
        "DELETE FROM idempotency_keys WHERE operation = $1 AND key = $2 AND state = 'in_flight'",
    )
    .bind(operation)
    .bind(key.as_str())
    .execute(&mut *tx)
    .await
    .map_err(db_error("releasing the idempotency key"))?;
    Ok(())
}

/// Serialises a response for storage.
pub fn encode<T: Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|error| {
        tracing::error!(%error, "cannot serialise the response for idempotent replay");
        AppError::Internal {
            message: "could not store the response; it is logged on the server".into(),
        }
    })
}

/// Turns a stored response back into the operation's result: 2xx bodies are `T`, others an
/// [`AppError`].
pub fn decode<T: DeserializeOwned>(status: u16, body: &str) -> Result<T, AppError> {
    let corrupt = |error: serde_json::Error| {
        tracing::error!(%error, status, "stored idempotent response cannot be decoded");
        AppError::Internal {
            message:
                "the stored response of this request is unreadable; it is logged on the server"
                    .into(),
        }
    };
    if (200..300).contains(&status) {
        serde_json::from_str(body).map_err(corrupt)
    } else {
        Err(serde_json::from_str::<AppError>(body).map_err(corrupt)?)
    }
}
