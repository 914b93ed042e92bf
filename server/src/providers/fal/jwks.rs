//! fal's public webhook keys, from its JWKS (`FAL_JWKS_URL`): cached for at most a day, fetched
//! again when no cached key verifies a delivery (fal rotated its keys), but not more than once
//! a minute, so that a stream of forged webhooks cannot make us hammer fal.

use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::VerifyingKey;
use serde::Deserialize;

use crate::clock::Timestamp;

const MAX_AGE_MS: i64 = 24 * 3_600_000;
const MIN_REFETCH_MS: i64 = 60_000;

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
}

/// The usable Ed25519 keys of a JWKS document; keys of other types are skipped.
pub fn parse(document: &[u8]) -> Result<Vec<VerifyingKey>, String> {
    let set: JwkSet =
        serde_json::from_slice(document).map_err(|e| format!("unreadable JWKS: {e}"))?;
    Ok(set
        .keys
        .iter()
        .filter(|k| k.kty.as_deref() == Some("OKP") && k.crv.as_deref() == Some("Ed25519"))
        .filter_map(|k| k.x.as_deref())
        // Tolerate padding: the JWK spec says unpadded, a gateway may not.
        .filter_map(|x| URL_SAFE_NO_PAD.decode(x.trim_end_matches('=')).ok())
        .filter_map(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .filter_map(|bytes| VerifyingKey::from_bytes(&bytes).ok())
        .collect())
}

struct Cached {
    keys: Vec<VerifyingKey>,
    fetched_at: Timestamp,
}

pub struct KeyCache {
    url: String,
    http: reqwest::Client,
    cached: Mutex<Option<Cached>>,
}

impl KeyCache {
    pub fn new(url: String, http: reqwest::Client) -> Self {
        KeyCache { url, http, cached: Mutex::default() }
    }

    /// Starts with known keys (tests and fuzzing, which must not reach the network).
    pub fn with_keys(
        url: String,
        http: reqwest::Client,
        keys: Vec<VerifyingKey>,
        now: Timestamp,
    ) -> Self {
        KeyCache { url, http, cached: Mutex::new(Some(Cached { keys, fetched_at: now })) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        self.cached.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached keys, unless they are older than a day (then fetched again).
    pub async fn keys(&self, now: Timestamp) -> Result<Vec<VerifyingKey>, String> {
        let fresh = self
            .lock()
            .as_ref()
            .filter(|c| now.millis().saturating_sub(c.fetched_at.millis()) < MAX_AGE_MS)
            .map(|c| c.keys.clone());
        match fresh {
            Some(keys) => Ok(keys),
            None => self.fetch(now).await,
        }
    }

    /// Fresh keys after a signature no cached key verifies; `None` when the last fetch was too
    /// recent to try again.
    pub async fn refetch(&self, now: Timestamp) -> Option<Result<Vec<VerifyingKey>, String>> {
        let recent = self
            .lock()
            .as_ref()
            .is_some_and(|c| now.millis().saturating_sub(c.fetched_at.millis()) < MIN_REFETCH_MS);
        if recent { None } else { Some(self.fetch(now).await) }
    }

    async fn fetch(&self, now: Timestamp) -> Result<Vec<VerifyingKey>, String> {
        let response = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| format!("fetching fal's JWKS: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("fal's JWKS answered {}", response.status()));
        }
        let body = response.bytes().await.map_err(|e| format!("reading fal's JWKS: {e}"))?;
        let keys = parse(&body)?;
        *self.lock() = Some(Cached { keys: keys.clone(), fetched_at: now });
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn only_ed25519_keys_are_kept() {
        let key = SigningKey::from_bytes(&[3; 32]).verifying_key();
        let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
        let document = format!(
            r#"{{"keys":[{{"kty":"RSA","n":"abc","e":"AQAB"}},{{"kty":"OKP","crv":"X25519","x":"{x}"}},
                {{"kty":"OKP","crv":"Ed25519","x":"{x}"}},{{"kty":"OKP","crv":"Ed25519","x":"short"}}]}}"#
        );
        assert_eq!(parse(document.as_bytes()), Ok(vec![key]));
        assert!(parse(b"not json").is_err());
    }
}
