//! The stable JSON API (`/healthz`, `/api/v1/...`) for integrations and black-box tests. Thin:
//! every handler parses and validates at the boundary, then calls the same engine as the UI.
//! Errors are `{"error": {"code", "message", "field"?}}` with a proper status; 5xx bodies are
//! opaque (details are in the log). Every POST needs an `Idempotency-Key` header.

use app::domain::*;
use app::engine::access::{Authenticated, Caller, ClientIp};
use app::engine::auth::{
    expired_session_cookie, language_cookie, served_over_https, session_cookie, session_token_in,
};
use app::engine::faults::Fault;
use app::engine::idempotency::IdempotencyKey;
use app::engine::notifications::{DeliveryState, Notification};
use app::engine::Engine;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi as _, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::openapi::{IdempotencyKeyHeader, ReadErrors, WriteErrors};

/// Largest accepted request body: 64 KiB. A service record is ~300 bytes; anything near this is
/// a mistake or an attack.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// State shared by the API handlers.
#[derive(Clone)]
pub struct ApiState {
    /// The engine.
    pub engine: Engine,
}

/// An [`AppError`] as an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        ApiError(error)
    }
}

/// The body of every error answer: `{"error": {...}}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, for a program (`code`) and for a person (`message`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation_failed`, `forbidden`, `not_found`,
    /// `illegal_transition`, `stale_version`, `payout_failed`.
    pub code: String,
    /// A sentence for the person who can act on it (prefixed with `field: ` for validation).
    pub message: String,
    /// The offending field or parameter (validation errors only), e.g. `price` or
    /// `events[3].amount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `payout_failed` only: the payout as recorded after the failure, to finish or cancel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout: Option<Box<Payout>>,
    /// `stale_version` / `illegal_transition` only: the payment as it is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<Box<Payment>>,
    /// Settlement `stale_version` / `illegal_transition` only: the settlement item as it is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Box<SettlementItem>>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        let status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(code = error.code(), message = %error, "request failed with a server error");
        }
        let field = error.field().map(str::to_string);
        let message = if let (AppError::Validation { message, .. }, Some(field)) = (&error, &field)
        {
            format!("{field}: {message}")
        } else {
            error.to_string()
        };
        let payout = if let AppError::PayoutFailed { payout, .. } = &error {
            Some(payout.clone())
        } else {
            None
        };
        let payment = if let AppError::PaymentConflict { payment, .. } = &error {
            Some(payment.clone())
        } else {
            None
        };
        let item = if let AppError::SettlementConflict { item, .. } = &error {
            Some(item.clone())
        } else {
            None
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: error.code().to_string(),
                message,
                field,
                payout,
                payment,
                item,
            },
        };
        (status, Json(body)).into_response()
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The authenticated caller of an API request (resolved by [`crate::auth::authenticate`]).
/// Rejects with 401 `unauthenticated` when the request carries no valid session or API key.
pub struct Auth(pub Caller);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authenticated>()
            .map(|auth| Auth(auth.caller.clone()))
            .ok_or_else(|| {
                ApiError(AppError::unauthenticated(
                    "sign in, or send an API key as 'Authorization: Bearer pe_…'",
                ))
            })
    }
}

/// A JSON body, checked at the boundary: `Content-Type: application/json` (415), at most
/// [`MAX_BODY_BYTES`] (413), valid UTF-8 (400), syntactically JSON (400), and of the expected shape
/// (422, naming the first offending field, e.g. `price` or `employee_id`).
pub struct ApiJson<T, const LIMIT: usize = MAX_BODY_BYTES>(pub T);

