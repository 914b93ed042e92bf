use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::LocalProvider;

#[derive(Deserialize)]
struct Signed {
    expires: i64,
    sig: String,
}

/// The `local` provider's own output URLs: signed, and gone after they expire.
pub fn router(provider: LocalProvider) -> Router {
    Router::new().route("/providers/local/outputs/{task}", get(output)).with_state(provider)
}

async fn output(
    State(provider): State<LocalProvider>,
    Path(task): Path<String>,
    query: Result<Query<Signed>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let inner = provider.inner();
    let path = format!("/providers/local/outputs/{task}");
    let Ok(Query(signed)) = query else { return StatusCode::FORBIDDEN.into_response() };
    if !inner.signer().verify_path(&path, signed.expires, &signed.sig, inner.now()) {
        return (StatusCode::FORBIDDEN, "link expired or invalid").into_response();
    }
    match inner.output(&task).await {
        Some(bytes) => ([(header::CONTENT_TYPE, "image/png")], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
