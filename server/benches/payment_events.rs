//! Payment-event ingestion (issue 6), side by side in one run so machine noise hits every way and
//! backend alike (release mode):
//! - events/s through `POST /api/v1/payment-events/batch` (500 events a request, one client);
//! - events/s and latency (median, p99) of single-event `POST /api/v1/payment-events` from 64
//!   concurrent clients;
//! - the bare-SQL floor: the same rows as multi-row INSERTs of 500 into a plain table;
//! - the inbox worker applying what was ingested (events/s);
//! - the wall time of a full replay (`payout-engine replay`: generate, ingest, apply, compare).
//!
//! SQLite always; PostgreSQL too when `PAYOUT_ENGINE_TEST_POSTGRES_URL` is set (a role that may
//! create databases; the bench creates `pe_bench_*` databases and drops them). Run:
//! `cargo bench -p payout-engine --bench payment_events`. `BENCH_EVENTS` (default 50,000) sets
//! the events sent through the batch endpoint and the floor, `BENCH_REQUESTS` (default 6,400)
//! the single-event requests, `REPLAY_EVENTS` (default 1,200,000; 0 = skip) the replay's size.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use app::domain::{IngestReport, PaymentEventRequest, StudioId};
use app::engine::{db, Engine, EngineSettings};
use payout_server::replay::{self, generate, ReplayOptions, StreamOptions};
use sqlx::Connection as _;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use support::*;

/// Concurrent HTTP clients of the single-event benchmark.
const CLIENTS: usize = 64;

/// Events per batch request (the endpoint's maximum).
const BATCH: usize = app::domain::MAX_PAYMENT_EVENT_BATCH;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

struct Backend {
    name: &'static str,
    engine: Engine,
    base: String,
    client: reqwest::Client,
}

async fn connect(url: &str) -> Engine {
    Engine::connect(
        url,
        EngineSettings {
            // Room for 64 clients' reads; writes queue on the write lock either way.
            max_connections: 16,
            ..EngineSettings::default()
        },
    )
    .await
    .unwrap()
}

async fn backend(name: &'static str, url: &str, studios: &[StudioId]) -> Backend {
    let engine = connect(url).await;
    replay::create_studios(&engine, studios).await.unwrap();
    db::query(
        "CREATE TABLE bench_floor_events (event_key TEXT NOT NULL, studio_id TEXT NOT NULL,
         provider TEXT NOT NULL, provider_payment_id TEXT NOT NULL, event_type TEXT NOT NULL,
         amount BIGINT NOT NULL, currency TEXT NOT NULL, occurred_at TEXT NOT NULL,
         received_at TEXT NOT NULL)",
    )
    .execute(engine.pool())
    .await
    .unwrap();
    let base = serve(&engine).await;
    let client = owner_client(&engine).await;
    Backend {
        name,
        engine,
        base,
        client,
    }
}

/// Valid, distinct events (first deliveries only): every one is accepted once.
fn fresh_events(stream: &generate::GeneratedStream) -> Vec<PaymentEventRequest> {
    let studios: HashSet<StudioId> = stream.studios.iter().copied().collect();
    let mut keys = HashSet::new();
    stream
        .events
        .iter()
        .filter(|e| replay::reference::valid_at_the_boundary(e, &studios))
        .filter(|e| {
            keys.insert((
                e.provider.clone(),
                e.provider_payment_id.clone(),
                e.event_type,
                e.occurred_at,
            ))
        })
        .cloned()
        .collect()
}