impl<S, T, const LIMIT: usize> FromRequest<S> for ApiJson<T, LIMIT>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(AppError::bad_request(
                415,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            )
            .into());
        }
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection: BytesRejection| {
                    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        AppError::bad_request(
                            413,
                            "payload_too_large",
                            format!("the body is larger than {} KiB", LIMIT / 1024),
                        )
                    } else {
                        AppError::bad_request(
                            400,
                            "unreadable_body",
                            format!("the body could not be read: {rejection}"),
                        )
                    }
                })?;
        if std::str::from_utf8(&bytes).is_err() {
            return Err(
                AppError::bad_request(400, "invalid_utf8", "the body is not valid UTF-8").into(),
            );
        }
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(deserializer) {
            Ok(value) => Ok(ApiJson(value)),
            Err(error) => {
                let path = error.path().to_string();
                let inner = error.into_inner();
                match inner.classify() {
                    serde_json::error::Category::Data => {
                        let field = if path == "." {
                            "body".to_string()
                        } else {
                            path
                        };
                        Err(AppError::validation(field, describe_serde_error(&inner)).into())
                    }
                    serde_json::error::Category::Syntax
                    | serde_json::error::Category::Eof
                    | serde_json::error::Category::Io => Err(AppError::bad_request(
                        400,
                        "invalid_json",
                        format!("the body is not valid JSON: {inner}"),
                    )
                    .into()),
                }
            }
        }
    }
}

/// serde's message without its "at line 1 column 42" suffix, which means nothing to a person.
pub(crate) fn describe_serde_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.find(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> ApiResult<IdempotencyKey> {
    let raw = match headers.get("idempotency-key") {
        Some(value) => Some(value.to_str().map_err(|_| {
            AppError::bad_request(
                400,
                "invalid_idempotency_key",
                "the Idempotency-Key must be printable ASCII",
            )
        })?),
        None => None,
    };
    Ok(IdempotencyKey::parse(raw)?)
}

fn payout_id(raw: &str) -> ApiResult<PayoutId> {
    Ok(PayoutId::parse(raw).map_err(|m| AppError::validation("payout_id", m))?)
}

/// The JSON API routes (without state), with `GET /api/v1/openapi.json` serving their OpenAPI
/// document; the fault injection routes only when `fault_injection` is on (tests).
pub fn router(fault_injection: bool) -> Router<ApiState> {
    let (router, document) = documented_routes().split_for_parts();
    let document = std::sync::Arc::new(document);
    let router = router
        .route(
            crate::openapi::OPENAPI_PATH,
            get(move || {
                let document = std::sync::Arc::clone(&document);
                async move { Json(document.as_ref().clone()) }
            }),
        )
        .route("/logout", post(log_out_form))
        .route("/language", post(choose_language_form));
    if fault_injection {
        router.route(
            "/api/v1/test/faults",
            post(arm_fault).get(armed_faults).delete(clear_faults),
        )
    } else {
        router
    }
}

/// The OpenAPI document of the JSON API (see [`crate::openapi`]).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    documented_routes().split_for_parts().1
}

/// Every public route, each with its `#[utoipa::path]` documentation.
fn documented_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(employees))
        .routes(routes!(register_service, service_records))
        .routes(routes!(refund_service))
        .routes(routes!(register_day, day_records))
        .routes(routes!(commit_payout, payouts))
        .routes(routes!(preview_payout))
        .routes(routes!(payout))
        .routes(routes!(finish_payout))
        .routes(routes!(cancel_payout))
        .routes(routes!(ledger_balances))
        .routes(routes!(ledger_transfers))
        .routes(routes!(run_audit, audit_runs))
        .routes(routes!(audit_report))
        .routes(routes!(notifications))
        .routes(routes!(current_till))
        .routes(routes!(open_till))
        .routes(routes!(cash_movement))
        .routes(routes!(close_till))
        .routes(routes!(till_session))
        .routes(routes!(sign_in, current_session, sign_out))
        .routes(routes!(create_api_key, api_keys))
        .routes(routes!(revoke_api_key))
        .routes(routes!(create_user, users))
        .routes(routes!(deactivate_user))
        .routes(routes!(reactivate_user))
        .routes(routes!(activity))
        .merge(crate::payments_api::routes())
        .merge(crate::webhooks_api::routes())
        .merge(crate::feed_api::routes())
        .merge(crate::settlements_api::routes())
        .merge(crate::slips_api::routes())
        .merge(crate::exports_api::routes())
        .merge(crate::dashboard_api::routes())
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "The service and its database answer.", body = Health),
        (status = 503, description = "The database does not answer; `error` says why.", body = Health)
    )
)]
async fn healthz(State(state): State<ApiState>) -> (StatusCode, Json<Health>) {
    let database = state.engine.backend().name();
    match state.engine.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                database,
                error: None,
            }),
        ),
        Err(error) => {
            tracing::warn!(%error, "health check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable",
                    database,
                    error: Some(error.to_string()),
                }),
            )
        }
    }
}

