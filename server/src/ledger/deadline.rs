use crate::db::with_retry;
use crate::ids::HoldId;
use crate::ledger::{Ledger, LedgerError, LedgerTx, Resolution};

impl Ledger {
    /// Releases every open hold past its deadline. Its job, if still unfinished, fails in the same
    /// transaction: an open hold must always belong to an unfinished job and a finished job must
    /// never keep an open hold, so neither can outlive the other. Returns how many it released.
    pub async fn release_overdue(&self) -> Result<usize, LedgerError> {
        let now = self.clock.now();
        let overdue: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM holds WHERE state = 'open' AND deadline_at <= $1")
                .bind(now.millis())
                .fetch_all(self.db.pool())
                .await?;
        let mut released = 0;
        for (hold,) in overdue {
            let hold = HoldId::from_string(hold);
            let done = with_retry(|| async {
                let mut tx = LedgerTx::begin_for_hold(self, &hold).await?;
                let Some(current) = self.hold_in(&mut tx, &hold).await? else { return Ok(false) };
                // Another process may have resolved it since the scan.
                if current.state != crate::ledger::HoldState::Open || current.deadline_at > tx.now() {
                    tx.rollback().await?;
                    return Ok(false);
                }
                self.resolve_in(&mut tx, &hold, Resolution::Release).await?;
                self.faults.check("deadline:after_release")?;
                let now = tx.now().millis();
                sqlx::query(
                    "UPDATE jobs SET status = 'failed', error = $1, updated_at = $2 \
                     WHERE id = $3 AND status IN ('queued', 'processing')",
                )
                .bind("timed out: the credit hold passed its deadline")
                .bind(now)
                .bind(current.job.as_str())
                .execute(tx.conn())
                .await?;
                tx.commit().await?;
                Ok::<_, LedgerError>(true)
            })
            .await?;
            if done {
                released += 1;
            }
        }
        Ok(released)
    }
}
