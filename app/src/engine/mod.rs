//! Server-only engine: the one place that reads and writes the database. Server functions and the
//! JSON API both call it, so the UI and integrations share every rule, transaction and idempotency
//! check. It owns the SQL; it must never be bypassed with ad-hoc writes, and it must never discard
//! an error: each failure is logged with `tracing` and returned as an [`AppError`].

pub mod access;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod day_records;
pub mod demo;
pub mod events;
pub mod faults;
pub mod idempotency;
pub mod ledger;
pub mod notifications;
pub mod payouts;
pub mod refunds;
pub mod till;

use crate::domain::AppError;
use chrono::{DateTime, NaiveDate, Utc};
use faults::FaultInjector;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The time zone every calendar date in the product is in (the studios are in Switzerland).
pub const STUDIO_TIME_ZONE: chrono_tz::Tz = chrono_tz::Europe::Zurich;

/// Tunables of the engine.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// How long a `pending` payout may run before it is shown as needing attention. A payout
    /// normally commits in milliseconds; one still pending after this was interrupted.
    pub pending_grace: Duration,
    /// How long an in-flight idempotency key blocks a retry (409) before a retry may take over
    /// (the first request's process is presumed dead).
    pub idempotency_lease: Duration,
    /// Connection pool size.
    pub max_connections: u32,
    /// A payout pending longer than this is an audit finding (`payout_stuck`).
    pub stuck_payout_age: Duration,
    /// Telegram alerts; `None` writes no messages.
    pub telegram: Option<notifications::TelegramSettings>,
    /// How long a sign-in lasts (absolute, not sliding): a receptionist's working day.
    pub session_ttl: Duration,
    /// Sign-in attempt limits per account and per IP.
    pub login_limits: auth::LoginLimits,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            pending_grace: Duration::from_secs(30),
            idempotency_lease: Duration::from_secs(60),
            max_connections: 8,
            stuck_payout_age: Duration::from_secs(3600),
            telegram: None,
            session_ttl: Duration::from_secs(12 * 3600),
            login_limits: auth::LoginLimits::default(),
        }
    }
}

/// Handle to the engine; cheap to clone (the pool and fault injector are shared).
#[derive(Clone)]
pub struct Engine {
    pool: SqlitePool,
    faults: Arc<FaultInjector>,
    login_limiter: Arc<auth::LoginLimiter>,
    settings: EngineSettings,
}

/// Which database backend the engine runs on (reported by `/healthz`).
pub const BACKEND_NAME: &str = "sqlite";

