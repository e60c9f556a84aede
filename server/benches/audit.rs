//! Audit benchmark (release mode): 1,000,000 service records (100 employees × 10,000 over 200
//! days, ids time-ordered like the engine's UUIDv7), 20,000 day records, half of everything paid
//! by 100 committed payouts, every record posted to the ledger. Prints, side by side in one run:
//! - **engine**: `run_audit` (every check, concurrently on pool connections), median and p95;
//! - **naive**: one query per record asking whether it has its transfer, as a per-record script
//!   would (timed over 10,000 records and scaled to 1,000,000; labelled as such);
//! - **floor**: one bare scan reading what any full audit must read at least once (every
//!   posting and every service record), no checks.
//!
//! Run: `cargo bench -p payout-engine --bench audit` (or `./scripts/bench.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use app::domain::*;
use app::engine::idempotency::IdempotencyKey;
use app::engine::{Engine, EngineSettings};
use chrono::NaiveDate;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[path = "../tests/common/books.rs"]
mod books;

const EMPLOYEES: i64 = 100;
const RECORDS: i64 = 1_000_000;
const DAYS: i64 = 200;
const SAMPLES: usize = 7;
/// A record id as the engine makes them (UUIDv7: a millisecond timestamp, then random bits), so
/// ids grow in the order records are registered, here one millisecond apart from 2025-01-01.
/// (`||` on blobs yields text in SQLite, hence the concatenation in hex before `unhex`.)
const TIME_ORDERED_ID: &str = "unhex(printf('%012x', 1735689600000 + n.i) || hex(randomblob(10)))";

fn median_p95(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let median = samples[samples.len() / 2];
    let p95 = samples[((samples.len() as f64 * 0.95).ceil() as usize).min(samples.len()) - 1];
    (median, p95)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn exec(engine: &Engine, sql: &str) {
    sqlx::query(sql)
        .execute(engine.pool().as_sqlite().expect("SQLite"))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // AUDIT_BENCH_BOOKS=path: audit a kept copy instead of building the books (profiling).
        let dir = tempfile::tempdir().unwrap();
        let (url, build) = match std::env::var("AUDIT_BENCH_BOOKS") {
            Ok(path) => (format!("sqlite://{path}"), false),
            Err(_) => (format!("sqlite://{}", dir.path().join("audit.db").display()), true),
        };
        let engine = Engine::connect(&url, EngineSettings::default()).await.unwrap();
        if build {
            build_books(&engine).await;
        }

        // Warm the page cache once, as the nightly run on a live server would find it.
        let warm = engine.run_audit(&app::engine::access::Caller::operator("test"), AuditTrigger::Cli, None, None).await.unwrap();
        assert!(warm.findings.is_empty(), "the bench books must be clean: {:#?}", &warm.findings[..warm.findings.len().min(5)]);

        let mut engine_runs = Vec::new();
        let mut floor_runs = Vec::new();
        for _ in 0..SAMPLES {
            let started = Instant::now();
            let report = engine.run_audit(&app::engine::access::Caller::operator("test"), AuditTrigger::Cli, None, None).await.unwrap();
            engine_runs.push(started.elapsed());
            assert_eq!(report.run.status, AuditStatus::Clean);

            let started = Instant::now();
            let (postings, sum): (i64, i64) =
                sqlx::query_as("SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM ledger_postings")
                    .fetch_one(engine.pool().as_sqlite().expect("SQLite"))
                    .await
                    .unwrap();
            let (records, commission): (i64, i64) =
                sqlx::query_as("SELECT COUNT(*), SUM(commission) FROM service_records")
                    .fetch_one(engine.pool().as_sqlite().expect("SQLite"))
                    .await
                    .unwrap();
            floor_runs.push(started.elapsed());
            assert_eq!(sum, 0);
            assert!(postings > records && commission > 0);
        }

        // Naive: one round trip per record, over a 10,000-record sample, scaled to 1,000,000.
        let sample: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM service_records LIMIT 10000")
            .fetch_all(engine.pool().as_sqlite().expect("SQLite"))
            .await
            .unwrap();
        let started = Instant::now();
        for id in &sample {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM ledger_transfers WHERE id = $1 AND kind = 'service_registered'",
            )
            .bind(id)
            .fetch_optional(engine.pool().as_sqlite().expect("SQLite"))
            .await
            .unwrap();
            assert!(found.is_some());
        }
        let naive = started.elapsed().mul_f64(RECORDS as f64 / sample.len() as f64);

        println!("| check, run alone | ms | rows |");
        println!("|---|---:|---:|");
        for (check, took, rows) in engine.profile_audit_checks().await.unwrap() {
            println!("| {check} | {:.1} | {rows} |", took.as_secs_f64() * 1000.0);
        }

        let (engine_median, engine_p95) = median_p95(engine_runs);
        let (floor_median, floor_p95) = median_p95(floor_runs);
        println!("| audit of {RECORDS} records | median | p95 | vs floor |");
        println!("|---|---|---|---|");
        println!(
            "| engine (every check, concurrent) | {} | {} | {:.1}x |",
            ms(engine_median),
            ms(engine_p95),
            engine_median.as_secs_f64() / floor_median.as_secs_f64()
        );
        println!(
            "| naive (one query per record, transfer check only; scaled from 10,000) | {} | — | {:.0}x |",
            ms(naive),
            naive.as_secs_f64() / floor_median.as_secs_f64()
        );
        println!(
            "| floor (bare scan of postings and records, no checks) | {} | {} | 1.0x |",
            ms(floor_median),
            ms(floor_p95)
        );
    });
}

