use serde::Serialize;

use crate::clock::Timestamp;
use crate::db::with_retry;
use crate::ids::{HoldId, JobId, PackageId, UserId};
use crate::ledger::{Credits, EntryKind, Ledger, LedgerError, LedgerTx};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldState {
    Open,
    Settled,
    Released,
}

impl HoldState {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldState::Open => "open",
            HoldState::Settled => "settled",
            HoldState::Released => "released",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "open" => HoldState::Open,
            "settled" => HoldState::Settled,
            "released" => HoldState::Released,
            _ => return None,
        })
    }
}

impl std::fmt::Display for HoldState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an open hold ends: its credits are consumed, or given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    Settle,
    Release,
}

impl Resolution {
    fn target(self) -> HoldState {
        match self {
            Resolution::Settle => HoldState::Settled,
            Resolution::Release => HoldState::Released,
        }
    }
}

#[derive(Clone, Debug)]
pub struct FreezeRequest {
    pub user: UserId,
    pub amount: Credits,
    pub job: JobId,
    /// The same key from the same user answers the first hold and never reserves twice.
    pub idempotency_key: String,
    /// After this the reconciler releases the hold (and fails its job).
    pub deadline: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    pub package: PackageId,
    pub amount: Credits,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub id: HoldId,
    pub user: UserId,
    pub job: JobId,
    pub amount: Credits,
    pub state: HoldState,
    pub allocations: Vec<Allocation>,
    pub created_at: Timestamp,
    pub deadline_at: Timestamp,
}

/// A freeze's answer: the hold, and whether it already existed for this idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frozen {
    pub hold: Hold,
    pub replayed: bool,
}

/// A resolution's answer: the hold's final state, and whether it had already been reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub hold: HoldId,
    pub state: HoldState,
    pub replayed: bool,
}

/// Takes `amount` from `free` (package, unheld credits) in the given order; all or nothing.
pub fn allocate(free: &[(PackageId, i64)], amount: i64) -> Option<Vec<Allocation>> {
    let mut left = amount;
    let mut allocations = Vec::new();
    for (package, available) in free {
        if left == 0 {
            break;
        }
        let take = left.min(*available);
        if take > 0 {
            allocations.push(Allocation { package: package.clone(), amount: Credits::new(take).ok()? });
            left -= take;
        }
    }
    (left == 0).then_some(allocations)
}

impl Ledger {
    /// Reserves credits for a job from the user's active packages, first-expiring-first.
    pub async fn freeze(&self, request: &FreezeRequest) -> Result<Frozen, LedgerError> {
        with_retry(|| async {
            let mut tx = LedgerTx::begin(self, &request.user).await?;
            let frozen = self.freeze_in(&mut tx, request).await?;
            tx.commit().await?;
            Ok(frozen)
        })
        .await
    }

