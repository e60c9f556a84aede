//! Payout benchmark (release mode): commits payouts of 210 and 10,000 records on SQLite and
//! prints median and p95 latency side by side with the naive way (one statement per record, as
//! the no-code system's browser loop did) and the floor (the same rows written by one bare SQL
//! transaction, no engine). Also the 210-record payout over HTTP, and the process's peak RSS
//! after serving the demo data and committing a 10,000-record payout over HTTP.
//!
//! Run: `cargo bench -p payout-engine --bench payout` (or `./scripts/bench.sh`). Each sample uses a
//! fresh employee with freshly inserted records, so no sample reuses another's data.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use app::domain::*;
use app::engine::idempotency::IdempotencyKey;
use app::engine::{Engine, EngineSettings};
use chrono::NaiveDate;
use sqlx::QueryBuilder;
use std::time::{Duration, Instant};
use uuid::Uuid;

const DAY0: (i32, u32, u32) = (2026, 1, 5);

#[path = "../tests/common/books.rs"]
mod books;

struct Fixture {
    engine: Engine,
    studio: StudioId,
    service: ServiceId,
}

async fn fixture(dir: &std::path::Path) -> Fixture {
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let engine = Engine::connect(&url, EngineSettings::default())
        .await
        .unwrap();
    let (studio, service) = books::studio_with_a_service(&engine, "Bench studio").await;
    Fixture {
        engine,
        studio,
        service,
    }
}

/// A new employee with `records` service records over `records / 5` days (untimed set-up).
async fn employee_with_records(f: &Fixture, records: usize) -> (EmployeeId, NaiveDate, NaiveDate) {
    let employee = books::employee(&f.engine, f.studio, "Bench employee", 4_000).await;
    // Studio and payable accounts, as the demo seed opens them for its people.
    let mut conn = f.engine.pool().acquire().await.unwrap();
    app::engine::ledger::ensure_accounts(&mut conn)
        .await
        .unwrap();
    drop(conn);
    let start = NaiveDate::from_ymd_opt(DAY0.0, DAY0.1, DAY0.2).unwrap();
    // At most 300 days: a payout period is at most a year.
    let days = (records / 5).clamp(1, 300) as i64;
    for chunk in (0..records).collect::<Vec<_>>().chunks(2_000) {
        let mut insert = QueryBuilder::new(
            "INSERT INTO service_records (id, studio_id, employee_id, service_id, performed_on, price, tip,
             payment_method, commission_bps, commission, created_at) ",
        );
        insert.push_values(chunk, |mut row, i| {
            // Ids as the engine mints them (time-ordered v7).
            row.push_bind(Uuid::now_v7())
                .push_bind(f.studio)
                .push_bind(employee)
                .push_bind(f.service)
                .push_bind(start + chrono::Duration::days(*i as i64 % days))
                .push_bind(9_500_i64)
                .push_bind(500_i64)
                .push_bind("card")
                .push_bind(4_000_i64)
                .push_bind(3_800_i64)
                .push_bind(chrono::Utc::now());
        });
        insert.build().execute(f.engine.pool()).await.unwrap();
    }
    (employee, start, start + chrono::Duration::days(days - 1))
}

fn request(employee: EmployeeId, start: NaiveDate, end: NaiveDate) -> PayoutRequest {
    PayoutRequest {
        employee_id: employee,
        period_start: start,
        period_end: end,
        method: PayoutMethod::Bank,
    }
}

async fn via_engine(f: &Fixture, records: usize) -> Duration {
    let (employee, start, end) = employee_with_records(f, records).await;
    let key = IdempotencyKey::parse(Some(&Uuid::new_v4().to_string())).unwrap();
    let began = Instant::now();
    let payout = f
        .engine
        .commit_payout(
            &app::engine::access::Caller::operator("test"),
            &key,
            &request(employee, start, end),
        )
        .await
        .unwrap();
    let took = began.elapsed();
    assert_eq!(payout.record_count, records as i64);
    assert_eq!(payout.state, PayoutState::Committed);
    took
}

