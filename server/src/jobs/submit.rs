use std::time::Duration;

use crate::jobs::{Job, JobError, JobStatus, Jobs};
use crate::providers::{SubmitError, TaskInput, callback};

/// How long a shopper's image URL handed to a provider stays valid.
const INPUT_URL_TTL_SECS: i64 = 3600;
const SUBMIT_TIMEOUT: Duration = Duration::from_secs(30);

impl Jobs {
    /// A short-lived URL a provider can fetch an input from: presigned by S3, or Fitroom's own
    /// signed route for local storage. Never a permanent public link.
    pub(crate) async fn input_url(&self, key: &str) -> Result<String, JobError> {
        let ttl = Duration::from_secs(INPUT_URL_TTL_SECS as u64);
        if let Some(url) = self.storage.presign_get(key, ttl).await? {
            return Ok(url);
        }
        let expires = self.clock.now().plus_secs(INPUT_URL_TTL_SECS);
        Ok(format!("{}{}", self.config.public_url, self.signer.sign_path(&format!("/files/{key}"), expires)))
    }

    /// Offers the task to each provider in failover order until one accepts. Connection errors,
    /// timeouts, 5xx and 429 move on to the next; when none accepts, the job fails and its hold
    /// is released.
    pub(crate) async fn submit(&self, job: &Job) -> Result<(), JobError> {
        let (Some(person_key), Some(token)) = (&job.person_key, &job.callback_token) else {
            self.finish_unsuccessfully(job, JobStatus::Failed, "the request is incomplete").await?;
            return Ok(());
        };
        let person_image_url = self.input_url(person_key).await?;
        let garment_image_url = match &job.garment_key {
            Some(key) => Some(self.input_url(key).await?),
            None => None,
        };
        let mut last_error = String::from("no provider is enabled");
        for provider in self.registry.failover_order(Some(&job.provider), self.clock.now()) {
            let task = TaskInput {
                job: job.id.clone(),
                person_image_url: person_image_url.clone(),
                garment_image_url: garment_image_url.clone(),
                prompt: job.prompt.clone(),
                aspect_ratio: job.aspect_ratio.clone(),
                callback_url: callback::url(&self.config.public_url, provider.name(), &job.id, token),
            };
            let started = std::time::Instant::now();
            let result = match tokio::time::timeout(SUBMIT_TIMEOUT, provider.submit(&task)).await {
                Ok(result) => result,
                Err(_) => Err(SubmitError::Unavailable("timed out".into())),
            };
            let seconds = started.elapsed().as_secs_f64();
            let outcome = match &result {
                Ok(_) => "accepted",
                Err(SubmitError::Unavailable(_)) => "unavailable",
                Err(SubmitError::Rejected(_)) => "rejected",
            };
            self.metrics.count("fitroom_submissions", &[("provider", provider.name()), ("outcome", outcome)]);
            self.metrics.observe("fitroom_submission", &[("provider", provider.name())], seconds);
            match result {
                Ok(task_id) => {
                    self.registry.record_success(provider.name());
                    let now = self.clock.now();
                    let updated = sqlx::query(
                        "UPDATE jobs SET status = 'processing', provider = $1, provider_task_id = $2, \
                         submitted_at = $3, updated_at = $3, next_check_at = $4 WHERE id = $5 AND status = 'queued'",
                    )
                    .bind(provider.name())
                    .bind(&task_id)
                    .bind(now.millis())
                    .bind(now.plus_secs(self.config.poll_after_secs as i64).millis())
                    .bind(job.id.as_str())
                    .execute(self.db.pool())
                    .await;
                    self.statuses.forget(&job.id);
                    let updated = updated?;
                    // Zero rows: the webhook outran us and already moved the job on.
                    tracing::info!(
                        job = %job.id, provider = provider.name(), task = %task_id,
                        ms = started.elapsed().as_millis() as u64, recorded = updated.rows_affected() == 1,
                        "task submitted"
                    );
                    return Ok(());
                }
                Err(SubmitError::Unavailable(reason)) => {
                    tracing::warn!(job = %job.id, provider = provider.name(), %reason, "provider unavailable; trying the next");
                    self.registry.record_failure(provider.name(), self.clock.now());
                    last_error = format!("{} is unavailable: {reason}", provider.name());
                }
                Err(SubmitError::Rejected(reason)) => {
                    tracing::warn!(job = %job.id, provider = provider.name(), %reason, "provider rejected the task");
                    last_error = format!("{} rejected the request: {reason}", provider.name());
                    break;
                }
            }
        }
        let message = format!("No provider could take this generation ({last_error}). You were not charged.");
        self.finish_unsuccessfully(job, JobStatus::Failed, &message).await?;
        Ok(())
    }
}
