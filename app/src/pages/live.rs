//! The Live page (issue 8): domain events (payouts, payments, tills, refunds, audits, webhook
//! endpoints) as they are committed, from the server-sent event stream `GET /api/v1/events/stream`
//! (see [`crate::domain::feed`]).
//!
//! The server renders a shell (filters, connection state, drop counter, an empty table); the
//! browser opens the stream after hydration (an `EventSource`, gloo-net's) and closes it when the
//! page goes away or a filter changes. Filters are applied by the server (`types`, `studio_id`).
//!
//! Backpressure is honest and bounded: incoming events are queued and drawn at most once per
//! animation frame, in one update of the rows; the page keeps [`LIVE_PAGE_ROWS`] rows (newest
//! first). When more than that arrive between two frames, the oldest queued ones are dropped and
//! counted, and the counter shows the server's drops (its `dropped` markers) plus the page's.
//! The page only reads: it never writes anything.

use crate::api::list_studios;
use crate::components::{chf, ErrorMessage};
use crate::domain::feed::LIVE_PAGE_ROWS;
use crate::domain::*;
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;

/// The feed's address (same origin: the session cookie authenticates it).
const STREAM_PATH: &str = "/api/v1/events/stream";

/// The type filter's choices: the `types` query value (empty: every type) and its label.
const TYPE_FILTERS: [(&str, &str); 8] = [
    ("", "All events"),
    ("payout.*", "Payouts (payout.*)"),
    ("payment.*", "Payments (payment.*)"),
    ("till.*", "Tills (till.*)"),
    ("audit.*", "Audits (audit.*)"),
    ("webhook.*", "Webhook endpoints (webhook.*)"),
    ("service_record.*", "Refunded services (service_record.*)"),
    ("payment_event.*", "Parked payment events (payment_event.*)"),
];

/// What the page shows of one connection to the feed. Written by the browser's reader (at most
/// once per animation frame for the rows and counters), read by the view.
#[derive(Clone, Copy)]
struct Feed {
    /// The latest events, newest first, at most [`LIVE_PAGE_ROWS`].
    rows: RwSignal<VecDeque<Arc<LiveEvent>>>,
    /// The connection, as [`FeedConnection::describe`] words it.
    connection: RwSignal<FeedConnection>,
    /// What went wrong last (a broken or refused connection, an unreadable event); cleared when
    /// the stream is ready again.
    problem: RwSignal<Option<String>>,
    /// Events the server dropped for this page (the sum of its `dropped` markers).
    server_dropped: RwSignal<u64>,
    /// Events this page dropped because more than [`LIVE_PAGE_ROWS`] arrived between two frames.
    client_dropped: RwSignal<u64>,
    /// How far the page has read the feed: the newest event drawn, or the stream's head when it
    /// started live. Reconnect resumes after it.
    last_id: RwSignal<Option<i64>>,
}

impl Feed {
    fn new() -> Self {
        Feed {
            rows: RwSignal::new(VecDeque::new()),
            connection: RwSignal::new(FeedConnection::Connecting),
            problem: RwSignal::new(None),
            server_dropped: RwSignal::new(0),
            client_dropped: RwSignal::new(0),
            last_id: RwSignal::new(None),
        }
    }
}

