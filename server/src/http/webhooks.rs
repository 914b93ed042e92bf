//! `POST /webhooks/{provider}`: verify, hand over to the job lifecycle, answer quickly. Which job
//! a delivery is about, and what it changes, is decided in `jobs::report`, never here.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::http::{ApiError, ErrorCode};
use crate::jobs::{JobError, Reported};
use crate::providers::WebhookError;

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
    let count = |outcome: &'static str| {
        metrics.count("fitroom_webhooks", &[("provider", provider.name()), ("outcome", outcome)]);
    };
    let event =
        match provider.parse_webhook(&headers, query.as_deref(), &body, state.clock.now()).await {
            Ok(event) => event,
            Err(WebhookError::BadSignature(reason)) => {
                count("invalid_signature");
                tracing::warn!(provider = %name, %reason, "webhook refused");
                return Err(ApiError::new(
                    ErrorCode::InvalidSignature,
                    "The webhook signature is not valid.",
                ));
            }
            Err(WebhookError::Malformed(reason)) => {
                count("malformed");
                tracing::warn!(provider = %name, %reason, "malformed webhook");
                return Err(ApiError::invalid("The webhook could not be read."));
            }
        };
    let reported = match state.jobs.receive_webhook(&provider, event).await {
        Ok(reported) => reported,
        Err(JobError::InvalidWebhookToken) => {
            count("invalid_signature");
            return Err(ApiError::new(
                ErrorCode::InvalidSignature,
                "The webhook token is not valid.",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    count(match reported {
        Reported::Unbound => "unbound",
        Reported::AlreadyFinished => "duplicate",
        Reported::Pending | Reported::OutputRecorded(_) | Reported::Ended => "applied",
    });
    metrics.observe(
        "fitroom_webhook_handling",
        &[("provider", provider.name())],
        started.elapsed().as_secs_f64(),
    );
    Ok(StatusCode::OK.into_response())
}
