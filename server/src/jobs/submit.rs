//! Offering a queued job's task to the providers, in failover order, under a lease.
//!
//! The lease (`lease_until` on the job row) is taken before any provider is called and is long
//! enough for every provider to time out once, so the reconciler never submits a job a second
//! time while it is being submitted, nor one that has moved on: taking the lease requires the job
//! to be `queued`. The one crash window left is between "the provider accepted" and "the task id
//! is recorded" (fault point `submit:after_accepted`): the job is still queued when the lease
//! runs out, and the reconciler submits it again. The provider then runs two tasks; the first
//! one's reports name a task no job recorded, so they change nothing, and the shopper is charged
//! once, for the task that was recorded. The second submission's reservation releases the first
//! one's hold on the provider's spend: a job holds one task's cost at a time.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::jobs::events::{self, EventKind};
use crate::jobs::transition::{Step, transition};
use crate::jobs::{FailureCode, Job, JobError, Jobs};
use crate::providers::Provider;
use crate::providers::{CALL_TIMEOUT, SubmitError, TaskInput, callback};
use crate::spend::figures::{Unusable, availability};
use crate::spend::health;
use crate::spend::routing::{Candidate, decide};
use crate::spend::tasks::{self, Reservation, SubmitFailure, TaskCharge};

/// How long a shopper's image URL handed to a provider stays valid.
const INPUT_URL_TTL_SECS: i64 = 3600;

/// What one submission decided: the providers to try, in order, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutePlan {
    pub order: Vec<&'static str>,
    pub reason: String,
}

impl Jobs {
    /// A short-lived URL a provider can fetch an input from: presigned by S3, or Fitroom's own
    /// signed route for local storage. Never a permanent public link.
    pub(crate) async fn input_url(&self, key: &str) -> Result<String, JobError> {
        let ttl = Duration::from_secs(INPUT_URL_TTL_SECS as u64);
        if let Some(url) = self.storage.presign_get(key, ttl).await? {
            return Ok(url);
        }
        let expires = self.clock.now().plus_secs(INPUT_URL_TTL_SECS);
        Ok(format!(
            "{}{}",
            self.config.public_url,
            self.signer.sign_path(&format!("/files/{key}"), expires)
        ))
    }

    /// Submits a job whose lease the caller holds. Connection errors, timeouts, 5xx and 429 move
    /// on to the next provider; a refusal (4xx) or no provider left fails the job, uncharged.
    #[tracing::instrument(skip(self, job), fields(job = %job.id))]
    pub(crate) async fn submit_leased(&self, job: &Job) -> Result<(), JobError> {
        let (Some(person_key), Some(token)) = (&job.person_key, &job.callback_token) else {
            let keys = [job.person_key.as_deref(), job.garment_key.as_deref()];
            self.fail_for_missing_inputs(&job.id, keys).await?;
            return Ok(());
        };
        let person_image_url = self.input_url(person_key).await?;
        let garment_image_url = match &job.garment_key {
            Some(key) => Some(self.input_url(key).await?),
            None => None,
        };
        let order = self.route(job).await?;
        for provider in order {
            let name = provider.name();
            let now = self.clock.now();
            let estimate = self.config.spend.price(name);
            let budget = self.config.spend.budget(name);
            // The transaction that holds the task's cost against the provider's budget is the one
            // that decides the provider may take it: the job still queued, no cool-down, room in
            // the budget. The plan above only ordered the candidates.
            let charge = match tasks::reserve(&self.db, &job.id, name, estimate, budget, now)
                .await?
            {
                Reservation::Reserved(charge) => charge,
                Reservation::OverBudget { committed } => {
                    tracing::warn!(provider = name, %committed, "provider over budget; trying the next");
                    self.note_submit_failure(job, name, "over_budget", None).await?;
                    continue;
                }
                Reservation::Cooling => {
                    tracing::warn!(provider = name, "provider cooling down; trying the next");
                    self.note_submit_failure(job, name, "cooling_down", None).await?;
                    continue;
                }
                Reservation::JobMovedOn => {
                    tracing::info!(provider = name, "the job moved on before its task was sent");
                    return Ok(());
                }
            };
            let task = TaskInput {
                job: job.id.clone(),
                person_image_url: person_image_url.clone(),
                garment_image_url: garment_image_url.clone(),
                prompt: job.prompt.clone(),
                aspect_ratio: job.aspect_ratio.clone(),
                callback_url: callback::url(&self.config.public_url, name, &job.id, token),
            };
            let started = std::time::Instant::now();
            let result = match tokio::time::timeout(CALL_TIMEOUT, provider.submit(&task)).await {
                Ok(result) => result,
                Err(_) => Err(SubmitError::Unavailable("timed out".into())),
            };
            let outcome = match &result {
                Ok(_) => "accepted",
                Err(SubmitError::Unavailable(_)) => "unavailable",
                Err(SubmitError::Rejected(_)) => "rejected",
            };
            self.metrics.count("fitroom_submissions", &[("provider", name), ("outcome", outcome)]);
            self.metrics.observe(
                "fitroom_submission",
                &[("provider", name)],
                started.elapsed().as_secs_f64(),
            );
            match result {
                Ok(task_id) => {
                    health::record_success(&self.db, name, self.clock.now()).await?;
                    self.faults.check("submit:after_accepted")?;
                    let task_key = provider.task_key(&task_id).to_owned();
                    let recorded =
                        self.record_accepted(job, name, &task_id, &task_key, &charge).await?;
                    tracing::info!(
                        provider = name, task = %task_id, ms = started.elapsed().as_millis() as u64,
                        recorded, "task submitted"
                    );
                    // A webhook may have outrun this record: apply what it said now.
                    if recorded && let Some(early) = self.take_early(name, &task_key).await? {
                        self.hand_over(early).await?;
                    }
                    return Ok(());
                }
                Err(error @ SubmitError::Unavailable(_)) => {
                    tracing::warn!(provider = name, %error, "provider unavailable; trying the next");
                    let failure = Some(SubmitFailure::Unavailable);
                    tasks::release(&self.db, &charge, failure, self.clock.now()).await?;
                    if health::record_failure(&self.db, name, self.clock.now()).await? {
                        tracing::warn!(provider = name, "provider cooling down");
                    }
                    self.note_submit_failure(job, name, "unavailable", Some(error.answer()))
                        .await?;
                }
                Err(error @ SubmitError::Rejected(_)) => {
                    tracing::warn!(provider = name, %error, "provider rejected the task");
                    let failure = Some(SubmitFailure::Rejected);
                    tasks::release(&self.db, &charge, failure, self.clock.now()).await?;
                    self.note_submit_failure(job, name, "rejected", Some(error.answer())).await?;
                    break;
                }
            }
        }
        self.finish(&job.id, Step::Failed(FailureCode::NoProviderAvailable)).await?;
        Ok(())
    }