/// The naive way: read the unpaid records, then one INSERT per record (autocommit each, as N
/// requests from a browser would), then mark the payout done.
async fn naive(f: &Fixture, records: usize) -> Duration {
    let (employee, start, end) = employee_with_records(f, records).await;
    let pool = f.engine.pool();
    let began = Instant::now();
    let payout = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO payouts (id, studio_id, employee_id, period_start, period_end, state, phase, expected_record_count,
         expected_total, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', 'created', 0, 0, $6, $6)",
    )
    .bind(payout)
    .bind(f.studio)
    .bind(employee)
    .bind(start)
    .bind(end)
    .bind(chrono::Utc::now())
    .execute(pool)
    .await
    .unwrap();
    let ids: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT id, performed_on, commission + tip FROM service_records WHERE employee_id = $1 AND performed_on BETWEEN $2 AND $3",
    )
    .bind(employee)
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await
    .unwrap();
    for (id, on, amount) in &ids {
        sqlx::query("INSERT INTO payout_lines (payout_id, service_record_id, on_date, amount) VALUES ($1, $2, $3, $4)")
            .bind(payout)
            .bind(id)
            .bind(on)
            .bind(amount)
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE payouts SET state = 'committed', phase = 'committed' WHERE id = $1")
        .bind(payout)
        .execute(pool)
        .await
        .unwrap();
    let took = began.elapsed();
    assert_eq!(ids.len(), records);
    took
}

/// The floor: the same rows written by one bare transaction, no engine, no checks.
async fn floor(f: &Fixture, records: usize) -> Duration {
    let (employee, start, end) = employee_with_records(f, records).await;
    let began = Instant::now();
    let mut tx = f.engine.pool().begin().await.unwrap();
    let payout = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO payouts (id, studio_id, employee_id, period_start, period_end, state, phase, expected_record_count,
         expected_total, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'committed', 'committed', 0, 0, $6, $6)",
    )
    .bind(payout)
    .bind(f.studio)
    .bind(employee)
    .bind(start)
    .bind(end)
    .bind(chrono::Utc::now())
    .execute(&mut *tx)
    .await
    .unwrap();
    let inserted = sqlx::query(
        "INSERT INTO payout_lines (payout_id, service_record_id, on_date, amount)
         SELECT $1, id, performed_on, commission + tip FROM service_records
         WHERE employee_id = $2 AND performed_on BETWEEN $3 AND $4",
    )
    .bind(payout)
    .bind(employee)
    .bind(start)
    .bind(end)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let took = began.elapsed();
    assert_eq!(inserted.rows_affected() as usize, records);
    took
}

