//! Server functions of the account's security and privacy pages. They call the same accounts
//! service as `/api/auth/…` and `/api/me`; each form posts without JavaScript and comes back to
//! a page that says what happened.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One session as the security page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub user_agent: Option<String>,
    pub current: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityView {
    pub email: String,
    /// Whether the address was confirmed through a mailed link (`email_verified` of the API).
    pub email_verified: bool,
    /// Whether this server asks for confirmed addresses (`FITROOM_VERIFY_EMAIL` is not `off`):
    /// when it does not, the page does not ask the shopper to confirm theirs.
    pub verification_asked: bool,
    pub sessions: Vec<SessionView>,
}

/// What `/privacy` states, read from the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyView {
    pub input_retention_hours: u64,
    /// How long a garment taken from a product link is kept after it was fetched.
    pub garment_retention_hours: u64,
    pub result_retention_days: u64,
    pub session_idle_days: i64,
    pub session_max_days: i64,
    pub verify_email: String,
}

#[cfg(feature = "ssr")]
mod server {
    use leptos::prelude::*;

    /// The session's user and token; `unauthenticated` otherwise.
    pub async fn signed_in()
    -> Result<(fitroom_server::ids::UserId, fitroom_server::accounts::SessionToken), ServerFnError>
    {
        use crate::api::server::{failure, state};
        let state = state()?;
        let headers: http::HeaderMap = leptos_axum::extract().await?;
        let token = fitroom_server::http::session::session_token(&headers)
            .ok_or_else(|| failure(fitroom_server::http::ApiError::unauthenticated()))?;
        let user = state.accounts.session_user(&token).await.map_err(failure)?;
        let user =
            user.ok_or_else(|| failure(fitroom_server::http::ApiError::unauthenticated()))?;
        Ok((user, token))
    }
}

#[server(prefix = "/_fn")]
pub async fn security() -> Result<SecurityView, ServerFnError> {
    use crate::api::server::{failure, state};
    let state = state()?;
    let (user, token) = server::signed_in().await?;
    let account = state
        .accounts
        .user(&user)
        .await
        .map_err(failure)?
        .ok_or_else(|| failure(fitroom_server::http::ApiError::unauthenticated()))?;
    let sessions = state.accounts.list_sessions(&user, &token).await.map_err(failure)?;
    Ok(SecurityView {
        email: account.email,
        email_verified: state.accounts.email_verified(&user).await.map_err(failure)?,
        verification_asked: state.accounts.verify_mode()
            != fitroom_server::accounts::VerifyEmail::Off,
        sessions: sessions
            .into_iter()
            .map(|s| SessionView {
                id: s.id,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                user_agent: s.user_agent,
                current: s.current,
            })
            .collect(),
    })
}

#[server(prefix = "/_fn")]
pub async fn end_session(id: String) -> Result<(), ServerFnError> {
    use crate::api::server::{failure, state};
    let (user, _) = server::signed_in().await?;
    state()?.accounts.end_session(&user, &id).await.map_err(failure)?;
    leptos_axum::redirect("/account/security?done=session");
    Ok(())
}

#[server(prefix = "/_fn")]
pub async fn sign_out_everywhere() -> Result<(), ServerFnError> {
    use crate::api::server::{failure, set_cookie, state};
    let state = state()?;
    let (user, _) = server::signed_in().await?;
    state.accounts.end_every_session(&user).await.map_err(failure)?;
    set_cookie(&fitroom_server::http::session::cleared_cookie_value(&state));
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(prefix = "/_fn")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), ServerFnError> {
    use crate::api::server::{failure, state};
    let (user, token) = server::signed_in().await?;
    state()?
        .accounts
        .change_password(&user, &current_password, new_password, &token)
        .await
        .map_err(failure)?;
    leptos_axum::redirect("/account/security?done=password");
    Ok(())
}

#[server(prefix = "/_fn")]
pub async fn delete_account(password: String) -> Result<(), ServerFnError> {
    use crate::api::server::{failure, set_cookie, state};
    let state = state()?;
    let (user, _) = server::signed_in().await?;
    fitroom_server::privacy::deletion::delete_account(&state, &user, &password)
        .await
        .map_err(failure)?;
    set_cookie(&fitroom_server::http::session::cleared_cookie_value(&state));
    leptos_axum::redirect("/privacy?deleted=1");
    Ok(())
}

#[server(prefix = "/_fn")]
pub async fn resend_verification() -> Result<(), ServerFnError> {
    use crate::api::server::{failure, state};
    let (user, _) = server::signed_in().await?;
    state()?.accounts.send_verification(&user).await.map_err(failure)?;
    leptos_axum::redirect("/account/security?done=verification");
    Ok(())
}

/// The same answer for every address (`POST /api/auth/password-reset`).
#[server(prefix = "/_fn")]
pub async fn request_reset(email: String) -> Result<(), ServerFnError> {
    let client = crate::api::server::client().await?;
    crate::api::server::state()?.accounts.request_password_reset(&email, &client);
    leptos_axum::redirect("/forgot-password?sent=1");
    Ok(())
}

#[server(prefix = "/_fn")]
pub async fn reset_password(token: String, password: String) -> Result<(), ServerFnError> {
    use crate::api::server::{failure, set_cookie, state};
    let state = state()?;
    state.accounts.reset_password(token.trim(), password).await.map_err(failure)?;
    set_cookie(&fitroom_server::http::session::cleared_cookie_value(&state));
    leptos_axum::redirect("/login?reset=1");
    Ok(())
}

#[server(prefix = "/_fn")]
pub async fn verify_email(token: String) -> Result<(), ServerFnError> {
    use crate::api::server::{failure, state};
    state()?.accounts.verify_email(token.trim()).await.map_err(failure)?;
    leptos_axum::redirect("/verify-email?done=1");
    Ok(())
}

#[server(prefix = "/_fn")]
pub async fn privacy_facts() -> Result<PrivacyView, ServerFnError> {
    let state = crate::api::server::state()?;
    let policy = state.accounts.policy;
    Ok(PrivacyView {
        input_retention_hours: state.config.input_retention_hours,
        garment_retention_hours: fitroom_server::garments::retention_hours(&state.config),
        result_retention_days: state.config.result_retention_days,
        session_idle_days: policy.idle_secs / 86_400,
        session_max_days: policy.absolute_secs / 86_400,
        verify_email: format!("{:?}", state.config.verify_email).to_lowercase(),
    })
}
