//! CSRF defence: a state-changing request carrying a cookie must come from Fitroom's own pages.
//! Browsers say where a request comes from (`Sec-Fetch-Site`, `Origin`); API clients without a
//! browser send neither and are not at risk. Webhooks are exempt: they rely on signatures.

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::http::{ApiError, ErrorCode};

pub async fn same_origin_only(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || request.uri().path().starts_with("/webhooks/") || is_same_origin(&state, &request) {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "cross-origin state-changing request refused");
    ApiError::new(ErrorCode::CrossOrigin, "This request did not come from Fitroom's own pages.")
        .into_response()
}

fn is_same_origin(state: &AppState, request: &Request) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origin == state.config.public_url {
        return true;
    }
    // Also accept the host the browser actually used (a public URL behind another name).
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    !host.is_empty() && (origin == format!("http://{host}") || origin == format!("https://{host}"))
}
