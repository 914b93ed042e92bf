//! Standard Webhooks (standardwebhooks.com), the scheme Replicate signs with: headers
//! `webhook-id`, `webhook-timestamp` and `webhook-signature` (space-separated `v1,<base64>`
//! entries, several during a secret rotation), HMAC-SHA256 over `{id}.{timestamp}.{body}` keyed
//! with the base64-decoded part of the secret after `whsec_`.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::clock::Timestamp;
use crate::providers::{WebhookError, timestamp_is_fresh};

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// A `whsec_…` signing secret, decoded once at startup.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    pub fn parse(text: &str) -> Result<Self, String> {
        let encoded =
            text.trim().strip_prefix("whsec_").ok_or("expected whsec_ followed by base64")?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|e| format!("the part after whsec_ is not base64: {e}"))?;
        if key.is_empty() {
            return Err("the key is empty".into());
        }
        Ok(Secret(key))
    }

    /// `v1,<base64>` for one delivery: what a sender puts in `webhook-signature`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        // Any key length is valid for HMAC, so this cannot fail; an empty MAC would never match.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.0) else { return Vec::new() };
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    /// Checks one delivery: the timestamp within the tolerance of `now`, then any `v1` entry
    /// equal, in constant time, to our own signature. Returns the message id (the dedup key).
    pub fn verify<'h>(
        &self,
        headers: &'h HeaderMap,
        body: &[u8],
        now: Timestamp,
    ) -> Result<&'h str, WebhookError> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| WebhookError::BadSignature(format!("missing {name}")))
        };
        let id = header(ID_HEADER)?;
        let timestamp: i64 = header(TIMESTAMP_HEADER)?
            .trim()
            .parse()
            .map_err(|_| WebhookError::BadSignature("timestamp is not a number".into()))?;
        if !timestamp_is_fresh(now, timestamp) {
            return Err(WebhookError::BadSignature("timestamp outside the tolerance".into()));
        }
        let expected = self.mac(id, timestamp, body);
        let matches = header(SIGNATURE_HEADER)?
            .split_whitespace()
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|sig| STANDARD.decode(sig).ok())
            .any(|sig| bool::from(sig.ct_eq(&expected)));
        if matches { Ok(id) } else { Err(WebhookError::BadSignature("signature mismatch".into())) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TIMESTAMP: i64 = 1_649_367_553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ID_HEADER, id.parse().expect("header"));
        h.insert(TIMESTAMP_HEADER, timestamp.parse().expect("header"));
        h.insert(SIGNATURE_HEADER, signature.parse().expect("header"));
        h
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_millis(secs * 1000)
    }

    #[test]
    fn the_published_test_vector_signs_and_verifies() {
        let secret = Secret::parse(SECRET).expect("secret");
        assert_eq!(secret.sign(ID, TIMESTAMP, BODY), SIGNATURE);
        assert_eq!(
            secret.verify(&headers(ID, &TIMESTAMP.to_string(), SIGNATURE), BODY, at(TIMESTAMP)),
            Ok(ID)
        );
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let secret = Secret::parse(SECRET).expect("secret");
        let both = format!("v1,bm90IGl0 {SIGNATURE}");
        assert!(
            secret.verify(&headers(ID, &TIMESTAMP.to_string(), &both), BODY, at(TIMESTAMP)).is_ok()
        );
    }

    #[test]
    fn tampering_with_body_id_or_timestamp_is_refused() {
        let secret = Secret::parse(SECRET).expect("secret");
        let t = TIMESTAMP.to_string();
        let tampered = br#"{"email":"evil@example.com","username":"test_user"}"#;
        assert!(secret.verify(&headers(ID, &t, SIGNATURE), tampered, at(TIMESTAMP)).is_err());
        assert!(secret.verify(&headers("msg_other", &t, SIGNATURE), BODY, at(TIMESTAMP)).is_err());
        let later = (TIMESTAMP + 1).to_string();
        assert!(secret.verify(&headers(ID, &later, SIGNATURE), BODY, at(TIMESTAMP)).is_err());
        assert!(secret.verify(&headers(ID, &t, "v1,garbage!"), BODY, at(TIMESTAMP)).is_err());
        assert!(
            secret
                .verify(
                    &headers(ID, &t, "v2,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="),
                    BODY,
                    at(TIMESTAMP)
                )
                .is_err()
        );
    }

    #[test]
    fn another_secret_does_not_verify() {
        let other = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        assert!(
            other
                .verify(&headers(ID, &TIMESTAMP.to_string(), SIGNATURE), BODY, at(TIMESTAMP))
                .is_err()
        );
    }

    #[test]
    fn stale_future_and_extreme_timestamps_are_refused_without_overflow() {
        let secret = Secret::parse(SECRET).expect("secret");
        let h = headers(ID, &TIMESTAMP.to_string(), SIGNATURE);
        assert!(secret.verify(&h, BODY, at(TIMESTAMP + 301)).is_err());
        assert!(secret.verify(&h, BODY, at(TIMESTAMP - 301)).is_err());
        assert!(secret.verify(&h, BODY, at(TIMESTAMP + 300)).is_ok());
        for extreme in ["-9223372036854775808", "9223372036854775807"] {
            let h = headers(ID, extreme, SIGNATURE);
            assert!(secret.verify(&h, BODY, Timestamp::from_millis(i64::MAX)).is_err());
            assert!(secret.verify(&h, BODY, Timestamp::from_millis(i64::MIN)).is_err());
        }
    }

    #[test]
    fn secrets_must_be_whsec_base64() {
        assert!(Secret::parse("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").is_err());
        assert!(Secret::parse("whsec_not base64!").is_err());
        assert!(Secret::parse("whsec_").is_err());
    }
}
