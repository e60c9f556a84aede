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

/// An entry of the event log, as its consumers (the webhook fan-out, the live feed) read it.
#[derive(sqlx::FromRow, Clone, Debug)]
pub(crate) struct LogEvent {
    pub id: i64,
    pub kind: String,
    pub studio_id: Option<StudioId>,
    pub entity_id: Option<uuid::Uuid>,
    /// The payload as stored (JSON text).
    pub payload: String,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
}

/// At most `limit` events with ids in `(after, up_to]`, in id order (`up_to`: `None` = no upper
/// bound).
pub(crate) async fn read_after<C>(
    conn: &mut C,
    after: i64,
    up_to: Option<i64>,
    limit: i64,
) -> Result<Vec<LogEvent>, AppError>
where
    for<'c> &'c mut C: db::Executor<'c>,
{
    db::query_as(
        "SELECT id, kind, studio_id, entity_id, payload, occurred_at FROM events
         WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3",
    )
    .bind(after)
    .bind(up_to.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error("reading the event log"))
}

/// The business each of `events` belongs to, in the same order: a studio's event to the
/// studio's business; a webhook endpoint's `webhook.endpoint_disabled` to the endpoint's
/// business; other business-wide events (the audit) to the operating business. `None` for an
/// event whose studio or endpoint no longer resolves (never expected; such an event is shown to
/// nobody but the operator).
///
/// `known_studios` caches studio -> business across calls (studios never change business).
pub(crate) async fn businesses_of<C>(
    conn: &mut C,
    events: &[LogEvent],
    known_studios: &mut std::collections::HashMap<StudioId, BusinessId>,
) -> Result<Vec<Option<BusinessId>>, AppError>
where
    for<'c> &'c mut C: db::Executor<'c>,
{
    let unknown = db::distinct(
        events
            .iter()
            .filter_map(|e| e.studio_id)
            .filter(|studio| !known_studios.contains_key(studio)),
    );
    known_studios.extend(
        owning_businesses(conn, "studios", &unknown, "reading the studios' businesses").await?,
    );
    let disabled = db::distinct(
        events
            .iter()
            .filter(|e| e.studio_id.is_none() && e.kind == "webhook.endpoint_disabled")
            .filter_map(|e| e.entity_id.map(WebhookEndpointId)),
    );
    let business_of_endpoint = owning_businesses(
        conn,
        "webhook_endpoints",
        &disabled,
        "reading the disabled endpoints' businesses",
    )
    .await?;
    let operating = if events.iter().any(|e| e.studio_id.is_none()) {
        Some(operating_business(&mut *conn).await?)
    } else {
        None
    };
    Ok(events
        .iter()
        .map(|event| match (event.studio_id, event.entity_id) {
            (Some(studio), _) => known_studios.get(&studio).copied(),
            (None, Some(entity)) if event.kind == "webhook.endpoint_disabled" => {
                business_of_endpoint
                    .get(&WebhookEndpointId(entity))
                    .copied()
            }
            (None, _) => operating,
        })
        .collect())
}

/// The business of each of `ids`, rows of `table` (which has `id` and `business_id`), read 500
/// at a time; ids without a row are absent.
async fn owning_businesses<C, Id>(
    conn: &mut C,
    table: &str,
    ids: &[Id],
    doing: &'static str,
) -> Result<std::collections::HashMap<Id, BusinessId>, AppError>
where
    for<'c> &'c mut C: db::Executor<'c>,
    for<'q> Id: db::Argument<'q> + Copy + Eq + std::hash::Hash + 'static,
    (Id, BusinessId): db::Record,
{
    let mut businesses = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        businesses.extend(
            db::query_as::<(Id, BusinessId)>(format!(
                "SELECT id, business_id FROM {table} WHERE id IN ({})",
                db::placeholders(1, chunk.len())
            ))
            .bind_all(chunk.iter().copied())
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error(doing))?,
        );
    }
    Ok(businesses)
}

/// The business that receives deployment-wide events (the audit, which checks the whole
/// ledger) and owns what the operator creates: the oldest one, created at start-up.
pub(crate) async fn operating_business(
    executor: impl db::Executor<'_>,
) -> Result<BusinessId, AppError> {
    db::query_scalar("SELECT id FROM businesses ORDER BY created_at, id LIMIT 1")
        .fetch_one(executor)
        .await
        .map_err(db_error("reading the operating business"))
}
