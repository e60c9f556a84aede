//! The live feed (issue 8): every committed domain event, as it happens, to the people watching,
//! with honest backpressure.
//!
//! One tailer task per process reads the event log (the same durable, ordered log that is the
//! webhooks' outbox) after the last id it published, a page at a time, every
//! [`LiveFeedSettings::poll_interval`]. Polling the log rather than an in-process signal is what
//! makes every instance see every event when several servers share a PostgreSQL database; ids
//! are committed in order because every write transaction holds the write lock
//! ([`Engine::begin_write`]), so "after the last id" never skips a late commit.
//!
//! Each stream has its own bounded buffer: a `tokio::sync::broadcast` channel of
//! [`LiveFeedSettings::buffer`] events with one receiver. The tailer never waits for a stream:
//! when a stream's buffer is full, sending overwrites its oldest event, and the stream's next
//! read reports `Lagged(n)`, the exact number it lost. The stream turns that into a `dropped`
//! marker. Events are encoded once and shared (`Arc`) by every buffer that holds them, so the
//! memory of the feed is at most streams x buffer events, however fast events come.
//!
//! A stream only receives what its caller may see (an owner: their business; a receptionist:
//! their studio), filtered by type and studio before it is buffered, so the dropped count is in
//! the caller's own events. The tailer runs while someone watches and stops with the last stream.

use super::access::{Caller, StudioScope};
use super::db;
use super::events::{self, LogEvent};
use super::{db_error, Engine};
use crate::domain::feed::{FeedDropped, FeedReady, LiveEvent};
use crate::domain::webhook::{filter_matches, validate_event_filter, webhook_event_type};
use crate::domain::*;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::broadcast;

/// Tunables of the live feed.
#[derive(Clone, Debug)]
pub struct LiveFeedSettings {
    /// Events buffered per stream; a stream that falls further behind loses its oldest events
    /// (and is told how many).
    pub buffer: usize,
    /// How often an idle stream gets a heartbeat comment (proxies close silent connections;
    /// clients notice a dead one).
    pub heartbeat: Duration,
    /// How often the tailer reads the event log for new events: the feed's latency.
    pub poll_interval: Duration,
    /// Streams this process serves at once; more are refused with 503.
    pub max_streams: usize,
    /// How long one stream lasts before the server ends it. The browser reconnects at once with
    /// `Last-Event-ID` (nothing is lost) and is authenticated again, so a stream never outlives
    /// a sign-out, an expired session or a revoked API key by more than this.
    pub max_stream_age: Duration,
}

impl Default for LiveFeedSettings {
    fn default() -> Self {
        LiveFeedSettings {
            buffer: 1024,
            heartbeat: Duration::from_secs(15),
            poll_interval: Duration::from_millis(100),
            max_streams: 256,
            max_stream_age: Duration::from_secs(600),
        }
    }
}

/// Events the tailer and a resuming stream read from the log per query.
const PAGE: i64 = 1000;

/// How long the tailer waits after a failed read of the log before it tries again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// What a caller asks the feed for.
#[derive(Clone, Debug, Default)]
pub struct FeedRequest {
    /// Event types or prefixes (`payout.*`), as webhook filters; empty = every type.
    pub types: Vec<String>,
    /// Only this studio's events (which must be one the caller may see).
    pub studio_id: Option<StudioId>,
    /// Resume after this event id (the SSE `Last-Event-ID`): the caller's events after it are
    /// replayed from the log before the live ones.
    pub resume_after: Option<i64>,
}

/// One domain event, encoded once, shared by every stream buffer holding it.
#[derive(Debug)]
pub struct FeedEvent {
    /// The event log id.
    pub id: i64,
    /// The [`LiveEvent`] as JSON: the SSE `data`.
    pub json: String,
    event_type: &'static str,
    studio: Option<StudioId>,
    business: Option<BusinessId>,
    held: Arc<HeldBytes>,
}

impl Drop for FeedEvent {
    fn drop(&mut self) {
        self.held.now.fetch_sub(self.json.len(), Ordering::Relaxed);
    }
}

