//! `POST /api/garments/from-url` and `GET /api/garments/{id}` (docs/api.md, Try-on additions).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use crate::AppState;
use crate::garments::{self, GarmentView};
use crate::http::ApiError;
use crate::http::json::ApiJson;
use crate::http::object;
use crate::http::session::CurrentUser;

#[derive(Deserialize)]
pub struct FromUrl {
    url: String,
}

pub async fn from_url(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<FromUrl>,
) -> Result<Json<GarmentView>, ApiError> {
    Ok(Json(garments::from_url(&state, &user.id, &body.url).await?))
}

/// The garment's picture, to its owner only.
pub async fn image(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = garments::stored_key(&state, &user.id, &id).await?;
    object::serve_private(state.storage.as_ref(), &key, &headers).await
}
