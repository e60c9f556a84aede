//! `payout-engine`: the one binary. `serve` (default), `migrate`, `seed-demo`, `finish`, `audit`.
//! Configuration from flags or environment; every failure is a clear message and exit code 1.

use anyhow::Context as _;
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
    /// Database URL (sqlite://PATH).
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
    /// Seconds a payout may stay pending before the audit reports it as stuck.
    #[arg(
        long,
        env = "PAYOUT_ENGINE_STUCK_PAYOUT_SECS",
        default_value_t = 3600,
        global = true
    )]
    stuck_payout_secs: u64,
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
    /// Check every invariant of the books and payouts; prints each finding and exits with 1 when
    /// anything is found (0 when clean). The run is stored and shown on the owner's audit page.
    Audit {
        /// Only records, payouts and transfers of the last N days (balances are always checked
        /// in full).
        #[arg(long)]
        days: Option<i64>,
    },
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
    let mut cli = Cli::parse();
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
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "payout-engine failed");
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
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
        stuck_payout_age: Duration::from_secs(cli.stuck_payout_secs),
        telegram,
        ..EngineSettings::default()
    };
    let engine = Engine::connect(&cli.database_url, settings).await?;
    match cli.command.unwrap_or(Command::Serve(ServeArgs {
        addr: None,
        demo: false,
        enable_fault_injection: false,
        audit_schedule: app::engine::audit::AuditSchedule::DEFAULT_CRON.into(),
        audit_days: None,
    })) {
        Command::Migrate => {
            println!("migrations applied to {}", cli.database_url);
        }
        Command::SeedDemo => seed(&engine).await?,
        Command::Audit { days } => {
            let report = engine
                .run_audit(app::domain::AuditTrigger::Cli, days, None)
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
        Command::Finish { payout_id } => {
            let id = app::domain::PayoutId::parse(&payout_id).map_err(anyhow::Error::msg)?;
            let payout = engine
                .resume(id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "payout {} is {}: {} records, {}",
                payout.id, payout.state, payout.record_count, payout.total
            );
        }
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
            }
            payout_server::serve(
                engine.clone(),
                payout_server::ServeConfig {
                    addr,
                    fault_injection: args.enable_fault_injection,
                    audit_schedule,
                },
            )
            .await?;
        }
    }
    engine.close().await;
    Ok(std::process::ExitCode::SUCCESS)
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
