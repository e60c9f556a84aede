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
use crate::components::{chf, date, ErrorMessage};
use crate::domain::feed::LIVE_PAGE_ROWS;
use crate::domain::locale::format_count;
use crate::domain::*;
use crate::i18n::{t, t_string, td_string, use_i18n, Locale};
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;

/// The feed's address (same origin: the session cookie authenticates it).
const STREAM_PATH: &str = "/api/v1/events/stream";

/// A label worded in the page's language when it is shown.
type Label = fn() -> &'static str;

/// The type filter's choices: the `types` query value (empty: every type) and its label in the
/// page's language.
const TYPE_FILTERS: [(&str, Label); 8] = [
    ("", || t_string!(use_i18n(), live.filters.all_events)),
    ("payout.*", || t_string!(use_i18n(), live.filters.payouts)),
    ("payment.*", || t_string!(use_i18n(), live.filters.payments)),
    ("till.*", || t_string!(use_i18n(), live.filters.tills)),
    ("audit.*", || t_string!(use_i18n(), live.filters.audits)),
    ("webhook.*", || t_string!(use_i18n(), live.filters.webhooks)),
    ("service_record.*", || {
        t_string!(use_i18n(), live.filters.refunds)
    }),
    ("payment_event.*", || {
        t_string!(use_i18n(), live.filters.payment_events)
    }),
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
    /// The page's language, for the problems the browser's reader words.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    locale: Locale,
}

impl Feed {
    fn new(locale: Locale) -> Self {
        Feed {
            rows: RwSignal::new(VecDeque::new()),
            connection: RwSignal::new(FeedConnection::Connecting),
            problem: RwSignal::new(None),
            server_dropped: RwSignal::new(0),
            client_dropped: RwSignal::new(0),
            last_id: RwSignal::new(None),
            locale,
        }
    }
}