/// Body of `GET /healthz`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// The backend: `sqlite` or `postgres`.
    pub database: &'static str,
    /// Why the database does not answer (only when `unavailable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/employees",
    tag = "records",
    responses((status = 200, description = "The employees the caller may see.", body = Vec<EmployeeSummary>), ReadErrors)
)]
async fn employees(
    State(state): State<ApiState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<EmployeeSummary>>> {
    Ok(Json(state.engine.employees(&caller).await?))
}

/// Query of the record lists.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RecordsQuery {
    /// Only this employee's records (UUID).
    #[param(value_type = Option<Uuid>)]
    employee_id: Option<String>,
    /// How many, 1 to 500 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
}

impl RecordsQuery {
    /// Errors (422): a malformed `employee_id`; a `limit` outside 1..=500 (default 50).
    fn parse(&self) -> ApiResult<(Option<EmployeeId>, i64)> {
        let employee = match self.employee_id.as_deref().filter(|s| !s.is_empty()) {
            Some(text) => {
                Some(EmployeeId::parse(text).map_err(|m| AppError::validation("employee_id", m))?)
            }
            None => None,
        };
        let limit = match self.limit.as_deref() {
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=500).contains(n))
                .ok_or_else(|| {
                    AppError::validation("limit", "limit must be a whole number from 1 to 500")
                })?,
            None => 50,
        };
        Ok((employee, limit))
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/service-records",
    tag = "records",
    params(RecordsQuery),
    responses((status = 200, description = "Service records, newest first.", body = Vec<ServiceRecord>), ReadErrors)
)]
async fn service_records(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Query(query): Query<RecordsQuery>,
) -> ApiResult<Json<Vec<ServiceRecord>>> {
    let (employee, limit) = query.parse()?;
    Ok(Json(
        state
            .engine
            .recent_service_records(&caller, employee, limit)
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/day-records",
    tag = "records",
    params(RecordsQuery),
    responses((status = 200, description = "Day records, newest first.", body = Vec<DayRecord>), ReadErrors)
)]
async fn day_records(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Query(query): Query<RecordsQuery>,
) -> ApiResult<Json<Vec<DayRecord>>> {
    let (employee, limit) = query.parse()?;
    Ok(Json(
        state
            .engine
            .recent_day_records(&caller, employee, limit)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/day-records",
    tag = "records",
    params(IdempotencyKeyHeader),
    request_body = DayRecordRequest,
    responses((status = 201, description = "The registered working day.", body = DayRecord), WriteErrors)
)]
async fn register_day(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    ApiJson(request): ApiJson<DayRecordRequest>,
) -> ApiResult<(StatusCode, Json<DayRecord>)> {
    let key = idempotency_key(&headers)?;
    let record = state.engine.register_day(&caller, &key, &request).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

#[utoipa::path(
    post,
    path = "/api/v1/service-records",
    tag = "records",
    params(IdempotencyKeyHeader),
    request_body = ServiceRecordRequest,
    responses((status = 201, description = "The registered service.", body = ServiceRecord), WriteErrors)
)]
async fn register_service(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ServiceRecordRequest>,
) -> ApiResult<(StatusCode, Json<ServiceRecord>)> {
    let key = idempotency_key(&headers)?;
    let record = state
        .engine
        .register_service(&caller, &key, &request)
        .await?;
    Ok((StatusCode::CREATED, Json(record)))
}

#[utoipa::path(
    post,
    path = "/api/v1/service-records/{id}/refund",
    tag = "records",
    params(("id" = Uuid, Path, description = "Service record id"), IdempotencyKeyHeader),
    request_body = RefundRequest,
    responses((status = 200, description = "The record with its refund; the ledger posts the reversal.", body = ServiceRecord), WriteErrors)
)]
async fn refund_service(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<RefundRequest>,
) -> ApiResult<Json<ServiceRecord>> {
    let key = idempotency_key(&headers)?;
    let id = ServiceRecordId::parse(&id).map_err(|m| AppError::validation("id", m))?;
    Ok(Json(
        state
            .engine
            .refund_service_record(&caller, &key, id, &request)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/payouts",
    tag = "payouts",
    params(IdempotencyKeyHeader),
    request_body = PayoutRequest,
    responses((status = 201, description = "The committed payout: every open record of the period is marked in one transaction, or none is.", body = Payout), WriteErrors)
)]
async fn commit_payout(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    ApiJson(request): ApiJson<PayoutRequest>,
) -> ApiResult<(StatusCode, Json<Payout>)> {
    let key = idempotency_key(&headers)?;
    let payout = state.engine.commit_payout(&caller, &key, &request).await?;
    Ok((StatusCode::CREATED, Json(payout)))
}

#[utoipa::path(
    post,
    path = "/api/v1/payouts/preview",
    tag = "payouts",
    request_body = PayoutRequest,
    responses((status = 200, description = "What committing would pay, without changing anything.", body = PayoutPreview), WriteErrors)
)]
async fn preview_payout(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    ApiJson(request): ApiJson<PayoutRequest>,
) -> ApiResult<Json<PayoutPreview>> {
    Ok(Json(state.engine.preview_payout(&caller, &request).await?))
}

