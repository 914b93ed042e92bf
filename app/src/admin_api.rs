//! Server functions of the operator console's pages. They call `fitroom_server::console`, the
//! same code as `/api/admin/…`, and refuse anyone who is not an admin with `not_found`.
//!
//! The pages post their forms without JavaScript, so a write answers with a redirect back to its
//! page carrying what happened (`?done=…`) or what was wrong (`?error=…`) for the page to show.

use fitroom_types::admin::{
    AdminAccount, AdminAccountDetail, AdminJob, AuditEntry, JobTimeline, Operations,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod guard {
    use fitroom_server::console::{Admin, page_after};
    use fitroom_server::http::ApiError;
    use leptos::prelude::*;

    use crate::api::server::{failure, state, user};

    /// The signed-in admin, if the session is an admin's.
    pub async fn admin_if_any() -> Result<Option<Admin>, ServerFnError> {
        let state = state()?;
        match user().await? {
            Some(user) => Admin::of(&state, user).await.map_err(failure),
            None => Ok(None),
        }
    }

    /// The signed-in admin; `not_found` for anyone else, as the REST console answers, with its
    /// status: a console function is as absent to them as the console's pages.
    pub async fn admin() -> Result<Admin, ServerFnError> {
        admin_if_any().await?.ok_or_else(|| {
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(http::StatusCode::NOT_FOUND);
            }
            failure(ApiError::not_found())
        })
    }

    /// Back to `page` with the outcome of a write: done, or the API's message for what failed.
    pub fn back<E: Into<ApiError>>(page: &str, outcome: Result<String, E>) {
        let target = match outcome {
            Ok(done) => page_after(page, Ok(&done)),
            Err(e) => page_after(page, Err(&e.into().message)),
        };
        leptos_axum::redirect(&target);
    }
}

/// The admin's address when the session is an admin's, else `None`.
#[server(prefix = "/_fn")]
pub async fn console_admin() -> Result<Option<String>, ServerFnError> {
    Ok(guard::admin_if_any().await.ok().flatten().map(|admin| admin.email))
}

#[server(prefix = "/_fn")]
pub async fn console_operations() -> Result<Operations, ServerFnError> {
    use crate::api::server::{failure, state};
    guard::admin().await?;
    fitroom_server::console::operations::overview(&state()?).await.map_err(failure)
}

/// Runs `ledger verify` now and records it; the overview shows the result.
#[server(prefix = "/_fn")]
pub async fn console_verify_ledger() -> Result<(), ServerFnError> {
    use crate::api::server::state;
    let admin = guard::admin().await?;
    let state = state()?;
    let now = state.clock.now();
    let outcome = fitroom_server::console::verification::run(&state.db, &admin.email, now)
        .await
        .map(|check| check.summary);
    guard::back("/admin", outcome);
    Ok(())
}

#[server(prefix = "/_fn")]
pub async fn console_jobs(
    status: String,
    provider: String,
    email: String,
    hours: String,
) -> Result<Vec<AdminJob>, ServerFnError> {
    use crate::api::server::{failure, state};
    use fitroom_server::console::jobs::JobFilter;
    use fitroom_server::http::ApiError;
    let admin = guard::admin().await?;
    let state = state()?;
    let status = match status.as_str() {
        "" => None,
        text => Some(
            fitroom_server::jobs::JobStatus::parse(text)
                .ok_or_else(|| failure(ApiError::invalid("Pick a status from the list.")))?,
        ),
    };
    let since_ms = match hours.parse::<i64>() {
        Ok(h) if h > 0 => Some(state.clock.now().millis() - h.saturating_mul(3_600_000)),
        _ => None,
    };
    let filter = JobFilter {
        status,
        provider: Some(provider).filter(|p| !p.is_empty()),
        email: Some(email).filter(|e| !e.is_empty()),
        since_ms,
        limit: 200,
    };
    fitroom_server::console::jobs::list(&state, &admin, &filter).await.map_err(failure)
}

#[server(prefix = "/_fn")]
pub async fn console_job(id: String) -> Result<JobTimeline, ServerFnError> {
    use crate::api::server::{failure, state};
    let admin = guard::admin().await?;
    let id = fitroom_server::ids::JobId::from_string(id);
    fitroom_server::console::jobs::timeline(&state()?, &admin, &id).await.map_err(failure)
}

