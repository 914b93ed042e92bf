//! The one writer of a job's status. Every step that moves a job (a provider accepting its task,
//! our copy of its result existing, a failure, a cancel, a timeout) comes here: the move is
//! checked against `JobStatus::can_become`, and status, `finished_at`, the failure's code and
//! message and the step's event are written together with an update conditional on the states
//! the move may start from. Two steps racing for one job cannot both win: the loser's update
//! matches no row and it learns the job has moved on.

use sqlx::AnyConnection;

use crate::audit::AdminWrite;
use crate::clock::Timestamp;
use crate::jobs::events::{self, EventKind};
use crate::jobs::{FailureCode, Job, JobError, JobStatus};

/// A move of a job, with what it writes beside the status.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Step<'a> {
    /// A provider accepted the task: `queued → processing`.
    Accepted { provider: &'a str, task_id: &'a str, task_key: &'a str, poll_at: Timestamp },
    /// Our own copy of the result exists: `processing → succeeded`.
    Stored { key: &'a str, content_type: &'a str, bytes: u64 },
    /// Ended without a result: `→ failed`.
    Failed(FailureCode),
    /// Ended by the shopper (or the account's deletion): `→ canceled`.
    Canceled,
    /// Ended by an operator, whose write is audited in the same transaction: `→ canceled`.
    CanceledByOperator(&'a AdminWrite<'a>),
}

impl Step<'_> {
    pub(crate) fn target(&self) -> JobStatus {
        match self {
            Step::Accepted { .. } => JobStatus::Processing,
            Step::Stored { .. } => JobStatus::Succeeded,
            Step::Failed(_) => JobStatus::Failed,
            Step::Canceled | Step::CanceledByOperator(_) => JobStatus::Canceled,
        }
    }

    fn failure(&self) -> Option<FailureCode> {
        match self {
            Step::Failed(code) => Some(*code),
            Step::Canceled | Step::CanceledByOperator(_) => Some(FailureCode::Canceled),
            _ => None,
        }
    }

    fn event(&self) -> (EventKind, String) {
        match self {
            Step::Accepted { provider, task_id, .. } => {
                (EventKind::Submitted, format!("{provider} task {task_id}"))
            }
            Step::Stored { key, content_type, bytes } => {
                (EventKind::Stored, format!("{key}, {bytes} bytes ({content_type})"))
            }
            Step::Failed(code) => {
                (EventKind::Failed, format!("{}: {}", code.as_str(), code.message()))
            }
            Step::Canceled => (EventKind::Canceled, "by the shopper".to_owned()),
            Step::CanceledByOperator(write) => {
                (EventKind::Canceled, format!("by {}: {}", write.actor_email, write.reason))
            }
        }
    }
}

/// Moves `job` (as the caller last read it) by `step`, on the caller's transaction. `Ok(false)`
/// when the job had already moved on (finished, or taken by another step meanwhile): nothing is
/// written then. A move that `can_become` forbids from the state the caller saw is a bug in the
/// caller, not an input, and is refused.
pub(crate) async fn transition(
    conn: &mut AnyConnection,
    job: &Job,
    step: Step<'_>,
    now: Timestamp,
) -> Result<bool, JobError> {
    let target = step.target();
    if job.status.is_finished() {
        return Ok(false);
    }
    if !job.status.can_become(target) {
        return Err(JobError::IllegalMove { from: job.status, to: target });
    }
    let sources: Vec<String> =
        JobStatus::sources_of(target).map(|s| format!("'{}'", s.as_str())).collect();
    let sql = format!(
        "UPDATE jobs SET status = $1, updated_at = $2, finished_at = $3, error_code = $4, error = $5, \
         provider = COALESCE($6, provider), provider_task_id = COALESCE($7, provider_task_id), \
         task_key = COALESCE($8, task_key), submitted_at = COALESCE($9, submitted_at), \
         result_key = COALESCE($10, result_key), result_content_type = COALESCE($11, result_content_type), \
         next_check_at = $12, lease_until = NULL \
         WHERE id = $13 AND status IN ({})",
        sources.join(", ")
    );
    let failure = step.failure();
    let (accepted, stored, poll_at) = match step {
        Step::Accepted { provider, task_id, task_key, poll_at } => {
            (Some((provider, task_id, task_key)), None, Some(poll_at.millis()))
        }
        Step::Stored { key, content_type, .. } => (None, Some((key, content_type)), None),
        Step::Failed(_) | Step::Canceled | Step::CanceledByOperator(_) => (None, None, None),
    };
    let updated = sqlx::query(&sql)
        .bind(target.as_str())
        .bind(now.millis())
        .bind(target.is_finished().then_some(now.millis()))
        .bind(failure.map(FailureCode::as_str))
        .bind(failure.map(FailureCode::message))
        .bind(accepted.map(|a| a.0))
        .bind(accepted.map(|a| a.1))
        .bind(accepted.map(|a| a.2))
        .bind(accepted.map(|_| now.millis()))
        .bind(stored.map(|s| s.0))
        .bind(stored.map(|s| s.1))
        .bind(poll_at)
        .bind(job.id.as_str())
        .execute(&mut *conn)
        .await?;
    if updated.rows_affected() != 1 {
        return Ok(false);
    }
    let (kind, detail) = step.event();
    events::append(
        conn,
        &job.id,
        now,
        kind,
        Some(&detail).filter(|d| !d.is_empty()).map(String::as_str),
    )
    .await?;
    Ok(true)
}