/// The Live page: checks the role, loads the caller's studios (for the filter and the rows'
/// studio names), then shows the feed.
#[component]
pub fn LivePage() -> impl IntoView {
    let session = expect_context::<crate::pages::Session>().me;
    let studios = OnceResource::new(list_studios());
    let i18n = use_i18n();
    view! {
        <h1>{t!(i18n, live.title)}</h1>
        <p>{t_string!(i18n, live.intro, rows = LIVE_PAGE_ROWS).to_string()}</p>
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(Some(me)) => match me.require(Permission::ReadLiveFeed) {
                        Ok(()) => {
                            let (studios, error) = match studios.await {
                                Ok(list) => (list, None),
                                Err(error) => (Vec::new(), Some(error)),
                            };
                            view! {
                                {error.map(|error| view! { <ErrorMessage error/> })}
                                <LiveFeed studios/>
                            }.into_any()
                        }
                        Err(error) => view! { <ErrorMessage error/> }.into_any(),
                    },
                    Ok(None) => {
                        let error = AppError::unauthenticated(t_string!(i18n, common.sign_in_first));
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
    let i18n = use_i18n();
    let locale = i18n.get_locale_untracked();
    let feed = Feed::new(locale);
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
            <label>{t!(i18n, live.filters.types)}" "
                <select name="types" autocomplete="off" prop:value=move || types.get()
                    on:change=move |ev| types.set(event_target_value(&ev))>
                    {TYPE_FILTERS.iter().map(|(value, label)| view! { <option value=*value>{label()}</option> }).collect_view()}
                </select>
            </label>
            <label>{t!(i18n, live.filters.studio)}" "
                <select name="studio_id" autocomplete="off" prop:value=move || studio.get()
                    on:change=move |ev| studio.set(event_target_value(&ev))>
                    <option value="">{t!(i18n, live.filters.all_studios)}</option>
                    {studios.into_iter().map(|s| view! { <option value=s.id.to_string()>{s.name}</option> }).collect_view()}
                </select>
            </label>
        </form>
        // Only the state and its problem are announced (role=status), not every new event id.
        <p class="feed-state" data-testid="feed-state" data-state=move || state_key(feed.connection.get())>
            {t!(i18n, live.connection.label)}" "
            <span role="status">
                <strong>{move || connection_text(locale, feed.connection.get())}</strong>
                {move || feed.problem.get().map(|problem| view! {
                    <span class="problem"><span aria-hidden="true">" ⚠"</span>{format!(" {problem}")}</span>
                })}
            </span>
            {move || feed.last_id.get().map(|id| {
                format!(" · {}", t_string!(i18n, live.connection.read_up_to, id = id))
            })}
        </p>
        {move || (feed.connection.get() == FeedConnection::Closed).then(|| view! {
            <button type="button" class="reconnect" on:click=move |_| restart.update(|n| *n += 1)>
                {t!(i18n, live.connection.reconnect)}
            </button>
        })}
        <p class="dropped" data-testid="dropped" data-dropped=move || total().to_string()>
            <strong>{move || {
                let total = total();
                t_string!(i18n, live.dropped.total, n = grouped(total), count = total).to_string()
            }}</strong>
            {move || format!(
                " {}",
                t_string!(
                    i18n,
                    live.dropped.detail,
                    server = grouped(feed.server_dropped.get()),
                    page = grouped(feed.client_dropped.get())
                )
            )}
        </p>
        <table class="live-feed">
            <caption class="visually-hidden">{t!(i18n, live.table.caption)}</caption>
            <thead><tr>
                <th class="num">{t!(i18n, live.table.id)}</th><th>{t!(i18n, live.table.time)}</th><th>{t!(i18n, live.table.event)}</th><th>{t!(i18n, live.table.studio)}</th><th>{t!(i18n, live.table.what)}</th>
            </tr></thead>
            <tbody>
                <For each=move || feed.rows.get() key=|event| event.id children=move |event| view! { <LiveRow event names/> }/>
            </tbody>
        </table>
        {move || feed.rows.with(VecDeque::is_empty).then(|| view! {
            <p class="hint">{t!(i18n, live.table.empty)}</p>
        })}
    }
}

#[component]
fn LiveRow(event: Arc<LiveEvent>, names: StoredValue<Vec<Studio>>) -> impl IntoView {
    let i18n = use_i18n();
    let studio = match event.studio_id {
        Some(id) => names.with_value(|list| {
            list.iter()
                .find(|s| s.id == id)
                .map_or_else(|| id.to_string(), |s| s.name.clone())
        }),
        None => t_string!(i18n, live.table.all_studios).to_string(),
    };
    view! {
        <tr data-testid="live-row" data-type=event.event_type.clone() data-id=event.id.to_string()>
            <td class="num">{event.id}</td>
            <td title=date(event.occurred_at.date_naive())>{clock(event.occurred_at)}</td>
            <td><code>{event.event_type.clone()}</code></td>
            <td>{studio}</td>
            <td class="summary">{summary(&event, i18n.get_locale_untracked())}</td>
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

/// The connection's state in words of `locale` ("live (resumed from #42)").
fn connection_text(locale: Locale, connection: FeedConnection) -> String {
    match connection {
        FeedConnection::Connecting => td_string!(locale, live.connection.connecting).to_string(),
        FeedConnection::Live => td_string!(locale, live.connection.live).to_string(),
        FeedConnection::Resumed { from } => {
            td_string!(locale, live.connection.resumed, from = from).to_string()
        }
        FeedConnection::Reconnecting => {
            td_string!(locale, live.connection.reconnecting).to_string()
        }
        FeedConnection::Closed => td_string!(locale, live.connection.closed).to_string(),
    }
}

/// A count with the page language's grouping (`1'234`).
fn grouped(n: u64) -> String {
    crate::components::count(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A payout's state (from an event's data) in words of `locale`.
fn payout_state_text(locale: Locale, state: PayoutState) -> &'static str {
    match state {
        PayoutState::Pending => td_string!(locale, common.payout_state.pending),
        PayoutState::Committed => td_string!(locale, common.payout_state.committed),
        PayoutState::Failed => td_string!(locale, common.payout_state.failed),
        PayoutState::Cancelled => td_string!(locale, common.payout_state.cancelled),
    }
}

/// A card payment's state (from an event's data) in words of `locale`.
fn payment_state_text(locale: Locale, state: PaymentState) -> &'static str {
    match state {
        PaymentState::Draft => td_string!(locale, live.payment_state.draft),
        PaymentState::Submitted => td_string!(locale, live.payment_state.submitted),
        PaymentState::Processing => td_string!(locale, live.payment_state.processing),
        PaymentState::Succeeded => td_string!(locale, live.payment_state.succeeded),
        PaymentState::PartiallyRefunded => {
            td_string!(locale, live.payment_state.partially_refunded)
        }
        PaymentState::Refunded => td_string!(locale, live.payment_state.refunded),
        PaymentState::Failed => td_string!(locale, live.payment_state.failed),
        PaymentState::Cancelled => td_string!(locale, live.payment_state.cancelled),
    }
}

/// `14:05:09`, UTC, built from the time parts (as [`crate::components::utc_minute`], without
/// chrono's formatting machinery in the WASM bundle).
fn clock(at: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike as _;
    format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second())
}

/// A short line saying what happened, in words of `locale`, from the event's data (the webhook
/// payload of its type): for a payout the employee, total, records and state; for a payment the
/// provider's id, state and amounts; and so on. Unknown shapes fall back to compact JSON.
fn summary(event: &LiveEvent, locale: Locale) -> String {
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
    // A state or a day the page knows is worded or formatted; another value shows as it came.
    let payout_state = || {
        text("state").map(|state| match PayoutState::parse(&state) {
            Ok(known) => payout_state_text(locale, known).to_string(),
            Err(_) => state,
        })
    };
    let payment_state = || {
        text("state").map(|state| match PaymentState::parse(&state) {
            Ok(known) => payment_state_text(locale, known).to_string(),
            Err(_) => state,
        })
    };
    let day = |key: &str| {
        text(key).map(|day| match day.parse::<chrono::NaiveDate>() {
            Ok(known) => date(known),
            Err(_) => day,
        })
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
                .map(|n| {
                    td_string!(
                        locale,
                        live.summary.records,
                        n = format_count(locale.into(), n),
                        count = n
                    )
                    .to_string()
                }),
            payout_state(),
            text("error"),
        ],
        "payment" => vec![
            provider_payment,
            payment_state(),
            labelled(td_string!(locale, live.summary.captured), money("captured")),
            labelled(td_string!(locale, live.summary.refunded), money("refunded")),
            labelled(td_string!(locale, live.summary.settled), money("settled")),
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
            day("business_date"),
            labelled(
                td_string!(locale, live.summary.float),
                money("opening_float"),
            ),
            labelled(
                td_string!(locale, live.summary.counted),
                money("counted_cash"),
            ),
            labelled(td_string!(locale, live.summary.variance), money("variance")),
        ],
        "audit" => {
            let run = data.get("run").unwrap_or(data);
            vec![
                run.get("finding_count").and_then(Value::as_i64).map(|n| {
                    td_string!(
                        locale,
                        live.summary.findings,
                        n = format_count(locale.into(), n),
                        count = n
                    )
                    .to_string()
                }),
                labelled(
                    td_string!(locale, live.summary.at_stake),
                    money_in(run, "amount_at_stake"),
                ),
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
    use crate::i18n::{td_string, Locale};
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
                report(
                    feed,
                    td_string!(feed.locale, live.problem.cannot_open, error = error).to_string(),
                );
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
                report(
                    feed,
                    td_string!(feed.locale, live.problem.cannot_listen, error = error).to_string(),
                );
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
            let locale = self.feed.locale;
            match name {
                // The `error` event is a plain Event, not a MessageEvent: not read here.
                "error" => self.on_error(td_string!(locale, live.problem.broke)),
                READY_EVENT => match parse::<FeedReady>(name, message, locale) {
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
                FAILED_EVENT => match parse::<serde_json::Value>(name, message, locale) {
                    Ok(body) => {
                        let reason = body
                            .pointer("/error/message")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or(td_string!(locale, live.problem.no_reason));
                        report(
                            self.feed,
                            td_string!(locale, live.problem.stopped, reason = reason).to_string(),
                        );
                    }
                    Err(problem) => report(self.feed, problem),
                },
                DROPPED_EVENT => match parse::<FeedDropped>(name, message, locale) {
                    Ok(dropped) => {
                        self.batch.borrow_mut().server_dropped += dropped.dropped;
                        self.schedule();
                    }
                    Err(problem) => report(self.feed, problem),
                },
                _ => match parse::<LiveEvent>(name, message, locale) {
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
            let locale = self.feed.locale;
            let (connection, problem) = match self.source.state() {
                State::Connecting => (
                    FeedConnection::Reconnecting,
                    td_string!(locale, live.problem.reconnecting, error = error).to_string(),
                ),
                State::Closed => (
                    FeedConnection::Closed,
                    td_string!(locale, live.problem.refused, error = error).to_string(),
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
                    td_string!(
                        feed.locale,
                        live.problem.no_frame,
                        error = format!("{error:?}")
                    )
                    .to_string(),
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

    /// Reads a stream event's JSON data; a problem is worded in `locale`.
    fn parse<T: serde::de::DeserializeOwned>(
        name: &str,
        message: &MessageEvent,
        locale: Locale,
    ) -> Result<T, String> {
        let data = message.data().as_string().ok_or_else(|| {
            td_string!(locale, live.problem.no_text, name = name.to_owned()).to_string()
        })?;
        serde_json::from_str(&data).map_err(|error| {
            td_string!(
                locale,
                live.problem.unreadable,
                name = name.to_owned(),
                error = error
            )
            .to_string()
        })
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
            summary(&payout, Locale::en),
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
            summary(&payout, Locale::en),
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
            summary(&payment, Locale::en),
            format!("sumup TX1 · captured · captured {}", chf(Rappen(4500)))
        );
    }

    #[test]
    fn an_audit_counts_its_findings() {
        let audit = event(
            "audit.finding",
            serde_json::json!({"run": {"finding_count": 2, "amount_at_stake": 0}, "findings": []}),
        );
        assert_eq!(summary(&audit, Locale::en), "2 findings");
    }

    #[test]
    fn an_unknown_shape_falls_back_to_compact_json() {
        let unknown = event("something.new", serde_json::json!({"a": "x".repeat(200)}));
        let text = summary(&unknown, Locale::en);
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