/// The Live page: checks the role, loads the caller's studios (for the filter and the rows'
/// studio names), then shows the feed.
#[component]
pub fn LivePage() -> impl IntoView {
    let session = expect_context::<crate::pages::Session>().me;
    let studios = OnceResource::new(list_studios());
    view! {
        <h1>"Live"</h1>
        <p>{format!(
            "Payouts, payments, tills, refunds, audits and webhook endpoints as they change, newest first. The page keeps the latest {LIVE_PAGE_ROWS} events; when they come faster than it can show them, it drops the oldest and counts them."
        )}</p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(Some(me)) if me.may(Permission::ReadLiveFeed) => {
                        let (studios, error) = match studios.await {
                            Ok(list) => (list, None),
                            Err(error) => (Vec::new(), Some(error)),
                        };
                        view! {
                            {error.map(|error| view! { <ErrorMessage error/> })}
                            <LiveFeed studios/>
                        }.into_any()
                    }
                    Ok(Some(me)) => {
                        let article = match me.role {
                            Role::Owner | Role::Employee => "an",
                            Role::Receptionist => "a",
                        };
                        let error = AppError::forbidden(format!(
                            "{article} {} may not {}; ask the owner",
                            me.role,
                            Permission::ReadLiveFeed.describe()
                        ));
                        view! { <ErrorMessage error/> }.into_any()
                    }
                    Ok(None) => {
                        let error = AppError::unauthenticated("sign in first");
                        view! { <ErrorMessage error/> }.into_any()
                    }
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The filters, the connection state, the drop counter and the table. The stream itself is
/// opened in the browser only ([`browser::follow`]).
#[component]
fn LiveFeed(studios: Vec<Studio>) -> impl IntoView {
    let feed = Feed::new();
    let types = RwSignal::new(String::new());
    let studio = RwSignal::new(String::new());
    // Bumped by Reconnect: a new EventSource that resumes after the last event shown.
    let restart = RwSignal::new(0_u32);
    #[cfg(feature = "hydrate")]
    browser::follow(feed, types, studio, restart);
    let names = StoredValue::new(studios.clone());
    let total = move || feed.server_dropped.get() + feed.client_dropped.get();
    view! {
        <form class="live-filters" on:submit=|ev| ev.prevent_default()>
            <label>"Event types "
                <select name="types" autocomplete="off" prop:value=move || types.get()
                    on:change=move |ev| types.set(event_target_value(&ev))>
                    {TYPE_FILTERS.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
                </select>
            </label>
            <label>"Studio "
                <select name="studio_id" autocomplete="off" prop:value=move || studio.get()
                    on:change=move |ev| studio.set(event_target_value(&ev))>
                    <option value="">"All my studios"</option>
                    {studios.into_iter().map(|s| view! { <option value=s.id.to_string()>{s.name}</option> }).collect_view()}
                </select>
            </label>
        </form>
        // Only the state and its problem are announced (role=status), not every new event id.
        <p class="feed-state" data-testid="feed-state" data-state=move || state_key(feed.connection.get())>
            "Connection: "
            <span role="status">
                <strong>{move || feed.connection.get().describe()}</strong>
                {move || feed.problem.get().map(|problem| view! {
                    <span class="problem"><span aria-hidden="true">" ⚠"</span>{format!(" {problem}")}</span>
                })}
            </span>
            {move || feed.last_id.get().map(|id| format!(" · read up to event #{id}"))}
        </p>
        {move || (feed.connection.get() == FeedConnection::Closed).then(|| view! {
            <button type="button" class="reconnect" on:click=move |_| restart.update(|n| *n += 1)>
                "Reconnect"
            </button>
        })}
        <p class="dropped" data-testid="dropped" data-dropped=move || total().to_string()>
            <strong>{move || {
                let total = total();
                format!("{total} {} dropped", if total == 1 { "event" } else { "events" })
            }}</strong>
            {move || format!(
                " (server: {}, this page: {})",
                feed.server_dropped.get(),
                feed.client_dropped.get()
            )}
        </p>
        <table class="live-feed">
            <caption class="visually-hidden">"Latest events, newest first"</caption>
            <thead><tr>
                <th class="num">"#"</th><th>"Time (UTC)"</th><th>"Event"</th><th>"Studio"</th><th>"What happened"</th>
            </tr></thead>
            <tbody>
                <For each=move || feed.rows.get() key=|event| event.id children=move |event| view! { <LiveRow event names/> }/>
            </tbody>
        </table>
        {move || feed.rows.with(VecDeque::is_empty).then(|| view! {
            <p class="hint">"No event yet. New ones appear here as they are committed."</p>
        })}
    }
}

#[component]
fn LiveRow(event: Arc<LiveEvent>, names: StoredValue<Vec<Studio>>) -> impl IntoView {
    let studio = match event.studio_id {
        Some(id) => names.with_value(|list| {
            list.iter()
                .find(|s| s.id == id)
                .map_or_else(|| id.to_string(), |s| s.name.clone())
        }),
        None => "all studios".to_string(),
    };
    view! {
        <tr data-testid="live-row" data-type=event.event_type.clone() data-id=event.id.to_string()>
            <td class="num">{event.id}</td>
            <td title=event.occurred_at.date_naive().to_string()>{clock(event.occurred_at)}</td>
            <td><code>{event.event_type.clone()}</code></td>
            <td>{studio}</td>
            <td class="summary">{summary(&event)}</td>
        </tr>
    }
}

/// The `data-state` test hook of a connection state.
fn state_key(connection: FeedConnection) -> &'static str {
    match connection {
        FeedConnection::Connecting => "connecting",
        FeedConnection::Live => "live",
        FeedConnection::Resumed { .. } => "resumed",
        FeedConnection::Reconnecting => "reconnecting",
        FeedConnection::Closed => "closed",
    }
}

/// `14:05:09`, UTC, built from the time parts (as [`crate::components::utc_minute`], without
/// chrono's formatting machinery in the WASM bundle).
fn clock(at: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike as _;
    format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second())
}

/// A short line saying what happened, from the event's data (the webhook payload of its type):
/// for a payout the employee, total, records and state; for a payment the provider's id, state
/// and amounts; and so on. Unknown shapes fall back to compact JSON.
fn summary(event: &LiveEvent) -> String {
    let data = &event.data;
    let text = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let money_in = |value: &Value, key: &str| value.get(key).and_then(Value::as_i64).map(Rappen);
    let money = |key: &str| money_in(data, key);
    let labelled = |label: &str, amount: Option<Rappen>| {
        amount
            .filter(|a| a.0 != 0)
            .map(|a| format!("{label} {}", chf(a)))
    };
    let provider_payment = match (text("provider"), text("provider_payment_id")) {
        (Some(provider), Some(id)) => Some(format!("{provider} {id}")),
        (provider, id) => provider.or(id),
    };
    let family = event.event_type.split('.').next().unwrap_or("");
    let parts: Vec<Option<String>> = match family {
        "payout" => vec![
            text("employee_name"),
            money("total").map(chf),
            // A payout just created has claimed no record yet: its expected count says more.
            data.get("record_count")
                .and_then(Value::as_i64)
                .filter(|n| *n > 0)
                .or_else(|| data.get("expected_record_count").and_then(Value::as_i64))
                .map(|n| format!("{n} records")),
            text("state"),
            text("error"),
        ],
        "payment" => vec![
            provider_payment,
            text("state"),
            labelled("captured", money("captured")),
            labelled("refunded", money("refunded")),
            labelled("settled", money("settled")),
        ],
        "payment_event" => vec![
            provider_payment,
            text("event_type"),
            money("amount").map(chf),
            text("reason"),
        ],
        "service_record" => vec![
            text("employee_name"),
            text("service_name"),
            money("price").map(chf),
        ],
        "till" => vec![
            text("studio_name"),
            text("business_date"),
            labelled("float", money("opening_float")),
            labelled("counted", money("counted_cash")),
            labelled("variance", money("variance")),
        ],
        "audit" => {
            let run = data.get("run").unwrap_or(data);
            vec![
                run.get("finding_count")
                    .and_then(Value::as_i64)
                    .map(|n| format!("{n} finding(s)")),
                labelled("at stake", money_in(run, "amount_at_stake")),
            ]
        }
        "webhook" => vec![text("url"), text("reason"), text("sent_by")],
        _ => Vec::new(),
    };
    let parts: Vec<String> = parts.into_iter().flatten().collect();
    if parts.is_empty() {
        compact(data)
    } else {
        parts.join(" · ")
    }
}

/// The data as JSON, cut to about 120 characters.
fn compact(data: &Value) -> String {
    const LIMIT: usize = 120;
    let json = data.to_string();
    match json.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &json[..cut]),
        None => json,
    }
}

