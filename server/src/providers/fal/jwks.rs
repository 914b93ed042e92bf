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

#[derive(Default)]
struct State {
    cached: Option<Cached>,
    /// Failed fetches in a row, and when the next may be tried: while fal's JWKS is down or
    /// broken, it is asked at most once per back-off, whatever the number of webhooks.
    failures: u32,
    retry_at: Option<Timestamp>,
    last_error: Option<String>,
}

/// The wait after `failures` failed fetches in a row: 5 s, doubling, at most 5 minutes.
fn back_off_ms(failures: u32) -> i64 {
    (5_000i64 << failures.saturating_sub(1).min(6)).min(300_000)
}

pub struct KeyCache {
    url: String,
    http: reqwest::Client,
    state: Mutex<State>,
    /// One fetch at a time: concurrent webhooks wait for it rather than each asking fal.
    fetching: tokio::sync::Mutex<()>,
}

impl KeyCache {
    pub fn new(url: String, http: reqwest::Client) -> Self {
        KeyCache { url, http, state: Mutex::default(), fetching: tokio::sync::Mutex::new(()) }
    }

    /// Starts with known keys (tests and fuzzing, which must not reach the network).
    pub fn with_keys(
        url: String,
        http: reqwest::Client,
        keys: Vec<VerifyingKey>,
        now: Timestamp,
    ) -> Self {
        let cache = Self::new(url, http);
        cache.lock().cached = Some(Cached { keys, fetched_at: now });
        cache
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cached keys fetched within `max_age_ms` of `now`.
    fn cached_within(&self, now: Timestamp, max_age_ms: i64) -> Option<Vec<VerifyingKey>> {
        self.lock()
            .cached
            .as_ref()
            .filter(|c| now.millis().saturating_sub(c.fetched_at.millis()) < max_age_ms)
            .map(|c| c.keys.clone())
    }

    /// The cached keys, unless they are older than a day (then fetched again).
    pub async fn keys(&self, now: Timestamp) -> Result<Vec<VerifyingKey>, String> {
        match self.cached_within(now, MAX_AGE_MS) {
            Some(keys) => Ok(keys),
            None => self.fetch_once(now, MAX_AGE_MS).await,
        }
    }

    /// Fresh keys after a signature no cached key verifies; `None` when the last fetch was too
    /// recent to try again, or fal's JWKS is failing and its back-off has not passed.
    pub async fn refetch(&self, now: Timestamp) -> Option<Result<Vec<VerifyingKey>, String>> {
        if self.cached_within(now, MIN_REFETCH_MS).is_some() || self.backing_off(now) {
            return None;
        }
        Some(self.fetch_once(now, MIN_REFETCH_MS).await)
    }

    fn backing_off(&self, now: Timestamp) -> bool {
        self.lock().retry_at.is_some_and(|at| now < at)
    }

    /// Fetches unless another caller just did (keys younger than `max_age_ms`) or a failure's
    /// back-off is running; then answers what is known. Stale keys are better than none while
    /// fal's JWKS is failing: a delivery they verify is still fal's.
    async fn fetch_once(
        &self,
        now: Timestamp,
        max_age_ms: i64,
    ) -> Result<Vec<VerifyingKey>, String> {
        let _turn = self.fetching.lock().await;
        if let Some(keys) = self.cached_within(now, max_age_ms) {
            return Ok(keys);
        }
        if self.backing_off(now) {
            let state = self.lock();
            return match &state.cached {
                Some(stale) => Ok(stale.keys.clone()),
                None => {
                    Err(state.last_error.clone().unwrap_or_else(|| "fal's JWKS is failing".into()))
                }
            };
        }
        let fetched = self.fetch().await;
        let mut state = self.lock();
        match fetched {
            Ok(keys) => {
                *state = State {
                    cached: Some(Cached { keys: keys.clone(), fetched_at: now }),
                    ..State::default()
                };
                Ok(keys)
            }
            Err(e) => {
                state.failures += 1;
                state.retry_at = Some(now.plus_millis(back_off_ms(state.failures)));
                state.last_error = Some(e.clone());
                tracing::warn!(error = %e, failures = state.failures, "fal's JWKS could not be fetched");
                match &state.cached {
                    Some(stale) => Ok(stale.keys.clone()),
                    None => Err(e),
                }
            }
        }
    }

    async fn fetch(&self) -> Result<Vec<VerifyingKey>, String> {
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
        parse(&body)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use ed25519_dalek::SigningKey;

    /// A JWKS endpoint that counts its requests and answers 503 until told otherwise.
    async fn jwks_server(document: Arc<Mutex<Option<String>>>) -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let document = document.clone();
                let hits = counted.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let body = document.lock().map(|d| d.clone()).unwrap_or(None);
                    match body {
                        Some(body) => (axum::http::StatusCode::OK, body),
                        None => (axum::http::StatusCode::SERVICE_UNAVAILABLE, String::new()),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, hits)
    }

    #[tokio::test]
    async fn a_failing_jwks_is_asked_once_per_back_off_however_many_webhooks_arrive() {
        let document = Arc::new(Mutex::new(None));
        let (url, hits) = jwks_server(document.clone()).await;
        let cache = Arc::new(KeyCache::new(url, reqwest::Client::new()));
        let now = Timestamp::from_millis(1_700_000_000_000);
        let calls: Vec<_> = (0..20)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.keys(now).await })
            })
            .collect();
        for call in calls {
            assert!(call.await.expect("joined").is_err(), "no keys yet");
        }
        assert_eq!(hits.load(Ordering::SeqCst), 1, "twenty webhooks, one fetch");
        assert!(cache.refetch(now.plus_millis(1_000)).await.is_none(), "backing off");
        assert!(cache.keys(now.plus_millis(4_000)).await.is_err());
        assert_eq!(hits.load(Ordering::SeqCst), 1);

        let key = SigningKey::from_bytes(&[5; 32]).verifying_key();
        let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
        *document.lock().expect("doc") =
            Some(format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{x}"}}]}}"#));
        assert_eq!(cache.keys(now.plus_millis(5_000)).await, Ok(vec![key]), "after the back-off");
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        assert_eq!(cache.keys(now.plus_millis(6_000)).await, Ok(vec![key]), "cached");
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn stale_keys_keep_verifying_while_the_jwks_is_down() {
        let document = Arc::new(Mutex::new(None));
        let (url, hits) = jwks_server(document).await;
        let key = SigningKey::from_bytes(&[6; 32]).verifying_key();
        let start = Timestamp::from_millis(1_700_000_000_000);
        let cache = KeyCache::with_keys(url, reqwest::Client::new(), vec![key], start);
        let next_day = start.plus_millis(MAX_AGE_MS + 1);
        assert_eq!(cache.keys(next_day).await, Ok(vec![key]));
        assert_eq!(cache.keys(next_day.plus_millis(1)).await, Ok(vec![key]));
        assert_eq!(hits.load(Ordering::SeqCst), 1, "one failed fetch, then the back-off");
    }

    #[test]
    fn back_off_doubles_from_five_seconds_to_five_minutes() {
        assert_eq!(
            (1..=8).map(back_off_ms).collect::<Vec<_>>(),
            vec![5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]
        );
    }

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
