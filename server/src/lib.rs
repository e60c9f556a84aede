//! The Payout Engine server: builds the axum application (JSON API, server functions, the
//! server-rendered Leptos UI, static files) around one [`Engine`], and serves it with graceful
//! shutdown. `main.rs` is only the command line around this.

/// The allocator of every server process (and of the tests and benchmarks that link this
/// library): mimalloc, which with its `override` feature also serves SQLite's `malloc`/`free`.
///
/// A profile of the payment-event replay (issue 6) found the one SQLite writer thread spending
/// a fifth of its time in glibc's allocator (`_int_malloc`, `unlink_chunk`, `malloc_consolidate`):
/// SQLite copies every column value of every row it returns (`sqlite3_value_dup` in sqlx) and
/// allocates page-cache slots and statements, all on the writer that every event waits for.
/// The same release binary with mimalloc preloaded ran the 200,000-event replay 1.16x faster
/// (end to end, medians of 2 interleaved pairs; jemalloc 1.15x); see docs/replay.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod api;
pub mod auth;
pub mod dashboard_api;
pub mod exports_api;
pub mod feed_api;
pub mod openapi;
pub mod payments_api;
pub mod replay;
pub mod settlements_api;
pub mod slips_api;
pub mod webhooks_api;

use anyhow::Context as _;
use app::engine::Engine;
use axum::extract::DefaultBodyLimit;
use axum::serve::ListenerExt as _;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::net::SocketAddr;
use tower_http::trace::TraceLayer;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Mount `/api/v1/test/faults` (tests only; never in production).
    pub fault_injection: bool,
    /// When to run the audit; `None` = no scheduled audits.
    pub audit_schedule: Option<app::engine::audit::AuditSchedule>,
    /// How long a payout may stay pending before this server finishes it by itself; `None` =
    /// never (the banner waits for a person).
    pub stale_payout_after: Option<std::time::Duration>,
}

/// Leptos options: from cargo-leptos' environment when it launched us, else the workspace defaults
/// (site files in `target/site`).
pub fn leptos_options(addr: SocketAddr) -> anyhow::Result<LeptosOptions> {
    let mut options = if std::env::var_os("LEPTOS_OUTPUT_NAME").is_some() {
        get_configuration(None)
            .context("invalid LEPTOS_* configuration")?
            .leptos_options
    } else {
        LeptosOptions::builder()
            .output_name("payout-engine")
            .site_root("target/site")
            .site_pkg_dir("pkg")
            .build()
    };
    options.site_addr = addr;
    Ok(options)
}

