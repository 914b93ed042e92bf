//! Expiry: once a package passes its `expires_at`, whatever is still free in it is written off.
//!
//! Invariants kept here:
//! - A package that expires while credits are held still settles them: only the free remainder
//!   (neither consumed, held nor refunded) is written off, never held credits; those released
//!   later into the expired package are written off then (`write_off_in`, called by `hold`).
//! - Per package 0 ≤ consumed + held ≤ granted: `WRITE_OFF` is guarded to move exactly the
//!   remainder it read, so consumed + held + expired + refunded never exceeds granted.
//! - Every write-off appends one `expire` entry, which replay checks against what was free then.

use sqlx::Row;

use crate::db::with_retry;
use crate::ids::{PackageId, UserId};
use crate::ledger::engine::script::Script;
use crate::ledger::engine::statements::{PACKAGE_EXPIRY, WRITE_OFF};
use crate::ledger::{Credits, EntryKind, Ledger, LedgerError, LedgerTx};

impl Ledger {
    /// Writes off the unheld remainder of every package past its expiry; one `expire` entry each.
    /// Returns how many packages it expired. Safe to run from several processes at once.
    pub async fn expire_due(&self) -> Result<usize, LedgerError> {
        let now = self.clock.now();
        let due: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, user_id FROM credit_packages \
             WHERE expires_at IS NOT NULL AND expires_at <= $1 \
               AND granted - consumed - held - expired - refunded > 0",
        )
        .bind(now.millis())
        .fetch_all(self.db.pool())
        .await?;
        let mut expired = 0;
        for (package, user) in due {
            let package = PackageId::from_string(package);
            let user = UserId::from_string(user);
            let wrote = with_retry(|| async {
                let mut tx = LedgerTx::begin(self, &user).await?;
                let result = self.expire_if_due_in(&mut tx, &package).await;
                tx.end(result).await
            })
            .await?;
            if !wrote.is_zero() {
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// If the package has expired, writes off whatever is neither consumed, held nor refunded.
    async fn expire_if_due_in(
        &self,
        tx: &mut LedgerTx,
        package: &PackageId,
    ) -> Result<Credits, LedgerError> {
        let mut reads = Script::new();
        let index = reads.push(&PACKAGE_EXPIRY, [package.as_str().into()]);
        let results = tx.read(reads).await?;
        let Some(row) = results.rows(index).first() else {
            return Ok(Credits::ZERO);
        };
        let free: i64 = row.try_get(0)?;
        let expires_at: Option<i64> = row.try_get(1)?;
        let now = tx.now()?.millis();
        if free <= 0 || expires_at.is_none_or(|at| at > now) {
            return Ok(Credits::ZERO);
        }
        self.write_off_in(tx, package, free)
    }

    /// Queues moving `remainder` credits of an expired package into `expired`, with its entry.
    /// `remainder` must be all that is then free.
    pub(crate) fn write_off_in(
        &self,
        tx: &mut LedgerTx,
        package: &PackageId,
        remainder: i64,
    ) -> Result<Credits, LedgerError> {
        if remainder <= 0 {
            return Ok(Credits::ZERO);
        }
        let writes = tx.writes();
        writes.push_guarded(&WRITE_OFF, [package.as_str().into(), remainder.into()], 1);
        writes.fault_point(&self.faults, "expire:after_package_update");
        let amount = Credits::new(remainder)?;
        tx.entry(EntryKind::Expire, amount, Some(package), None, None, None)?;
        Ok(amount)
    }
}
