//! SQLite and PostgreSQL side by side (release mode), in one run so machine noise hits both:
//! - the payout benchmark on each backend: 210 records by the engine, the naive per-record way
//!   and the bare-SQL floor, and 10,000 records by the engine and the floor;
//! - service-record registration over HTTP (the real router, API keys, idempotency keys, ledger
//!   postings, activity log): requests per second and latency at 64 concurrent clients.
//!
//! Needs a PostgreSQL server: `PAYOUT_ENGINE_TEST_POSTGRES_URL` (a role that may create databases;
//! `eval "$(bash scripts/postgres.sh)"` starts a local one). The bench creates a database
//! `pe_bench_*` and drops it afterwards. Run: `cargo bench -p payout-engine --bench backends`
//! (or `./scripts/bench.sh`). `BENCH_SAMPLES` (default 31) sets the payout samples,
//! `BENCH_REQUESTS` (default 6,400) the registrations per backend.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use app::engine::{Engine, EngineSettings};
use sqlx::Connection as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use support::*;

/// Concurrent HTTP clients of the registration benchmark.
const CLIENTS: usize = 64;

struct Backend {
    name: &'static str,
    fixture: Fixture,
    base: String,
    client: reqwest::Client,
}

async fn backend(name: &'static str, url: &str) -> Backend {
    let engine = Engine::connect(
        url,
        EngineSettings {
            // Room for 64 clients' reads; writes queue on the write lock either way.
            max_connections: 16,
            ..EngineSettings::default()
        },
    )
    .await
    .unwrap();
    let base = serve(&engine).await;
    let client = owner_client(&engine).await;
    Backend {
        name,
        fixture: Fixture::new(engine).await,
        base,
        client,
    }
}

/// Registers `total` services over HTTP from [`CLIENTS`] concurrent clients; the wall time and
/// each request's latency.
async fn registrations(b: &Backend, total: usize) -> (Duration, Vec<Duration>) {
    let (employee, start, _) = employee_with_records(&b.fixture, 1).await;
    let body = Arc::new(serde_json::json!({
        "employee_id": employee,
        "service_id": b.fixture.service,
        "price": 9_500,
        "tip": 500,
        "payment_method": "card",
        "performed_on": start,
    }));
    let began = Instant::now();
    let workers = (0..CLIENTS).map(|worker| {
        let client = b.client.clone();
        let url = format!("{}/api/v1/service-records", b.base);
        let body = body.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            for _ in (worker..total).step_by(CLIENTS) {
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                    .json(&*body)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let bytes = response.bytes().await.unwrap();
                latencies.push(sent.elapsed());
                assert_eq!(status, 201, "{}", String::from_utf8_lossy(&bytes));
            }
            latencies
        })
    });
    let mut latencies = Vec::with_capacity(total);
    for worker in futures::future::join_all(workers).await {
        latencies.extend(worker.unwrap());
    }
    (began.elapsed(), latencies)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = std::env::var("PAYOUT_ENGINE_TEST_POSTGRES_URL").expect(
            "set PAYOUT_ENGINE_TEST_POSTGRES_URL (eval \"$(bash scripts/postgres.sh)\")",
        );
        let samples: usize = std::env::var("BENCH_SAMPLES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(31);
        let large = (samples / 3).max(3);
        let requests: usize = std::env::var("BENCH_REQUESTS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(6_400);

        let dir = tempfile::tempdir().unwrap();
        let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let name = format!("pe_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut postgres_url = reqwest::Url::parse(&server).unwrap();
        postgres_url.set_path(&format!("/{name}"));

        let backends = [
            backend("SQLite", &sqlite_url).await,
            backend("PostgreSQL", postgres_url.as_str()).await,
        ];
        // Warm-up (statement caches, page caches, connections).
        for b in &backends {
            for _ in 0..3 {
                via_engine(&b.fixture, 210).await;
                naive(&b.fixture, 210).await;
                floor(&b.fixture, 210).await;
            }
            registrations(b, CLIENTS * 4).await;
        }
        // Payouts: the ways and the backends interleaved, sample by sample.
        let mut payout_210: Vec<[Vec<Duration>; 3]> = vec![Default::default(), Default::default()];
        for _ in 0..samples {
            for (b, times) in backends.iter().zip(payout_210.iter_mut()) {
                times[0].push(via_engine(&b.fixture, 210).await);
                times[1].push(naive(&b.fixture, 210).await);
                times[2].push(floor(&b.fixture, 210).await);
            }
        }
        let mut payout_10k: Vec<[Vec<Duration>; 2]> = vec![Default::default(), Default::default()];
        for _ in 0..large {
            for (b, times) in backends.iter().zip(payout_10k.iter_mut()) {
                times[0].push(via_engine(&b.fixture, 10_000).await);
                times[1].push(floor(&b.fixture, 10_000).await);
            }
        }
        // Registrations: each backend in turn, twice, alternating.
        let mut throughput: Vec<(Duration, Vec<Duration>)> = vec![
            (Duration::ZERO, Vec::new()),
            (Duration::ZERO, Vec::new()),
        ];
        for _ in 0..2 {
            for (b, result) in backends.iter().zip(throughput.iter_mut()) {
                let (wall, latencies) = registrations(b, requests / 2).await;
                result.0 += wall;
                result.1.extend(latencies);
            }
        }

        let sqlite_engine = stats(payout_210[0][0].clone()).median;
        let ratio = |d: Duration| d.as_secs_f64() / sqlite_engine.as_secs_f64();
        println!();
        println!("| backend | payout | way | samples | median ms | p95 ms | median vs SQLite engine (210) |");
        println!("|---|---|---|---:|---:|---:|---:|");
        let ways = ["engine", "naive (one statement per record)", "floor (one bare SQL transaction)"];
        for (b, times) in backends.iter().zip(&payout_210) {
            for (way, samples) in ways.iter().zip(times) {
                let s = stats(samples.clone());
                println!("| {} | 210 records | {way} | {} | {} | {} | {:.2}x |", b.name, s.samples, ms(s.median), ms(s.p95), ratio(s.median));
            }
        }
        for (b, times) in backends.iter().zip(&payout_10k) {
            for (way, samples) in ["engine", "floor (one bare SQL transaction)"].iter().zip(times) {
                let s = stats(samples.clone());
                println!("| {} | 10,000 records | {way} | {} | {} | {} | {:.2}x |", b.name, s.samples, ms(s.median), ms(s.p95), ratio(s.median));
            }
        }
        println!();
        println!("| backend | service registrations over HTTP | clients | requests/s | median ms | p99 ms |");
        println!("|---|---:|---:|---:|---:|---:|");
        for (b, (wall, latencies)) in backends.iter().zip(throughput) {
            let count = latencies.len();
            let s = stats(latencies);
            println!("| {} | {count} | {CLIENTS} | {:.0} | {} | {} |", b.name, count as f64 / wall.as_secs_f64(), ms(s.median), ms(s.p99));
        }

        for b in &backends {
            b.fixture.engine.close().await;
        }
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
    });
}
