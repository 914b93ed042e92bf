//! Ending a job: its final state and its hold's resolution in one transaction. A stored result
//! settles the hold (the shopper pays for a picture Fitroom holds); every other ending releases
//! it. Whoever ends a job — a report, the mirror, a cancel, the reconciler — ends it here.

use crate::db::with_retry;
use crate::ids::JobId;
use crate::jobs::events::{self, EventKind};
use crate::jobs::transition::{Step, transition};
use crate::jobs::{JobError, Jobs};
use crate::ledger::{LedgerTx, Resolution};

impl Jobs {
    /// Moves an unfinished job to the final state of `step` and resolves its hold, in one
    /// transaction under the user's ledger lock. `Ok(false)` when it had already finished.
    pub(crate) async fn finish(&self, id: &JobId, step: Step<'_>) -> Result<bool, JobError> {
        debug_assert!(step.target().is_finished());
        // The provider of the job that ended, or `None` when it had already ended.
        let ended = with_retry(|| async {
            let Some(job) = self.load(id).await? else { return Ok(None) };
            if job.status.is_finished() {
                return Ok(None);
            }
            let mut tx = LedgerTx::begin(&self.ledger, &job.user).await?;
            let result = async {
                // The user's lock first: the time is read after it.
                tx.conn().await?;
                let now = tx.now()?;
                if !transition(tx.conn().await?, &job, step, now).await? {
                    return Ok::<_, JobError>(None);
                }
                self.faults.check("finish:after_transition")?;
                let (resolution, kind) = match step {
                    Step::Stored { .. } => (Resolution::Settle, EventKind::Settled),
                    _ => (Resolution::Release, EventKind::Released),
                };
                match &job.hold {
                    Some(hold) => {
                        let detail = format!("{} credits", job.cost);
                        events::append(tx.conn().await?, &job.id, now, kind, Some(&detail)).await?;
                        self.ledger.resolve_in(&mut tx, hold, resolution).await?;
                    }
                    None => tracing::error!(job = %job.id, "a job without a credit hold ended"),
                }
                Ok(Some(job.provider.clone()))
            }
            .await;
            match result {
                // Moved on meanwhile: nothing to write.
                Ok(None) => tx.rollback().await.map(|()| None).map_err(Into::into),
                result => tx.end(result).await,
            }
        })
        .await;
        // Forgotten after the commit (or a failed attempt, which may have committed anyway).
        self.statuses.forget(id);
        let status = step.target().as_str();
        if let Ok(Some(provider)) = &ended {
            tracing::info!(job = %id, status, "generation finished");
            // Counted as it happens: `/metrics` never scans the jobs table for finished ones.
            self.metrics
                .count("fitroom_jobs_finished", &[("status", status), ("provider", provider)]);
        }
        ended.map(|provider| provider.is_some())
    }
}
