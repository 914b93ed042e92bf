use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use fitroom_app::{App, shell};
use fitroom_server::{AppState, Config};
use leptos::config::{Env, LeptosOptions};
use leptos_axum::{LeptosRoutes, generate_route_list};

/// Where cargo-leptos put the site: its variables when it runs us, else the release layout, so
/// that `target/release/fitroom` works from the repository root with no environment at all.
fn leptos_options(config: &Config) -> LeptosOptions {
    let var = |key: &str, default: &str| {
        std::env::var(key).ok().filter(|v| !v.is_empty()).unwrap_or(default.into())
    };
    LeptosOptions::builder()
        .output_name(Arc::<str>::from(var("LEPTOS_OUTPUT_NAME", "fitroom")))
        .site_root(Arc::<str>::from(var("LEPTOS_SITE_ROOT", "target/site")))
        .site_pkg_dir(Arc::<str>::from(var("LEPTOS_SITE_PKG_DIR", "pkg")))
        .site_addr(config.addr)
        .env(if cfg!(debug_assertions) { Env::DEV } else { Env::PROD })
        .build()
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let addr = config.addr;
    let options = leptos_options(&config);
    let state = AppState::build(config).await.context("starting Fitroom")?;

    let reconciler = fitroom_server::jobs::spawn_reconciler(state.jobs.clone());
    let housekeeping = state.spawn_housekeeping();

    let routes = generate_route_list(App);
    // The 404 page renders the whole app too (its header asks who is signed in): it needs the
    // state like every other page.
    let context = {
        let state = state.clone();
        move || leptos::prelude::provide_context(state.clone())
    };
    let pages = Router::new()
        .leptos_routes_with_context(&options, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(context, shell))
        .with_state(options)
        // Server functions change state with the session cookie: same CSRF rule as the REST API.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            fitroom_server::http::origin::same_origin_only,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            fitroom_server::http::client::layer,
        ));
    let app = fitroom_server::http::with_request_tracing(
        fitroom_server::http::router(state.clone()).merge(pages),
    );

    let listener =
        tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    tracing::info!(%addr, "Fitroom is listening on http://{addr}");
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    reconciler.abort();
    housekeeping.abort();
    tracing::info!("in-flight requests finished; closing the database");
    state.db.close().await;
    Ok(())
}

/// SIGTERM (a service manager) or Ctrl-C: stop accepting, let in-flight requests finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
