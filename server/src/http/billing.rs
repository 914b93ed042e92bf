//! `/api/billing/*` and `POST /webhooks/stripe` (docs/api.md, Billing, with refunds).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::billing::{ChargeRefund, StripeError, StripeEvent, payment_ref};
use crate::http::json::ApiJson;
use crate::http::session::CurrentUser;
use crate::http::{ApiError, ErrorCode};
use crate::ids::UserId;
use crate::ledger::{Credits, Grant, LedgerError};

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

/// Verifies the delivery, then grants a paid Checkout Session or applies a refund. Stripe retries
/// anything but 2xx, so events that need nothing (unpaid, unknown, for someone we do not know)
/// answer 200 and are logged.
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
    match event.kind.as_str() {
        "checkout.session.completed" => {
            let paid = event.data.object["payment_status"] == "paid";
            fulfil(&state, &event, paid).await
        }
        "checkout.session.async_payment_succeeded" => fulfil(&state, &event, true).await,
        "charge.refunded" => refund(&state, &event).await,
        other => {
            tracing::info!(event = %event.id, kind = other, "Stripe event ignored");
            Ok(StatusCode::OK)
        }
    }
}

/// Grants the package of a paid session exactly once: the session id is the grant's source,
/// which the ledger grants only once however often (and concurrently) it is delivered. The
/// session's `payment_intent` is recorded with it: a refund names only that.
async fn fulfil(state: &AppState, event: &StripeEvent, paid: bool) -> Result<StatusCode, ApiError> {
    let session = &event.data.object;
    let session_id = session["id"].as_str().unwrap_or_default();
    if !paid {
        tracing::info!(event = %event.id, session = session_id, "checkout not paid yet; waiting for the async payment");
        return Ok(StatusCode::OK);
    }
    let (Some(user), Some(package_id)) =
        (session["client_reference_id"].as_str(), session["metadata"]["package_id"].as_str())
    else {
        return Err(ApiError::invalid("The session names no user or package."));
    };
    let Some(item) = state.catalog.get(package_id) else {
        tracing::error!(
            session = session_id,
            package_id,
            "paid session for a package not in the catalog"
        );
        return Ok(StatusCode::OK);
    };
    let grant = Grant {
        user: UserId::from_string(user),
        credits: Credits::new(item.credits).map_err(ApiError::internal)?,
        name: item.name.clone(),
        expires_at: Some(state.clock.now().plus_days(item.valid_days)),
        source: Some(format!("stripe:{session_id}")),
    };
    let payment = session["payment_intent"].as_str().map(payment_ref);
    if payment.is_none() {
        tracing::warn!(
            session = session_id,
            "paid session without a payment_intent: its refund will not be found"
        );
    }
    match state.ledger.grant_paid(&grant, payment.as_deref()).await {
        Ok(package) => {
            tracing::info!(session = session_id, %package, "purchase granted");
            Ok(StatusCode::OK)
        }
        Err(LedgerError::UnknownUser) => {
            tracing::error!(session = session_id, user, "paid session for an unknown user");
            Ok(StatusCode::OK)
        }
        Err(e) => Err(e.into()),
    }
}

/// Takes back the refunded share of the package the charge paid for (see `ledger::refund`): at
/// most its unspent credits, once however often the event is delivered.
async fn refund(state: &AppState, event: &StripeEvent) -> Result<StatusCode, ApiError> {
    let charge =
        ChargeRefund::parse(&event.data.object).map_err(|e| ApiError::invalid(e.to_string()))?;
    let share = charge.share()?;
    let Some(payment_intent) = charge.payment_intent.as_deref() else {
        tracing::warn!(event = %event.id, charge = %charge.charge, "refunded charge without a payment_intent; nothing to take back");
        return Ok(StatusCode::OK);
    };
    match state.ledger.refund_payment(&payment_ref(payment_intent), share).await? {
        Some(done) => {
            tracing::info!(
                event = %event.id, charge = %charge.charge, payment_intent, package = %done.package,
                taken_back = %done.taken_back, owed = %done.owed, replayed = done.replayed, "refund applied"
            );
        }
        None => {
            tracing::warn!(event = %event.id, charge = %charge.charge, payment_intent, "refund of a payment that granted no package; nothing changed");
        }
    }
    Ok(StatusCode::OK)
}
