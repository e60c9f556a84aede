//! The live feed (issue 8): the wire shapes of `GET /api/v1/events/stream`, a server-sent event
//! stream (the HTML Living Standard's `text/event-stream`), shared by the server and the Live
//! page.
//!
//! A stream carries, in this order:
//! 1. one `ready` event ([`FeedReady`]): where the stream starts;
//! 2. when resuming (`Last-Event-ID` header or `since` query), the caller's events after that id
//!    still in the event log, in id order (nothing is dropped from this replay);
//! 3. live events as they are committed. Each domain event is an unnamed SSE event (`message`)
//!    with `id:` the event-log id and `data:` a [`LiveEvent`]. A client that reads slower than
//!    events arrive loses the oldest ones in its bounded server-side buffer; the next thing it
//!    reads is then a `dropped` event ([`FeedDropped`]) with the exact number lost;
//! 4. comment lines (`: heartbeat`) while nothing happens, so proxies keep the connection open
//!    and a client notices a dead one;
//! 5. a `failed` event ([`FAILED_EVENT`]) if the stream cannot go on; the stream then ends.
//!
//! Ids are the event log's ids: monotonic, and ordered as the changes were committed.

use super::ids::StudioId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The SSE event name of [`FeedReady`].
pub const READY_EVENT: &str = "ready";
/// The SSE event name of [`FeedDropped`].
pub const DROPPED_EVENT: &str = "dropped";
/// The SSE event name of a stream's last event when the server cannot go on (the event log
/// cannot be read); its data is an error body (`{"error": {"code", "message"}}`). The client
/// reconnects with `Last-Event-ID` and loses nothing.
pub const FAILED_EVENT: &str = "failed";
/// How many rows the Live page keeps (its client-side buffer); older rows leave the table.
pub const LIVE_PAGE_ROWS: usize = 200;

/// One domain event from the event log, as the feed sends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LiveEvent {
    /// The event log id (also the SSE `id:`); strictly increasing within a stream.
    pub id: i64,
    /// The event type, as webhooks name it (`payout.committed`, `payment.captured`,
    /// `audit.finding`, ...; see `GET /api/v1/webhooks/event-types`).
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the change was committed (UTC).
    pub occurred_at: DateTime<Utc>,
    /// The studio it concerns; `None` for business-wide events (audits, webhook endpoints).
    pub studio_id: Option<StudioId>,
    /// The entity it concerns (payout, payment, till session, ... id), when there is one.
    pub entity_id: Option<uuid::Uuid>,
    /// The event's payload: the same `data` as the webhook message of this event.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub data: serde_json::Value,
}

/// The first event of every stream (`event: ready`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FeedReady {
    /// The id of the newest event in the log when the stream started: live events have greater
    /// ids.
    pub head: i64,
    /// The id the stream resumes after (`Last-Event-ID` or `since`); `None` for a stream that
    /// starts live.
    pub resumed_from: Option<i64>,
    /// How many events the server buffers for this stream before it drops the oldest.
    pub buffer: usize,
}

/// Sent (`event: dropped`) when the server dropped events this stream could not take in time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FeedDropped {
    /// How many events were dropped just now: those after `after_id` and before the next event
    /// this stream receives. They stay in the event log: a reconnect with `Last-Event-ID:
    /// after_id` replays them.
    pub dropped: u64,
    /// Every event dropped on this stream so far.
    pub total_dropped: u64,
    /// The id of the last event sent before the gap (0 when none was sent yet).
    pub after_id: i64,
}

/// The Live page's connection to the feed, as it shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedConnection {
    /// Opening the first connection.
    Connecting,
    /// Connected; the stream started live.
    Live,
    /// Connected again after a break; the server replayed everything after this id.
    Resumed {
        /// The last event id the page had before the break.
        from: i64,
    },
    /// The connection broke; the browser is reconnecting (with `Last-Event-ID`).
    Reconnecting,
    /// The server refused or closed the stream for good (e.g. signed out); no more retries.
    Closed,
}