/// Builds the books: records, day records, their transfers, half of everything paid out.
/// AUDIT_BENCH_KEEP=path keeps a copy for profiling queries by hand or with AUDIT_BENCH_BOOKS.
async fn build_books(engine: &Engine) {
    let setup = Instant::now();
    let (studio, service) = books::studio_with_a_service(engine, "Bench studio").await;
    exec(
        engine,
        "CREATE TABLE bench_people (idx INTEGER PRIMARY KEY, id BLOB NOT NULL)",
    )
    .await;
    let mut employees = Vec::new();
    for idx in 0..EMPLOYEES {
        let id = books::employee(engine, studio, &format!("Bench employee {idx}"), 4_000).await;
        employees.push(id);
        sqlx::query("INSERT INTO bench_people (idx, id) VALUES ($1, $2)")
            .bind(idx)
            .bind(id)
            .execute(engine.pool().as_sqlite().expect("SQLite"))
            .await
            .unwrap();
    }
    let per_day = RECORDS / EMPLOYEES / DAYS;
    sqlx::query(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {RECORDS} - 1)
         INSERT INTO service_records (id, studio_id, employee_id, service_id, performed_on, price, tip,
                                      payment_method, commission_bps, commission, created_at)
         SELECT {TIME_ORDERED_ID}, $1, p.id, $2, date('2025-01-01', '+' || ((n.i / {EMPLOYEES}) / {per_day}) || ' days'),
                5000 + (n.i % 7) * 1000, (n.i % 3) * 500,
                CASE n.i % 3 WHEN 0 THEN 'cash' WHEN 1 THEN 'card' ELSE 'twint' END,
                4000, (5000 + (n.i % 7) * 1000) * 4000 / 10000, $3
         FROM n JOIN bench_people p ON p.idx = n.i % {EMPLOYEES}"
    ))
    .bind(studio)
    .bind(service)
    .bind(chrono::Utc::now())
    .execute(engine.pool().as_sqlite().expect("SQLite"))
    .await
    .unwrap();
    sqlx::query(&format!(
        "WITH RECURSIVE d(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM d WHERE k < {DAYS} - 1)
         INSERT INTO day_records (id, studio_id, employee_id, worked_on, deduction, guaranteed_minimum, created_at)
         SELECT unhex(printf('%012x', 1735689600000 + d.k * 86400000 + p.idx) || hex(randomblob(10))),
                $1, p.id, date('2025-01-01', '+' || d.k || ' days'),
                CASE WHEN p.idx % 2 = 0 THEN 2000 ELSE 0 END, 0, $2
         FROM d CROSS JOIN bench_people p"
    ))
    .bind(studio)
    .bind(chrono::Utc::now())
    .execute(engine.pool().as_sqlite().expect("SQLite"))
    .await
    .unwrap();
    let posting = Instant::now();
    let transfers = engine.backfill_ledger().await.unwrap();
    let posting = posting.elapsed();
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let half = start + chrono::Duration::days(DAYS / 2 - 1);
    let payouts_started = Instant::now();
    for (index, employee) in employees.iter().enumerate() {
        let key = IdempotencyKey::parse(Some(&format!("bench-audit-{index}"))).unwrap();
        let payout = engine
            .commit_payout(
                &app::engine::access::Caller::operator("test"),
                &key,
                &PayoutRequest {
                    employee_id: *employee,
                    period_start: start,
                    period_end: half,
                    method: PayoutMethod::Bank,
                },
            )
            .await
            .unwrap();
        assert_eq!(payout.state, PayoutState::Committed);
    }
    let payouts = payouts_started.elapsed();
    println!(
        "set-up: {RECORDS} service records, {} day records, {transfers} transfers posted in {}, {EMPLOYEES} payouts of {} records committed in {} (total set-up {:.0} s)",
        EMPLOYEES * DAYS,
        ms(posting),
        RECORDS / EMPLOYEES / 2 + DAYS / 2,
        ms(payouts),
        setup.elapsed().as_secs_f64()
    );

    // AUDIT_BENCH_KEEP=path: keep a copy of the books for profiling queries by hand.
    if let Ok(path) = std::env::var("AUDIT_BENCH_KEEP") {
        sqlx::query("VACUUM INTO $1")
            .bind(&path)
            .execute(engine.pool().as_sqlite().expect("SQLite"))
            .await
            .unwrap();
        println!("kept a copy of the books in {path}");
    }
}
