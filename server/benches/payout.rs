//! Payout benchmark (release mode): commits payouts of 210 and 10,000 records on SQLite and
//! prints median and p95 latency side by side with the naive way (one statement per record, as
//! the no-code system's browser loop did) and the floor (the same rows written by one bare SQL
//! transaction, no engine). Also the 210-record payout over HTTP, and the process's peak RSS
//! after serving the demo data and committing a 10,000-record payout over HTTP.
//!
//! Run: `cargo bench -p payout-engine --bench payout` (or `./scripts/bench.sh`). Each sample uses a
//! fresh employee with freshly inserted records, so no sample reuses another's data.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use app::engine::db;
use app::engine::{Engine, EngineSettings};

mod support;

use support::*;

async fn fixture(dir: &std::path::Path) -> Fixture {
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    Fixture::new(
        Engine::connect(&url, EngineSettings::default())
            .await
            .unwrap(),
    )
    .await
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
        let base = serve(&f.engine).await;
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
        let demo_base = serve(&demo).await;
        let client = owner_client(&demo).await;
        for page in ["/", "/reception", "/owner", "/employees", "/api/v1/employees", "/api/v1/payouts"] {
            let status = client.get(format!("{demo_base}{page}")).send().await.unwrap().status();
            assert!(status.is_success(), "{page}: {status}");
        }
        let big = Fixture { engine: demo.clone(), studio: f.studio, service: f.service };
        // The demo engine needs the bench studio and service too.
        db::query("INSERT INTO studios (id, name, created_at) VALUES ($1, 'Bench studio', $2)")
            .bind(f.studio)
            .bind(chrono::Utc::now())
            .execute(demo.pool())
            .await
            .unwrap();
        db::query("INSERT INTO services (id, studio_id, name, category, list_price) VALUES ($1, $2, 'Cut', 'hair', 9500)")
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
