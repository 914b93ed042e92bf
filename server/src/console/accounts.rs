//! Shoppers' accounts as the operator finds and helps them: search by address, the whole account,
//! credits granted with a reason, suspension.

use fitroom_types::admin::{AdminAccount, AdminAccountDetail};

use super::{Admin, ConsoleError, Reason, containing};
use crate::AppState;
use crate::audit::{self, AdminWrite};
use crate::clock::Timestamp;
use crate::ids::UserId;
use crate::ledger::{Credits, Grant};

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
    grant: &AdminGrant,
) -> Result<fitroom_types::Package, ConsoleError> {
    let credits = Credits::new(grant.amount)
        .map_err(|_| ConsoleError::Invalid("amount must be a positive whole number of credits."))?;
    if grant.expires_in_days.is_some_and(|d| d <= 0 || d > 36_500) {
        return Err(ConsoleError::Invalid(
            "expires_in_days must be a whole number of days from 1 to 36500.",
        ));
    }
    by_id(state, id).await?;
    let now = state.clock.now();
    let package = state
        .ledger
        .grant(&Grant {
            user: id.clone(),
            credits,
            name: format!("Granted by {}", admin.email),
            expires_at: grant.expires_in_days.map(|d| now.plus_days(d)),
            source: Some(format!("admin-grant:{}", uuid::Uuid::now_v7().simple())),
        })
        .await?;
    let write = AdminWrite {
        actor: &admin.id,
        actor_email: &admin.email,
        action: "grant_credits",
        target: id.as_str(),
        reason: &format!("{credits} credits: {}", grant.reason.as_str()),
    };
    audit::record(&state.db, &write, now).await?;
    let balance = state.ledger.balance(id).await?;
    let granted =
        balance.packages.iter().find(|p| p.id == package).ok_or(ConsoleError::NotFound)?;
    Ok(granted.view(balance.now))
}

/// Suspends (every session ends, sign-in refused) or lifts a suspension.
pub async fn set_suspended(
    state: &AppState,
    admin: &Admin,
    id: &UserId,
    reason: &Reason,
    suspend: bool,
) -> Result<AdminAccount, ConsoleError> {
    if !state.accounts.set_suspended(id, suspend.then_some(reason.as_str())).await? {
        return Err(ConsoleError::NotFound);
    }
    let write = AdminWrite {
        actor: &admin.id,
        actor_email: &admin.email,
        action: if suspend { "suspend" } else { "unsuspend" },
        target: id.as_str(),
        reason: reason.as_str(),
    };
    audit::record(&state.db, &write, state.clock.now()).await?;
    by_id(state, id).await
}
