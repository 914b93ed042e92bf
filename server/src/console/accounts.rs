//! Shoppers' accounts as the operator finds and helps them: search by address, the whole account,
//! credits granted with a reason, suspension.

use fitroom_types::admin::{AdminAccount, AdminAccountDetail};

use super::{Admin, ConsoleError, Reason, containing};
use crate::AppState;
use crate::audit::{self, AdminWrite};
use crate::clock::Timestamp;
use crate::db::with_retry;
use crate::ids::{PackageId, UserId};
use crate::ledger::{Credits, Grant, LedgerError, LedgerTx};

type AccountRow = (String, String, i64, Option<i64>);

const ACCOUNT_COLUMNS: &str = "id, email, created_at, suspended_at";

async fn account(
    state: &AppState,
    (id, email, created_at, suspended_at): AccountRow,
) -> Result<AdminAccount, ConsoleError> {
    let balance = state.ledger.balance(&UserId::from_string(id.clone())).await?;
    Ok(AdminAccount {
        id,
        email,
        created_at: Timestamp::from_millis(created_at).to_rfc3339(),
        available: balance.available.get(),
        held: balance.held.get(),
        suspended: suspended_at.is_some(),
    })
}

pub async fn by_id(state: &AppState, id: &UserId) -> Result<AdminAccount, ConsoleError> {
    let row: Option<AccountRow> =
        sqlx::query_as(&format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(state.db.pool())
            .await?;
    account(state, row.ok_or(ConsoleError::NotFound)?).await
}

/// Accounts whose address contains `email` (without case), newest first.
pub async fn search(
    state: &AppState,
    email: &str,
    limit: i64,
) -> Result<Vec<AdminAccount>, ConsoleError> {
    let rows: Vec<AccountRow> = sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM users WHERE lower(email) LIKE $1 ESCAPE '\\' \
         ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(containing(email.trim()))
    .bind(limit)
    .fetch_all(state.db.pool())
    .await?;
    let mut users = Vec::with_capacity(rows.len());
    for row in rows {
        users.push(account(state, row).await?);
    }
    Ok(users)
}

/// The account, its packages in the order they are spent, its ledger and its generations.
pub async fn detail(
    state: &AppState,
    admin: &Admin,
    id: &UserId,
) -> Result<AdminAccountDetail, ConsoleError> {
    let user = by_id(state, id).await?;
    tracing::info!(admin = %admin.id, user = %id, "admin read an account");
    let balance = state.ledger.balance(id).await?;
    let entries = state.ledger.entries(id, 100).await?;
    let jobs = state.jobs.list(id, 100).await?;
    Ok(AdminAccountDetail {
        user,
        packages: balance.packages.iter().map(|p| p.view(balance.now)).collect(),
        entries: entries.iter().map(crate::ledger::Entry::view).collect(),
        generations: jobs.iter().map(|j| j.generation(&state.config.public_url)).collect(),
    })
}

/// Credits given by an admin: a ledger grant named for them, and an audit entry with the reason.
#[derive(Clone, Debug)]
pub struct AdminGrant {
    pub amount: i64,
    pub expires_in_days: Option<i64>,
    pub reason: Reason,
}

pub async fn grant(
    state: &AppState,
    admin: &Admin,
    id: &UserId,
    request: &AdminGrant,
) -> Result<fitroom_types::Package, ConsoleError> {
    let credits = Credits::new(request.amount)
        .ok()
        .filter(|c| !c.is_zero())
        .ok_or(ConsoleError::Invalid("amount must be a positive whole number of credits."))?;
    if request.expires_in_days.is_some_and(|d| d <= 0 || d > 36_500) {
        return Err(ConsoleError::Invalid(
            "expires_in_days must be a whole number of days from 1 to 36500.",
        ));
    }
    by_id(state, id).await?;
    let now = state.clock.now();
    let grant = Grant {
        user: id.clone(),
        credits,
        name: format!("Granted by {}", admin.email),
        expires_at: request.expires_in_days.map(|d| now.plus_days(d)),
        source: Some(format!("admin-grant:{}", uuid::Uuid::now_v7().simple())),
    };
    let reason = format!("{credits} credits: {}", request.reason.as_str());
    let write = AdminWrite {
        actor: &admin.id,
        actor_email: &admin.email,
        action: "grant_credits",
        target: id.as_str(),
        reason: &reason,
    };
    let package = grant_recorded(state, &grant, &write).await?;
    let balance = state.ledger.balance(id).await?;
    let granted =
        balance.packages.iter().find(|p| p.id == package).ok_or(ConsoleError::NotFound)?;
    Ok(granted.view(balance.now))
}

/// The package and the audit entry that names its admin, in one transaction: the log never
/// misses a grant, nor names one that did not happen. A retry after a commit whose answer was
/// lost finds the package by its source and records nothing twice.
async fn grant_recorded(
    state: &AppState,
    grant: &Grant,
    write: &AdminWrite<'_>,
) -> Result<PackageId, ConsoleError> {
    let source = grant.source.as_deref().unwrap_or_default();
    let id = with_retry(|| async {
        let mut tx = state.db.pool().begin().await?;
        let granted: Option<(String,)> =
            sqlx::query_as("SELECT id FROM credit_packages WHERE source = $1")
                .bind(source)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((id,)) = granted {
            return Ok::<_, LedgerError>(PackageId::from_string(id));
        }
        // The user's lock first, then the audit log's next place: the order of a suspension
        // and of an operator's cancel, so that none of them waits on another in a cycle.
        let mut tx = LedgerTx::begin_in(&state.ledger, tx, &grant.user).await?;
        let result = async {
            let conn = tx.conn().await?;
            let now = state.clock.now();
            audit::record_in(conn, write, now).await?;
            state.ledger.grant_in(&mut tx, grant).await
        }
        .await;
        tx.end(result).await
    })
    .await?;
    Ok(id)
}

/// Suspends (every session ends, sign-in refused) or lifts a suspension; the change and its
/// audit entry are one transaction (`Accounts::set_suspended`).
pub async fn set_suspended(
    state: &AppState,
    admin: &Admin,
    id: &UserId,
    reason: &Reason,
    suspend: bool,
) -> Result<AdminAccount, ConsoleError> {
    let write = AdminWrite {
        actor: &admin.id,
        actor_email: &admin.email,
        action: if suspend { "suspend" } else { "unsuspend" },
        target: id.as_str(),
        reason: reason.as_str(),
    };
    if !state.accounts.set_suspended(id, suspend.then_some(reason.as_str()), &write).await? {
        return Err(ConsoleError::NotFound);
    }
    by_id(state, id).await
}
