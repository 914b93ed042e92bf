//! Holds past their deadline. A hold belongs to a job, and the two must end together (an open
//! hold always belongs to an unfinished job, a finished job never keeps an open hold), so the
//! ledger only finds them: the reconciler ends each one's job, which releases the hold in the
//! same transaction. The ledger never reads or writes the jobs table.

use crate::ids::{HoldId, JobId, UserId};
use crate::ledger::{Ledger, LedgerError};

/// An open hold whose deadline has passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverdueHold {
    pub id: HoldId,
    pub user: UserId,
    pub job: JobId,
}

impl Ledger {
    /// Up to `limit` open holds past their deadline, the most overdue first.
    pub async fn overdue_holds(&self, limit: i64) -> Result<Vec<OverdueHold>, LedgerError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT id, user_id, job_id FROM holds WHERE state = 'open' AND deadline_at <= $1 \
             ORDER BY deadline_at LIMIT $2",
        )
        .bind(self.clock.now().millis())
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, user, job)| OverdueHold {
                id: HoldId::from_string(id),
                user: UserId::from_string(user),
                job: JobId::from_string(job),
            })
            .collect())
    }
}
