use crate::db::with_retry;
use crate::jobs::create::hold_key;
use crate::jobs::fetch::{self, FetchError, FetchPolicy, MirrorError};
use crate::jobs::{Job, JobError, JobStatus, Jobs};
use crate::ledger::{LedgerTx, Resolution};
use crate::providers::TaskState;

/// Mirror retries back off from 2 s to 5 minutes while storage is down.
fn mirror_backoff_secs(attempts: i64) -> i64 {
    2i64.saturating_pow(attempts.clamp(1, 8) as u32).min(300)
}

impl Jobs {
    /// Applies what a provider says about a task. Finished jobs are final: a duplicate or late
    /// report is a no-op.
    pub async fn apply(&self, job: &Job, task_id: &str, state: TaskState) -> Result<(), JobError> {
        if job.status.is_finished() {
            return Ok(());
        }
        match state {
            TaskState::Pending => Ok(()),
            TaskState::Failed { reason } => {
                let message = format!("The provider could not make this picture ({reason}). You were not charged.");
                self.finish_unsuccessfully(job, JobStatus::Failed, &message).await.map(|_| ())
            }
            TaskState::Succeeded { outputs } => {
                let Some(output) = outputs.into_iter().next() else {
                    return self
                        .finish_unsuccessfully(job, JobStatus::Failed, "The provider returned no picture. You were not charged.")
                        .await
                        .map(|_| ());
                };
                let now = self.clock.now();
                sqlx::query(
                    "UPDATE jobs SET status = 'processing', output_url = $1, \
                     provider_task_id = COALESCE(provider_task_id, $2), updated_at = $3, next_check_at = $3 \
                     WHERE id = $4 AND status IN ('queued', 'processing')",
                )
                .bind(&output)
                .bind(task_id)
                .bind(now.millis())
                .bind(job.id.as_str())
                .execute(self.db.pool())
                .await?;
                self.statuses.forget(&job.id);
                self.faults.check("outcome:after_output_recorded")?;
                Ok(())
            }
        }
    }

    /// Copies the provider's output into our storage, then marks the job succeeded and settles
    /// its hold in one transaction. Storage trouble leaves the job processing with its hold open
    /// and schedules another attempt; the shopper is charged only once the copy exists.
    pub async fn mirror(&self, id: &crate::ids::JobId) -> Result<(), JobError> {
        let now = self.clock.now();
        let claimed = sqlx::query(
            "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND status = 'processing' AND output_url IS NOT NULL \
             AND (lease_until IS NULL OR lease_until < $3)",
        )
        .bind(now.plus_secs(120).millis())
        .bind(id.as_str())
        .bind(now.millis())
        .execute(self.db.pool())
        .await?;
        if claimed.rows_affected() != 1 {
            return Ok(()); // finished, or another worker is on it
        }
        let Some(job) = self.load(id).await? else { return Ok(()) };
        let Some(output) = job.output_url.clone() else { return Ok(()) };
        let policy = FetchPolicy {
            max_bytes: 25 * 1024 * 1024,
            allow_private: self.config.fetch_allow_private
                || self.registry.get(&job.provider).is_some_and(|p| p.serves_private_outputs()),
        };
        let download = match fetch::open(&self.http, output, &policy).await {
            Ok(download) => download,
            Err(failure) => return self.mirror_failed(&job, MirrorError::Fetch(failure)).await,
        };
        self.faults.check("mirror:after_download")?;
        let key = format!("results/{}.{}", job.id, download.kind.extension());
        let content_type = download.kind.content_type();
        if let Err(failure) = fetch::store(self.storage.as_ref(), &key, download).await {
            return self.mirror_failed(&job, failure).await;
        }
        self.faults.check("mirror:after_store")?;
        self.finish_successfully(&job, &key, content_type).await
    }

