//! Ending a job: its final state and its hold's resolution in one transaction. A stored result
//! settles the hold (the shopper pays for a picture Fitroom holds); every other ending releases
//! it, and the same goes for the provider's spend (`crate::spend`). Whoever ends a job — a report, the mirror, a cancel, the reconciler — ends it here.

use crate::audit;
use crate::db::with_retry;
use crate::ids::JobId;
use crate::jobs::events::{self, EventKind};
use crate::jobs::transition::{Step, transition};
use crate::jobs::{JobError, Jobs};
use crate::ledger::{LedgerTx, Resolution};
use crate::spend::tasks;

impl Jobs {
    /// Fails a job whose inputs are not all in storage (a store outage while they were stored,
    /// or a crash before the job named them, or an input that went missing): whatever part of
    /// `keys` was stored is deleted and the job names none, so that no row points at a missing
    /// object. Each step may be repeated after a crash; objects of a crashed request that the job
    /// never named are the storage sweep's.
    pub(crate) async fn fail_for_missing_inputs(
        &self,
        id: &JobId,
        keys: [Option<&str>; 2],
    ) -> Result<bool, JobError> {
        for key in keys.into_iter().flatten() {
            self.storage.delete(key).await?;
        }
        sqlx::query("UPDATE jobs SET person_key = NULL, garment_key = NULL WHERE id = $1")
            .bind(id.as_str())
            .execute(self.db.pool())
            .await?;
        self.finish(id, Step::Failed(crate::jobs::FailureCode::InputsMissing)).await
    }

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
                if let Step::CanceledByOperator(write) = step {
                    audit::record_in(tx.conn().await?, write, now).await?;
                }
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
                // The provider's side in the same transaction: the accepted task of a success
                // is settled, every other hold on its spend released.
                let settle = match (step, &job.task_key) {
                    (Step::Stored { .. }, Some(key)) => Some((job.provider.as_str(), key.as_str())),
                    _ => None,
                };
                tasks::resolve_job_in(tx.conn().await?, &job.id, settle, now).await?;
                if let (Step::Stored { .. }, Some(submitted)) = (step, job.submitted_at) {
                    self.metrics.observe(
                        "fitroom_generation",
                        &[("provider", &job.provider)],
                        (now.millis() - submitted.millis()).max(0) as f64 / 1000.0,
                    );
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