/// Query of the payout list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PayoutsQuery {
    /// Only payouts in this state.
    #[param(value_type = Option<PayoutState>)]
    state: Option<String>,
    /// Only this employee's payouts (UUID).
    #[param(value_type = Option<Uuid>)]
    employee_id: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/payouts",
    tag = "payouts",
    params(PayoutsQuery),
    responses((status = 200, description = "Payouts, newest first (at most 1,000).", body = Vec<Payout>), ReadErrors)
)]
async fn payouts(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Query(query): Query<PayoutsQuery>,
) -> ApiResult<Json<Vec<Payout>>> {
    let filter = match query.state.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => Some(PayoutState::parse(text).map_err(|m| AppError::validation("state", m))?),
        None => None,
    };
    let employee = match query.employee_id.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => {
            Some(EmployeeId::parse(text).map_err(|m| AppError::validation("employee_id", m))?)
        }
        None => None,
    };
    Ok(Json(
        state
            .engine
            .payouts(&caller, filter, employee, 1000)
            .await?,
    ))
}

/// A payout with its lines.
#[derive(Serialize, ToSchema)]
struct PayoutWithLines {
    #[serde(flatten)]
    payout: Payout,
    /// Every record the payout paid, with its commission.
    lines: Vec<PayoutLine>,
}