/// The feed's URL with the filters (and the id to resume after) as its query. Values are
/// percent-encoded except the characters filters use (`*`, `.`, `,`).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn stream_url(types: &str, studio_id: &str, since: Option<i64>) -> String {
    let encode = |value: &str| {
        value
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~*,".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let mut query = Vec::new();
    if !types.is_empty() {
        query.push(format!("types={}", encode(types)));
    }
    if !studio_id.is_empty() {
        query.push(format!("studio_id={}", encode(studio_id)));
    }
    if let Some(id) = since {
        query.push(format!("since={id}"));
    }
    if query.is_empty() {
        STREAM_PATH.to_string()
    } else {
        format!("{STREAM_PATH}?{}", query.join("&"))
    }
}

/// The browser side: the EventSource, its reader and the once-per-frame drawing.
#[cfg(feature = "hydrate")]
mod browser {
    use super::{stream_url, Feed};
    use crate::domain::feed::{DROPPED_EVENT, FAILED_EVENT, LIVE_PAGE_ROWS, READY_EVENT};
    use crate::domain::*;
    use futures::future::{AbortHandle, Abortable};
    use futures::stream::{select_all, StreamExt};
    use gloo_net::eventsource::futures::{EventSource, EventSourceSubscription};
    use gloo_net::eventsource::State;
    use leptos::logging::warn;
    use leptos::prelude::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use web_sys::MessageEvent;

