use crate::db::with_retry;
use crate::ids::{PackageId, UserId};
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
                let amount = self.expire_remainder_in(&mut tx, &package).await?;
                tx.commit().await?;
                Ok::<_, LedgerError>(amount)
            })
            .await?;
            if !wrote.is_zero() {
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// If the package has expired, moves whatever is neither consumed, held nor refunded into `expired`.
    pub(crate) async fn expire_remainder_in(
        &self,
        tx: &mut LedgerTx,
        package: &PackageId,
    ) -> Result<Credits, LedgerError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT granted - consumed - held - expired - refunded FROM credit_packages \
             WHERE id = $1 AND expires_at IS NOT NULL AND expires_at <= $2",
        )
        .bind(package.as_str())
        .bind(tx.now().millis())
        .fetch_optional(tx.conn())
        .await?;
        let Some((remainder,)) = row.filter(|(r,)| *r > 0) else { return Ok(Credits::ZERO) };
        let updated = sqlx::query(
            "UPDATE credit_packages SET expired = expired + $1 \
             WHERE id = $2 AND granted - consumed - held - expired - refunded = $1",
        )
        .bind(remainder)
        .bind(package.as_str())
        .execute(tx.conn())
        .await?;
        if updated.rows_affected() != 1 {
            return Err(LedgerError::Conflict);
        }
        self.faults.check("expire:after_package_update")?;
        let amount = Credits::new(remainder)?;
        tx.entry(EntryKind::Expire, amount, Some(package), None, None, None).await?;
        Ok(amount)
    }
}