#[utoipa::path(
    get,
    path = "/api/v1/payouts/{id}",
    tag = "payouts",
    params(("id" = Uuid, Path, description = "Payout id")),
    responses((status = 200, description = "The payout with every line it paid.", body = PayoutWithLines), ReadErrors)
)]
async fn payout(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<PayoutWithLines>> {
    let detail = state.engine.payout_detail(&caller, payout_id(&id)?).await?;
    Ok(Json(PayoutWithLines {
        payout: detail.payout,
        lines: detail.lines,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/payouts/{id}/finish",
    tag = "payouts",
    params(("id" = Uuid, Path, description = "Payout id"), IdempotencyKeyHeader),
    responses((status = 200, description = "The payout, committed (finishing a committed payout changes nothing).", body = Payout), WriteErrors)
)]
async fn finish_payout(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Payout>> {
    let key = idempotency_key(&headers)?;
    Ok(Json(
        state
            .engine
            .finish_payout(&caller, &key, payout_id(&id)?)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/payouts/{id}/cancel",
    tag = "payouts",
    params(("id" = Uuid, Path, description = "Payout id"), IdempotencyKeyHeader),
    responses((status = 200, description = "The failed payout, cancelled: its records are open again.", body = Payout), WriteErrors)
)]
async fn cancel_payout(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Payout>> {
    let key = idempotency_key(&headers)?;
    Ok(Json(
        state
            .engine
            .cancel_payout(&caller, &key, payout_id(&id)?)
            .await?,
    ))
}

/// Query of a studio's balances and till.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct BalancesQuery {
    /// The studio (UUID); required.
    #[param(value_type = Uuid, required = true)]
    studio_id: Option<String>,
    /// Balances at the end of this day (YYYY-MM-DD); default now. The till ignores it.
    #[param(value_type = Option<chrono::NaiveDate>)]
    as_of: Option<String>,
}

fn studio_param(raw: Option<&str>) -> ApiResult<Option<StudioId>> {
    match raw.filter(|s| !s.is_empty()) {
        Some(text) => Ok(Some(
            StudioId::parse(text).map_err(|m| AppError::validation("studio_id", m))?,
        )),
        None => Ok(None),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/ledger/balances",
    tag = "ledger",
    params(BalancesQuery),
    responses((status = 200, description = "Every account's balance of the studio, Rappen.", body = Vec<AccountBalance>), ReadErrors)
)]
async fn ledger_balances(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Query(query): Query<BalancesQuery>,
) -> ApiResult<Json<Vec<AccountBalance>>> {
    let studio = studio_param(query.studio_id.as_deref())?
        .ok_or_else(|| AppError::validation("studio_id", "studio_id is required"))?;
    let as_of = match query.as_of.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => Some(app::domain::parse_iso_date("as_of", text)?),
        None => None,
    };
    Ok(Json(state.engine.balances(&caller, studio, as_of).await?))
}

/// Query of the transfer list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TransfersQuery {
    /// Only this studio's transfers (UUID).
    #[param(value_type = Option<Uuid>)]
    studio_id: Option<String>,
    /// Only the transfers of this cause: a service record, payout, till session or payment (UUID).
    #[param(value_type = Option<Uuid>)]
    cause_id: Option<String>,
    /// How many, 1 to 500 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/ledger/transfers",
    tag = "ledger",
    params(TransfersQuery),
    responses((status = 200, description = "Transfers with their postings, newest first.", body = Vec<Transfer>), ReadErrors)
)]
async fn ledger_transfers(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Query(query): Query<TransfersQuery>,
) -> ApiResult<Json<Vec<Transfer>>> {
    let studio = studio_param(query.studio_id.as_deref())?;
    let cause = match query.cause_id.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => Some(uuid::Uuid::parse_str(text).map_err(|_| {
            AppError::validation(
                "cause_id",
                format!("'{text}' is not a valid id (expected a UUID)"),
            )
        })?),
        None => None,
    };
    let limit = RecordsQuery {
        employee_id: None,
        limit: query.limit,
    }
    .parse()?
    .1;
    Ok(Json(
        state
            .engine
            .transfers(&caller, studio, cause, limit)
            .await?,
    ))
}

/// Body of `POST /api/v1/audits`.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct AuditRequest {
    /// Only the last N days (default: everything).
    #[serde(default)]
    days: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/api/v1/audits",
    tag = "audits",
    request_body = AuditRequest,
    responses((status = 201, description = "The finished run with its findings; findings alert the owner.", body = AuditReport), WriteErrors)
)]
async fn run_audit(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    ApiJson(request): ApiJson<AuditRequest>,
) -> ApiResult<(StatusCode, Json<AuditReport>)> {
    let report = state
        .engine
        .run_audit(&caller, AuditTrigger::Manual, request.days, None)
        .await?;
    Ok((StatusCode::CREATED, Json(report)))
}

