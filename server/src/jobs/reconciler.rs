//! The reconciler finishes what webhooks did not: it submits jobs a crash left queued, asks
//! providers about jobs whose webhook never came, retries copies into storage, times jobs out,
//! expires packages and ends the jobs of overdue holds. Every step is idempotent and claims its
//! job with a lease, so several `fitroom` processes can share one database.
//!
//! Jobs and holds are swept by two loops of their own: a slow provider can stall the job loop
//! (each call may take `CALL_TIMEOUT`), and credits must still come back on time. Within a pass,
//! one failing item is logged and skipped; it never ends the pass.

use std::time::Duration;

use crate::ids::JobId;
use crate::jobs::lease::Lease;
use crate::jobs::report::{Reported, Source, TaskReport};
use crate::jobs::transition::Step;
use crate::jobs::{FailureCode, JobError, JobStatus, Jobs};

const BATCH: i64 = 100;
/// Kept reports about tasks that no job recorded are forgotten after this long.
const EARLY_REPORT_TTL_SECS: i64 = 86_400;

/// Runs both reconciler loops every `FITROOM_RECONCILE_EVERY_SECS` until the process ends.
pub fn spawn(jobs: Jobs) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = Duration::from_secs(jobs.config.reconcile_every_secs.max(1));
        let holds = {
            let jobs = jobs.clone();
            async move {
                loop {
                    let pass = jobs.sweep_ledger().await;
                    tracing::debug!(?pass, "ledger sweep");
                    tokio::time::sleep(every).await;
                }
            }
        };
        let due = async move {
            loop {
                let pass = jobs.sweep_jobs().await;
                tracing::debug!(?pass, "job sweep");
                tokio::time::sleep(every).await;
            }
        };
        tokio::join!(holds, due);
    })
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub examined: usize,
    pub expired_packages: usize,
    pub released_holds: usize,
    /// Ended jobs whose input photos were deleted.
    pub deleted_inputs: usize,
    pub deleted_results: usize,
    /// Items that failed this time and will be tried again.
    pub failures: usize,
}

impl Jobs {
    /// One pass of both loops, one after the other (tests and operators).
    pub async fn reconcile_once(&self) -> Result<Pass, JobError> {
        let jobs = self.sweep_jobs().await;
        let ledger = self.sweep_ledger().await;
        Ok(Pass {
            examined: jobs.examined,
            expired_packages: ledger.expired_packages,
            released_holds: ledger.released_holds,
            deleted_inputs: jobs.deleted_inputs,
            deleted_results: jobs.deleted_results,
            failures: jobs.failures + ledger.failures,
        })
    }

