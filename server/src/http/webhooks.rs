//! `POST /webhooks/{provider}`: verify first, then apply idempotently, then answer quickly.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::http::{ApiError, ErrorCode};
use crate::ids::JobId;
use crate::jobs::Job;
use crate::providers::callback::query_param;
use crate::providers::{Authenticity, Provider, WebhookError};

pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

pub async fn receive(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let provider = state.jobs.registry().get(&name).cloned().ok_or_else(ApiError::not_found)?;
    let started = std::time::Instant::now();
    let metrics = state.jobs.metrics.clone();
    let provider_name = provider.name();
    let event = provider.parse_webhook(&headers, query.as_deref(), &body, state.clock.now()).await.map_err(|e| match e {
        WebhookError::BadSignature(reason) => {
            metrics.count("fitroom_webhooks", &[("provider", provider_name), ("outcome", "invalid_signature")]);
            tracing::warn!(provider = %name, %reason, "webhook refused");
            ApiError::new(ErrorCode::InvalidSignature, "The webhook signature is not valid.")
        }
        WebhookError::Malformed(reason) => {
            metrics.count("fitroom_webhooks", &[("provider", provider_name), ("outcome", "malformed")]);
            ApiError::invalid(format!("Malformed webhook: {reason}"))
        }
    })?;

    let job = find_job(&state, provider.as_ref(), &event.task_id, query.as_deref()).await?;
    let Some(job) = job else {
        // Not ours (or not yet recorded): acknowledging stops the retries; the reconciler asks
        // the provider about every job it does know.
        tracing::info!(provider = %name, task = %event.task_id, "webhook for an unknown task");
        return Ok(StatusCode::OK.into_response());
    };
    let state_to_apply = match &event.authenticity {
        Authenticity::Signed => event.state.clone(),
        Authenticity::Token(token) => {
            let expected = job.callback_token.clone().unwrap_or_default();
            if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(token.as_bytes())) {
                return Err(ApiError::new(ErrorCode::InvalidSignature, "The webhook token is not valid."));
            }
            if job.status.is_finished() {
                return Ok(StatusCode::OK.into_response()); // a repeat: no need to ask the provider
            }
            // Unsigned payloads are only a hint: believe the provider's API, not the body.
            let task_id = job.provider_task_id.as_deref().unwrap_or(&event.task_id);
            provider.fetch(task_id).await.map_err(ApiError::internal)?
        }
    };
    if job.status.is_finished() {
        return Ok(StatusCode::OK.into_response());
    }
    state.jobs.apply(&job, &event.task_id, state_to_apply).await?;
    metrics.count("fitroom_webhooks", &[("provider", provider_name), ("outcome", "applied")]);
    metrics.observe("fitroom_webhook_handling", &[("provider", provider_name)], started.elapsed().as_secs_f64());
    // The copy into our storage may be slow: do it after answering, so the provider does not
    // time out and retry. A crash here is covered by the reconciler (the output URL is recorded).
    let jobs = state.jobs.clone();
    let id = job.id.clone();
    tokio::spawn(async move {
        if let Err(e) = jobs.mirror(&id).await {
            tracing::warn!(job = %id, error = %e, "mirroring failed; the reconciler will retry");
        }
    });
    Ok(StatusCode::OK.into_response())
}

/// The job a webhook is about: by the provider's task id, or by the job id our callback URL
/// carries (the webhook can outrun the recording of the task id).
async fn find_job(state: &AppState, provider: &dyn Provider, task_id: &str, query: Option<&str>) -> Result<Option<Job>, ApiError> {
    let by_task: Option<(String,)> = sqlx::query_as("SELECT id FROM jobs WHERE provider = $1 AND provider_task_id = $2")
        .bind(provider.name())
        .bind(task_id)
        .fetch_optional(state.db.pool())
        .await
        .map_err(ApiError::internal)?;
    let id = match by_task {
        Some((id,)) => Some(JobId::from_string(id)),
        None => query_param(query, "job").map(JobId::from_string),
    };
    let Some(id) = id else { return Ok(None) };
    let job = state.jobs.load_job(&id).await.map_err(ApiError::internal)?;
    // A job id from the URL counts only if the job is waiting for this provider's task.
    Ok(job.filter(|j| j.provider_task_id.as_deref().is_none_or(|t| provider.same_task(t, task_id))))
}