    /// The EventSource event names the reader subscribes to: domain events (unnamed, i.e.
    /// `message`), the stream's `ready`, `dropped` and `failed` events, and `error`. gloo-net's
    /// streams yield `Err` on `error` only once the EventSource is closed; the `error`
    /// subscription also sees the errors after which the browser reconnects by itself
    /// (readyState CONNECTING).
    const SUBSCRIPTIONS: [&str; 5] = ["message", READY_EVENT, DROPPED_EVENT, FAILED_EVENT, "error"];

    /// Opens the feed after hydration, and again whenever a filter changes (a new stream with
    /// the filters in its query, after clearing the rows and counters) or Reconnect is pressed
    /// (resuming after the last event shown). The previous EventSource is closed first.
    pub(super) fn follow(
        feed: Feed,
        types: RwSignal<String>,
        studio: RwSignal<String>,
        restart: RwSignal<u32>,
    ) {
        Effect::new(move |previous: Option<(String, String)>| {
            let filters = (types.get(), studio.get());
            restart.track();
            if previous.as_ref() == Some(&filters) {
                feed.connection.set(FeedConnection::Connecting);
            } else {
                reset(feed);
            }
            let url = stream_url(&filters.0, &filters.1, feed.last_id.get_untracked());
            connect(&url, feed);
            filters
        });
    }

    fn reset(feed: Feed) {
        feed.rows.set(VecDeque::new());
        feed.connection.set(FeedConnection::Connecting);
        feed.problem.set(None);
        feed.server_dropped.set(0);
        feed.client_dropped.set(0);
        feed.last_id.set(None);
    }

    /// Shows a problem in the state line and logs it in the browser's console.
    fn report(feed: Feed, problem: String) {
        warn!("live feed: {problem}");
        feed.problem.set(Some(problem));
    }

