//! `/api/admin/…`: the operator console's JSON (docs/api.md, Operator console). Every route
//! answers 404 to anyone who is not an admin, signed in or not: the console does not exist for
//! them.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::accounts::admin::is_admin;
use crate::http::ApiError;
use crate::http::session::session_token;
use crate::ids::{JobId, UserId};
use crate::jobs::{JOB_COLUMNS, Job, JobStatus, from_row};

/// A signed-in admin. Anyone else is refused with 404, never 401 or 403.
pub struct AdminUser(pub UserId);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = session_token(&parts.headers).ok_or_else(ApiError::not_found)?;
        let user = state.accounts.session_user(&token).await.map_err(ApiError::internal)?;
        let user = user.ok_or_else(ApiError::not_found)?;
        if is_admin(&state.db, &user).await.map_err(ApiError::internal)? {
            Ok(AdminUser(user))
        } else {
            Err(ApiError::not_found())
        }
    }
}

/// A job as the operator sees it: everything the shopper sees, and whose it is, where it went,
/// how often it was offered to a provider, and why it failed.
#[derive(Serialize)]
pub struct AdminJob {
    #[serde(flatten)]
    generation: fitroom_types::Generation,
    user_id: String,
    email: String,
    task_id: Option<String>,
    attempts: i64,
    error_code: Option<&'static str>,
    submitted_at: Option<String>,
    finished_at: Option<String>,
}

#[derive(Serialize)]
pub struct TimelineEvent {
    at: String,
    kind: String,
    detail: Option<String>,
}

#[derive(Serialize)]
pub struct JobTimeline {
    job: AdminJob,
    events: Vec<TimelineEvent>,
}

#[derive(Serialize)]
pub struct AdminJobList {
    items: Vec<AdminJob>,
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
        error_code: job.error_code.map(|c| c.as_str()),
        submitted_at: job.submitted_at.map(|t| t.to_rfc3339()),
        finished_at: job.finished_at.map(|t| t.to_rfc3339()),
    }
}

async fn load(
    state: &AppState,
    filter: &str,
    binds: Vec<String>,
    limit: i64,
) -> Result<Vec<AdminJob>, ApiError> {
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
    for bind in &binds {
        query = query.bind(bind.as_str());
    }
    let rows = query.fetch_all(state.db.pool()).await.map_err(ApiError::internal)?;
    rows.iter()
        .map(|row| {
            use sqlx::Row;
            let job = from_row(row).map_err(ApiError::internal)?;
            let email: String = row.try_get("email").map_err(ApiError::internal)?;
            let attempts: i64 = row.try_get("attempts").map_err(ApiError::internal)?;
            Ok(admin_job(state, &job, email, attempts))
        })
        .collect()
}

/// `GET /api/admin/jobs/{id}`: the job and its whole timeline, oldest first.
pub async fn job(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<JobTimeline>, ApiError> {
    let id = JobId::from_string(id);
    // Reads of a shopper's data by an operator are logged with who read them.
    tracing::info!(%admin, job = %id, "admin read a job's timeline");
    let job = load(&state, "jobs.id = $1", vec![id.to_string()], 1)
        .await?
        .into_iter()
        .next()
        .ok_or_else(ApiError::not_found)?;
    let events = state.jobs.timeline(&id).await?;
    Ok(Json(JobTimeline {
        job,
        events: events
            .into_iter()
            .map(|e| TimelineEvent { at: e.at.to_rfc3339(), kind: e.kind, detail: e.detail })
            .collect(),
    }))
}

#[derive(Deserialize)]
pub struct JobFilter {
    status: Option<String>,
    provider: Option<String>,
    email: Option<String>,
    limit: Option<String>,
}

/// `GET /api/admin/jobs?status=&provider=&email=&limit=`: newest first; `email` matches any
/// address containing it (without case).
pub async fn jobs(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Query(filter): Query<JobFilter>,
) -> Result<Json<AdminJobList>, ApiError> {
    let limit = match filter.limit.as_deref().filter(|l| !l.is_empty()) {
        None => 50,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n >= 1 => n.min(500),
            _ => return Err(ApiError::invalid("limit must be a whole number from 1 to 500.")),
        },
    };
    let mut clauses = vec!["1 = 1".to_owned()];
    let mut binds = Vec::new();
    if let Some(status) = filter.status.as_deref().filter(|s| !s.is_empty()) {
        let status = JobStatus::parse(status).ok_or_else(|| {
            ApiError::invalid("status must be queued, processing, succeeded, failed or canceled.")
        })?;
        binds.push(status.as_str().to_owned());
        clauses.push(format!("jobs.status = ${}", binds.len()));
    }
    if let Some(provider) = filter.provider.as_deref().filter(|p| !p.is_empty()) {
        binds.push(provider.to_ascii_lowercase());
        clauses.push(format!("jobs.provider = ${}", binds.len()));
    }
    if let Some(email) = filter.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        // LIKE's own characters in the text match themselves.
        let escaped =
            email.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        binds.push(format!("%{escaped}%"));
        clauses.push(format!("lower(users.email) LIKE ${} ESCAPE '\\'", binds.len()));
    }
    tracing::info!(%admin, filter = %clauses.join(" AND "), "admin listed jobs");
    let items = load(&state, &clauses.join(" AND "), binds, limit).await?;
    Ok(Json(AdminJobList { items }))
}
