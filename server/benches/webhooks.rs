//! Webhook deliveries per second to a local receiver at 100 endpoints (issue 7), side by side in
//! one run so machine noise hits every way alike (release mode, SQLite):
//! - ours: the engine's fan-out and delivery rounds (lease, signed POSTs 32 at a time, one
//!   transaction of receipts per round);
//! - naive: the same engine delivering one message at a time (concurrency 1), the way a loop of
//!   "send, then record" would;
//! - floor: bare HTTP POSTs of the same bodies to the same receiver, 32 at a time, with no
//!   database, no signature and no receipt.
//!
//! Each way runs `BENCH_ROUNDS` times (default 3) on a fresh database; the table gives the
//! median. `BENCH_EVENTS` (default 50) events fan out to `BENCH_ENDPOINTS` (default 100)
//! endpoints. Run: `cargo bench -p payout-engine --bench webhooks`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use app::domain::WebhookEndpointRequest;
use app::engine::access::Caller;
use app::engine::webhooks::{webhook_client, AllowedDestinations, WebhookSettings};
use app::engine::{db, Engine, EngineSettings};
use futures::StreamExt as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

/// A receiver that answers 200 at once and counts what it got.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let router = axum::Router::new().route(
        "/hook/{n}",
        axum::routing::post(move |_body: String| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, count)
}

/// A fresh engine with `endpoints` endpoints at the receiver and `events` payout events in the
/// log (each fans out to every endpoint).
async fn prepared(
    dir: &tempfile::TempDir,
    run: usize,
    concurrency: usize,
    base: &str,
    endpoints: usize,
    events: usize,
) -> Engine {
    let url = format!(
        "sqlite://{}",
        dir.path().join(format!("bench-{run}.db")).display()
    );
    let engine = Engine::connect(
        &url,
        EngineSettings {
            webhooks: WebhookSettings {
                allowed_destinations: AllowedDestinations {
                    loopback: true,
                    ..AllowedDestinations::default()
                },
                concurrency,
                ..WebhookSettings::default()
            },
            ..EngineSettings::default()
        },
    )
    .await
    .unwrap();
    let operator = Caller::operator("bench");
    for n in 0..endpoints {
        engine
            .create_webhook_endpoint(
                &operator,
                &WebhookEndpointRequest {
                    url: format!("{base}/hook/{n}"),
                    ..WebhookEndpointRequest::default()
                },
            )
            .await
            .unwrap();
    }
    let payload =
        serde_json::json!({"id": uuid::Uuid::new_v4(), "total": 1_808_000, "currency": "CHF"})
            .to_string();
    for _ in 0..events {
        db::query(
            "INSERT INTO events (occurred_at, kind, studio_id, entity_id, payload)
             VALUES ($1, 'payout.committed', NULL, NULL, $2)",
        )
        .bind(chrono::Utc::now())
        .bind(payload.clone())
        .execute(engine.pool())
        .await
        .unwrap();
    }
    engine
}

/// Fans out and delivers until every message is delivered; returns the wall time.
async fn deliver_all(engine: &Engine, expected: usize) -> Duration {
    let client = webhook_client(&engine.settings().webhooks).unwrap();
    let started = Instant::now();
    while engine.dispatch_webhook_events().await.unwrap() > 0 {}
    let mut delivered = 0;
    while delivered < expected {
        let round = engine
            .deliver_due_webhooks(&client, chrono::Utc::now())
            .await
            .unwrap();
        assert_eq!(round.retrying + round.dead_lettered, 0, "{round:?}");
        assert!(
            round.attempted > 0,
            "nothing due with {delivered} of {expected} delivered"
        );
        delivered += round.delivered;
    }
    started.elapsed()
}

/// Bare POSTs of `messages` bodies, `concurrency` at a time.
async fn floor(base: &str, endpoints: usize, messages: usize, concurrency: usize) -> Duration {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let body =
        serde_json::json!({"type": "payout.committed", "data": {"total": 1_808_000}}).to_string();
    let started = Instant::now();
    futures::stream::iter(0..messages)
        .map(|n| {
            let request = client
                .post(format!("{base}/hook/{}", n % endpoints))
                .header("content-type", "application/json")
                .body(body.clone());
            async move {
                let response = request.send().await.unwrap();
                assert!(response.status().is_success());
                response.bytes().await.unwrap();
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
    started.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let endpoints = env_usize("BENCH_ENDPOINTS", 100);
        let events = env_usize("BENCH_EVENTS", 50);
        let rounds = env_usize("BENCH_ROUNDS", 3).max(1);
        let messages = endpoints * events;
        let concurrency = WebhookSettings::default().concurrency;
        let (base, received) = receiver().await;
        let dir = tempfile::tempdir().unwrap();
        let (mut ours, mut naive, mut bare) = (Vec::new(), Vec::new(), Vec::new());
        let mut run = 0;
        for _ in 0..rounds {
            for (way, width) in [("ours", concurrency), ("naive", 1)] {
                run += 1;
                let engine = prepared(&dir, run, width, &base, endpoints, events).await;
                let before = received.load(Ordering::Relaxed);
                let wall = deliver_all(&engine, messages).await;
                assert_eq!(received.load(Ordering::Relaxed) - before, messages);
                engine.close().await;
                match way {
                    "ours" => ours.push(wall),
                    _ => naive.push(wall),
                }
            }
            bare.push(floor(&base, endpoints, messages, concurrency).await);
        }
        let rate = |wall: Duration| messages as f64 / wall.as_secs_f64();
        let (ours, naive, bare) = (median(ours), median(naive), median(bare));
        println!();
        println!("{events} events × {endpoints} endpoints = {messages} deliveries, median of {rounds} runs");
        println!();
        println!("| way | deliveries/s | wall s | vs ours |");
        println!("|---|---:|---:|---:|");
        for (name, wall) in [
            (format!("ours (fan-out + signed delivery, {concurrency} at a time, receipts)"), ours),
            ("naive (the same, one at a time)".to_string(), naive),
            (format!("floor (bare POSTs, {concurrency} at a time, no database)"), bare),
        ] {
            println!(
                "| {name} | {:.0} | {:.2} | {:.2}x |",
                rate(wall),
                wall.as_secs_f64(),
                rate(wall) / rate(ours)
            );
        }
    });
}
