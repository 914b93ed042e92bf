use crate::db::with_retry;
use crate::ids::HoldId;
use crate::ledger::engine::statements::FAIL_OVERDUE_JOB;
use crate::ledger::{Ledger, LedgerError, LedgerTx, Resolution};

impl Ledger {
    /// Releases every open hold past its deadline. Its job, if still unfinished, fails in the same
    /// transaction: an open hold must always belong to an unfinished job and a finished job must
    /// never keep an open hold, so neither can outlive the other. Returns how many it released.
    pub async fn release_overdue(&self) -> Result<usize, LedgerError> {
        let now = self.clock.now();
        let overdue: Vec<(String,)> = sqlx::query_as("SELECT id FROM holds WHERE state = 'open' AND deadline_at <= $1")
            .bind(now.millis())
            .fetch_all(self.db.pool())
            .await?;
        let mut released = 0;
        for (hold,) in overdue {
            let hold = HoldId::from_string(hold);
            let done = with_retry(|| async {
                let mut tx = LedgerTx::begin_for_hold(self, &hold).await?;
                let result = async {
                    let Some(current) = self.hold_in(&mut tx, &hold).await? else {
                        return Ok(false);
                    };
                    // Another process may have resolved it since the scan.
                    if current.state != crate::ledger::HoldState::Open || current.deadline_at > tx.now()? {
                        return Ok(false);
                    }
                    self.resolve_in(&mut tx, &hold, Resolution::Release).await?;
                    let now = tx.now()?.millis();
                    let writes = tx.writes();
                    writes.fault_point(&self.faults, "deadline:after_release");
                    writes.push(
                        &FAIL_OVERDUE_JOB,
                        [
                            current.job.as_str().into(),
                            "timed out: the credit hold passed its deadline".into(),
                            now.into(),
                        ],
                    );
                    Ok::<_, LedgerError>(true)
                }
                .await;
                match result {
                    // Resolved meanwhile by someone else: leave no trace.
                    Ok(false) => tx.rollback().await.map(|()| false),
                    result => tx.end(result).await,
                }
            })
            .await?;
            if done {
                released += 1;
            }
        }
        Ok(released)
    }
}
