//! The live feed (issue 8), `GET /api/v1/events/stream`, through the real router:
//! - a committed payout reaches a watching owner within a second;
//! - a reconnect with `Last-Event-ID` replays exactly what was missed, then goes on live;
//! - each caller sees only their own studios' events, filtered by type and studio;
//! - idle streams get heartbeats; a shutdown ends the streams; a stream ends at its maximum age
//!   and its reconnect is authenticated again;
//! - a second server instance on the same database sees the first one's events.
//!
//! The 100,000-event burst to a slow client is in `live_feed_burst.rs` (its own process, so its
//! memory measurement sees no other test).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::domain::feed::{FeedDropped, FeedReady, LiveEvent};
use app::domain::StudioId;
use app::engine::{db, Engine, EngineSettings};
use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const OWNER: (&str, &str) = ("owner@demo.test", "owner-demo");
const RECEPTION_ZURICH: (&str, &str) = ("reception@demo.test", "reception-demo");
const LARA_LOGIN: (&str, &str) = ("lara@demo.test", "employee-demo");

/// One parsed server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub enum Sse {
    Ready(FeedReady),
    Event(LiveEvent),
    Dropped(FeedDropped),
    Heartbeat,
}

/// Reads a `text/event-stream` response frame by frame.
struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    async fn open(client: &reqwest::Client, url: String, last_event_id: Option<i64>) -> SseReader {
        let mut request = client.get(url);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.expect("stream request");
        assert_eq!(response.status(), 200, "the stream is refused");
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "an SSE response"
        );
        SseReader {
            response,
            buffer: String::new(),
        }
    }

    /// The next frame, or `None` when the stream ended or nothing came within `wait`.
    async fn next_within(&mut self, wait: Duration) -> Option<Sse> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                return Some(parse_frame(&frame));
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.response.chunk()).await {
                Err(_) => return None,
                Ok(chunk) => match chunk.expect("stream read") {
                    Some(bytes) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                    None => return None,
                },
            }
        }
    }

    /// The next domain event, skipping heartbeats; panics on anything else or on silence.
    async fn next_event(&mut self, wait: Duration) -> LiveEvent {
        loop {
            match self.next_within(wait).await {
                Some(Sse::Event(event)) => return event,
                Some(Sse::Heartbeat) => continue,
                other => panic!("expected an event, got {other:?}"),
            }
        }
    }

    /// Every domain event until `wait` passes without one.
    async fn events_until_quiet(&mut self, wait: Duration) -> Vec<LiveEvent> {
        let mut events = Vec::new();
        loop {
            match self.next_within(wait).await {
                Some(Sse::Event(event)) => events.push(event),
                Some(Sse::Heartbeat) => continue,
                Some(other) => panic!("expected events only, got {other:?}"),
                None => return events,
            }
        }
    }

    async fn ready(&mut self) -> FeedReady {
        match self.next_within(Duration::from_secs(5)).await {
            Some(Sse::Ready(ready)) => ready,
            other => panic!("a stream starts with ready, got {other:?}"),
        }
    }
}

/// Parses one SSE frame (fields per the HTML Living Standard; every data line here is one line).
pub fn parse_frame(frame: &str) -> Sse {
    let mut name = None;
    let mut data = String::new();
    let mut id = None;
    for line in frame.lines() {
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = Some(value.to_string()),
            "data" => data.push_str(value),
            "id" => id = Some(value.to_string()),
            "retry" => assert_eq!(value, "1000", "reconnect after a second"),
            other => panic!("unexpected SSE field {other} in {frame:?}"),
        }
    }
    if data.is_empty() && name.is_none() {
        assert!(frame.starts_with(':'), "an empty frame: {frame:?}");
        return Sse::Heartbeat;
    }
    match name.as_deref() {
        Some("ready") => {
            let ready: FeedReady = serde_json::from_str(&data).unwrap();
            assert_eq!(id, Some(ready.head.to_string()), "ready carries id: head");
            Sse::Ready(ready)
        }
        Some("dropped") => {
            assert_eq!(id, None, "a dropped marker does not move Last-Event-ID");
            Sse::Dropped(serde_json::from_str(&data).unwrap())
        }
        None => {
            let event: LiveEvent = serde_json::from_str(&data).unwrap();
            assert_eq!(id, Some(event.id.to_string()), "id: is the event id");
            Sse::Event(event)
        }
        Some(other) => panic!("unexpected event {other}: {data}"),
    }
}