#[utoipa::path(
    get,
    path = "/api/v1/audits",
    tag = "audits",
    responses((status = 200, description = "The last 50 runs, newest first.", body = Vec<AuditRun>), ReadErrors)
)]
async fn audit_runs(
    State(state): State<ApiState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<AuditRun>>> {
    Ok(Json(state.engine.audit_runs(&caller, 50).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/audits/{id}",
    tag = "audits",
    params(("id" = Uuid, Path, description = "Audit run id")),
    responses((status = 200, description = "The run with its findings.", body = AuditReport), ReadErrors)
)]
async fn audit_report(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<AuditReport>> {
    let id = AuditRunId::parse(&id).map_err(|m| AppError::validation("audit_run_id", m))?;
    Ok(Json(state.engine.audit_report(&caller, id).await?))
}

/// Query of the notification list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct NotificationsQuery {
    /// Only notifications in this delivery state.
    #[param(value_type = Option<DeliveryState>)]
    state: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    tag = "audits",
    params(NotificationsQuery),
    responses((status = 200, description = "Alerts and their delivery state, newest first (at most 200).", body = Vec<Notification>), ReadErrors)
)]
async fn notifications(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Query(query): Query<NotificationsQuery>,
) -> ApiResult<Json<Vec<Notification>>> {
    let filter = match query.state.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => Some(
            serde_json::from_value::<DeliveryState>(serde_json::Value::String(text.to_string()))
                .map_err(|_| {
                    AppError::validation(
                        "state",
                        format!("'{text}' is not a delivery state (pending, sending, sent, failed, unknown)"),
                    )
                })?,
        ),
        None => None,
    };
    Ok(Json(
        state.engine.notifications(&caller, filter, 200).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/till",
    tag = "till",
    params(BalancesQuery),
    responses((status = 200, description = "The studio's open till session, or null when the till is closed.", body = Option<TillSession>), ReadErrors)
)]
async fn current_till(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Query(query): Query<BalancesQuery>,
) -> ApiResult<Json<Option<TillSession>>> {
    let studio = studio_param(query.studio_id.as_deref())?
        .ok_or_else(|| AppError::validation("studio_id", "studio_id is required"))?;
    Ok(Json(state.engine.current_till(&caller, studio).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/till/open",
    tag = "till",
    params(IdempotencyKeyHeader),
    request_body = OpenTillRequest,
    responses((status = 201, description = "The opened session.", body = TillSession), WriteErrors)
)]
async fn open_till(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    ApiJson(request): ApiJson<OpenTillRequest>,
) -> ApiResult<(StatusCode, Json<TillSession>)> {
    let key = idempotency_key(&headers)?;
    Ok((
        StatusCode::CREATED,
        Json(state.engine.open_till(&caller, &key, &request).await?),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/till/movements",
    tag = "till",
    params(IdempotencyKeyHeader),
    request_body = CashMovementRequest,
    responses((status = 201, description = "The session with the movement.", body = TillSession), WriteErrors)
)]
async fn cash_movement(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CashMovementRequest>,
) -> ApiResult<(StatusCode, Json<TillSession>)> {
    let key = idempotency_key(&headers)?;
    Ok((
        StatusCode::CREATED,
        Json(state.engine.cash_movement(&caller, &key, &request).await?),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/till/close",
    tag = "till",
    params(IdempotencyKeyHeader),
    request_body = CloseTillRequest,
    responses((status = 200, description = "The closed session with its Z report.", body = TillSession), WriteErrors)
)]
async fn close_till(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CloseTillRequest>,
) -> ApiResult<Json<TillSession>> {
    let key = idempotency_key(&headers)?;
    Ok(Json(
        state.engine.close_till(&caller, &key, &request).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/till/sessions/{id}",
    tag = "till",
    params(("id" = Uuid, Path, description = "Till session id")),
    responses((status = 200, description = "The session, open or closed.", body = TillSession), ReadErrors)
)]
async fn till_session(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<TillSession>> {
    let id = TillSessionId::parse(&id).map_err(|m| AppError::validation("till_session_id", m))?;
    Ok(Json(state.engine.till_session(&caller, id).await?))
}

async fn arm_fault(
    State(state): State<ApiState>,
    ApiJson(fault): ApiJson<Fault>,
) -> ApiResult<Json<Vec<Fault>>> {
    state.engine.faults().arm(fault);
    Ok(Json(state.engine.faults().armed()))
}

async fn armed_faults(State(state): State<ApiState>) -> Json<Vec<Fault>> {
    Json(state.engine.faults().armed())
}

async fn clear_faults(State(state): State<ApiState>) -> StatusCode {
    state.engine.faults().clear();
    StatusCode::NO_CONTENT
}

/// Body of `POST /api/v1/session`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignInRequest {
    email: String,
    password: String,
}

/// Signs in: sets the session cookie and returns who signed in. No Idempotency-Key: signing in
/// twice only opens a second session.
#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "access",
    security(()),
    request_body = SignInRequest,
    responses(
        (status = 201, description = "Signed in: `Set-Cookie` carries the session.", body = Me,
            headers(("set-cookie" = String, description = "The session cookie"))),
        WriteErrors
    )
)]
async fn sign_in(
    State(state): State<ApiState>,
    headers: HeaderMap,
    ip: Option<axum::Extension<ClientIp>>,
    ApiJson(request): ApiJson<SignInRequest>,
) -> ApiResult<Response> {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let session = state
        .engine
        .login(
            &request.email,
            &request.password,
            ip.map(|axum::Extension(ClientIp(ip))| ip),
            agent,
        )
        .await?;
    let cookie = session_cookie(
        &session.token,
        session.expires_at,
        served_over_https(&headers),
    );
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, cookie)],
        Json(session.me),
    )
        .into_response())
}

