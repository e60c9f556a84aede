//! The stable JSON API (`/healthz`, `/api/v1/...`) for integrations and black-box tests. Thin:
//! every handler parses and validates at the boundary, then calls the same engine as the UI.
//! Errors are `{"error": {"code", "message", "field"?}}` with a proper status; 5xx bodies are
//! opaque (details are in the log). Every POST needs an `Idempotency-Key` header.

use app::domain::*;
use app::engine::access::{Authenticated, Caller, ClientIp};
use app::engine::auth::{
    expired_session_cookie, served_over_https, session_cookie, session_token_in,
};
use app::engine::faults::Fault;
use app::engine::idempotency::IdempotencyKey;
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
use serde_json::json;

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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        let status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(code = error.code(), message = %error, "request failed with a server error");
        }
        let mut body = json!({ "error": { "code": error.code(), "message": error.to_string() } });
        if let Some(field) = error.field() {
            body["error"]["field"] = json!(field);
            if let AppError::Validation { message, .. } = &error {
                body["error"]["message"] = json!(format!("{field}: {message}"));
            }
        }
        if let AppError::PayoutFailed { payout, .. } = &error {
            body["error"]["payout"] = json!(payout);
        }
        if let AppError::PaymentConflict { payment, .. } = &error {
            body["error"]["payment"] = json!(payment);
        }
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

/// The JSON API routes (without state).
pub fn router(fault_injection: bool) -> Router<ApiState> {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/employees", get(employees))
        .route(
            "/api/v1/service-records",
            post(register_service).get(service_records),
        )
        .route("/api/v1/service-records/{id}/refund", post(refund_service))
        .route("/api/v1/day-records", post(register_day).get(day_records))
        .route("/api/v1/payouts", post(commit_payout).get(payouts))
        .route("/api/v1/payouts/preview", post(preview_payout))
        .route("/api/v1/payouts/{id}", get(payout))
        .route("/api/v1/payouts/{id}/finish", post(finish_payout))
        .route("/api/v1/payouts/{id}/cancel", post(cancel_payout))
        .route("/api/v1/ledger/balances", get(ledger_balances))
        .route("/api/v1/ledger/transfers", get(ledger_transfers))
        .route("/api/v1/audits", post(run_audit).get(audit_runs))
        .route("/api/v1/audits/{id}", get(audit_report))
        .route("/api/v1/notifications", get(notifications))
        .route("/api/v1/till", get(current_till))
        .route("/api/v1/till/open", post(open_till))
        .route("/api/v1/till/movements", post(cash_movement))
        .route("/api/v1/till/close", post(close_till))
        .route("/api/v1/till/sessions/{id}", get(till_session))
        .route(
            "/api/v1/session",
            post(sign_in).get(current_session).delete(sign_out),
        )
        .route("/logout", post(log_out_form))
        .route("/api/v1/api-keys", post(create_api_key).get(api_keys))
        .route("/api/v1/api-keys/{id}/revoke", post(revoke_api_key))
        .route("/api/v1/users", post(create_user).get(users))
        .route("/api/v1/users/{id}/deactivate", post(deactivate_user))
        .route("/api/v1/users/{id}/reactivate", post(reactivate_user))
        .route("/api/v1/activity", get(activity));
    if fault_injection {
        router.route(
            "/api/v1/test/faults",
            post(arm_fault).get(armed_faults).delete(clear_faults),
        )
    } else {
        router
    }
}

async fn healthz(State(state): State<ApiState>) -> Response {
    let backend = state.engine.backend().name();
    match state.engine.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ok", "database": backend })),
        )
            .into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({ "status": "unavailable", "database": backend, "error": error.to_string() }),
            ),
        )
            .into_response(),
    }
}

async fn employees(
    State(state): State<ApiState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<EmployeeSummary>>> {
    Ok(Json(state.engine.employees(&caller).await?))
}

#[derive(Deserialize)]
struct RecordsQuery {
    employee_id: Option<String>,
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

async fn preview_payout(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    ApiJson(request): ApiJson<PayoutRequest>,
) -> ApiResult<Json<PayoutPreview>> {
    Ok(Json(state.engine.preview_payout(&caller, &request).await?))
}

#[derive(Deserialize)]
struct PayoutsQuery {
    state: Option<String>,
    employee_id: Option<String>,
}

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
#[derive(Serialize)]
struct PayoutWithLines {
    #[serde(flatten)]
    payout: Payout,
    lines: Vec<PayoutLine>,
}

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

#[derive(Deserialize)]
struct BalancesQuery {
    studio_id: Option<String>,
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

async fn ledger_balances(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Query(query): Query<BalancesQuery>,
) -> ApiResult<Json<Vec<AccountBalance>>> {
    let studio = studio_param(query.studio_id.as_deref())?
        .ok_or_else(|| AppError::validation("studio_id", "studio_id is required"))?;
    let as_of =
        match query.as_of.as_deref().filter(|s| !s.is_empty()) {
            Some(text) => Some(chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(
                |_| AppError::validation("as_of", format!("'{text}' is not a date (YYYY-MM-DD)")),
            )?),
            None => None,
        };
    Ok(Json(state.engine.balances(&caller, studio, as_of).await?))
}

#[derive(Deserialize)]
struct TransfersQuery {
    studio_id: Option<String>,
    cause_id: Option<String>,
    limit: Option<String>,
}

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
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AuditRequest {
    /// Only the last N days (default: everything).
    #[serde(default)]
    days: Option<i64>,
}

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

async fn audit_runs(
    State(state): State<ApiState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<AuditRun>>> {
    Ok(Json(state.engine.audit_runs(&caller, 50).await?))
}

async fn audit_report(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<AuditReport>> {
    let id = AuditRunId::parse(&id).map_err(|m| AppError::validation("audit_run_id", m))?;
    Ok(Json(state.engine.audit_report(&caller, id).await?))
}

#[derive(Deserialize)]
struct NotificationsQuery {
    state: Option<String>,
}

async fn notifications(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Query(query): Query<NotificationsQuery>,
) -> ApiResult<Json<Vec<app::engine::notifications::Notification>>> {
    use app::engine::notifications::DeliveryState;
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

async fn current_till(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Query(query): Query<BalancesQuery>,
) -> ApiResult<Json<Option<TillSession>>> {
    let studio = studio_param(query.studio_id.as_deref())?
        .ok_or_else(|| AppError::validation("studio_id", "studio_id is required"))?;
    Ok(Json(state.engine.current_till(&caller, studio).await?))
}

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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignInRequest {
    email: String,
    password: String,
}

/// Signs in: sets the session cookie and returns who signed in. No Idempotency-Key: signing in
/// twice only opens a second session.
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

async fn api_keys(
    State(state): State<ApiState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<ApiKeyInfo>>> {
    Ok(Json(state.engine.api_keys(&caller).await?))
}

async fn revoke_api_key(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiKeyInfo>> {
    let id = ApiKeyId::parse(&id).map_err(|m| AppError::validation("id", m))?;
    Ok(Json(state.engine.revoke_api_key(&caller, id).await?))
}

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

async fn users(
    State(state): State<ApiState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<UserInfo>>> {
    Ok(Json(state.engine.users(&caller).await?))
}

async fn deactivate_user(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<UserInfo>> {
    set_user_active(&state, &caller, &id, false).await
}

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

#[derive(Deserialize)]
struct ActivityQuery {
    before: Option<i64>,
    limit: Option<String>,
}

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