async fn studio_of(app: &TestApp, employee: &str) -> StudioId {
    serde_json::from_value(app.employee_named(employee).await["studio_id"].clone()).unwrap()
}

/// Appends `count` events of `kind` for `studio`, the `n`th with the payload `{"n": n}`.
async fn append_events(app: &TestApp, kind: &str, studio: Option<StudioId>, count: i64) -> i64 {
    app.append_events(kind, studio, count, |n| format!("{{\"n\":{n}}}"))
        .await
}

fn stream_url(app: &TestApp, query: &str) -> String {
    app.url(&format!("/api/v1/events/stream{query}"))
}

#[tokio::test]
async fn a_committed_payout_reaches_a_watching_owner_within_a_second() {
    let app = spawn_demo_app().await;
    let owner = app.sign_in(OWNER.0, OWNER.1).await.unwrap();
    let mut stream = SseReader::open(&owner, stream_url(&app, ""), None).await;
    let ready = stream.ready().await;
    assert_eq!(ready.resumed_from, None);
    assert_eq!(ready.buffer, 1024);

    let payout = app.commit_payout_of("Lara Meier").await;
    let committed_at = Instant::now();
    let mut types = Vec::new();
    while !types.contains(&"payout.committed".to_string()) {
        let event = stream.next_event(Duration::from_secs(1)).await;
        assert!(event.id > ready.head, "live events come after the head");
        types.push(event.event_type.clone());
        if event.event_type == "payout.committed" {
            assert_eq!(event.entity_id.unwrap().to_string(), payout["id"]);
            assert_eq!(event.data["total"], payout["total"], "{:?}", event.data);
        }
    }
    assert!(
        committed_at.elapsed() < Duration::from_secs(1),
        "seen after {:?}",
        committed_at.elapsed()
    );
    assert_eq!(types, ["payout.created", "payout.committed"]);
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_replays_exactly_what_was_missed_then_goes_on_live() {
    let app = spawn_demo_app().await;
    let zurich = studio_of(&app, "Lara Meier").await;
    let mut stream = SseReader::open(&app.client, stream_url(&app, ""), None).await;
    let ready = stream.ready().await;
    let first = append_events(&app, "till.opened", Some(zurich), 3).await;
    let seen = stream.events_until_quiet(Duration::from_millis(800)).await;
    assert_eq!(
        seen.iter().map(|e| e.id).collect::<Vec<_>>(),
        ((ready.head + 1)..=first).collect::<Vec<_>>()
    );
    drop(stream);

    // Missed while disconnected: 5 events, plus one type the feed never publishes.
    append_events(&app, "till.closed", Some(zurich), 5).await;
    let missed_last = append_events(&app, "internal.bookkeeping", Some(zurich), 1).await;
    let mut resumed = SseReader::open(&app.client, stream_url(&app, ""), Some(first)).await;
    let ready = resumed.ready().await;
    assert_eq!(ready.resumed_from, Some(first));
    let replayed = resumed.events_until_quiet(Duration::from_millis(800)).await;
    assert_eq!(
        replayed.iter().map(|e| e.id).collect::<Vec<_>>(),
        ((first + 1)..missed_last).collect::<Vec<_>>(),
        "the five missed events, in order, once each"
    );
    assert!(replayed.iter().all(|e| e.event_type == "till.closed"));
    assert_eq!(replayed[0].data, serde_json::json!({ "n": 0 }));

    // Then live.
    let live = append_events(&app, "till.opened", Some(zurich), 1).await;
    assert_eq!(resumed.next_event(Duration::from_secs(2)).await.id, live);

    // `since` does the same for a client that cannot send headers.
    let mut since = SseReader::open(
        &app.client,
        stream_url(&app, &format!("?since={first}")),
        None,
    )
    .await;
    assert_eq!(since.ready().await.resumed_from, Some(first));
    let again = since.events_until_quiet(Duration::from_millis(800)).await;
    assert_eq!(again.len(), 6, "five missed and the live one");
    assert_eq!(again.last().unwrap().id, live);
}

#[tokio::test]
async fn each_caller_sees_only_their_studios_events_filtered_by_type_and_studio() {
    let app = spawn_demo_app().await;
    let zurich = studio_of(&app, "Lara Meier").await;
    let bern = {
        let studios: Vec<StudioId> = db::query_scalar("SELECT id FROM studios")
            .fetch_all(app.engine.pool())
            .await
            .unwrap();
        *studios.iter().find(|s| **s != zurich).unwrap()
    };
    let owner = app.sign_in(OWNER.0, OWNER.1).await.unwrap();
    let reception = app
        .sign_in(RECEPTION_ZURICH.0, RECEPTION_ZURICH.1)
        .await
        .unwrap();
    let mut everything = SseReader::open(&owner, stream_url(&app, ""), None).await;
    let mut payouts_only = SseReader::open(
        &owner,
        stream_url(&app, "?types=payout.*, till.closed"),
        None,
    )
    .await;
    let mut bern_only = SseReader::open(
        &owner,
        stream_url(&app, &format!("?studio_id={bern}")),
        None,
    )
    .await;
    let mut receptionist = SseReader::open(&reception, stream_url(&app, ""), None).await;
    for stream in [
        &mut everything,
        &mut payouts_only,
        &mut bern_only,
        &mut receptionist,
    ] {
        stream.ready().await;
    }
    let zurich_till = append_events(&app, "till.opened", Some(zurich), 1).await;
    let bern_till = append_events(&app, "till.closed", Some(bern), 1).await;
    let audit = append_events(&app, "audit.findings", None, 1).await;
    let zurich_payout = append_events(&app, "payout.committed", Some(zurich), 1).await;
    let zurich_return = append_events(&app, "settlement.failed", Some(zurich), 1).await;

    let ids = |events: Vec<LiveEvent>| events.iter().map(|e| e.id).collect::<Vec<_>>();
    let quiet = Duration::from_millis(800);
    let all = everything.events_until_quiet(quiet).await;
    assert_eq!(
        all.iter().find(|e| e.id == audit).unwrap().event_type,
        "audit.finding",
        "the log's audit.findings is published as audit.finding"
    );
    assert_eq!(
        ids(all),
        [zurich_till, bern_till, audit, zurich_payout, zurich_return],
        "the owner sees both studios, the business-wide audit and the bank's return"
    );
    assert_eq!(
        ids(payouts_only.events_until_quiet(quiet).await),
        [bern_till, zurich_payout]
    );
    assert_eq!(ids(bern_only.events_until_quiet(quiet).await), [bern_till]);
    assert_eq!(
        ids(receptionist.events_until_quiet(quiet).await),
        [zurich_till, zurich_payout],
        "a receptionist sees her studio only, no business-wide events, and no settlements (owners' business)"
    );

    // Refusals, before any stream starts.
    let lara = app.sign_in(LARA_LOGIN.0, LARA_LOGIN.1).await.unwrap();
    let refused = |client: reqwest::Client, url: String| async move {
        let response = client.get(url).send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        (status, body["error"]["code"].as_str().unwrap().to_string())
    };
    assert_eq!(
        refused(lara, stream_url(&app, "")).await,
        (403, "forbidden".to_string()),
        "employees do not watch the feed"
    );
    assert_eq!(
        refused(
            reception.clone(),
            stream_url(&app, &format!("?studio_id={bern}"))
        )
        .await,
        (403, "forbidden".to_string()),
        "not another studio"
    );
    assert_eq!(
        refused(owner.clone(), stream_url(&app, "?types=payout.paid")).await,
        (422, "validation_failed".to_string())
    );
    let bad_id = owner
        .get(stream_url(&app, ""))
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_id.status(), 422);
    assert_eq!(
        refused(reqwest::Client::new(), stream_url(&app, ""))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn an_idle_stream_gets_heartbeats_and_a_shutdown_ends_it() {
    let mut settings = EngineSettings::default();
    settings.live_feed.heartbeat = Duration::from_millis(200);
    let app = spawn_app_with(settings).await;
    let mut stream = SseReader::open(&app.client, stream_url(&app, ""), None).await;
    stream.ready().await;
    assert_eq!(
        stream.next_within(Duration::from_secs(2)).await,
        Some(Sse::Heartbeat)
    );
    assert_eq!(app.engine.live_feed_stats().streams, 1);

    app.engine.close_live_feed();
    let mut ended = false;
    for _ in 0..20 {
        match stream.next_within(Duration::from_secs(1)).await {
            Some(Sse::Heartbeat) => continue,
            None => {
                ended = true;
                break;
            }
            Some(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(ended, "the stream ends when the feed closes");
    let refused = app.client.get(stream_url(&app, "")).send().await.unwrap();
    assert_eq!(refused.status(), 503, "no new streams while shutting down");
}

#[tokio::test]
async fn a_stream_ends_at_its_maximum_age_and_resumes_only_while_signed_in() {
    let mut settings = EngineSettings::default();
    settings.live_feed.max_stream_age = Duration::from_millis(500);
    let app = spawn_app_with(settings).await;
    assert!(app.engine.seed_demo().await.unwrap().seeded);
    let zurich = studio_of(&app, "Lara Meier").await;
    let owner = app.sign_in(OWNER.0, OWNER.1).await.unwrap();
    let mut stream = SseReader::open(&owner, stream_url(&app, ""), None).await;
    stream.ready().await;
    let seen = append_events(&app, "till.opened", Some(zurich), 1).await;
    assert_eq!(stream.next_event(Duration::from_secs(2)).await.id, seen);
    assert_eq!(
        stream.next_within(Duration::from_secs(3)).await,
        None,
        "the server ends the stream after its maximum age"
    );

    // The browser reconnects with its last id and loses nothing...
    let missed = append_events(&app, "till.closed", Some(zurich), 1).await;
    let mut resumed = SseReader::open(&owner, stream_url(&app, ""), Some(seen)).await;
    assert_eq!(resumed.ready().await.resumed_from, Some(seen));
    assert_eq!(resumed.next_event(Duration::from_secs(2)).await.id, missed);

    // ...but not after signing out: the reconnect is authenticated again.
    let signed_out = owner
        .delete(app.url("/api/v1/session"))
        .header("Origin", &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 204);
    let refused = owner
        .get(stream_url(&app, ""))
        .header("Last-Event-ID", missed.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

#[tokio::test]
async fn a_second_instance_on_the_same_database_streams_the_first_ones_events() {
    let app = spawn_demo_app().await;
    // A second server on the same database, as a second process would be.
    let second = Engine::connect(app.database_url(), EngineSettings::default())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let router = payout_server::app_router(
        second.clone(),
        payout_server::leptos_options(addr).unwrap(),
        false,
    );
    tokio::spawn(async move {
        payout_server::serve_router(listener, router, std::future::pending())
            .await
            .unwrap();
    });
    let mut stream = SseReader::open(
        &app.client,
        format!("http://{addr}/api/v1/events/stream?types=payout.*"),
        None,
    )
    .await;
    stream.ready().await;

    let payout = app.commit_payout_of("Lara Meier").await;
    let created = stream.next_event(Duration::from_secs(2)).await;
    let committed = stream.next_event(Duration::from_secs(2)).await;
    assert_eq!(
        (created.event_type.as_str(), committed.event_type.as_str()),
        ("payout.created", "payout.committed")
    );
    assert_eq!(committed.entity_id.unwrap().to_string(), payout["id"]);
    second.close().await;
}
