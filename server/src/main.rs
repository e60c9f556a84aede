//! `payout-engine`: the one binary. `serve` (default), `migrate`, `seed-demo`, `finish`, `audit`,
//! `bank-file`, `import-statement`, `export`, `api-key`, `user`, `replay`, `openapi`.
//! Configuration from flags or environment; every failure is a clear message and exit code 1.

use anyhow::Context as _;
use app::domain::export::rows_text;
use app::engine::access::Caller;
use app::engine::exports::{ExportDataset, ExportPeriod, ExportRequest};
use app::engine::notifications::{BotToken, TelegramSettings};
use app::engine::{Engine, EngineSettings};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "payout-engine",
    version,
    about = "Payout Engine: service records, commissions and payouts that never fail silently"
)]
struct Cli {
    /// Database URL: sqlite://PATH (embedded, the default) or
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE (shared by several server processes).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/payout-engine.db",
        global = true
    )]
    database_url: String,
    /// Seconds a pending payout may run before the banner shows it as interrupted.
    #[arg(
        long,
        env = "PAYOUT_ENGINE_PENDING_GRACE_SECS",
        default_value_t = 30,
        global = true
    )]
    pending_grace_secs: u64,
    /// Database connection pool size.
    #[arg(
        long,
        env = "PAYOUT_ENGINE_MAX_CONNECTIONS",
        default_value_t = 8,
        global = true
    )]
    max_connections: u32,
    /// Seconds a request waits for a free database connection before it is answered 503.
    #[arg(
        long,
        env = "PAYOUT_ENGINE_ACQUIRE_TIMEOUT_SECS",
        default_value_t = 15,
        global = true
    )]
    acquire_timeout_secs: u64,
    /// Seconds a change waits for the database's write lock before it is answered 503.
    #[arg(
        long,
        env = "PAYOUT_ENGINE_LOCK_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    lock_timeout_secs: u64,
    /// Seconds a payout may stay pending before the audit reports it as stuck.
    #[arg(
        long,
        env = "PAYOUT_ENGINE_STUCK_PAYOUT_SECS",
        default_value_t = 3600,
        global = true
    )]
    stuck_payout_secs: u64,
    /// Hours a sign-in lasts (absolute, from sign-in).
    #[arg(
        long,
        env = "PAYOUT_ENGINE_SESSION_HOURS",
        default_value_t = 12,
        global = true
    )]
    session_hours: u64,
    /// Telegram bot token for alerts (absent = no Telegram messages).
    #[arg(
        long,
        env = "PAYOUT_ENGINE_TELEGRAM_BOT_TOKEN",
        hide_env_values = true,
        global = true
    )]
    telegram_bot_token: Option<String>,
    /// The owner's Telegram chat ids, comma-separated (audit findings, failed payouts).
    #[arg(
        long,
        env = "PAYOUT_ENGINE_TELEGRAM_CHAT_IDS",
        value_delimiter = ',',
        global = true
    )]
    telegram_chat_ids: Vec<String>,
    /// Bot API base URL (a local fake in tests).
    #[arg(
        long,
        env = "PAYOUT_ENGINE_TELEGRAM_API_BASE",
        default_value = "https://api.telegram.org",
        global = true
    )]
    telegram_api_base: String,
    /// Non-public destinations webhooks may reach, comma-separated: loopback, private,
    /// link_local (default none: server-side request forgery protection).
    #[arg(
        long,
        env = "PAYOUT_ENGINE_WEBHOOK_ALLOW_DESTINATIONS",
        default_value = "",
        global = true,
        value_parser = app::engine::webhooks::AllowedDestinations::parse
    )]
    webhook_allow_destinations: app::engine::webhooks::AllowedDestinations,
    /// Days an endpoint may fail every attempt before it is disabled and the owner alerted.
    #[arg(
        long,
        env = "PAYOUT_ENGINE_WEBHOOK_DISABLE_AFTER_DAYS",
        default_value_t = 5,
        global = true
    )]
    webhook_disable_after_days: u64,
    /// Live feed: events buffered per stream before the oldest are dropped (and counted).
    #[arg(
        long,
        env = "PAYOUT_ENGINE_LIVE_FEED_BUFFER",
        default_value_t = 1024,
        global = true
    )]
    live_feed_buffer: usize,
    /// Live feed: streams one server process serves at once (more get 503).
    #[arg(
        long,
        env = "PAYOUT_ENGINE_LIVE_FEED_MAX_STREAMS",
        default_value_t = 256,
        global = true
    )]
    live_feed_max_streams: usize,
    /// Bank statement imports: lines matched per transaction (each step commits and reports its
    /// progress; an import stopped part-way continues from the last step when the same file is
    /// imported again).
    #[arg(
        long,
        env = "PAYOUT_ENGINE_STATEMENT_STEP_LINES",
        default_value_t = 250,
        global = true
    )]
    statement_step_lines: usize,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the web app and the JSON API (the default).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Write the deterministic demo data set (does nothing if the database has data).
    SeedDemo,
    /// Resume a pending or failed payout from its stored phase (same as the Finish payout button).
    Finish {
        /// The payout id.
        payout_id: String,
    },
    /// API keys for integrations (the key is printed once, at creation).
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// People who sign in.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Check every invariant of the books and payouts; prints each finding and exits with 1 when
    /// anything is found (0 when clean). The run is stored and shown on the owner's audit page.
    Audit {
        /// Only records, payouts and transfers of the last N days (balances are always checked
        /// in full).
        #[arg(long)]
        days: Option<i64>,
    },
    /// Collect a studio's scheduled bank payouts into a pain.001.001.09 bank file (Swiss Payment
    /// Standards) and write it to `--out` (default: `<message id>.xml` in the current directory);
    /// the payouts are then in transit. Prints the transfers and the ones skipped (no IBAN).
    BankFile {
        /// The paying studio's id.
        #[arg(long)]
        studio: String,
        /// Requested execution date (YYYY-MM-DD, a Swiss bank business day); default: the next
        /// business day.
        #[arg(long)]
        execution_date: Option<chrono::NaiveDate>,
        /// Where to write the XML.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Import a camt.053 statement or camt.054 notification (e.g. from the bank's EBICS folder)
    /// and match it to bank payouts and card batches; prints what settled, failed and stayed
    /// unmatched. Importing the same file again changes nothing.
    ImportStatement {
        /// The camt XML file.
        file: std::path::PathBuf,
    },
    /// Export the payouts, payout lines, ledger postings or Z reports of a period as CSV for the
    /// accountant (docs/exports.md describes every column): the same file as
    /// GET /api/v1/exports/DATASET.csv, of every studio unless `--studio` is given. Progress goes
    /// to standard error. The file is written under `<out>.partial` and renamed when complete, so
    /// a failed export (exit code 1) never leaves a file that looks complete.
    Export {
        /// payouts, payout-lines, ledger-transfers or z-reports.
        #[arg(value_parser = parse_dataset)]
        dataset: ExportDataset,
        /// First business day of the period (YYYY-MM-DD, Europe/Zurich), inclusive.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last business day of the period (YYYY-MM-DD), inclusive; at most 366 days in all.
        #[arg(long)]
        to: chrono::NaiveDate,
        /// Only this studio (its id).
        #[arg(long)]
        studio: Option<String>,
        /// Where to write the CSV: a file (default `DATASET-FROM-TO.csv` in the current
        /// directory), or `-` for standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Print the OpenAPI 3.1 document of the JSON API (what GET /api/v1/openapi.json serves) as
    /// JSON and exit; needs no database.
    Openapi,
    /// Parallel run of payment events (issue 6): generates a seeded provider event stream, feeds
    /// it through the real ingestion path and inbox worker, and compares every studio's payments,
    /// settlements and ledger balances with an independent reference computation. Prints the
    /// discrepancies and the throughput; exits with 1 when there is any discrepancy. Runs on a
    /// fresh SQLite file in a temporary directory (deleted afterwards) unless `--database-url`
    /// is given on the command line (DATABASE_URL from the environment is ignored here); that
    /// database must be empty.
    Replay {
        /// Events to deliver (duplicates and invalid ones included).
        #[arg(long, default_value_t = 1_200_000)]
        events: usize,
        /// Studios (merchants) the payments belong to.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        studios: u32,
        /// Seed of the generator (the same seed gives the same stream).
        #[arg(long, default_value_t = 6)]
        seed: u64,
        /// Most events the inbox worker applies in one transaction. Like the server's worker,
        /// it starts with rounds of 500 and doubles them while a backlog fills them, up to this
        /// (the server's cap is 10,000: larger rounds apply faster but hold the writer longer).
        #[arg(long, default_value_t = app::engine::payments::INBOX_BATCH_MAX as u32,
              value_parser = clap::value_parser!(u32)
                  .range(1..=app::engine::payments::INBOX_BATCH_MAX as i64))]
        round_events: u32,
        /// Batches of 500 events delivered at once, like a provider's concurrent connections
        /// (ingestion stores concurrent batches in one transaction).
        #[arg(long, default_value_t = payout_server::replay::DEFAULT_IN_FLIGHT as u32,
              value_parser = clap::value_parser!(u32).range(1..=64))]
        in_flight: u32,
    },
}

