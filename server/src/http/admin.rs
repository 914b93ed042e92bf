//! `/api/admin/…`: the operator console's JSON (docs/api.md, Operator console). Every route
//! answers 404 to anyone who is not an admin, signed in or not: the console does not exist for
//! them. The rules live in `crate::console`; these handlers parse and answer.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use fitroom_types::Generation;
use fitroom_types::admin::{AdminAccount, AdminAccountDetail, AdminJob, AuditEntry, JobTimeline};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::console::accounts::AdminGrant;
use crate::console::jobs::{JobFilter, JobImage};
use crate::console::{self, Admin, Reason};
use crate::http::ApiError;
use crate::http::json::ApiJson;
use crate::http::object;
use crate::http::page_size::page_size;
use crate::http::session::session_token;
use crate::ids::{JobId, UserId};
use crate::jobs::JobStatus;

/// A signed-in admin. Anyone else is refused with 404, never 401 or 403.
pub struct AdminUser(pub Admin);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = session_token(&parts.headers).ok_or_else(ApiError::not_found)?;
        let user = state.accounts.session_user(&token).await.map_err(ApiError::internal)?;
        let user = user.ok_or_else(ApiError::not_found)?;
        let admin = Admin::of(state, user).await?;
        Ok(AdminUser(admin.ok_or_else(ApiError::not_found)?))
    }
}

#[derive(Serialize)]
pub struct AdminJobList {
    items: Vec<AdminJob>,
}

/// `GET /api/admin/jobs/{id}`: the job and its whole timeline, oldest first.
pub async fn job(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<JobTimeline>, ApiError> {
    Ok(Json(console::jobs::timeline(&state, &admin, &JobId::from_string(id)).await?))
}

/// `GET /api/admin/jobs/{id}/images/{person|garment|result}`: one of the job's stored images,
/// never cached.
pub async fn job_image(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path((id, image)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    let image = JobImage::parse(&image).ok_or_else(ApiError::not_found)?;
    let key = console::jobs::image_key(&state, &admin, &JobId::from_string(id), image).await?;
    object::serve_private(state.storage.as_ref(), &key, &headers).await
}

#[derive(Deserialize)]
pub struct JobQuery {
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
    Query(query): Query<JobQuery>,
) -> Result<Json<AdminJobList>, ApiError> {
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(JobStatus::parse(text).ok_or_else(|| {
            ApiError::invalid("status must be queued, processing, succeeded, failed or canceled.")
        })?),
    };
    let filter = JobFilter {
        status,
        provider: query.provider,
        email: query.email,
        since_ms: None,
        limit: i64::from(page_size(query.limit.as_deref(), 50, 500)?),
    };
    Ok(Json(AdminJobList { items: console::jobs::list(&state, &admin, &filter).await? }))
}

#[derive(Deserialize)]
pub struct ReasonBody {
    reason: Option<String>,
}

/// `POST /api/admin/jobs/{id}/cancel` `{"reason"}`: cancels an unfinished job, whoever's it is
/// (its hold released), and records who and why.
pub async fn cancel(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Json<Generation>, ApiError> {
    let reason = Reason::parse(body.reason.as_deref())?;
    let job = console::jobs::cancel(&state, &admin, &JobId::from_string(id), &reason).await?;
    Ok(Json(job.generation(&state.config.public_url)))
}

#[derive(Serialize)]
pub struct ProviderList {
    providers: Vec<fitroom_types::admin::ProviderRow>,
}

/// `GET /api/admin/providers`: the rows of `fitroom providers --json`.
pub async fn providers(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Json<ProviderList>, ApiError> {
    Ok(Json(ProviderList { providers: console::providers::rows(&state).await? }))
}

/// `POST /api/admin/providers/{name}/reset` `{"reason"}`: ends the provider's cool-down for
/// every process.
pub async fn reset_cooldown(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Json<ProviderList>, ApiError> {
    let reason = Reason::parse(body.reason.as_deref())?;
    console::providers::reset_cooldown(&state, &admin, &name, &reason).await?;
    Ok(Json(ProviderList { providers: console::providers::rows(&state).await? }))
}

#[derive(Serialize)]
pub struct AuditList {
    entries: Vec<AuditEntry>,
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
    Ok(Json(AuditList { entries: console::audit_log::newest(&state, limit).await? }))
}

#[derive(Deserialize)]
pub struct UserQuery {
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
    Query(query): Query<UserQuery>,
) -> Result<Json<AccountList>, ApiError> {
    let limit = i64::from(page_size(query.limit.as_deref(), 50, 200)?);
    let email = query.email.unwrap_or_default();
    Ok(Json(AccountList { users: console::accounts::search(&state, &email, limit).await? }))
}

/// `GET /api/admin/users/{id}`: the account, its packages by expiry, its ledger and its
/// generations.
pub async fn user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<AdminAccountDetail>, ApiError> {
    Ok(Json(console::accounts::detail(&state, &admin, &UserId::from_string(id)).await?))
}

#[derive(Deserialize)]
pub struct GrantRequest {
    amount: i64,
    expires_in_days: Option<i64>,
    reason: Option<String>,
}

#[derive(Serialize)]
pub struct Granted {
    package: fitroom_types::Package,
}

/// `POST /api/admin/users/{id}/grants` `{"amount","expires_in_days"?,"reason"}`: a ledger grant
/// named for the admin who made it, and an audit entry.
pub async fn grant(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GrantRequest>,
) -> Result<(StatusCode, Json<Granted>), ApiError> {
    let grant = AdminGrant {
        amount: body.amount,
        expires_in_days: body.expires_in_days,
        reason: Reason::parse(body.reason.as_deref())?,
    };
    let package =
        console::accounts::grant(&state, &admin, &UserId::from_string(id), &grant).await?;
    Ok((StatusCode::CREATED, Json(Granted { package })))
}

#[derive(Serialize)]
pub struct Account {
    user: AdminAccount,
}

async fn set_suspended(
    state: &AppState,
    admin: &Admin,
    id: String,
    body: &ReasonBody,
    suspend: bool,
) -> Result<Json<Account>, ApiError> {
    let reason = Reason::parse(body.reason.as_deref())?;
    let user = UserId::from_string(id);
    let user = console::accounts::set_suspended(state, admin, &user, &reason, suspend).await?;
    Ok(Json(Account { user }))
}

/// `POST /api/admin/users/{id}/suspend` `{"reason"}`: every session ends, sign-in is refused
/// with `account_suspended`.
pub async fn suspend(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Json<Account>, ApiError> {
    set_suspended(&state, &admin, id, &body, true).await
}

/// `POST /api/admin/users/{id}/unsuspend` `{"reason"}`.
pub async fn unsuspend(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Json<Account>, ApiError> {
    set_suspended(&state, &admin, id, &body, false).await
}
