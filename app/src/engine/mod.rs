//! Server-only engine: the one place that reads and writes the database. Server functions and the
//! JSON API both call it, so the UI and integrations share every rule, transaction and idempotency
//! check. It owns the SQL; it must never be bypassed with ad-hoc writes, and it must never discard
//! an error: each failure is logged with `tracing` and returned as an [`AppError`].

pub mod access;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod dashboard;
pub mod day_records;
pub mod db;
pub mod demo;
pub mod events;
pub mod exports;
pub mod faults;
pub mod feed;
pub mod idempotency;
pub mod iso20022;
pub mod ledger;
pub mod notifications;
pub mod payments;
pub mod payouts;
pub mod refunds;
pub mod schema;
pub mod settlements;
pub mod slips;
pub mod till;
pub mod webhooks;

use crate::domain::AppError;
use chrono::{DateTime, NaiveDate, Utc};
use db::{Backend, DbPool, DbTransaction};
use faults::FaultInjector;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
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
    /// Connection pool size (per server process).
    pub max_connections: u32,
    /// How long a request waits for a free pooled connection (or for a new one to open) before
    /// it is answered 503.
    pub acquire_timeout: Duration,
    /// How long a write transaction waits for the write lock (SQLite's busy timeout; on
    /// PostgreSQL the `lock_timeout` of the advisory write lock) before it fails with 503.
    pub lock_timeout: Duration,
    /// A payout pending longer than this is an audit finding (`payout_stuck`).
    pub stuck_payout_age: Duration,
    /// Telegram alerts; `None` writes no messages.
    pub telegram: Option<notifications::TelegramSettings>,
    /// How long a sign-in lasts (absolute, not sliding): a receptionist's working day.
    pub session_ttl: Duration,
    /// Sign-in attempt limits per account and per IP.
    pub login_limits: auth::LoginLimits,
    /// Outbound webhook delivery.
    pub webhooks: webhooks::WebhookSettings,
    /// The live feed of domain events (server-sent events).
    pub live_feed: feed::LiveFeedSettings,
    /// Lines of a bank statement matched per transaction ([`Engine::import_bank_statement`]):
    /// each step commits, shows the import's progress and lets other writers take their turn
    /// (a month of a studio is a few hundred lines; a 10 MiB file about 20,000).
    pub statement_step_lines: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            pending_grace: Duration::from_secs(30),
            idempotency_lease: Duration::from_secs(60),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(15),
            lock_timeout: Duration::from_secs(10),
            stuck_payout_age: Duration::from_secs(3600),
            telegram: None,
            session_ttl: Duration::from_secs(12 * 3600),
            login_limits: auth::LoginLimits::default(),
            webhooks: webhooks::WebhookSettings::default(),
            live_feed: feed::LiveFeedSettings::default(),
            statement_step_lines: 250,
        }
    }
}

/// Handle to the engine; cheap to clone (the pool and fault injector are shared).
#[derive(Clone)]
pub struct Engine {
    pool: DbPool,
    /// SQLite on a file: the one connection every write transaction runs on (see
    /// [`SqliteConnections`]); `None` on PostgreSQL and for in-memory databases.
    sqlite_writer: Option<sqlx::SqlitePool>,
    faults: Arc<FaultInjector>,
    login_limiter: Arc<auth::LoginLimiter>,
    settings: EngineSettings,
    /// Rung when payment events were stored, to wake this instance's inbox worker.
    inbox_signal: Arc<tokio::sync::Notify>,
    /// Payment events waiting for the inbox's next group commit.
    ingest_group: Arc<payments::IngestGroup>,
    /// SQLite: this process's writers take turns here (see [`db::WriterQueue`]).
    writers: db::WriterQueue,
    /// The businesses' studio lists, shared by their callers' requests.
    studio_directory: Arc<auth::StudioDirectory>,
    /// The API keys seen recently (a short-lived copy of their rows).
    api_keys: Arc<auth::ApiKeyDirectory>,
    /// The live feed's streams and tailer.
    live_feed: Arc<feed::LiveFeed>,
}

/// The key of the transaction-scoped PostgreSQL advisory lock every write transaction takes
/// (see [`Engine::begin_write`]): "PAYOUT" in ASCII.
const WRITE_LOCK_KEY: i64 = 0x5041_594f_5554;

