//! `GET /api/me/export` and `DELETE /api/me` (docs/api.md, Accounts lifecycle and privacy).

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;
use crate::http::ApiError;
use crate::http::json::ApiJson;
use crate::http::session::{CurrentUser, SessionCookie};
use crate::privacy::{deletion, export};

/// The zip of everything kept about the signed-in shopper, streamed while it is written.
pub async fn export(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, ApiError> {
    let zip = export::stream(&state, &user.id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"fitroom-export.zip\""),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        Body::from_stream(zip),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct Confirm {
    password: String,
}

/// `DELETE /api/me` `{"password"}` → 204: the account and every image of it are gone.
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<Confirm>,
) -> Result<impl IntoResponse, ApiError> {
    deletion::delete_account(&state, &user.id, &body.password).await?;
    Ok((StatusCode::NO_CONTENT, SessionCookie::clear(&state), ()))
}
