//! Holds: a freeze reserves credits for one job, and the hold then ends exactly once, settled
//! (the credits are consumed) or released (they return).
//!
//! Invariants kept here:
//! - A freeze takes from the user's active packages ordered by `expires_at` ascending
//!   (never-expiring last, ties by grant time), all or nothing: the database allocates under the
//!   user's lock (`FREEZE_ALLOCATE`), and the hold refuses to be written unless those packages
//!   hold its whole amount (`FREEZE_HOLD`).
//! - A freeze that would overdraw fails with `InsufficientCredits` (`insufficient_credits`) and
//!   writes nothing: the one-round-trip attempt is refused whole, and the careful one answers from
//!   what it read before writing anything.
//! - A package's held is the sum of its allocations in open holds, its consumed the sum in settled
//!   holds: a freeze adds its allocation to `held`, a settle moves exactly those amounts from
//!   `held` to `consumed`, a release takes them out of `held`. The writes are guarded, and the
//!   packages' CHECK keeps 0 ≤ consumed + held ≤ granted.
//! - A hold moves exactly once, open → settled or open → released: the same move again writes
//!   nothing and reports the first outcome (`replayed`), the opposite move is refused
//!   (`AlreadyResolved`).
//! - A package that expires while credits are held still settles them: a settle ignores expiry;
//!   credits released into an expired package are written off (`expiry`).
//! - Every freeze, settle and release appends one entry per package it touches.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::clock::Timestamp;
use crate::db::with_retry;
use crate::ids::{EntryId, HoldId, JobId, PackageId, UserId};
use crate::ledger::engine::script::Script;
use crate::ledger::engine::statements::{
    FREEZE_ALLOCATE, FREEZE_HOLD, FREEZE_RESERVE, HOLD_BY_ID, HOLD_BY_KEY, PACKAGES_WITH_CREDITS,
    RELEASE_TO_PACKAGE, RESOLVE_HOLD, SETTLE_FROM_PACKAGE, Statement,
};
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
    /// The new hold's id, chosen by the caller so that a job can name its hold in the same
    /// transaction. A replayed key answers the first hold, whatever id this one names.
    pub id: HoldId,
    pub user: UserId,
    pub amount: Credits,
    pub job: JobId,
    /// The same key from the same user answers the first hold and never reserves twice.
    pub idempotency_key: String,
    /// After this the reconciler fails the hold's job, which releases the hold.
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

impl Ledger {
    /// Reserves credits for a job from the user's active packages, first-expiring-first.
    pub async fn freeze(&self, request: &FreezeRequest) -> Result<Frozen, LedgerError> {
        with_retry(|| async {
            let mut tx = LedgerTx::begin(self, &request.user).await?;
            let frozen = self.freeze_in(&mut tx, request).await;
            tx.end(frozen).await
        })
        .await
    }

    /// `freeze` inside a caller's transaction, so a job and its hold are written together.
    ///
    /// The database allocates, under the user's lock (`FREEZE_*` in `engine::statements`). A
    /// transaction that has sent nothing yet freezes in one round trip: the lock, the hold, the
    /// allocation (the freeze entries), the reservation and the commit. There the hold refuses to
    /// be written when the idempotency key was used before or the active packages hold too little;
    /// nothing is written then, and the transaction starts over the careful way: one round trip
    /// reads the key's hold and the packages under the lock, and the freeze is sent only when it
    /// can go through.
    pub async fn freeze_in(
        &self,
        tx: &mut LedgerTx,
        request: &FreezeRequest,
    ) -> Result<Frozen, LedgerError> {
        if request.amount.is_zero() {
            return Err(LedgerError::NonPositiveHold);
        }
        if tx.assume_locked(&request.user).is_ok() {
            let (hold, writes, allocation) = self.freeze_writes(tx, request, true)?;
            if let Some(results) = tx.commit_in_one_round_trip(writes).await? {
                let hold = allocated(hold, results.rows(allocation))?;
                self.known.remember(&hold);
                return Ok(Frozen { hold, replayed: false });
            }
        }

        let user = request.user.as_str();
        let mut reads = Script::new();
        let by_key =
            reads.push(&HOLD_BY_KEY, [user.into(), request.idempotency_key.as_str().into()]);
        let free = reads.push(&PACKAGES_WITH_CREDITS, [user.into()]);
        let results = tx.read(reads).await?;
        if let Some((hold, _)) = hold_from_rows(results.rows(by_key))? {
            if hold.amount != request.amount || hold.job != request.job {
                return Err(LedgerError::IdempotencyMismatch);
            }
            return Ok(Frozen { hold, replayed: true });
        }
        let now = tx.now()?;
        let mut available = 0;
        for row in results.rows(free) {
            let expires_at: Option<i64> = row.try_get(2)?;
            if expires_at.is_none_or(|at| at > now.millis()) {
                available += row.try_get::<i64, _>(1)?;
            }
        }
        if available < request.amount.get() {
            return Err(LedgerError::InsufficientCredits {
                requested: request.amount,
                available: Credits::new(available)?,
            });
        }
        let (hold, writes, allocation) = self.freeze_writes(tx, request, false)?;
        let hold = allocated(hold, tx.send(writes).await?.rows(allocation))?;
        tx.take_lines(hold.allocations.len());
        tx.remember_on_commit(&hold);
        Ok(Frozen { hold, replayed: false })
    }