impl Engine {
    /// Connects to the database `database_url` names, runs the embedded migrations and returns
    /// the engine:
    /// - `sqlite://PATH` (created if missing, with its directory) or `sqlite::memory:`;
    /// - `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (or `postgresql://`); the database must
    ///   exist.
    ///
    /// Errors: any other scheme, a directory that cannot be created, a database that cannot be
    /// opened or reached, a failed migration — each with the database in the message (never the
    /// password).
    pub async fn connect(database_url: &str, settings: EngineSettings) -> anyhow::Result<Engine> {
        let (pool, sqlite_writer) = if database_url.starts_with("sqlite:") {
            let connections = connect_sqlite(database_url, &settings).await?;
            (DbPool::Sqlite(connections.pool), connections.writer)
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            (connect_postgres(database_url, &settings).await?, None)
        } else {
            anyhow::bail!(
                "unsupported DATABASE_URL '{}': expected sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE",
                redact_password(database_url)
            );
        };
        let engine = Engine {
            pool,
            sqlite_writer,
            faults: Arc::new(FaultInjector::default()),
            login_limiter: Arc::new(auth::LoginLimiter::new(&settings.login_limits)),
            settings,
            inbox_signal: Arc::new(tokio::sync::Notify::new()),
            ingest_group: Arc::new(payments::IngestGroup::default()),
            writers: db::WriterQueue::default(),
            studio_directory: Arc::default(),
            api_keys: Arc::default(),
            live_feed: Arc::default(),
        };
        engine.migrate().await?;
        Ok(engine)
    }

    /// Applies the embedded migrations (idempotent).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        use anyhow::Context as _;
        match &self.pool {
            DbPool::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite").run(pool).await,
            DbPool::Postgres(pool) => sqlx::migrate!("../migrations/postgres").run(pool).await,
        }
        .context("database migration failed")?;
        schema::upgrade(&self.pool)
            .await
            .context("database schema upgrade failed")?;
        // Under the write lock: several instances starting at once create one business.
        let mut tx = self
            .begin_write()
            .await
            .context("no database connection for the start-up maintenance")?;
        ledger::ensure_accounts(&mut tx)
            .await
            .context("opening the ledger accounts")?;
        // One deployment is one business until studios are created for another explicitly.
        db::query(
            "INSERT INTO businesses (id, name, created_at)
             SELECT $1, 'Studios', $2 WHERE NOT EXISTS (SELECT 1 FROM businesses)",
        )
        .bind(crate::domain::BusinessId::generate())
        .bind(now())
        .execute(&mut tx)
        .await
        .context("creating the deployment's business")?;
        tx.commit()
            .await
            .context("committing the start-up maintenance")?;
        self.run_maintenance()
            .await
            .context("start-up maintenance")?;
        Ok(())
    }

    /// Runs the one-off maintenance tasks the migrations queued (`maintenance_tasks`) and marks
    /// each done. Tasks are idempotent, so a crash before the mark simply runs one again.
    async fn run_maintenance(&self) -> Result<(), AppError> {
        let pending: Vec<String> = db::query_scalar(
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
            db::query("UPDATE maintenance_tasks SET done_at = $2 WHERE task = $1")
                .bind(&task)
                .bind(now())
                .execute(&self.pool)
                .await
                .map_err(db_error("marking a maintenance task done"))?;
        }
        Ok(())
    }

    /// The connection pool, for tests, benchmarks and the audit.
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Which database the engine runs on.
    pub fn backend(&self) -> Backend {
        self.pool.backend()
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
        db::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error("health check"))?;
        Ok(())
    }

    /// Starts a write transaction. Writers are serialised, so read-then-write phases (claim the
    /// records, verify the totals, check a balance) see no concurrent change between the read
    /// and the write, on every server instance:
    /// - SQLite takes its database write lock up front (`BEGIN IMMEDIATE`), so the lock never
    ///   has to be upgraded mid-transaction (which fails under concurrency);
    /// - PostgreSQL takes one transaction-scoped advisory lock ([`WRITE_LOCK_KEY`]), the same
    ///   discipline across any number of processes; it is released at commit or rollback, also
    ///   when a process dies. Readers never wait for it.
    ///
    /// Waiting longer than [`EngineSettings::lock_timeout`] for the lock is a 503 (retry later).
    pub(crate) async fn begin_write(&self) -> Result<DbTransaction, AppError> {
        match &self.pool {
            DbPool::Sqlite(pool) => {
                let turn = self
                    .writers
                    .turn(self.settings.lock_timeout)
                    .await
                    .map_err(|_elapsed| {
                        tracing::error!(
                            timeout_ms = self.settings.lock_timeout.as_millis(),
                            "no turn to write within the lock timeout"
                        );
                        AppError::Unavailable {
                            message:
                                "the database is busy with other changes; please retry in a moment"
                                    .into(),
                        }
                    })?;
                let tx = self
                    .sqlite_writer
                    .as_ref()
                    .unwrap_or(pool)
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(db_error("begin transaction"))?;
                Ok(DbTransaction::Sqlite(tx, Some(turn)))
            }
            DbPool::Postgres(pool) => {
                let mut tx = pool
                    .begin()
                    .await
                    .map(DbTransaction::Postgres)
                    .map_err(db_error("begin transaction"))?;
                db::query(
                    "SELECT set_config('lock_timeout', $1, true), pg_advisory_xact_lock($2)::text",
                )
                .bind(format!("{}ms", self.settings.lock_timeout.as_millis()))
                .bind(WRITE_LOCK_KEY)
                .execute(&mut tx)
                .await
                .map_err(db_error("taking the write lock"))?;
                Ok(tx)
            }
        }
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        if let Some(writer) = &self.sqlite_writer {
            writer.close().await;
        }
        self.pool.close().await;
    }
}

