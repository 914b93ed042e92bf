//! The HTTP surface that is not Leptos: health, the REST API and the webhooks (docs/api.md).

mod account;
mod admin;
mod auth;
mod billing;
pub mod client;
pub(crate) mod credits;
mod error;
mod files;
mod garments;
mod generations;
mod health;
mod json;
mod metrics;
pub mod next;
mod object;
pub mod origin;
mod page_size;
mod photos;
mod privacy;
mod request_id;
pub mod session;
mod upload;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};

pub use error::{ApiError, ErrorCode};
pub use request_id::with_request_tracing;

use crate::AppState;

/// JSON bodies are small; uploads and webhooks get their own limits on their routes.
const JSON_BODY_LIMIT: usize = 64 * 1024;

/// Every non-page route, ready to be merged beside the Leptos routes.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/auth/register", post(auth::register))
        .route("/api/auth/verify-email", post(account::verify_email))
        .route("/api/auth/resend-verification", post(account::resend_verification))
        .route("/api/auth/password-reset", post(account::request_reset))
        .route("/api/auth/password-reset/confirm", post(account::confirm_reset))
        .route("/api/auth/change-password", post(account::change_password))
        .route("/api/auth/sessions", get(account::sessions))
        .route("/api/auth/sessions/{id}", delete(account::end_session))
        .route("/api/auth/logout-everywhere", post(account::logout_everywhere))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/me", get(auth::me).delete(privacy::delete))
        .route("/api/me/export", get(privacy::export))
        .route("/api/garments/from-url", post(garments::from_url))
        .route("/api/garments/{id}", get(garments::image))
        .route("/api/photos", get(photos::list))
        .route("/api/photos/{id}", get(photos::image).delete(photos::delete))
        .route("/api/credits", get(credits::credits))
        .route("/api/credits/ledger", get(credits::ledger))
        .route("/api/generations/{id}", get(generations::get).delete(generations::delete))
        .route("/api/generations/{id}/cancel", post(generations::cancel))
        .route("/api/generations/{id}/result", get(generations::result))
        .route("/api/generations", get(generations::list))
        .route("/api/billing/packages", get(billing::packages))
        .route("/api/billing/checkout", post(billing::checkout))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT));
    // Another method on an admin path would answer 405, and its `Allow` header would tell anyone
    // that the route exists: the console answers 404 to every method and path it does not have.
    let admin = Router::new()
        .route("/jobs", get(admin::jobs))
        .route("/jobs/{id}", get(admin::job))
        .route("/jobs/{id}/cancel", post(admin::cancel))
        .route("/jobs/{id}/images/{image}", get(admin::job_image))
        .route("/audit", get(admin::audit_log))
        .route("/providers", get(admin::providers))
        .route("/providers/{name}/reset", post(admin::reset_cooldown))
        .route("/users", get(admin::users))
        .route("/users/{id}", get(admin::user))
        .route("/users/{id}/grants", post(admin::grant))
        .route("/users/{id}/suspend", post(admin::suspend))
        .route("/users/{id}/unsuspend", post(admin::unsuspend))
        .method_not_allowed_fallback(|| async { ApiError::not_found() })
        .fallback(|| async { ApiError::not_found() })
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .with_state(state.clone());
    // axum sets `Allow` as a route's answer leaves it, past the route's own layers: only a layer
    // around the whole admin router sees it.
    let admin = tower::Layer::layer(
        &axum::middleware::map_response(|mut response: axum::response::Response| async {
            response.headers_mut().remove(axum::http::header::ALLOW);
            response
        }),
        admin,
    );
    let uploads = Router::new()
        .route("/api/generations", post(generations::create))
        .layer(DefaultBodyLimit::max(upload::MAX_FORM_BYTES));
    let webhooks = Router::new()
        .route("/webhooks/stripe", post(billing::webhook))
        .route("/webhooks/{provider}", post(webhooks::receive))
        .layer(DefaultBodyLimit::max(webhooks::MAX_WEBHOOK_BYTES));
    let local = state.local_provider.clone().map(crate::providers::local::router);
    let mut router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/files/{*key}", get(files::get))
        .merge(api)
        .nest_service("/api/admin", admin)
        .merge(uploads)
        .merge(webhooks)
        .layer(axum::middleware::from_fn_with_state(state.clone(), origin::same_origin_only))
        .layer(axum::middleware::from_fn_with_state(state.clone(), client::layer))
        .with_state(state);
    if let Some(local) = local {
        router = router.merge(local);
    }
    router
}
