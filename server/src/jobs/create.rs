//! A generation begins: the job and its credit hold are written in one transaction (nothing at
//! all when credits are short), the inputs are stored, and the task is submitted.

use bytes::Bytes;
use rand::RngCore;

use crate::db::with_retry;
use crate::ids::{HoldId, JobId, UserId};
use crate::jobs::events::{self, EventKind};
use crate::jobs::transition::Step;
use crate::jobs::{FailureCode, Job, JobError, Jobs, status::UNFINISHED};
use crate::ledger::{FreezeRequest, LedgerTx};
use crate::media::NormalizedImage;
use crate::signing::hex;

/// A validated generation request: images already checked and stripped of metadata.
#[derive(Clone, Debug)]
pub struct NewGeneration {
    pub user: UserId,
    pub person: NormalizedImage,
    pub garment: Option<NormalizedImage>,
    pub prompt: Option<String>,
    pub aspect_ratio: Option<String>,
    pub provider: Option<String>,
    pub idempotency_key: Option<String>,
}

/// The idempotency key a job's credits are frozen under (the job row keeps the hold's id).
fn hold_key(job: &JobId) -> String {
    format!("job:{job}")
}

pub enum Created {
    New(Job),
    /// The same `Idempotency-Key` was seen before: the first request's job.
    Existing(Job),
}

impl Jobs {
    /// Writes the job and freezes its credits in one transaction (nothing is written when credits
    /// are short), stores the inputs, then submits the task outside the transaction.
    pub async fn create(&self, request: NewGeneration) -> Result<Created, JobError> {
        let provider =
            request.provider.clone().unwrap_or_else(|| self.config.default_provider.clone());
        if self.registry.get(&provider).is_none() {
            return Err(JobError::UnknownProvider(provider));
        }
        let cost = self.config.generation_cost;
        let id = JobId::generate();
        let hold = HoldId::generate();
        let person_key = format!("inputs/{id}/person.{}", request.person.kind.extension());
        let garment_key =
            request.garment.as_ref().map(|g| format!("inputs/{id}/garment.{}", g.kind.extension()));
        let mut token = [0u8; 24];
        rand::rng().fill_bytes(&mut token);
        let callback_token = hex(&token);

        let existing = with_retry(|| async {
            let mut tx = LedgerTx::begin(&self.ledger, &request.user).await?;
            let result = async {
                let conn = tx.conn().await?;
                if let Some(key) = &request.idempotency_key {
                    let found: Option<(String,)> = sqlx::query_as("SELECT id FROM jobs WHERE user_id = $1 AND idempotency_key = $2")
                        .bind(request.user.as_str())
                        .bind(key)
                        .fetch_optional(&mut *conn)
                        .await?;
                    if let Some((existing,)) = found {
                        return Ok::<_, JobError>(Some(JobId::from_string(existing)));
                    }
                }
                let now = tx.now()?;
                let limit = self.config.max_active_jobs;
                if limit > 0 {
                    let (active,): (i64,) = sqlx::query_as(&format!(
                        "SELECT COUNT(*) FROM jobs WHERE user_id = $1 AND status IN {UNFINISHED}"
                    ))
                    .bind(request.user.as_str())
                    .fetch_one(tx.conn().await?)
                    .await?;
                    if active >= i64::from(limit) {
                        return Err(JobError::TooManyJobs(limit));
                    }
                }
                // The request holds the submission lease from the start: the reconciler leaves the
                // job alone while its inputs are stored and it is submitted, and takes it over
                // when a crash lets the lease run out.
                sqlx::query(
                    "INSERT INTO jobs (id, user_id, status, cost, provider, idempotency_key, created_at, updated_at, \
                     prompt, aspect_ratio, person_key, garment_key, callback_token, next_check_at, lease_until, \
                     hold_id) VALUES ($1, $2, 'queued', $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(id.as_str())
                .bind(request.user.as_str())
                .bind(cost.get())
                .bind(&provider)
                .bind(request.idempotency_key.as_deref())
                .bind(now.millis())
                .bind(request.prompt.as_deref())
                .bind(request.aspect_ratio.as_deref())
                .bind(&person_key)
                .bind(garment_key.as_deref())
                .bind(&callback_token)
                .bind(now.plus_secs(30).millis())
                .bind(now.plus_secs(self.submit_lease_secs()).millis())
                .bind(hold.as_str())
                .execute(tx.conn().await?)
                .await?;
                events::append(tx.conn().await?, &id, now, EventKind::Created, Some(&provider)).await?;
                self.faults.check("create:after_job")?;
                let deadline = now.plus_secs(self.config.job_timeout_secs as i64 + 300);
                self.ledger
                    .freeze_in(
                        &mut tx,
                        &FreezeRequest {
                            id: hold.clone(),
                            user: request.user.clone(),
                            amount: cost,
                            job: id.clone(),
                            idempotency_key: hold_key(&id),
                            deadline,
                        },
                    )
                    .await?;
                let detail = format!("{cost} credits");
                events::append(tx.conn().await?, &id, now, EventKind::Held, Some(&detail)).await?;
                self.faults.check("create:after_freeze")?;
                Ok(None)
            }
            .await;
            match result {
                // The same request again: nothing was written, leave no trace of the lock.
                Ok(Some(existing)) => tx.rollback().await.map(|()| Some(existing)).map_err(Into::into),
                result => tx.end(result).await,
            }
        })
        .await?;
        if let Some(existing) = existing {
            let job = self.load(&existing).await?.ok_or(JobError::NotFound)?;
            return Ok(Created::Existing(job));
        }
        tracing::info!(job = %id, user = %request.user, %provider, "generation created");
        self.faults.check("create:after_commit")?;

        let stored = async {
            self.storage
                .put(
                    &person_key,
                    Bytes::from(request.person.bytes.clone()),
                    request.person.kind.content_type(),
                )
                .await?;
            if let (Some(key), Some(garment)) = (&garment_key, &request.garment) {
                self.storage
                    .put(key, Bytes::from(garment.bytes.clone()), garment.kind.content_type())
                    .await?;
            }
            Ok::<_, JobError>(())
        }
        .await;
        if let Err(e) = stored {
            tracing::error!(job = %id, error = %e, "storing the inputs failed");
            self.finish(&id, Step::Failed(FailureCode::InputsMissing)).await?;
            return Ok(Created::New(self.load(&id).await?.ok_or(JobError::NotFound)?));
        }
        self.faults.check("create:after_inputs")?;

        let job = self.load(&id).await?.ok_or(JobError::NotFound)?;
        self.submit_leased(&job).await?;
        Ok(Created::New(self.load(&id).await?.ok_or(JobError::NotFound)?))
    }
}