/// The connections to one SQLite database.
///
/// SQLite keeps a page cache per connection and throws it away whenever another connection
/// has committed a change. With write transactions taking any pooled connection, ingestion and
/// the inbox worker took turns invalidating each other's caches, and every transaction read its
/// index pages from the operating system again (a 1.2 M-event replay spent a fifth of its CPU
/// copying pages in and out of the kernel). Write transactions are serialised anyway
/// ([`Engine::begin_write`]), so they all run on one connection whose cache stays valid.
struct SqliteConnections {
    /// Readers (and the few writes outside [`Engine::begin_write`], which wait for SQLite's
    /// lock like another process's writer).
    pool: sqlx::SqlitePool,
    /// The writer: one connection with a larger page cache; `None` for an in-memory database,
    /// which exists once per connection and so has only `pool`'s.
    writer: Option<sqlx::SqlitePool>,
}

/// Page cache of the writer connection, in KiB: the inbox key index, the payments and the
/// right-hand edges of the ledger's B-trees of a busy year stay in memory. Taken only as pages
/// are read.
const SQLITE_WRITER_CACHE_KIB: u32 = 256 * 1024;

/// Opens (creating if needed) the SQLite database at `database_url`.
async fn connect_sqlite(
    database_url: &str,
    settings: &EngineSettings,
) -> anyhow::Result<SqliteConnections> {
    use anyhow::Context as _;
    let options = SqliteConnectOptions::from_str(database_url)
        .with_context(|| format!("invalid DATABASE_URL '{database_url}'"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(settings.lock_timeout)
        .foreign_keys(true)
        // SQLite's default page cache is 2 MiB per connection: the inbox, payments and ledger
        // indexes of a busy day do not fit, and every statement re-reads their pages from the
        // operating system. 64 MiB (negative = KiB) is only taken as pages are read.
        .pragma("cache_size", "-65536")
        // Statement journals (SQLite's undo record of a multi-row statement inside a
        // transaction) and temporary indexes stay in memory: on disk they were a third of a
        // replay's page writes.
        .pragma("temp_store", "memory");
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
        // An in-memory database exists once per connection: one connection, one database.
        .max_connections(if in_memory {
            1
        } else {
            settings.max_connections
        })
        .acquire_timeout(settings.acquire_timeout)
        .connect_with(options.clone())
        .await
        .with_context(|| format!("cannot open the database '{}'", filename.display()))?;
    let writer = if in_memory {
        None
    } else {
        Some(
            SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(settings.acquire_timeout)
                .connect_with(
                    options
                        .pragma("cache_size", format!("-{SQLITE_WRITER_CACHE_KIB}"))
                        .pragma(
                            "wal_autocheckpoint",
                            SQLITE_WRITER_AUTOCHECKPOINT_PAGES.to_string(),
                        ),
                )
                .await
                .with_context(|| {
                    format!(
                        "cannot open the database '{}' for writing",
                        filename.display()
                    )
                })?,
        )
    };
    if writer.is_some() {
        tokio::spawn(checkpoint_in_background(pool.clone()));
    }
    Ok(SqliteConnections { pool, writer })
}

/// How often [`checkpoint_in_background`] copies the write-ahead log into the database file.
const SQLITE_CHECKPOINT_EVERY: Duration = Duration::from_millis(20);

/// The writer's own checkpoint threshold, in pages of the write-ahead log (80 MiB of 4 KiB
/// pages): a backstop that keeps the log bounded should [`checkpoint_in_background`] fall
/// behind; SQLite's default is 1,000.
const SQLITE_WRITER_AUTOCHECKPOINT_PAGES: u32 = 20_000;

/// Copies the write-ahead log into the database file every [`SQLITE_CHECKPOINT_EVERY`], on a
/// reader connection of `pool`, until the pool is closed.
///
/// SQLite's own checkpoint runs in the commit that pushes the log past 1,000 pages: inside the
/// write transaction's turn, with every other writer waiting while it copies the pages and
/// waits for `fsync`. A replay of 100,000 events wrote 2 GB for a 100 MB database, half of it
/// checkpoints. A passive checkpoint on another connection does the same copy concurrently with
/// the writer (it never blocks a writer or a reader), on the other core, and pages changed by
/// several commits in between are copied once.
async fn checkpoint_in_background(pool: sqlx::SqlitePool) {
    loop {
        tokio::time::sleep(SQLITE_CHECKPOINT_EVERY).await;
        if pool.is_closed() {
            return;
        }
        match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
        {
            Ok(_) => {}
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                // The writer's own checkpoints take over (SQLITE_WRITER_AUTOCHECKPOINT_PAGES);
                // a second's pause keeps a lasting failure from filling the log.
                tracing::warn!(%error, "background WAL checkpoint failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Connects to the PostgreSQL database at `database_url`.
async fn connect_postgres(database_url: &str, settings: &EngineSettings) -> anyhow::Result<DbPool> {
    use anyhow::Context as _;
    let shown = redact_password(database_url);
    let options = PgConnectOptions::from_str(database_url)
        .with_context(|| format!("invalid DATABASE_URL '{shown}'"))?
        .application_name("payout-engine");
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        // A connection that saw the server go away is tested before reuse, so requests after a
        // database restart do not fail on a dead connection.
        .test_before_acquire(true)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot connect to the database '{shown}'"))?;
    Ok(DbPool::Postgres(pool))
}

/// `database_url` with its password replaced by `***`, for messages and logs.
pub fn redact_password(database_url: &str) -> String {
    match (database_url.find("://"), database_url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &database_url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &database_url[..scheme_end + 3],
                    &credentials[..colon],
                    &database_url[at..]
                ),
                None => database_url.to_string(),
            }
        }
        _ => database_url.to_string(),
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
        ) || error
            .as_database_error()
            .and_then(|db| db.code())
            .is_some_and(|code| is_transient_code(&code));
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

/// Whether a database error code means "try again later" rather than a bug:
/// - PostgreSQL SQLSTATEs: class 08 (connection lost), 53 (insufficient resources, e.g. too many
///   connections), 57 (operator intervention: the server is shutting down or restarting),
///   `55P03` (a lock timeout ran out), `40001`/`40P01` (serialization failure, deadlock);
/// - SQLite (numeric) result codes whose primary code is 5 (`SQLITE_BUSY`: the write lock was
///   not free within the busy timeout) or 6 (`SQLITE_LOCKED`), extended codes included.
fn is_transient_code(code: &str) -> bool {
    // SQLSTATEs are five characters (some all digits); SQLite's codes are shorter numbers.
    if code.len() != 5 {
        return code
            .parse::<i32>()
            .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6));
    }
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57")
        || matches!(code, "55P03" | "40001" | "40P01")
}

/// Whether a database error is a unique-constraint violation of one constraint, named as each
/// backend reports it: SQLite by its columns (`"payouts.employee_id"`), PostgreSQL by the
/// constraint or unique index name (`"payouts_one_open_per_employee"`).
pub(crate) fn is_unique_violation(
    error: &sqlx::Error,
    sqlite_columns: &str,
    postgres_constraint: &str,
) -> bool {
    error.as_database_error().is_some_and(|db| {
        db.is_unique_violation()
            && (db.constraint() == Some(postgres_constraint)
                || db.message().contains(sqlite_columns))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_is_shown_without_its_password() {
        assert_eq!(
            redact_password("postgres://payouts:s3cr%40t@db.internal:5432/payouts"),
            "postgres://payouts:***@db.internal:5432/payouts"
        );
        assert_eq!(
            redact_password("postgres://payouts@db.internal/payouts"),
            "postgres://payouts@db.internal/payouts"
        );
        assert_eq!(redact_password("sqlite://data/p.db"), "sqlite://data/p.db");
    }

    #[test]
    fn lost_connections_lock_timeouts_and_busy_databases_are_retry_later_not_bugs() {
        for transient in [
            "08006", "57P01", "53300", "55P03", "40001", "40P01", "5", "517", "6",
        ] {
            assert!(is_transient_code(transient), "{transient}");
        }
        for bug in ["23505", "42601", "22P02", "19", "2067", "1"] {
            assert!(!is_transient_code(bug), "{bug}");
        }
    }

    /// `.cargo/config.toml` builds SQLite without its process-wide mutexes (measured in
    /// docs/replay.md); a `LIBSQLITE3_FLAGS` set in the environment would silently replace it.
    #[tokio::test]
    async fn sqlite_is_built_without_its_process_wide_mutexes() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:")
            .await
            .expect("an in-memory database");
        let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options")
            .fetch_all(&pool)
            .await
            .expect("compile options");
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "memory statistics are on: {options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "one page-cache group for all connections: {options:?}"
        );
    }
}
