//! The session cookie, and the extractor that turns it into the signed-in user.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponseParts, ResponseParts};

use crate::AppState;
use crate::accounts::SessionToken;
use crate::accounts::session::COOKIE_NAME;
use crate::http::ApiError;
use crate::ids::UserId;

/// The user behind a valid session cookie; handlers that take it answer 401 without one.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: UserId,
    pub token: SessionToken,
}

pub fn session_token(headers: &HeaderMap) -> Option<SessionToken> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .and_then(|(_, value)| SessionToken::from_cookie(value.trim()))
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = session_token(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
        let user = state.accounts.session_user(&token).await.map_err(ApiError::internal)?;
        let id = user.ok_or_else(ApiError::unauthenticated)?;
        Ok(CurrentUser { id, token })
    }
}

/// The `Set-Cookie` value for a new session.
pub fn cookie_value(state: &AppState, token: &SessionToken) -> String {
    SessionCookie::set(state, token).value
}

/// The `Set-Cookie` value that ends the session in the browser.
pub fn cleared_cookie_value(state: &AppState) -> String {
    SessionCookie::clear(state).value
}

/// `Set-Cookie` for a new session (or, with `None`, the header that deletes it).
pub struct SessionCookie {
    value: String,
}

impl SessionCookie {
    pub fn set(state: &AppState, token: &SessionToken) -> Self {
        let secure = if state.config.is_https() { "; Secure" } else { "" };
        SessionCookie {
            value: format!(
                "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                token.as_str(),
                state.accounts.policy.absolute_secs
            ),
        }
    }

    pub fn clear(state: &AppState) -> Self {
        let secure = if state.config.is_https() { "; Secure" } else { "" };
        SessionCookie {
            value: format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
        }
    }
}

impl IntoResponseParts for SessionCookie {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        // The value is built from our own token alphabet, so it is always a valid header.
        if let Ok(value) = HeaderValue::from_str(&self.value) {
            res.headers_mut().append(SET_COOKIE, value);
        }
        Ok(res)
    }
}