/// Who is signed in with the session cookie.
#[utoipa::path(
    get,
    path = "/api/v1/session",
    tag = "access",
    responses((status = 200, description = "Who is signed in with this session.", body = Me), ReadErrors)
)]
async fn current_session(auth: Option<axum::Extension<Authenticated>>) -> ApiResult<Json<Me>> {
    auth.and_then(|axum::Extension(auth)| auth.me)
        .map(Json)
        .ok_or_else(|| ApiError(AppError::unauthenticated("nobody is signed in")))
}

/// Ends the session of the request's cookie, if any, and returns the `Set-Cookie` value that
/// clears it.
async fn end_session(state: &ApiState, headers: &HeaderMap) -> ApiResult<String> {
    if let Some(token) = session_token_in(headers) {
        state.engine.logout(&token).await?;
    }
    Ok(expired_session_cookie(served_over_https(headers)))
}

/// Signs out: ends the session and clears the cookie (204 also when nobody was signed in).
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "access",
    security(()),
    responses(
        (status = 204, description = "Signed out (also when nobody was): `Set-Cookie` clears the cookie.",
            headers(("set-cookie" = String, description = "The expired session cookie"))),
        (status = 500, description = "The session could not be ended; the details are in the server's log.", body = ErrorBody)
    )
)]
async fn sign_out(State(state): State<ApiState>, headers: HeaderMap) -> ApiResult<Response> {
    let cleared = end_session(&state, &headers).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cleared)]).into_response())
}

/// The top bar's Sign out form: ends the session, clears the cookie and sends the browser to the
/// sign-in page (303).
async fn log_out_form(State(state): State<ApiState>, headers: HeaderMap) -> ApiResult<Response> {
    let cleared = end_session(&state, &headers).await?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cleared),
            (header::LOCATION, "/login".to_string()),
        ],
    )
        .into_response())
}

/// The language menu's form (`language=de|fr|en`, `next=/path`).
#[derive(Deserialize)]
struct LanguageForm {
    language: String,
    next: Option<String>,
}

