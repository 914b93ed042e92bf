//! `GET /files/{key}?expires&sig`: Fitroom's own short-lived signed links to stored inputs, for
//! providers when storage is local disk (S3 hands out presigned URLs instead).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;
use crate::http::object::{self, Caching};

#[derive(Deserialize)]
pub struct Signed {
    expires: i64,
    sig: String,
}

pub async fn get(
    State(state): State<AppState>,
    Path(key): Path<String>,
    query: Result<Query<Signed>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Query(signed)) = query else { return StatusCode::FORBIDDEN.into_response() };
    if !state.signer.verify_path(
        &format!("/files/{key}"),
        signed.expires,
        &signed.sig,
        state.clock.now(),
    ) {
        return (StatusCode::FORBIDDEN, "link expired or invalid").into_response();
    }
    // Providers fetch these once; nothing should keep a copy of a shopper's photo.
    let caching = Caching { etag: None, cache_control: "private, no-store" };
    match object::serve(state.storage.as_ref(), &key, &headers, &caching).await {
        Ok(Some(response)) => response,
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "reading a stored input failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
