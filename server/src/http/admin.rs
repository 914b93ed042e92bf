//! `/api/admin/…`: the operator console's JSON (docs/api.md, Operator console). Every route
//! answers 404 to anyone who is not an admin, signed in or not: the console does not exist for
//! them.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use fitroom_types::Generation;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::accounts::admin::admin_email;
use crate::audit::{self, AdminWrite};
use crate::http::ApiError;
use crate::http::json::ApiJson;
use crate::http::page_size::page_size;
use crate::http::session::session_token;
use crate::ids::{JobId, UserId};
use crate::jobs::{JOB_COLUMNS, Job, JobStatus, from_row};
use crate::ledger::{Credits, Grant};

/// A signed-in admin, with the address the audit log names them by. Anyone else is refused with
/// 404, never 401 or 403.
pub struct AdminUser(pub UserId, pub String);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = session_token(&parts.headers).ok_or_else(ApiError::not_found)?;
        let user = state.accounts.session_user(&token).await.map_err(ApiError::internal)?;
        let user = user.ok_or_else(ApiError::not_found)?;
        let email = admin_email(&state.db, &user).await.map_err(ApiError::internal)?;
        Ok(AdminUser(user, email.ok_or_else(ApiError::not_found)?))
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

/// A `LIKE … ESCAPE '\\'` pattern for addresses containing `text`, without case: LIKE's own
/// characters in the text match themselves.
fn containing(text: &str) -> String {
    let text = text.to_lowercase();
    format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
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
    AdminUser(admin, _): AdminUser,
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
    AdminUser(admin, _): AdminUser,
    Query(filter): Query<JobFilter>,
) -> Result<Json<AdminJobList>, ApiError> {
    let limit = i64::from(page_size(filter.limit.as_deref(), 50, 500)?);
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
        binds.push(containing(email));
        clauses.push(format!("lower(users.email) LIKE ${} ESCAPE '\\'", binds.len()));
    }
    tracing::info!(%admin, filter = %clauses.join(" AND "), "admin listed jobs");
    let items = load(&state, &clauses.join(" AND "), binds, limit).await?;
    Ok(Json(AdminJobList { items }))
}

#[derive(Deserialize)]
pub struct Reason {
    reason: Option<String>,
}

/// Every admin write says why: the audit log keeps it beside who did what.
fn reason_of(body: &Reason) -> Result<String, ApiError> {
    let reason = body.reason.as_deref().map(str::trim).unwrap_or_default();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::invalid("Give a reason (1 to 500 characters)."));
    }
    Ok(reason.to_owned())
}

