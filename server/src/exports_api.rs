//! The CSV exports of the JSON API (issue 10): `GET /api/v1/exports/{dataset}.csv?from=&to=`
//! streams the payouts, payout lines, ledger postings or Z reports of a period as a download
//! (`docs/exports.md` describes every column). Same conventions as [`crate::api`] until the first
//! byte: errors are JSON with a status. Once the CSV streams, a failure can no longer change the
//! status: the engine logs it and the body ends with an error (the connection is cut before the
//! end of the chunked body), so the client sees a failed download, never a short file that looks
//! complete.

use crate::api::{ApiResult, ApiState, Auth};
use crate::openapi::ReadErrors;
use app::domain::{AppError, Permission, StudioId};
use app::engine::exports::{Export, ExportDataset, ExportPeriod, ExportRequest};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, Required, Type};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The header carrying the number of data rows of an export (for a progress bar).
pub const EXPORT_ROWS_HEADER: &str = "x-export-rows";

/// The export routes, documented (merged into [`crate::api::router`]).
pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(export_csv))
}

/// Query of an export.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// First business day of the period (YYYY-MM-DD, Europe/Zurich), inclusive; required.
    #[param(value_type = chrono::NaiveDate, required = true)]
    from: Option<String>,
    /// Last business day of the period (YYYY-MM-DD), inclusive; required. At most 366 days
    /// after `from`, counting both.
    #[param(value_type = chrono::NaiveDate, required = true)]
    to: Option<String>,
    /// Only this studio (UUID, one of the caller's); default every studio of the caller.
    #[param(value_type = Option<Uuid>)]
    studio_id: Option<String>,
}

/// The path parameter `{file}`: the dataset's file name, one of the datasets with `.csv`.
struct ExportFileParam;

impl IntoParams for ExportFileParam {
    fn into_params(_parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let names: Vec<String> = ExportDataset::ALL
            .iter()
            .map(|dataset| format!("{dataset}.csv"))
            .collect();
        vec![ParameterBuilder::new()
            .name("file")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some(
                "The dataset as a file name: `payouts.csv` (committed payouts), \
                 `payout-lines.csv` (their lines), `ledger-transfers.csv` (one row per ledger \
                 posting) or `z-reports.csv` (closed tills). Anything else is 404.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(names)),
            ))
            .build()]
    }
}

/// A date query parameter. Errors (422 naming `field`): missing, or not `YYYY-MM-DD`.
fn date_param(field: &str, raw: Option<&str>) -> ApiResult<NaiveDate> {
    let text = raw
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .ok_or_else(|| AppError::validation(field, format!("{field} is required (YYYY-MM-DD)")))?;
    Ok(app::domain::parse_iso_date(field, text)?)
}

/// Downloads the payouts, payout lines, ledger postings or Z reports of a period as CSV
/// (UTF-8, comma-separated, a header row, amounts in CHF with two decimals, dates YYYY-MM-DD,
/// timestamps RFC 3339 UTC; every column is described in docs/exports.md). Owners only (API key
/// scope `exports:read`). The body is streamed; `X-Export-Rows` announces its number of data
/// rows. A failure after the first byte cuts the body short with an error (a failed download),
/// never a shorter file that looks complete.
#[utoipa::path(
    get,
    path = "/api/v1/exports/{file}",
    tag = "exports",
    params(ExportFileParam, ExportQuery),
    responses(
        (status = 200, description = "The CSV file, streamed, as a download.", content_type = "text/csv", body = String,
            headers(
                ("X-Export-Rows" = u64, description = "Data rows in the file (the header row not counted)."),
                ("Content-Disposition" = String, description = "attachment; filename=\"<dataset>-<from>-<to>.csv\"")
            )
        ),
        ReadErrors
    )
)]
async fn export_csv(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Path(file): Path<String>,
    Query(query): Query<ExportQuery>,
) -> ApiResult<Response> {
    // Who may export is decided before what was asked for (a 404 or 422 would tell a
    // receptionist which exports exist).
    caller.require(Permission::ExportBooks)?;
    let dataset = match file.strip_suffix(".csv").map(ExportDataset::parse) {
        Some(Ok(dataset)) => dataset,
        // The refusal names the files, not the datasets the command line takes.
        Some(Err(_)) | None => {
            let files: Vec<String> = ExportDataset::ALL
                .iter()
                .map(|dataset| format!("{dataset}.csv"))
                .collect();
            return Err(AppError::not_found(format!(
                "there is no export '{file}'; the exports are {}",
                files.join(", ")
            ))
            .into());
        }
    };
    let from = date_param("from", query.from.as_deref())?;
    let to = date_param("to", query.to.as_deref())?;
    let studio = match query.studio_id.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => {
            Some(StudioId::parse(text).map_err(|m| AppError::validation("studio_id", m))?)
        }
        Some(_) | None => None,
    };
    let request = ExportRequest {
        dataset,
        period: ExportPeriod::new(from, to)?,
        studio,
    };
    let export = state.engine.export(&caller, &request).await?;
    Ok(csv_response(export)?.into_response())
}

/// The streamed download of a started export.
fn csv_response(export: Export) -> Result<Response, AppError> {
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        export.request().file_name()
    ))
    .map_err(|error| {
        tracing::error!(%error, "an export's file name is not a header value");
        AppError::Internal {
            message: "the export's file name cannot be sent; it is logged on the server".into(),
        }
    })?;
    let rows = HeaderValue::from(export.rows());
    let body = Body::from_stream(futures::stream::unfold(export, |mut export| async move {
        let item = match export.next_chunk().await? {
            Ok(chunk) => Ok(Bytes::from(chunk.csv)),
            // Already logged by the engine; the error ends the body without its last chunk.
            Err(error) => Err(std::io::Error::other(error.to_string())),
        };
        Some((item, export))
    }));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (HeaderName::from_static(EXPORT_ROWS_HEADER), rows),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}
