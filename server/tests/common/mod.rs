//! Test harness: every test gets its own database, the real application router on a random
//! port, and the engine handle (to arm faults and count rows).
//!
//! The database is SQLite in a temporary directory, or, with
//! `PAYOUT_ENGINE_TEST_DATABASE=postgres`, a new database on the PostgreSQL server at
//! `PAYOUT_ENGINE_TEST_POSTGRES_URL` (a role allowed to create databases; `scripts/postgres.sh`
//! starts a local one). The same tests run on both.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use app::domain::*;
use app::engine::db;
use app::engine::{Engine, EngineSettings};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

pub struct TestApp {
    pub address: String,
    pub engine: Engine,
    /// Sends every request with an owner API key (all scopes).
    pub client: reqwest::Client,
    /// The owner API key `client` sends.
    pub owner_key: String,
    /// That key as an actor (`api_key:<id>`), the namespace of its idempotency keys.
    pub owner_actor: String,
    database: TestDatabase,
}

/// Keeps a test's database alive: the SQLite file's directory (deleted on drop), or the name of
/// its PostgreSQL database (dropped by the test script after the run: dropping needs a
/// connection, and `Drop` cannot wait for one).
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// With `RUST_LOG` set (e.g. `RUST_LOG=app=debug`), the engine's and server's logs are shown
/// with each failing test's output.
pub fn show_server_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let installed = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        // Err: an earlier test of this binary installed it already.
        drop(installed);
    }
}

/// Whether the tests run on PostgreSQL (`PAYOUT_ENGINE_TEST_DATABASE=postgres`).
pub fn on_postgres() -> bool {
    match std::env::var("PAYOUT_ENGINE_TEST_DATABASE").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("PAYOUT_ENGINE_TEST_DATABASE={other}: expected sqlite or postgres"),
    }
}

/// A new, empty database for one test on the selected backend.
pub async fn test_database() -> TestDatabase {
    if !on_postgres() {
        let dir = tempfile::tempdir().expect("temp dir");
        return TestDatabase {
            url: format!("sqlite://{}", dir.path().join("test.db").display()),
            _dir: Some(dir),
        };
    }
    use sqlx::Connection as _;
    let server = std::env::var("PAYOUT_ENGINE_TEST_POSTGRES_URL").expect(
        "PAYOUT_ENGINE_TEST_DATABASE=postgres needs PAYOUT_ENGINE_TEST_POSTGRES_URL \
         (e.g. eval \"$(bash scripts/postgres.sh)\")",
    );
    let name = format!("pe_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .unwrap_or_else(|error| panic!("cannot reach the test PostgreSQL server: {error}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create the test database");
    admin.close().await.expect("close the admin connection");
    let mut url = reqwest::Url::parse(&server).expect("PAYOUT_ENGINE_TEST_POSTGRES_URL");
    url.set_path(&format!("/{name}"));
    TestDatabase {
        url: url.to_string(),
        _dir: None,
    }
}

/// How long a test request may take before it fails: far above any request's time on a busy
/// machine, so a request that never ends fails its test, naming the URL, instead of holding
/// the suite until CI's time limit (seen once: a page render that never answered).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// An HTTP client that sends `Authorization: Bearer <key>` with every request.
pub fn bearer_client(key: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_str(&format!("Bearer {key}")).expect("header"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client")
}

/// Starts the app on an empty, migrated database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(EngineSettings {
        pending_grace: Duration::ZERO,
        ..EngineSettings::default()
    })
    .await
}

/// Starts the app with the demo data set seeded.
pub async fn spawn_demo_app() -> TestApp {
    let app = spawn_app().await;
    let report = app.engine.seed_demo().await.expect("demo seed");
    assert!(report.seeded);
    app
}

pub async fn spawn_app_with(settings: EngineSettings) -> TestApp {
    let database = test_database().await;
    let url = database.url.clone();
    spawn_app_at(database, &url, settings).await
}