#[derive(Subcommand, Debug)]
enum ApiKeyCommand {
    /// Create a key and print it once: `pe_<prefix>_<secret>`, sent as `Authorization: Bearer`.
    Create {
        /// What uses the key, e.g. "booking system".
        #[arg(long)]
        name: String,
        /// owner or receptionist.
        #[arg(long, value_parser = parse_role)]
        role: app::domain::Role,
        /// The studio id of a receptionist key.
        #[arg(long)]
        studio: Option<String>,
        /// A scope (repeatable), e.g. `--scope payouts:read`; default every scope of the role.
        #[arg(long = "scope", value_parser = parse_scope)]
        scopes: Vec<app::domain::ApiScope>,
    },
    /// List the keys (never the keys themselves).
    List,
    /// Revoke a key by id.
    Revoke {
        /// The key's id.
        id: String,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create a user; the password is read from PAYOUT_ENGINE_NEW_PASSWORD or the first line of
    /// standard input.
    Create {
        /// Sign-in email.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// owner, receptionist or employee.
        #[arg(long, value_parser = parse_role)]
        role: app::domain::Role,
        /// A receptionist's studio id.
        #[arg(long)]
        studio: Option<String>,
        /// An employee's employee id.
        #[arg(long)]
        employee: Option<String>,
    },
    /// Set a user's password (read like `create`'s); ends their sessions and clears the demo mark.
    SetPassword {
        /// Sign-in email.
        #[arg(long)]
        email: String,
    },
    /// List the users.
    List,
}

fn parse_role(text: &str) -> Result<app::domain::Role, String> {
    app::domain::Role::parse(text)
}

fn parse_scope(text: &str) -> Result<app::domain::ApiScope, String> {
    app::domain::ApiScope::parse(text)
}

fn parse_dataset(text: &str) -> Result<ExportDataset, String> {
    ExportDataset::parse(text)
}

/// The new password: `PAYOUT_ENGINE_NEW_PASSWORD`, else the first line of standard input (never
/// a command-line argument, which other users of the machine can read in the process list).
fn read_new_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("PAYOUT_ENGINE_NEW_PASSWORD") {
        return Ok(password);
    }
    eprintln!("password (one line on standard input):");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn parse_id<T>(
    field: &str,
    text: Option<&str>,
    parse: fn(&str) -> Result<T, String>,
) -> anyhow::Result<Option<T>> {
    text.map(|t| parse(t).map_err(|m| anyhow::anyhow!("--{field}: {m}")))
        .transpose()
}

#[derive(clap::Args, Debug, Clone)]
struct ServeArgs {
    /// Address to listen on, HOST:PORT.
    #[arg(long, env = "PAYOUT_ENGINE_ADDR")]
    addr: Option<SocketAddr>,
    /// Seed the demo data set first when the database is empty.
    #[arg(long, env = "PAYOUT_ENGINE_DEMO", value_parser = clap::builder::BoolishValueParser::new())]
    demo: bool,
    /// Mount /api/v1/test/faults so tests can make payout phases fail. Never in production.
    #[arg(long, env = "PAYOUT_ENGINE_FAULT_INJECTION", value_parser = clap::builder::BoolishValueParser::new())]
    enable_fault_injection: bool,
    /// When the audit runs: cron `sec min hour day month weekday` in Europe/Zurich, or `off`.
    #[arg(long, env = "PAYOUT_ENGINE_AUDIT_SCHEDULE", default_value = app::engine::audit::AuditSchedule::DEFAULT_CRON)]
    audit_schedule: String,
    /// Seconds a payout may stay pending (interrupted between phases) before this server finishes
    /// it by itself, as Finish payout would; 0 = never (the banner waits for a person).
    #[arg(long, env = "PAYOUT_ENGINE_STALE_PAYOUT_SECS", default_value_t = 120)]
    stale_payout_secs: u64,
    /// Days back each scheduled audit checks (default: everything).
    #[arg(long, env = "PAYOUT_ENGINE_AUDIT_DAYS")]
    audit_days: Option<i64>,
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn")
            }),
        )
        .init();
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    // `replay` uses --database-url only when it is given on the command line.
    let database_url_given =
        matches.value_source("database_url") == Some(clap::parser::ValueSource::CommandLine);
    let mut cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    if cli.command.is_none() {
        // No subcommand (how cargo-leptos starts us): `serve`, with its options from the environment.
        cli = Cli::parse_from(std::env::args_os().chain([std::ffi::OsString::from("serve")]));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, database_url_given)) {
        Ok(code) => code,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "payout-engine failed");
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, database_url_given: bool) -> anyhow::Result<std::process::ExitCode> {
    let telegram = match cli.telegram_bot_token.filter(|t| !t.trim().is_empty()) {
        Some(token) => {
            let mut telegram = TelegramSettings::new(
                BotToken::new(token.trim().to_string()),
                cli.telegram_chat_ids
                    .iter()
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect(),
            );
            telegram.api_base = cli.telegram_api_base.clone();
            if telegram.owner_chat_ids.is_empty() {
                tracing::warn!("a Telegram bot token is set but no owner chat ids (PAYOUT_ENGINE_TELEGRAM_CHAT_IDS): only employees will get messages");
            }
            Some(telegram)
        }
        None => None,
    };
    let settings = EngineSettings {
        pending_grace: Duration::from_secs(cli.pending_grace_secs),
        max_connections: cli.max_connections.max(1),
        acquire_timeout: Duration::from_secs(cli.acquire_timeout_secs.max(1)),
        lock_timeout: Duration::from_secs(cli.lock_timeout_secs.max(1)),
        stuck_payout_age: Duration::from_secs(cli.stuck_payout_secs),
        telegram,
        session_ttl: Duration::from_secs(cli.session_hours.max(1) * 3600),
        webhooks: app::engine::webhooks::WebhookSettings {
            allowed_destinations: cli.webhook_allow_destinations,
            disable_after: Duration::from_secs(cli.webhook_disable_after_days.max(1) * 86_400),
            ..app::engine::webhooks::WebhookSettings::default()
        },
        live_feed: app::engine::feed::LiveFeedSettings {
            buffer: cli.live_feed_buffer.max(1),
            max_streams: cli.live_feed_max_streams.max(1),
            ..app::engine::feed::LiveFeedSettings::default()
        },
        statement_step_lines: cli.statement_step_lines.max(1),
        ..EngineSettings::default()
    };
    if let Some(Command::Openapi) = cli.command {
        let document = payout_server::api::openapi_document()
            .to_pretty_json()
            .context("could not write the OpenAPI document as JSON")?;
        println!("{document}");
        return Ok(std::process::ExitCode::SUCCESS);
    }
    if let Some(Command::Replay {
        events,
        studios,
        seed,
        round_events,
        in_flight,
    }) = cli.command
    {
        let options = payout_server::replay::ReplayOptions {
            stream: payout_server::replay::StreamOptions {
                events,
                studios: studios as usize,
                seed,
            },
            round_events: round_events as usize,
            in_flight: in_flight as usize,
        };
        let url = database_url_given.then_some(cli.database_url);
        return replay(url, settings, options).await;
    }
    let engine = Engine::connect(&cli.database_url, settings).await?;
    let operator = Caller::operator("cli");
    match cli.command.unwrap_or(Command::Serve(ServeArgs {
        addr: None,
        demo: false,
        enable_fault_injection: false,
        audit_schedule: app::engine::audit::AuditSchedule::DEFAULT_CRON.into(),
        audit_days: None,
        stale_payout_secs: 120,
    })) {
        Command::Migrate => {
            println!(
                "migrations applied to {}",
                app::engine::redact_password(&cli.database_url)
            );
        }
        Command::SeedDemo => seed(&engine).await?,
        Command::Replay { .. } | Command::Openapi => {
            anyhow::bail!("replay and openapi are handled before connecting")
        }
        Command::Audit { days } => {
            // Progress on standard error, one line per finished job; the findings go to
            // standard output.
            let progress = |step: app::engine::audit::AuditProgress| {
                eprintln!(
                    "audit: {} / {} checks ({} done)",
                    step.done, step.total, step.check
                );
            };
            let report = engine
                .run_audit_with_progress(
                    &operator,
                    app::domain::AuditTrigger::Cli,
                    days,
                    None,
                    &progress,
                )
                .await
                .map_err(|e| anyhow::anyhow!("the audit could not run: {e}"))?;
            for finding in &report.findings {
                println!(
                    "{:<24} {:<14} {:<36} {:>16}  {}",
                    finding.check,
                    finding.entity_type,
                    finding
                        .entity_id
                        .map(|id| id.to_string())
                        .unwrap_or_default(),
                    finding.amount_at_stake.to_string(),
                    finding.message
                );
            }
            if report.findings.is_empty() {
                println!("audit {}: clean", report.run.id);
            } else {
                println!(
                    "audit {}: {} findings, {} at stake",
                    report.run.id,
                    report.findings.len(),
                    report.run.amount_at_stake
                );
                engine.close().await;
                return Ok(std::process::ExitCode::from(1));
            }
        }
        Command::BankFile {
            studio,
            execution_date,
            out,
        } => {
            let studio_id = app::domain::StudioId::parse(&studio).map_err(anyhow::Error::msg)?;
            // One key per studio, date and minute: a retried command within the minute gets the
            // same file back instead of failing on an empty queue.
            let key = app::engine::idempotency::IdempotencyKey::parse(Some(&format!(
                "cli-bank-file-{studio_id}-{}-{}",
                execution_date.map(|d| d.to_string()).unwrap_or_default(),
                chrono::Utc::now().format("%Y%m%d%H%M")
            )))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let file = engine
                .create_bank_file(
                    &operator,
                    &key,
                    &app::domain::BankFileRequest {
                        studio_id,
                        execution_date,
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("no bank file was written: {e}"))?;
            let (name, document) = engine
                .bank_file_document(&operator, file.batch.id)
                .await
                .map_err(|e| anyhow::anyhow!("the bank file cannot be read back: {e}"))?;
            let path = out.unwrap_or_else(|| std::path::PathBuf::from(name));
            std::fs::write(&path, document)
                .with_context(|| format!("writing the bank file to {}", path.display()))?;
            for item in &file.items {
                println!(
                    "{:<36} {:>14}  {}",
                    item.end_to_end_id,
                    item.amount.to_string(),
                    item.counterparty
                );
            }
            for skipped in &file.skipped {
                println!("skipped: {skipped}");
            }
            println!(
                "bank file {} written to {}: {} transfers, {}, expected on {}",
                file.batch.reference,
                path.display(),
                file.batch.item_count,
                file.batch.total,
                file.batch.expected_on
            );
        }
        Command::Export {
            dataset,
            from,
            to,
            studio,
            out,
        } => {
            let request = ExportRequest {
                dataset,
                period: ExportPeriod::new(from, to).map_err(|e| anyhow::anyhow!("{e}"))?,
                studio: parse_id("studio", studio.as_deref(), app::domain::StudioId::parse)?,
            };
            export(&engine, &operator, &request, out).await?;
        }
        Command::ImportStatement { file } => {
            let document = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            // Each step's progress on standard error, as exports and audits print theirs.
            let print_progress = |step: &app::domain::StatementImportProgress| {
                eprintln!(
                    "{} {}: {} / {} lines ({} %)",
                    step.kind,
                    step.message_id,
                    rows_text(step.lines_done.unsigned_abs()),
                    rows_text(step.lines_total.unsigned_abs()),
                    step.percent()
                );
            };
            let result = engine
                .import_bank_statement_with_progress(&operator, &document, &print_progress)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "the statement import stopped: {e} (the steps reported above are kept; \
                         importing the same file again continues after them)"
                    )
                })?;
            if result.duplicate {
                println!(
                    "{} {} was imported before: nothing changed",
                    result.kind, result.message_id
                );
            }
            println!(
                "{} {}: {} lines, {} settled, {} failed, {} need reconciliation, {} unmatched, {} already matched",
                result.kind,
                result.message_id,
                result.lines,
                result.settled,
                result.failed,
                result.needs_reconciliation,
                result.unmatched,
                result.duplicates
            );
        }
        Command::Finish { payout_id } => {
            let id = app::domain::PayoutId::parse(&payout_id).map_err(anyhow::Error::msg)?;
            let payout = engine
                .resume(&operator, id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "payout {} is {}: {} records, {}",
                payout.id, payout.state, payout.record_count, payout.total
            );
        }
        Command::ApiKey { command } => match command {
            ApiKeyCommand::Create {
                name,
                role,
                studio,
                scopes,
            } => {
                let request = app::domain::ApiKeyRequest {
                    name,
                    role,
                    studio_id: parse_id("studio", studio.as_deref(), app::domain::StudioId::parse)?,
                    scopes: if scopes.is_empty() {
                        None
                    } else {
                        Some(scopes)
                    },
                };
                let created = engine
                    .create_api_key(&operator, &request)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let scopes: Vec<&str> = created.info.scopes.iter().map(|s| s.as_str()).collect();
                eprintln!(
                    "API key '{}' ({}, id {}) with scopes {}; store it now, it is not shown again:",
                    created.info.name,
                    created.info.role,
                    created.info.id,
                    scopes.join(", ")
                );
                println!("{}", created.key);
            }
            ApiKeyCommand::List => {
                for key in engine
                    .api_keys(&operator)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                {
                    println!(
                        "{}  pe_{}_…  {:<12} {:<8} {}  {}",
                        key.id,
                        key.prefix,
                        key.role,
                        if key.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        },
                        key.name,
                        key.studio_id.map(|s| s.to_string()).unwrap_or_default()
                    );
                }
            }
            ApiKeyCommand::Revoke { id } => {
                let id = app::domain::ApiKeyId::parse(&id).map_err(anyhow::Error::msg)?;
                let key = engine
                    .revoke_api_key(&operator, id)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("API key '{}' (pe_{}_…) is revoked", key.name, key.prefix);
            }
        },
        Command::User { command } => match command {
            UserCommand::Create {
                email,
                name,
                role,
                studio,
                employee,
            } => {
                let request = app::domain::UserRequest {
                    email,
                    name,
                    role,
                    studio_id: parse_id("studio", studio.as_deref(), app::domain::StudioId::parse)?,
                    employee_id: parse_id(
                        "employee",
                        employee.as_deref(),
                        app::domain::EmployeeId::parse,
                    )?,
                    password: read_new_password()?,
                };
                let user = engine
                    .create_user(&operator, &request)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("user {} ({}) created: {}", user.email, user.role, user.id);
            }
            UserCommand::SetPassword { email } => {
                let password = read_new_password()?;
                let user = engine
                    .set_password(&operator, &email, &password)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!(
                    "password of {} changed; their sessions are ended",
                    user.email
                );
            }
            UserCommand::List => {
                for user in engine
                    .users(&operator)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                {
                    println!(
                        "{:<32} {:<12} {:<8} {}{}",
                        user.email,
                        user.role,
                        if user.active { "active" } else { "inactive" },
                        user.name,
                        if user.demo_credentials {
                            "  (demo password)"
                        } else {
                            ""
                        }
                    );
                }
            }
        },
        Command::Serve(args) => {
            // cargo-leptos passes the site address as LEPTOS_SITE_ADDR.
            let addr = match args.addr {
                Some(addr) => addr,
                None => std::env::var("LEPTOS_SITE_ADDR")
                    .unwrap_or_else(|_| "127.0.0.1:3000".into())
                    .parse()
                    .context("LEPTOS_SITE_ADDR is not HOST:PORT")?,
            };
            let audit_schedule = if args.audit_schedule.trim().eq_ignore_ascii_case("off") {
                None
            } else {
                Some(
                    app::engine::audit::AuditSchedule::parse(&args.audit_schedule, args.audit_days)
                        .map_err(anyhow::Error::msg)?,
                )
            };
            let demo = args.demo;
            if demo {
                seed(&engine).await?;
            } else {
                let published = engine
                    .demo_credentials_in_use()
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                if !published.is_empty() {
                    anyhow::bail!(
                        "refusing to serve outside demo mode: {} still sign in with the demo passwords the README publishes. Set new ones (`payout-engine user set-password --email EMAIL`) or run with --demo",
                        published.join(", ")
                    );
                }
            }
            payout_server::serve(
                engine.clone(),
                payout_server::ServeConfig {
                    addr,
                    fault_injection: args.enable_fault_injection,
                    audit_schedule,
                    stale_payout_after: (args.stale_payout_secs > 0)
                        .then(|| Duration::from_secs(args.stale_payout_secs)),
                },
            )
            .await?;
        }
    }
    engine.close().await;
    Ok(std::process::ExitCode::SUCCESS)
}

