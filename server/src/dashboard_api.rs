//! The owner dashboard in the JSON API (issue 10): revenue, commission, tips and payouts of a
//! period per employee and per week or month, with the counts of what needs the owner. The same
//! figures as the `/dashboard` page, from the same engine call. Same conventions as
//! [`crate::api`]; it only reads.

use crate::api::{ApiResult, ApiState, Auth};
use crate::openapi::ReadErrors;
use app::domain::*;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The dashboard route, documented (merged into [`crate::api::router`]).
pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(dashboard))
}

/// Query of the dashboard. Every parameter is optional; an empty one counts as absent.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DashboardQuery {
    /// First business day (YYYY-MM-DD, Europe/Zurich), inclusive. Default: the 1st of the
    /// month before the one `to` falls in.
    #[param(value_type = Option<chrono::NaiveDate>)]
    from: Option<String>,
    /// Last business day (YYYY-MM-DD, Europe/Zurich), inclusive; at most 366 days after
    /// `from`. Default: the latest day with a registered service in the selection, else today.
    #[param(value_type = Option<chrono::NaiveDate>)]
    to: Option<String>,
    /// One studio (UUID); default every studio the caller may see.
    #[param(value_type = Option<Uuid>)]
    studio_id: Option<String>,
    /// `week` (ISO weeks, the default) or `month`: how the periods are cut.
    #[param(value_type = Option<Granularity>)]
    granularity: Option<String>,
}

/// Revenue (service prices), commission, tips and committed payouts of a period, per employee
/// and per week or month, with their totals (Rappen), and the failed and interrupted payouts and
/// open audit findings. Refunded services and uncommitted payouts count for nothing. Owners only
/// (API keys: `ledger:read`).
///
/// Example: `GET /api/v1/dashboard?from=2026-09-01&to=2026-10-31&granularity=month`.
#[utoipa::path(
    get,
    path = "/api/v1/dashboard",
    tag = "dashboard",
    params(DashboardQuery),
    responses((status = 200, description = "The dashboard of the period and studios.", body = Dashboard), ReadErrors)
)]
async fn dashboard(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    Query(query): Query<DashboardQuery>,
) -> ApiResult<Json<Dashboard>> {
    // Who may ask is decided before what was asked (a 422 would tell a receptionist the
    // parameters were wrong when the answer is that the dashboard is not theirs).
    caller.require(Permission::ReadDashboard)?;
    let request = DashboardRequest::parse(
        query.from.as_deref(),
        query.to.as_deref(),
        query.studio_id.as_deref(),
        query.granularity.as_deref(),
    )?;
    Ok(Json(state.engine.dashboard(&caller, &request).await?))
}
