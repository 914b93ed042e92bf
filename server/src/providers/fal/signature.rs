//! fal's webhook signature (docs/providers.md): Ed25519 over
//! `request_id \n user_id \n timestamp \n hex(sha256(body))`, the signature hex-encoded in
//! `X-Fal-Webhook-Signature`, verified with any key of fal's JWKS.

use axum::http::HeaderMap;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use crate::providers::{WebhookError, timestamp_is_fresh};

pub const REQUEST_ID_HEADER: &str = "x-fal-webhook-request-id";
pub const USER_ID_HEADER: &str = "x-fal-webhook-user-id";
pub const TIMESTAMP_HEADER: &str = "x-fal-webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "x-fal-webhook-signature";

/// A delivery's signed claims, read and checked for everything but the signature itself (which
/// needs the keys, maybe fetched): cheap refusals come before any network.
#[derive(Debug)]
pub struct Claims {
    /// The request the signature vouches for; the body must be about the same one.
    pub request_id: String,
    message: Vec<u8>,
    signature: Signature,
}

impl Claims {
    pub fn read(
        headers: &HeaderMap,
        body: &[u8],
        user_id: &str,
        now: Timestamp,
    ) -> Result<Self, WebhookError> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .ok_or_else(|| WebhookError::BadSignature(format!("missing {name}")))
        };
        let request_id = header(REQUEST_ID_HEADER)?;
        let sender = header(USER_ID_HEADER)?;
        let timestamp_text = header(TIMESTAMP_HEADER)?;
        let timestamp: i64 = timestamp_text
            .parse()
            .map_err(|_| WebhookError::BadSignature("timestamp is not a number".into()))?;
        if !timestamp_is_fresh(now, timestamp) {
            return Err(WebhookError::BadSignature("timestamp outside the tolerance".into()));
        }
        // Any fal customer's webhook is validly signed by fal: only ours may act on our jobs.
        if sender != user_id {
            return Err(WebhookError::BadSignature(
                "the webhook is for another fal account".into(),
            ));
        }
        let signature = decode_hex(header(SIGNATURE_HEADER)?)
            .and_then(|bytes| <[u8; 64]>::try_from(bytes.as_slice()).ok())
            .map(|bytes| Signature::from_bytes(&bytes))
            .ok_or_else(|| {
                WebhookError::BadSignature("the signature is not 64 hex-encoded bytes".into())
            })?;
        let message = format!(
            "{request_id}\n{sender}\n{timestamp_text}\n{}",
            hex::encode(Sha256::digest(body))
        )
        .into_bytes();
        Ok(Claims { request_id: request_id.to_owned(), message, signature })
    }

    /// Whether one of `keys` made the signature.
    pub fn signed_by_any(&self, keys: &[VerifyingKey]) -> bool {
        keys.iter().any(|key| key.verify_strict(&self.message, &self.signature).is_ok())
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    const NOW: i64 = 1_767_225_600;

    fn signed_headers(key: &SigningKey, user: &str, timestamp: i64, body: &[u8]) -> HeaderMap {
        let message = format!("req_1\n{user}\n{timestamp}\n{}", hex::encode(Sha256::digest(body)));
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID_HEADER, "req_1".parse().expect("header"));
        h.insert(USER_ID_HEADER, user.parse().expect("header"));
        h.insert(TIMESTAMP_HEADER, timestamp.to_string().parse().expect("header"));
        h.insert(
            SIGNATURE_HEADER,
            hex::encode(key.sign(message.as_bytes()).to_bytes()).parse().expect("header"),
        );
        h
    }

    #[test]
    fn a_signature_by_a_published_key_verifies_and_tampering_does_not() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let other = SigningKey::from_bytes(&[2; 32]);
        let now = Timestamp::from_millis(NOW * 1000);
        let h = signed_headers(&key, "user_1", NOW, b"{}");
        let claims = Claims::read(&h, b"{}", "user_1", now).expect("claims");
        assert!(claims.signed_by_any(&[other.verifying_key(), key.verifying_key()]));
        assert!(!claims.signed_by_any(&[other.verifying_key()]));
        let tampered = Claims::read(&h, b"{ }", "user_1", now).expect("claims");
        assert!(!tampered.signed_by_any(&[key.verifying_key()]));
    }

    #[test]
    fn another_account_stale_times_and_bad_hex_are_refused_before_any_key_is_needed() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let now = Timestamp::from_millis(NOW * 1000);
        assert!(
            Claims::read(&signed_headers(&key, "someone_else", NOW, b"{}"), b"{}", "user_1", now)
                .is_err()
        );
        assert!(
            Claims::read(&signed_headers(&key, "user_1", NOW - 301, b"{}"), b"{}", "user_1", now)
                .is_err()
        );
        let mut h = signed_headers(&key, "user_1", NOW, b"{}");
        h.insert(TIMESTAMP_HEADER, "-9223372036854775808".parse().expect("header"));
        assert!(Claims::read(&h, b"{}", "user_1", now).is_err());
        for bad in ["zz", "abc", "+f", ""] {
            let mut h = signed_headers(&key, "user_1", NOW, b"{}");
            h.insert(SIGNATURE_HEADER, bad.parse().expect("header"));
            assert!(Claims::read(&h, b"{}", "user_1", now).is_err(), "{bad}");
        }
    }
}