/// `export`: writes the CSV of `request` to `out` (`-`: standard output; default its file name in
/// the current directory), printing progress to standard error every 1,000 rows and a last line
/// with the rows and where they went.
async fn export(
    engine: &Engine,
    operator: &Caller,
    request: &ExportRequest,
    out: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut export = engine
        .export(operator, request)
        .await
        .map_err(|e| anyhow::anyhow!("the export could not start: {e}"))?;
    let mut progress = ExportProgress {
        dataset: request.dataset,
        total: export.rows(),
        written: 0,
        next_report: 1_000,
    };
    if out.as_deref() == Some(std::path::Path::new("-")) {
        let mut stdout = std::io::stdout();
        while let Some(chunk) = export.next_chunk().await {
            let chunk = chunk.map_err(|e| progress.failed(&e))?;
            stdout
                .write_all(&chunk.csv)
                .context("writing the export to standard output")?;
            progress.advance(chunk.rows_written);
        }
        stdout
            .flush()
            .context("writing the export to standard output")?;
        eprintln!(
            "{}: {} rows written to standard output",
            request.dataset,
            rows_text(progress.written)
        );
        return Ok(());
    }
    let path = out.unwrap_or_else(|| std::path::PathBuf::from(request.file_name()));
    let mut partial = path.clone().into_os_string();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    let mut written = async {
        while let Some(chunk) = export.next_chunk().await {
            let chunk = chunk.map_err(|e| progress.failed(&e))?;
            writer
                .write_all(&chunk.csv)
                .with_context(|| format!("writing {}", partial.display()))?;
            progress.advance(chunk.rows_written);
        }
        writer
            .flush()
            .with_context(|| format!("writing {}", partial.display()))
    }
    .await;
    drop(writer);
    if written.is_ok() {
        written = std::fs::rename(&partial, &path)
            .with_context(|| format!("renaming {} to {}", partial.display(), path.display()));
    }
    if let Err(error) = written {
        if let Err(removal) = std::fs::remove_file(&partial) {
            eprintln!(
                "warning: the incomplete {} could not be removed: {removal}",
                partial.display()
            );
        }
        return Err(error.context(format!("{} was not written", path.display())));
    }
    println!(
        "{}: {} rows written to {}",
        request.dataset,
        rows_text(progress.written),
        path.display()
    );
    Ok(())
}

