//! The webhooks part of the JSON API (issue 7): endpoints, their secrets, messages, delivery
//! receipts, resend, redrive and test events. Same conventions as [`crate::api`]. None of these
//! moves money, so none needs an `Idempotency-Key`: creating an endpoint twice gives two
//! endpoints (the portal shows both), and resend and redrive are refused by the message state
//! machine when the message is already on its way.

use crate::api::{ApiError, ApiJson, ApiResult, ApiState, Auth};
use crate::openapi::{ReadErrors, WriteErrors};
use app::domain::*;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The webhook routes, documented (merged into [`crate::api::router`]).
pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, endpoints))
        .routes(routes!(endpoint, update_endpoint))
        .routes(routes!(endpoint_secret))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
        .routes(routes!(redrive))
        .routes(routes!(messages))
        .routes(routes!(message))
        .routes(routes!(resend))
        .routes(routes!(event_types))
}

fn endpoint_id(raw: &str) -> Result<WebhookEndpointId, ApiError> {
    Ok(WebhookEndpointId::parse(raw).map_err(|m| AppError::validation("id", m))?)
}

fn message_id(raw: &str) -> Result<WebhookMessageId, ApiError> {
    Ok(WebhookMessageId::parse(raw).map_err(|m| AppError::validation("id", m))?)
}

/// Registers an endpoint for the caller's business; the answer carries its signing secret.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/endpoints",
    tag = "webhooks",
    request_body = WebhookEndpointRequest,
    responses((status = 201, description = "The endpoint and its signing secret (`whsec_…`).", body = CreatedWebhookEndpoint), WriteErrors)
)]
async fn create_endpoint(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    ApiJson(request): ApiJson<WebhookEndpointRequest>,
) -> ApiResult<(StatusCode, Json<CreatedWebhookEndpoint>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .engine
                .create_webhook_endpoint(&caller, &request)
                .await?,
        ),
    ))
}

/// The business's endpoints, oldest first, with message counts per state.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/endpoints",
    tag = "webhooks",
    responses((status = 200, description = "Endpoints (never their secrets).", body = Vec<WebhookEndpoint>), ReadErrors)
)]
async fn endpoints(
    State(state): State<ApiState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<WebhookEndpoint>>> {
    Ok(Json(state.engine.webhook_endpoints(&caller).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks/endpoints/{id}",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 200, description = "The endpoint.", body = WebhookEndpoint), ReadErrors)
)]
async fn endpoint(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookEndpoint>> {
    Ok(Json(
        state
            .engine
            .webhook_endpoint(&caller, endpoint_id(&id)?)
            .await?,
    ))
}

/// Changes an endpoint (absent fields stay). Disabling dead-letters its scheduled messages.
#[utoipa::path(
    patch,
    path = "/api/v1/webhooks/endpoints/{id}",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    request_body = WebhookEndpointUpdate,
    responses((status = 200, description = "The changed endpoint.", body = WebhookEndpoint), WriteErrors)
)]
async fn update_endpoint(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    ApiJson(update): ApiJson<WebhookEndpointUpdate>,
) -> ApiResult<Json<WebhookEndpoint>> {
    Ok(Json(
        state
            .engine
            .update_webhook_endpoint(&caller, endpoint_id(&id)?, &update)
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks/endpoints/{id}/secret",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 200, description = "The current signing secret.", body = WebhookSecret), ReadErrors)
)]
async fn endpoint_secret(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookSecret>> {
    Ok(Json(
        state
            .engine
            .webhook_secret(&caller, endpoint_id(&id)?)
            .await?,
    ))
}

/// Rotates the signing secret; the previous one signs beside it until `previous_valid_until`.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/endpoints/{id}/rotate-secret",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 200, description = "The new secret.", body = WebhookSecret), WriteErrors)
)]
async fn rotate_secret(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookSecret>> {
    Ok(Json(
        state
            .engine
            .rotate_webhook_secret(&caller, endpoint_id(&id)?)
            .await?,
    ))
}

/// Queues a `webhook.test` event for this endpoint, due now.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/endpoints/{id}/test",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 202, description = "The test message, scheduled.", body = WebhookMessage), WriteErrors)
)]
async fn send_test(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<WebhookMessage>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(
            state
                .engine
                .send_webhook_test(&caller, endpoint_id(&id)?)
                .await?,
        ),
    ))
}

/// How many messages a redrive scheduled again.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Redriven {
    /// Dead-lettered messages now scheduled.
    pub redriven: u64,
}

/// Redrives the endpoint's dead-letter queue: every dead-lettered message is due again.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/endpoints/{id}/redrive",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 200, description = "How many messages were scheduled again.", body = Redriven), WriteErrors)
)]
async fn redrive(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Redriven>> {
    Ok(Json(Redriven {
        redriven: state
            .engine
            .redrive_webhook_endpoint(&caller, endpoint_id(&id)?)
            .await?,
    }))
}

/// Query of the message list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MessagesQuery {
    /// Only messages in this state (`dead_lettered`: the dead-letter queue).
    #[param(value_type = Option<MessageState>)]
    state: Option<String>,
    /// How many (default 100, at most 500).
    limit: Option<i64>,
}

/// The endpoint's messages, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/endpoints/{id}/messages",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id"), MessagesQuery),
    responses((status = 200, description = "Messages, newest first.", body = Vec<WebhookMessage>), ReadErrors)
)]
async fn messages(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(query): Query<MessagesQuery>,
) -> ApiResult<Json<Vec<WebhookMessage>>> {
    let wanted = match query.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => Some(
            MessageState::ALL
                .into_iter()
                .find(|s| s.as_str() == text)
                .ok_or_else(|| {
                    AppError::validation(
                        "state",
                        format!(
                            "'{text}' is not a message state (scheduled, sending, delivered, dead_lettered)"
                        ),
                    )
                })?,
        ),
        None => None,
    };
    Ok(Json(
        state
            .engine
            .webhook_messages(
                &caller,
                endpoint_id(&id)?,
                wanted,
                query.limit.unwrap_or(100),
            )
            .await?,
    ))
}

/// A message with every delivery receipt.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/messages/{id}",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Message id")),
    responses((status = 200, description = "The message and its attempts, oldest first.", body = WebhookMessageDetail), ReadErrors)
)]
async fn message(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookMessageDetail>> {
    Ok(Json(
        state
            .engine
            .webhook_message(&caller, message_id(&id)?)
            .await?,
    ))
}

/// Sends a delivered or dead-lettered message again (a fresh retry schedule).
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/messages/{id}/resend",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Message id")),
    responses((status = 202, description = "The message, scheduled.", body = WebhookMessage), WriteErrors)
)]
async fn resend(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<WebhookMessage>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(
            state
                .engine
                .resend_webhook_message(&caller, message_id(&id)?)
                .await?,
        ),
    ))
}

/// An event type endpoints can subscribe to.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct EventTypeInfo {
    /// E.g. `payout.committed`.
    pub name: String,
    /// What it means.
    pub description: String,
}

/// Every event type endpoints can subscribe to.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/event-types",
    tag = "webhooks",
    responses((status = 200, description = "The event type catalogue.", body = Vec<EventTypeInfo>), ReadErrors)
)]
async fn event_types(Auth(caller): Auth) -> ApiResult<Json<Vec<EventTypeInfo>>> {
    caller.require(Permission::ReadWebhooks)?;
    Ok(Json(
        app::domain::webhook::EVENT_TYPES
            .iter()
            .map(|(name, description)| EventTypeInfo {
                name: (*name).to_string(),
                description: (*description).to_string(),
            })
            .collect(),
    ))
}