    /// The hold a freeze writes (its allocation still empty: the database computes it), the
    /// freeze's statements and the index of the one that returns the allocation. `decisive`: the hold refuses to be written
    /// rather than overdraw or reuse a key (see `FREEZE_HOLD`); otherwise such a refusal, which
    /// the reads before it rule out, is a conflict.
    fn freeze_writes(
        &self,
        tx: &mut LedgerTx,
        request: &FreezeRequest,
        decisive: bool,
    ) -> Result<(Hold, Script, usize), LedgerError> {
        let now = tx.now()?;
        let hold = Hold {
            id: request.id.clone(),
            user: request.user.clone(),
            job: request.job.clone(),
            amount: request.amount,
            state: HoldState::Open,
            allocations: Vec::new(),
            created_at: now,
            deadline_at: request.deadline,
        };
        let (id, user, job) = (hold.id.as_str(), request.user.as_str(), hold.job.as_str());
        let amount = request.amount.get();
        let faults = &self.faults;
        let mut writes = Script::new();
        let values = [
            id.into(),
            user.into(),
            job.into(),
            request.idempotency_key.as_str().into(),
            amount.into(),
            now.millis().into(),
            hold.deadline_at.millis().into(),
        ];
        if decisive {
            writes.push_decisive(&FREEZE_HOLD, values);
        } else {
            writes.push_guarded(&FREEZE_HOLD, values, 1);
        }
        writes.fault_point(faults, "freeze:after_hold");
        // Entry ids: a fresh one per freeze, followed by the line within the freeze.
        let entries = format!("{}_", EntryId::generate());
        let allocation = writes.push(
            &FREEZE_ALLOCATE,
            [
                entries.as_str().into(),
                user.into(),
                tx.last_line().into(),
                now.millis().into(),
                id.into(),
                job.into(),
                amount.into(),
            ],
        );
        writes.fault_point(faults, "freeze:after_entries");
        writes.push(&FREEZE_RESERVE, [user.into(), id.into()]);
        writes.fault_point(faults, "freeze:after_package_update");
        Ok((hold, writes, allocation))
    }

    /// Consumes exactly what the hold reserved.
    pub async fn settle(&self, hold: &HoldId) -> Result<Resolved, LedgerError> {
        self.resolve(hold, Resolution::Settle).await
    }

    /// Gives back what the hold reserved.
    pub async fn release(&self, hold: &HoldId) -> Result<Resolved, LedgerError> {
        self.resolve(hold, Resolution::Release).await
    }

