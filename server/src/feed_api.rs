//! The live feed's endpoint (issue 8): `GET /api/v1/events/stream`, server-sent events. The
//! stream's shape is in [`app::domain::feed`]; buffering, dropping and resuming in
//! [`app::engine::feed`].

use crate::api::{ApiError, ApiResult, ApiState, Auth};
use crate::openapi::ReadErrors;
use app::domain::feed::{DROPPED_EVENT, FAILED_EVENT, READY_EVENT};
use app::domain::*;
use app::engine::feed::{FeedItem, FeedRequest, FeedStream};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt as _};
use serde::Deserialize;
use std::convert::Infallible;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How long a browser waits before it reconnects a stream that ended (the SSE `retry:`).
const RECONNECT_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// The live feed route, documented (merged into [`crate::api::router`]).
pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(event_stream))
}

/// The stream's query parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Comma-separated event types or prefixes, e.g. `payout.*,payment.captured`; absent = every
    /// type.
    types: Option<String>,
    /// Only this studio's events.
    studio_id: Option<String>,
    /// Resume after this event id, as the `Last-Event-ID` header does (which wins when both are
    /// given); for clients that cannot set headers on their first request.
    since: Option<i64>,
}

/// Domain events as server-sent events (`text/event-stream`): first a `ready` event
/// (`FeedReady`, with `id:` set to its `head`, so a browser that reconnects before the first
/// event still resumes from there), then unnamed events with `id:` the event log id and data a
/// `LiveEvent`, `dropped` events (`FeedDropped`) when this client read too slowly and the oldest
/// events of its buffer were dropped, and `: heartbeat` comments while idle. With
/// `Last-Event-ID` (or `since`), the caller's events after that id are replayed from the event
/// log first. Owners see their business's events, receptionists their studio's.
#[utoipa::path(
    get,
    path = "/api/v1/events/stream",
    tag = "events",
    params(StreamQuery, ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id (browsers send it when they reconnect).")),
    responses((status = 200, description = "An endless `text/event-stream`.", content_type = "text/event-stream", body = String), ReadErrors)
)]
async fn event_stream(
    State(state): State<ApiState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let resume_after = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    AppError::validation("Last-Event-ID", "expected an event id (a whole number)")
                })?,
        ),
        None => query.since,
    };
    let studio_id = match query.studio_id.as_deref().map(str::trim) {
        Some("") | None => None,
        Some(raw) => Some(StudioId::parse(raw).map_err(|m| AppError::validation("studio_id", m))?),
    };
    let types = query
        .types
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_string)
        .collect();
    let request = FeedRequest {
        types,
        studio_id,
        resume_after,
    };
    let stream = state.engine.open_live_feed(&caller, &request).await?;
    // `retry`: a stream that ends (maximum age, shutdown) is resumed after a second.
    let ready = sse_json(READY_EVENT, &stream.ready)?
        .id(stream.ready.head.to_string())
        .retry(RECONNECT_AFTER);
    let heartbeat = state.engine.settings().live_feed.heartbeat;
    let items = futures::stream::unfold(Some(stream), |stream| async move {
        let mut stream: FeedStream = stream?;
        match stream.next().await? {
            Ok(FeedItem::Event(event)) => Some((
                Event::default().id(event.id.to_string()).data(&event.json),
                Some(stream),
            )),
            Ok(FeedItem::Dropped(dropped)) => match sse_json(DROPPED_EVENT, &dropped) {
                Ok(marker) => Some((marker, Some(stream))),
                Err(error) => Some((failed(&error.0), None)),
            },
            Err(error) => {
                tracing::error!(%error, "live feed stream ended: the event log cannot be read");
                Some((failed(&error), None))
            }
        }
    });
    let all = futures::stream::iter([ready])
        .chain(items)
        .map(Ok::<Event, Infallible>);
    Ok(Sse::new(all).keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat")))
}

/// A named event with `value` as JSON data.
fn sse_json<T: serde::Serialize>(name: &str, value: &T) -> Result<Event, ApiError> {
    Event::default()
        .event(name)
        .json_data(value)
        .map_err(|error| {
            tracing::error!(%error, name, "cannot encode a live feed event");
            ApiError(AppError::Internal {
                message: "cannot encode a live feed event; it is logged on the server".to_string(),
            })
        })
}

/// The last event of a stream that cannot go on.
fn failed(error: &AppError) -> Event {
    let body =
        serde_json::json!({ "error": { "code": error.code(), "message": error.to_string() } });
    // Same shape as the JSON API's error answers (`crate::api::ErrorBody`).
    Event::default().event(FAILED_EVENT).data(body.to_string())
}