impl Engine {
    /// Opens (creating if needed) the SQLite database at `database_url` (`sqlite://path`,
    /// `sqlite::memory:`), runs the embedded migrations and returns the engine.
    ///
    /// Errors: a URL that is not `sqlite:`, a directory that cannot be created, a file that cannot
    /// be opened or written, a failed migration — each with the path in the message.
    pub async fn connect(database_url: &str, settings: EngineSettings) -> anyhow::Result<Engine> {
        use anyhow::Context as _;
        if !database_url.starts_with("sqlite:") {
            anyhow::bail!(
                "unsupported DATABASE_URL '{database_url}': expected sqlite://PATH (PostgreSQL support is tracked separately)"
            );
        }
        let options = SqliteConnectOptions::from_str(database_url)
            .with_context(|| format!("invalid DATABASE_URL '{database_url}'"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let filename = options.get_filename().to_path_buf();
        let in_memory = database_url.contains(":memory:") || filename.as_os_str().is_empty();
        if !in_memory {
            if let Some(parent) = filename.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).with_context(|| {
                    format!(
                        "cannot create the database directory '{}'",
                        parent.display()
                    )
                })?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(if in_memory {
                1
            } else {
                settings.max_connections
            })
            .acquire_timeout(Duration::from_secs(15))
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open the database '{}'", filename.display()))?;
        let engine = Engine {
            pool,
            faults: Arc::new(FaultInjector::default()),
            login_limiter: Arc::new(auth::LoginLimiter::new(&settings.login_limits)),
            settings,
        };
        engine.migrate().await?;
        Ok(engine)
    }

    /// Applies the embedded migrations (idempotent).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        use anyhow::Context as _;
        sqlx::migrate!("../migrations/sqlite")
            .run(&self.pool)
            .await
            .context("database migration failed")?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("no database connection for the start-up maintenance")?;
        ledger::ensure_accounts(&mut conn)
            .await
            .context("opening the ledger accounts")?;
        // One deployment is one business until studios are created for another explicitly.
        sqlx::query(
            "INSERT INTO businesses (id, name, created_at)
             SELECT $1, 'Studios', $2 WHERE NOT EXISTS (SELECT 1 FROM businesses)",
        )
        .bind(crate::domain::BusinessId::generate())
        .bind(now())
        .execute(&mut *conn)
        .await
        .context("creating the deployment's business")?;
        drop(conn);
        self.run_maintenance()
            .await
            .context("start-up maintenance")?;
        Ok(())
    }

    /// Runs the one-off maintenance tasks the migrations queued (`maintenance_tasks`) and marks
    /// each done. Tasks are idempotent, so a crash before the mark simply runs one again.
    async fn run_maintenance(&self) -> Result<(), AppError> {
        let pending: Vec<String> = sqlx::query_scalar(
            "SELECT task FROM maintenance_tasks WHERE done_at IS NULL ORDER BY task",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("listing maintenance tasks"))?;
        for task in pending {
            match task.as_str() {
                "ledger_backfill" => {
                    let written = self.backfill_ledger().await?;
                    tracing::info!(
                        written,
                        "maintenance: posted the transfers of records that predate the ledger"
                    );
                }
                unknown => {
                    return Err(AppError::Internal {
                        message: format!(
                            "unknown maintenance task '{unknown}' (a newer version's migration?)"
                        ),
                    })
                }
            }
            sqlx::query("UPDATE maintenance_tasks SET done_at = $2 WHERE task = $1")
                .bind(&task)
                .bind(now())
                .execute(&self.pool)
                .await
                .map_err(db_error("marking a maintenance task done"))?;
        }
        Ok(())
    }

    /// The connection pool, for tests, benchmarks and the audit.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The engine's fault injector (inert unless a test arms it).
    pub fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    /// The engine's settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Checks the database answers (for `/healthz`).
    pub async fn ping(&self) -> Result<(), AppError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error("health check"))?;
        Ok(())
    }

    /// Starts a write transaction that takes SQLite's write lock up front (`BEGIN IMMEDIATE`), so
    /// read-then-write phases never fail to upgrade their lock under concurrency.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, AppError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error("begin transaction"))
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Today's date in the studios' time zone.
pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&STUDIO_TIME_ZONE).date_naive()
}

/// The business day (Europe/Zurich) an instant falls on.
pub fn business_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&STUDIO_TIME_ZONE).date_naive()
}

/// Current UTC time, truncated to milliseconds (what the database stores).
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// Maps a database error to an [`AppError`], logging it with what was being done. Pool
/// exhaustion and I/O failures become 503 (retry later); anything else an opaque 500.
pub(crate) fn db_error(context: &'static str) -> impl Fn(sqlx::Error) -> AppError {
    move |error| {
        tracing::error!(error = %error, context, "database error");
        let transient = matches!(
            error,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
        );
        if transient {
            AppError::Unavailable {
                message: format!(
                    "the database is not available right now ({context}); please retry in a moment"
                ),
            }
        } else {
            AppError::Internal {
                message: format!("an unexpected database error happened while {context}; it is logged on the server"),
            }
        }
    }
}

/// Whether a database error is a unique-constraint violation on the named index or table.
pub(crate) fn is_unique_violation(error: &sqlx::Error, index_or_column: &str) -> bool {
    error.as_database_error().is_some_and(|db| {
        db.is_unique_violation()
            && (db.message().contains(index_or_column)
                || db.constraint().is_some_and(|c| c == index_or_column))
    })
}
