//! An account's life after sign-up (docs/api.md, Accounts lifecycle and privacy): verifying the
//! address, resetting and changing the password, the sessions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::http::ApiError;
use crate::http::client::AccountClient;
use crate::http::json::ApiJson;
use crate::http::session::{CurrentUser, SessionCookie};

#[derive(Deserialize)]
pub struct Token {
    token: String,
}

/// `POST /api/auth/verify-email` `{"token"}` → 200.
pub async fn verify_email(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Token>,
) -> Result<impl IntoResponse, ApiError> {
    state.accounts.verify_email(body.token.trim()).await?;
    Ok(Json(json!({ "email_verified": true })))
}

/// `POST /api/auth/resend-verification` → 202: a new link to the signed-in user's address.
pub async fn resend_verification(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<impl IntoResponse, ApiError> {
    state.accounts.send_verification(&user.id).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
pub struct ResetRequest {
    email: String,
}

/// `POST /api/auth/password-reset` `{"email"}` → 202 whatever the address: the lookup and the
/// mail happen after the answer, so its time says nothing either.
pub async fn request_reset(
    State(state): State<AppState>,
    AccountClient(client): AccountClient,
    ApiJson(body): ApiJson<ResetRequest>,
) -> StatusCode {
    state.accounts.request_password_reset(&body.email, &client);
    StatusCode::ACCEPTED
}

#[derive(Deserialize)]
pub struct ResetConfirm {
    token: String,
    password: String,
}

/// `POST /api/auth/password-reset/confirm` `{"token","password"}` → 200; every session ends.
pub async fn confirm_reset(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ResetConfirm>,
) -> Result<impl IntoResponse, ApiError> {
    state.accounts.reset_password(body.token.trim(), body.password).await?;
    Ok((SessionCookie::clear(&state), Json(json!({ "password_reset": true }))))
}

#[derive(Deserialize)]
pub struct ChangePassword {
    current_password: String,
    new_password: String,
}

/// `POST /api/auth/change-password` → 200; every other session ends.
pub async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<impl IntoResponse, ApiError> {
    state
        .accounts
        .change_password(&user.id, &body.current_password, body.new_password, &user.token)
        .await?;
    Ok(Json(json!({ "password_changed": true })))
}

/// `GET /api/auth/sessions`.
pub async fn sessions(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<impl IntoResponse, ApiError> {
    let sessions = state.accounts.list_sessions(&user.id, &user.token).await?;
    Ok(Json(json!({ "sessions": sessions })))
}

/// `DELETE /api/auth/sessions/{id}` → 204; 404 for a session that is not the user's.
pub async fn end_session(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    if state.accounts.end_session(&user.id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// `POST /api/auth/logout-everywhere` → 204: every session of the user ends, this one too.
pub async fn logout_everywhere(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<impl IntoResponse, ApiError> {
    state.accounts.end_every_session(&user.id).await?;
    Ok((StatusCode::NO_CONTENT, SessionCookie::clear(&state), ()))
}
