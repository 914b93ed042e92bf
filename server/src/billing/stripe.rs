//! Stripe's HTTP API (Checkout Sessions) and its webhook signature scheme (docs/providers.md, Stripe).

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::billing::CatalogItem;
use crate::clock::Timestamp;
use crate::ids::UserId;

/// Stripe's own default: a signed event older than five minutes is refused (replays).
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    #[error("payments are not set up (STRIPE_SECRET_KEY or STRIPE_WEBHOOK_SECRET is missing)")]
    Disabled,
    #[error("invalid Stripe signature: {0}")]
    BadSignature(&'static str),
    #[error("Stripe request failed: {0}")]
    Api(String),
    #[error("malformed Stripe event: no valid {0}")]
    Malformed(&'static str),
}

#[derive(Clone)]
pub struct Stripe {
    secret_key: Option<String>,
    webhook_secret: Option<String>,
    api_base: String,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
pub struct StripeEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// Checks `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]` over `{t}.{raw body}` with the whole
/// `whsec_…` string as the HMAC-SHA256 key, comparing every `v1` in constant time.
pub fn verify_signature(
    header: &str,
    body: &[u8],
    secret: &str,
    now: Timestamp,
) -> Result<(), StripeError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => signatures.push(sig),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(StripeError::BadSignature("no timestamp"))?;
    if signatures.is_empty() {
        return Err(StripeError::BadSignature("no v1 signature"));
    }
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .map_err(|_| StripeError::BadSignature("bad secret"))?;
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    if !signatures.iter().any(|s| bool::from(expected.as_bytes().ct_eq(s.as_bytes()))) {
        return Err(StripeError::BadSignature("signature mismatch"));
    }
    // saturating: a forged timestamp near i64::MIN must not overflow.
    if (now.millis() / 1000).saturating_sub(timestamp) > TOLERANCE_SECS {
        return Err(StripeError::BadSignature("timestamp too old"));
    }
    Ok(())
}

fn form_encode(pairs: &[(&str, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        .finish()
}

impl Stripe {
    pub fn new(
        secret_key: Option<String>,
        webhook_secret: Option<String>,
        api_base: Option<String>,
    ) -> Self {
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        Stripe {
            secret_key,
            webhook_secret,
            api_base: api_base
                .unwrap_or_else(|| "https://api.stripe.com".into())
                .trim_end_matches('/')
                .to_owned(),
            http,
        }
    }

    /// Checkout is offered only when a paid session can also be granted: without the webhook
    /// secret no payment would ever be believed, and a shopper would pay for nothing.
    pub fn enabled(&self) -> bool {
        self.secret_key.is_some() && self.webhook_secret.is_some()
    }

    /// Why buying is off, for `/readyz` and the log; `None` when it is on.
    pub fn disabled_reason(&self) -> Option<&'static str> {
        match (&self.secret_key, &self.webhook_secret) {
            (None, _) => Some("STRIPE_SECRET_KEY is not set"),
            (_, None) => Some("STRIPE_WEBHOOK_SECRET is not set"),
            _ => None,
        }
    }

    /// Creates a Checkout Session for one package; answers the URL to send the shopper to.
    pub async fn create_checkout(
        &self,
        user: &UserId,
        item: &CatalogItem,
        public_url: &str,
    ) -> Result<String, StripeError> {
        if !self.enabled() {
            return Err(StripeError::Disabled);
        }
        let key = self.secret_key.as_ref().ok_or(StripeError::Disabled)?;
        let body = form_encode(&[
            ("mode", "payment".into()),
            ("client_reference_id", user.to_string()),
            ("metadata[package_id]", item.id.clone()),
            ("line_items[0][quantity]", "1".into()),
            ("line_items[0][price_data][currency]", item.currency.clone()),
            ("line_items[0][price_data][unit_amount]", item.price.to_string()),
            (
                "line_items[0][price_data][product_data][name]",
                format!("{} — {} Fitroom credits", item.name, item.credits),
            ),
            ("success_url", format!("{public_url}/account?purchase=success")),
            ("cancel_url", format!("{public_url}/account?purchase=canceled")),
        ]);
        let response = self
            .http
            .post(format!("{}/v1/checkout/sessions", self.api_base))
            .bearer_auth(key)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| StripeError::Api(e.to_string()))?;
        let status = response.status();
        let json: serde_json::Value =
            response.json().await.map_err(|e| StripeError::Api(e.to_string()))?;
        if !status.is_success() {
            return Err(StripeError::Api(format!("{status}: {}", json["error"]["message"])));
        }
        json["url"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| StripeError::Api("no url in the session".into()))
    }

    /// Verifies and reads a webhook delivery.
    pub fn parse_event(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<StripeEvent, StripeError> {
        let secret = self
            .webhook_secret
            .as_deref()
            .ok_or(StripeError::BadSignature("STRIPE_WEBHOOK_SECRET is not set"))?;
        verify_signature(
            signature.ok_or(StripeError::BadSignature("no Stripe-Signature header"))?,
            body,
            secret,
            now,
        )?;
        serde_json::from_slice(body).map_err(|_| StripeError::Malformed("event"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(body: &[u8], secret: &str, t: i64) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn a_signed_body_verifies_and_anything_changed_does_not() {
        let now = Timestamp::from_millis(1_700_000_000_000);
        let t = now.millis() / 1000;
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, "whsec_test", t);
        assert!(verify_signature(&header, body, "whsec_test", now).is_ok());
        assert!(
            verify_signature(&header, br#"{"id":"evt_2"}"#, "whsec_test", now).is_err(),
            "tampered body"
        );
        assert!(verify_signature(&header, body, "whsec_other", now).is_err(), "wrong secret");
        let old = sign(body, "whsec_test", t - 600);
        assert!(verify_signature(&old, body, "whsec_test", now).is_err(), "ten minutes old");
        let two = format!("{},v1=deadbeef", sign(body, "whsec_test", t));
        assert!(verify_signature(&two, body, "whsec_test", now).is_ok(), "any v1 may match");
    }

    #[test]
    fn extreme_timestamps_are_refused_without_overflow() {
        let now = Timestamp::from_millis(1_700_000_000_000);
        let ancient = sign(b"{}", "whsec_test", i64::MIN);
        assert!(verify_signature(&ancient, b"{}", "whsec_test", now).is_err());
        // Far future is no replay; it must simply not crash.
        let _ = verify_signature(&sign(b"{}", "whsec_test", i64::MAX), b"{}", "whsec_test", now);
    }

    #[test]
    fn form_fields_are_percent_encoded() {
        assert_eq!(
            form_encode(&[("metadata[package_id]", "a b".into())]),
            "metadata%5Bpackage_id%5D=a+b"
        );
    }
}