/// The language menu: remembers the language in this browser (a cookie for a year), stores it as
/// the signed-in person's choice (so it follows them to other devices), and sends the browser
/// back to the page it came from (303) to render it in that language. Works without JavaScript.
///
/// Errors: 422 `language` for anything but `de`, `fr` or `en`.
async fn choose_language_form(
    State(state): State<ApiState>,
    auth: Option<axum::Extension<Authenticated>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LanguageForm>,
) -> ApiResult<Response> {
    let language = Language::from_code(&form.language).ok_or_else(|| {
        AppError::validation(
            "language",
            format!(
                "'{}' is not a language of this app: choose de, fr or en",
                form.language
            ),
        )
    })?;
    if let Some(axum::Extension(Authenticated {
        caller,
        me: Some(_),
    })) = &auth
    {
        state
            .engine
            .set_own_language(caller, Some(language))
            .await?;
    }
    Ok((
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                language_cookie(language, served_over_https(&headers)),
            ),
            (
                header::LOCATION,
                local_redirect_target(form.next.as_deref()),
            ),
        ],
    )
        .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    tag = "access",
    request_body = ApiKeyRequest,
    responses((status = 201, description = "The new key; its secret is shown this once.", body = CreatedApiKey), WriteErrors)
)]
async fn create_api_key(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    ApiJson(request): ApiJson<ApiKeyRequest>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.engine.create_api_key(&caller, &request).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    tag = "access",
    responses((status = 200, description = "The business's API keys (without secrets).", body = Vec<ApiKeyInfo>), ReadErrors)
)]
async fn api_keys(
    State(state): State<ApiState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<ApiKeyInfo>>> {
    Ok(Json(state.engine.api_keys(&caller).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/api-keys/{id}/revoke",
    tag = "access",
    params(("id" = Uuid, Path, description = "API key id")),
    responses((status = 200, description = "The revoked key; it no longer authenticates.", body = ApiKeyInfo), WriteErrors)
)]
async fn revoke_api_key(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiKeyInfo>> {
    let id = ApiKeyId::parse(&id).map_err(|m| AppError::validation("id", m))?;
    Ok(Json(state.engine.revoke_api_key(&caller, id).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "access",
    request_body = UserRequest,
    responses((status = 201, description = "The new user.", body = UserInfo), WriteErrors)
)]
async fn create_user(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    ApiJson(request): ApiJson<UserRequest>,
) -> ApiResult<(StatusCode, Json<UserInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.engine.create_user(&caller, &request).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "access",
    responses((status = 200, description = "The business's users.", body = Vec<UserInfo>), ReadErrors)
)]
async fn users(
    State(state): State<ApiState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<UserInfo>>> {
    Ok(Json(state.engine.users(&caller).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/deactivate",
    tag = "access",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, description = "The user, deactivated: their sessions end.", body = UserInfo), WriteErrors)
)]
async fn deactivate_user(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<UserInfo>> {
    set_user_active(&state, &caller, &id, false).await
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/reactivate",
    tag = "access",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, description = "The user, active again.", body = UserInfo), WriteErrors)
)]
async fn reactivate_user(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<UserInfo>> {
    set_user_active(&state, &caller, &id, true).await
}

async fn set_user_active(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    active: bool,
) -> ApiResult<Json<UserInfo>> {
    let id = UserId::parse(id).map_err(|m| AppError::validation("id", m))?;
    Ok(Json(
        state.engine.set_user_active(caller, id, active).await?,
    ))
}

/// Query of the activity log: pages of `limit` entries, older ones with `before`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ActivityQuery {
    /// Only entries with an `id` below this (the smallest `id` of the page before).
    before: Option<i64>,
    /// How many, 1 to 500 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/activity",
    tag = "access",
    params(ActivityQuery),
    responses((status = 200, description = "The activity log, newest first.", body = Vec<ActivityEntry>), ReadErrors)
)]
async fn activity(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Query(query): Query<ActivityQuery>,
) -> ApiResult<Json<Vec<ActivityEntry>>> {
    let limit = RecordsQuery {
        employee_id: None,
        limit: query.limit,
    }
    .parse()?
    .1;
    Ok(Json(
        state.engine.activity(&caller, query.before, limit).await?,
    ))
}
