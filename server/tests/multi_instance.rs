//! Several server processes on one database (issue 5), on the harness's backend (SQLite file or
//! PostgreSQL with `PAYOUT_ENGINE_TEST_DATABASE=postgres`): whatever process a retry, a Finish or
//! a background worker runs in, money moves once.
//! - 200 concurrent commit and Finish requests for one payout, spread over two processes: one
//!   committed payout, one ledger transfer, one message to the employee.
//! - A process killed (SIGKILL) in the middle of a payout, holding the write lock: the other
//!   process finishes the payout, paid once.
//! - The database going away under load (PostgreSQL, through a proxy the test cuts): requests fail
//!   cleanly with 503 and nothing half-written, and succeed again when it is back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::domain::*;
use app::engine::db;
use app::engine::{Engine, EngineSettings};
use axum::extract::State;
use axum::Json;
use common::*;
use serde_json::{json, Value};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LARA: &str = "Lara Meier";
const LARA_CHAT: &str = "lara-chat";
/// Lara's demo payout: 212 records, CHF 18,080.00.
const LARA_RECORDS: i64 = 212;
const LARA_TOTAL: i64 = 1_808_000;

/// One `payout-engine serve` process.
struct Instance {
    child: Child,
    base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SIGKILL; the test is over (or failing) and the process must not outlive it.
        if let Err(error) = self.child.kill() {
            eprintln!("could not kill a server process (already gone?): {error}");
        }
        if let Err(error) = self.child.wait() {
            eprintln!("could not reap a server process: {error}");
        }
    }
}

