//! Deleting an account is a claimed job (DESIGN.md, "Retention and deletion are jobs too").
//!
//! `mark` does, in one transaction, what must never be half done: the address is freed and the
//! account anonymised, every session and link ends, and an `account_erasures` row says what
//! is left to do. `erase` then deletes everything the account had in storage; it is run at
//! once by the request and, whenever that was cut off (a crash, a client that went away, a
//! store that failed), by `finish_pending` from every process's housekeeping, which claims each
//! row with a lease like the reconciler's.
//!
//! A request let in just before the mark may still store something (another process trusts a
//! session it read for a second; an upload may be on its way): the erasure is repeated until a
//! run that started `SETTLE_SECS` after the mark finds nothing left.

use crate::AppState;
use crate::ids::UserId;
use crate::privacy::PrivacyError;

/// Longer than any process trusts a cached session, and than a request that passed its checks
/// before the mark takes to store what it carries.
pub const SETTLE_SECS: i64 = 120;
/// How long one process may work on an account before another may take it over.
const LEASE_SECS: i64 = 600;
/// The wait after a failed run; it doubles with each further failure, up to an hour.
const RETRY_SECS: i64 = 30;
const MAX_RETRY_SECS: i64 = 3_600;
const BATCH: i64 = 20;

/// The fault point between the mark and the erasure, for the crash test.
pub const AFTER_MARK: &str = "account_deletion:after_mark";

/// What one run of the erasure found and did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Erased {
    /// Generations canceled or marked, photos, garments and unrecorded objects found: zero
    /// once everything of the account is gone.
    pub found: usize,
    /// Objects deleted (or found already gone).
    pub deletes: usize,
}

/// What a pass over the pending erasures did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ErasurePass {
    /// Accounts erased for good by this pass.
    pub completed: usize,
    /// Runs that failed; their accounts are tried again after a back-off.
    pub failures: usize,
}

/// Frees the address, anonymises the account, ends its sessions and links, and records the
/// erasure still to do, all in one transaction. `NotFound` when the account is already deleted.
pub async fn mark(state: &AppState, user: &UserId) -> Result<(), PrivacyError> {
    let now = state.clock.now();
    let mut tx = state.db.pool().begin().await?;
    crate::accounts::lifecycle::anonymize_in(&mut tx, user, now).await?;
    sqlx::query(
        "INSERT INTO account_erasures (user_id, requested_at, settle_at, next_at) VALUES ($1, $2, $3, $2)",
    )
    .bind(user.as_str())
    .bind(now.millis())
    .bind(now.plus_secs(SETTLE_SECS).millis())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    state.accounts.sessions.forget_all();
    Ok(())
}

/// Deletes everything `user` has in storage, once: unfinished generations are canceled (their
/// holds released), then every generation's objects, saved photos and garments go, and any
/// object still under the account's own prefixes (left by a crash before its row was written).
pub async fn erase(state: &AppState, user: &UserId) -> Result<Erased, PrivacyError> {
    let jobs = state.jobs.erase_all(user).await?;
    let photos = crate::photos::erase_all(&state.db, state.storage.as_ref(), user).await?;
    let garments = crate::garments::erase_all(state, user).await?;
    let mut erased = Erased {
        found: jobs.changed + photos + garments,
        deletes: jobs.deletes + photos + garments,
    };
    for prefix in [format!("photos/{user}/"), format!("garments/{user}/")] {
        for object in state.storage.list(&prefix).await? {
            state.storage.delete(&object.key).await?;
            erased.found += 1;
            erased.deletes += 1;
        }
    }
    Ok(erased)
}

/// Claims the account's pending erasure, runs it, and records the outcome. False when there is
/// nothing to claim (erased, not due, or another process holds it).
pub async fn run(state: &AppState, user: &UserId) -> Result<bool, PrivacyError> {
    let started = state.clock.now();
    let claimed: Option<(i64,)> = sqlx::query_as(
        "UPDATE account_erasures SET lease_until = $1 WHERE user_id = $2 AND erased_at IS NULL \
         AND next_at <= $3 AND (lease_until IS NULL OR lease_until < $3) RETURNING settle_at",
    )
    .bind(started.plus_secs(LEASE_SECS).millis())
    .bind(user.as_str())
    .bind(started.millis())
    .fetch_optional(state.db.pool())
    .await?;
    let Some((settle_at,)) = claimed else { return Ok(false) };
    let erased = match erase(state, user).await {
        Ok(erased) => erased,
        Err(e) => {
            back_off(state, user).await?;
            return Err(e);
        }
    };
    // Done once a run that started after the settling time found nothing; until then the
    // account comes back when that time is reached.
    let now = state.clock.now().millis();
    let done = erased.found == 0 && started.millis() >= settle_at;
    let (erased_at, next_at) = if done { (Some(now), now) } else { (None, now.max(settle_at)) };
    sqlx::query(
        "UPDATE account_erasures SET erased_at = $1, next_at = $2, lease_until = NULL, failures = 0 \
         WHERE user_id = $3",
    )
    .bind(erased_at)
    .bind(next_at)
    .bind(user.as_str())
    .execute(state.db.pool())
    .await?;
    if done {
        tracing::info!(user = %user, "account erased");
    } else {
        tracing::info!(user = %user, found = erased.found, deletes = erased.deletes, "account erasure ran; it runs again until nothing is left");
    }
    Ok(done)
}

/// A failed run: the account is tried again after a back-off that doubles with each failure.
async fn back_off(state: &AppState, user: &UserId) -> Result<(), PrivacyError> {
    let (failures,): (i64,) =
        sqlx::query_as("SELECT failures FROM account_erasures WHERE user_id = $1")
            .bind(user.as_str())
            .fetch_one(state.db.pool())
            .await?;
    let doublings = u32::try_from(failures.clamp(0, 16)).unwrap_or(16);
    let wait = RETRY_SECS.saturating_mul(1 << doublings).min(MAX_RETRY_SECS);
    sqlx::query(
        "UPDATE account_erasures SET failures = failures + 1, next_at = $1, lease_until = NULL \
         WHERE user_id = $2",
    )
    .bind(state.clock.now().plus_secs(wait).millis())
    .bind(user.as_str())
    .execute(state.db.pool())
    .await?;
    Ok(())
}

/// One pass over the erasures that are due and that nobody holds: each is claimed, so several
/// processes share the work. A failing account is logged and skipped; it never ends the pass.
pub async fn finish_pending(state: &AppState) -> ErasurePass {
    let mut pass = ErasurePass::default();
    let now = state.clock.now().millis();
    let due: Result<Vec<(String,)>, _> = sqlx::query_as(
        "SELECT user_id FROM account_erasures WHERE erased_at IS NULL AND next_at <= $1 \
         AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_at LIMIT $2",
    )
    .bind(now)
    .bind(BATCH)
    .fetch_all(state.db.pool())
    .await;
    let due = match due {
        Ok(due) => due,
        Err(e) => {
            tracing::error!(error = %e, "reading the pending account erasures failed");
            pass.failures += 1;
            return pass;
        }
    };
    for (user,) in due {
        let user = UserId::from_string(user);
        match run(state, &user).await {
            Ok(true) => pass.completed += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(user = %user, error = %e, "erasing a deleted account failed; will try again");
                pass.failures += 1;
            }
        }
    }
    pass
}
