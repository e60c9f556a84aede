//! The settlement part of the JSON API (issue 9): the settlement overview, pain.001 bank files,
//! camt.053/054 statement imports, a person's actions on settlement items, and bank details.
//! Same conventions as [`crate::api`]. A statement is posted as the XML file itself
//! (`Content-Type: application/xml`); importing the same file twice changes nothing, so it needs
//! no `Idempotency-Key`.

use crate::api::{idempotency_key, ApiJson, ApiResult, ApiState, Auth};
use crate::openapi::{IdempotencyKeyHeader, ReadErrors, WriteErrors};
use app::domain::*;
use app::engine::settlements::MAX_STATEMENT_BYTES;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The settlement routes, documented (merged into [`crate::api::router`]).
pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    let (schemas, paths, import) = routes!(import_statement);
    OpenApiRouter::new()
        .routes(routes!(overview))
        .routes(routes!(create_bank_file))
        .routes(routes!(bank_file_document))
        .routes((
            schemas,
            paths,
            import.layer(DefaultBodyLimit::max(MAX_STATEMENT_BYTES)),
        ))
        .routes(routes!(unfinished_imports))
        .routes(routes!(dismiss_line))
        .routes(routes!(act_on_item))
        .routes(routes!(employee_bank_account))
        .routes(routes!(employee_settlements))
        .routes(routes!(studio_bank_account))
        .routes(routes!(settlement_terms))
        .routes(routes!(set_settlement_term))
}

fn parse_id<T>(text: &str, parse: fn(&str) -> Result<T, String>) -> Result<T, AppError> {
    parse(text).map_err(|_| AppError::not_found(format!("no such id: {text}")))
}

/// What needs a person (failed, needs reconciliation), what is on its way with its countdown in
/// business days, what settled lately, the bank files, and the statement lines waiting for
/// manual matching, for the caller's studios.
#[utoipa::path(
    get,
    path = "/api/v1/settlements",
    tag = "settlements",
    responses((status = 200, description = "The settlement overview.", body = SettlementOverview), ReadErrors)
)]
async fn overview(
    State(state): State<ApiState>,
    Auth(caller): Auth,
) -> ApiResult<Json<SettlementOverview>> {
    Ok(Json(state.engine.settlement_overview(&caller).await?))
}

/// Collects the studio's scheduled bank payouts into one pain.001.001.09 file (Swiss Payment
/// Standards) and marks them in transit. Payouts of employees without an IBAN stay scheduled
/// and are listed in `skipped`. Download the file from `download_url`.
#[utoipa::path(
    post,
    path = "/api/v1/bank-files",
    tag = "settlements",
    params(IdempotencyKeyHeader),
    request_body = BankFileRequest,
    responses((status = 201, description = "The bank file written: its batch and transfers.", body = BankFile), WriteErrors)
)]
async fn create_bank_file(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    ApiJson(request): ApiJson<BankFileRequest>,
) -> ApiResult<(StatusCode, Json<BankFile>)> {
    let key = idempotency_key(&headers)?;
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .engine
                .create_bank_file(&caller, &key, &request)
                .await?,
        ),
    ))
}

/// The pain.001 XML of a bank file, byte for byte as written, as a download.
#[utoipa::path(
    get,
    path = "/api/v1/bank-files/{id}/pain.001.xml",
    tag = "settlements",
    params(("id" = Uuid, Path, description = "Bank file (settlement batch) id")),
    responses((status = 200, description = "The pain.001.001.09 document.", content_type = "application/xml", body = String), ReadErrors)
)]
async fn bank_file_document(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id, SettlementBatchId::parse)?;
    let (name, document) = state.engine.bank_file_document(&caller, id).await?;
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).map_err(|error| {
            tracing::error!(%error, "bank file name is not a header value");
            AppError::Internal {
                message: "the bank file's name cannot be sent; it is logged on the server".into(),
            }
        })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        document,
    )
        .into_response())
}

/// Imports a camt.053 statement or camt.054 notification (the XML file as the body) of one of
/// the caller's studios' accounts, found by its IBAN, and matches its lines to bank payouts by
/// end-to-end id and amount. The same file again answers the first result with
/// `duplicate: true`.
#[utoipa::path(
    post,
    path = "/api/v1/bank-statements",
    tag = "settlements",
    request_body(content = String, content_type = "application/xml", description = "camt.053.001.04-08 or camt.054 XML"),
    responses((status = 200, description = "What the import matched, settled, failed and left unmatched.", body = StatementImport), WriteErrors)
)]
async fn import_statement(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<StatementImport>> {
    // Who may import is decided before what was sent (a 415 would tell a stranger the route
    // exists for them).
    caller.require(Permission::ManageSettlements)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !content_type.contains("xml") {
        return Err(AppError::bad_request(
            415,
            "unsupported_media_type",
            "send the statement as the XML file itself with Content-Type: application/xml",
        )
        .into());
    }
    let document = std::str::from_utf8(&body).map_err(|error| {
        AppError::unprocessable(
            "invalid_statement",
            format!("the statement is not UTF-8 text: {error}"),
        )
    })?;
    Ok(Json(
        state
            .engine
            .import_bank_statement(&caller, document)
            .await?,
    ))
}

/// The statement imports of the caller's studios that have not finished: going on now
/// (`lines_done` of `lines_total`, after each step of a few hundred lines) or stopped part-way
/// (`stalled`; posting the same file again continues it). Oldest first, at most 100.
#[utoipa::path(
    get,
    path = "/api/v1/bank-statements/unfinished",
    tag = "settlements",
    responses((status = 200, description = "The unfinished imports with their progress.", body = Vec<StatementImportProgress>), ReadErrors)
)]
async fn unfinished_imports(
    State(state): State<ApiState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<StatementImportProgress>>> {
    Ok(Json(
        state.engine.unfinished_statement_imports(&caller).await?,
    ))
}

/// Takes a statement line off the manual-matching list with a note (rent, bank fees: not a
/// settlement).
#[utoipa::path(
    post,
    path = "/api/v1/bank-statements/lines/{id}/dismiss",
    tag = "settlements",
    params(("id" = Uuid, Path, description = "Statement line id")),
    request_body = DismissLineRequest,
    responses((status = 200, description = "The line, dismissed with the note.", body = StatementLine), WriteErrors)
)]
async fn dismiss_line(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<DismissLineRequest>,
) -> ApiResult<Json<StatementLine>> {
    let id = parse_id(&id, StatementLineId::parse)?;
    Ok(Json(
        state
            .engine
            .dismiss_statement_line(&caller, id, &request)
            .await?,
    ))
}

