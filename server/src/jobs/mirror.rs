//! Copying a provider's output into Fitroom's own storage, the step between "the provider says it
//! is done" and "succeeded": provider URLs expire, so a job succeeds (and its hold settles) only
//! once our copy exists. Storage trouble leaves the job processing with its hold open and tries
//! again with backoff; an output that can never be stored fails the job, uncharged.

use crate::ids::JobId;
use crate::jobs::download::{self, DownloadError, DownloadPolicy, MirrorError};
use crate::jobs::lease::Lease;
use crate::jobs::transition::Step;
use crate::jobs::{FailureCode, Job, JobError, Jobs};

/// The largest output we copy.
pub const MAX_OUTPUT_BYTES: usize = 25 * 1024 * 1024;

/// Retries back off from 2 s to 5 minutes while storage is down.
fn mirror_backoff_secs(attempts: i64) -> i64 {
    2i64.saturating_pow(attempts.clamp(1, 9) as u32).min(300)
}

/// Every key a job's result may have been stored under, whatever the output's format.
pub(crate) fn result_keys(job: &JobId) -> [String; 3] {
    ["jpg", "png", "webp"].map(|ext| format!("results/{job}.{ext}"))
}

impl Jobs {
    /// Copies the recorded output of a processing job into storage, then ends the job as
    /// succeeded. Does nothing when the job is finished, has no output yet, or another worker
    /// holds its lease.
    #[tracing::instrument(skip(self), fields(job = %id))]
    pub async fn mirror(&self, id: &JobId) -> Result<(), JobError> {
        if !self.claim(id, Lease::Mirror).await? {
            return Ok(());
        }
        let Some(job) = self.load(id).await? else { return Ok(()) };
        let Some(output) = job.output_url.clone() else { return Ok(()) };
        let policy = DownloadPolicy {
            max_bytes: MAX_OUTPUT_BYTES,
            allow_private: self.config.fetch_allow_private
                || self.registry.get(&job.provider).is_some_and(|p| p.serves_private_outputs()),
        };
        let download = match download::open(output, &policy).await {
            Ok(download) => download,
            Err(failure) => return self.mirror_failed(&job, MirrorError::Download(failure)).await,
        };
        self.faults.check("mirror:after_download")?;
        let key = format!("results/{}.{}", job.id, download.kind.extension());
        let content_type = download.kind.content_type();
        let bytes = match download::store(self.storage.as_ref(), &key, download).await {
            Ok(bytes) => bytes,
            Err(failure) => return self.mirror_failed(&job, failure).await,
        };
        self.faults.check("mirror:after_store")?;
        if !self.finish(&job.id, Step::Stored { key: &key, content_type, bytes }).await? {
            // Canceled or timed out while the copy was on its way: a result nobody pays for is
            // not kept. Unless another process, whose lease this copy outlived, stored the same
            // key and the job succeeded with it.
            let succeeded_with_it = self
                .load(&job.id)
                .await?
                .is_some_and(|j| j.result_key.as_deref() == Some(key.as_str()));
            if !succeeded_with_it {
                tracing::info!(job = %job.id, "the job ended before its result was stored; deleting the copy");
                self.storage.delete(&key).await?;
            }
        }
        Ok(())
    }

    /// An output that can never be stored fails the job (uncharged); anything that may pass
    /// (network, our storage) leaves it processing and tries again later.
    async fn mirror_failed(&self, job: &Job, failure: MirrorError) -> Result<(), JobError> {
        match failure {
            MirrorError::Download(DownloadError::Refused(reason)) => {
                tracing::warn!(job = %job.id, %reason, "the provider's output was refused");
                self.finish(&job.id, Step::Failed(FailureCode::OutputRefused)).await.map(drop)
            }
            MirrorError::Download(DownloadError::Transient(reason)) => {
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
}
