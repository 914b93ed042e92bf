//! `GET /api/me/export` and `DELETE /api/me` (docs/api.md, Accounts lifecycle and privacy).

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use crate::AppState;
use crate::http::ApiError;
use crate::http::json::ApiJson;
use crate::http::session::{CurrentUser, SessionCookie};
use crate::privacy::{deletion, export};

/// The zip of everything kept about the signed-in shopper, streamed from disk.
pub async fn export(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, ApiError> {
    let path = export::write(&state, &user.id).await?;
    let file = tokio::fs::File::open(&path).await.map_err(ApiError::internal);
    // Unlinked once open: the stream keeps reading it, and nothing is left behind.
    let _ = tokio::fs::remove_file(&path).await;
    let file = file?;
    let body = futures_util::stream::unfold(file, |mut file| async move {
        let mut chunk = vec![0u8; 64 * 1024];
        match file.read(&mut chunk).await {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(chunk)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
    .boxed();
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"fitroom-export.zip\""),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        Body::from_stream(body),
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
