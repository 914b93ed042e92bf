//! Providers at a glance, and the operator's cool-down reset.

use fitroom_types::admin::ProviderRow;

use super::{Admin, ConsoleError, Reason};
use crate::AppState;
use crate::audit::{self, AdminWrite};
use crate::db::with_retry;
use crate::spend::{figures, health};

/// The rows of `fitroom providers --json`, for every enabled provider in failover order.
pub async fn rows(state: &AppState) -> Result<Vec<ProviderRow>, ConsoleError> {
    let names = state.jobs.registry().names();
    let window_ms =
        i64::try_from(state.config.routing_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    Ok(figures::rows(&state.db, &state.config.spend, &names, window_ms, state.clock.now()).await?)
}

/// Ends a provider's cool-down now: every process tries it again at its next submission.
pub async fn reset_cooldown(
    state: &AppState,
    admin: &Admin,
    provider: &str,
    reason: &Reason,
) -> Result<(), ConsoleError> {
    let name = state.jobs.registry().name(provider).ok_or(ConsoleError::NotFound)?;
    let write = AdminWrite {
        actor: &admin.id,
        actor_email: &admin.email,
        action: "reset_cooldown",
        target: name.as_str(),
        reason: reason.as_str(),
    };
    let now = state.clock.now();
    with_retry(|| async {
        let mut tx = state.db.pool().begin().await?;
        health::reset_in(&mut tx, name.as_str(), now).await?;
        audit::record_in(&mut tx, &write, now).await?;
        tx.commit().await
    })
    .await?;
    Ok(())
}
