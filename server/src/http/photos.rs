//! `GET /api/photos`, `GET /api/photos/{id}` (the image, owner-only) and
//! `DELETE /api/photos/{id}` (docs/api.md, Try-on additions).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::AppState;
use crate::http::ApiError;
use crate::http::object;
use crate::http::session::CurrentUser;
use crate::photos;

pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<serde_json::Value>, ApiError> {
    let photos = photos::list(&state.db, &user.id, &state.config.public_url).await?;
    Ok(Json(json!({ "photos": photos })))
}

pub async fn image(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = photos::stored_key(&state.db, &user.id, &id).await?;
    object::serve_private(state.storage.as_ref(), &key, &headers).await
}

pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    photos::delete(&state.db, state.storage.as_ref(), &user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