/// Runs a CLI verb on `url`; returns its standard output.
fn cli(url: &str, args: &[&str]) -> String {
    let output = binary()
        .args(["--database-url", url])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Starts `serve` on a random port, with Telegram pointed at `telegram` and no scheduled audit.
fn start(url: &str, telegram: &str, extra: &[&str]) -> Instance {
    let args: Vec<&str> = ["--demo", "--audit-schedule", "off"]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    let (child, base) = start_server(
        url,
        &args,
        &[
            ("PAYOUT_ENGINE_TELEGRAM_BOT_TOKEN", "123456:SECRET-token"),
            ("PAYOUT_ENGINE_TELEGRAM_API_BASE", telegram),
            ("PAYOUT_ENGINE_TELEGRAM_CHAT_IDS", "owner-chat"),
        ],
    );
    Instance { child, base }
}

/// A fake Telegram Bot API that records the chat id of every message.
#[derive(Clone, Default)]
struct FakeTelegram {
    chats: Arc<Mutex<Vec<String>>>,
}

impl FakeTelegram {
    async fn serve() -> (FakeTelegram, String) {
        async fn send_message(
            State(fake): State<FakeTelegram>,
            Json(body): Json<Value>,
        ) -> Json<Value> {
            let chat = body["chat_id"].as_str().unwrap_or_default().to_string();
            fake.chats.lock().unwrap().push(chat);
            Json(json!({"ok": true, "result": {"message_id": 1}}))
        }
        let fake = FakeTelegram::default();
        let router = axum::Router::new()
            .route("/{bot}/sendMessage", axum::routing::post(send_message))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (fake, address)
    }

    fn messages_to(&self, chat: &str) -> usize {
        self.chats
            .lock()
            .unwrap()
            .iter()
            .filter(|c| *c == chat)
            .count()
    }
}

/// A demo database with an owner API key and Lara's Telegram chat id; the engine handle (for
/// counting rows) and the key.
async fn demo_database() -> (TestDatabase, Engine, String) {
    let database = test_database().await;
    let url = database.url.clone();
    let key = tokio::task::spawn_blocking(move || {
        cli(&url, &["seed-demo"]);
        cli(
            &url,
            &[
                "api-key",
                "create",
                "--name",
                "multi-instance test",
                "--role",
                "owner",
            ],
        )
    })
    .await
    .unwrap()
    .trim()
    .to_string();
    let engine = Engine::connect(&database.url, EngineSettings::default())
        .await
        .unwrap();
    db::query("UPDATE employees SET telegram_chat_id = $1 WHERE name = $2")
        .bind(LARA_CHAT)
        .bind(LARA)
        .execute(engine.pool())
        .await
        .unwrap();
    (database, engine, key)
}

async fn lara_id(engine: &Engine) -> EmployeeId {
    db::query_scalar("SELECT id FROM employees WHERE name = $1")
        .bind(LARA)
        .fetch_one(engine.pool())
        .await
        .unwrap()
}

/// Lara's payouts (state, record count, total), her payout transfers and her employee messages,
/// counted in the database.
async fn lara_books(engine: &Engine) -> (Vec<(String, i64, i64)>, i64, i64) {
    let lara = lara_id(engine).await;
    let payouts: Vec<(String, i64, i64)> = db::query_as(
        "SELECT state, record_count, total FROM payouts
         WHERE employee_id = $1 AND period_start >= $2 ORDER BY created_at",
    )
    .bind(lara)
    .bind(app::engine::demo::window_start())
    .fetch_all(engine.pool())
    .await
    .unwrap();
    let transfers: i64 = db::query_scalar(
        "SELECT COUNT(*) FROM ledger_transfers t JOIN payouts p ON p.id = t.cause_id
         WHERE t.kind = 'payout_committed' AND p.employee_id = $1 AND p.period_start >= $2",
    )
    .bind(lara)
    .bind(app::engine::demo::window_start())
    .fetch_one(engine.pool())
    .await
    .unwrap();
    let messages: i64 = db::query_scalar("SELECT COUNT(*) FROM notifications WHERE recipient = $1")
        .bind(LARA_CHAT)
        .fetch_one(engine.pool())
        .await
        .unwrap();
    (payouts, transfers, messages)
}

fn lara_request(lara: EmployeeId) -> Value {
    json!({
        "employee_id": lara,
        "period_start": app::engine::demo::window_start().to_string(),
        "period_end": app::engine::demo::window_end().to_string(),
    })
}

/// Waits (up to 30 s) until the fake Telegram has a message for `chat`, then a few delivery
/// rounds more, so a second delivery by the other process would have arrived.
async fn delivered_to(fake: &FakeTelegram, chat: &str) -> usize {
    let started = Instant::now();
    while fake.messages_to(chat) == 0 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    fake.messages_to(chat)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_commits_and_finishes_over_two_processes_pay_once() {
    let (database, engine, key) = demo_database().await;
    let (fake, telegram) = FakeTelegram::serve().await;
    let instances = [
        start(&database.url, &telegram, &[]),
        start(&database.url, &telegram, &[]),
    ];
    let client = bearer_client(&key);
    let lara = lara_id(&engine).await;

    // 200 commits of the same payout: half retry one shared idempotency key, half are fresh
    // clicks with their own key; alternate processes.
    let commits = (0..200).map(|i| {
        let client = client.clone();
        let url = format!("{}/api/v1/payouts", instances[i % 2].base);
        let key = if i % 2 == 0 {
            "the-shared-commit".to_string()
        } else {
            format!("click-{i}")
        };
        async move {
            let response = client
                .post(url)
                .header("Idempotency-Key", key)
                .json(&lara_request(lara))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    });
    let answers = futures::future::join_all(commits).await;
    let mut payout_ids = std::collections::BTreeSet::new();
    for (status, body) in &answers {
        match status {
            201 | 200 => {
                assert_eq!(body["state"], "committed", "{body}");
                payout_ids.insert(body["id"].as_str().unwrap().to_string());
            }
            // Another request holds the key or the open payout, or everything is paid already.
            409 | 422 => {}
            other => panic!("unexpected answer {other}: {body}"),
        }
    }
    assert_eq!(
        payout_ids.len(),
        1,
        "every success names the same payout: {payout_ids:?}"
    );
    let payout_id = payout_ids.into_iter().next().unwrap();

    // Then Finish, also from both processes at once: all see it committed, nothing moves.
    let finishes = (0..60).map(|i| {
        let client = client.clone();
        let url = format!(
            "{}/api/v1/payouts/{payout_id}/finish",
            instances[i % 2].base
        );
        async move {
            let response = client
                .post(url)
                .header("Idempotency-Key", format!("finish-{i}"))
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    });
    for (status, body) in futures::future::join_all(finishes).await {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["state"], "committed", "{body}");
    }

    let (payouts, transfers, messages) = lara_books(&engine).await;
    assert_eq!(
        payouts,
        vec![("committed".to_string(), LARA_RECORDS, LARA_TOTAL)],
        "exactly one payout, committed with all 212 records"
    );
    assert_eq!(transfers, 1, "exactly one ledger transfer");
    assert_eq!(messages, 1, "exactly one message to Lara in the outbox");
    assert_eq!(
        delivered_to(&fake, LARA_CHAT).await,
        1,
        "delivered once, though both processes run the outbox worker"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_process_killed_mid_payout_leaves_it_to_the_other_which_finishes_it_once() {
    let (database, engine, key) = demo_database().await;
    let (fake, telegram) = FakeTelegram::serve().await;
    let mut doomed = start(&database.url, &telegram, &["--enable-fault-injection"]);
    let survivor = start(&database.url, &telegram, &[]);
    let client = bearer_client(&key);
    let lara = lara_id(&engine).await;

    // The doomed process hangs inside the phase that verifies the totals, its transaction open
    // and the write lock held, until it is killed.
    let armed = client
        .post(format!("{}/api/v1/test/faults", doomed.base))
        .json(&json!({"phase": "totals_verified", "kind": "hang"}))
        .send()
        .await
        .unwrap();
    assert!(armed.status().is_success(), "{}", armed.status());
    let hanging = tokio::spawn({
        let client = client.clone();
        let url = format!("{}/api/v1/payouts", doomed.base);
        async move {
            client
                .post(url)
                .header("Idempotency-Key", "commit-on-the-doomed-process")
                .json(&lara_request(lara))
                .send()
                .await
        }
    });
    let pending = wait_for_pending_payout(&client, &survivor.base, lara).await;

    doomed.child.kill().unwrap();
    doomed.child.wait().unwrap();
    assert!(
        hanging.await.unwrap().is_err(),
        "the killed process never answered"
    );

    let finished = client
        .post(format!("{}/api/v1/payouts/{pending}/finish", survivor.base))
        .header("Idempotency-Key", "finish-on-the-survivor")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let status = finished.status();
    let body: Value = finished.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "committed", "{body}");

    let (payouts, transfers, messages) = lara_books(&engine).await;
    assert_eq!(
        payouts,
        vec![("committed".to_string(), LARA_RECORDS, LARA_TOTAL)]
    );
    assert_eq!(transfers, 1);
    assert_eq!(messages, 1);
    assert_eq!(delivered_to(&fake, LARA_CHAT).await, 1);
}

/// Polls `base` until Lara has a pending payout (the doomed process created it and is inside a
/// later phase); its id.
async fn wait_for_pending_payout(client: &reqwest::Client, base: &str, lara: EmployeeId) -> String {
    let started = Instant::now();
    loop {
        let pending: Vec<Value> = client
            .get(format!(
                "{base}/api/v1/payouts?employee_id={lara}&state=pending"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(payout) = pending.first() {
            return payout["id"].as_str().unwrap().to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the doomed process never started the payout"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A TCP proxy in front of the database that a test can cut: every connection through it is
/// reset and new ones are refused, as while a database server restarts, until it is restored.
struct CuttableProxy {
    address: std::net::SocketAddr,
    up: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<Mutex<tokio::task::JoinSet<()>>>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> CuttableProxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = CuttableProxy {
            address: listener.local_addr().unwrap(),
            up: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            links: Arc::new(Mutex::new(tokio::task::JoinSet::new())),
        };
        let (up, links) = (proxy.up.clone(), proxy.links.clone());
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = listener.accept().await.unwrap();
                if !up.load(Ordering::SeqCst) {
                    // Refused: the "database" is down.
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                links.lock().unwrap().spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                        // Ends with an error when either side resets; nothing to report.
                        let copied =
                            tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        drop(copied);
                    }
                });
            }
        });
        proxy
    }

    /// Resets every open connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.links.lock().unwrap().abort_all();
    }

    /// Accepts connections again.
    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_database_going_away_under_load_fails_requests_cleanly_and_they_succeed_after() {
    if !on_postgres() {
        eprintln!("runs on PostgreSQL only (an embedded SQLite file cannot go away); skipped");
        return;
    }
    let database = test_database().await;
    let direct = reqwest::Url::parse(&database.url).unwrap();
    let upstream = format!(
        "{}:{}",
        direct.host_str().unwrap(),
        direct.port().unwrap_or(5432)
    );
    let proxy = CuttableProxy::start(upstream).await;
    let mut proxied = direct.clone();
    proxied.set_host(Some("127.0.0.1")).unwrap();
    proxied.set_port(Some(proxy.address.port())).unwrap();
    let app = spawn_app_at(
        database,
        proxied.as_str(),
        EngineSettings {
            acquire_timeout: Duration::from_secs(2),
            ..EngineSettings::default()
        },
    )
    .await;
    assert!(app.engine.seed_demo().await.unwrap().seeded);
    let jonas = app.employee_named("Jonas Keller").await;
    let service = app
        .engine
        .services(&app::engine::access::Caller::operator("test"))
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.studio_id.to_string() == jonas["studio_id"].as_str().unwrap())
        .unwrap();

    // 8 clients, each registering 12 services one after the other; each registration is retried
    // with its idempotency key until it is answered 201.
    const CLIENTS: usize = 8;
    const EACH: usize = 12;
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let load = (0..CLIENTS).map(|client| {
        let app = &app;
        let statuses = statuses.clone();
        let body = json!({
            "employee_id": jonas["id"],
            "service_id": service.id,
            "price": 8_500,
            "tip": 0,
            "payment_method": "card",
            "performed_on": "2026-11-20",
        });
        async move {
            for n in 0..EACH {
                let key = format!("outage-{client}-{n}");
                let started = Instant::now();
                loop {
                    let status = app
                        .post("/api/v1/service-records", &key, &body)
                        .await
                        .status()
                        .as_u16();
                    statuses.lock().unwrap().push(status);
                    if status == 201 {
                        break;
                    }
                    assert!(
                        started.elapsed() < Duration::from_secs(60),
                        "registration {key} never succeeded after the outage"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    let outage = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        proxy.cut();
        tokio::time::sleep(Duration::from_millis(500)).await;
        // As a load balancer asks: no credentials.
        let health = reqwest::get(app.url("/healthz")).await.unwrap();
        let during = (
            health.status().as_u16(),
            health.json::<Value>().await.unwrap(),
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        proxy.restore();
        during
    };
    let (_, (health_status, health)) = tokio::join!(futures::future::join_all(load), outage);

    assert_eq!(health_status, 503, "{health}");
    assert_eq!(health["status"], "unavailable", "{health}");
    let statuses = statuses.lock().unwrap().clone();
    let unavailable = statuses.iter().filter(|s| **s == 503).count();
    assert!(
        unavailable > 0,
        "the outage was noticed by the clients: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 503),
        "every answer is a success or a clean 503: {statuses:?}"
    );
    // Nothing lost, nothing twice, nothing half-written: one record per registration, each
    // with its ledger transfer, and a clean audit.
    let records: i64 =
        db::query_scalar("SELECT COUNT(*) FROM service_records WHERE performed_on = $1")
            .bind(chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap())
            .fetch_one(app.engine.pool())
            .await
            .unwrap();
    assert_eq!(records, (CLIENTS * EACH) as i64);
    let transfers: i64 = db::query_scalar(
        "SELECT COUNT(*) FROM ledger_transfers t JOIN service_records sr ON sr.id = t.id
         WHERE sr.performed_on = $1",
    )
    .bind(chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap())
    .fetch_one(app.engine.pool())
    .await
    .unwrap();
    assert_eq!(transfers, (CLIENTS * EACH) as i64);
    let audit = app
        .post("/api/v1/audits", "audit-after-outage", &json!({}))
        .await;
    assert_eq!(audit.status(), 201);
    let report: Value = audit.json().await.unwrap();
    assert_eq!(report["status"], "clean", "{report}");
    let healthy: Value = app.get_json("/healthz").await;
    assert_eq!(healthy["status"], "ok");
}