/// Starts the app on `database`, connecting through `connect_url` (its own URL, or one that
/// reaches it another way, e.g. through a proxy a test can cut).
pub async fn spawn_app_at(
    database: TestDatabase,
    connect_url: &str,
    settings: EngineSettings,
) -> TestApp {
    show_server_logs();
    let engine = Engine::connect(connect_url, settings)
        .await
        .expect("engine");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let options = payout_server::leptos_options(addr).expect("leptos options");
    let router = payout_server::app_router(engine.clone(), options, true);
    tokio::spawn(async move {
        payout_server::serve_router(listener, router, std::future::pending())
            .await
            .expect("server");
    });
    let created = engine
        .create_api_key(
            &app::engine::access::Caller::operator("test"),
            &ApiKeyRequest {
                name: "test harness".into(),
                role: Role::Owner,
                studio_id: None,
                scopes: None,
            },
        )
        .await
        .expect("owner API key");
    let owner_key = created.key;
    let owner_actor = format!("api_key:{}", created.info.id);
    TestApp {
        address: format!("http://{addr}"),
        engine,
        client: bearer_client(&owner_key),
        owner_key,
        owner_actor,
        database,
    }
}

impl TestApp {
    /// The URL of this test's database (for a second engine on it).
    pub fn database_url(&self) -> &str {
        &self.database.url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Runs the inbox worker's rounds until nothing is waiting (what the server's worker does in
    /// the background), so a test sees the applied result deterministically.
    pub async fn drain_payment_inbox(&self) {
        while self
            .engine
            .process_payment_inbox(500)
            .await
            .expect("an inbox round")
            > 0
        {}
    }

    /// Commits the whole unpaid period of the employee named `name` through the API (events
    /// `payout.created`, `payout.committed`) and returns the payout; asserts 201.
    pub async fn commit_payout_of(&self, name: &str) -> Value {
        let employee = self.employee_named(name).await;
        let response = self
            .post(
                "/api/v1/payouts",
                &new_key(),
                &TestApp::window_request(&employee["id"]),
            )
            .await;
        assert_eq!(response.status(), 201);
        response.json().await.expect("the payout")
    }

    /// Appends `count` events of `kind` for `studio` to the event log directly, in one
    /// transaction, the `n`th (from 0) with the payload `payload(n)`: a stand-in for a burst of
    /// activity whose source does not matter to the test. Returns the newest event id.
    pub async fn append_events(
        &self,
        kind: &str,
        studio: Option<StudioId>,
        count: i64,
        payload: impl Fn(i64) -> String,
    ) -> i64 {
        let mut tx = self.engine.pool().begin().await.expect("a transaction");
        let numbers: Vec<i64> = (0..count).collect();
        for rows in numbers.chunks(1000) {
            db::insert_values(
                "INSERT INTO events (occurred_at, kind, studio_id, entity_id, payload)",
                rows,
                5,
                |q, n| {
                    q.bind(chrono::Utc::now())
                        .bind(kind.to_string())
                        .bind(studio)
                        .bind(uuid::Uuid::new_v4())
                        .bind(payload(*n))
                },
            )
            .execute(&mut tx)
            .await
            .expect("events appended");
        }
        tx.commit().await.expect("events committed");
        db::query_scalar("SELECT MAX(id) FROM events")
            .fetch_one(self.engine.pool())
            .await
            .expect("the newest event id")
    }

    /// POSTs JSON with an idempotency key.
    pub async fn post(&self, path: &str, key: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    pub async fn employee_named(&self, name: &str) -> Value {
        let employees = self.get_json("/api/v1/employees").await;
        employees
            .as_array()
            .expect("array")
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no employee {name}"))
    }

    pub async fn count(&self, table: &str) -> i64 {
        db::query_scalar(format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.engine.pool())
            .await
            .expect("count")
    }

    /// Row counts of every table a request could write to.
    pub async fn snapshot(&self) -> Vec<(String, i64)> {
        let mut counts = Vec::new();
        for table in [
            "service_records",
            "day_records",
            "payouts",
            "payout_lines",
            "idempotency_keys",
            "events",
        ] {
            counts.push((table.to_string(), self.count(table).await));
        }
        counts
    }

    /// Live claims that point at the same record twice (must always be 0).
    pub async fn double_claims(&self) -> i64 {
        db::query_scalar(
            "SELECT COUNT(*) FROM (
                 SELECT COALESCE(service_record_id, day_record_id) AS record
                 FROM payout_lines WHERE NOT released GROUP BY 1 HAVING COUNT(*) > 1) AS doubles",
        )
        .fetch_one(self.engine.pool())
        .await
        .expect("double claims")
    }

    /// Commits the demo window's payout of the employee named `employee` with the run stopped
    /// before `phase`, as if the process had died there: the request is answered 503 and the
    /// payout stays `pending`. Returns the employee.
    pub async fn interrupt_payout_of(
        &self,
        employee: &str,
        phase: app::domain::PayoutPhase,
    ) -> Value {
        let person = self.employee_named(employee).await;
        self.engine.faults().arm(app::engine::faults::Fault {
            phase,
            kind: app::engine::faults::FaultKind::Crash,
            times: 1,
        });
        let interrupted = self
            .post(
                "/api/v1/payouts",
                &uuid::Uuid::new_v4().to_string(),
                &TestApp::window_request(&person["id"]),
            )
            .await;
        assert_eq!(
            interrupted.status(),
            503,
            "an interrupted payout answers 503"
        );
        person
    }

    /// The full 60-day demo window as a payout request for `employee_id`.
    pub fn window_request(employee_id: &Value) -> Value {
        serde_json::json!({
            "employee_id": employee_id,
            "period_start": app::engine::demo::window_start().to_string(),
            "period_end": app::engine::demo::window_end().to_string(),
        })
    }

    pub async fn payouts_of(&self, employee_id: &Value, state: Option<PayoutState>) -> Vec<Value> {
        let mut path = format!(
            "/api/v1/payouts?employee_id={}",
            employee_id.as_str().expect("id")
        );
        if let Some(state) = state {
            path.push_str(&format!("&state={state}"));
        }
        self.get_json(&path)
            .await
            .as_array()
            .expect("array")
            .clone()
    }
}

impl TestApp {
    /// A client signed in as `email` (a cookie session, like a browser), or the refusal.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
    ) -> Result<reqwest::Client, reqwest::Response> {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("client");
        let response = client
            .post(self.url("/api/v1/session"))
            .header("Origin", &self.address)
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("sign-in request");
        if response.status().is_success() {
            Ok(client)
        } else {
            Err(response)
        }
    }
}

