use sqlx::{Any, Transaction};

use crate::clock::Timestamp;
use crate::ids::{EntryId, HoldId, JobId, PackageId, UserId};
use crate::ledger::{Credits, EntryKind, Ledger, LedgerError};

/// One ledger transaction of one user. Holding it means holding that user's ledger lock.
pub struct LedgerTx {
    tx: Transaction<'static, Any>,
    user: UserId,
    seq: i64,
    line: i64,
    now: Timestamp,
}

impl LedgerTx {
    /// Opens the transaction and takes the user's lock with a write as the very first statement:
    /// on SQLite a transaction that reads before it writes can fail with a stale snapshot.
    pub(crate) async fn begin(ledger: &Ledger, user: &UserId) -> Result<Self, LedgerError> {
        let tx = ledger.db.pool().begin().await?;
        Self::begin_in(ledger, tx, user).await
    }

    /// Continues a caller's transaction as a ledger transaction of `user` (a new account and its
    /// sign-up package are written together).
    pub async fn begin_in(
        ledger: &Ledger,
        mut tx: Transaction<'static, Any>,
        user: &UserId,
    ) -> Result<Self, LedgerError> {
        let seq: Option<(i64,)> = sqlx::query_as(
            "UPDATE users SET ledger_seq = ledger_seq + 1 WHERE id = $1 RETURNING ledger_seq",
        )
        .bind(user.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((seq,)) = seq else { return Err(LedgerError::UnknownUser) };
        // The clock is read after the lock so that entry times follow the replay order.
        let now = ledger.clock.now();
        Ok(LedgerTx { tx, user: user.clone(), seq, line: 0, now })
    }

    /// Like `begin`, for operations that know only the hold.
    pub(crate) async fn begin_for_hold(ledger: &Ledger, hold: &HoldId) -> Result<Self, LedgerError> {
        let mut tx = ledger.db.pool().begin().await?;
        let row: Option<(String, i64)> = sqlx::query_as(
            "UPDATE users SET ledger_seq = ledger_seq + 1 \
             WHERE id = (SELECT user_id FROM holds WHERE id = $1) RETURNING id, ledger_seq",
        )
        .bind(hold.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user, seq)) = row else { return Err(LedgerError::UnknownHold) };
        let now = ledger.clock.now();
        Ok(LedgerTx { tx, user: UserId::from_string(user), seq, line: 0, now })
    }

    pub fn user(&self) -> &UserId {
        &self.user
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The connection, for writes that belong in the same transaction (a job beside its hold).
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<(), LedgerError> {
        self.tx.commit().await?;
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), LedgerError> {
        self.tx.rollback().await?;
        Ok(())
    }

    /// Appends one journal line. Entries are only ever inserted.
    pub(crate) async fn entry(
        &mut self,
        kind: EntryKind,
        amount: Credits,
        package: Option<&PackageId>,
        hold: Option<&HoldId>,
        job: Option<&JobId>,
        reference: Option<&str>,
    ) -> Result<(), LedgerError> {
        self.line += 1;
        sqlx::query(
            "INSERT INTO ledger_entries \
             (id, user_id, seq, line, at, kind, amount, package_id, hold_id, job_id, reference) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(EntryId::generate().as_str())
        .bind(self.user.as_str())
        .bind(self.seq)
        .bind(self.line)
        .bind(self.now.millis())
        .bind(kind.as_str())
        .bind(amount.get())
        .bind(package.map(PackageId::as_str))
        .bind(hold.map(HoldId::as_str))
        .bind(job.map(JobId::as_str))
        .bind(reference)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