/// The command line's progress of an export, on standard error.
struct ExportProgress {
    dataset: ExportDataset,
    /// Rows the export announced.
    total: u64,
    /// Rows written so far.
    written: u64,
    /// The next multiple of 1,000 rows to report.
    next_report: u64,
}

impl ExportProgress {
    /// Records `rows_written` and prints `payouts: 1,000 / 4,210 rows (23 %)` at every 1,000.
    fn advance(&mut self, rows_written: u64) {
        self.written = rows_written;
        if rows_written >= self.next_report {
            eprintln!(
                "{}: {} / {} rows ({} %)",
                self.dataset,
                rows_text(rows_written),
                rows_text(self.total),
                rows_written * 100 / self.total.max(1)
            );
            self.next_report = (rows_written / 1_000 + 1) * 1_000;
        }
    }

    /// The error of an export that failed mid-way.
    fn failed(&self, error: &app::domain::AppError) -> anyhow::Error {
        anyhow::anyhow!(
            "the {} export failed after {} of {} rows: {error}",
            self.dataset,
            rows_text(self.written),
            rows_text(self.total)
        )
    }
}

/// `replay`: on `url`, or on a fresh SQLite file in a temporary directory (deleted afterwards).
async fn replay(
    url: Option<String>,
    settings: EngineSettings,
    options: payout_server::replay::ReplayOptions,
) -> anyhow::Result<std::process::ExitCode> {
    let scratch = match url {
        Some(_) => None,
        None => Some(tempfile::tempdir().context("cannot create a temporary directory")?),
    };
    let url = match (&url, &scratch) {
        (Some(url), _) => url.clone(),
        (None, Some(dir)) => format!("sqlite://{}", dir.path().join("replay.db").display()),
        (None, None) => anyhow::bail!("no database for the replay"),
    };
    println!("replaying into {}", app::engine::redact_password(&url));
    let engine = Engine::connect(&url, settings).await?;
    let replayed = payout_server::replay::run(&engine, options).await;
    engine.close().await;
    let report = replayed?;
    println!("{report}");
    if let Some(dir) = scratch {
        dir.close()
            .context("cannot delete the replay's temporary database")?;
    }
    Ok(if report.discrepancies == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}

async fn seed(engine: &Engine) -> anyhow::Result<()> {
    let report = engine
        .seed_demo()
        .await
        .map_err(|e| anyhow::anyhow!("seeding the demo data failed: {e}"))?;
    if report.seeded {
        println!(
            "demo data seeded: {} service records, {} day records, {} September payouts committed",
            report.service_records, report.day_records, report.payouts
        );
        println!("try it: the owner page /owner -> Lara Meier -> Prepare payout (212 records, CHF 18'080.00)");
    } else {
        println!("the database already has data; demo seed skipped");
    }
    Ok(())
}