/// A server function's refusal as the page receives it: the status and the `AppError` (with its
/// problem as data). Panics, showing the body, when the body is not an `AppError`.
pub async fn server_fn_refusal(response: reqwest::Response) -> (u16, app::domain::AppError) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("a response body");
    let error = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, error)
}

pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The `payout-engine` binary, without the caller's `DATABASE_URL`, logging errors only.
pub fn binary() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_payout-engine"));
    command.env_remove("DATABASE_URL").env("RUST_LOG", "error");
    command
}

/// Starts `payout-engine serve` on `url` on a random port, with `extra` arguments and `env`
/// variables; returns the child and its base URL once it listens. Its log is echoed to the
/// test's output (a failing test then shows what the server did).
pub fn start_server(
    url: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = binary()
        .args(["--database-url", url, "serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .env("PAYOUT_ENGINE_PENDING_GRACE_SECS", "0")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut output = BufReader::new(child.stdout.take().unwrap());
    // `--demo` may first say whether it seeded.
    for _ in 0..5 {
        line.clear();
        output.read_line(&mut line).unwrap();
        if line.contains("running at http://") {
            break;
        }
    }
    assert!(line.contains("running at http://"), "start-up line: {line}");
    // Keep reading the server's log (tracing writes to stdout), so the server never writes into
    // a closed pipe.
    std::thread::spawn(move || {
        for log in output.lines() {
            match log {
                Ok(log) => eprintln!("[server] {log}"),
                Err(_) => break,
            }
        }
    });
    let start = line.find("http://").expect("URL in the start-up line");
    let base = line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    (child, base)
}
