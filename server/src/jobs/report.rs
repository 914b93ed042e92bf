//! The one path from "a provider says something about a task" to the job's next step. A verified
//! webhook and the reconciler's poll both end here, so they cannot disagree.
//!
//! A report is bound to a job only by the provider that sent it and the task it names, both as
//! the job recorded them when the provider accepted the task. Nothing else a delivery carries
//! (the callback URL's `job` parameter, say) decides which job it is about, so a late report
//! from a provider the job failed over from, or a signed report for someone else's task, finds
//! no job and changes nothing. A signed report that arrives before our submission recorded the
//! task is kept (`early_reports`) and applied by the submission once it has.

use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::ids::JobId;
use crate::jobs::events::{self, EventKind};
use crate::jobs::transition::Step;
use crate::jobs::{FailureCode, JOB_COLUMNS, Job, JobError, Jobs, from_row};
use crate::providers::{Authenticity, Provider, TaskState, WebhookEvent};

/// What a provider said about one of its tasks, once verified.
#[derive(Clone, Debug)]
pub struct TaskReport {
    pub provider: &'static str,
    /// The bare task id (`Provider::task_key`).
    pub task_key: String,
    pub state: TaskState,
    pub source: Source,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A delivery whose signature over the body verified: the body is the report.
    Webhook,
    /// A delivery that proved itself with the job's callback token; the state was then read
    /// from the provider's API.
    TokenWebhook,
    /// The reconciler asked the provider's API.
    Poll,
}

impl Source {
    fn event_kind(self) -> EventKind {
        match self {
            Source::Webhook | Source::TokenWebhook => EventKind::Webhook,
            Source::Poll => EventKind::Polled,
        }
    }

    /// How the timeline says where a report came from and how it was verified.
    fn describe(self) -> &'static str {
        match self {
            Source::Webhook => "signature verified",
            Source::TokenWebhook => "callback token verified, state read from the API",
            Source::Poll => "asked the provider",
        }
    }
}

/// What a report did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reported {
    /// No job has recorded this task (not yet, or never will): nothing changed.
    Unbound,
    /// The job had already finished: a duplicate or late report changes nothing.
    AlreadyFinished,
    /// Still running at the provider.
    Pending,
    /// The provider's output is recorded; the job succeeds once `mirror` has copied it.
    OutputRecorded(JobId),
    /// The job ended without a result.
    Ended,
}

/// Provider texts are kept in the timeline up to this length.
const MAX_DETAIL_CHARS: usize = 500;

