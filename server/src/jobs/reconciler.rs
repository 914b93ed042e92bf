//! The reconciler finishes what webhooks did not: it submits jobs a crash left queued, asks
//! providers about jobs whose webhook never came, retries mirrors, times jobs out, expires
//! packages and releases overdue holds. Every step is idempotent and claims its job with a lease,
//! so several `fitroom` processes can share one database.

use std::time::Duration;

use crate::ids::JobId;
use crate::jobs::{JobError, JobStatus, Jobs};

/// How long one process may work on a job before another may take it over.
const LEASE_SECS: i64 = 120;
/// How often a provider is asked again about a task that is still running.
const POLL_AGAIN_SECS: i64 = 30;
const BATCH: i64 = 100;

/// Runs the reconciler every `FITROOM_RECONCILE_EVERY_SECS` until the process ends.
pub fn spawn(jobs: Jobs) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = Duration::from_secs(jobs.config.reconcile_every_secs.max(1));
        loop {
            if let Err(e) = jobs.reconcile_once().await {
                tracing::error!(error = %e, "reconciler pass failed");
            }
            tokio::time::sleep(every).await;
        }
    })
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub examined: usize,
    pub expired_packages: usize,
    pub released_holds: usize,
}

impl Jobs {
    pub async fn reconcile_once(&self) -> Result<Pass, JobError> {
        let now = self.clock.now();
        let due: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM jobs WHERE status IN ('queued', 'processing') AND next_check_at IS NOT NULL \
             AND next_check_at <= $1 AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_check_at LIMIT $2",
        )
        .bind(now.millis())
        .bind(BATCH)
        .fetch_all(self.db.pool())
        .await?;
        let mut pass = Pass::default();
        for (id,) in due {
            let id = JobId::from_string(id);
            self.metrics.count("fitroom_reconciler_actions", &[("action", "examine_job")]);
            if let Err(e) = self.reconcile_job(&id).await {
                tracing::warn!(job = %id, error = %e, "reconciling a job failed; will try again");
            }
            pass.examined += 1;
        }
        pass.expired_packages = self.ledger.expire_due().await?;
        pass.released_holds = self.ledger.release_overdue().await?;
        if pass.released_holds > 0 {
            // Those holds' jobs failed inside the ledger's transaction; which ones is not returned.
            self.statuses.forget_all();
        }
        for _ in 0..pass.expired_packages {
            self.metrics.count("fitroom_reconciler_actions", &[("action", "expire_package")]);
        }
        for _ in 0..pass.released_holds {
            self.metrics.count("fitroom_reconciler_actions", &[("action", "release_overdue_hold")]);
        }
        Ok(pass)
    }

    async fn reconcile_job(&self, id: &JobId) -> Result<(), JobError> {
        let Some(job) = self.load(id).await? else { return Ok(()) };
        if job.status.is_finished() {
            return Ok(());
        }
        let now = self.clock.now();
        let timeout = self.config.job_timeout_secs as i64;
        if now.millis() - job.created_at.millis() >= timeout * 1000 {
            let message = "The provider took too long. You were not charged.";
            self.finish_unsuccessfully(&job, JobStatus::Failed, message).await?;
            return Ok(());
        }
        if job.output_url.is_some() {
            return self.mirror(id).await;
        }
        // Claim the job so that two processes do not submit or poll it at once.
        let claimed = sqlx::query(
            "UPDATE jobs SET lease_until = $1, next_check_at = $2 WHERE id = $3 AND (lease_until IS NULL OR lease_until < $4)",
        )
        .bind(now.plus_secs(LEASE_SECS).millis())
        .bind(now.plus_secs(POLL_AGAIN_SECS).millis())
        .bind(id.as_str())
        .bind(now.millis())
        .execute(self.db.pool())
        .await?;
        if claimed.rows_affected() != 1 {
            return Ok(());
        }
        let result = match (&job.status, &job.provider_task_id) {
            (JobStatus::Queued, None) => {
                let inputs_present = match &job.person_key {
                    Some(key) => self.storage.get(key).await?.is_some(),
                    None => false,
                };
                if inputs_present {
                    tracing::info!(job = %job.id, "submitting a job left queued");
                    self.submit(&job).await
                } else {
                    let message = "The upload did not complete. You were not charged.";
                    self.finish_unsuccessfully(&job, JobStatus::Failed, message).await.map(|_| ())
                }
            }
            (_, Some(task_id)) => match self.registry.get(&job.provider) {
                Some(provider) => match provider.fetch(task_id).await {
                    Ok(state) => {
                        tracing::info!(job = %job.id, ?state, "asked the provider about an overdue job");
                        self.apply(&job, task_id, state).await
                    }
                    Err(e) => {
                        tracing::warn!(job = %job.id, error = %e, "provider query failed");
                        Ok(())
                    }
                },
                None => {
                    let message = "The provider of this job is no longer enabled. You were not charged.";
                    self.finish_unsuccessfully(&job, JobStatus::Failed, message).await.map(|_| ())
                }
            },
            (JobStatus::Processing, None) => Ok(()),
            _ => Ok(()),
        };
        sqlx::query("UPDATE jobs SET lease_until = NULL WHERE id = $1")
            .bind(id.as_str())
            .execute(self.db.pool())
            .await?;
        if let Some(job) = self.load(id).await? {
            if job.output_url.is_some() && !job.status.is_finished() {
                self.mirror(id).await?;
            }
        }
        result
    }
}