/// The whole application router: JSON API + server functions + UI + static files.
pub fn app_router(engine: Engine, options: LeptosOptions, fault_injection: bool) -> Router {
    let routes = generate_route_list(app::App);
    let context_engine = engine.clone();
    let ui = Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            move || provide_context(context_engine.clone()),
            {
                let options = options.clone();
                move || app::shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler(app::shell))
        .with_state(options)
        .layer(axum::middleware::from_fn(statement_import_limit));
    // Layers run bottom-up on the way in: trace, the cross-site check, authentication, then the
    // sign-in redirect of pages.
    api::router(fault_injection)
        .with_state(api::ApiState {
            engine: engine.clone(),
        })
        .merge(ui)
        .layer(DefaultBodyLimit::max(api::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(auth::require_sign_in_for_pages))
        .layer(axum::middleware::from_fn_with_state(
            engine,
            auth::authenticate,
        ))
        .layer(axum::middleware::from_fn(auth::reject_cross_site))
        .layer(TraceLayer::new_for_http())
}

/// The Settlements page imports a camt statement through a server function: it may be as large
/// as the JSON API's import allows, three times over for the form encoding (a busy month is
/// about a megabyte). Every other server function keeps the 64 KiB limit of the whole router;
/// this layer sits inside it, and the innermost limit is the one extractors apply.
async fn statement_import_limit(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tower::{Layer as _, ServiceExt as _};
    if request.uri().path() != <app::api::ImportBankStatement as leptos::server_fn::ServerFn>::PATH
    {
        return next.run(request).await;
    }
    match DefaultBodyLimit::max(3 * app::engine::settlements::MAX_STATEMENT_BYTES)
        .layer(next)
        .oneshot(request)
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Binds `config.addr` and serves until SIGTERM or Ctrl-C, then finishes in-flight requests and
/// closes the database pool.
///
/// Errors: the address cannot be bound (in use, not permitted), or the server fails.
pub async fn serve(engine: Engine, config: ServeConfig) -> anyhow::Result<()> {
    let options = leptos_options(config.addr)?;
    if config.fault_injection {
        tracing::warn!(
            "fault injection is ENABLED: /api/v1/test/faults can make payouts fail (tests only)"
        );
    }
    let router = app_router(engine.clone(), options, config.fault_injection);
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    tracing::info!(%local, "listening");
    println!("Payout Engine is running at http://{local}/  (reception: /reception, owner: /owner, employees: /employees)");
    // One stop signal for the server and the background workers.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let when_stopped = |mut receiver: tokio::sync::watch::Receiver<bool>| async move {
        if receiver.wait_for(|stop| *stop).await.is_err() {
            tracing::warn!("the stop signal was dropped; stopping");
        }
    };
    let mut workers = tokio::task::JoinSet::new();
    if engine.settings().telegram.is_some() {
        workers.spawn(app::engine::notifications::run_worker(
            engine.clone(),
            when_stopped(stopped.clone()),
        ));
    } else {
        tracing::warn!("Telegram alerts are off (no bot token configured): audit findings and failed payouts are only shown in the app");
    }
    if let Some(schedule) = config.audit_schedule.clone() {
        workers.spawn(app::engine::audit::run_scheduler(
            engine.clone(),
            schedule,
            when_stopped(stopped.clone()),
        ));
    } else {
        tracing::warn!("scheduled audits are off");
    }
    if let Some(older_than) = config.stale_payout_after {
        workers.spawn(app::engine::payouts::run_stale_payout_completer(
            engine.clone(),
            // Sweep a few times per grace period, at most every 30 s.
            (older_than / 4).clamp(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(30),
            ),
            older_than,
            when_stopped(stopped.clone()),
        ));
    } else {
        tracing::warn!(
            "the stale-payout completer is off: interrupted payouts wait for Finish payout"
        );
    }
    workers.spawn(app::engine::payments::run_inbox_worker(
        engine.clone(),
        when_stopped(stopped.clone()),
    ));
    workers.spawn(app::engine::webhooks::run_worker(
        engine.clone(),
        when_stopped(stopped.clone()),
    ));
    workers.spawn(app::engine::settlements::run_sweeper(
        engine.clone(),
        std::time::Duration::from_secs(60),
        when_stopped(stopped.clone()),
    ));
    let feed = engine.clone();
    let served = serve_router(listener, router, async move {
        shutdown.await;
        // Live feed streams never end by themselves; graceful shutdown waits for them.
        feed.close_live_feed();
        if stop.send(true).is_err() {
            tracing::warn!("no background worker was listening for the stop signal");
        }
    })
    .await;
    // The workers finish their current step (a claimed message is recorded, not abandoned).
    while let Some(joined) = workers.join_next().await {
        if let Err(error) = joined {
            tracing::error!(%error, "a background worker panicked");
        }
    }
    served.context("server error")?;
    engine.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Serves `router` on `listener` until `shutdown` resolves, with `TCP_NODELAY` on every
/// connection: without it a small JSON response can wait for the client's delayed ACK (~40 ms per
/// request on Linux; measured here as a 46 ms median for a 210-record payout over HTTP).
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::warn!(%error, "cannot set TCP_NODELAY on a connection");
        }
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Registers the SIGTERM and Ctrl-C handlers now (so a signal that arrives right after start-up
/// is never missed and never kills the process outright) and returns a future that resolves on
/// the first of them.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
                _ = interrupt.recv() => tracing::info!("Ctrl-C received, shutting down"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::error!(%error, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        })
    }
}