    /// `freeze` inside a caller's transaction, so a job and its hold are written together.
    pub async fn freeze_in(&self, tx: &mut LedgerTx, request: &FreezeRequest) -> Result<Frozen, LedgerError> {
        if request.amount.is_zero() {
            return Err(LedgerError::NonPositiveHold);
        }
        if let Some(hold) = self.hold_by_key(tx, &request.idempotency_key).await? {
            if hold.amount != request.amount || hold.job != request.job {
                return Err(LedgerError::IdempotencyMismatch);
            }
            return Ok(Frozen { hold, replayed: true });
        }

        let now = tx.now();
        let free: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, granted - consumed - held - expired - refunded FROM credit_packages \
             WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > $2) \
               AND granted - consumed - held - expired - refunded > 0 \
             ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, granted_at, id",
        )
        .bind(request.user.as_str())
        .bind(now.millis())
        .fetch_all(tx.conn())
        .await?;
        let free: Vec<(PackageId, i64)> =
            free.into_iter().map(|(id, n)| (PackageId::from_string(id), n)).collect();
        let Some(allocations) = allocate(&free, request.amount.get()) else {
            let available = free.iter().map(|(_, n)| n).sum();
            return Err(LedgerError::InsufficientCredits {
                requested: request.amount,
                available: Credits::new(available)?,
            });
        };

        for allocation in &allocations {
            let updated = sqlx::query(
                "UPDATE credit_packages SET held = held + $1 \
                 WHERE id = $2 AND granted - consumed - held - expired - refunded >= $1",
            )
            .bind(allocation.amount.get())
            .bind(allocation.package.as_str())
            .execute(tx.conn())
            .await?;
            if updated.rows_affected() != 1 {
                return Err(LedgerError::Conflict);
            }
            self.faults.check("freeze:after_package_update")?;
        }

        let hold = Hold {
            id: HoldId::generate(),
            user: request.user.clone(),
            job: request.job.clone(),
            amount: request.amount,
            state: HoldState::Open,
            allocations,
            created_at: now,
            deadline_at: request.deadline,
        };
        sqlx::query(
            "INSERT INTO holds (id, user_id, job_id, idempotency_key, amount, state, created_at, deadline_at) \
             VALUES ($1, $2, $3, $4, $5, 'open', $6, $7)",
        )
        .bind(hold.id.as_str())
        .bind(hold.user.as_str())
        .bind(hold.job.as_str())
        .bind(&request.idempotency_key)
        .bind(hold.amount.get())
        .bind(now.millis())
        .bind(hold.deadline_at.millis())
        .execute(tx.conn())
        .await?;
        self.faults.check("freeze:after_hold")?;

        for allocation in &hold.allocations {
            sqlx::query("INSERT INTO hold_allocations (hold_id, package_id, amount) VALUES ($1, $2, $3)")
                .bind(hold.id.as_str())
                .bind(allocation.package.as_str())
                .bind(allocation.amount.get())
                .execute(tx.conn())
                .await?;
        }
        self.faults.check("freeze:after_allocations")?;

        for allocation in &hold.allocations {
            tx.entry(EntryKind::Freeze, allocation.amount, Some(&allocation.package), Some(&hold.id), Some(&hold.job), None)
                .await?;
        }
        self.faults.check("freeze:after_entries")?;
        Ok(Frozen { hold, replayed: false })
    }

    /// Consumes exactly what the hold reserved.
    pub async fn settle(&self, hold: &HoldId) -> Result<Resolved, LedgerError> {
        self.resolve(hold, Resolution::Settle).await
    }

    /// Gives back what the hold reserved.
    pub async fn release(&self, hold: &HoldId) -> Result<Resolved, LedgerError> {
        self.resolve(hold, Resolution::Release).await
    }

    pub async fn resolve(&self, hold: &HoldId, resolution: Resolution) -> Result<Resolved, LedgerError> {
        with_retry(|| async {
            let mut tx = LedgerTx::begin_for_hold(self, hold).await?;
            let resolved = self.resolve_in(&mut tx, hold, resolution).await?;
            if resolved.replayed {
                // Nothing was written but the lock bump: leave no trace.
                tx.rollback().await?;
            } else {
                tx.commit().await?;
            }
            Ok(resolved)
        })
        .await
    }

    /// Moves an open hold exactly once. The same move again reports the first outcome and writes
    /// nothing; the opposite move afterwards is refused.
    pub async fn resolve_in(
        &self,
        tx: &mut LedgerTx,
        hold_id: &HoldId,
        resolution: Resolution,
    ) -> Result<Resolved, LedgerError> {
        let hold = self.hold_in(tx, hold_id).await?.ok_or(LedgerError::UnknownHold)?;
        if &hold.user != tx.user() {
            return Err(LedgerError::UnknownHold);
        }
        let target = resolution.target();
        match hold.state {
            HoldState::Open => {}
            state if state == target => {
                return Ok(Resolved { hold: hold.id, state, replayed: true });
            }
            state => return Err(LedgerError::AlreadyResolved(state)),
        }

        for allocation in &hold.allocations {
            let sql = match resolution {
                Resolution::Settle => {
                    "UPDATE credit_packages SET held = held - $1, consumed = consumed + $1 \
                     WHERE id = $2 AND held >= $1"
                }
                Resolution::Release => {
                    "UPDATE credit_packages SET held = held - $1 WHERE id = $2 AND held >= $1"
                }
            };
            let updated = sqlx::query(sql)
                .bind(allocation.amount.get())
                .bind(allocation.package.as_str())
                .execute(tx.conn())
                .await?;
            if updated.rows_affected() != 1 {
                return Err(LedgerError::Conflict);
            }
            self.faults.check("resolve:after_package_update")?;
        }

        let kind = match resolution {
            Resolution::Settle => EntryKind::Settle,
            Resolution::Release => EntryKind::Release,
        };
        for allocation in &hold.allocations {
            tx.entry(kind, allocation.amount, Some(&allocation.package), Some(&hold.id), Some(&hold.job), None)
                .await?;
        }
        self.faults.check("resolve:after_entries")?;

        let updated = sqlx::query("UPDATE holds SET state = $1, resolved_at = $2 WHERE id = $3 AND state = 'open'")
            .bind(target.as_str())
            .bind(tx.now().millis())
            .bind(hold.id.as_str())
            .execute(tx.conn())
            .await?;
        if updated.rows_affected() != 1 {
            return Err(LedgerError::Conflict);
        }
        self.faults.check("resolve:after_hold_update")?;

        // Credits given back to a package that has already expired are no longer spendable; a
        // refunded package first takes back what its refund is still owed.
        if resolution == Resolution::Release {
            for allocation in &hold.allocations {
                self.take_back_owed_in(tx, &allocation.package).await?;
                self.expire_remainder_in(tx, &allocation.package).await?;
            }
        }
        Ok(Resolved { hold: hold.id, state: target, replayed: false })
    }

    pub async fn hold(&self, id: &HoldId) -> Result<Option<Hold>, LedgerError> {
        let mut conn = self.db.pool().acquire().await?;
        load_hold(&mut conn, "id", id.as_str()).await
    }

    pub async fn hold_for_job(&self, job: &JobId) -> Result<Option<Hold>, LedgerError> {
        let mut conn = self.db.pool().acquire().await?;
        load_hold(&mut conn, "job_id", job.as_str()).await
    }

    pub(crate) async fn hold_in(&self, tx: &mut LedgerTx, id: &HoldId) -> Result<Option<Hold>, LedgerError> {
        load_hold(tx.conn(), "id", id.as_str()).await
    }

    async fn hold_by_key(&self, tx: &mut LedgerTx, key: &str) -> Result<Option<Hold>, LedgerError> {
        let user = tx.user().clone();
        let id: Option<(String,)> =
            sqlx::query_as("SELECT id FROM holds WHERE user_id = $1 AND idempotency_key = $2")
                .bind(user.as_str())
                .bind(key)
                .fetch_optional(tx.conn())
                .await?;
        match id {
            Some((id,)) => load_hold(tx.conn(), "id", &id).await,
            None => Ok(None),
        }
    }
}