    /// Opens an EventSource on `url` and reads it in a local task until the current owner (the
    /// effect's run) is cleaned up, which aborts the task and so drops (closes) the EventSource.
    fn connect(url: &str, feed: Feed) {
        let mut source = match EventSource::new(url) {
            Ok(source) => source,
            Err(error) => {
                feed.connection.set(FeedConnection::Closed);
                report(feed, format!("cannot open the live feed: {error}"));
                return;
            }
        };
        let subscriptions: Result<Vec<EventSourceSubscription>, _> = SUBSCRIPTIONS
            .into_iter()
            .map(|name| source.subscribe(name))
            .collect();
        let subscriptions = match subscriptions {
            Ok(subscriptions) => subscriptions,
            Err(error) => {
                feed.connection.set(FeedConnection::Closed);
                report(feed, format!("cannot listen to the live feed: {error}"));
                return;
            }
        };
        let closed = Arc::new(AtomicBool::new(false));
        let (abort, registration) = AbortHandle::new_pair();
        on_cleanup({
            let closed = Arc::clone(&closed);
            move || {
                closed.store(true, Ordering::Relaxed);
                abort.abort();
            }
        });
        let reader = Reader {
            last_seen: feed.last_id.get_untracked(),
            source,
            feed,
            batch: Rc::new(RefCell::new(Batch::default())),
            closed,
        };
        leptos::task::spawn_local(async move {
            // `Err(Aborted)` is the normal end: the page or a filter changed, and the reader and
            // with it the EventSource were dropped (closed). The streams themselves never end.
            if Abortable::new(reader.read(subscriptions), registration)
                .await
                .is_ok()
            {
                warn!("live feed: the event streams ended");
            }
        });
    }

    /// Events received since the last frame, waiting to be drawn.
    #[derive(Default)]
    struct Batch {
        /// In arrival (id) order; at most [`LIVE_PAGE_ROWS`].
        events: VecDeque<LiveEvent>,
        /// Dropped from `events` since the last frame (more than it holds arrived).
        client_dropped: u64,
        /// The server's `dropped` markers since the last frame.
        server_dropped: u64,
        /// Whether a frame is requested (one per batch).
        frame_requested: bool,
    }

    /// One connection's reader; dropping it closes the EventSource.
    struct Reader {
        source: EventSource,
        feed: Feed,
        batch: Rc<RefCell<Batch>>,
        /// Set when the connection's owner is cleaned up: nothing more may reach the page.
        closed: Arc<AtomicBool>,
        /// The newest event id received (drawn or queued): older or repeated ids are skipped.
        last_seen: Option<i64>,
    }

    impl Reader {
        async fn read(mut self, subscriptions: Vec<EventSourceSubscription>) {
            let mut events = select_all(subscriptions);
            while let Some(next) = events.next().await {
                if self.closed.load(Ordering::Relaxed) {
                    return;
                }
                match next {
                    Ok((name, message)) => self.on_event(&name, &message),
                    Err(error) => self.on_error(&error.to_string()),
                }
            }
        }

        fn on_event(&mut self, name: &str, message: &MessageEvent) {
            match name {
                // The `error` event is a plain Event, not a MessageEvent: not read here.
                "error" => self.on_error("the connection to the server broke"),
                READY_EVENT => match parse::<FeedReady>(name, message) {
                    Ok(ready) => {
                        self.feed.connection.set(match ready.resumed_from {
                            Some(from) => FeedConnection::Resumed { from },
                            None => FeedConnection::Live,
                        });
                        // A stream that starts live has nothing before its head for this page.
                        let behind = self
                            .feed
                            .last_id
                            .get_untracked()
                            .is_none_or(|last| last < ready.head);
                        if ready.resumed_from.is_none() && behind {
                            self.feed.last_id.set(Some(ready.head));
                        }
                        self.feed.problem.set(None);
                    }
                    Err(problem) => report(self.feed, problem),
                },
                FAILED_EVENT => match parse::<serde_json::Value>(name, message) {
                    Ok(body) => {
                        let reason = body
                            .pointer("/error/message")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or("no reason given");
                        report(
                            self.feed,
                            format!("the server stopped the stream ({reason}); the browser reconnects and resumes after the last event"),
                        );
                    }
                    Err(problem) => report(self.feed, problem),
                },
                DROPPED_EVENT => match parse::<FeedDropped>(name, message) {
                    Ok(dropped) => {
                        self.batch.borrow_mut().server_dropped += dropped.dropped;
                        self.schedule();
                    }
                    Err(problem) => report(self.feed, problem),
                },
                _ => match parse::<LiveEvent>(name, message) {
                    Ok(event) if self.last_seen.is_some_and(|last| event.id <= last) => {
                        warn!(
                            "live feed: skipped event #{} (already received up to #{:?})",
                            event.id, self.last_seen
                        );
                    }
                    Ok(event) => {
                        self.last_seen = Some(event.id);
                        {
                            let mut batch = self.batch.borrow_mut();
                            batch.events.push_back(event);
                            if batch.events.len() > LIVE_PAGE_ROWS {
                                batch.events.pop_front();
                                batch.client_dropped += 1;
                            }
                        }
                        self.schedule();
                    }
                    Err(problem) => report(self.feed, problem),
                },
            }
        }