/// The bytes of encoded events alive in this process (in stream buffers, pages being
/// published, replays), and the most there ever were: the feed's memory, which must stay
/// bounded however fast events come.
#[derive(Debug, Default)]
struct HeldBytes {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl HeldBytes {
    fn add(&self, bytes: usize) {
        let now = self.now.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }
}

/// What a stream yields.
#[derive(Debug)]
pub enum FeedItem {
    /// A domain event.
    Event(Arc<FeedEvent>),
    /// Events were dropped because the stream read too slowly.
    Dropped(FeedDropped),
}

/// Whose events a stream may receive.
#[derive(Clone, Debug)]
enum Audience {
    /// The operator.
    Everything,
    /// An owner: their business, including business-wide events (audits, webhook endpoints).
    Business(BusinessId),
    /// A receptionist: their studios' events.
    Studios(Arc<[StudioId]>),
}

impl Audience {
    fn of(caller: &Caller) -> Audience {
        if caller.role == Role::Owner {
            return match caller.business_id {
                Some(business) => Audience::Business(business),
                None => Audience::Everything,
            };
        }
        match &caller.studios {
            StudioScope::All => Audience::Everything,
            StudioScope::Only(studios) => Audience::Studios(Arc::clone(studios)),
        }
    }

    fn sees(&self, business: Option<BusinessId>, studio: Option<StudioId>) -> bool {
        match self {
            Audience::Everything => true,
            Audience::Business(own) => business == Some(*own),
            Audience::Studios(studios) => studio.is_some_and(|studio| studios.contains(&studio)),
        }
    }
}

/// A stream's audience and filter.
#[derive(Clone, Debug)]
struct Interest {
    audience: Audience,
    types: Vec<String>,
    studio: Option<StudioId>,
    /// Whether the caller may read settlements: `settlement.*` events (bank transfers,
    /// returns and what the bank said) are for them only, not for every receptionist.
    settlements: bool,
}

impl Interest {
    fn wants(&self, event: &FeedEvent) -> bool {
        self.audience.sees(event.business, event.studio)
            && (self.settlements || !event.event_type.starts_with("settlement."))
            && filter_matches(&self.types, event.event_type)
            && self
                .studio
                .is_none_or(|studio| event.studio == Some(studio))
    }
}

struct Subscriber {
    interest: Interest,
    buffer: broadcast::Sender<Arc<FeedEvent>>,
}

#[derive(Default)]
struct FeedState {
    /// The last event id the tailer published; `None` while nobody watches.
    head: Option<i64>,
    subscribers: Vec<Subscriber>,
    tailing: bool,
    closed: bool,
}

/// The process's live feed: the streams and the tailer's position.
#[derive(Default)]
pub(crate) struct LiveFeed {
    state: Mutex<FeedState>,
    held: Arc<HeldBytes>,
}

impl LiveFeed {
    fn state(&self) -> MutexGuard<'_, FeedState> {
        // Every critical section leaves the state whole (pushes, retains, assignments), so a
        // panic elsewhere while it was held leaves nothing half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The feed's state, for monitoring and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveFeedStats {
    /// Open streams.
    pub streams: usize,
    /// Events waiting in each stream's buffer (each at most [`LiveFeedSettings::buffer`]).
    pub buffered: Vec<usize>,
    /// The last event id published; `None` while nobody watches.
    pub head: Option<i64>,
    /// Bytes of encoded events held now (buffered, being published or replayed).
    pub held_bytes: usize,
    /// The most bytes of encoded events ever held at once since the engine started.
    pub peak_held_bytes: usize,
}

/// One caller's stream: the replay from the log (when resuming), then the live events.
pub struct FeedStream {
    engine: Engine,
    /// What the stream starts with (the SSE `ready` event).
    pub ready: FeedReady,
    interest: Interest,
    /// The last event id sent, skipped or replayed past.
    position: i64,
    /// Replay reads the log up to here (the tailer's head when the stream opened); live events
    /// come after it.
    replay_until: i64,
    replayed: VecDeque<Arc<FeedEvent>>,
    known_studios: HashMap<StudioId, BusinessId>,
    live: broadcast::Receiver<Arc<FeedEvent>>,
    /// The event received right after a gap, held back while the gap's marker is sent.
    after_gap: Option<Arc<FeedEvent>>,
    total_dropped: u64,
    /// When the stream ends (see [`LiveFeedSettings::max_stream_age`]).
    ends_at: tokio::time::Instant,
}

impl FeedStream {
    /// The next event or dropped marker; `None` when the stream is over: the feed closed (the
    /// server is shutting down) or the stream reached its maximum age.
    ///
    /// Errors: the log cannot be read while replaying (503/500); the stream should end, and
    /// the client resumes from its last id.
    pub async fn next(&mut self) -> Option<Result<FeedItem, AppError>> {
        if let Some(event) = self.after_gap.take() {
            self.position = event.id;
            return Some(Ok(FeedItem::Event(event)));
        }
        // Events lost since the last read; several `Lagged` in a row (the tailer kept
        // overwriting while this stream caught up) make one gap and one marker.
        let mut dropped = 0_u64;
        loop {
            if let Some(event) = self.replayed.pop_front() {
                return Some(Ok(FeedItem::Event(event)));
            }
            if self.position < self.replay_until {
                if let Err(error) = self.replay_page().await {
                    return Some(Err(error));
                }
                continue;
            }
            let Ok(received) = tokio::time::timeout_at(self.ends_at, self.live.recv()).await else {
                tracing::debug!(
                    position = self.position,
                    "live feed stream reached its maximum age"
                );
                return None;
            };
            match received {
                Ok(event) if event.id <= self.position => continue,
                Ok(event) if dropped > 0 => {
                    // The marker first, then this event: a marker is always followed by the
                    // event that ends its gap.
                    self.total_dropped += dropped;
                    let marker = FeedDropped {
                        dropped,
                        total_dropped: self.total_dropped,
                        after_id: self.position,
                    };
                    self.after_gap = Some(event);
                    return Some(Ok(FeedItem::Dropped(marker)));
                }
                Ok(event) => {
                    self.position = event.id;
                    return Some(Ok(FeedItem::Event(event)));
                }
                Err(broadcast::error::RecvError::Lagged(lost)) => dropped += lost,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Reads the next page of the replay and keeps the caller's events of it.
    async fn replay_page(&mut self) -> Result<(), AppError> {
        let page = self
            .engine
            .read_log_page(
                self.position,
                Some(self.replay_until),
                &mut self.known_studios,
            )
            .await?;
        let Some(last) = page.last_id else {
            self.position = self.replay_until;
            return Ok(());
        };
        let interest = &self.interest;
        self.replayed.extend(
            page.events
                .into_iter()
                .filter(|event| interest.wants(event)),
        );
        self.position = last;
        Ok(())
    }
}

/// A page of the event log, resolved to businesses and encoded.
struct LogPage {
    /// The page's published events, in id order.
    events: Vec<Arc<FeedEvent>>,
    /// The last id read, published or not; `None` when nothing came after.
    last_id: Option<i64>,
    /// Whether the page was full (more may be waiting).
    full: bool,
}

/// The feed's form of a log entry; `None` for entries that are not published (internal kinds,
/// webhook test events).
fn encode(
    event: &LogEvent,
    business: Option<BusinessId>,
    held: &Arc<HeldBytes>,
) -> Result<Option<FeedEvent>, AppError> {
    let Some(event_type) = webhook_event_type(&event.kind) else {
        return Ok(None);
    };
    let data: serde_json::Value = serde_json::from_str(&event.payload).map_err(|error| {
        tracing::error!(%error, id = event.id, "unreadable event payload in the log");
        AppError::Internal {
            message: format!(
                "event {} in the log is unreadable; it is logged on the server",
                event.id
            ),
        }
    })?;
    let live = LiveEvent {
        id: event.id,
        event_type: event_type.to_string(),
        occurred_at: event.occurred_at,
        studio_id: event.studio_id,
        entity_id: event.entity_id,
        data,
    };
    let json = serde_json::to_string(&live).map_err(|error| {
        tracing::error!(%error, id = event.id, "cannot encode a live event");
        AppError::Internal {
            message: "cannot encode a live event; it is logged on the server".to_string(),
        }
    })?;
    held.add(json.len());
    Ok(Some(FeedEvent {
        id: event.id,
        json,
        event_type,
        studio: event.studio_id,
        business,
        held: Arc::clone(held),
    }))
}

impl Engine {
    /// Opens a live feed stream for `caller`: the events they may see (an owner: their
    /// business's; a receptionist: their studio's), filtered by `request`, starting live or,
    /// with `resume_after`, with every such event after that id still in the log.
    ///
    /// Errors: 403 without [`Permission::ReadLiveFeed`] or for a studio that is not the
    /// caller's; 400 for an unknown event type or a negative id; 503 when the server is
    /// shutting down or already serves [`LiveFeedSettings::max_streams`] streams; 503/500 when
    /// the log cannot be read.
    pub async fn open_live_feed(
        &self,
        caller: &Caller,
        request: &FeedRequest,
    ) -> Result<FeedStream, AppError> {
        caller.require(Permission::ReadLiveFeed)?;
        let types = validate_event_filter(&request.types)
            .map_err(|problem| AppError::invalid("types", problem))?;
        if let Some(studio) = request.studio_id {
            caller.require_studio(Permission::ReadLiveFeed, studio)?;
        }
        if let Some(id) = request.resume_after.filter(|id| *id < 0) {
            return Err(AppError::validation(
                "Last-Event-ID",
                format!("{id} is not an event id (ids start at 1)"),
            ));
        }
        let interest = Interest {
            audience: Audience::of(caller),
            types,
            studio: request.studio_id,
            settlements: caller.may(Permission::ReadSettlements),
        };
        let settings = &self.settings().live_feed;
        let newest: i64 = db::query_scalar("SELECT COALESCE(MAX(id), 0) FROM events")
            .fetch_one(self.pool())
            .await
            .map_err(db_error("reading the newest event id"))?;
        let (head, live, start_tailer) = {
            let mut state = self.live_feed.state();
            if state.closed {
                return Err(AppError::Unavailable {
                    message: "the server is shutting down; reconnect in a moment".to_string(),
                });
            }
            if state.subscribers.len() >= settings.max_streams {
                tracing::warn!(
                    streams = state.subscribers.len(),
                    "live feed stream refused: too many open streams"
                );
                return Err(AppError::Unavailable {
                    message: format!(
                        "this server already serves {} live streams; try again later",
                        state.subscribers.len()
                    ),
                });
            }
            let head = *state.head.get_or_insert(newest);
            let (buffer, live) = broadcast::channel(settings.buffer.max(1));
            state.subscribers.push(Subscriber {
                interest: interest.clone(),
                buffer,
            });
            let start_tailer = !state.tailing;
            state.tailing = true;
            (head, live, start_tailer)
        };
        if start_tailer {
            tokio::spawn(tail_event_log(self.clone()));
        }
        let position = request.resume_after.unwrap_or(head);
        tracing::info!(actor = %caller.actor(), head, resumed_from = ?request.resume_after, "live feed stream opened");
        Ok(FeedStream {
            engine: self.clone(),
            ready: FeedReady {
                head,
                resumed_from: request.resume_after,
                buffer: settings.buffer.max(1),
            },
            interest,
            position,
            replay_until: head,
            replayed: VecDeque::new(),
            known_studios: HashMap::new(),
            live,
            after_gap: None,
            total_dropped: 0,
            ends_at: tokio::time::Instant::now() + settings.max_stream_age,
        })
    }

    /// The live feed's streams and buffers, for monitoring and tests.
    pub fn live_feed_stats(&self) -> LiveFeedStats {
        let state = self.live_feed.state();
        LiveFeedStats {
            streams: state.subscribers.len(),
            buffered: state
                .subscribers
                .iter()
                .map(|subscriber| subscriber.buffer.len())
                .collect(),
            head: state.head,
            held_bytes: self.live_feed.held.now.load(Ordering::Relaxed),
            peak_held_bytes: self.live_feed.held.peak.load(Ordering::Relaxed),
        }
    }

    /// Ends every live stream (after the events already in its buffer) and refuses new ones:
    /// the server's graceful shutdown waits for open responses, and a stream never ends by
    /// itself.
    pub fn close_live_feed(&self) {
        let mut state = self.live_feed.state();
        state.closed = true;
        state.subscribers.clear();
    }

    /// At most [`PAGE`] events of the log with ids in `(after, up_to]`, encoded for the feed.
    async fn read_log_page(
        &self,
        after: i64,
        up_to: Option<i64>,
        known_studios: &mut HashMap<StudioId, BusinessId>,
    ) -> Result<LogPage, AppError> {
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(db_error("opening a connection to read the event log"))?;
        let page = events::read_after(&mut conn, after, up_to, PAGE).await?;
        let Some(last) = page.last().map(|event| event.id) else {
            return Ok(LogPage {
                events: Vec::new(),
                last_id: None,
                full: false,
            });
        };
        let businesses = events::businesses_of(&mut conn, &page, known_studios).await?;
        drop(conn);
        let mut encoded = Vec::with_capacity(page.len());
        for (event, business) in page.iter().zip(businesses) {
            if let Some(event) = encode(event, business, &self.live_feed.held)? {
                encoded.push(Arc::new(event));
            }
        }
        Ok(LogPage {
            events: encoded,
            last_id: Some(last),
            full: page.len() as i64 == PAGE,
        })
    }

    /// Reads the log after `head` and hands each event to the streams that want it. Returns
    /// whether a whole page was read (more may be waiting).
    async fn publish_page(
        &self,
        head: i64,
        known_studios: &mut HashMap<StudioId, BusinessId>,
    ) -> Result<bool, AppError> {
        let page = self.read_log_page(head, None, known_studios).await?;
        let Some(last) = page.last_id else {
            return Ok(false);
        };
        let encoded = page.events;
        let mut state = self.live_feed.state();
        let mut departed = false;
        for event in &encoded {
            for subscriber in &state.subscribers {
                // A full buffer never refuses: it drops its oldest event for the stream to
                // report. Err means the stream's receiver is gone (the client left).
                if subscriber.interest.wants(event)
                    && subscriber.buffer.send(Arc::clone(event)).is_err()
                {
                    departed = true;
                }
            }
        }
        if departed {
            state
                .subscribers
                .retain(|subscriber| subscriber.buffer.receiver_count() > 0);
        }
        state.head = Some(last);
        Ok(page.full)
    }
}

/// The tailer: publishes the log's new events until the last stream closes.
async fn tail_event_log(engine: Engine) {
    let poll_interval = engine.settings().live_feed.poll_interval;
    let mut known_studios = HashMap::new();
    let mut more_waiting = false;
    tracing::debug!("live feed tailer started");
    loop {
        if !more_waiting {
            tokio::time::sleep(poll_interval).await;
        }
        let head = {
            let mut state = engine.live_feed.state();
            state
                .subscribers
                .retain(|subscriber| subscriber.buffer.receiver_count() > 0);
            match state.head {
                Some(head) if !state.subscribers.is_empty() && !state.closed => head,
                Some(_) | None => {
                    state.tailing = false;
                    state.head = None;
                    tracing::debug!("live feed tailer stopped: nobody watches");
                    return;
                }
            }
        };
        match engine.publish_page(head, &mut known_studios).await {
            Ok(full) => more_waiting = full,
            Err(error) => {
                tracing::error!(%error, head, "the live feed cannot read the event log; retrying");
                more_waiting = false;
                tokio::time::sleep(RETRY_AFTER_FAILURE).await;
            }
        }
    }
}
