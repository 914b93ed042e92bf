//! The HTTP surface that is not Leptos: health, the REST API and the webhooks (API.md).

mod auth;
mod credits;
mod error;
mod health;
mod json;
pub mod limits;
mod origin;
mod request_id;
pub mod session;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use error::{ApiError, ErrorCode};
pub use request_id::with_request_tracing;

use crate::AppState;

/// JSON bodies are small; uploads and webhooks get their own limits on their routes.
const JSON_BODY_LIMIT: usize = 64 * 1024;

/// Every non-page route, ready to be merged beside the Leptos routes.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/auth/register", post(auth::register))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/me", get(auth::me))
        .route("/api/credits", get(credits::credits))
        .route("/api/credits/ledger", get(credits::ledger))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(api)
        .layer(axum::middleware::from_fn_with_state(state.clone(), origin::same_origin_only))
        .with_state(state)
}
