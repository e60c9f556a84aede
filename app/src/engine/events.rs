//! The durable, ordered domain event log (`events`), which is also the transactional outbox:
//! an event is written in the same transaction as the change it describes, so a consumer (alerts,
//! webhooks, the live feed) sees it exactly when the change is committed, and never otherwise.

use super::db::{self, DbTransaction};
use super::{db_error, now, EngineSettings};
use crate::domain::*;

/// Appends an event of `kind` (e.g. "payout.committed", "audit.findings") with `payload` as JSON,
/// and the Telegram messages it causes ([`super::notifications::enqueue`]), in `tx`.
///
/// Errors: 500 when the payload cannot be encoded or the row cannot be written; the caller's
/// transaction then fails as a whole.
pub async fn record<T: serde::Serialize>(
    settings: &EngineSettings,
    tx: &mut DbTransaction,
    kind: &str,
    studio_id: Option<StudioId>,
    entity_id: Option<uuid::Uuid>,
    payload: &T,
) -> Result<i64, AppError> {
    let payload = serde_json::to_value(payload).map_err(|error| {
        tracing::error!(%error, kind, "cannot encode an event");
        AppError::Internal {
            message: format!("cannot record the {kind} event; it is logged on the server"),
        }
    })?;
    let id: i64 = db::query_scalar(
        "INSERT INTO events (occurred_at, kind, studio_id, entity_id, payload)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(now())
    .bind(kind)
    .bind(studio_id)
    .bind(entity_id)
    .bind(payload.to_string())
    .fetch_one(&mut *tx)
    .await
    .map_err(db_error("recording the event"))?;
    super::notifications::enqueue(tx, settings.telegram.as_ref(), id, kind, &payload).await?;
    Ok(id)
}