/// Sends `events` in batches of [`BATCH`], one request at a time; the wall time.
async fn via_batches(b: &Backend, events: &[PaymentEventRequest]) -> Duration {
    let url = format!("{}/api/v1/payment-events/batch", b.base);
    let began = Instant::now();
    for chunk in events.chunks(BATCH) {
        let response = b
            .client
            .post(&url)
            .json(&serde_json::json!({ "events": chunk }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        let report: IngestReport = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(report.accepted, chunk.len(), "{:?}", report.results.first());
    }
    began.elapsed()
}

/// Sends `events` one per request from [`CLIENTS`] concurrent clients; the wall time and each
/// request's latency.
async fn via_single_requests(
    b: &Backend,
    events: Vec<PaymentEventRequest>,
) -> (Duration, Vec<Duration>) {
    let events = Arc::new(events);
    let began = Instant::now();
    let workers = (0..CLIENTS).map(|worker| {
        let client = b.client.clone();
        let url = format!("{}/api/v1/payment-events", b.base);
        let events = events.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            for i in (worker..events.len()).step_by(CLIENTS) {
                let sent = Instant::now();
                let response = client.post(&url).json(&events[i]).send().await.unwrap();
                let status = response.status();
                let bytes = response.bytes().await.unwrap();
                latencies.push(sent.elapsed());
                assert_eq!(status, 202, "{}", String::from_utf8_lossy(&bytes));
            }
            latencies
        })
    });
    let mut latencies = Vec::with_capacity(events.len());
    for worker in futures::future::join_all(workers).await {
        latencies.extend(worker.unwrap());
    }
    (began.elapsed(), latencies)
}

/// The floor: the same rows as multi-row INSERTs of [`BATCH`] into a plain table (no keys, no
/// checks, no inbox); the wall time.
async fn floor(b: &Backend, events: &[PaymentEventRequest]) -> Duration {
    let began = Instant::now();
    for chunk in events.chunks(BATCH) {
        let now = chrono::Utc::now().to_rfc3339();
        db::insert_values(
            "INSERT INTO bench_floor_events (event_key, studio_id, provider, provider_payment_id,
             event_type, amount, currency, occurred_at, received_at)",
            chunk,
            9,
            |row, e| {
                row.bind(app::engine::payments::payment_event_key(
                    &e.provider,
                    &e.provider_payment_id,
                    e.event_type,
                    e.occurred_at,
                ))
                .bind(e.studio_id.to_string())
                .bind(e.provider.clone())
                .bind(e.provider_payment_id.clone())
                .bind(e.event_type.as_str())
                .bind(e.amount)
                .bind(e.currency.clone())
                .bind(e.occurred_at.to_rfc3339())
                .bind(now.clone())
            },
        )
        .execute(b.engine.pool())
        .await
        .unwrap();
    }
    began.elapsed()
}

/// Applies the inbox until nothing is waiting; the wall time and the events taken.
async fn apply_inbox(b: &Backend) -> (Duration, usize) {
    let began = Instant::now();
    let mut taken = 0;
    loop {
        let n = b.engine.process_payment_inbox(BATCH).await.unwrap();
        if n == 0 {
            return (began.elapsed(), taken);
        }
        taken += n;
    }
}