impl Jobs {
    /// Takes a webhook whose signature `Provider::parse_webhook` has verified. An unsigned
    /// provider's delivery proves itself with the job's callback token instead, and then only
    /// says "ask me": the task's state is read from the provider's API.
    pub async fn receive_webhook(
        &self,
        provider: &Arc<dyn Provider>,
        event: WebhookEvent,
    ) -> Result<Reported, JobError> {
        let task_key = provider.task_key(&event.task_id).to_owned();
        let (state, source) = match event.authenticity {
            Authenticity::Signed => (event.state, Source::Webhook),
            Authenticity::Token(token) => {
                let Some(job) = self.bound(provider.name(), &task_key).await? else {
                    // Nothing to check the token against; the reconciler asks about every task
                    // it knows.
                    return Ok(Reported::Unbound);
                };
                let expected = job.callback_token.as_deref().unwrap_or_default();
                if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(token.as_bytes())) {
                    // The task is the job's, so the refusal belongs in its timeline. (A bad
                    // signature names no job that can be trusted: it is only counted and logged.)
                    self.note_refusal(&job.id).await?;
                    return Err(JobError::InvalidWebhookToken);
                }
                if job.status.is_finished() {
                    let detail = "callback token verified, duplicate: the job had ended";
                    self.note(&job.id, EventKind::Webhook, detail).await?;
                    return Ok(Reported::AlreadyFinished);
                }
                let task_id = job.provider_task_id.as_deref().unwrap_or(&task_key);
                (self.ask_provider(provider.as_ref(), task_id).await?, Source::TokenWebhook)
            }
        };
        let report = TaskReport { provider: provider.name(), task_key, state, source };
        self.hand_over(report).await
    }

    /// Applies a report and, when it recorded an output, starts the copy into storage after the
    /// caller has its answer (a provider waiting on its webhook must not wait for the copy; a
    /// crash before it is covered by the reconciler, as the output is recorded).
    pub async fn hand_over(&self, report: TaskReport) -> Result<Reported, JobError> {
        let reported = self.report(&report).await?;
        if let Reported::OutputRecorded(id) = &reported {
            let (jobs, id) = (self.clone(), id.clone());
            tokio::spawn(async move {
                if let Err(e) = jobs.mirror(&id).await {
                    tracing::warn!(job = %id, error = %e, "copying the result failed; the reconciler will retry");
                }
            });
        }
        Ok(reported)
    }

    /// Applies what a provider says about a task to the job bound to it. Finished jobs are
    /// final: a duplicate or late report is recorded in the timeline and changes nothing else.
    #[tracing::instrument(skip(self, report), fields(provider = report.provider, task = %report.task_key))]
    pub async fn report(&self, report: &TaskReport) -> Result<Reported, JobError> {
        let Some(job) = self.bound(report.provider, &report.task_key).await? else {
            if report.source == Source::Webhook && report.state.is_final() {
                return self.keep_early(report).await;
            }
            tracing::info!("a report about a task no job has recorded");
            return Ok(Reported::Unbound);
        };
        let kind = report.source.event_kind();
        let said = describe(&report.state);
        if job.status.is_finished() {
            let detail =
                format!("{}, duplicate: the job had ended: {said}", report.source.describe());
            self.note(&job.id, kind, &detail).await?;
            return Ok(Reported::AlreadyFinished);
        }
        let detail = format!("{}: {said}", report.source.describe());
        match &report.state {
            TaskState::Pending => {
                self.note(&job.id, kind, &detail).await?;
                Ok(Reported::Pending)
            }
            TaskState::Failed { reason } => {
                tracing::warn!(job = %job.id, %reason, "the provider reports a failure");
                self.note(&job.id, kind, &detail).await?;
                self.finish(&job.id, Step::Failed(FailureCode::ProviderFailed)).await?;
                Ok(Reported::Ended)
            }
            TaskState::Succeeded { outputs, cost } => {
                let Some(output) = outputs.first() else {
                    self.note(&job.id, kind, &detail).await?;
                    self.finish(&job.id, Step::Failed(FailureCode::NoOutput)).await?;
                    return Ok(Reported::Ended);
                };
                self.record_output(&job, output, *cost, report.source, &said).await?;
                Ok(Reported::OutputRecorded(job.id))
            }
        }
    }

    /// The job that recorded `task_key` as its task at `provider`.
    pub(crate) async fn bound(
        &self,
        provider: &str,
        task_key: &str,
    ) -> Result<Option<Job>, JobError> {
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE provider = $1 AND task_key = $2"
        ))
        .bind(provider)
        .bind(task_key)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Asks a provider for a task's state, within the time a provider call may take.
    pub(crate) async fn ask_provider(
        &self,
        provider: &dyn Provider,
        task_id: &str,
    ) -> Result<TaskState, JobError> {
        match tokio::time::timeout(crate::providers::CALL_TIMEOUT, provider.fetch(task_id)).await {
            Ok(Ok(state)) => Ok(state),
            Ok(Err(e)) => Err(JobError::ProviderQuery(e.0)),
            Err(_) => Err(JobError::ProviderQuery("timed out".into())),
        }
    }

    /// The output is recorded (once) in the same transaction as the report's event; the job
    /// stays `processing` until our copy exists.
    async fn record_output(
        &self,
        job: &Job,
        output: &str,
        cost: Option<crate::spend::Usd>,
        source: Source,
        said: &str,
    ) -> Result<(), JobError> {
        let now = self.clock.now();
        let mut tx = self.db.pool().begin().await?;
        if let (Some(cost), Some(key)) = (cost, &job.task_key) {
            crate::spend::tasks::reported_cost_in(&mut tx, &job.id, key, cost).await?;
        }
        let recorded = sqlx::query(
            "UPDATE jobs SET output_url = $1, updated_at = $2, next_check_at = $2 \
             WHERE id = $3 AND status = 'processing' AND output_url IS NULL",
        )
        .bind(output)
        .bind(now.millis())
        .bind(job.id.as_str())
        .execute(&mut *tx)
        .await?;
        // Nothing recorded: another delivery of the result came first, or the job ended
        // meanwhile. Say which, rather than let the timeline show a first delivery.
        let how = source.describe();
        let detail = if recorded.rows_affected() == 1 {
            format!("{how}: {said}")
        } else {
            let status: Option<(String,)> = sqlx::query_as("SELECT status FROM jobs WHERE id = $1")
                .bind(job.id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            match status {
                Some((status,)) if status != "processing" => {
                    format!("{how}, ignored: the job had ended ({status}): {said}")
                }
                _ => format!("{how}, duplicate: the output was already recorded: {said}"),
            }
        };
        events::append(&mut *tx, &job.id, now, source.event_kind(), Some(&detail)).await?;
        tx.commit().await?;
        self.statuses.forget(&job.id);
        self.faults.check("report:after_output_recorded")?;
        Ok(())
    }

    /// A delivery with the wrong callback token, in the job's timeline. Anyone who learns a task
    /// id can post one: one such step a minute per job shows that it happens without letting
    /// them fill the table (each is counted in `/metrics` and logged all the same).
    async fn note_refusal(&self, job: &JobId) -> Result<(), JobError> {
        const REFUSED: &str = "not verified: the callback token did not match; ignored";
        let now = self.clock.now();
        let recent: Option<(i64,)> = sqlx::query_as(
            "SELECT at FROM job_events WHERE job_id = $1 AND kind = 'webhook' AND detail = $2 \
             AND at > $3 LIMIT 1",
        )
        .bind(job.as_str())
        .bind(REFUSED)
        .bind(now.plus_secs(-60).millis())
        .fetch_optional(self.db.pool())
        .await?;
        if recent.is_none() {
            self.note(job, EventKind::Webhook, REFUSED).await?;
        }
        Ok(())
    }

    /// A step of the timeline that moves nothing.
    async fn note(&self, job: &JobId, kind: EventKind, detail: &str) -> Result<(), JobError> {
        events::append(self.db.pool(), job, self.clock.now(), kind, Some(detail)).await?;
        Ok(())
    }

    /// Keeps a signed final report about a task nobody has recorded yet. If a submission recorded
    /// the task meanwhile (it looks for kept reports after recording), the report is taken back
    /// and applied here: one of the two sees the other.
    async fn keep_early(&self, report: &TaskReport) -> Result<Reported, JobError> {
        let state =
            serde_json::to_string(&report.state).map_err(|e| JobError::Internal(e.to_string()))?;
        sqlx::query(
            "INSERT INTO early_reports (provider, task_key, state, received_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (provider, task_key) DO NOTHING",
        )
        .bind(report.provider)
        .bind(&report.task_key)
        .bind(&state)
        .bind(self.clock.now().millis())
        .execute(self.db.pool())
        .await?;
        if self.bound(report.provider, &report.task_key).await?.is_some() {
            return match self.take_early(report.provider, &report.task_key).await? {
                Some(early) => Box::pin(self.report(&early)).await,
                None => Ok(Reported::Unbound), // the submission took it
            };
        }
        tracing::info!("kept a report about a task not recorded yet");
        Ok(Reported::Unbound)
    }

    /// Takes back a kept report about a task, if there is one.
    pub(crate) async fn take_early(
        &self,
        provider: &'static str,
        task_key: &str,
    ) -> Result<Option<TaskReport>, JobError> {
        let row: Option<(String,)> = sqlx::query_as(
            "DELETE FROM early_reports WHERE provider = $1 AND task_key = $2 RETURNING state",
        )
        .bind(provider)
        .bind(task_key)
        .fetch_optional(self.db.pool())
        .await?;
        let Some((state,)) = row else { return Ok(None) };
        let state = serde_json::from_str(&state).map_err(|e| JobError::Internal(e.to_string()))?;
        Ok(Some(TaskReport {
            provider,
            task_key: task_key.to_owned(),
            state,
            source: Source::Webhook,
        }))
    }
}

/// A report in the timeline's words: the state, and what the provider said.
fn describe(state: &TaskState) -> String {
    let text = match state {
        TaskState::Pending => "pending".to_owned(),
        TaskState::Succeeded { outputs, cost: None } => {
            format!("succeeded with {} output(s)", outputs.len())
        }
        TaskState::Succeeded { outputs, cost: Some(cost) } => {
            format!("succeeded with {} output(s), cost {cost}", outputs.len())
        }
        TaskState::Failed { reason } => format!("failed: {reason}"),
    };
    text.chars().take(MAX_DETAIL_CHARS).collect()
}
