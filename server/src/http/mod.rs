//! The HTTP surface that is not Leptos: health, the REST API and the webhooks (API.md).

mod error;
mod health;
mod request_id;

use axum::Router;
use axum::routing::get;

pub use error::{ApiError, ErrorCode};
pub use request_id::with_request_tracing;

use crate::AppState;

/// Every non-page route, ready to be merged beside the Leptos routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .with_state(state)
}