/// A person's action on a settlement item: `confirm` (by hand, with a note and optionally the
/// statement line), `fail` (record the bank's failure), `resolve_paid`, `reissue`, `write_off`.
/// Failing and resolving need the bank's reference and a note. 409 `stale_version` /
/// `illegal_transition` carry the current item in `error.item`.
#[utoipa::path(
    post,
    path = "/api/v1/settlements/items/{id}/actions",
    tag = "settlements",
    params(("id" = Uuid, Path, description = "Settlement item id"), IdempotencyKeyHeader),
    request_body = SettlementActionRequest,
    responses((status = 200, description = "The item after the action, its version one higher.", body = SettlementItem), WriteErrors)
)]
async fn act_on_item(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<SettlementActionRequest>,
) -> ApiResult<Json<SettlementItem>> {
    let key = idempotency_key(&headers)?;
    let id = parse_id(&id, SettlementItemId::parse)?;
    Ok(Json(
        state
            .engine
            .act_on_settlement_item(&caller, &key, id, &request)
            .await?,
    ))
}

/// Sets the IBAN an employee's bank payouts go to (a QR-IBAN is refused: a payout carries no QR
/// reference).
#[utoipa::path(
    put,
    path = "/api/v1/employees/{id}/bank-account",
    tag = "settlements",
    params(("id" = Uuid, Path, description = "Employee id")),
    request_body = BankAccountRequest,
    responses((status = 204, description = "Saved."), WriteErrors)
)]
async fn employee_bank_account(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<BankAccountRequest>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, EmployeeId::parse)?;
    state
        .engine
        .set_employee_bank_account(&caller, id, &request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the account a studio's bank files pay from, and its holder's name.
#[utoipa::path(
    put,
    path = "/api/v1/studios/{id}/bank-account",
    tag = "settlements",
    params(("id" = Uuid, Path, description = "Studio id")),
    request_body = BankAccountRequest,
    responses((status = 204, description = "Saved."), WriteErrors)
)]
async fn studio_bank_account(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<BankAccountRequest>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, StudioId::parse)?;
    state
        .engine
        .set_studio_bank_account(&caller, id, &request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The bank transfers of an employee's payouts, newest first (at most 50), with their state
/// and expected arrival in business days. Employees see only their own.
#[utoipa::path(
    get,
    path = "/api/v1/employees/{id}/settlements",
    tag = "settlements",
    params(("id" = Uuid, Path, description = "Employee id")),
    responses((status = 200, description = "The employee's payout transfers.", body = Vec<SettlementItem>), ReadErrors)
)]
async fn employee_settlements(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<SettlementItem>>> {
    let id = parse_id(&id, EmployeeId::parse)?;
    Ok(Json(state.engine.payout_settlements(&caller, id).await?))
}

/// The settlement terms: `T+N` business days per method (`bank_payout`, `card`) or provider.
#[utoipa::path(
    get,
    path = "/api/v1/settlement-terms",
    tag = "settlements",
    responses((status = 200, description = "Every term, by key.", body = Vec<SettlementTerm>), ReadErrors)
)]
async fn settlement_terms(
    State(state): State<ApiState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<SettlementTerm>>> {
    Ok(Json(state.engine.settlement_terms(&caller).await?))
}

/// Sets the term of a method (`bank_payout`, `card`) or a provider (by the name its payment
/// events carry, which wins over `card`). Applies to what is scheduled from now on.
#[utoipa::path(
    put,
    path = "/api/v1/settlement-terms/{key}",
    tag = "settlements",
    params(("key" = String, Path, description = "bank_payout, card, or a provider's name")),
    request_body = SettlementTermRequest,
    responses((status = 200, description = "The term as saved.", body = SettlementTerm), WriteErrors)
)]
async fn set_settlement_term(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(key): Path<String>,
    ApiJson(request): ApiJson<SettlementTermRequest>,
) -> ApiResult<Json<SettlementTerm>> {
    Ok(Json(
        state
            .engine
            .set_settlement_term(&caller, &key, &request)
            .await?,
    ))
}