    pub async fn resolve(
        &self,
        hold: &HoldId,
        resolution: Resolution,
    ) -> Result<Resolved, LedgerError> {
        with_retry(|| async {
            let mut tx = LedgerTx::begin_for_hold(self, hold).await?;
            match self.resolve_in(&mut tx, hold, resolution).await {
                // Nothing was written but the lock bump: leave no trace.
                Ok(resolved) if resolved.replayed => {
                    tx.rollback().await?;
                    Ok(resolved)
                }
                result => tx.end(result).await,
            }
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
        // Settling a hold this process froze needs nothing read: its allocations cannot have
        // changed, and the guarded writes refuse a hold that is no longer open (`engine::known`).
        if let Some(known) = self.known.take(hold_id)
            && resolution == Resolution::Settle
            && skips_read(tx, &known.user)?
        {
            self.queue_resolution(tx, hold_id, &known.job, &known.allocations, resolution)?;
            return Ok(Resolved {
                hold: hold_id.clone(),
                state: HoldState::Settled,
                replayed: false,
            });
        }
        let mut reads = Script::new();
        let index = reads.push(&HOLD_BY_ID, [hold_id.as_str().into()]);
        let results = tx.read(reads).await?;
        let (hold, packages) =
            hold_from_rows(results.rows(index))?.ok_or(LedgerError::UnknownHold)?;
        if &hold.user != tx.user()? {
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

        self.queue_resolution(tx, &hold.id, &hold.job, &hold.allocations, resolution)?;

        // Credits given back are first taken back by a refund still owed, and those left in a
        // package that has already expired are no longer spendable.
        if resolution == Resolution::Release {
            let now = tx.now()?;
            for (a, package) in hold.allocations.iter().zip(&packages) {
                let free = package.free + a.amount.get();
                let (taken, _) = self.take_back_in(
                    tx,
                    &a.package,
                    free,
                    package.owed,
                    package.payment.as_deref(),
                )?;
                if package.expires_at.is_some_and(|at| at <= now) {
                    self.write_off_in(tx, &a.package, free - taken.get())?;
                }
            }
        }
        Ok(Resolved { hold: hold.id, state: target, replayed: false })
    }

    /// Queues the moves of an open hold's credits, their journal lines and the hold's new state.
    fn queue_resolution(
        &self,
        tx: &mut LedgerTx,
        hold: &HoldId,
        job: &JobId,
        allocations: &[Allocation],
        resolution: Resolution,
    ) -> Result<(), LedgerError> {
        let now = tx.now()?;
        let faults = &self.faults;
        let writes = tx.writes();
        let move_credits = match resolution {
            Resolution::Settle => &SETTLE_FROM_PACKAGE,
            Resolution::Release => &RELEASE_TO_PACKAGE,
        };
        for a in allocations {
            writes.push_guarded(
                move_credits,
                [a.package.as_str().into(), a.amount.get().into()],
                1,
            );
        }
        writes.fault_point(faults, "resolve:after_package_update");
        let kind = match resolution {
            Resolution::Settle => EntryKind::Settle,
            Resolution::Release => EntryKind::Release,
        };
        for a in allocations {
            tx.entry(kind, a.amount, Some(&a.package), Some(hold), Some(job), None)?;
        }
        let writes = tx.writes();
        writes.fault_point(faults, "resolve:after_entries");
        let target = resolution.target();
        writes.push_guarded(
            &RESOLVE_HOLD,
            [hold.as_str().into(), target.as_str().into(), now.millis().into()],
            1,
        );
        writes.fault_point(faults, "resolve:after_hold_update");
        Ok(())
    }

    pub async fn hold(&self, id: &HoldId) -> Result<Option<Hold>, LedgerError> {
        load_hold(self, &HOLD_BY_ID, &[id.as_str()]).await
    }

    /// The hold `user` froze under `idempotency_key` (a job's hold is frozen under the job's key).
    pub async fn hold_by_key(
        &self,
        user: &UserId,
        idempotency_key: &str,
    ) -> Result<Option<Hold>, LedgerError> {
        load_hold(self, &HOLD_BY_KEY, &[user.as_str(), idempotency_key]).await
    }
}

/// The hold with the allocation that `FREEZE_ALLOCATE` returned.
fn allocated(mut hold: Hold, rows: &[AnyRow]) -> Result<Hold, LedgerError> {
    let mut allocations = Vec::with_capacity(rows.len());
    for row in rows {
        allocations.push(Allocation {
            package: PackageId::from_string(row.try_get::<String, _>(0)?),
            amount: Credits::new(row.try_get(1)?)?,
        });
    }
    allocations.sort_by(|a, b| a.package.cmp(&b.package));
    if allocations.iter().map(|a| a.amount.get()).sum::<i64>() != hold.amount.get() {
        // The hold was written, so the packages held enough under the lock: a bug, not input.
        return Err(LedgerError::Conflict);
    }
    hold.allocations = allocations;
    Ok(hold)
}

/// Whether a resolution of `owner`'s hold can go without reading it in this transaction: yes when
/// the transaction is `owner`'s, or has sent nothing yet and can take the lock with its writes.
fn skips_read(tx: &mut LedgerTx, owner: &UserId) -> Result<bool, LedgerError> {
    if tx.is_locked() {
        return Ok(tx.user()? == owner);
    }
    Ok(tx.assume_locked(owner).is_ok())
}

/// What a hold's packages looked like when it was read: for what follows a release.
struct PackageNow {
    expires_at: Option<Timestamp>,
    /// Neither consumed, held, written off nor refunded.
    free: i64,
    /// What a refund still asks back from it.
    owed: i64,
    payment: Option<String>,
}

fn hold_from_rows(rows: &[AnyRow]) -> Result<Option<(Hold, Vec<PackageNow>)>, LedgerError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let state: String = first.try_get(4)?;
    let state = HoldState::parse(&state).ok_or_else(|| {
        LedgerError::Database(sqlx::Error::Decode(format!("hold state {state:?}").into()))
    })?;
    let mut allocations = Vec::with_capacity(rows.len());
    let mut packages = Vec::with_capacity(rows.len());
    for row in rows {
        allocations.push(Allocation {
            package: PackageId::from_string(row.try_get::<String, _>(7)?),
            amount: Credits::new(row.try_get(8)?)?,
        });
        packages.push(PackageNow {
            expires_at: row.try_get::<Option<i64>, _>(9)?.map(Timestamp::from_millis),
            free: row.try_get(10)?,
            owed: row.try_get(11)?,
            payment: row.try_get(12)?,
        });
    }
    let hold = Hold {
        id: HoldId::from_string(first.try_get::<String, _>(0)?),
        user: UserId::from_string(first.try_get::<String, _>(1)?),
        job: JobId::from_string(first.try_get::<String, _>(2)?),
        amount: Credits::new(first.try_get(3)?)?,
        state,
        allocations,
        created_at: Timestamp::from_millis(first.try_get(5)?),
        deadline_at: Timestamp::from_millis(first.try_get(6)?),
    };
    Ok(Some((hold, packages)))
}

async fn load_hold(
    ledger: &Ledger,
    query: &'static Statement,
    values: &[&str],
) -> Result<Option<Hold>, LedgerError> {
    let mut query = sqlx::query(query.text);
    for value in values {
        query = query.bind(*value);
    }
    let rows = query.fetch_all(ledger.db.pool()).await?;
    Ok(hold_from_rows(&rows)?.map(|(hold, _)| hold))
}
