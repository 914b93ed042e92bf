//! A job as stored: the row, the columns read, and its decoding.

use crate::clock::Timestamp;
use crate::ids::{HoldId, JobId, UserId};
use crate::jobs::{FailureCode, JobStatus};
use crate::ledger::Credits;

/// A generation job as stored.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: JobId,
    pub user: UserId,
    pub status: JobStatus,
    pub cost: Credits,
    /// The credit hold written with the job; settled on success, released otherwise.
    pub hold: Option<HoldId>,
    /// The first provider to try until one accepts the task, then the one that did.
    pub provider: String,
    /// The provider the request named; routing puts it first.
    pub requested_provider: Option<String>,
    /// What the provider needs to find its task again (fal keeps URLs in it).
    pub provider_task_id: Option<String>,
    /// The bare task id the provider's deliveries name: what binds a delivery to this job.
    pub task_key: Option<String>,
    pub callback_token: Option<String>,
    pub prompt: Option<String>,
    pub aspect_ratio: Option<String>,
    pub person_key: Option<String>,
    pub garment_key: Option<String>,
    pub output_url: Option<String>,
    pub result_key: Option<String>,
    pub result_content_type: Option<String>,
    pub error_code: Option<FailureCode>,
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub submitted_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub mirror_attempts: i64,
}

pub(crate) const JOB_COLUMNS: &str = "id, user_id, status, cost, hold_id, provider, provider_task_id, task_key, \
     callback_token, prompt, aspect_ratio, person_key, garment_key, output_url, result_key, result_content_type, \
     error_code, error, created_at, updated_at, submitted_at, finished_at, mirror_attempts, requested_provider";

pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> Result<Job, sqlx::Error> {
    use sqlx::Row;
    let decode = |what: String| sqlx::Error::Decode(what.into());
    let status: String = row.try_get("status")?;
    let cost: i64 = row.try_get("cost")?;
    let error_code: Option<String> = row.try_get("error_code")?;
    Ok(Job {
        id: JobId::from_string(row.try_get::<String, _>("id")?),
        user: UserId::from_string(row.try_get::<String, _>("user_id")?),
        status: JobStatus::parse(&status)
            .ok_or_else(|| decode(format!("job status {status:?}")))?,
        cost: Credits::new(cost).map_err(|e| decode(e.to_string()))?,
        hold: row.try_get::<Option<String>, _>("hold_id")?.map(HoldId::from_string),
        provider: row.try_get("provider")?,
        requested_provider: row.try_get("requested_provider")?,
        provider_task_id: row.try_get("provider_task_id")?,
        task_key: row.try_get("task_key")?,
        callback_token: row.try_get("callback_token")?,
        prompt: row.try_get("prompt")?,
        aspect_ratio: row.try_get("aspect_ratio")?,
        person_key: row.try_get("person_key")?,
        garment_key: row.try_get("garment_key")?,
        output_url: row.try_get("output_url")?,
        result_key: row.try_get("result_key")?,
        result_content_type: row.try_get("result_content_type")?,
        error_code: match error_code {
            Some(code) => Some(
                FailureCode::parse(&code).ok_or_else(|| decode(format!("error code {code:?}")))?,
            ),
            None => None,
        },
        error: row.try_get("error")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        submitted_at: row.try_get::<Option<i64>, _>("submitted_at")?.map(Timestamp::from_millis),
        finished_at: row.try_get::<Option<i64>, _>("finished_at")?.map(Timestamp::from_millis),
        mirror_attempts: row.try_get("mirror_attempts")?,
    })
}
