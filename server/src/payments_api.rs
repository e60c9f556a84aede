//! The payments part of the JSON API (issue 6): provider event ingestion, the inbox, payments and
//! the operator's actions. Same conventions as [`crate::api`], with one exception: event
//! ingestion needs no `Idempotency-Key` header, because each event's key is derived from its
//! content (provider, payment id, event type, time).

use crate::api::{idempotency_key, ApiError, ApiJson, ApiResult, ApiState, Auth};
use crate::openapi::{IdempotencyKeyHeader, ReadErrors, WriteErrors};
use app::domain::*;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest batch body: 1 MiB (500 events of ~300 bytes need ~150 KiB).
pub const BATCH_BODY_BYTES: usize = 1024 * 1024;

/// The payment routes, documented (merged into [`crate::api::router`]).
pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    let (schemas, paths, batch) = routes!(ingest_batch);
    OpenApiRouter::new()
        .routes(routes!(ingest_one, inbox_events))
        .routes((
            schemas,
            paths,
            batch.layer(DefaultBodyLimit::max(BATCH_BODY_BYTES)),
        ))
        .routes(routes!(inbox_summary))
        .routes(routes!(payments, create_payment))
        .routes(routes!(payment_totals))
        .routes(routes!(payment))
        .routes(routes!(act_on_payment))
}

/// One event: 202 with its result when accepted, 200 when it is a redelivery (duplicate); a
/// rejected event is answered with its error (422 validation, 403, 404 unknown studio, 409
/// `event_key_conflict`).
#[utoipa::path(
    post,
    path = "/api/v1/payment-events",
    tag = "payments",
    request_body = PaymentEventRequest,
    responses(
        (status = 202, description = "Accepted into the inbox; the worker applies it.", body = IngestResult),
        (status = 200, description = "A redelivery of an event already accepted: acknowledged without effect.", body = IngestResult),
        WriteErrors
    )
)]
async fn ingest_one(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    ApiJson(event): ApiJson<PaymentEventRequest>,
) -> ApiResult<(StatusCode, Json<IngestResult>)> {
    let report = state
        .engine
        .ingest_payment_events(&caller, vec![Ok(event)])
        .await?;
    let result = report.results.into_iter().next().ok_or_else(|| {
        tracing::error!("ingestion returned no result for one event");
        ApiError(AppError::Internal {
            message: "the event got no result; it is logged on the server".into(),
        })
    })?;
    match (result.outcome, &result.error) {
        (IngestOutcome::Accepted, _) => Ok((StatusCode::ACCEPTED, Json(result))),
        (IngestOutcome::Duplicate, _) => Ok((StatusCode::OK, Json(result))),
        (IngestOutcome::Rejected, Some(error)) => Err(ApiError(rejection_error(error))),
        (IngestOutcome::Rejected, None) => Err(ApiError(AppError::Internal {
            message: "the event was rejected without a reason; it is logged on the server".into(),
        })),
    }
}

/// The [`AppError`] of a rejected event, for the single-event answer.
fn rejection_error(error: &IngestError) -> AppError {
    match (error.code.as_str(), &error.field) {
        ("validation_failed", Some(field)) => {
            let message = error
                .message
                .strip_prefix(&format!("{field}: "))
                .unwrap_or(&error.message);
            AppError::validation(field.clone(), message)
        }
        ("forbidden", _) => AppError::forbidden(error.message.clone()),
        ("not_found", _) => AppError::not_found(error.message.clone()),
        ("event_key_conflict", _) => AppError::conflict("event_key_conflict", &error.message),
        (code, _) => {
            tracing::warn!(code, message = %error.message, "an event was rejected");
            AppError::unprocessable(code, error.message.clone())
        }
    }
}

/// A batch: `{"events": [...]}`, 1 to 500 events; 200 with one result per event (each accepted,
/// duplicate or rejected on its own: a bad event never takes the others down with it).
#[utoipa::path(
    post,
    path = "/api/v1/payment-events/batch",
    tag = "payments",
    request_body = PaymentEventBatch,
    responses((status = 200, description = "One result per event, in order: accepted, duplicate or rejected with its error.", body = IngestReport), WriteErrors)
)]
async fn ingest_batch(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    ApiJson(batch): ApiJson<PaymentEventBatch, BATCH_BODY_BYTES>,
) -> ApiResult<Json<IngestReport>> {
    if batch.events.is_empty() || batch.events.len() > MAX_PAYMENT_EVENT_BATCH {
        return Err(AppError::validation(
            "events",
            format!(
                "send 1 to {MAX_PAYMENT_EVENT_BATCH} events per batch, not {}",
                batch.events.len()
            ),
        )
        .into());
    }
    let events = batch
        .events
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            serde_path_to_error::deserialize::<_, PaymentEventRequest>(value).map_err(|error| {
                let path = error.path().to_string();
                let field = if path == "." {
                    format!("events[{index}]")
                } else {
                    format!("events[{index}].{path}")
                };
                AppError::validation(field, crate::api::describe_serde_error(&error.into_inner()))
            })
        })
        .collect();
    Ok(Json(
        state.engine.ingest_payment_events(&caller, events).await?,
    ))
}

