//! `/api/auth/*` and `/api/me` (docs/api.md, Accounts).

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::accounts::User;
use crate::http::json::ApiJson;
use crate::http::session::{CurrentUser, SessionCookie, session_token};
use crate::http::{ApiError, ErrorCode};

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
    ApiJson(body): ApiJson<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let (user, token) = state.accounts.register(&body.email, body.password).await?;
    Ok((
        StatusCode::CREATED,
        SessionCookie::set(&state, &token),
        Json(json!({ "user": user_json(&user) })),
    ))
}

/// The client's address as the socket saw it (no proxy headers are trusted).
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
    }
}

pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = state.config.logins_per_minute;
    let email_key = format!("login:email:{}", body.email.trim().to_lowercase());
    let ip_key = ip.map(|ip| format!("login:ip:{ip}"));
    let now = state.clock.now();
    let allowed = state.limits.hit(&email_key, limit, now)
        & ip_key.as_ref().is_none_or(|k| state.limits.hit(k, limit, now));
    if !allowed {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            "Too many sign-in attempts. Wait a minute and try again.",
        ));
    }
    let (user, token) = state.accounts.login(&body.email, &body.password).await?;
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
    Ok(Json(json!({
        "id": account.id,
        "email": account.email,
        "credits": { "available": balance.available, "held": balance.held },
    })))
}