/// `POST /api/admin/jobs/{id}/cancel` `{"reason"}`: cancels an unfinished job, whoever's it is
/// (its hold released), and records who and why.
pub async fn cancel(
    State(state): State<AppState>,
    AdminUser(admin, email): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Generation>, ApiError> {
    let reason = reason_of(&body)?;
    let id = JobId::from_string(id);
    let job = state.jobs.cancel_as_operator(&id).await?;
    let write = AdminWrite {
        actor: &admin,
        actor_email: &email,
        action: "cancel_job",
        target: id.as_str(),
        reason: &reason,
    };
    audit::record(&state.db, &write, state.clock.now()).await.map_err(ApiError::internal)?;
    Ok(Json(job.generation(&state.config.public_url)))
}

#[derive(Serialize)]
pub struct AuditView {
    id: String,
    at: String,
    actor: String,
    action: String,
    target: String,
    reason: String,
}

#[derive(Serialize)]
pub struct AuditList {
    entries: Vec<AuditView>,
}

#[derive(Deserialize)]
pub struct Limit {
    limit: Option<String>,
}

/// `GET /api/admin/audit?limit=N`: every admin write, newest first.
pub async fn audit_log(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<Limit>,
) -> Result<Json<AuditList>, ApiError> {
    let limit = i64::from(page_size(query.limit.as_deref(), 100, 1000)?);
    let entries = audit::newest(&state.db, limit).await.map_err(ApiError::internal)?;
    Ok(Json(AuditList {
        entries: entries
            .into_iter()
            .map(|e| AuditView {
                id: e.id,
                at: e.at.to_rfc3339(),
                actor: e.actor_email,
                action: e.action,
                target: e.target,
                reason: e.reason,
            })
            .collect(),
    }))
}

/// An account as the console lists it.
#[derive(Serialize)]
pub struct AdminAccount {
    id: String,
    email: String,
    created_at: String,
    available: i64,
    held: i64,
    suspended: bool,
}

type AccountRow = (String, String, i64, Option<i64>);

async fn account(
    state: &AppState,
    (id, email, created_at, suspended_at): AccountRow,
) -> Result<AdminAccount, ApiError> {
    let balance = state.ledger.balance(&UserId::from_string(id.clone())).await?;
    Ok(AdminAccount {
        id,
        email,
        created_at: crate::clock::Timestamp::from_millis(created_at).to_rfc3339(),
        available: balance.available.get(),
        held: balance.held.get(),
        suspended: suspended_at.is_some(),
    })
}

const ACCOUNT_COLUMNS: &str = "id, email, created_at, suspended_at";

async fn account_by_id(state: &AppState, id: &str) -> Result<AdminAccount, ApiError> {
    let row: Option<AccountRow> =
        sqlx::query_as(&format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(state.db.pool())
            .await
            .map_err(ApiError::internal)?;
    account(state, row.ok_or_else(ApiError::not_found)?).await
}

#[derive(Deserialize)]
pub struct UserFilter {
    email: Option<String>,
    limit: Option<String>,
}

#[derive(Serialize)]
pub struct AccountList {
    users: Vec<AdminAccount>,
}

/// `GET /api/admin/users?email=S`: accounts whose address contains S (without case), newest
/// first.
pub async fn users(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(filter): Query<UserFilter>,
) -> Result<Json<AccountList>, ApiError> {
    let limit = i64::from(page_size(filter.limit.as_deref(), 50, 200)?);
    let pattern = containing(filter.email.as_deref().map(str::trim).unwrap_or_default());
    let rows: Vec<AccountRow> = sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM users WHERE lower(email) LIKE $1 ESCAPE '\\' \
         ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(pattern)
    .bind(limit)
    .fetch_all(state.db.pool())
    .await
    .map_err(ApiError::internal)?;
    let mut users = Vec::with_capacity(rows.len());
    for row in rows {
        users.push(account(&state, row).await?);
    }
    Ok(Json(AccountList { users }))
}

/// `GET /api/admin/users/{id}`: the account, its packages by expiry, its ledger and its
/// generations.
pub async fn user(
    State(state): State<AppState>,
    AdminUser(admin, _): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let account = account_by_id(&state, &id).await?;
    tracing::info!(%admin, user = %id, "admin read an account");
    let user = UserId::from_string(id);
    let balance = state.ledger.balance(&user).await?;
    let packages: Vec<_> = balance
        .packages
        .iter()
        .map(|p| crate::http::credits::package_json(p, balance.now))
        .collect();
    let entries: Vec<_> = state
        .ledger
        .entries(&user, 100)
        .await?
        .iter()
        .map(crate::http::credits::entry_json)
        .collect();
    let generations: Vec<Generation> = state
        .jobs
        .list(&user, 100)
        .await?
        .iter()
        .map(|j| j.generation(&state.config.public_url))
        .collect();
    Ok(Json(serde_json::json!({
        "user": account,
        "packages": packages,
        "entries": entries,
        "generations": generations,
    })))
}

#[derive(Deserialize)]
pub struct GrantRequest {
    amount: i64,
    expires_in_days: Option<i64>,
    reason: Option<String>,
}

/// `POST /api/admin/users/{id}/grants` `{"amount","expires_in_days"?,"reason"}`: a ledger grant
/// named for the admin who made it, and an audit entry.
pub async fn grant(
    State(state): State<AppState>,
    AdminUser(admin, email): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GrantRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let reason = reason_of(&Reason { reason: body.reason.clone() })?;
    if body.amount <= 0 {
        return Err(ApiError::invalid("amount must be a positive whole number of credits."));
    }
    if body.expires_in_days.is_some_and(|d| d <= 0) {
        return Err(ApiError::invalid("expires_in_days must be a positive whole number."));
    }
    account_by_id(&state, &id).await?;
    let user = UserId::from_string(id);
    let now = state.clock.now();
    let credits =
        Credits::new(body.amount).map_err(|_| ApiError::invalid("amount must be positive."))?;
    let package = state
        .ledger
        .grant(&Grant {
            user: user.clone(),
            credits,
            name: format!("Granted by {email}"),
            expires_at: body.expires_in_days.map(|d| now.plus_days(d)),
            source: Some(format!("admin-grant:{}", uuid::Uuid::now_v7().simple())),
        })
        .await?;
    let write = AdminWrite {
        actor: &admin,
        actor_email: &email,
        action: "grant_credits",
        target: user.as_str(),
        reason: &format!("{credits} credits: {reason}"),
    };
    audit::record(&state.db, &write, now).await.map_err(ApiError::internal)?;
    let balance = state.ledger.balance(&user).await?;
    let granted =
        balance.packages.iter().find(|p| p.id == package).ok_or_else(ApiError::not_found)?;
    Ok((
        StatusCode::CREATED,
        Json(
            serde_json::json!({ "package": crate::http::credits::package_json(granted, balance.now) }),
        ),
    ))
}

async fn set_suspended(
    state: &AppState,
    admin: &AdminUser,
    id: &str,
    body: &Reason,
    suspend: bool,
) -> Result<Json<serde_json::Value>, ApiError> {
    let reason = reason_of(body)?;
    let user = UserId::from_string(id);
    if !state.accounts.set_suspended(&user, suspend.then_some(reason.as_str())).await? {
        return Err(ApiError::not_found());
    }
    let write = AdminWrite {
        actor: &admin.0,
        actor_email: &admin.1,
        action: if suspend { "suspend" } else { "unsuspend" },
        target: id,
        reason: &reason,
    };
    audit::record(&state.db, &write, state.clock.now()).await.map_err(ApiError::internal)?;
    Ok(Json(serde_json::json!({ "user": account_by_id(state, id).await? })))
}

/// `POST /api/admin/users/{id}/suspend` `{"reason"}`: every session ends, sign-in is refused
/// with `account_suspended`.
pub async fn suspend(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<serde_json::Value>, ApiError> {
    set_suspended(&state, &admin, &id, &body, true).await
}

/// `POST /api/admin/users/{id}/unsuspend` `{"reason"}`.
pub async fn unsuspend(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<serde_json::Value>, ApiError> {
    set_suspended(&state, &admin, &id, &body, false).await
}
