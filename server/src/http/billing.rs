//! `/api/billing/*` and `POST /webhooks/stripe` (API.md, Billing).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::billing::StripeError;
use crate::http::json::ApiJson;
use crate::http::session::CurrentUser;
use crate::http::{ApiError, ErrorCode};
use crate::ids::UserId;
use crate::ledger::{Credits, Grant};

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
        return Err(ApiError::new(ErrorCode::PaymentsDisabled, "Buying credits is not set up on this Fitroom."));
    }
    let item = state.catalog.get(&body.package_id).ok_or_else(ApiError::not_found)?;
    let url = state.stripe.create_checkout(&user.id, item, &state.config.public_url).await.map_err(|e| match e {
        StripeError::Disabled => ApiError::new(ErrorCode::PaymentsDisabled, "Buying credits is not set up on this Fitroom."),
        other => ApiError::internal(other),
    })?;
    Ok(Json(json!({ "url": url })))
}

/// Grants the package of a paid Checkout Session exactly once: the session id is the grant's
/// source, which the ledger grants only once however often (and concurrently) it is delivered.
pub async fn webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<StatusCode, ApiError> {
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let event = state.stripe.parse_event(signature, &body, state.clock.now()).map_err(|e| match e {
        StripeError::BadSignature(reason) => {
            tracing::warn!(reason, "Stripe webhook refused");
            ApiError::new(ErrorCode::InvalidSignature, "The Stripe signature is not valid.")
        }
        other => ApiError::invalid(other.to_string()),
    })?;
    let session = &event.data.object;
    let paid = match event.kind.as_str() {
        "checkout.session.completed" => session["payment_status"] == "paid",
        "checkout.session.async_payment_succeeded" => true,
        other => {
            tracing::info!(event = %event.id, kind = other, "Stripe event ignored");
            return Ok(StatusCode::OK);
        }
    };
    let session_id = session["id"].as_str().unwrap_or_default();
    if !paid {
        tracing::info!(event = %event.id, session = session_id, "checkout not paid yet; waiting for the async payment");
        return Ok(StatusCode::OK);
    }
    let (Some(user), Some(package_id)) = (session["client_reference_id"].as_str(), session["metadata"]["package_id"].as_str()) else {
        return Err(ApiError::invalid("The session names no user or package."));
    };
    let Some(item) = state.catalog.get(package_id) else {
        tracing::error!(session = session_id, package_id, "paid session for a package not in the catalog");
        return Ok(StatusCode::OK);
    };
    let grant = Grant {
        user: UserId::from_string(user),
        credits: Credits::new(item.credits).map_err(ApiError::internal)?,
        name: item.name.clone(),
        expires_at: Some(state.clock.now().plus_days(item.valid_days)),
        source: Some(format!("stripe:{session_id}")),
    };
    match state.ledger.grant(&grant).await {
        Ok(package) => {
            tracing::info!(session = session_id, %package, "purchase granted");
            Ok(StatusCode::OK)
        }
        Err(crate::ledger::LedgerError::UnknownUser) => {
            tracing::error!(session = session_id, user, "paid session for an unknown user");
            Ok(StatusCode::OK)
        }
        Err(e) => Err(e.into()),
    }
}
