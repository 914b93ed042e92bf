//! `GET /files/{key}?expires&sig`: Fitroom's own short-lived signed links to stored inputs, for
//! providers when storage is local disk (S3 hands out presigned URLs instead).

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;

#[derive(Deserialize)]
pub struct Signed {
    expires: i64,
    sig: String,
}

pub async fn get(State(state): State<AppState>, Path(key): Path<String>, query: Result<Query<Signed>, axum::extract::rejection::QueryRejection>) -> Response {
    let Ok(Query(signed)) = query else { return StatusCode::FORBIDDEN.into_response() };
    if !state.signer.verify_path(&format!("/files/{key}"), signed.expires, &signed.sig, state.clock.now()) {
        return (StatusCode::FORBIDDEN, "link expired or invalid").into_response();
    }
    match state.storage.get(&key).await {
        Ok(Some(object)) => Response::builder()
            .header(header::CONTENT_TYPE, object.content_type)
            .header(header::CACHE_CONTROL, "private, no-store")
            .body(Body::from(object.bytes))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "reading a stored input failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
