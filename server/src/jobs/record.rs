use crate::clock::Timestamp;
use crate::ids::{JobId, UserId};
use crate::jobs::JobStatus;

/// A generation job as stored.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: JobId,
    pub user: UserId,
    pub status: JobStatus,
    pub cost: i64,
    pub provider: String,
    pub provider_task_id: Option<String>,
    pub callback_token: Option<String>,
    pub prompt: Option<String>,
    pub aspect_ratio: Option<String>,
    pub person_key: Option<String>,
    pub garment_key: Option<String>,
    pub output_url: Option<String>,
    pub result_key: Option<String>,
    pub result_content_type: Option<String>,
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub submitted_at: Option<Timestamp>,
    pub mirror_attempts: i64,
}

pub(crate) const JOB_COLUMNS: &str = "id, user_id, status, cost, provider, provider_task_id, callback_token, prompt, \
     aspect_ratio, person_key, garment_key, output_url, result_key, result_content_type, error, created_at, \
     updated_at, submitted_at, mirror_attempts";

pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> Result<Job, sqlx::Error> {
    use sqlx::Row;
    let status: String = row.try_get("status")?;
    Ok(Job {
        id: JobId::from_string(row.try_get::<String, _>("id")?),
        user: UserId::from_string(row.try_get::<String, _>("user_id")?),
        status: JobStatus::parse(&status).ok_or_else(|| sqlx::Error::Decode(format!("job status {status:?}").into()))?,
        cost: row.try_get("cost")?,
        provider: row.try_get("provider")?,
        provider_task_id: row.try_get("provider_task_id")?,
        callback_token: row.try_get("callback_token")?,
        prompt: row.try_get("prompt")?,
        aspect_ratio: row.try_get("aspect_ratio")?,
        person_key: row.try_get("person_key")?,
        garment_key: row.try_get("garment_key")?,
        output_url: row.try_get("output_url")?,
        result_key: row.try_get("result_key")?,
        result_content_type: row.try_get("result_content_type")?,
        error: row.try_get("error")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        submitted_at: row.try_get::<Option<i64>, _>("submitted_at")?.map(Timestamp::from_millis),
        mirror_attempts: row.try_get("mirror_attempts")?,
    })
}
