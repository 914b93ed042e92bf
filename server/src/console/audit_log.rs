//! The audit log as the console shows it: newest first, each write with its admin's address.

use fitroom_types::admin::AuditEntry;

use super::ConsoleError;
use crate::AppState;
use crate::audit;

pub async fn newest(state: &AppState, limit: i64) -> Result<Vec<AuditEntry>, ConsoleError> {
    Ok(audit::newest(&state.db, limit)
        .await?
        .into_iter()
        .map(|e| AuditEntry {
            id: e.id,
            at: e.at.to_rfc3339(),
            actor: e.actor_email,
            action: e.action,
            target: e.target,
            reason: e.reason,
        })
        .collect())
}