        /// An `error` event: the browser is reconnecting (CONNECTING) or gave up (CLOSED: the
        /// server refused the stream, e.g. signed out, or answered with an error).
        fn on_error(&self, error: &str) {
            let (connection, problem) = match self.source.state() {
                State::Connecting => (
                    FeedConnection::Reconnecting,
                    format!("{error}; the browser reconnects and resumes after the last event"),
                ),
                State::Closed => (
                    FeedConnection::Closed,
                    format!(
                        "{error}; the server refused or ended the live feed (signed out?). Reconnect resumes after the last event."
                    ),
                ),
                // An error while open does not happen (the browser closes or reconnects first).
                State::Open => return,
            };
            // Each subscription reports a closing; say it once.
            if self.feed.connection.get_untracked() != connection {
                self.feed.connection.set(connection);
                report(self.feed, problem);
            }
        }

        /// Requests one animation frame for the batch, unless one is requested already.
        fn schedule(&self) {
            let first = !std::mem::replace(&mut self.batch.borrow_mut().frame_requested, true);
            if !first {
                return;
            }
            let (batch, feed, closed) =
                (Rc::clone(&self.batch), self.feed, Arc::clone(&self.closed));
            let frame = move || draw(&batch, feed, &closed);
            if let Err(error) = request_animation_frame_with_handle(frame) {
                // Without frames (no window), draw right away rather than never.
                report(
                    feed,
                    format!("no animation frame ({error:?}); drawing without"),
                );
                draw(&self.batch, feed, &self.closed);
            }
        }
    }

    /// The animation frame: moves the batch into the rows in one update (newest first, at most
    /// [`LIVE_PAGE_ROWS`]) and adds its drops to the counters.
    fn draw(batch: &RefCell<Batch>, feed: Feed, closed: &AtomicBool) {
        if closed.load(Ordering::Relaxed) {
            return;
        }
        let Batch {
            events,
            client_dropped,
            server_dropped,
            frame_requested: _,
        } = std::mem::take(&mut *batch.borrow_mut());
        if let Some(newest) = events.back().map(|event| event.id) {
            feed.rows.update(|rows| {
                for event in events {
                    rows.push_front(Arc::new(event));
                }
                rows.truncate(LIVE_PAGE_ROWS);
            });
            feed.last_id.set(Some(newest));
        }
        if client_dropped > 0 {
            feed.client_dropped.update(|n| *n += client_dropped);
        }
        if server_dropped > 0 {
            feed.server_dropped.update(|n| *n += server_dropped);
        }
    }

    /// Reads a stream event's JSON data.
    fn parse<T: serde::de::DeserializeOwned>(
        name: &str,
        message: &MessageEvent,
    ) -> Result<T, String> {
        let data = message
            .data()
            .as_string()
            .ok_or_else(|| format!("a `{name}` event without text data"))?;
        serde_json::from_str(&data)
            .map_err(|error| format!("a `{name}` event could not be read: {error}"))
    }
}

