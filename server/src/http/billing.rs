//! `/api/billing/*` and `POST /webhooks/stripe` (docs/api.md, Billing, with refunds).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::billing::{Fulfilment, StripeError};
use crate::http::json::ApiJson;
use crate::http::session::CurrentUser;
use crate::http::{ApiError, ErrorCode};

pub async fn packages(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "packages": state.catalog.items }))
}

#[derive(Deserialize)]
pub struct CheckoutRequest {
    package_id: String,
}

pub async fn checkout(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<CheckoutRequest>,
) -> Result<Json<Value>, ApiError> {
    if !state.stripe.enabled() {
        return Err(ApiError::new(
            ErrorCode::PaymentsDisabled,
            "Buying credits is not set up on this Fitroom.",
        ));
    }
    let item = state.catalog.get(&body.package_id).ok_or_else(ApiError::not_found)?;
    let url = state.stripe.create_checkout(&user.id, item, &state.config.public_url).await?;
    Ok(Json(json!({ "url": url })))
}

/// Verifies the delivery and hands the event to `billing::Fulfilment`. Stripe retries anything
/// but 2xx, so events that need nothing (unpaid, unknown, for someone we do not know) answer 200
/// and are logged there.
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let event =
        state.stripe.parse_event(signature, &body, state.clock.now()).map_err(|e| match e {
            StripeError::BadSignature(reason) => {
                tracing::warn!(reason, "Stripe webhook refused");
                ApiError::new(ErrorCode::InvalidSignature, "The Stripe signature is not valid.")
            }
            other => ApiError::invalid(other.to_string()),
        })?;
    let fulfilment = Fulfilment {
        ledger: &state.ledger,
        catalog: &state.catalog,
        clock: state.clock.as_ref(),
        metrics: &state.jobs.metrics,
    };
    fulfilment.handle(&event).await?;
    Ok(StatusCode::OK)
}
