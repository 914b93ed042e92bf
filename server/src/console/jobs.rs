//! Jobs as the operator finds them: any shopper's, filtered, with their whole timeline.

use fitroom_types::admin::{AdminJob, JobTimeline, StoredImage, TimelineEvent};

use super::{Admin, ConsoleError, Reason, containing};
use crate::AppState;
use crate::audit::AdminWrite;
use crate::ids::JobId;
use crate::jobs::{JOB_COLUMNS, Job, JobStatus, from_row};

/// What the jobs list is narrowed to; every field optional.
#[derive(Clone, Debug, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub provider: Option<String>,
    /// Addresses containing this, without case.
    pub email: Option<String>,
    /// Only jobs created at or after this many milliseconds since the epoch.
    pub since_ms: Option<i64>,
    pub limit: i64,
}

/// Submissions tried for a job: the `submitted` and `submit_failed` steps of its timeline.
const ATTEMPTS: &str = "(SELECT COUNT(*) FROM job_events e WHERE e.job_id = jobs.id \
     AND e.kind IN ('submitted', 'submit_failed')) AS attempts";

fn admin_job(state: &AppState, job: &Job, email: String, attempts: i64) -> AdminJob {
    AdminJob {
        generation: job.generation(&state.config.public_url),
        user_id: job.user.to_string(),
        email,
        task_id: job.provider_task_id.clone(),
        attempts,
        error_code: job.error_code.map(|c| c.as_str().to_owned()),
        submitted_at: job.submitted_at.map(|t| t.to_rfc3339()),
        finished_at: job.finished_at.map(|t| t.to_rfc3339()),
    }
}

enum Bind {
    Text(String),
    Int(i64),
}

async fn load(
    state: &AppState,
    filter: &str,
    binds: Vec<Bind>,
    limit: i64,
) -> Result<Vec<AdminJob>, ConsoleError> {
    let columns = JOB_COLUMNS
        .split(", ")
        .map(|c| format!("jobs.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {columns}, users.email AS email, {ATTEMPTS} FROM jobs JOIN users ON users.id = jobs.user_id \
         WHERE {filter} ORDER BY jobs.created_at DESC, jobs.id DESC LIMIT {limit}"
    );
    let mut query = sqlx::query(&sql);
    for bind in binds {
        query = match bind {
            Bind::Text(text) => query.bind(text),
            Bind::Int(n) => query.bind(n),
        };
    }
    let rows = query.fetch_all(state.db.pool()).await?;
    rows.iter()
        .map(|row| {
            use sqlx::Row;
            let job = from_row(row)?;
            let email: String = row.try_get("email")?;
            let attempts: i64 = row.try_get("attempts")?;
            Ok(admin_job(state, &job, email, attempts))
        })
        .collect()
}

/// Jobs newest first, narrowed by `filter`.
pub async fn list(
    state: &AppState,
    admin: &Admin,
    filter: &JobFilter,
) -> Result<Vec<AdminJob>, ConsoleError> {
    let mut clauses = vec!["1 = 1".to_owned()];
    let mut binds = Vec::new();
    if let Some(status) = filter.status {
        binds.push(Bind::Text(status.as_str().to_owned()));
        clauses.push(format!("jobs.status = ${}", binds.len()));
    }
    if let Some(provider) = filter.provider.as_deref().filter(|p| !p.is_empty()) {
        binds.push(Bind::Text(provider.to_ascii_lowercase()));
        clauses.push(format!("jobs.provider = ${}", binds.len()));
    }
    if let Some(email) = filter.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        binds.push(Bind::Text(containing(email)));
        clauses.push(format!("lower(users.email) LIKE ${} ESCAPE '\\'", binds.len()));
    }
    if let Some(since) = filter.since_ms {
        binds.push(Bind::Int(since));
        clauses.push(format!("jobs.created_at >= ${}", binds.len()));
    }
    let filter_sql = clauses.join(" AND ");
    tracing::info!(admin = %admin.id, filter = %filter_sql, "admin listed jobs");
    load(state, &filter_sql, binds, filter.limit).await
}

/// One job and its whole timeline, oldest first.
pub async fn timeline(
    state: &AppState,
    admin: &Admin,
    id: &JobId,
) -> Result<JobTimeline, ConsoleError> {
    // Reads of a shopper's data by an operator are logged with who read them.
    tracing::info!(admin = %admin.id, job = %id, "admin read a job's timeline");
    let job = load(state, "jobs.id = $1", vec![Bind::Text(id.to_string())], 1)
        .await?
        .into_iter()
        .next()
        .ok_or(ConsoleError::NotFound)?;
    let events = state.jobs.timeline(id).await?;
    let stored = state.jobs.load_job(id).await?.ok_or(ConsoleError::NotFound)?;
    let images = JobImage::ALL
        .into_iter()
        .filter(|image| image.key(&stored).is_some())
        .map(|image| StoredImage {
            name: image.as_str().to_owned(),
            url: format!(
                "{}/api/admin/jobs/{}/images/{}",
                state.config.public_url,
                id,
                image.as_str()
            ),
        })
        .collect();
    Ok(JobTimeline {
        job,
        events: events
            .into_iter()
            .map(|e| TimelineEvent { at: e.at.to_rfc3339(), kind: e.kind, detail: e.detail })
            .collect(),
        images,
    })
}

/// The images a job may have in storage: the shopper's inputs (until retention deletes them) and
/// the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobImage {
    Person,
    Garment,
    Result,
}

impl JobImage {
    pub const ALL: [JobImage; 3] = [JobImage::Person, JobImage::Garment, JobImage::Result];

    pub fn parse(text: &str) -> Option<JobImage> {
        Self::ALL.into_iter().find(|image| image.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobImage::Person => "person",
            JobImage::Garment => "garment",
            JobImage::Result => "result",
        }
    }

    pub fn key(self, job: &Job) -> Option<&str> {
        match self {
            JobImage::Person => job.person_key.as_deref(),
            JobImage::Garment => job.garment_key.as_deref(),
            JobImage::Result => job.result_key.as_deref(),
        }
    }
}

/// The storage key of one of a job's images, for an admin to open; the read is logged.
pub async fn image_key(
    state: &AppState,
    admin: &Admin,
    id: &JobId,
    image: JobImage,
) -> Result<String, ConsoleError> {
    let job = state.jobs.load_job(id).await?.ok_or(ConsoleError::NotFound)?;
    let key = image.key(&job).ok_or(ConsoleError::NotFound)?.to_owned();
    tracing::info!(admin = %admin.id, job = %id, image = image.as_str(), "admin opened a job's image");
    Ok(key)
}

/// Cancels an unfinished job, whoever's it is (its hold released), and records who and why.
pub async fn cancel(
    state: &AppState,
    admin: &Admin,
    id: &JobId,
    reason: &Reason,
) -> Result<Job, ConsoleError> {
    let write = AdminWrite {
        actor: &admin.id,
        actor_email: &admin.email,
        action: "cancel_job",
        target: id.as_str(),
        reason: reason.as_str(),
    };
    Ok(state.jobs.cancel_as_operator(id, &write).await?)
}