/// Query of the inbox list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InboxQuery {
    /// Only events with this status (default `parked`).
    #[param(value_type = Option<InboxStatus>)]
    status: Option<String>,
    /// How many (default 100).
    limit: Option<i64>,
}

/// Inbox events by status (default `parked`), oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/payment-events",
    tag = "payments",
    params(InboxQuery),
    responses((status = 200, description = "Inbox events, oldest first; parked ones with their reason.", body = Vec<InboxEvent>), ReadErrors)
)]
async fn inbox_events(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Query(query): Query<InboxQuery>,
) -> ApiResult<Json<Vec<InboxEvent>>> {
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => InboxStatus::parse(text).map_err(|m| AppError::validation("status", m))?,
        None => InboxStatus::Parked,
    };
    Ok(Json(
        state
            .engine
            .payment_inbox(&caller, status, query.limit.unwrap_or(100))
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/payment-events/summary",
    tag = "payments",
    responses((status = 200, description = "How many events are received, applied and parked.", body = InboxSummary), ReadErrors)
)]
async fn inbox_summary(
    State(state): State<ApiState>,
    Auth(caller): Auth,
) -> ApiResult<Json<InboxSummary>> {
    Ok(Json(state.engine.inbox_summary(&caller).await?))
}

/// Query of the payment list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PaymentsQuery {
    /// Only this studio's payments (UUID).
    #[param(value_type = Option<Uuid>)]
    studio_id: Option<String>,
    /// Only payments in this state.
    #[param(value_type = Option<PaymentState>)]
    state: Option<String>,
    /// How many (default 100).
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/payments",
    tag = "payments",
    params(PaymentsQuery),
    responses((status = 200, description = "Payments, newest first.", body = Vec<Payment>), ReadErrors)
)]
async fn payments(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Query(query): Query<PaymentsQuery>,
) -> ApiResult<Json<Vec<Payment>>> {
    let studio = match query.studio_id.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => {
            Some(StudioId::parse(text).map_err(|m| AppError::validation("studio_id", m))?)
        }
        None => None,
    };
    let payment_state = match query.state.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => {
            Some(PaymentState::parse(text).map_err(|m| AppError::validation("state", m))?)
        }
        None => None,
    };
    Ok(Json(
        state
            .engine
            .payments(&caller, studio, payment_state, query.limit.unwrap_or(100))
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/payments/totals",
    tag = "payments",
    responses((status = 200, description = "Per studio: captured, refunded and settled Rappen.", body = Vec<PaymentTotals>), ReadErrors)
)]
async fn payment_totals(
    State(state): State<ApiState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<PaymentTotals>>> {
    Ok(Json(state.engine.payment_totals(&caller).await?))
}

fn payment_id(raw: &str) -> Result<PaymentId, ApiError> {
    Ok(PaymentId::parse(raw).map_err(|m| AppError::validation("id", m))?)
}

#[utoipa::path(
    get,
    path = "/api/v1/payments/{id}",
    tag = "payments",
    params(("id" = Uuid, Path, description = "Payment id")),
    responses((status = 200, description = "The payment with its version and lifecycle state.", body = Payment), ReadErrors)
)]
async fn payment(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Payment>> {
    Ok(Json(state.engine.payment(&caller, payment_id(&id)?).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/payments",
    tag = "payments",
    params(IdempotencyKeyHeader),
    request_body = NewPaymentRequest,
    responses((status = 201, description = "The new payment, in state `draft`.", body = Payment), WriteErrors)
)]
async fn create_payment(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    ApiJson(request): ApiJson<NewPaymentRequest>,
) -> ApiResult<(StatusCode, Json<Payment>)> {
    let key = idempotency_key(&headers)?;
    Ok((
        StatusCode::CREATED,
        Json(state.engine.create_payment(&caller, &key, &request).await?),
    ))
}

/// An operator's action; 409 `stale_version` / `illegal_transition` carry the current payment
/// in `error.payment`.
#[utoipa::path(
    post,
    path = "/api/v1/payments/{id}/actions",
    tag = "payments",
    params(("id" = Uuid, Path, description = "Payment id"), IdempotencyKeyHeader),
    request_body = PaymentActionRequest,
    responses((status = 200, description = "The payment after the action, its version one higher.", body = Payment), WriteErrors)
)]
async fn act_on_payment(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<PaymentActionRequest>,
) -> ApiResult<Json<Payment>> {
    let key = idempotency_key(&headers)?;
    let id = payment_id(&id)?;
    Ok(Json(
        state
            .engine
            .act_on_payment(&caller, &key, id, &request)
            .await?,
    ))
}