async fn via_http(f: &Fixture, client: &reqwest::Client, base: &str, records: usize) -> Duration {
    let (employee, start, end) = employee_with_records(f, records).await;
    let body =
        serde_json::json!({ "employee_id": employee, "period_start": start, "period_end": end });
    let began = Instant::now();
    let response = client
        .post(format!("{base}/api/v1/payouts"))
        .header("Idempotency-Key", Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let payout: serde_json::Value = response.json().await.unwrap();
    let took = began.elapsed();
    assert_eq!(status, 201, "{payout}");
    assert_eq!(payout["record_count"], records as i64);
    took
}

struct Stats {
    median: Duration,
    p95: Duration,
    samples: usize,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Stats {
        median: at(0.5),
        p95: at(0.95),
        samples: samples.len(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1_000.0)
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let f = fixture(dir.path()).await;
        let small = std::env::var("BENCH_SAMPLES").ok().and_then(|s| s.parse().ok()).unwrap_or(31_usize);
        let large = (small / 3).max(3);

        // HTTP: the real application router (API + UI) on a loopback port.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let options = payout_server::leptos_options(addr).unwrap();
        let router = payout_server::app_router(f.engine.clone(), options, false);
        tokio::spawn(async move {
            payout_server::serve_router(listener, router, std::future::pending())
                .await
                .unwrap()
        });
        let base = format!("http://{addr}");
        let client = owner_client(&f.engine).await;
        // Warm-up (statement cache, page cache, connection).
        for _ in 0..3 {
            via_engine(&f, 210).await;
            naive(&f, 210).await;
            floor(&f, 210).await;
            via_http(&f, &client, &base, 210).await;
        }
        // Interleave the four ways so machine noise hits them alike.
        let (mut engine_210, mut naive_210, mut floor_210, mut http_210) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..small {
            engine_210.push(via_engine(&f, 210).await);
            naive_210.push(naive(&f, 210).await);
            floor_210.push(floor(&f, 210).await);
            http_210.push(via_http(&f, &client, &base, 210).await);
        }
        let (mut engine_10k, mut floor_10k) = (Vec::new(), Vec::new());
        for _ in 0..large {
            engine_10k.push(via_engine(&f, 10_000).await);
            floor_10k.push(floor(&f, 10_000).await);
        }

        // Peak memory: a second engine with the demo data, its pages served, a 10,000-record payout over HTTP.
        let demo_dir = tempfile::tempdir().unwrap();
        let demo = Engine::connect(&format!("sqlite://{}", demo_dir.path().join("demo.db").display()), EngineSettings::default())
            .await
            .unwrap();
        demo.seed_demo().await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let demo_addr = listener.local_addr().unwrap();
        let router = payout_server::app_router(demo.clone(), payout_server::leptos_options(demo_addr).unwrap(), false);
        tokio::spawn(async move {
            payout_server::serve_router(listener, router, std::future::pending())
                .await
                .unwrap()
        });
        let demo_base = format!("http://{demo_addr}");
        let client = owner_client(&demo).await;
        for page in ["/", "/reception", "/owner", "/employees", "/api/v1/employees", "/api/v1/payouts"] {
            let status = client.get(format!("{demo_base}{page}")).send().await.unwrap().status();
            assert!(status.is_success(), "{page}: {status}");
        }
        let big = Fixture { engine: demo.clone(), studio: f.studio, service: f.service };
        // The demo engine needs the bench studio and service too.
        sqlx::query("INSERT INTO studios (id, name, created_at) VALUES ($1, 'Bench studio', $2)")
            .bind(f.studio)
            .bind(chrono::Utc::now())
            .execute(demo.pool())
            .await
            .unwrap();
        sqlx::query("INSERT INTO services (id, studio_id, name, category, list_price) VALUES ($1, $2, 'Cut', 'hair', 9500)")
            .bind(f.service)
            .bind(f.studio)
            .execute(demo.pool())
            .await
            .unwrap();
        let http_10k = via_http(&big, &client, &demo_base, 10_000).await;
        let rss = peak_rss_mib();

        let e210 = stats(engine_210);
        let n210 = stats(naive_210);
        let f210 = stats(floor_210);
        let e10k = stats(engine_10k);
        let f10k = stats(floor_10k);
        let h210 = stats(http_210);
        let ratio = |a: &Stats, b: &Stats| a.median.as_secs_f64() / b.median.as_secs_f64();
        println!();
        println!("| payout | way | samples | median ms | p95 ms | median vs engine |");
        println!("|---|---|---:|---:|---:|---:|");
        println!("| 210 records | engine (4 phase transactions, checks, idempotency) | {} | {} | {} | 1.00x |", e210.samples, ms(e210.median), ms(e210.p95));
        println!("| 210 records | naive (one statement per record) | {} | {} | {} | {:.2}x |", n210.samples, ms(n210.median), ms(n210.p95), ratio(&n210, &e210));
        println!("| 210 records | floor (one bare SQL transaction) | {} | {} | {} | {:.2}x |", f210.samples, ms(f210.median), ms(f210.p95), ratio(&f210, &e210));
        println!("| 210 records | engine over HTTP (JSON API, loopback) | {} | {} | {} | {:.2}x |", h210.samples, ms(h210.median), ms(h210.p95), ratio(&h210, &e210));
        println!("| 10,000 records | engine | {} | {} | {} | 1.00x |", e10k.samples, ms(e10k.median), ms(e10k.p95));
        println!("| 10,000 records | floor (one bare SQL transaction) | {} | {} | {} | {:.2}x |", f10k.samples, ms(f10k.median), ms(f10k.p95), ratio(&f10k, &e10k));
        println!();
        println!("10,000-record payout over HTTP on the demo server: {} ms", ms(http_10k));
        match rss {
            Some(mib) => println!("peak RSS (VmHWM) of the process serving the demo data and that payout: {mib:.1} MiB"),
            None => println!("peak RSS: /proc/self/status not readable on this platform"),
        }
    });
}

/// An HTTP client sending a fresh owner API key of `engine` (every request is authenticated, as
/// in production).
async fn owner_client(engine: &Engine) -> reqwest::Client {
    let created = engine
        .create_api_key(
            &app::engine::access::Caller::operator("bench"),
            &app::domain::ApiKeyRequest {
                name: "bench".into(),
                role: app::domain::Role::Owner,
                studio_id: None,
                scopes: None,
            },
        )
        .await
        .unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_str(&format!("Bearer {}", created.key)).unwrap(),
    );
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .default_headers(headers)
        .build()
        .unwrap()
}
