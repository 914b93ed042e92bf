//! Server functions for the pages' data. They call the same domain code as the REST handlers
//! (`fitroom_server`), so no rule exists twice.

use fitroom_types::Generation;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in shopper, as the header shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub email: String,
    pub available: i64,
    pub held: i64,
    pub cost: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageView {
    pub name: String,
    pub granted: i64,
    pub remaining: i64,
    pub held: i64,
    pub status: String,
    /// `YYYY-MM-DD`, or `None` for a package that never expires.
    pub expires_on: Option<String>,
    pub expires_in_days: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryView {
    pub at: String,
    pub kind: String,
    pub amount: i64,
    pub job_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub available: i64,
    pub held: i64,
    pub packages: Vec<PackageView>,
    pub entries: Vec<EntryView>,
}

/// What a shopper reads of a failed server function: its message, without the transport's
/// prefix or the error code (`server::failure` sends "<code>: <message>").
pub fn error_text(e: &ServerFnError) -> String {
    let text = e.to_string();
    let mut parts = text.splitn(3, ": ");
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(_), Some(message)) => message.to_owned(),
        _ => text.rsplit_once(": ").map_or(text.clone(), |(_, m)| m.to_owned()),
    }
}

#[cfg(feature = "ssr")]
pub(crate) mod server {
    use fitroom_server::AppState;
    use fitroom_server::http::ApiError;
    use fitroom_server::ids::UserId;
    use leptos::prelude::*;

    /// The server's state, provided to every page render and server function. A resource whose
    /// source settles after its page was sent (a route's params, read during the render) fetches
    /// once more after the request's owner is gone: that answer is read by nobody, so it fails
    /// quietly rather than as an internal error in the log.
    pub fn state() -> Result<AppState, ServerFnError> {
        use_context::<AppState>()
            .ok_or_else(|| ServerFnError::new("internal: the request has ended"))
    }

    /// A failure as the browser sees it: the API's code and plain message, the same as the REST
    /// endpoints answer. Internal text never leaves: `ApiError::internal` logs it.
    pub fn failure(e: impl Into<ApiError>) -> ServerFnError {
        let e = e.into();
        ServerFnError::new(format!("{}: {}", e.code.as_str(), e.message))
    }

    /// The session's user, if any.
    pub async fn user() -> Result<Option<UserId>, ServerFnError> {
        let state = state()?;
        let headers: http::HeaderMap = leptos_axum::extract().await?;
        let Some(token) = fitroom_server::http::session::session_token(&headers) else {
            return Ok(None);
        };
        state.accounts.session_user(&token).await.map_err(failure)
    }

    /// The client as accounts see it: its address (as `http::client` resolved it for this
    /// request) and its user agent.
    pub async fn client() -> Result<fitroom_server::accounts::Client, ServerFnError> {
        let fitroom_server::http::client::AccountClient(client) = leptos_axum::extract().await?;
        Ok(client)
    }

    pub async fn require_user() -> Result<UserId, ServerFnError> {
        user().await?.ok_or_else(|| failure(ApiError::unauthenticated()))
    }

    pub fn set_cookie(value: &str) {
        if let (Some(response), Ok(value)) =
            (use_context::<leptos_axum::ResponseOptions>(), http::HeaderValue::from_str(value))
        {
            response.append_header(http::header::SET_COOKIE, value);
        }
    }
}

#[server(prefix = "/_fn")]
pub async fn current_viewer() -> Result<Option<Viewer>, ServerFnError> {
    let state = server::state()?;
    let Some(user) = server::user().await? else { return Ok(None) };
    let Some(account) = state.accounts.user(&user).await.map_err(server::failure)? else {
        return Ok(None);
    };
    let balance = state.ledger.balance(&user).await.map_err(server::failure)?;
    Ok(Some(Viewer {
        email: account.email,
        available: balance.available.get(),
        held: balance.held.get(),
        cost: state.config.generation_cost.get(),
    }))
}

#[server(prefix = "/_fn")]
pub async fn sign_in(email: String, password: String, next: String) -> Result<(), ServerFnError> {
    let state = server::state()?;
    let client = server::client().await?;
    let (_, token) =
        state.accounts.login(&email, &password, &client).await.map_err(server::failure)?;
    server::set_cookie(&fitroom_server::http::session::cookie_value(&state, &token));
    leptos_axum::redirect(&fitroom_server::http::next::same_site_path(&next));
    Ok(())
}

#[server(prefix = "/_fn")]
pub async fn sign_up(email: String, password: String, next: String) -> Result<(), ServerFnError> {
    let state = server::state()?;
    let client = server::client().await?;
    let (_, token) =
        state.accounts.register(&email, password, &client).await.map_err(server::failure)?;
    server::set_cookie(&fitroom_server::http::session::cookie_value(&state, &token));
    leptos_axum::redirect(&fitroom_server::http::next::same_site_path(&next));
    Ok(())
}

