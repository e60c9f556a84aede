//! What the benchmarks share: a bench studio, employees with fresh records, and the three ways
//! of committing a payout (the engine, the naive per-record loop, the bare-SQL floor), written
//! once on the engine's database layer so they run on SQLite and PostgreSQL alike.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use app::domain::*;
use app::engine::db;
use app::engine::idempotency::IdempotencyKey;
use app::engine::Engine;
use chrono::NaiveDate;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[path = "../../tests/common/books.rs"]
pub mod books;

const DAY0: (i32, u32, u32) = (2026, 1, 5);

pub struct Fixture {
    pub engine: Engine,
    pub studio: StudioId,
    pub service: ServiceId,
}

impl Fixture {
    pub async fn new(engine: Engine) -> Fixture {
        let (studio, service) = books::studio_with_a_service(&engine, "Bench studio").await;
        Fixture {
            engine,
            studio,
            service,
        }
    }
}

/// A new employee with `records` service records over `records / 5` days (untimed set-up).
pub async fn employee_with_records(
    f: &Fixture,
    records: usize,
) -> (EmployeeId, NaiveDate, NaiveDate) {
    let employee = books::employee(&f.engine, f.studio, "Bench employee", 4_000).await;
    // Studio and payable accounts, as the demo seed opens them for its people.
    let mut tx = f.engine.pool().begin().await.unwrap();
    app::engine::ledger::ensure_accounts(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    let start = NaiveDate::from_ymd_opt(DAY0.0, DAY0.1, DAY0.2).unwrap();
    // At most 300 days: a payout period is at most a year.
    let days = (records / 5).clamp(1, 300) as i64;
    for chunk in (0..records).collect::<Vec<_>>().chunks(2_000) {
        db::insert_values(
            "INSERT INTO service_records (id, studio_id, employee_id, service_id, performed_on, price, tip,
             payment_method, commission_bps, commission, created_at)",
            chunk,
            11,
            |row, i| {
                // Ids as the engine mints them (time-ordered v7).
                row.bind(Uuid::now_v7())
                    .bind(f.studio)
                    .bind(employee)
                    .bind(f.service)
                    .bind(start + chrono::Duration::days(*i as i64 % days))
                    .bind(9_500_i64)
                    .bind(500_i64)
                    .bind("card")
                    .bind(4_000_i64)
                    .bind(3_800_i64)
                    .bind(chrono::Utc::now())
            },
        )
        .execute(f.engine.pool())
        .await
        .unwrap();
    }
    (employee, start, start + chrono::Duration::days(days - 1))
}

pub fn request(employee: EmployeeId, start: NaiveDate, end: NaiveDate) -> PayoutRequest {
    PayoutRequest {
        employee_id: employee,
        period_start: start,
        period_end: end,
        method: PayoutMethod::Bank,
    }
}

/// The engine: one `commit_payout`.
pub async fn via_engine(f: &Fixture, records: usize) -> Duration {
    let (employee, start, end) = employee_with_records(f, records).await;
    let key = IdempotencyKey::parse(Some(&Uuid::new_v4().to_string())).unwrap();
    let began = Instant::now();
    let payout = f
        .engine
        .commit_payout(
            &app::engine::access::Caller::operator("bench"),
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
pub async fn naive(f: &Fixture, records: usize) -> Duration {
    let (employee, start, end) = employee_with_records(f, records).await;
    let pool = f.engine.pool();
    let began = Instant::now();
    let payout = Uuid::new_v4();
    db::query(
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
    let ids: Vec<(Uuid, NaiveDate, i64)> = db::query_as(
        "SELECT id, performed_on, commission + tip FROM service_records WHERE employee_id = $1 AND performed_on BETWEEN $2 AND $3",
    )
    .bind(employee)
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await
    .unwrap();
    for (id, on, amount) in &ids {
        db::query("INSERT INTO payout_lines (payout_id, service_record_id, on_date, amount) VALUES ($1, $2, $3, $4)")
            .bind(payout)
            .bind(id)
            .bind(on)
            .bind(amount)
            .execute(pool)
            .await
            .unwrap();
    }
    db::query("UPDATE payouts SET state = 'committed', phase = 'committed' WHERE id = $1")
        .bind(payout)
        .execute(pool)
        .await
        .unwrap();
    let took = began.elapsed();
    assert_eq!(ids.len(), records);
    took
}

/// The floor: the same rows written by one bare transaction, no engine, no checks.
pub async fn floor(f: &Fixture, records: usize) -> Duration {
    let (employee, start, end) = employee_with_records(f, records).await;
    let began = Instant::now();
    let mut tx = f.engine.pool().begin().await.unwrap();
    let payout = Uuid::new_v4();
    db::query(
        "INSERT INTO payouts (id, studio_id, employee_id, period_start, period_end, state, phase, expected_record_count,
         expected_total, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'committed', 'committed', 0, 0, $6, $6)",
    )
    .bind(payout)
    .bind(f.studio)
    .bind(employee)
    .bind(start)
    .bind(end)
    .bind(chrono::Utc::now())
    .execute(&mut tx)
    .await
    .unwrap();
    let inserted = db::query(
        "INSERT INTO payout_lines (payout_id, service_record_id, on_date, amount)
         SELECT $1, id, performed_on, commission + tip FROM service_records
         WHERE employee_id = $2 AND performed_on BETWEEN $3 AND $4",
    )
    .bind(payout)
    .bind(employee)
    .bind(start)
    .bind(end)
    .execute(&mut tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let took = began.elapsed();
    assert_eq!(inserted.rows_affected() as usize, records);
    took
}

/// The engine over HTTP: one `POST /api/v1/payouts`.
pub async fn via_http(
    f: &Fixture,
    client: &reqwest::Client,
    base: &str,
    records: usize,
) -> Duration {
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

/// Starts the real application router (API + UI) for `engine` on a loopback port; its base URL.
pub async fn serve(engine: &Engine) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = payout_server::leptos_options(addr).unwrap();
    let router = payout_server::app_router(engine.clone(), options, false);
    tokio::spawn(async move {
        payout_server::serve_router(listener, router, std::future::pending())
            .await
            .unwrap()
    });
    format!("http://{addr}")
}

/// An HTTP client sending a fresh owner API key of `engine` (every request is authenticated, as
/// in production).
pub async fn owner_client(engine: &Engine) -> reqwest::Client {
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
        .pool_max_idle_per_host(256)
        .default_headers(headers)
        .build()
        .unwrap()
}

pub struct Stats {
    pub median: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub samples: usize,
}

pub fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Stats {
        median: at(0.5),
        p95: at(0.95),
        p99: at(0.99),
        samples: samples.len(),
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1_000.0)
}