    /// `queued → processing`, with the provider and task that bind its reports from now on.
    async fn record_accepted(
        &self,
        job: &Job,
        provider: &str,
        task_id: &str,
        task_key: &str,
        charge: &TaskCharge,
    ) -> Result<bool, JobError> {
        let now = self.clock.now();
        let poll_at = now.plus_secs(self.config.poll_after_secs as i64);
        let mut tx = self.db.pool().begin().await?;
        let moved =
            transition(&mut tx, job, Step::Accepted { provider, task_id, task_key, poll_at }, now)
                .await?;
        if moved {
            tasks::accepted_in(&mut tx, charge, task_key).await?;
        } else {
            // The job ended (or was taken over) while the provider was answering: nothing will
            // settle this hold, so it goes now rather than outlive the job.
            tasks::release_charge_in(&mut tx, charge, now).await?;
        }
        tx.commit().await?;
        self.statuses.forget(&job.id);
        Ok(moved)
    }

    /// The providers to offer the task to, in order, as `plan_route` decides; the decision and
    /// its reasons go in the job's timeline.
    async fn route(&self, job: &Job) -> Result<Vec<Arc<dyn Provider>>, JobError> {
        let plan = self.plan_route(job.requested_provider.as_deref()).await?;
        let (now, reason) = (self.clock.now(), Some(plan.reason.as_str()));
        events::append(self.db.pool(), &job.id, now, EventKind::Routed, reason).await?;
        Ok(plan.order.iter().filter_map(|name| self.registry.get(name).cloned()).collect())
    }

    /// The order to offer the task in, and why, in words: the providers usable as the plan reads
    /// them (not cooling down, within budget) ranked by `FITROOM_ROUTING`, a `requested` one
    /// first, then the unusable ones in the configured order. The plan only orders: each
    /// provider's reservation decides whether it may take the task (a hold of this very job's
    /// crashed submission, which that reservation replaces, may make its provider look full here).
    pub async fn plan_route(&self, requested: Option<&str>) -> Result<RoutePlan, JobError> {
        let now = self.clock.now();
        let names = self.registry.names();
        let verdicts = availability(&self.db, &self.config.spend, &names, now).await?;
        let skip: HashSet<String> =
            verdicts.iter().filter(|(_, v)| v.is_some()).map(|(n, _)| (*n).to_owned()).collect();
        // The configured failover order (the default provider first): `ordered` keeps it, and
        // the other strategies break ties by it.
        let usable: Vec<&'static str> =
            self.registry.failover_order(None, &skip).iter().map(|p| p.name()).collect();
        let strategy = self.config.routing;
        let measured = if strategy.is_measured() {
            let window_ms = i64::try_from(self.config.routing_window_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX);
            Some(self.window.measured(&self.db, &usable, window_ms, now).await?)
        } else {
            None
        };
        let candidates: Vec<Candidate<'static>> = usable
            .iter()
            .map(|&name| Candidate {
                name,
                price: self.config.spend.price(name),
                measured: measured.as_ref().and_then(|m| m.get(name).cloned()),
            })
            .collect();
        let explore = (strategy.is_measured()
            && rand::random::<f64>() < self.config.routing_explore)
            .then(|| rand::random::<u32>() as usize);
        let route = decide(strategy, &candidates, requested, explore);
        let mut reason = route.reason;
        for (name, verdict) in &verdicts {
            match verdict {
                Some(Unusable::Cooling) => reason.push_str(&format!("; {name} cooling down")),
                Some(Unusable::OverBudget) => reason.push_str(&format!("; {name} over budget")),
                None => {}
            }
        }
        let mut order = route.order;
        let everyone = self.registry.failover_order(None, &HashSet::new());
        order.extend(everyone.iter().map(|p| p.name()).filter(|name| skip.contains(*name)));
        Ok(RoutePlan { order, reason })
    }

    /// A `submit_failed` step: the provider, what became of the task, and the provider's answer
    /// when it gave one, e.g. `replicate unavailable (HTTP 503)`.
    async fn note_submit_failure(
        &self,
        job: &Job,
        provider: &str,
        outcome: &str,
        answer: Option<&str>,
    ) -> Result<(), JobError> {
        let detail = match answer {
            Some(answer) => format!("{provider} {outcome} ({answer})"),
            None => format!("{provider} {outcome}"),
        };
        events::append(
            self.db.pool(),
            &job.id,
            self.clock.now(),
            EventKind::SubmitFailed,
            Some(&detail),
        )
        .await?;
        Ok(())
    }
}