    /// An output that can never be stored fails the job (uncharged); anything that may pass
    /// (network, our storage) leaves it processing and tries again later.
    async fn mirror_failed(&self, job: &Job, failure: MirrorError) -> Result<(), JobError> {
        match failure {
            MirrorError::Fetch(FetchError::Refused(reason)) => {
                let message = format!("The provider's picture could not be accepted ({reason}). You were not charged.");
                self.finish_unsuccessfully(job, JobStatus::Failed, &message).await.map(drop)
            }
            MirrorError::Fetch(FetchError::Transient(reason)) => {
                tracing::warn!(job = %job.id, %reason, "downloading the output failed; will retry");
                self.retry_mirror_later(job).await
            }
            MirrorError::Storage(e) => {
                tracing::warn!(job = %job.id, error = %e, "storing the result failed; will retry");
                self.retry_mirror_later(job).await
            }
        }
    }

    async fn retry_mirror_later(&self, job: &Job) -> Result<(), JobError> {
        let attempts = job.mirror_attempts + 1;
        let next = self.clock.now().plus_secs(mirror_backoff_secs(attempts));
        sqlx::query("UPDATE jobs SET mirror_attempts = $1, next_check_at = $2, lease_until = NULL WHERE id = $3")
            .bind(attempts)
            .bind(next.millis())
            .bind(job.id.as_str())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    async fn finish_successfully(&self, job: &Job, key: &str, content_type: &str) -> Result<(), JobError> {
        if self.end_job(job, Ending::Succeeded { key, content_type }).await? {
            tracing::info!(job = %job.id, "generation succeeded; credits settled");
        }
        Ok(())
    }

    /// Fails or cancels an unfinished job and releases its hold, in one transaction.
    /// Returns false when the job had already finished.
    pub(crate) async fn finish_unsuccessfully(&self, job: &Job, status: JobStatus, message: &str) -> Result<bool, JobError> {
        let ended = self.end_job(job, Ending::Unsuccessful { status, message }).await?;
        if ended {
            tracing::info!(job = %job.id, status = status.as_str(), "generation ended without a result; credits released");
        }
        Ok(ended)
    }

    /// Moves an unfinished job to its final state and resolves its hold in the same transaction:
    /// settled with a stored result, released otherwise. False when it had already finished.
    async fn end_job(&self, job: &Job, ending: Ending<'_>) -> Result<bool, JobError> {
        let hold = self.ledger.hold_by_key(&job.user, &hold_key(&job.id)).await?;
        let ended = with_retry(|| async {
            let mut tx = LedgerTx::begin(&self.ledger, &job.user).await?;
            let result = async {
                // Takes the user's lock first: the time is read after it.
                tx.conn().await?;
                let now = tx.now()?.millis();
                let (update, fault, resolution) = match ending {
                    Ending::Succeeded { key, content_type } => (
                        sqlx::query(
                            "UPDATE jobs SET status = 'succeeded', result_key = $1, result_content_type = $2, error = NULL, \
                             finished_at = $3, updated_at = $3, lease_until = NULL, next_check_at = NULL \
                             WHERE id = $4 AND status = 'processing'",
                        )
                        .bind(key)
                        .bind(content_type),
                        "success:after_job_update",
                        Resolution::Settle,
                    ),
                    Ending::Unsuccessful { status, message } => (
                        sqlx::query(
                            "UPDATE jobs SET status = $1, error = $2, finished_at = $3, updated_at = $3, lease_until = NULL, \
                             next_check_at = NULL WHERE id = $4 AND status IN ('queued', 'processing')",
                        )
                        .bind(status.as_str())
                        .bind(message),
                        "failure:after_job_update",
                        Resolution::Release,
                    ),
                };
                let updated = update.bind(now).bind(job.id.as_str()).execute(tx.conn().await?).await?;
                if updated.rows_affected() != 1 {
                    return Ok::<_, JobError>(false);
                }
                self.faults.check(fault)?;
                if let Some(hold) = &hold {
                    self.ledger.resolve_in(&mut tx, &hold.id, resolution).await?;
                }
                Ok(true)
            }
            .await;
            match result {
                // Finished meanwhile: nothing to write.
                Ok(false) => tx.rollback().await.map(|()| false).map_err(Into::into),
                result => tx.end(result).await,
            }
        })
        .await;
        // Forgotten after the commit (or a failed attempt, which may have committed anyway).
        self.statuses.forget(&job.id);
        ended
    }
}

/// How a job ends.
#[derive(Clone, Copy)]
enum Ending<'a> {
    Succeeded { key: &'a str, content_type: &'a str },
    Unsuccessful { status: JobStatus, message: &'a str },
}