    /// Every unfinished job whose next check is due and that nobody holds; then the photos of
    /// jobs past their retention.
    pub async fn sweep_jobs(&self) -> Pass {
        let mut pass = Pass::default();
        self.sweep_inputs(&mut pass).await;
        self.sweep_results(&mut pass).await;
        let now = self.clock.now();
        let due: Result<Vec<(String,)>, _> = sqlx::query_as(
            "SELECT id FROM jobs WHERE status IN ('queued', 'processing') AND next_check_at IS NOT NULL \
             AND next_check_at <= $1 AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_check_at LIMIT $2",
        )
        .bind(now.millis())
        .bind(BATCH)
        .fetch_all(self.db.pool())
        .await;
        let due = match due {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "reading the due jobs failed");
                pass.failures += 1;
                return pass;
            }
        };
        for (id,) in due {
            let id = JobId::from_string(id);
            self.metrics.count("fitroom_reconciler_actions", &[("action", "examine_job")]);
            if let Err(e) = self.reconcile_job(&id).await {
                tracing::warn!(job = %id, error = %e, "reconciling a job failed; will try again");
                pass.failures += 1;
            }
            pass.examined += 1;
        }
        if let Err(e) = self.forget_early_reports().await {
            tracing::warn!(error = %e, "forgetting old early reports failed");
            pass.failures += 1;
        }
        pass
    }

    /// Expires packages past their date and ends the jobs of holds past their deadline (the
    /// ledger never touches jobs: a job and its hold end together, here).
    pub async fn sweep_ledger(&self) -> Pass {
        let mut pass = Pass::default();
        match self.ledger.expire_due().await {
            Ok(n) => pass.expired_packages = n,
            Err(e) => {
                tracing::error!(error = %e, "expiring packages failed");
                pass.failures += 1;
            }
        }
        let overdue = match self.ledger.overdue_holds(BATCH).await {
            Ok(overdue) => overdue,
            Err(e) => {
                tracing::error!(error = %e, "reading overdue holds failed");
                pass.failures += 1;
                Vec::new()
            }
        };
        for hold in overdue {
            match self.end_overdue(&hold.job, &hold.id).await {
                Ok(true) => pass.released_holds += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(hold = %hold.id, job = %hold.job, error = %e, "ending an overdue hold failed");
                    pass.failures += 1;
                }
            }
        }
        for _ in 0..pass.expired_packages {
            self.metrics.count("fitroom_reconciler_actions", &[("action", "expire_package")]);
        }
        for _ in 0..pass.released_holds {
            self.metrics.count("fitroom_reconciler_actions", &[("action", "release_overdue_hold")]);
        }
        pass
    }

    /// An overdue hold's job fails, which releases the hold. A finished job with its hold still
    /// open breaks an invariant that nothing here should ever break; its hold is released alone.
    async fn end_overdue(&self, job: &JobId, hold: &crate::ids::HoldId) -> Result<bool, JobError> {
        if self.finish(job, Step::Failed(FailureCode::HoldOverdue)).await? {
            return Ok(true);
        }
        let still_open = self
            .ledger
            .hold(hold)
            .await?
            .is_some_and(|h| h.state == crate::ledger::HoldState::Open);
        if still_open {
            tracing::error!(%job, %hold, "an open hold outlived its job; releasing it");
            self.ledger.release(hold).await?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn reconcile_job(&self, id: &JobId) -> Result<(), JobError> {
        let Some(job) = self.load(id).await? else { return Ok(()) };
        if job.status.is_finished() {
            return Ok(());
        }
        let now = self.clock.now();
        let timeout = self.config.job_timeout_secs as i64;
        if now.millis() - job.created_at.millis() >= timeout * 1000 {
            self.finish(id, Step::Failed(FailureCode::TimedOut)).await?;
            return Ok(());
        }
        if job.output_url.is_some() {
            return self.mirror(id).await;
        }
        match job.status {
            JobStatus::Queued => {
                if !self.claim(id, Lease::Submission).await? {
                    return Ok(()); // being submitted, or moved on
                }
                // A crash between the job's commit and its uploads leaves some of them missing.
                let mut inputs_present = job.person_key.is_some();
                for key in [&job.person_key, &job.garment_key].into_iter().flatten() {
                    inputs_present &= self.storage.get(key).await?.is_some();
                }
                if inputs_present {
                    tracing::info!(job = %job.id, "submitting a job left queued");
                    self.submit_leased(&job).await
                } else {
                    let keys = [job.person_key.as_deref(), job.garment_key.as_deref()];
                    self.fail_for_missing_inputs(id, keys).await.map(drop)
                }
            }
            _ => self.poll(id).await,
        }
    }

    /// Asks the provider about a processing job's task and hands the answer to `report`, like a
    /// webhook's.
    async fn poll(&self, id: &JobId) -> Result<(), JobError> {
        if !self.claim(id, Lease::Poll).await? {
            return Ok(());
        }
        let result = self.poll_claimed(id).await;
        self.release_lease(id).await?;
        if let Reported::OutputRecorded(id) = result? {
            self.mirror(&id).await?;
        }
        Ok(())
    }

    async fn poll_claimed(&self, id: &JobId) -> Result<Reported, JobError> {
        let Some(job) = self.load(id).await? else { return Ok(Reported::Unbound) };
        let Some(provider) = self.registry.get(&job.provider).cloned() else {
            self.finish(id, Step::Failed(FailureCode::ProviderDisabled)).await?;
            return Ok(Reported::Ended);
        };
        let Some(task_id) = &job.provider_task_id else { return Ok(Reported::Unbound) };
        let task_key = match &job.task_key {
            Some(key) => key.clone(),
            // Accepted before task keys were recorded (fal jobs at the upgrade): record it now.
            None => self.record_task_key(id, provider.task_key(task_id)).await?,
        };
        let state = self.ask_provider(provider.as_ref(), task_id).await?;
        tracing::info!(job = %job.id, ?state, "asked the provider about an overdue job");
        let report =
            TaskReport { provider: provider.name(), task_key, state, source: Source::Poll };
        self.report(&report).await
    }

    async fn record_task_key(&self, id: &JobId, task_key: &str) -> Result<String, JobError> {
        sqlx::query("UPDATE jobs SET task_key = $1 WHERE id = $2 AND task_key IS NULL")
            .bind(task_key)
            .bind(id.as_str())
            .execute(self.db.pool())
            .await?;
        Ok(task_key.to_owned())
    }

    async fn forget_early_reports(&self) -> Result<(), JobError> {
        let before = self.clock.now().plus_secs(-EARLY_REPORT_TTL_SECS);
        sqlx::query("DELETE FROM early_reports WHERE received_at < $1")
            .bind(before.millis())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}