#[server(prefix = "/_fn")]
pub async fn sign_out() -> Result<(), ServerFnError> {
    let state = server::state()?;
    let headers: http::HeaderMap = leptos_axum::extract().await?;
    if let Some(token) = fitroom_server::http::session::session_token(&headers) {
        state.accounts.logout(&token).await.map_err(server::failure)?;
    }
    server::set_cookie(&fitroom_server::http::session::cleared_cookie_value(&state));
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(prefix = "/_fn")]
pub async fn account() -> Result<AccountView, ServerFnError> {
    let state = server::state()?;
    let user = server::require_user().await?;
    let balance = state.ledger.balance(&user).await.map_err(server::failure)?;
    let now = balance.now;
    let packages = balance
        .packages
        .iter()
        .map(|p| PackageView {
            name: p.name.clone(),
            granted: p.granted.get(),
            remaining: p.remaining().get(),
            held: p.held.get(),
            status: p.status_at(now).as_str().to_owned(),
            expires_on: p.expires_at.map(|t| t.to_rfc3339()[..10].to_owned()),
            expires_in_days: p
                .expires_at
                .map(|t| (t.millis() - now.millis()).max(0).div_euclid(86_400_000)),
        })
        .collect();
    let entries = state
        .ledger
        .entries(&user, 100)
        .await
        .map_err(server::failure)?
        .into_iter()
        .map(|e| EntryView {
            at: e.at.to_rfc3339()[..16].replace('T', " "),
            kind: e.kind.as_str().to_owned(),
            amount: e.amount.get(),
            job_id: e.job.map(|j| j.to_string()),
        })
        .collect();
    Ok(AccountView {
        available: balance.available.get(),
        held: balance.held.get(),
        packages,
        entries,
    })
}

/// The default provider's median seconds from submission to result over the routing window,
/// for the progress message; `None` before any success.
#[server(prefix = "/_fn")]
pub async fn typical_seconds() -> Result<Option<u64>, ServerFnError> {
    let state = server::state()?;
    let now = state.clock.now();
    let window_ms =
        i64::try_from(state.config.routing_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let since = fitroom_server::clock::Timestamp::from_millis(now.millis() - window_ms);
    let measured =
        fitroom_server::spend::figures::measure(&state.db, &state.config.default_provider, since)
            .await
            .map_err(|e| server::failure(fitroom_server::http::ApiError::internal(e)))?;
    Ok(measured.percentile_ms(0.5).map(|ms| ((ms + 999) / 1000) as u64))
}

/// The shopper's saved person photos, newest first (`GET /api/photos`).
#[server(prefix = "/_fn")]
pub async fn saved_photos() -> Result<Vec<fitroom_types::SavedPhoto>, ServerFnError> {
    let state = server::state()?;
    let user = server::require_user().await?;
    fitroom_server::photos::list(&state.db, &user, &state.config.public_url)
        .await
        .map_err(server::failure)
}

/// The shopper's generations, newest first: the same `Generation` as `GET /api/generations`.
#[server(prefix = "/_fn")]
pub async fn history() -> Result<Vec<Generation>, ServerFnError> {
    let state = server::state()?;
    let user = server::require_user().await?;
    let jobs = state.jobs.list(&user, 100).await.map_err(server::failure)?;
    Ok(jobs.iter().map(|j| j.generation(&state.config.public_url)).collect())
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogView {
    pub buying_enabled: bool,
    pub items: Vec<CatalogItemView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogItemView {
    pub id: String,
    pub name: String,
    pub credits: i64,
    pub valid_days: i64,
    /// e.g. `5.00 USD`
    pub price: String,
}

#[server(prefix = "/_fn")]
pub async fn catalog() -> Result<CatalogView, ServerFnError> {
    let state = server::state()?;
    Ok(CatalogView {
        buying_enabled: state.stripe.enabled(),
        items: state
            .catalog
            .items
            .iter()
            .map(|i| CatalogItemView {
                id: i.id.clone(),
                name: i.name.clone(),
                credits: i.credits,
                valid_days: i.valid_days,
                price: format!(
                    "{}.{:02} {}",
                    i.price / 100,
                    i.price % 100,
                    i.currency.to_uppercase()
                ),
            })
            .collect(),
    })
}

/// Starts a Stripe Checkout for one package and sends the shopper there.
#[server(prefix = "/_fn")]
pub async fn buy(package_id: String) -> Result<(), ServerFnError> {
    let state = server::state()?;
    let user = server::require_user().await?;
    if !state.stripe.enabled() {
        return Err(server::failure(fitroom_server::billing::StripeError::Disabled));
    }
    let item = state
        .catalog
        .get(&package_id)
        .ok_or_else(|| server::failure(fitroom_server::http::ApiError::not_found()))?;
    let url = state
        .stripe
        .create_checkout(&user, item, &state.config.public_url)
        .await
        .map_err(server::failure)?;
    leptos_axum::redirect(&url);
    Ok(())
}