/// A PostgreSQL database of its own on `server`; its URL and name.
async fn postgres_database(admin: &mut sqlx::PgConnection, server: &str) -> (String, String) {
    let name = format!("pe_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut *admin)
        .await
        .unwrap();
    let mut url = reqwest::Url::parse(server).unwrap();
    url.set_path(&format!("/{name}"));
    (url.to_string(), name)
}

fn rate(events: usize, wall: Duration) -> String {
    format!("{:.0}", events as f64 / wall.as_secs_f64())
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let batch_events = env_usize("BENCH_EVENTS", 50_000);
        let requests = env_usize("BENCH_REQUESTS", 6_400);
        let replay_events = env_usize("REPLAY_EVENTS", 1_200_000);
        let postgres = std::env::var("PAYOUT_ENGINE_TEST_POSTGRES_URL").ok();

        // One realistic stream; its valid first deliveries are the benchmark's events.
        let stream = generate::generate(StreamOptions {
            events: (batch_events + requests) * 3 / 2 + 1_000,
            studios: 500,
            seed: 2026,
        });
        let events = fresh_events(&stream);
        assert!(events.len() >= batch_events + requests, "stream too small");
        let (for_batches, rest) = events.split_at(batch_events);
        let for_singles = rest[..requests].to_vec();

        let dir = tempfile::tempdir().unwrap();
        let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let mut backends = vec![backend("SQLite", &sqlite_url, &stream.studios).await];
        let mut admin = None;
        let mut databases = Vec::new();
        if let Some(server) = &postgres {
            let mut connection = sqlx::PgConnection::connect(server).await.unwrap();
            let (url, name) = postgres_database(&mut connection, server).await;
            databases.push(name);
            backends.push(backend("PostgreSQL", &url, &stream.studios).await);
            admin = Some(connection);
        } else {
            println!("PAYOUT_ENGINE_TEST_POSTGRES_URL is not set: SQLite only");
        }

        // Warm-up: a few batches and single requests (statement caches, connections), applied.
        let warm = &for_batches[..BATCH.min(for_batches.len())];
        let (warm_single, measured_single) = for_singles.split_at(CLIENTS.min(for_singles.len()));
        for b in &backends {
            via_batches(b, warm).await;
            via_single_requests(b, warm_single.to_vec()).await;
            floor(b, warm).await;
            apply_inbox(b).await;
        }
        let measured_batches = &for_batches[warm.len()..];
        let mut rows = Vec::new();
        for b in &backends {
            let batch_wall = via_batches(b, measured_batches).await;
            let floor_wall = floor(b, measured_batches).await;
            let (single_wall, latencies) =
                via_single_requests(b, measured_single.to_vec()).await;
            let (apply_wall, applied) = apply_inbox(b).await;
            rows.push((b.name, batch_wall, floor_wall, single_wall, latencies, apply_wall, applied));
        }

        println!();
        println!("| backend | way | events | events/s | median ms | p99 ms |");
        println!("|---|---|---:|---:|---:|---:|");
        for (name, batch_wall, floor_wall, single_wall, latencies, apply_wall, applied) in rows {
            let n = measured_batches.len();
            println!("| {name} | batch endpoint ({BATCH} a request, 1 client) | {n} | {} | | |", rate(n, batch_wall));
            println!("| {name} | floor (multi-row INSERT of {BATCH}, plain table) | {n} | {} | | |", rate(n, floor_wall));
            let count = latencies.len();
            let s = stats(latencies);
            println!(
                "| {name} | single-event requests ({CLIENTS} clients) | {count} | {} | {} | {} |",
                rate(count, single_wall),
                ms(s.median),
                ms(s.p99)
            );
            println!("| {name} | inbox worker applying them | {applied} | {} | | |", rate(applied, apply_wall));
        }
        for b in &backends {
            b.engine.close().await;
        }

        if replay_events > 0 {
            println!();
            println!("| backend | replay events | discrepancies | ingestion events/s | end-to-end events/s | wall s |");
            println!("|---|---:|---:|---:|---:|---:|");
            let replay_dir = tempfile::tempdir().unwrap();
            let mut targets = vec![(
                "SQLite",
                format!("sqlite://{}", replay_dir.path().join("replay.db").display()),
            )];
            if let (Some(server), Some(connection)) = (&postgres, admin.as_mut()) {
                let (url, name) = postgres_database(connection, server).await;
                databases.push(name);
                targets.push(("PostgreSQL", url));
            }
            for (name, url) in targets {
                let engine = Engine::connect(&url, EngineSettings::default()).await.unwrap();
                let report = replay::run(
                    &engine,
                    ReplayOptions {
                        stream: StreamOptions {
                            events: replay_events,
                            ..StreamOptions::default()
                        },
                        ..ReplayOptions::default()
                    },
                )
                .await
                .unwrap();
                engine.close().await;
                println!(
                    "| {name} | {} | {} | {:.0} | {:.0} | {:.1} |",
                    report.stream.delivered,
                    report.discrepancies,
                    report.ingest_rate(),
                    report.end_to_end_rate(),
                    report.wall_time.as_secs_f64()
                );
                for line in &report.described {
                    println!("  {line}");
                }
            }
        }

        if let Some(connection) = admin.as_mut() {
            for name in databases {
                sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                    .execute(&mut *connection)
                    .await
                    .unwrap();
            }
        }
    });
}