/// The Live page as a lazy route (its own WASM chunk).
pub struct LiveRoute;

#[lazy_route]
impl LazyRoute for LiveRoute {
    fn data() -> Self {
        LiveRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <LivePage/> }.into_any()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn event(event_type: &str, data: Value) -> LiveEvent {
        LiveEvent {
            id: 7,
            event_type: event_type.to_string(),
            occurred_at: chrono::Utc
                .with_ymd_and_hms(2026, 11, 23, 14, 5, 9)
                .single()
                .unwrap_or_default(),
            studio_id: None,
            entity_id: None,
            data,
        }
    }

    #[test]
    fn a_payout_is_summarised_by_employee_total_records_and_state() {
        let payout = event(
            "payout.committed",
            serde_json::json!({"employee_name": "Lara Meier", "total": 1_808_000, "record_count": 212, "state": "committed", "error": null}),
        );
        assert_eq!(
            summary(&payout),
            format!(
                "Lara Meier · {} · 212 records · committed",
                chf(Rappen(1_808_000))
            )
        );
    }

    #[test]
    fn a_payout_just_created_counts_the_records_it_expects() {
        let payout = event(
            "payout.created",
            serde_json::json!({"employee_name": "Noah Weber", "total": 301_800, "record_count": 0, "expected_record_count": 106, "state": "pending"}),
        );
        assert_eq!(
            summary(&payout),
            format!(
                "Noah Weber · {} · 106 records · pending",
                chf(Rappen(301_800))
            )
        );
    }

    #[test]
    fn a_payment_names_its_provider_id_state_and_nonzero_amounts() {
        let payment = event(
            "payment.captured",
            serde_json::json!({"provider": "sumup", "provider_payment_id": "TX1", "state": "captured", "captured": 4500, "refunded": 0, "settled": 0}),
        );
        assert_eq!(
            summary(&payment),
            format!("sumup TX1 · captured · captured {}", chf(Rappen(4500)))
        );
    }

    #[test]
    fn an_audit_counts_its_findings() {
        let audit = event(
            "audit.finding",
            serde_json::json!({"run": {"finding_count": 2, "amount_at_stake": 0}, "findings": []}),
        );
        assert_eq!(summary(&audit), "2 finding(s)");
    }

    #[test]
    fn an_unknown_shape_falls_back_to_compact_json() {
        let unknown = event("something.new", serde_json::json!({"a": "x".repeat(200)}));
        let text = summary(&unknown);
        assert!(text.starts_with("{\"a\":\"xxx"));
        assert!(text.ends_with('…'));
        assert_eq!(text.chars().count(), 121);
    }

    #[test]
    fn the_clock_shows_utc_hours_minutes_and_seconds() {
        assert_eq!(clock(event("x", Value::Null).occurred_at), "14:05:09");
    }

    #[test]
    fn the_stream_url_carries_the_filters_and_the_resume_point() {
        assert_eq!(stream_url("", "", None), "/api/v1/events/stream");
        assert_eq!(
            stream_url("payout.*", "8f5e2c3a-0000-4000-8000-000000000001", Some(42)),
            "/api/v1/events/stream?types=payout.*&studio_id=8f5e2c3a-0000-4000-8000-000000000001&since=42"
        );
        assert_eq!(
            stream_url("a b&c", "", None),
            "/api/v1/events/stream?types=a%20b%26c"
        );
    }

    #[test]
    fn every_connection_state_has_its_test_hook() {
        assert_eq!(state_key(FeedConnection::Live), "live");
        assert_eq!(state_key(FeedConnection::Resumed { from: 3 }), "resumed");
        assert_eq!(state_key(FeedConnection::Reconnecting), "reconnecting");
        assert_eq!(state_key(FeedConnection::Connecting), "connecting");
        assert_eq!(state_key(FeedConnection::Closed), "closed");
    }
}
