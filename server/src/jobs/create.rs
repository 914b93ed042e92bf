//! A generation begins: the job and its credit hold are written in one transaction (nothing at
//! all when credits are short), the inputs are stored, and the task is submitted.

use bytes::Bytes;
use fitroom_types::upload::{AspectRatio, Prompt};
use rand::RngCore;

use crate::db::with_retry;
use crate::ids::{HoldId, JobId, UserId};
use crate::jobs::events::{self, EventKind};
use crate::jobs::{Job, JobError, Jobs, status::UNFINISHED};
use crate::ledger::{FreezeRequest, LedgerError, LedgerTx};
use crate::media::NormalizedImage;
use crate::providers::ProviderName;
use crate::spend::figures::availability;

/// A validated generation request: images already checked and stripped of metadata.
#[derive(Clone, Debug)]
pub struct NewGeneration {
    pub user: UserId,
    pub person: NormalizedImage,
    pub garment: Option<NormalizedImage>,
    pub prompt: Option<Prompt>,
    pub aspect_ratio: Option<AspectRatio>,
    /// The provider to try first; the configured default otherwise.
    pub provider: Option<ProviderName>,
    pub idempotency_key: Option<String>,
    /// A digest of everything the request asked for (fields and file bytes as sent): the same
    /// `Idempotency-Key` with another digest is another request, and is refused.
    pub digest: String,
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
    /// The cheap refusals, before an upload is decoded (decoding is the expensive part): a
    /// shopper without the credits for one more generation is answered at once. Not the
    /// authority (`create` freezes in a transaction): only a way not to spend CPU and memory on
    /// a request that will be refused. A repeated `Idempotency-Key` passes: it answers the first
    /// request's job whatever the balance is now.
    pub async fn precheck(
        &self,
        user: &UserId,
        idempotency_key: Option<&str>,
        digest: &str,
    ) -> Result<(), JobError> {
        if let Some(key) = idempotency_key {
            let seen: Option<(Option<String>,)> = sqlx::query_as(
                "SELECT request_digest FROM jobs WHERE user_id = $1 AND idempotency_key = $2",
            )
            .bind(user.as_str())
            .bind(key)
            .fetch_optional(self.db.pool())
            .await?;
            if let Some((known,)) = seen {
                return match known {
                    Some(known) if known != digest => Err(JobError::IdempotencyKeyReused),
                    _ => Ok(()),
                };
            }
        }
        let cost = self.config.generation_cost;
        let balance = self.ledger.balance(user).await?;
        if balance.available < cost {
            return Err(LedgerError::InsufficientCredits {
                requested: cost,
                available: balance.available,
            }
            .into());
        }
        Ok(())
    }

    /// Writes the job and freezes its credits in one transaction (nothing is written when credits
    /// are short), stores the inputs, then submits the task outside the transaction.
    pub async fn create(&self, request: NewGeneration) -> Result<Created, JobError> {
        let provider = match request.provider {
            Some(name) => name.as_str().to_owned(),
            None => self.config.default_provider.clone(),
        };
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
        let callback_token = hex::encode(token);

        // Nothing is written when no provider could take the task now (a repeated request still
        // answers its first job). Read before the transaction: holding SQLite's write lock while
        // waiting for a second pooled connection could wait on itself.
        let names = self.registry.names();
        let verdicts = availability(&self.db, &self.config.spend, &names, self.clock.now()).await?;
        let usable = verdicts.iter().any(|(_, verdict)| verdict.is_none());

        let existing = with_retry(|| async {
            let mut tx = LedgerTx::begin(&self.ledger, &request.user).await?;
            let result = async {
                let conn = tx.conn().await?;
                // Read under the user's lock, which the deletion's mark also takes: either this
                // job commits first and the erasure finds it, or the mark does and nothing is
                // written (another process may trust the ended session for a moment).
                let open: Option<(i64,)> =
                    sqlx::query_as("SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL")
                        .bind(request.user.as_str())
                        .fetch_optional(&mut *conn)
                        .await?;
                if open.is_none() {
                    return Err(JobError::AccountClosed);
                }
                if let Some(key) = &request.idempotency_key {
                    let found: Option<(String, Option<String>)> = sqlx::query_as("SELECT id, request_digest FROM jobs WHERE user_id = $1 AND idempotency_key = $2")
                        .bind(request.user.as_str())
                        .bind(key)
                        .fetch_optional(&mut *conn)
                        .await?;
                    if let Some((existing, digest)) = found {
                        // Jobs from before digests were kept cannot be compared: answered as before.
                        if digest.is_some_and(|d| d != request.digest) {
                            return Err(JobError::IdempotencyKeyReused);
                        }
                        return Ok::<_, JobError>(Some(JobId::from_string(existing)));
                    }
                }
                let now = tx.now()?;
                if !usable {
                    return Err(JobError::NoProviderAvailable);
                }
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
                     hold_id, request_digest, requested_provider) VALUES ($1, $2, 'queued', $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                )
                .bind(id.as_str())
                .bind(request.user.as_str())
                .bind(cost.get())
                .bind(&provider)
                .bind(request.idempotency_key.as_deref())
                .bind(now.millis())
                .bind(request.prompt.as_ref().map(Prompt::as_str))
                .bind(request.aspect_ratio.map(|r| r.to_string()))
                // The job names its inputs once they are stored (below): a crash in between
                // leaves objects nothing names, for the storage sweep, never a name without its
                // object.
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(&callback_token)
                .bind(now.plus_secs(30).millis())
                .bind(now.plus_secs(self.submit_lease_secs()).millis())
                .bind(hold.as_str())
                .bind(&request.digest)
                .bind(request.provider.map(|p| p.as_str()))
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

        let person = self
            .storage
            .put(
                &person_key,
                Bytes::from(request.person.bytes.clone()),
                request.person.kind.content_type(),
            )
            .await;
        if person.is_ok() {
            // A crash here leaves the person photo stored and the garment not (the reconciler).
            self.faults.check("create:after_person_input")?;
        }
        let stored = match (person, &garment_key, &request.garment) {
            (Ok(()), Some(key), Some(garment)) => {
                self.storage
                    .put(key, Bytes::from(garment.bytes.clone()), garment.kind.content_type())
                    .await
            }
            (result, _, _) => result,
        };
        if let Err(e) = stored {
            tracing::error!(job = %id, error = %e, "storing the inputs failed");
            self.fail_for_missing_inputs(&id, [Some(&person_key), garment_key.as_deref()]).await?;
            return Ok(Created::New(self.load(&id).await?.ok_or(JobError::NotFound)?));
        }
        // Named only while the generation is not deleted: an account erased while the inputs
        // were on their way has already deleted every key of this job, so they go here.
        let named = sqlx::query(
            "UPDATE jobs SET person_key = $1, garment_key = $2 WHERE id = $3 AND deleted_at IS NULL",
        )
        .bind(&person_key)
        .bind(garment_key.as_deref())
        .bind(id.as_str())
        .execute(self.db.pool())
        .await?;
        if named.rows_affected() == 0 {
            tracing::info!(job = %id, "the generation was deleted while its inputs were stored; deleting them");
            for key in std::iter::once(&person_key).chain(&garment_key) {
                self.storage.delete(key).await?;
            }
            return Err(JobError::NotFound);
        }
        self.faults.check("create:after_inputs")?;

        let job = self.load(&id).await?.ok_or(JobError::NotFound)?;
        self.submit_leased(&job).await?;
        Ok(Created::New(self.load(&id).await?.ok_or(JobError::NotFound)?))
    }
}
