//! The Payout Engine server: builds the axum application (JSON API, server functions, the
//! server-rendered Leptos UI, static files) around one [`Engine`], and serves it with graceful
//! shutdown. `main.rs` is only the command line around this.

pub mod api;

use anyhow::Context as _;
use app::engine::Engine;
use axum::extract::DefaultBodyLimit;
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
        .with_state(options);
    api::router(fault_injection)
        .with_state(api::ApiState { engine })
        .merge(ui)
        .layer(DefaultBodyLimit::max(api::MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
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
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    tracing::info!(%local, "listening");
    println!("Payout Engine is running at http://{local}/  (reception: /reception, owner: /owner, employees: /employees)");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server error")?;
    engine.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