async fn load_hold(conn: &mut sqlx::AnyConnection, column: &'static str, value: &str) -> Result<Option<Hold>, LedgerError> {
    let row: Option<(String, String, String, i64, String, i64, i64)> = sqlx::query_as(&format!(
        "SELECT id, user_id, job_id, amount, state, created_at, deadline_at FROM holds WHERE {column} = $1"
    ))
    .bind(value)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, user, job, amount, state, created_at, deadline_at)) = row else { return Ok(None) };
    let allocations: Vec<(String, i64)> = sqlx::query_as(
        "SELECT package_id, amount FROM hold_allocations WHERE hold_id = $1 ORDER BY package_id",
    )
    .bind(&id)
    .fetch_all(&mut *conn)
    .await?;
    let state = HoldState::parse(&state)
        .ok_or_else(|| LedgerError::Database(sqlx::Error::Decode(format!("hold state {state:?}").into())))?;
    Ok(Some(Hold {
        id: HoldId::from_string(id),
        user: UserId::from_string(user),
        job: JobId::from_string(job),
        amount: Credits::new(amount)?,
        state,
        allocations: allocations
            .into_iter()
            .map(|(package, amount)| Ok(Allocation { package: PackageId::from_string(package), amount: Credits::new(amount)? }))
            .collect::<Result<_, LedgerError>>()?,
        created_at: Timestamp::from_millis(created_at),
        deadline_at: Timestamp::from_millis(deadline_at),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(n: &str) -> PackageId {
        PackageId::from_string(n)
    }

    #[test]
    fn allocation_takes_packages_in_order_and_splits_across_them() {
        let free = vec![(pkg("a"), 2), (pkg("b"), 5)];
        let got = allocate(&free, 4).expect("enough");
        assert_eq!(
            got,
            vec![
                Allocation { package: pkg("a"), amount: Credits::new(2).unwrap_or_default() },
                Allocation { package: pkg("b"), amount: Credits::new(2).unwrap_or_default() },
            ]
        );
    }

    #[test]
    fn allocation_is_all_or_nothing() {
        assert_eq!(allocate(&[(pkg("a"), 2), (pkg("b"), 1)], 4), None);
    }
}
