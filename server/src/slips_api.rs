//! Payout slips in the JSON API (issue 10): `GET /api/v1/payouts/{id}/slip.pdf` sends the slip of
//! a committed payout as a PDF download. Same conventions as [`crate::api`]: a session cookie or
//! an API key, and every refusal is a JSON error with its status. The slip carries pay data, so
//! the answer is never stored by a cache.

use crate::api::{ApiResult, ApiState, Auth, ErrorBody};
use crate::openapi::ReadErrors;
use app::domain::{AppError, Language, PayoutId};
use app::engine::auth::request_language;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The slip routes, documented (merged into [`crate::api::router`]).
pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(payout_slip))
}

/// `?language=de`: the slip's language, when it should not be the request's.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SlipQuery {
    /// `de`, `fr` or `en`. Without it: the signed-in person's language (as the pages), else the
    /// browser's language cookie, else the best of `Accept-Language`, else English.
    language: Option<String>,
}

/// The schema of a PDF answer: the document's bytes.
struct PdfDocument;

impl utoipa::PartialSchema for PdfDocument {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/pdf")
            .description(Some("The PDF document (binary)."))
            .into()
    }
}

impl utoipa::ToSchema for PdfDocument {}

/// The payout slip of a committed payout as a PDF (A4, one or more pages): studio, employee,
/// period, the dates of the records, when it was committed, how it was paid (cash, or a bank
/// transfer to the masked IBAN with the transfer's end-to-end reference), every line with its
/// commission formula, tips, top-ups, deductions and the total in CHF. Owners download the slips
/// of their business, an employee their own; receptionists and their API keys do not (403).
/// Worded in German, French or English (`?language=`, else the reader's language), with amounts,
/// rates and dates as that language writes them in Switzerland (`CHF 18'080.00`,
/// `18'080,00 CHF`).
#[utoipa::path(
    get,
    path = "/api/v1/payouts/{id}/slip.pdf",
    tag = "payouts",
    params(("id" = Uuid, Path, description = "Payout id"), SlipQuery),
    responses(
        (status = 200, description = "The slip, as an attachment named \
            `slip-<employee>-<period start>-to-<period end>.pdf`.",
            content_type = "application/pdf", body = inline(PdfDocument)),
        (status = 409, description = "The payout has no slip: it is pending or failed (\"the \
            payout is not committed yet; finish it first\") or cancelled (`payout_not_committed`).",
            body = ErrorBody),
        ReadErrors
    )
)]
async fn payout_slip(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(query): Query<SlipQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = PayoutId::parse(&id).map_err(|message| AppError::validation("payout_id", message))?;
    let language = match query.language.as_deref() {
        Some(code) => Language::from_code(code).ok_or_else(|| {
            AppError::validation(
                "language",
                format!("'{code}' is not a language of the slips; use de, fr or en"),
            )
        })?,
        None => request_language(&headers),
    };
    let slip = state.engine.payout_slip(&caller, id, language).await?;
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        slip.file_name
    ))
    .map_err(|error| {
        tracing::error!(%error, "the slip's file name is not a header value");
        AppError::Internal {
            message: "the slip's file name cannot be sent; it is logged on the server".into(),
        }
    })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        slip.bytes,
    )
        .into_response())
}