#[server(prefix = "/_fn")]
pub async fn console_cancel_job(id: String, reason: String) -> Result<(), ServerFnError> {
    use crate::api::server::state;
    use fitroom_server::console::{ConsoleError, Reason};
    let admin = guard::admin().await?;
    let state = state()?;
    let page = fitroom_server::console::page_of("/admin/jobs", &id);
    let job = fitroom_server::ids::JobId::from_string(id);
    let outcome = match Reason::parse(Some(&reason)) {
        Ok(reason) => fitroom_server::console::jobs::cancel(&state, &admin, &job, &reason)
            .await
            .map(|_| "Canceled; its credits are released.".to_owned()),
        Err(e) => Err::<String, ConsoleError>(e),
    };
    guard::back(&page, outcome);
    Ok(())
}

#[server(prefix = "/_fn")]
pub async fn console_users(email: String) -> Result<Vec<AdminAccount>, ServerFnError> {
    use crate::api::server::{failure, state};
    guard::admin().await?;
    fitroom_server::console::accounts::search(&state()?, &email, 100).await.map_err(failure)
}

#[server(prefix = "/_fn")]
pub async fn console_user(id: String) -> Result<AdminAccountDetail, ServerFnError> {
    use crate::api::server::{failure, state};
    let admin = guard::admin().await?;
    let id = fitroom_server::ids::UserId::from_string(id);
    fitroom_server::console::accounts::detail(&state()?, &admin, &id).await.map_err(failure)
}

#[server(prefix = "/_fn")]
pub async fn console_grant(
    user_id: String,
    amount: String,
    expires_in_days: String,
    reason: String,
) -> Result<(), ServerFnError> {
    use crate::api::server::state;
    use fitroom_server::console::accounts::AdminGrant;
    use fitroom_server::console::{ConsoleError, Reason};
    let admin = guard::admin().await?;
    let state = state()?;
    let page = fitroom_server::console::page_of("/admin/users", &user_id);
    let user = fitroom_server::ids::UserId::from_string(user_id);
    let grant = || -> Result<AdminGrant, ConsoleError> {
        let amount = amount
            .trim()
            .parse::<i64>()
            .map_err(|_| ConsoleError::Invalid("Amount must be a whole number of credits."))?;
        let expires_in_days = match expires_in_days.trim() {
            "" => None,
            days => Some(days.parse::<i64>().map_err(|_| {
                ConsoleError::Invalid("Expires in must be a whole number of days, or empty.")
            })?),
        };
        Ok(AdminGrant { amount, expires_in_days, reason: Reason::parse(Some(&reason))? })
    };
    let outcome = match grant() {
        Ok(grant) => fitroom_server::console::accounts::grant(&state, &admin, &user, &grant)
            .await
            .map(|p| format!("Granted {} credits.", p.granted)),
        Err(e) => Err(e),
    };
    guard::back(&page, outcome);
    Ok(())
}

#[server(prefix = "/_fn")]
pub async fn console_suspend(
    user_id: String,
    reason: String,
    suspend: bool,
) -> Result<(), ServerFnError> {
    use crate::api::server::state;
    use fitroom_server::console::Reason;
    let admin = guard::admin().await?;
    let state = state()?;
    let page = fitroom_server::console::page_of("/admin/users", &user_id);
    let user = fitroom_server::ids::UserId::from_string(user_id);
    let outcome = match Reason::parse(Some(&reason)) {
        Ok(reason) => fitroom_server::console::accounts::set_suspended(
            &state, &admin, &user, &reason, suspend,
        )
        .await
        .map(|_| if suspend { "Suspended." } else { "Suspension lifted." }.to_owned()),
        Err(e) => Err(e),
    };
    guard::back(&page, outcome);
    Ok(())
}

#[server(prefix = "/_fn")]
pub async fn console_audit() -> Result<Vec<AuditEntry>, ServerFnError> {
    use crate::api::server::{failure, state};
    guard::admin().await?;
    fitroom_server::console::audit_log::newest(&state()?, 500).await.map_err(failure)
}

#[server(prefix = "/_fn")]
pub async fn console_providers() -> Result<Vec<fitroom_types::admin::ProviderRow>, ServerFnError> {
    use crate::api::server::{failure, state};
    guard::admin().await?;
    fitroom_server::console::providers::rows(&state()?).await.map_err(failure)
}

/// Ends a provider's cool-down for every process, with a reason for the audit log.
#[server(prefix = "/_fn")]
pub async fn console_reset_cooldown(provider: String, reason: String) -> Result<(), ServerFnError> {
    use crate::api::server::state;
    use fitroom_server::console::Reason;
    let admin = guard::admin().await?;
    let state = state()?;
    let outcome = match Reason::parse(Some(&reason)) {
        Ok(reason) => {
            fitroom_server::console::providers::reset_cooldown(&state, &admin, &provider, &reason)
                .await
                .map(|()| format!("{provider} is tried again from now on."))
        }
        Err(e) => Err(e),
    };
    guard::back("/admin/providers", outcome);
    Ok(())
}
