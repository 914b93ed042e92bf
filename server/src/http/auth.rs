//! `/api/auth/*` and `/api/me` (docs/api.md, Accounts).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::accounts::User;
use crate::http::ApiError;
use crate::http::client::AccountClient;
use crate::http::json::ApiJson;
use crate::http::session::{CurrentUser, SessionCookie, session_token};

#[derive(Deserialize)]
pub struct Credentials {
    email: String,
    password: String,
}

fn user_json(user: &User) -> serde_json::Value {
    json!({ "id": user.id, "email": user.email })
}

pub async fn register(
    State(state): State<AppState>,
    AccountClient(client): AccountClient,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let (user, token) = state.accounts.register(&body.email, body.password, &client).await?;
    Ok((
        StatusCode::CREATED,
        SessionCookie::set(&state, &token),
        Json(json!({ "user": user_json(&user) })),
    ))
}

pub async fn login(
    State(state): State<AppState>,
    AccountClient(client): AccountClient,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let (user, token) = state.accounts.login(&body.email, &body.password, &client).await?;
    Ok((SessionCookie::set(&state, &token), Json(json!({ "user": user_json(&user) }))))
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(token) = session_token(&headers) {
        state.accounts.logout(&token).await?;
    }
    Ok((StatusCode::NO_CONTENT, SessionCookie::clear(&state), ()))
}

pub async fn me(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<impl IntoResponse, ApiError> {
    let account = state.accounts.user(&user.id).await?.ok_or_else(ApiError::unauthenticated)?;
    let balance = state.ledger.balance(&user.id).await?;
    let admin =
        crate::accounts::admin::is_admin(&state.db, &user.id).await.map_err(ApiError::internal)?;
    let email_verified = state.accounts.email_verified(&user.id).await?;
    Ok(Json(json!({
        "id": account.id,
        "email": account.email,
        "credits": { "available": balance.available, "held": balance.held },
        "admin": admin,
        "email_verified": email_verified,
    })))
}
